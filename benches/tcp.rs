//! A workload as users write it, side by side: `N` loopback TCP clients on tokio's
//! multi-thread runtime, each closed by a cleanup that writes a goodbye and shuts
//! down, closed (a) through the crate's `AsyncDropVec`, (b) by a hand-written
//! `join_all` of `close()` calls, (c) with async-dropper 0.3, (d) with the classic
//! `async_trait` + `Option` guard. Only the closing is timed; the variants take
//! turns, round after round, and the medians are compared. Prints a markdown section
//! for BENCHMARKS.md.
//!
//! Usage: `cargo bench --features tokio-net --bench tcp [-- --test]` (`--test`: one
//! small round, for CI).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::{AsyncDrop, AsyncDropGuard};
use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const GOODBYE: &[u8] = b"goodbye\n";

/// The close every variant runs: say goodbye, then shut the write side down.
async fn close(mut stream: TcpStream) -> io::Result<()> {
    stream.write_all(GOODBYE).await?;
    stream.shutdown().await
}

/// (a) A client whose cleanup is its close.
struct Client(TcpStream);

impl AsyncDrop for Client {
    type Error = io::Error;
    async fn async_drop_impl(self) -> io::Result<()> {
        close(self.0).await
    }
}

/// (c) The same client for async-dropper, which needs `Default`.
#[derive(Default)]
struct DropperClient(Option<TcpStream>);

#[async_trait::async_trait]
impl async_dropper::AsyncDrop for DropperClient {
    async fn async_drop(&mut self) {
        if let Some(stream) = self.0.take() {
            close(stream).await.expect("goodbye");
        }
    }
}

/// (d) The classic design: an `async_trait` close behind an `Option`-based guard.
#[async_trait::async_trait]
trait AsyncClose {
    async fn close(&mut self) -> io::Result<()>;
}

struct ClassicClient(Option<TcpStream>);

#[async_trait::async_trait]
impl AsyncClose for ClassicClient {
    async fn close(&mut self) -> io::Result<()> {
        match self.0.take() {
            Some(stream) => close(stream).await,
            None => Ok(()),
        }
    }
}

struct OptionGuard<T: AsyncClose>(Option<T>);

impl<T: AsyncClose> OptionGuard<T> {
    async fn close(mut self) -> io::Result<()> {
        match self.0.take() {
            Some(mut inner) => inner.close().await,
            None => Ok(()),
        }
    }
}

impl<T: AsyncClose> Drop for OptionGuard<T> {
    fn drop(&mut self) {
        assert!(self.0.is_none(), "an OptionGuard was dropped without close");
    }
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    Collection,
    JoinAll,
    AsyncDropper,
    AsyncTraitOption,
}

const VARIANTS: [Variant; 4] = [
    Variant::Collection,
    Variant::JoinAll,
    Variant::AsyncDropper,
    Variant::AsyncTraitOption,
];

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Collection => "(a) `AsyncDropVec` of guarded clients, `async_drop().await`",
            Variant::JoinAll => "(b) hand-written `join_all` of `close()` calls",
            Variant::AsyncDropper => "(c) async-dropper 0.3 (`AsyncDropper`, dropped)",
            Variant::AsyncTraitOption => "(d) `async_trait` close + `Option` guard, `join_all`",
        }
    }

    /// Closes `streams` this variant's way.
    async fn close_all(self, streams: Vec<TcpStream>) {
        match self {
            Variant::Collection => {
                let mut clients = AsyncDropVec::with_capacity(streams.len());
                for stream in streams {
                    clients.push(AsyncDropGuard::new(Client(stream)));
                }
                clients.async_drop().await.expect("goodbyes");
            }
            Variant::JoinAll => {
                for result in join_all(streams.into_iter().map(close)).await {
                    result.expect("goodbye");
                }
            }
            Variant::AsyncDropper => {
                let clients: Vec<_> = streams
                    .into_iter()
                    .map(|stream| async_dropper::AsyncDropper::new(DropperClient(Some(stream))))
                    .collect();
                drop(clients); // each drop blocks this worker on its cleanup
            }
            Variant::AsyncTraitOption => {
                let guards = streams
                    .into_iter()
                    .map(|stream| OptionGuard(Some(ClassicClient(Some(stream)))));
                for result in join_all(guards.map(OptionGuard::close)).await {
                    result.expect("goodbye");
                }
            }
        }
    }
}

