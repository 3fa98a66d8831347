//! Cost of async cleanup through asyncdrop against the ways it is done without it.
//!
//! Every case is measured next to its baseline in the same run. `ci/bench.sh` runs
//! the full set and turns the results into `BENCHMARKS.md`; `cargo bench -- --test`
//! (run by `ci/test.sh`) only checks that every case runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::{
    async_drop_all, with_async_drop, AsyncDrop, AsyncDropArc, AsyncDropGuard, BlockingDrop,
};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};

// ---------------------------------------------------------------------------
// Allocation counting

struct CountingAlloc;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated now, and the most since the last `peak_heap` started, counted
/// only while `peak_heap` measures (so that timed runs pay for no more than the
/// count of allocations).
static TRACKING: AtomicBool = AtomicBool::new(false);
/// (Signed: memory allocated before and freed meanwhile counts negative.)
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(by: usize) {
    if TRACKING.load(Ordering::Relaxed) {
        let live = LIVE.fetch_add(by as isize, Ordering::Relaxed) + by as isize;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

fn shrank(by: usize) {
    if TRACKING.load(Ordering::Relaxed) {
        LIVE.fetch_sub(by as isize, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator; only counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grew(new_size);
        shrank(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations per call of `op`, averaged over `n` calls.
fn allocations_per_op(n: usize, mut op: impl FnMut()) -> f64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..n {
        op();
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / n as f64
}

/// The allocations `op` makes, and the most heap it holds at once beyond what was
/// allocated when it started (its input, made before, is not counted). Only for a
/// single-threaded `op`: other threads' allocations would count too.
fn peak_heap(op: impl FnOnce()) -> (usize, usize) {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    TRACKING.store(true, Ordering::Relaxed);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    op();
    TRACKING.store(false, Ordering::Relaxed);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    (allocations, PEAK.load(Ordering::Relaxed).max(0) as usize)
}

/// Records a case's allocation count and future size for `ci/bench.sh`.
fn record(id: &str, allocs: f64, future_size: Option<usize>) {
    record_line(id, allocs, future_size, None);
}

/// As [`record`], with the most heap the case held at once (bytes).
fn record_line(id: &str, allocs: f64, future_size: Option<usize>, peak: Option<usize>) {
    use std::io::Write;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("bench-facts.tsv"))
        .expect("bench facts file");
    let size = future_size.map_or(String::from("-"), |s| s.to_string());
    let peak = peak.map_or(String::new(), |p| format!("\t{p}"));
    writeln!(f, "{id}\t{allocs}\t{size}{peak}").expect("write bench facts");
}

/// The size of a future, which is then forgotten unpolled.
///
/// Not run here: every case's future is polled in exactly one place, its `op_`
/// function, as its baseline's is. A second poll site changes the optimizer's
/// inlining decision for that future, so the two sides would no longer be compiled
/// alike. (Forgetting skips the cancellation report; the probed futures own nothing
/// that needs dropping.)
fn future_size<F: Future>(fut: F) -> usize {
    let size = std::mem::size_of_val(&fut);
    std::mem::forget(fut);
    size
}

// ---------------------------------------------------------------------------
// A minimal executor: futures here complete without waiting on anything.

#[inline(always)]
fn run<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

// ---------------------------------------------------------------------------
// The resource: trivial teardown, written as an async fn.

struct Trivial(u64);

impl Trivial {
    async fn close(self) -> Result<(), Infallible> {
        black_box(self.0);
        Ok(())
    }
}

impl AsyncDrop for Trivial {
    type Error = Infallible;
    async fn async_drop_impl(self) -> Result<(), Infallible> {
        self.close().await
    }
}

// The classic design: an `#[async_trait]` trait and an `Option`-based guard.

#[async_trait::async_trait]
trait ClassicAsyncDrop {
    async fn async_drop(&mut self) -> Result<(), Infallible>;
}

struct ClassicTrivial(u64);

#[async_trait::async_trait]
impl ClassicAsyncDrop for ClassicTrivial {
    async fn async_drop(&mut self) -> Result<(), Infallible> {
        black_box(self.0);
        Ok(())
    }
}

struct ClassicGuard<T: ClassicAsyncDrop> {
    value: Option<T>,
}

impl<T: ClassicAsyncDrop> ClassicGuard<T> {
    fn new(value: T) -> Self {
        ClassicGuard { value: Some(value) }
    }

    async fn async_drop(&mut self) -> Result<(), Infallible> {
        self.value
            .as_mut()
            .expect("cleaned up twice")
            .async_drop()
            .await?;
        self.value = None;
        Ok(())
    }
}

impl<T: ClassicAsyncDrop> Drop for ClassicGuard<T> {
    fn drop(&mut self) {
        if self.value.is_some() {
            panic!("forgot to clean up");
        }
    }
}

// A composite of three guarded members: the members' guards are combined into the
// parent's (`AsyncDropGuard::combine`), so the parent's guard is the one check.

struct Composite {
    a: Trivial,
    b: Trivial,
    c: Trivial,
}

impl AsyncDrop for Composite {
    type Error = Infallible;
    async fn async_drop_impl(self) -> Result<(), Infallible> {
        self.a.async_drop_impl().await?;
        self.b.async_drop_impl().await?;
        self.c.async_drop_impl().await
    }
}

// The same composite keeping the members' guards as fields: each field is checked on
// its own, which adds drop code to the parent's cleanup.

struct GuardFields {
    a: AsyncDropGuard<Trivial>,
    b: AsyncDropGuard<Trivial>,
    c: AsyncDropGuard<Trivial>,
}

impl AsyncDrop for GuardFields {
    type Error = Infallible;
    async fn async_drop_impl(self) -> Result<(), Infallible> {
        self.a.async_drop().await?;
        self.b.async_drop().await?;
        self.c.async_drop().await
    }
}

// The scope macro against hand-written cleanup on every path.

fn step(conn: &Trivial, fail: bool) -> Result<u64, Infallible2> {
    if fail {
        Err(Infallible2)
    } else {
        Ok(conn.0)
    }
}

#[derive(Debug)]
struct Infallible2;

impl From<Infallible> for Infallible2 {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

async fn scoped(id: u64, fail: bool) -> Result<u64, Infallible2> {
    let conn = AsyncDropGuard::new(Trivial(id));
    with_async_drop!(conn => {
        let v = step(&conn, fail)?;
        Ok(v + 1)
    })
}

async fn by_hand(id: u64, fail: bool) -> Result<u64, Infallible2> {
    let conn = Trivial(id);
    match step(&conn, fail) {
        Ok(v) => {
            conn.close().await?;
            Ok(v + 1)
        }
        Err(e) => {
            conn.close().await?;
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------
// One operation per case, each behind a function boundary as in real code, so
// that every case and its baseline get the same treatment from the optimizer.

#[inline(never)]
fn op_guard(id: u64) -> Result<(), Infallible> {
    run(AsyncDropGuard::new(Trivial(id)).async_drop())
}

#[inline(never)]
fn op_direct(id: u64) -> Result<(), Infallible> {
    run(Trivial(id).close())
}

#[inline(never)]
fn op_classic(id: u64) -> Result<(), Infallible> {
    run(async {
        let mut guard = ClassicGuard::new(ClassicTrivial(id));
        guard.async_drop().await
    })
}

#[inline(never)]
fn op_composite_guard(id: u64) -> Result<(), Infallible> {
    let members = (
        AsyncDropGuard::new(Trivial(id)),
        AsyncDropGuard::new(Trivial(id + 1)),
        AsyncDropGuard::new(Trivial(id + 2)),
    );
    let parent = AsyncDropGuard::combine(members, |(a, b, c)| Composite { a, b, c });
    run(parent.async_drop())
}

#[inline(never)]
fn op_composite_guard_fields(id: u64) -> Result<(), Infallible> {
    let parent = AsyncDropGuard::new(GuardFields {
        a: AsyncDropGuard::new(Trivial(id)),
        b: AsyncDropGuard::new(Trivial(id + 1)),
        c: AsyncDropGuard::new(Trivial(id + 2)),
    });
    run(parent.async_drop())
}

/// The same composite without the crate: a parent whose hand-written async close
/// closes its three members.
struct PlainComposite {
    a: Trivial,
    b: Trivial,
    c: Trivial,
}

impl PlainComposite {
    async fn close(self) -> Result<(), Infallible> {
        self.a.close().await?;
        self.b.close().await?;
        self.c.close().await
    }
}

#[inline(never)]
fn op_composite_direct(id: u64) -> Result<(), Infallible> {
    run(PlainComposite {
        a: Trivial(id),
        b: Trivial(id + 1),
        c: Trivial(id + 2),
    }
    .close())
}

/// The same composite closed by hand with its members' closes joined, and (a copy of
/// `close`, so that every future keeps one poll site) one after another.
#[cfg(feature = "derive")]
impl PlainComposite {
    async fn close_each(self) -> Result<(), Infallible> {
        self.a.close().await?;
        self.b.close().await?;
        self.c.close().await
    }

    async fn close_joined(self) -> Result<(), Infallible> {
        let (a, b, c) =
            futures_util::future::join3(self.a.close(), self.b.close(), self.c.close()).await;
        a?;
        b?;
        c
    }
}

// The composite keeping its members' guards as fields, with a derived cleanup: one
// after another, or concurrently.

#[cfg(feature = "derive")]
#[derive(AsyncDrop)]
#[async_drop(sequential)]
struct DerivedSequential {
    a: AsyncDropGuard<Trivial>,
    b: AsyncDropGuard<Trivial>,
    c: AsyncDropGuard<Trivial>,
}

#[cfg(feature = "derive")]
#[derive(AsyncDrop)]
struct DerivedJoined {
    a: AsyncDropGuard<Trivial>,
    b: AsyncDropGuard<Trivial>,
    c: AsyncDropGuard<Trivial>,
}

// The j cases return whether the cleanup succeeded. A derived type's error (here
// three `Option<Infallible>`) is inhabited where `Infallible` is not, which costs
// one store of the result at this non-inlined boundary and nothing in the cleanup.

/// Cleans up a parent of three guarded fields, built by `parent`.
#[cfg(feature = "derive")]
#[inline(always)]
fn derived<P, F>(id: u64, parent: F) -> bool
where
    P: AsyncDrop,
    F: FnOnce([AsyncDropGuard<Trivial>; 3]) -> P,
{
    let fields = [id, id + 1, id + 2].map(|id| AsyncDropGuard::new(Trivial(id)));
    run(AsyncDropGuard::new(parent(fields)).async_drop()).is_ok()
}

#[cfg(feature = "derive")]
#[inline(always)]
fn plain(id: u64) -> PlainComposite {
    PlainComposite {
        a: Trivial(id),
        b: Trivial(id + 1),
        c: Trivial(id + 2),
    }
}

#[cfg(feature = "derive")]
#[inline(never)]
fn op_derived_sequential(id: u64) -> bool {
    derived(id, |[a, b, c]| DerivedSequential { a, b, c })
}

#[cfg(feature = "derive")]
#[inline(never)]
fn op_by_hand_sequential(id: u64) -> bool {
    run(plain(id).close_each()).is_ok()
}

#[cfg(feature = "derive")]
#[inline(never)]
fn op_derived_joined(id: u64) -> bool {
    derived(id, |[a, b, c]| DerivedJoined { a, b, c })
}

#[cfg(feature = "derive")]
#[inline(never)]
fn op_by_hand_joined(id: u64) -> bool {
    run(plain(id).close_joined()).is_ok()
}

/// l. An array of three guards cleaned up concurrently (the crate's array join).
#[cfg(feature = "derive")]
#[inline(never)]
fn op_array(id: u64) -> bool {
    let guards = [id, id + 1, id + 2].map(|id| AsyncDropGuard::new(Trivial(id)));
    run(async_drop_all(guards)).is_ok()
}

/// l. The same through `join_all`, the way to join an array without `unsafe`.
#[cfg(feature = "derive")]
#[inline(never)]
fn op_array_join_all(id: u64) -> bool {
    let guards = [id, id + 1, id + 2].map(|id| AsyncDropGuard::new(Trivial(id)));
    let cleanups = guards.map(AsyncDropGuard::async_drop);
    run(futures_util::future::join_all(cleanups))
        .iter()
        .all(Result::is_ok)
}

#[inline(never)]
fn op_scoped(id: u64, fail: bool) -> Result<u64, Infallible2> {
    run(scoped(id, fail))
}

#[inline(never)]
fn op_by_hand(id: u64, fail: bool) -> Result<u64, Infallible2> {
    run(by_hand(id, fail))
}

// ---------------------------------------------------------------------------
// The nanosecond cases run their operation BATCH times per measured iteration, on
// inputs read from memory, and report the time per operation. One call per
// iteration would mostly measure the harness around a few instructions (passing the
// input through `black_box`'s stack slot, the loop), which shifts either side by a
// cycle depending on how the branch predictor and store forwarding treat it.

/// Operations per measured iteration in the nanosecond cases.
const BATCH: usize = 64;

/// A group whose results are per operation of a `BATCH`.
fn batch_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(BATCH as u64));
    g
}

/// Benchmarks `op(id, fails[i])` over the batch; each call gets a fresh id.
fn bench_batch<O>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    fails: &[bool; BATCH],
    mut op: impl FnMut(u64, bool) -> O,
) {
    g.bench_function(name, |b| {
        let mut next = 0u64;
        b.iter(|| {
            for (i, &fail) in black_box(fails).iter().enumerate() {
                black_box(op(next + i as u64, fail));
            }
            next += BATCH as u64;
        })
    });
}

/// Allocations per call of `op` over one batch, called as `bench_batch` calls it.
fn batch_allocations<O>(fails: &[bool; BATCH], mut op: impl FnMut(u64, bool) -> O) -> f64 {
    let mut calls = fails.iter().enumerate();
    allocations_per_op(BATCH, || {
        let (i, &fail) = calls.next().expect("one call per input");
        black_box(op(i as u64, fail));
    })
}

/// No call fails.
const NEVER: [bool; BATCH] = [false; BATCH];

fn core_cases(c: &mut Criterion) {
    // a. create + cleanup: guard vs calling the close directly.
    let mut g = batch_group(c, "a_create_cleanup");
    bench_batch(&mut g, "guard", &NEVER, |id, _| op_guard(id));
    bench_batch(&mut g, "direct", &NEVER, |id, _| op_direct(id));
    g.finish();
    record(
        "a_create_cleanup/guard",
        allocations_per_op(1000, || {
            let _ = op_guard(1);
        }),
        Some(future_size(AsyncDropGuard::new(Trivial(1)).async_drop())),
    );
    record(
        "h_future_size/resource_cleanup",
        0.0,
        Some(future_size(Trivial(1).async_drop_impl())),
    );
    record(
        "a_create_cleanup/direct",
        allocations_per_op(1000, || {
            let _ = op_direct(1);
        }),
        Some(future_size(Trivial(1).close())),
    );

    // b. the classic design: async_trait (boxed future) + Option-based guard.
    let mut g = batch_group(c, "b_vs_async_trait");
    bench_batch(&mut g, "guard", &NEVER, |id, _| op_guard(id));
    bench_batch(&mut g, "async_trait_option_guard", &NEVER, |id, _| {
        op_classic(id)
    });
    g.finish();
    record(
        "b_vs_async_trait/guard",
        allocations_per_op(1000, || {
            let _ = op_guard(1);
        }),
        None,
    );
    record(
        "b_vs_async_trait/async_trait_option_guard",
        allocations_per_op(1000, || {
            let _ = op_classic(1);
        }),
        None,
    );

    // c. a composite of three guarded members through the parent vs direct.
    let mut g = batch_group(c, "c_composite");
    bench_batch(&mut g, "guard", &NEVER, |id, _| op_composite_guard(id));
    bench_batch(&mut g, "direct", &NEVER, |id, _| op_composite_direct(id));
    bench_batch(&mut g, "guard_fields", &NEVER, |id, _| {
        op_composite_guard_fields(id)
    });
    g.finish();
    record(
        "c_composite/guard",
        allocations_per_op(1000, || {
            let _ = op_composite_guard(1);
        }),
        None,
    );
    record(
        "c_composite/guard_fields",
        allocations_per_op(1000, || {
            let _ = op_composite_guard_fields(1);
        }),
        None,
    );
    record(
        "c_composite/direct",
        allocations_per_op(1000, || {
            let _ = op_composite_direct(1);
        }),
        None,
    );

    // j. a derived cleanup of three guard fields vs the hand-written plain-field
    // close: one after another, and joined.
    #[cfg(feature = "derive")]
    {
        let mut g = batch_group(c, "j_derive");
        bench_batch(&mut g, "sequential", &NEVER, |id, _| {
            op_derived_sequential(id)
        });
        bench_batch(&mut g, "by_hand_sequential", &NEVER, |id, _| {
            op_by_hand_sequential(id)
        });
        bench_batch(&mut g, "joined", &NEVER, |id, _| op_derived_joined(id));
        bench_batch(&mut g, "by_hand_joined", &NEVER, |id, _| {
            op_by_hand_joined(id)
        });
        g.finish();
        let guards = |id| {
            (
                AsyncDropGuard::new(Trivial(id)),
                AsyncDropGuard::new(Trivial(id + 1)),
                AsyncDropGuard::new(Trivial(id + 2)),
            )
        };
        let (a, b, cc) = guards(1);
        let sequential = AsyncDropGuard::new(DerivedSequential { a, b, c: cc }).async_drop();
        let (a, b, cc) = guards(1);
        let joined = AsyncDropGuard::new(DerivedJoined { a, b, c: cc }).async_drop();
        let plain = || PlainComposite {
            a: Trivial(1),
            b: Trivial(2),
            c: Trivial(3),
        };
        for (id, allocs, size) in [
            (
                "j_derive/sequential",
                batch_allocations(&NEVER, |id, _| op_derived_sequential(id)),
                future_size(sequential),
            ),
            (
                "j_derive/by_hand_sequential",
                batch_allocations(&NEVER, |id, _| op_by_hand_sequential(id)),
                future_size(plain().close_each()),
            ),
            (
                "j_derive/joined",
                batch_allocations(&NEVER, |id, _| op_derived_joined(id)),
                future_size(joined),
            ),
            (
                "j_derive/by_hand_joined",
                batch_allocations(&NEVER, |id, _| op_by_hand_joined(id)),
                future_size(plain().close_joined()),
            ),
        ] {
            record(id, allocs, Some(size));
        }

        // l. an array of three guards through the array join vs the same `join3`.
        let mut g = batch_group(c, "l_array");
        bench_batch(&mut g, "array", &NEVER, |id, _| op_array(id));
        bench_batch(&mut g, "join_all", &NEVER, |id, _| op_array_join_all(id));
        g.finish();
        record(
            "l_array/join_all",
            batch_allocations(&NEVER, |id, _| op_array_join_all(id)),
            None,
        );
        let array = async_drop_all([1, 2, 3].map(|id| AsyncDropGuard::new(Trivial(id))));
        record(
            "l_array/array",
            batch_allocations(&NEVER, |id, _| op_array(id)),
            Some(future_size(array)),
        );
    }

    // g. the scope macro vs hand-written cleanup on every path: the success path, the
    // error path, and the two alternating.
    for (name, fails) in [
        ("g_scope_ok", NEVER),
        ("g_scope_err", [true; BATCH]),
        ("g_scope_mixed", core::array::from_fn(|i| i % 2 == 0)),
    ] {
        let mut g = batch_group(c, name);
        bench_batch(&mut g, "macro", &fails, op_scoped);
        bench_batch(&mut g, "by_hand", &fails, op_by_hand);
        g.finish();
        // The future sizes are the same for every pattern: recorded once.
        let first = name == "g_scope_ok";
        record(
            &format!("{name}/macro"),
            batch_allocations(&fails, op_scoped),
            first.then(|| future_size(scoped(1, false))),
        );
        record(
            &format!("{name}/by_hand"),
            batch_allocations(&fails, op_by_hand),
            first.then(|| future_size(by_hand(1, false))),
        );
    }
}

// ---------------------------------------------------------------------------
// d. Many guards whose cleanup yields once, cleaned up in one task: the crate's
// collection against `join_all`, `FuturesUnordered` and futures-concurrency's `Vec`
// join of the raw cleanups, and against one tokio task each.

/// A resource whose close waits once (returns `Pending` once, waking itself).
struct Yielding(u64);

impl Yielding {
    async fn close(self) -> Result<(), Infallible> {
        YieldOnce(false).await;
        black_box(self.0);
        Ok(())
    }
}

impl AsyncDrop for Yielding {
    type Error = Infallible;
    fn async_drop_impl(self) -> impl Future<Output = Result<(), Infallible>> + Send {
        self.close()
    }
}

struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

const MANY: u64 = 100_000;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

/// The resources of case d, as the crate's collection.
fn many_guarded() -> AsyncDropGuard<AsyncDropVec<Yielding>> {
    let mut v = AsyncDropVec::with_capacity(MANY as usize);
    v.extend((0..MANY).map(|i| AsyncDropGuard::new(Yielding(i))));
    v
}

/// The same resources, bare, for the baselines.
fn many_bare() -> Vec<Yielding> {
    (0..MANY).map(Yielding).collect()
}

// Each way of case d to clean up every resource, concurrently in one task.

async fn d_collection(v: AsyncDropGuard<AsyncDropVec<Yielding>>) {
    v.async_drop().await.unwrap();
}

async fn d_join_all(v: Vec<Yielding>) {
    futures_util::future::join_all(v.into_iter().map(Yielding::close)).await;
}

async fn d_futures_unordered(v: Vec<Yielding>) {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let mut running: FuturesUnordered<_> = v.into_iter().map(Yielding::close).collect();
    while let Some(r) = running.next().await {
        r.unwrap();
    }
}

async fn d_futures_concurrency(v: Vec<Yielding>) {
    use futures_concurrency::future::Join;
    let closes: Vec<_> = v.into_iter().map(Yielding::close).collect();
    closes.join().await;
}

async fn d_tokio_spawn_each(v: Vec<Yielding>) {
    let handles: Vec<_> = v.into_iter().map(|r| tokio::spawn(r.close())).collect();
    for h in handles {
        let _ = h.await;
    }
}

/// Times case d's `op` on fresh resources made by `make`, and records its
/// allocations per element and its peak heap (`tokio` spawning allocates on the
/// runtime's side too, so it records none).
fn bench_many<I, F: Future>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    make: fn() -> I,
    op: fn(I) -> F,
) {
    g.bench_function(name, |b| {
        b.iter_batched(make, |v| rt.block_on(op(v)), BatchSize::PerIteration)
    });
    if name != "tokio_spawn_each" {
        let v = make();
        let (allocs, peak) = peak_heap(|| {
            rt.block_on(op(v));
        });
        let id = format!("d_many/{name}");
        record_line(&id, allocs as f64 / MANY as f64, None, Some(peak));
    }
}

fn many_cases(c: &mut Criterion) {
    let rt = current_thread();
    let mut g = c.benchmark_group("d_many");
    g.sample_size(10);
    bench_many(&mut g, &rt, "collection", many_guarded, d_collection);
    bench_many(&mut g, &rt, "join_all", many_bare, d_join_all);
    bench_many(
        &mut g,
        &rt,
        "futures_unordered",
        many_bare,
        d_futures_unordered,
    );
    let name = "futures_concurrency_join";
    bench_many(&mut g, &rt, name, many_bare, d_futures_concurrency);
    bench_many(
        &mut g,
        &rt,
        "tokio_spawn_each",
        many_bare,
        d_tokio_spawn_each,
    );
    g.finish();
}

// ---------------------------------------------------------------------------
// e. Shared ownership.

#[inline(never)]
fn op_async_drop_arc(shared: &AsyncDropArc<Trivial>) -> Result<(), Infallible> {
    let clone = AsyncDropArc::clone(shared);
    run(clone.async_drop())
}

/// The same by hand: the clone that `Arc::into_inner` gives the value to closes it.
#[inline(never)]
fn op_std_arc(shared: &std::sync::Arc<Trivial>) -> Result<(), Infallible> {
    let clone = std::sync::Arc::clone(shared);
    match std::sync::Arc::into_inner(clone) {
        Some(value) => run(value.close()),
        None => Ok(()),
    }
}

fn arc_cases(c: &mut Criterion) {
    let shared = AsyncDropArc::new(AsyncDropGuard::new(Trivial(1)));
    let plain = std::sync::Arc::new(Trivial(1));
    let mut g = batch_group(c, "e_arc");
    bench_batch(&mut g, "async_drop_arc", &NEVER, |_, _| {
        op_async_drop_arc(&shared)
    });
    bench_batch(&mut g, "std_arc", &NEVER, |_, _| op_std_arc(&plain));
    g.finish();
    record(
        "e_arc/async_drop_arc",
        allocations_per_op(1000, || {
            let _ = op_async_drop_arc(&shared);
        }),
        None,
    );
    record(
        "e_arc/std_arc",
        allocations_per_op(1000, || {
            let _ = op_std_arc(&plain);
        }),
        None,
    );
    let _ = run(shared.async_drop());
}

// ---------------------------------------------------------------------------
// f. Blocking drop on a tokio multi-thread runtime, from inside a task.

#[derive(Default)]
struct DropperResource(u64);

#[async_trait::async_trait]
impl async_dropper::AsyncDrop for DropperResource {
    async fn async_drop(&mut self) {
        black_box(self.0);
    }
}

#[derive(Default)]
struct YieldingDropper(u64);

#[async_trait::async_trait]
impl async_dropper::AsyncDrop for YieldingDropper {
    async fn async_drop(&mut self) {
        YieldOnce(false).await;
        black_box(self.0);
    }
}

/// Times `op(i)` for `iters` iterations inside a task on `rt`'s workers.
fn on_a_worker(rt: &tokio::runtime::Runtime, iters: u64, op: fn(u64)) -> std::time::Duration {
    rt.block_on(async {
        tokio::spawn(async move {
            let start = std::time::Instant::now();
            for i in 0..iters {
                op(black_box(i));
            }
            start.elapsed()
        })
        .await
        .expect("bench task")
    })
}

#[cfg(feature = "tokio")]
fn op_block_on_drop(i: u64) {
    drop(asyncdrop::rt::tokio::BlockOnDrop::new(AsyncDropGuard::new(
        Trivial(i),
    )));
}

#[cfg(feature = "tokio")]
fn op_block_on_drop_waiting(i: u64) {
    drop(asyncdrop::rt::tokio::BlockOnDrop::new(AsyncDropGuard::new(
        Yielding(i),
    )));
}

#[cfg(feature = "tokio")]
fn op_block_on_async_drop_waiting(i: u64) {
    asyncdrop::rt::tokio::block_on_async_drop(AsyncDropGuard::new(Yielding(i)))
        .expect("cleaned up");
}

/// What a tokio user writes by hand to block a worker on a cleanup.
fn op_block_in_place_by_hand_waiting(i: u64) {
    let guard = AsyncDropGuard::new(Yielding(i));
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(guard.async_drop()))
        .expect("cleaned up");
}

fn op_blocking_drop(i: u64) {
    drop(BlockingDrop::new(AsyncDropGuard::new(Trivial(i))));
}

fn op_blocking_drop_waiting(i: u64) {
    drop(BlockingDrop::new(AsyncDropGuard::new(Yielding(i))));
}

fn op_async_dropper(i: u64) {
    drop(async_dropper::AsyncDropper::new(DropperResource(i)));
}

fn op_async_dropper_waiting(i: u64) {
    drop(async_dropper::AsyncDropper::new(YieldingDropper(i)));
}

fn blocking_cases(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut g = c.benchmark_group("f_blocking");
    let mut case = |name: &str, op: fn(u64)| {
        g.bench_function(name, |b| b.iter_custom(|iters| on_a_worker(&rt, iters, op)));
    };
    #[cfg(feature = "tokio")]
    case("block_on_drop", op_block_on_drop);
    case("blocking_drop", op_blocking_drop);
    case("async_dropper_simple", op_async_dropper);
    // The same with a cleanup that has to wait once.
    #[cfg(feature = "tokio")]
    case("block_on_drop_waiting", op_block_on_drop_waiting);
    case("blocking_drop_waiting", op_blocking_drop_waiting);
    case("async_dropper_simple_waiting", op_async_dropper_waiting);
    g.finish();

    // Blocking a multi-thread worker on a cleanup that waits once: the adapter
    // against `block_in_place` + `Handle::block_on` written by hand.
    let mut g = c.benchmark_group("i_block_in_place");
    let mut case = |name: &str, op: fn(u64)| {
        g.bench_function(name, |b| b.iter_custom(|iters| on_a_worker(&rt, iters, op)));
    };
    #[cfg(feature = "tokio")]
    case("block_on_async_drop", op_block_on_async_drop_waiting);
    #[cfg(feature = "tokio")]
    case("block_on_drop", op_block_on_drop_waiting);
    case("by_hand", op_block_in_place_by_hand_waiting);
    g.finish();

    record(
        "f_blocking/blocking_drop",
        allocations_per_op(100, || op_blocking_drop(1)),
        None,
    );
    #[cfg(feature = "tokio")]
    for (id, op) in [
        ("f_blocking/block_on_drop", op_block_on_drop as fn(u64)),
        (
            "i_block_in_place/block_on_async_drop",
            op_block_on_async_drop_waiting,
        ),
        ("i_block_in_place/block_on_drop", op_block_on_drop_waiting),
        (
            "i_block_in_place/by_hand",
            op_block_in_place_by_hand_waiting,
        ),
    ] {
        let allocs = rt.block_on(async move {
            tokio::spawn(async move { allocations_per_op(100, || op(1)) })
                .await
                .expect("bench task")
        });
        record(id, allocs, None);
    }
}

criterion_group! {
    name = benches;
    // A few seconds per case: the ratios, measured side by side, are what counts.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = core_cases, many_cases, arc_cases, blocking_cases
}
criterion_main!(benches);
