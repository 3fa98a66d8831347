//! The smol adapter on real smol executors — the global one, executors of our own
//! run by threads, a `LocalExecutor` — and plain threads: background cleanup, the
//! cleanup worker, deadlines, blocking from sync code, smol's own resources, and
//! end-to-end cleanup over loopback sockets.
//!
//! Reports are recorded by one process-wide policy hook. Tests run in parallel and
//! reports are made on executor threads, so each test uses its own resource type
//! (`Res<TAG>` with a tag of its own) and looks only at the reports naming it.
#![cfg(feature = "smol")]

mod common;

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::rt::smol::{
    async_drop_timeout, block_on_async_drop, block_on_async_drop_timeout, spawn_async_drop,
    spawn_async_drop_on, BackgroundError, BlockingError, CleanupHandle, DeadlineError,
    HandOverError, Reaper, ReaperDrop, ReaperStats, ReaperWorker, Smol, SpawnOnDrop, TaskPanic,
    WorkerError,
};
use asyncdrop::{AsyncDrop, AsyncDropGuard, ReportKind};
use common::rt::{eventually, install_recording_hook, kinds, reports, ResError, Waits, PATIENCE};
use common::Counters;
use smol::channel::{Receiver, Sender};
use smol::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use smol::{Async, Executor, LocalExecutor, Timer};

// ---------------------------------------------------------------------------------
// Recording reports
// ---------------------------------------------------------------------------------

/// Installs the recording hook (every test calls this first).
fn install() {
    install_recording_hook(&[std::any::type_name::<Res<16>>()]);
}

/// As [`eventually`], in async code (lets the executor run).
async fn eventually_async(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        Timer::after(Duration::from_millis(2)).await;
    }
}

/// Bounds a whole test body: a hang becomes a failure.
async fn bounded<F: Future>(fut: F) -> F::Output {
    smol::future::or(async { Some(fut.await) }, async {
        Timer::after(Duration::from_secs(15)).await;
        None
    })
    .await
    .expect("the test did not finish within 15 s")
}

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    Pin::new(fut).poll(&mut cx)
}

