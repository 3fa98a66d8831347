//! Scaffolding of the runtime adapters' tests: a recording policy hook, waits, a gate
//! and the resource `Res<W, TAG>`. Reports come from runtime threads into one global
//! list, so each test has a `Res` type of its own (a `TAG` per test, `W` per runtime).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use asyncdrop::rt::{BackgroundError, CleanupHandle};
use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy, Report, ReportKind};
use futures_util::future::{select, Either};

use super::suite::TestRuntime;
use super::Counters;

/// One recorded report.
#[derive(Debug, Clone)]
pub struct Seen {
    pub kind: ReportKind,
    pub type_name: &'static str,
    pub detail: Option<String>,
    pub message: String,
}

static REPORTS: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

/// Types for which the hook panics on a `Failed` report, as `Policy::Panic` would.
static PANICKY: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn record(report: &Report<'_>) {
    let panics = report.kind() == ReportKind::Failed
        && PANICKY
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&report.type_name());
    let seen = Seen {
        kind: report.kind(),
        type_name: report.type_name(),
        detail: report.detail().map(|d| format!("{d:?}")),
        message: report.to_string(),
    };
    REPORTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(seen);
    if panics {
        // Stands in for `Policy::Panic` for these types.
        panic!("policy panics on: {report}");
    }
}

/// Installs the recording hook; it panics on failure reports naming one of `panicky`.
pub fn install_recording_hook(panicky: &[&'static str]) {
    let mut types = PANICKY.lock().unwrap_or_else(PoisonError::into_inner);
    for name in panicky {
        if !types.contains(name) {
            types.push(name);
        }
    }
    drop(types);
    set_policy(Policy::Hook(record));
}

/// Installs the recording hook (no type panics); new counters for a test.
pub fn recording() -> Arc<Counters> {
    install_recording_hook(&[]);
    Counters::new()
}

/// The reports made so far about type `T`.
pub fn reports<T>() -> Vec<Seen> {
    let name = std::any::type_name::<T>();
    REPORTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|s| s.type_name == name)
        .cloned()
        .collect()
}

/// The kinds of the reports made so far about type `T`.
pub fn kinds<T>() -> Vec<ReportKind> {
    reports::<T>().iter().map(|s| s.kind).collect()
}

/// Asserts that nothing was reported about `T`.
#[track_caller]
pub fn assert_unreported<T>() {
    let seen = reports::<T>();
    assert!(seen.is_empty(), "{seen:?}");
}

/// Awaits each handle (on a plain executor): each says its cleanup of `T` was cancelled.
#[track_caller]
pub fn assert_cancelled<T: AsyncDrop<Error: std::fmt::Debug>>(
    handles: impl IntoIterator<Item = CleanupHandle<T>>,
) {
    for handle in handles {
        match futures_executor::block_on(handle) {
            Err(BackgroundError::Cancelled { type_name }) => {
                assert!(
                    type_name.ends_with(std::any::type_name::<T>()),
                    "{type_name}"
                )
            }
            other => panic!("expected a cancellation, got {other:?}"),
        }
    }
}

/// Generous: a hang becomes a failure, a slow machine does not.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `condition` (on a plain thread) until it holds; fails after [`PATIENCE`].
#[track_caller]
pub fn eventually(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// As [`eventually`], in async code: sleeps on `W`'s timer, which lets that runtime run.
pub async fn eventually_async<W: TestRuntime>(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        W::sleep(Duration::from_millis(2)).await;
    }
}

/// Bounds a future on the timer of `W`: a hang becomes a failure.
pub async fn bounded<W: TestRuntime, F: Future>(fut: F) -> F::Output {
    match select(pin!(fut), pin!(W::sleep(PATIENCE + PATIENCE / 2))).await {
        Either::Left((output, _)) => output,
        Either::Right(_) => panic!("did not finish within {:?}", PATIENCE + PATIENCE / 2),
    }
}

/// A gate cleanups wait at until it is opened; works on any executor.
#[derive(Debug, Clone)]
pub struct Gate(async_channel::Receiver<()>);