/// Accepts connections; each is read to its end (the goodbye), then counted.
async fn serve(listener: TcpListener, finished: Arc<AtomicUsize>) {
    loop {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let finished = Arc::clone(&finished);
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {}
            finished.fetch_add(1, Ordering::Release);
        });
    }
}

/// Opens `n` connections to `addr`, a batch at a time.
async fn connect(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    while streams.len() < n {
        let batch = (n - streams.len()).min(256);
        for stream in join_all((0..batch).map(|_| TcpStream::connect(addr))).await {
            let stream = stream.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            streams.push(stream);
        }
    }
    streams
}

/// One measured closing: wall time and allocations, for `n` connections.
fn measure(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    finished: &AtomicUsize,
    variant: Variant,
    n: usize,
) -> (Duration, usize) {
    let before = finished.load(Ordering::Acquire);
    let (elapsed, allocations) = rt.block_on(async move {
        tokio::spawn(async move {
            let streams = connect(addr, n).await;
            let allocations = ALLOCATIONS.load(Ordering::Relaxed);
            let start = Instant::now();
            variant.close_all(streams).await;
            let elapsed = start.elapsed();
            (elapsed, ALLOCATIONS.load(Ordering::Relaxed) - allocations)
        })
        .await
        .expect("round")
    });
    // Let the server read every goodbye before the next round (not timed).
    let deadline = Instant::now() + Duration::from_secs(60);
    while finished.load(Ordering::Acquire) - before < n {
        assert!(
            Instant::now() < deadline,
            "the server did not see every goodbye"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    (elapsed, allocations)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // As criterion does: `cargo bench` passes `--bench`, and `cargo test --benches`
    // does not; without it, or with `--test`, one small round checks that it works.
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|arg| arg == "--bench") || args.iter().any(|arg| arg == "--test");
    let (n, rounds) = if smoke { (64, 1) } else { (5_000, 5) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let finished = Arc::new(AtomicUsize::new(0));
    // The peer runs on a runtime of its own, on its own thread, as a remote peer
    // would: the clients' runtime only closes.
    let peer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("peer runtime");
    let listener = peer
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let serving = Arc::clone(&finished);
    std::thread::spawn(move || peer.block_on(serve(listener, serving)));
    // A warm-up round of every variant, then the measured ones, the order turning.
    for variant in VARIANTS {
        measure(&rt, addr, &finished, variant, n.min(500));
    }
    let mut times = [const { Vec::new() }; 4];
    let mut allocations = [0usize; 4];
    for round in 0..rounds {
        for k in 0..VARIANTS.len() {
            let i = (round + k) % VARIANTS.len();
            let (elapsed, allocs) = measure(&rt, addr, &finished, VARIANTS[i], n);
            times[i].push(elapsed.as_secs_f64() / n as f64);
            allocations[i] += allocs;
        }
    }
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    println!("## k. Closing {n} loopback TCP connections on tokio's multi-thread runtime\n");
    println!("Run by `benches/tcp.rs`: each client's cleanup writes a goodbye and shuts down;");
    println!("only the closing is timed; the peer reads on a runtime of its own, on its own");
    println!(
        "thread (as a remote peer would); {rounds} rounds, the variants taking turns; medians.\n"
    );
    println!("| variant | per connection | ratio to (b) | allocations per connection |");
    println!("|---|---|---|---|");
    for (i, variant) in VARIANTS.into_iter().enumerate() {
        println!(
            "| {} | {:.2} µs | {:.3}× | {:.2} |",
            variant.label(),
            medians[i] * 1e6,
            medians[i] / medians[1],
            allocations[i] as f64 / (n * rounds) as f64,
        );
    }
    let (a, b, c) = (medians[0], medians[1], medians[2]);
    println!();
    println!(
        "Targets: (a) ≤ 1.05× (b): {:.3}× {}; (a) ≥ 2× faster than (c): {:.1}× {}",
        a / b,
        if a / b <= 1.05 { "✅" } else { "❌" },
        c / a,
        if c / a >= 2.0 { "✅" } else { "❌" },
    );
}