/// An executor of our own, run by `threads` threads until it is stopped.
struct Pool {
    executor: Arc<Executor<'static>>,
    stop: Option<Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Pool {
    fn new(threads: usize) -> Pool {
        let executor = Arc::new(Executor::new());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let threads = (0..threads)
            .map(|_| {
                let (executor, stopped) = (executor.clone(), stopped.clone());
                thread::spawn(move || {
                    let _ = smol::block_on(executor.run(stopped.recv()));
                })
            })
            .collect();
        Pool {
            executor,
            stop: Some(stop),
            threads,
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        drop(self.stop.take()); // every runner's `recv` fails: they return
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------
// A test resource
// ---------------------------------------------------------------------------------

/// A gate cleanups wait behind: closed until [`open`] drops its last sender.
fn gate() -> (Sender<()>, Receiver<()>) {
    smol::channel::bounded(1)
}

/// What a `Res` does when cleaned up.
type How = common::rt::How<Receiver<()>>;

/// This runtime's waits, for the shared cleanup of `Res`.
struct SmolWaits;

impl Waits for SmolWaits {
    type Gate = Receiver<()>;
    async fn sleep(d: Duration) {
        Timer::after(d).await;
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        smol::future::yield_now()
    }
    async fn pass(gate: Receiver<()>) {
        let _ = gate.recv().await;
    }
}

/// A resource whose type is unique per test (by `TAG`), so reports can be told apart.
#[derive(Debug)]
struct Res<const TAG: u32> {
    counts: Arc<Counters>,
    how: How,
}

impl<const TAG: u32> Res<TAG> {
    fn guard(counts: &Arc<Counters>, how: How) -> AsyncDropGuard<Res<TAG>> {
        AsyncDropGuard::new(Res {
            counts: counts.clone(),
            how,
        })
    }
}

impl<const TAG: u32> Drop for Res<TAG> {
    fn drop(&mut self) {
        self.counts.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl<const TAG: u32> AsyncDrop for Res<TAG> {
    type Error = ResError;

    async fn async_drop_impl(self) -> Result<(), ResError> {
        // Borrows `self`, so the resource is dropped after its cleanup, as usual.
        common::rt::cleanup::<SmolWaits>(&self.counts, self.how.clone(), TAG).await
    }
}

// ---------------------------------------------------------------------------------
// Compile-time facts
// ---------------------------------------------------------------------------------

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_unpin<T: Unpin>() {}
fn assert_async_drop<T: AsyncDrop>() {}

#[test]
fn public_types_are_send_and_sync() {
    type R = Res<0>;
    assert_send::<CleanupHandle<R>>();
    assert_sync::<CleanupHandle<R>>();
    assert_unpin::<CleanupHandle<R>>();
    assert_send::<Reaper<R>>();
    assert_sync::<Reaper<R>>();
    assert_send::<ReaperDrop<R>>();
    assert_sync::<ReaperDrop<R>>();
    assert_send::<SpawnOnDrop<R>>();
    assert_sync::<SpawnOnDrop<R>>();
    assert_send::<ReaperWorker>();
    assert_sync::<ReaperWorker>();
    assert_unpin::<ReaperWorker>();
    // Every error boxes into `Box<dyn Error + Send + Sync>`.
    fn boxes<E: std::error::Error + Send + Sync + 'static>() {}
    boxes::<BackgroundError<ResError>>();
    boxes::<BlockingError<ResError>>();
    boxes::<DeadlineError<ResError>>();
    boxes::<HandOverError<R>>();
    boxes::<TaskPanic>();
    boxes::<WorkerError>();
    boxes::<asyncdrop::rt::CleanupPanic>();
}

#[test]
fn smol_resources_are_async_drop() {
    assert_async_drop::<smol::Task<u32>>();
    assert_async_drop::<Async<TcpStream>>();
    assert_async_drop::<smol::net::TcpStream>();
    assert_async_drop::<smol::fs::File>();
    assert_async_drop::<BufWriter<smol::fs::File>>();
    assert_async_drop::<smol::process::Child>();
    #[cfg(unix)]
    {
        assert_async_drop::<Async<std::os::unix::net::UnixStream>>();
        assert_async_drop::<smol::net::unix::UnixStream>();
    }
}

/// The futures are `Send` in generic code: they can be spawned.
#[allow(dead_code, reason = "only type-checked")]
fn futures_are_send_in_generic_code<T: AsyncDrop + 'static>(
    a: AsyncDropGuard<T>,
    b: AsyncDropGuard<T>,
    reaper: Reaper<T>,
) where
    T::Error: std::fmt::Debug + Send,
{
    smol::spawn(async_drop_timeout(a, Duration::from_secs(1))).detach();
    smol::spawn(async move {
        let _ = reaper.hand_over(b).await;
    })
    .detach();
}

// ---------------------------------------------------------------------------------
// Background cleanup
// ---------------------------------------------------------------------------------

#[test]
fn spawned_cleanup_result_goes_to_the_awaiting_handle() {
    install();
    type R = Res<1>;
    let counts = Counters::new();
    smol::block_on(bounded(async {
        let ok = spawn_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(1)))).unwrap();
        let failed = spawn_async_drop(R::guard(&counts, How::Fail(7))).unwrap();
        let panicked = spawn_async_drop(R::guard(&counts, How::Panic)).unwrap();
        assert!(ok.type_name().ends_with("Res<1>"));

        assert!(ok.await.is_ok());
        match failed.await {
            Err(BackgroundError::Failed(e)) => assert_eq!(e, ResError(7)),
            other => panic!("expected a failure, got {other:?}"),
        }
        match panicked.await {
            Err(BackgroundError::Panicked(p)) => {
                assert_eq!(p.message(), Some("res 1 cleanup panicked"));
                assert!(p.type_name().ends_with("Res<1>"));
            }
            other => panic!("expected a panic, got {other:?}"),
        }
    }));
    assert_eq!(counts.started(), 3);
    assert_eq!(counts.drops(), 3);
    // The awaiting task received every outcome: the policy heard nothing.
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn spawn_works_from_a_plain_thread_without_any_task() {
    install();
    type R = Res<4>;
    let counts = Counters::new();
    // No executor on this thread, no `block_on`: smol's global executor runs it.
    let handle = spawn_async_drop(R::guard(&counts, How::Yield(2))).unwrap();
    eventually("the cleanup to finish", || handle.is_finished());
    assert_eq!((counts.finished(), counts.drops()), (1, 1));
    smol::block_on(handle).unwrap();
    assert!(kinds::<R>().is_empty());
}

#[test]
fn detached_failures_and_panics_go_to_the_policy() {
    install();
    type R = Res<3>;
    let counts = Counters::new();
    // Dropped while the cleanup runs (or before): the task reports.
    drop(spawn_async_drop(R::guard(&counts, How::Fail(9))).unwrap());
    drop(spawn_async_drop(R::guard(&counts, How::Panic)).unwrap());
    eventually("two reports from the tasks", || reports::<R>().len() == 2);

    // Dropped after the cleanup finished, never awaited: the dropper reports.
    let late = spawn_async_drop(R::guard(&counts, How::Fail(10))).unwrap();
    eventually("the cleanup to finish", || late.is_finished());
    assert_eq!(reports::<R>().len(), 2);
    drop(late);

    let seen = reports::<R>();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let failed: Vec<_> = seen
        .iter()
        .filter(|s| s.kind == ReportKind::Failed)
        .collect();
    let panicked: Vec<_> = seen
        .iter()
        .filter(|s| s.kind == ReportKind::Panicked)
        .collect();
    assert_eq!((failed.len(), panicked.len()), (2, 1), "{seen:?}");
    let mut details: Vec<_> = failed.iter().map(|s| s.detail.clone().unwrap()).collect();
    details.sort();
    assert_eq!(details, ["ResError(10)", "ResError(9)"]);
    assert_eq!(
        panicked[0].detail.as_deref(),
        Some("\"res 3 cleanup panicked\"")
    );
    assert!(panicked[0].message.contains("panicked during cleanup"));
    assert_eq!(counts.drops(), 3);
}

#[test]
fn spawn_on_a_user_executor_runs_when_the_executor_runs() {
    install();
    type R = Res<2>;
    let counts = Counters::new();
    let executor = Executor::new();
    let handle = spawn_async_drop_on(&executor, R::guard(&counts, How::Yield(3)));
    thread::sleep(Duration::from_millis(5));
    assert_eq!(counts.started(), 0, "nothing runs the executor yet");
    assert!(!handle.is_finished());
    smol::block_on(executor.run(bounded(handle))).unwrap();
    assert_eq!((counts.finished(), counts.drops()), (1, 1));

    // On an executor run by threads of its own.
    let pool = Pool::new(2);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let how = if i == 3 { How::Fail(3) } else { How::Yield(i) };
            spawn_async_drop_on(&pool.executor, R::guard(&counts, how))
        })
        .collect();
    let results: Vec<_> = smol::block_on(bounded(async {
        let mut results = Vec::new();
        for h in handles {
            results.push(h.await);
        }
        results
    }));
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 7);
    assert!(matches!(
        results[3],
        Err(BackgroundError::Failed(ResError(3)))
    ));
    assert_eq!(counts.drops(), 9);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn a_dropped_executor_reports_pending_cleanups_as_cancelled() {
    install();
    type R = Res<5>;
    let counts = Counters::new();
    let executor = Executor::new();
    // One cleanup that started and waits forever, one that never got to run.
    let started = spawn_async_drop_on(&executor, R::guard(&counts, How::Pending));
    assert!(executor.try_tick()); // runs it up to its `pending()`
    let never_ran = spawn_async_drop_on(&executor, R::guard(&counts, How::Succeed));
    assert_eq!(counts.started(), 1);
    drop(executor); // drops both tasks, on this thread

    assert_eq!(kinds::<R>(), [ReportKind::Cancelled, ReportKind::Cancelled]);
    assert_eq!(counts.drops(), 2);
    assert_eq!(counts.finished(), 0);
    for handle in [started, never_ran] {
        match smol::block_on(handle) {
            Err(BackgroundError::Cancelled { type_name }) => assert!(type_name.ends_with("Res<5>")),
            other => panic!("expected a cancellation, got {other:?}"),
        }
    }
}

#[test]
fn spawn_on_drop_spawns_on_the_global_executor() {
    install();
    type R = Res<7>;
    let counts = Counters::new();
    smol::block_on(bounded(async {
        let value = SpawnOnDrop::new(R::guard(&counts, How::Yield(2)));
        assert!(SpawnOnDrop::executor(&value).is_none());
        assert!(matches!(value.how, How::Yield(2))); // derefs to the value
        drop(value);
        eventually_async("the spawned cleanup", || counts.finished() == 1).await;
        assert_eq!(counts.drops(), 1);

        // A failure of a dropped `SpawnOnDrop` is reported.
        drop(SpawnOnDrop::new(R::guard(&counts, How::Fail(3))));
        eventually_async("the failure report", || !kinds::<R>().is_empty()).await;
        assert_eq!(kinds::<R>(), [ReportKind::Failed]);

        // Explicit paths: spawn with a handle, or take the guard back.
        let value = SpawnOnDrop::new(R::guard(&counts, How::Succeed));
        SpawnOnDrop::spawn(value).unwrap().await.unwrap();
        let value = SpawnOnDrop::new(R::guard(&counts, How::Succeed));
        SpawnOnDrop::into_guard(value).async_drop().await.unwrap();
    }));
    assert_eq!((counts.finished(), counts.drops()), (4, 4));
    assert_eq!(kinds::<R>().len(), 1);
}

#[test]
fn spawn_on_drop_dropped_on_a_plain_thread() {
    install();
    type R = Res<8>;
    let counts = Counters::new();
    let value = SpawnOnDrop::new(R::guard(&counts, How::Sleep(Duration::from_millis(1))));
    thread::spawn(move || drop(value)).join().unwrap();
    eventually("the spawned cleanup", || counts.finished() == 1);
    assert_eq!(counts.drops(), 1);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn spawn_on_drop_with_a_user_executor() {
    install();
    type R = Res<9>;
    let counts = Counters::new();
    let executor = Arc::new(Executor::new());
    let value = SpawnOnDrop::with_executor(R::guard(&counts, How::Yield(1)), executor.clone());
    assert!(Arc::ptr_eq(
        SpawnOnDrop::executor(&value).unwrap(),
        &executor
    ));
    assert!(format!("{value:?}").contains("user executor"));
    drop(value);
    assert_eq!(counts.started(), 0, "spawned, not run in place");
    while executor.try_tick() {}
    assert_eq!((counts.finished(), counts.drops()), (1, 1));

    // An executor dropped before the cleanup ran: reported, not lost.
    drop(SpawnOnDrop::with_executor(
        R::guard(&counts, How::Succeed),
        executor.clone(),
    ));
    drop(executor);
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled]);
    assert_eq!((counts.started(), counts.drops()), (1, 2));
}