/// Opens its [`Gate`] when [`open`](Opener::open)ed or dropped.
#[derive(Debug)]
pub struct Opener(async_channel::Sender<()>);

impl Opener {
    pub fn open(&self) {
        self.0.close();
    }
}

pub fn gate() -> (Gate, Opener) {
    let (tx, rx) = async_channel::bounded(1);
    (Gate(rx), Opener(tx))
}

impl Gate {
    pub async fn pass(&self) {
        while self.0.recv().await.is_ok() {}
    }
}

/// The error of a failing test resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResError(pub u32);

impl std::fmt::Display for ResError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "res error {}", self.0)
    }
}

impl std::error::Error for ResError {}

/// What a test resource does when cleaned up.
#[derive(Debug, Clone)]
pub enum How {
    Succeed,
    Fail(u32),
    Panic,
    /// Never finishes.
    Pending,
    /// The runtime's sleep (needs its timer).
    Sleep(Duration),
    /// The runtime's `yield_now` this many times.
    Yield(usize),
    /// Waits until the gate is opened.
    Gate(Gate),
    /// Waits until the gate is opened, then fails.
    GateThenFail(Gate, u32),
    /// The runtime's `yield_now` this many times, then fails.
    YieldThenFail(usize, u32),
}

/// A resource whose type is unique per test (`TAG`) and runtime (`W`). Its cleanup counts
/// itself (started, in flight, finished) and does what `how` says; `Drop` counts too.
pub struct Res<W, const TAG: u32> {
    pub counts: Arc<Counters>,
    pub how: How,
    _waits: PhantomData<fn() -> W>,
}

impl<W: TestRuntime, const TAG: u32> Res<W, TAG> {
    pub fn guard(counts: &Arc<Counters>, how: How) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(Res {
            counts: counts.clone(),
            how,
            _waits: PhantomData,
        })
    }
}

impl<W, const TAG: u32> std::fmt::Debug for Res<W, TAG> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Res").field("how", &self.how).finish()
    }
}