// ---------------------------------------------------------------------------------
// The cleanup worker
// ---------------------------------------------------------------------------------

#[test]
fn reaper_cleans_up_ten_thousand_values_from_std_threads_under_back_pressure() {
    install();
    type R = Res<10>;
    const THREADS: usize = 4;
    const PER_THREAD: usize = 2_500;
    const CAPACITY: usize = 16;
    let counts = Counters::new();
    let (open, closed) = gate();
    let pool = Pool::new(2);
    let (reaper, worker) = Reaper::<R>::spawn_on(&Smol::from(pool.executor.clone()), CAPACITY);

    let producers: Vec<_> = (0..THREADS)
        .map(|_| {
            let reaper = reaper.clone();
            let counts = counts.clone();
            let closed = closed.clone();
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // Mostly instant cleanups; the first ones wait behind the gate.
                    let how = if i < CAPACITY {
                        How::Gate(closed.clone())
                    } else {
                        How::Yield(i % 3)
                    };
                    let value = ReaperDrop::new(R::guard(&counts, how), &reaper);
                    drop(value); // blocks while the queue is full
                }
            })
        })
        .collect();

    // The gate holds the first cleanups: the worker runs `CAPACITY` of them, the
    // queue fills up behind them, and every producer blocks.
    eventually("the queue to fill up", || {
        reaper.queued() == CAPACITY && counts.started() == CAPACITY
    });
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        counts.started(),
        CAPACITY,
        "the worker must not run more at once"
    );
    assert_eq!(reaper.queued(), CAPACITY);
    assert_eq!(counts.drops(), 0);
    drop(open); // open the gate

    for p in producers {
        p.join().unwrap();
    }
    reaper.shutdown();
    let stats = smol::block_on(bounded(worker)).unwrap();
    let n = THREADS * PER_THREAD;
    assert_eq!(stats.cleaned, n as u64, "{stats}");
    assert_eq!(stats.total(), n as u64);
    assert_eq!(counts.started(), n);
    assert_eq!(counts.finished(), n);
    assert_eq!(counts.drops(), n, "every value dropped exactly once");
    assert!(counts.max_in_flight.load(Ordering::SeqCst) <= CAPACITY);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
    drop(pool);
}

#[test]
fn reaper_counts_and_reports_failures_and_panics() {
    install();
    type R = Res<11>;
    let counts = Counters::new();
    smol::block_on(bounded(async {
        let (reaper, worker) = Reaper::spawn(4);
        assert!(reaper.executor().is_none());
        for how in [How::Succeed, How::Fail(5), How::Panic, How::Yield(3)] {
            reaper.hand_over(R::guard(&counts, how)).await.unwrap();
        }
        assert!(reaper.shutdown());
        let stats = worker.await.unwrap();
        assert_eq!((stats.cleaned, stats.failed, stats.panicked), (2, 1, 1));
        assert_eq!(stats.to_string(), "2 cleaned up, 1 failed, 1 panicked");
        let mut seen = kinds::<R>();
        seen.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(seen, [ReportKind::Failed, ReportKind::Panicked]);
        assert_eq!(counts.drops(), 4);

        // Shut down: the guard comes back.
        let err = reaper
            .hand_over(R::guard(&counts, How::Succeed))
            .await
            .unwrap_err();
        assert!(err.is_closed());
        assert!(err.to_string().contains("shut down"), "{err}");
        err.into_guard().async_drop().await.unwrap();
    }));
}

#[test]
fn reaper_back_pressure_when_nothing_runs_the_worker() {
    install();
    type R = Res<12>;
    let counts = Counters::new();
    let executor = Arc::new(Executor::new());
    let (reaper, mut worker) = Reaper::spawn_on(&Smol::from(executor.clone()), 1);
    assert_eq!(reaper.capacity(), 1);
    reaper
        .try_hand_over(R::guard(&counts, How::Succeed))
        .unwrap();
    let full = reaper
        .try_hand_over(R::guard(&counts, How::Succeed))
        .unwrap_err();
    assert!(matches!(full, HandOverError::Full(_)), "{full:?}");
    assert_eq!(reaper.queued(), 1);
    assert!(poll_once(&mut worker).is_pending());
    assert!(!worker.is_finished());
    // Run the executor: the worker makes room, the waiting hand-over gets in.
    smol::block_on(executor.run(bounded(async {
        reaper.hand_over(full.into_guard()).await.unwrap();
        reaper.shutdown();
        let stats = (&mut worker).await.unwrap();
        assert_eq!(stats.cleaned, 2);
    })));
    assert!(worker.is_finished());
    assert_eq!(counts.drops(), 2);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn hand_over_blocking_refuses_to_block_an_executor_thread() {
    install();
    type R = Res<19>;
    let counts = Counters::new();
    let (open, closed) = gate();
    smol::block_on(bounded(async {
        let (reaper, worker) = Reaper::spawn(1);
        reaper
            .hand_over(R::guard(&counts, How::Gate(closed)))
            .await
            .unwrap();
        eventually_async("the gated cleanup to start", || counts.started() == 1).await;
        reaper
            .hand_over(R::guard(&counts, How::Succeed))
            .await
            .unwrap(); // full now

        // A task on smol's global executor: blocking its thread could deadlock the
        // worker, which runs there too.
        let (r, c) = (reaper.clone(), counts.clone());
        let refused = smol::spawn(async move {
            r.hand_over_blocking(R::guard(&c, How::Succeed))
                .map_err(|e| {
                    (
                        e.to_string(),
                        matches!(e, HandOverError::WouldBlock(_)),
                        e.into_guard(),
                    )
                })
        })
        .await
        .unwrap_err();
        assert!(refused.1, "expected `WouldBlock`: {}", refused.0);
        assert!(refused.0.contains("deadlock"), "{}", refused.0);

        // On this thread (inside `block_on`, not an executor of the worker's) it
        // waits for room.
        let opener = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            drop(open);
        });
        reaper.hand_over_blocking(refused.2).unwrap();
        opener.join().unwrap();
        reaper.shutdown();
        assert_eq!(worker.await.unwrap().cleaned, 3);
    }));
    assert_eq!(counts.drops(), 3);
}

#[test]
fn hand_over_blocking_on_a_plain_thread_waits_for_room() {
    install();
    type R = Res<20>;
    let counts = Counters::new();
    let (open, closed) = gate();
    let pool = Pool::new(1);
    let (reaper, worker) = Reaper::spawn_on(&Smol::from(pool.executor.clone()), 1);
    reaper
        .hand_over_blocking(R::guard(&counts, How::Gate(closed)))
        .unwrap();
    eventually("the gated cleanup to start", || counts.started() == 1);
    reaper
        .hand_over_blocking(R::guard(&counts, How::Succeed))
        .unwrap(); // full now
    let opener = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        drop(open);
    });
    let started = Instant::now();
    reaper
        .hand_over_blocking(R::guard(&counts, How::Succeed))
        .unwrap(); // waits for the gate
    assert!(started.elapsed() >= Duration::from_millis(10));
    opener.join().unwrap();
    drop(reaper);
    assert_eq!(smol::block_on(bounded(worker)).unwrap().cleaned, 3);
    assert_eq!(counts.drops(), 3);
}

#[test]
fn reaper_drop_on_an_executor_thread_overflows_into_a_task() {
    install();
    type R = Res<13>;
    let counts = Counters::new();
    let (reaper, worker) = Reaper::spawn(1);
    let (r, c) = (reaper.clone(), counts.clone());
    // On smol's global executor thread: three drops without yielding; one queued,
    // two overflow tasks, and the drops return at once.
    smol::block_on(smol::spawn(async move {
        for _ in 0..3 {
            drop(ReaperDrop::new(R::guard(&c, How::Yield(1)), &r));
        }
        assert_eq!(c.started(), 0);
    }));
    eventually("all three cleaned up", || counts.finished() == 3);
    reaper.shutdown();
    let stats = smol::block_on(bounded(worker)).unwrap();
    assert_eq!(stats.cleaned, 3, "overflow went through the worker");

    // After shutdown a dropped value is cleaned up by a task of its own.
    drop(ReaperDrop::new(R::guard(&counts, How::Succeed), &reaper));
    eventually("the late one", || counts.finished() == 4);
    assert_eq!(counts.drops(), 4);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn a_stuck_worker_does_not_hang_a_dropping_thread() {
    install();
    type R = Res<18>;
    let counts = Counters::new();
    let (open, closed) = gate();
    let pool = Pool::new(1);
    let (reaper, worker) = Reaper::spawn_on(&Smol::from(pool.executor.clone()), 1);
    // One cleanup stuck behind the gate, one value queued: the queue is full.
    reaper
        .hand_over_blocking(R::guard(&counts, How::Gate(closed)))
        .unwrap();
    eventually("the first cleanup to start", || counts.started() == 1);
    reaper
        .hand_over_blocking(R::guard(&counts, How::Succeed))
        .unwrap();

    let limit = Duration::from_millis(50);
    let value = ReaperDrop::with_wait_limit(R::guard(&counts, How::Succeed), &reaper, limit);
    let started = Instant::now();
    thread::spawn(move || drop(value)).join().unwrap(); // a plain thread
    assert!(started.elapsed() >= limit);
    assert_eq!(counts.drops(), 0, "nothing lost: an overflow task holds it");

    drop(open);
    reaper.shutdown();
    eventually("all three cleaned up", || counts.finished() == 3);
    let stats = smol::block_on(bounded(worker)).unwrap();
    assert!(stats.cleaned >= 2, "{stats}");
    assert_eq!(counts.drops(), 3);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn a_cancelled_hand_over_reports_cancelled() {
    install();
    type R = Res<14>;
    let counts = Counters::new();
    let executor = Arc::new(Executor::new());
    let (reaper, worker) = Reaper::spawn_on(&Smol::from(executor.clone()), 1);
    reaper
        .try_hand_over(R::guard(&counts, How::Succeed))
        .unwrap();
    let mut waiting = Box::pin(reaper.hand_over(R::guard(&counts, How::Succeed)));
    assert!(poll_once(&mut waiting).is_pending()); // the queue is full
    drop(waiting);
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled]);
    assert_eq!(counts.drops(), 1);
    drop(reaper); // the last handle: the worker drains and stops
    assert_eq!(
        smol::block_on(executor.run(bounded(worker)))
            .unwrap()
            .cleaned,
        1
    );
    assert_eq!(counts.drops(), 2);
}