impl<W, const TAG: u32> Drop for Res<W, TAG> {
    fn drop(&mut self) {
        self.counts.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl<W: TestRuntime, const TAG: u32> AsyncDrop for Res<W, TAG> {
    type Error = ResError;

    async fn async_drop_impl(self) -> Result<(), ResError> {
        // Borrows `self`, so the resource is dropped after its cleanup, as usual.
        let counts = &self.counts;
        counts.cleanups_started.fetch_add(1, Ordering::SeqCst);
        let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counts.max_in_flight.fetch_max(now, Ordering::SeqCst);
        match self.how.clone() {
            How::Succeed | How::Fail(_) => {}
            How::Panic => {
                counts.in_flight.fetch_sub(1, Ordering::SeqCst);
                panic!("res {TAG} cleanup panicked")
            }
            How::Pending => std::future::pending().await,
            How::Sleep(d) => W::sleep(d).await,
            How::Yield(n) | How::YieldThenFail(n, _) => {
                for _ in 0..n {
                    W::yield_now().await;
                }
            }
            How::Gate(gate) | How::GateThenFail(gate, _) => gate.pass().await,
        }
        counts.in_flight.fetch_sub(1, Ordering::SeqCst);
        counts.cleanups_finished.fetch_add(1, Ordering::SeqCst);
        match self.how {
            How::Fail(code) | How::GateThenFail(_, code) | How::YieldThenFail(_, code) => {
                Err(ResError(code))
            }
            _ => Ok(()),
        }
    }
}

// For the runtimes' own resources -------------------------------------------------

/// A fresh path in the temporary directory, for the test `name` of `runtime`.
pub fn temp_path(runtime: &str, name: &str) -> std::path::PathBuf {
    let pid = std::process::id();
    std::env::temp_dir().join(format!("asyncdrop-rt-{runtime}-{pid}-{name}"))
}

/// `len` bytes of a pattern that a lost or repeated chunk would break.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Reads the file at `path` back, removes it, and asserts that it holds `data`.
#[track_caller]
pub fn assert_read_back(path: &std::path::Path, data: &[u8]) {
    let back = std::fs::read(path).unwrap();
    std::fs::remove_file(path).unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "every byte written must be read back");
}

/// Asserts that process `pid` is gone: killed and reaped, not even a zombie.
#[cfg(unix)]
#[track_caller]
pub fn assert_process_gone(pid: u32) {
    let alive = std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(!alive, "process {pid} is still there");
    #[cfg(target_os = "linux")]
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

/// Sets its flag when dropped.
pub struct SetOnDrop(pub Arc<std::sync::atomic::AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        // Make the drop slow, so that returning early would be caught.
        std::thread::sleep(Duration::from_millis(20));
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A task body that never ends: parked in `W`'s timer, or (`busy`) busy on its
/// thread between yields.
pub type Body = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Spawns a task that never ends with `spawn`, guards its handle, and asserts that
/// the handle's cleanup returns only once the task's locals are dropped.
pub async fn task_cleanup_waits_for_the_task<W: TestRuntime, T>(
    busy: bool,
    spawn: impl FnOnce(Body) -> T,
) where
    T: AsyncDrop<Error: std::fmt::Debug>,
{
    use std::sync::atomic::AtomicBool;
    let dropped = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(false));
    let (d, r) = (dropped.clone(), running.clone());
    let task = AsyncDropGuard::new(spawn(Box::pin(async move {
        let _local = SetOnDrop(d);
        r.store(true, Ordering::SeqCst);
        loop {
            if busy {
                std::thread::sleep(Duration::from_millis(1));
                W::yield_now().await;
            } else {
                W::sleep(Duration::from_millis(1)).await;
            }
        }
    })));
    eventually_async::<W>("the task to run", || running.load(Ordering::SeqCst)).await;
    task.async_drop().await.unwrap();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the task's locals were dropped before the cleanup returned"
    );
}

/// Implements the suite's `TestNet` for `$rt` with a listener and a stream of tokio's
/// shape (async `bind`, `accept`, `connect`); `write_all` and `read` come from the
/// extension traits in scope where it is used.
macro_rules! test_net {
    ([$($generics:tt)*] $rt:ty: $listener:ident, $stream:ident) => {
        impl<$($generics)*> $crate::common::suite::TestNet for $rt {
            type Listener = $listener;
            type Stream = $stream;
            async fn bind() -> std::io::Result<($listener, std::net::SocketAddr)> {
                let listener = $listener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                Ok((listener, addr))
            }
            async fn accept(listener: &$listener) -> std::io::Result<$stream> {
                Ok(listener.accept().await?.0)
            }
            async fn connect(addr: std::net::SocketAddr) -> std::io::Result<$stream> {
                $stream::connect(addr).await
            }
            fn write_all<'a>(
                stream: &'a mut $stream,
                data: &'a [u8],
            ) -> impl Future<Output = std::io::Result<()>> + Send + 'a {
                stream.write_all(data)
            }
            fn read<'a>(
                stream: &'a mut $stream,
                buf: &'a mut [u8],
            ) -> impl Future<Output = std::io::Result<usize>> + Send + 'a {
                stream.read(buf)
            }
        }
    };
}
#[allow(unused_imports, reason = "only the runtime tests with TCP use it")]
pub(crate) use test_net;

/// Implements the `TestRuntime` counts of background cleanups with the functions of
/// runtime module `asyncdrop::rt::$module`.
macro_rules! module_cleanups {
    ($module:ident) => {
        fn background_cleanups() -> usize {
            asyncdrop::rt::$module::background_cleanups()
        }
        fn wait_for_background_cleanups(limit: std::time::Duration) -> usize {
            asyncdrop::rt::$module::wait_for_background_cleanups(limit)
        }
        fn background_cleanups_finished() -> asyncdrop::rt::WaitForCleanups<'static> {
            asyncdrop::rt::$module::background_cleanups_finished()
        }
    };
}
#[allow(unused_imports, reason = "not every runtime has a module of its own")]
pub(crate) use module_cleanups;