#[test]
fn reaper_dies_with_its_executor_and_reports_what_it_held() {
    install();
    type R = Res<15>;
    let counts = Counters::new();
    let executor = Arc::new(Executor::new());
    let (reaper, worker) = Reaper::spawn_on(&Smol::from(executor.clone()), 2);
    // Two taken by the worker (its limit), two more queued behind them.
    for _ in 0..2 {
        reaper
            .try_hand_over(R::guard(&counts, How::Pending))
            .unwrap();
        while executor.try_tick() {}
    }
    for _ in 0..2 {
        reaper
            .try_hand_over(R::guard(&counts, How::Pending))
            .unwrap();
    }
    while executor.try_tick() {}
    assert_eq!(counts.started(), 2); // two running, two queued
    assert_eq!(reaper.queued(), 2);
    // The reaper holds the executor too: dropping our `Arc` ends nothing yet.
    drop(executor);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
    // With the last reaper handle the executor goes, and with it the worker: the
    // running cleanups and the queued values are each reported.
    drop(reaper);
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled; 4]);
    assert_eq!(counts.drops(), 4);
    assert_eq!(counts.finished(), 0);
    let err = smol::block_on(worker).unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert!(err.to_string().contains("executor was dropped"), "{err}");
}

#[test]
fn a_panicking_policy_does_not_stop_the_worker() {
    install();
    type R = Res<16>; // the recording hook panics on its failures
    let counts = Counters::new();
    let (reaper, worker) = Reaper::spawn(2);
    for how in [How::Fail(1), How::Succeed, How::Fail(2), How::Yield(2)] {
        reaper.hand_over_blocking(R::guard(&counts, how)).unwrap();
    }
    reaper.shutdown();
    // The worker finished every cleanup, then passed the policy's panic on.
    let err = smol::block_on(bounded(worker)).unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    let panic = err.into_panic().unwrap();
    assert!(
        panic.message().unwrap().starts_with("policy panics on"),
        "{panic}"
    );
    assert_eq!((counts.started(), counts.drops()), (4, 4));
    assert_eq!(kinds::<R>(), [ReportKind::Failed, ReportKind::Failed]);
}

#[test]
fn a_reaper_with_no_capacity_is_refused() {
    type R = Res<17>;
    let panic = std::panic::catch_unwind(|| Reaper::<R>::spawn(0)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("Res<17>"), "{message}");
}

#[test]
fn reaper_stats_start_at_zero() {
    let stats = ReaperStats::default();
    assert_eq!((stats.cleaned, stats.failed, stats.panicked), (0, 0, 0));
}

// ---------------------------------------------------------------------------------
// Deadline
// ---------------------------------------------------------------------------------

#[test]
fn deadline_passes_the_result_through() {
    install();
    type R = Res<21>;
    let counts = Counters::new();
    let limit = Duration::from_secs(5);
    smol::block_on(async {
        async_drop_timeout(
            R::guard(&counts, How::Sleep(Duration::from_millis(1))),
            limit,
        )
        .await
        .unwrap();
        let err = async_drop_timeout(R::guard(&counts, How::Fail(4)), limit)
            .await
            .unwrap_err();
        assert!(!err.is_expired());
        assert_eq!(err.to_string(), "cleanup failed: res error 4");
        assert_eq!(err.into_failed(), Some(ResError(4)));
    });
    assert_eq!(counts.drops(), 2);
    assert!(kinds::<R>().is_empty());
}

async fn deadline_expires<const TAG: u32>() {
    install();
    let counts = Counters::new();
    let limit = Duration::from_millis(30);
    let started = Instant::now();
    let err = async_drop_timeout(Res::<TAG>::guard(&counts, How::Pending), limit)
        .await
        .unwrap_err();
    assert!(started.elapsed() >= limit);
    match &err {
        DeadlineError::Expired { type_name, after } => {
            assert_eq!(*type_name, std::any::type_name::<Res<TAG>>());
            assert_eq!(*after, limit);
        }
        other => panic!("expected expiry, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&format!("Res<{TAG}>")), "{message}");
    assert!(message.contains("30ms"), "{message}");
    // The cleanup was dropped before the error came back: the value is gone, once.
    assert_eq!(
        (counts.started(), counts.finished(), counts.drops()),
        (1, 0, 1)
    );
    // The typed error is the report: no second, `Cancelled`, report.
    assert!(
        kinds::<Res<TAG>>().is_empty(),
        "{:?}",
        reports::<Res<TAG>>()
    );
}

#[test]
fn deadline_expiry_is_a_typed_error_on_block_on() {
    smol::block_on(deadline_expires::<22>());
}

#[test]
fn deadline_expiry_is_a_typed_error_on_the_global_executor() {
    smol::block_on(smol::spawn(deadline_expires::<23>()));
}

#[test]
fn deadline_expiry_is_a_typed_error_on_a_local_executor() {
    let local = LocalExecutor::new();
    smol::block_on(local.run(local.spawn(deadline_expires::<24>())));
}

#[test]
fn deadline_expiry_is_a_typed_error_on_a_foreign_executor() {
    // smol's timer needs no smol executor: its reactor runs on its own.
    futures_executor::block_on(deadline_expires::<25>());
}

#[test]
fn dropping_a_deadline_future_reports_cancelled() {
    install();
    type R = Res<26>;
    let counts = Counters::new();
    let mut cleanup = Box::pin(async_drop_timeout(
        R::guard(&counts, How::Pending),
        Duration::from_secs(60),
    ));
    assert!(poll_once(&mut cleanup).is_pending());
    assert!(format!("{cleanup:?}").contains("Res<26>"));
    drop(cleanup);
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled]);
    assert_eq!(counts.drops(), 1);
}

#[test]
fn a_deadline_too_far_out_never_fires() {
    install();
    type R = Res<27>;
    let counts = Counters::new();
    smol::block_on(async_drop_timeout(
        R::guard(&counts, How::Yield(2)),
        Duration::MAX,
    ))
    .unwrap();
    assert_eq!(counts.finished(), 1);
}

// ---------------------------------------------------------------------------------
// Blocking from sync code
// ---------------------------------------------------------------------------------

#[test]
fn block_on_on_a_plain_thread() {
    install();
    type R = Res<30>;
    let counts = Counters::new();
    // The cleanup needs a timer: smol's reactor has one.
    block_on_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(2)))).unwrap();
    let failed = block_on_async_drop(R::guard(&counts, How::Fail(1))).unwrap_err();
    assert_eq!(failed.into_failed(), Some(ResError(1)));
    match block_on_async_drop(R::guard(&counts, How::Panic)).unwrap_err() {
        BlockingError::Panicked(p) => {
            assert_eq!(p.message(), Some("res 30 cleanup panicked"));
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(counts.drops(), 3);
    // The caller got every outcome: nothing reported.
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());

    // A wait that runs out: the cleanup goes on, on a helper thread.
    let slow = R::guard(&counts, How::Sleep(Duration::from_millis(300)));
    let started = Instant::now();
    let err = block_on_async_drop_timeout(slow, Duration::from_millis(20)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(20));
    match &err {
        BlockingError::TimedOut { type_name, after } => {
            assert!(type_name.ends_with("Res<30>"));
            assert_eq!(*after, Duration::from_millis(20));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.to_string().contains("goes on in the background"));
    // (The panicking cleanup never counted as finished.)
    eventually("the slow cleanup to finish", || counts.finished() == 3);
    eventually("the slow value to be dropped", || counts.drops() == 4);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn a_timed_out_blocking_cleanup_that_fails_later_is_reported() {
    install();
    type R = Res<31>;
    let counts = Counters::new();
    let (open, closed) = gate();
    let err = block_on_async_drop_timeout(R::guard(&counts, How::Gate(closed)), Duration::ZERO)
        .unwrap_err();
    assert!(err.is_timed_out(), "{err:?}");
    drop(open);
    eventually("the cleanup to finish", || counts.finished() == 1);
    assert!(kinds::<R>().is_empty());

    // One that fails after the caller stopped waiting: the policy hears of it.
    let (open, closed) = gate();
    let guard = AsyncDropGuard::new(FailsAfterGate { gate: closed });
    let err = block_on_async_drop_timeout(guard, Duration::from_millis(5)).unwrap_err();
    assert!(err.is_timed_out(), "{err:?}");
    drop(open);
    eventually("the failure report", || {
        kinds::<FailsAfterGate>() == [ReportKind::Failed]
    });
    assert_eq!(counts.drops(), 1);
}

/// Waits for its gate, then fails.
struct FailsAfterGate {
    gate: Receiver<()>,
}

impl AsyncDrop for FailsAfterGate {
    type Error = ResError;
    async fn async_drop_impl(self) -> Result<(), ResError> {
        let _ = self.gate.recv().await;
        Err(ResError(99))
    }
}

#[test]
fn block_on_inside_smol_block_on() {
    install();
    type R = Res<32>;
    let counts = Counters::new();
    smol::block_on(async {
        // A synchronous function called from async code, on `block_on`'s thread.
        block_on_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(2)))).unwrap();
        block_on_async_drop(R::guard(&counts, How::Yield(3))).unwrap();
    });
    assert_eq!((counts.finished(), counts.drops()), (2, 2));
    assert!(kinds::<R>().is_empty());
}

#[test]
fn block_on_in_a_task_of_the_global_executor() {
    install();
    type R = Res<33>;
    let counts = Counters::new();
    let c = counts.clone();
    smol::block_on(bounded(smol::spawn(async move {
        block_on_async_drop(R::guard(&c, How::Sleep(Duration::from_millis(2)))).unwrap();
        let e = block_on_async_drop(R::guard(&c, How::Fail(2))).unwrap_err();
        assert_eq!(e.into_failed(), Some(ResError(2)));
    })));
    assert_eq!((counts.finished(), counts.drops()), (2, 2));
    assert!(kinds::<R>().is_empty());
}

#[test]
fn block_on_in_a_local_executor_task_never_hangs() {
    install();
    type R = Res<34>;
    let counts = Counters::new();
    let local = LocalExecutor::new();
    let (open, closed) = gate();
    smol::block_on(local.run(bounded(async {
        // A cleanup that needs nothing from this thread finishes in place.
        block_on_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(2)))).unwrap();
        assert_eq!(counts.finished(), 1);

        // One that waits for a sibling task of this very executor cannot progress
        // while this thread blocks: the wait gives up with a typed error — no
        // panic, no hang — and the cleanup moves to a helper thread.
        let sibling = local.spawn(async move {
            Timer::after(Duration::from_millis(1)).await;
            drop(open); // opens the gate, once this executor runs again
        });
        let started = Instant::now();
        let err = block_on_async_drop_timeout(
            R::guard(&counts, How::Gate(closed)),
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(err.is_timed_out(), "{err:?}");
        assert!(started.elapsed() < PATIENCE);
        assert_eq!(counts.finished(), 1);
        // Once the executor runs again, the sibling opens the gate and the cleanup
        // finishes on its helper thread.
        sibling.await;
        eventually_async("the timed-out cleanup", || counts.finished() == 2).await;
    })));
    assert_eq!(counts.drops(), 2);
    assert!(kinds::<R>().is_empty());
}

// ---------------------------------------------------------------------------------
// smol's own resources
// ---------------------------------------------------------------------------------

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("asyncdrop-rt-smol-{}-{name}", std::process::id()))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn a_guarded_file_is_flushed_and_synced() {
    let path = temp_path("file");
    let data = pattern(300_000);
    smol::block_on(bounded(async {
        let mut file = AsyncDropGuard::new(smol::fs::File::create(&path).await.unwrap());
        for chunk in data.chunks(7_001) {
            file.write_all(chunk).await.unwrap();
        }
        // No flush by hand: the cleanup writes out what is still in flight.
        file.async_drop().await.unwrap();
    }));
    let back = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "every byte written must be read back");
}

#[test]
fn a_guarded_buf_writer_writes_out_its_buffer() {
    let path = temp_path("bufwriter");
    let data = pattern(50_000);
    smol::block_on(bounded(async {
        let file = smol::fs::File::create(&path).await.unwrap();
        let mut out = AsyncDropGuard::new(BufWriter::with_capacity(4096, file));
        for chunk in data.chunks(13) {
            out.write_all(chunk).await.unwrap();
        }
        out.async_drop().await.unwrap();
    }));
    let back = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(back == data, "every byte written must be read back");
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        // Make the drop slow, so that returning early would be caught.
        thread::sleep(Duration::from_millis(20));
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn task_cleanup_waits_for_the_task(
    spawn: impl FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>) -> smol::Task<()>,
) {
    let dropped = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(false));
    let (d, r) = (dropped.clone(), running.clone());
    let task = AsyncDropGuard::new(spawn(Box::pin(async move {
        let _local = SetOnDrop(d);
        r.store(true, Ordering::SeqCst);
        loop {
            Timer::after(Duration::from_millis(1)).await;
        }
    })));
    eventually_async("the task to run", || running.load(Ordering::SeqCst)).await;
    task.async_drop().await.unwrap();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the task's locals were dropped before the cleanup returned"
    );
}

#[test]
fn a_guarded_task_returns_after_the_task_is_gone_global_executor() {
    smol::block_on(bounded(task_cleanup_waits_for_the_task(smol::spawn)));
}

#[test]
fn a_guarded_task_returns_after_the_task_is_gone_thread_pool() {
    let pool = Pool::new(2);
    let executor = pool.executor.clone();
    smol::block_on(bounded(task_cleanup_waits_for_the_task(move |f| {
        executor.spawn(f)
    })));
}

#[test]
fn a_guarded_task_returns_after_the_task_is_gone_local_executor() {
    let local = std::rc::Rc::new(LocalExecutor::new());
    let l = local.clone();
    smol::block_on(local.run(bounded(task_cleanup_waits_for_the_task(move |f| {
        l.spawn(f)
    }))));
}

#[test]
fn a_guarded_task_reports_a_panic_of_the_task() {
    smol::block_on(bounded(async {
        let task = AsyncDropGuard::new(smol::spawn(async { panic!("task panicked") }));
        eventually_async("the task to finish", || task.is_finished()).await;
        let err = task.async_drop().await.unwrap_err();
        assert_eq!(err.message(), Some("task panicked"));
        assert_eq!(err.to_string(), "a task panicked: task panicked");

        // A finished task is fine.
        let task = AsyncDropGuard::new(smol::spawn(async { 5 }));
        eventually_async("the task to finish", || task.is_finished()).await;
        task.async_drop().await.unwrap();
    }));
}

#[cfg(unix)]
#[test]
fn a_guarded_child_process_is_killed_and_reaped() {
    smol::block_on(bounded(async {
        let child = smol::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut child = AsyncDropGuard::new(child);
        assert!(child.try_status().unwrap().is_none(), "running");
        let started = Instant::now();
        child.async_drop().await.unwrap();
        assert!(started.elapsed() < PATIENCE);
        // Killed and reaped: no such process any more (not even a zombie).
        let alive = std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!alive, "process {pid} is still there");
        #[cfg(target_os = "linux")]
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());

        // One that already exited is just reaped.
        let mut done = AsyncDropGuard::new(smol::process::Command::new("true").spawn().unwrap());
        let _ = done.status().await.unwrap();
        done.async_drop().await.unwrap();
    }));
}

#[test]
fn a_guarded_tcp_stream_shutdown_is_seen_as_eof() {
    smol::block_on(bounded(async {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();

        // `Async<TcpStream>`
        let mut client = AsyncDropGuard::new(Async::<TcpStream>::connect(addr).await.unwrap());
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"last words").await.unwrap();
        client.async_drop().await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");

        // `smol::net::TcpStream`, whose clone sees the shutdown too.
        let mut client = AsyncDropGuard::new(smol::net::TcpStream::connect(addr).await.unwrap());
        let mut clone = client.clone();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"net").await.unwrap();
        client.async_drop().await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"net");
        assert_eq!(
            clone.read(&mut [0; 4]).await.unwrap(),
            0,
            "read side shut down"
        );
    }));
}

#[cfg(unix)]
#[test]
fn a_guarded_unix_stream_shutdown_is_seen_as_eof() {
    smol::block_on(bounded(async {
        let (a, mut b) = Async::<std::os::unix::net::UnixStream>::pair().unwrap();
        let mut a = AsyncDropGuard::new(a);
        a.write_all(b"bye").await.unwrap();
        a.async_drop().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");

        let (a, mut b) = smol::net::unix::UnixStream::pair().unwrap();
        let mut a = AsyncDropGuard::new(a);
        a.write_all(b"bye").await.unwrap();
        a.async_drop().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
    }));
}

// ---------------------------------------------------------------------------------
// End to end over loopback sockets
// ---------------------------------------------------------------------------------

const CLIENTS: usize = 200;

/// Counters drops of the clients.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A client connection whose cleanup says goodbye, optionally waits for the
/// server's "ack", then shuts the connection down (the cleanup of the guarded
/// `Async<TcpStream>` inside).
struct Client {
    stream: BufReader<Async<TcpStream>>,
    wait_for_ack: bool,
    _drops: DropCount,
}

impl AsyncDrop for Client {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.stream.get_mut().write_all(b"goodbye\n").await?;
        if self.wait_for_ack {
            let mut ack = String::new();
            self.stream.read_line(&mut ack).await?;
        }
        self.stream.into_inner().async_drop_impl().await
    }
}

#[derive(Default)]
struct ServerCounts {
    accepted: AtomicUsize,
    goodbyes: AtomicUsize,
    eofs: AtomicUsize,
}

/// Accepts `n` connections on `executor`; on each counts "goodbye" lines and
/// end-of-file. A stalling server reads nothing until `stall` is opened.
fn serve(
    executor: &Arc<Executor<'static>>,
    listener: Async<TcpListener>,
    n: usize,
    counts: Arc<ServerCounts>,
    stall: Option<Receiver<()>>,
) {
    let ex = executor.clone();
    executor
        .spawn(async move {
            for _ in 0..n {
                let (stream, _) = listener.accept().await.unwrap();
                counts.accepted.fetch_add(1, Ordering::SeqCst);
                let (counts, stall) = (counts.clone(), stall.clone());
                ex.spawn(async move {
                    if let Some(stall) = stall {
                        let _ = stall.recv().await; // never acks, reads nothing meanwhile
                    }
                    let mut lines = BufReader::new(stream);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match lines.read_line(&mut line).await {
                            Ok(0) | Err(_) => {
                                counts.eofs.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            Ok(_) if line == "goodbye\n" => {
                                counts.goodbyes.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(_) => {}
                        }
                    }
                })
                .detach();
            }
        })
        .detach();
}

async fn connect_all(
    addr: SocketAddr,
    wait_for_ack: bool,
    drops: &Arc<AtomicUsize>,
) -> AsyncDropGuard<AsyncDropVec<Client>> {
    let mut clients = AsyncDropVec::new();
    for _ in 0..CLIENTS {
        let stream = Async::<TcpStream>::connect(addr).await.unwrap();
        clients.push(AsyncDropGuard::new(Client {
            stream: BufReader::new(stream),
            wait_for_ack,
            _drops: DropCount(drops.clone()),
        }));
    }
    clients
}

fn two_hundred_clients_say_goodbye(server_pool: &Pool) {
    install();
    smol::block_on(bounded(async {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let server = Arc::new(ServerCounts::default());
        serve(
            &server_pool.executor,
            listener,
            CLIENTS,
            server.clone(),
            None,
        );
        let drops = Arc::new(AtomicUsize::new(0));
        let clients = connect_all(addr, false, &drops).await;
        assert_eq!(clients.len(), CLIENTS);

        // All 200 cleaned up together, concurrently, in this task.
        clients.async_drop().await.unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), CLIENTS);

        eventually_async("200 goodbyes and 200 EOFs", || {
            server.goodbyes.load(Ordering::SeqCst) == CLIENTS
                && server.eofs.load(Ordering::SeqCst) == CLIENTS
        })
        .await;
        assert_eq!(server.accepted.load(Ordering::SeqCst), CLIENTS);
    }));
    assert!(kinds::<Client>().is_empty(), "{:?}", reports::<Client>());
}

#[test]
fn end_to_end_two_hundred_clients_say_goodbye() {
    two_hundred_clients_say_goodbye(&Pool::new(2));
}

#[test]
fn end_to_end_a_stalled_server_hits_the_deadline() {
    install();
    let pool = Pool::new(1);
    smol::block_on(bounded(async {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let server = Arc::new(ServerCounts::default());
        let (unstall, stall) = gate();
        serve(
            &pool.executor,
            listener,
            CLIENTS,
            server.clone(),
            Some(stall),
        );
        let drops = Arc::new(AtomicUsize::new(0));
        let clients = connect_all(addr, true, &drops).await;

        // The server never acks: every cleanup waits, and the deadline runs out.
        let limit = Duration::from_millis(300);
        let started = Instant::now();
        let err = async_drop_timeout(clients, limit).await.unwrap_err();
        assert!(started.elapsed() >= limit);
        match &err {
            DeadlineError::Expired { type_name, after } => {
                assert!(type_name.contains("AsyncDropVec"), "{type_name}");
                assert!(type_name.contains("Client"), "{type_name}");
                assert_eq!(*after, limit);
            }
            other => panic!("expected expiry, got {other:?}"),
        }
        // Every client was dropped (its socket closed) when the deadline hit.
        assert_eq!(drops.load(Ordering::SeqCst), CLIENTS);
        eventually_async("every connection accepted", || {
            server.accepted.load(Ordering::SeqCst) == CLIENTS
        })
        .await;

        // The server wakes up and finds every goodbye, then the closed connection.
        drop(unstall);
        eventually_async("200 goodbyes and 200 EOFs", || {
            server.goodbyes.load(Ordering::SeqCst) == CLIENTS
                && server.eofs.load(Ordering::SeqCst) == CLIENTS
        })
        .await;
    }));
    // The deadline's typed error was the report: no `Cancelled` reports.
    assert!(
        kinds::<AsyncDropVec<Client>>().is_empty(),
        "{:?}",
        reports::<AsyncDropVec<Client>>()
    );
}
