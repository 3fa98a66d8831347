//! The tokio adapter on real tokio runtimes, current-thread and multi-thread:
//! background cleanup, the cleanup worker, deadlines, blocking from sync code,
//! tokio's own resources, and end-to-end cleanup over loopback sockets.
//!
//! Reports are recorded by one process-wide policy hook. Tests run in parallel and
//! reports are made on runtime threads, so each test uses its own resource type
//! (`Res<TAG>` with a tag of its own) and looks only at the reports naming it.
#![cfg(feature = "tokio")]

mod common;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::rt::tokio::{
    async_drop_timeout, block_on_async_drop, block_on_async_drop_timeout, spawn_async_drop,
    spawn_async_drop_on, BackgroundError, BlockingError, CleanupHandle, DeadlineError,
    HandOverError, Reaper, ReaperDrop, ReaperStats, SpawnOnDrop,
};
use asyncdrop::{AsyncDrop, AsyncDropGuard, ReportKind};
use common::rt::{eventually, install_recording_hook, kinds, reports, ResError, Waits, PATIENCE};
use common::Counters;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

// ---------------------------------------------------------------------------------
// Recording reports
// ---------------------------------------------------------------------------------

/// Installs the recording hook (every test calls this first).
fn install() {
    install_recording_hook(&[std::any::type_name::<Res<16>>()]);
}

/// As [`eventually`], in async code on a tokio runtime (lets the runtime run).
async fn eventually_async(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Bounds a whole test body: a hang becomes a failure.
async fn bounded<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(15), fut)
        .await
        .expect("the test did not finish within 15 s")
}

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    Pin::new(fut).poll(&mut cx)
}

// ---------------------------------------------------------------------------------
// A test resource
// ---------------------------------------------------------------------------------

/// What a `Res` does when cleaned up.
type How = common::rt::How<Arc<Semaphore>>;

/// This runtime's waits, for the shared cleanup of `Res`.
struct Tokio;

impl Waits for Tokio {
    type Gate = Arc<Semaphore>;
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
    async fn pass(gate: Arc<Semaphore>) {
        let _ = gate.acquire().await;
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
        common::rt::cleanup::<Tokio>(&self.counts, self.how.clone(), TAG).await
    }
}

// ---------------------------------------------------------------------------------
// Compile-time facts
// ---------------------------------------------------------------------------------

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_unpin<T: Unpin>() {}

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
    assert_send::<asyncdrop::rt::tokio::ReaperWorker>();
    assert_sync::<asyncdrop::rt::tokio::ReaperWorker>();
    assert_unpin::<asyncdrop::rt::tokio::ReaperWorker>();
    assert_send::<asyncdrop::rt::tokio::NoRuntime<R>>();
    // Every error boxes into `Box<dyn Error + Send + Sync>`.
    fn boxes<E: std::error::Error + Send + Sync + 'static>() {}
    boxes::<BackgroundError<ResError>>();
    boxes::<BlockingError<ResError>>();
    boxes::<DeadlineError<ResError>>();
    boxes::<HandOverError<R>>();
    boxes::<asyncdrop::rt::tokio::NoRuntime<R>>();
    boxes::<asyncdrop::rt::CleanupPanic>();
}

/// The futures are `Send` in generic code: they can be spawned.
#[allow(dead_code, reason = "only type-checked")]
fn futures_are_send_in_generic_code<T: AsyncDrop + 'static>(
    a: AsyncDropGuard<T>,
    b: AsyncDropGuard<T>,
    reaper: Reaper<T>,
) where
    T::Error: std::fmt::Debug,
{
    tokio::spawn(async_drop_timeout(a, Duration::from_secs(1)));
    tokio::spawn(async move {
        let _ = reaper.hand_over(b).await;
    });
}

// ---------------------------------------------------------------------------------
// Background cleanup
// ---------------------------------------------------------------------------------

async fn handle_gets_every_outcome<const TAG: u32>() {
    install();
    let counts = Counters::new();
    let ok = spawn_async_drop(Res::<TAG>::guard(&counts, How::Yield(3))).unwrap();
    let failed = spawn_async_drop(Res::<TAG>::guard(&counts, How::Fail(7))).unwrap();
    let panicked = spawn_async_drop(Res::<TAG>::guard(&counts, How::Panic)).unwrap();
    assert!(ok.type_name().ends_with(&format!("Res<{TAG}>")));

    assert!(ok.await.is_ok());
    match failed.await {
        Err(BackgroundError::Failed(e)) => assert_eq!(e, ResError(7)),
        other => panic!("expected a failure, got {other:?}"),
    }
    match panicked.await {
        Err(BackgroundError::Panicked(p)) => {
            assert_eq!(p.message(), Some(&*format!("res {TAG} cleanup panicked")));
            assert!(p.type_name().ends_with(&format!("Res<{TAG}>")));
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(counts.started(), 3);
    assert_eq!(counts.drops(), 3);
    // The awaiting task received every outcome: the policy heard nothing.
    assert!(
        kinds::<Res<TAG>>().is_empty(),
        "{:?}",
        reports::<Res<TAG>>()
    );
}

#[tokio::test]
async fn spawned_cleanup_result_goes_to_the_awaiting_handle_current_thread() {
    handle_gets_every_outcome::<1>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_cleanup_result_goes_to_the_awaiting_handle_multi_thread() {
    handle_gets_every_outcome::<2>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_failures_and_panics_go_to_the_policy() {
    install();
    type R = Res<3>;
    let counts = Counters::new();
    // Dropped while the cleanup runs: the task reports.
    drop(spawn_async_drop(R::guard(&counts, How::Fail(9))).unwrap());
    drop(spawn_async_drop(R::guard(&counts, How::Panic)).unwrap());
    eventually_async("two reports from the tasks", || reports::<R>().len() == 2).await;

    // Dropped after the cleanup finished, never awaited: the dropper reports.
    let late = spawn_async_drop(R::guard(&counts, How::Fail(10))).unwrap();
    eventually_async("the cleanup to finish", || late.is_finished()).await;
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
fn spawn_outside_a_runtime_hands_the_guard_back() {
    install();
    type R = Res<4>;
    let counts = Counters::new();
    let err = spawn_async_drop(R::guard(&counts, How::Succeed)).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no tokio runtime"), "{message}");
    assert!(message.contains("Res<4>"), "{message}");
    assert!(format!("{err:?}").contains("Res<4>"));
    // Nothing happened to the value; it can still be cleaned up.
    assert_eq!((counts.started(), counts.drops()), (0, 0));
    block_on_async_drop(err.into_guard()).unwrap();
    assert_eq!((counts.finished(), counts.drops()), (1, 1));
    assert!(kinds::<R>().is_empty());
}

#[test]
fn runtime_shutdown_reports_pending_cleanups_as_cancelled_current_thread() {
    install();
    type R = Res<5>;
    let counts = Counters::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // One cleanup that started and waits forever, one that never got to run.
    let started = spawn_async_drop_on(rt.handle(), R::guard(&counts, How::Pending));
    rt.block_on(tokio::task::yield_now()); // runs it up to its `pending()`
    let never_ran = spawn_async_drop_on(rt.handle(), R::guard(&counts, How::Succeed));
    assert_eq!(counts.started(), 1);
    drop(rt); // drops both tasks, on this thread

    assert_eq!(kinds::<R>(), [ReportKind::Cancelled, ReportKind::Cancelled]);
    assert_eq!(counts.drops(), 2);
    assert_eq!(counts.finished(), 0);
    for handle in [started, never_ran] {
        match futures_executor::block_on(handle) {
            Err(BackgroundError::Cancelled { type_name }) => assert!(type_name.ends_with("Res<5>")),
            other => panic!("expected a cancellation, got {other:?}"),
        }
    }
}

#[test]
fn runtime_shutdown_reports_pending_cleanups_as_cancelled_multi_thread() {
    install();
    type R = Res<6>;
    let counts = Counters::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| spawn_async_drop_on(rt.handle(), R::guard(&counts, How::Pending)))
        .collect();
    eventually("the cleanups to start", || counts.started() == 4);
    rt.shutdown_timeout(Duration::from_secs(5));

    eventually("four cancellation reports", || kinds::<R>().len() == 4);
    assert!(kinds::<R>().iter().all(|k| *k == ReportKind::Cancelled));
    assert_eq!(counts.drops(), 4);
    for handle in handles {
        let result = futures_executor::block_on(handle);
        assert!(matches!(result, Err(BackgroundError::Cancelled { .. })));
    }
}

#[tokio::test]
async fn spawn_on_drop_spawns_on_the_current_runtime() {
    install();
    type R = Res<7>;
    let counts = Counters::new();
    let value = SpawnOnDrop::new(R::guard(&counts, How::Yield(2)));
    assert!(SpawnOnDrop::runtime(&value).is_some());
    assert!(matches!(value.how, How::Yield(2))); // derefs to the value
    drop(value);
    assert_eq!(counts.started(), 0); // spawned, not run in place
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
    assert_eq!((counts.finished(), counts.drops()), (4, 4));
    assert_eq!(kinds::<R>().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_on_drop_on_a_plain_thread_uses_the_captured_runtime() {
    install();
    type R = Res<8>;
    let counts = Counters::new();
    let value = SpawnOnDrop::new(R::guard(&counts, How::Sleep(Duration::from_millis(1))));
    std::thread::spawn(move || drop(value)).join().unwrap();
    eventually_async("the spawned cleanup", || counts.finished() == 1).await;
    assert_eq!(counts.drops(), 1);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn spawn_on_drop_without_any_runtime_reports_and_drops() {
    install();
    type R = Res<9>;
    let counts = Counters::new();
    let value = SpawnOnDrop::new(R::guard(&counts, How::Succeed));
    assert!(SpawnOnDrop::runtime(&value).is_none());
    drop(value);
    let seen = reports::<R>();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].kind, ReportKind::Failed);
    assert!(seen[0]
        .detail
        .as_ref()
        .unwrap()
        .contains("no tokio runtime"));
    assert_eq!((counts.started(), counts.drops()), (0, 1));

    let value = SpawnOnDrop::new(R::guard(&counts, How::Succeed));
    let err = SpawnOnDrop::spawn(value).unwrap_err();
    block_on_async_drop(err.into_guard()).unwrap();
    assert_eq!(counts.drops(), 2);
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
    let gate = Arc::new(Semaphore::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (reaper, worker) = Reaper::<R>::spawn_on(rt.handle(), CAPACITY);

    let producers: Vec<_> = (0..THREADS)
        .map(|_| {
            let reaper = reaper.clone();
            let counts = counts.clone();
            let gate = gate.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // Mostly instant cleanups; the first ones wait behind the gate.
                    let how = if i < CAPACITY {
                        How::Gate(gate.clone())
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
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        counts.started(),
        CAPACITY,
        "the worker must not run more at once"
    );
    assert_eq!(reaper.queued(), CAPACITY);
    assert_eq!(counts.drops(), 0);
    gate.close(); // open

    for p in producers {
        p.join().unwrap();
    }
    reaper.shutdown();
    let stats = rt.block_on(worker).unwrap();
    let n = THREADS * PER_THREAD;
    assert_eq!(stats.cleaned, n as u64, "{stats}");
    assert_eq!(stats.total(), n as u64);
    assert_eq!(counts.started(), n);
    assert_eq!(counts.finished(), n);
    assert_eq!(counts.drops(), n, "every value dropped exactly once");
    assert!(counts.max_in_flight.load(Ordering::SeqCst) <= CAPACITY);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaper_counts_and_reports_failures_and_panics() {
    install();
    type R = Res<11>;
    let counts = Counters::new();
    let (reaper, worker) = Reaper::spawn(4);
    for how in [How::Succeed, How::Fail(5), How::Panic, How::Yield(3)] {
        reaper.hand_over(R::guard(&counts, how)).await.unwrap();
    }
    assert!(reaper.shutdown());
    let stats = bounded(worker).await.unwrap();
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
}

#[tokio::test]
async fn reaper_back_pressure_on_a_current_thread_runtime() {
    install();
    type R = Res<12>;
    let counts = Counters::new();
    let (reaper, worker) = Reaper::spawn(1);
    assert_eq!(reaper.capacity(), 1);
    reaper
        .try_hand_over(R::guard(&counts, How::Succeed))
        .unwrap();
    // The worker has not run yet (this task did not yield): the queue is full.
    let full = reaper
        .try_hand_over(R::guard(&counts, How::Succeed))
        .unwrap_err();
    assert!(matches!(full, HandOverError::Full(_)), "{full:?}");
    // Blocking for room here would deadlock: refused, guard handed back.
    let refused = reaper.hand_over_blocking(full.into_guard()).unwrap_err();
    assert!(
        matches!(refused, HandOverError::WouldBlock(_)),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("deadlock"));
    // Waiting asynchronously is fine.
    reaper.hand_over(refused.into_guard()).await.unwrap();
    reaper.shutdown();
    let stats = bounded(worker).await.unwrap();
    assert_eq!(stats.cleaned, 2);
    assert_eq!(counts.drops(), 2);
    assert!(kinds::<R>().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_over_blocking_on_a_multi_thread_worker_waits_in_place() {
    install();
    type R = Res<19>;
    let counts = Counters::new();
    let gate = Arc::new(Semaphore::new(0));
    let (reaper, worker) = Reaper::spawn(1);
    reaper
        .hand_over(R::guard(&counts, How::Gate(gate.clone())))
        .await
        .unwrap();
    eventually_async("the gated cleanup to start", || counts.started() == 1).await;
    reaper
        .hand_over(R::guard(&counts, How::Succeed))
        .await
        .unwrap(); // full now

    let opener = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        gate.close();
    });
    let r = reaper.clone();
    let c = counts.clone();
    // Blocks a worker thread (inside `block_in_place`) until there is room.
    bounded(tokio::spawn(async move {
        r.hand_over_blocking(R::guard(&c, How::Succeed)).unwrap();
    }))
    .await
    .unwrap();
    opener.await.unwrap();
    reaper.shutdown();
    assert_eq!(bounded(worker).await.unwrap().cleaned, 3);
    assert_eq!(counts.drops(), 3);
}

#[tokio::test]
async fn reaper_drop_on_a_runtime_thread_overflows_into_a_task() {
    install();
    type R = Res<13>;
    let counts = Counters::new();
    let (reaper, worker) = Reaper::spawn(1);
    // Three drops without yielding: one queued, two overflow tasks.
    for _ in 0..3 {
        drop(ReaperDrop::new(R::guard(&counts, How::Yield(1)), &reaper));
    }
    assert_eq!(counts.started(), 0);
    bounded(eventually_async("all three cleaned up", || {
        counts.finished() == 3
    }))
    .await;
    reaper.shutdown();
    let stats = bounded(worker).await.unwrap();
    assert_eq!(stats.cleaned, 3, "overflow went through the worker");

    // After shutdown a dropped value is cleaned up by a task of its own.
    drop(ReaperDrop::new(R::guard(&counts, How::Succeed), &reaper));
    bounded(eventually_async("the late one", || counts.finished() == 4)).await;
    assert_eq!(counts.drops(), 4);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn a_stuck_worker_does_not_hang_a_dropping_thread() {
    install();
    type R = Res<18>;
    let counts = Counters::new();
    let gate = Arc::new(Semaphore::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (reaper, worker) = Reaper::spawn_on(rt.handle(), 1);
    // One cleanup stuck behind the gate, one value queued: the queue is full.
    reaper
        .hand_over_blocking(R::guard(&counts, How::Gate(gate.clone())))
        .unwrap();
    eventually("the first cleanup to start", || counts.started() == 1);
    reaper
        .hand_over_blocking(R::guard(&counts, How::Succeed))
        .unwrap();

    let limit = Duration::from_millis(50);
    let value = ReaperDrop::with_wait_limit(R::guard(&counts, How::Succeed), &reaper, limit);
    let started = Instant::now();
    std::thread::spawn(move || drop(value)).join().unwrap(); // a plain thread
    assert!(started.elapsed() >= limit);
    assert_eq!(counts.drops(), 0, "nothing lost: an overflow task holds it");

    gate.close();
    reaper.shutdown();
    eventually("all three cleaned up", || counts.finished() == 3);
    let stats = rt.block_on(worker).unwrap();
    assert!(stats.cleaned >= 2, "{stats}");
    assert_eq!(counts.drops(), 3);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[tokio::test]
async fn a_cancelled_hand_over_reports_cancelled() {
    install();
    type R = Res<14>;
    let counts = Counters::new();
    let (reaper, worker) = Reaper::spawn(1);
    reaper
        .try_hand_over(R::guard(&counts, How::Succeed))
        .unwrap();
    let mut waiting = Box::pin(reaper.hand_over(R::guard(&counts, How::Succeed)));
    assert!(poll_once(&mut waiting).is_pending()); // the queue is full
    drop(waiting);
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled]);
    assert_eq!(counts.drops(), 1);
    drop(reaper); // the last handle: the worker drains and stops
    assert_eq!(bounded(worker).await.unwrap().cleaned, 1);
    assert_eq!(counts.drops(), 2);
}

#[test]
fn reaper_dies_with_its_runtime_and_reports_what_it_held() {
    install();
    type R = Res<15>;
    let counts = Counters::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (reaper, worker) = Reaper::spawn_on(rt.handle(), 2);
    rt.block_on(async {
        for _ in 0..4 {
            reaper
                .hand_over(R::guard(&counts, How::Pending))
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(counts.started(), 2); // two running, two queued
    drop(rt);
    assert_eq!(
        kinds::<R>().len(),
        2,
        "the running ones: {:?}",
        reports::<R>()
    );
    drop(reaper); // the queue goes with the last handle
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled; 4]);
    assert_eq!(counts.drops(), 4);
    let joined = futures_executor::block_on(worker);
    assert!(joined.unwrap_err().is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_policy_does_not_stop_the_worker() {
    install();
    type R = Res<16>; // the recording hook panics on its failures
    let counts = Counters::new();
    let (reaper, worker) = Reaper::spawn(2);
    for how in [How::Fail(1), How::Succeed, How::Fail(2), How::Yield(2)] {
        reaper.hand_over(R::guard(&counts, how)).await.unwrap();
    }
    reaper.shutdown();
    // The worker finished every cleanup, then passed the policy's panic on.
    let joined = bounded(worker).await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!((counts.started(), counts.drops()), (4, 4));
    assert_eq!(kinds::<R>(), [ReportKind::Failed, ReportKind::Failed]);
}

#[test]
fn spawn_on_drop_dropped_by_a_shutting_down_runtime_reports_cancelled() {
    install();
    type R = Res<17>;
    let counts = Counters::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A task that owns a `SpawnOnDrop` and never finishes (a request handler).
    let c = counts.clone();
    let owner = rt.spawn(async move {
        let _value = SpawnOnDrop::new(R::guard(&c, How::Succeed));
        std::future::pending::<()>().await;
    });
    rt.block_on(tokio::task::yield_now());
    // Shutdown drops the task; the value's drop spawns onto the closing runtime,
    // which drops that task at once: reported, not lost.
    drop(rt);
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled]);
    assert_eq!((counts.started(), counts.drops()), (0, 1));
    assert!(futures_executor::block_on(owner)
        .unwrap_err()
        .is_cancelled());
}

#[test]
fn reaper_stats_start_at_zero() {
    let stats = ReaperStats::default();
    assert_eq!((stats.cleaned, stats.failed, stats.panicked), (0, 0, 0));
}

// ---------------------------------------------------------------------------------
// Deadline
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn deadline_passes_the_result_through() {
    install();
    type R = Res<20>;
    let counts = Counters::new();
    let limit = Duration::from_secs(5);
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
    assert_eq!(counts.drops(), 2);
    assert!(kinds::<R>().is_empty());
}

async fn deadline_expires<const TAG: u32>() {
    install();
    let counts = Counters::new();
    let limit = Duration::from_millis(30);
    let err = async_drop_timeout(Res::<TAG>::guard(&counts, How::Pending), limit)
        .await
        .unwrap_err();
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

#[tokio::test]
async fn deadline_expiry_is_a_typed_error_current_thread() {
    deadline_expires::<21>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_expiry_is_a_typed_error_multi_thread() {
    deadline_expires::<22>().await;
}

#[tokio::test]
async fn dropping_a_deadline_future_reports_cancelled() {
    install();
    type R = Res<23>;
    let counts = Counters::new();
    let mut cleanup = Box::pin(async_drop_timeout(
        R::guard(&counts, How::Pending),
        Duration::from_secs(60),
    ));
    assert!(poll_once(&mut cleanup).is_pending());
    assert!(format!("{cleanup:?}").contains("Res<23>"));
    drop(cleanup);
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled]);
    assert_eq!(counts.drops(), 1);
}

#[test]
fn deadline_outside_a_runtime_panics_naming_the_type() {
    install();
    type R = Res<24>;
    let counts = Counters::new();
    let guard = R::guard(&counts, How::Succeed);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        drop(async_drop_timeout(guard, Duration::from_secs(1)));
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("outside a tokio runtime"), "{message}");
    assert!(message.contains("Res<24>"), "{message}");
    assert_eq!(counts.drops(), 1);
}

// ---------------------------------------------------------------------------------
// Blocking from sync code
// ---------------------------------------------------------------------------------

#[test]
fn block_on_outside_any_runtime_uses_a_temporary_runtime() {
    install();
    type R = Res<30>;
    let counts = Counters::new();
    // The cleanup needs a timer: the temporary runtime has one.
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

    // A wait that runs out: the cleanup goes on (here: on a helper thread).
    let slow = R::guard(&counts, How::Sleep(Duration::from_millis(300)));
    let err = block_on_async_drop_timeout(slow, Duration::from_millis(20)).unwrap_err();
    assert!(err.is_timed_out(), "{err:?}");
    assert!(err.to_string().contains("goes on in the background"));
    // (The panicking cleanup never counted as finished.)
    eventually("the slow cleanup to finish", || counts.finished() == 3);
    eventually("the slow value to be dropped", || counts.drops() == 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_on_on_a_multi_thread_runtime() {
    install();
    type R = Res<31>;
    let counts = Counters::new();
    // In the runtime's `block_on` thread (the test body) ...
    block_on_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(2)))).unwrap();
    // ... and on a worker thread.
    let c = counts.clone();
    tokio::spawn(async move {
        block_on_async_drop(R::guard(&c, How::Sleep(Duration::from_millis(2)))).unwrap();
        let e = block_on_async_drop(R::guard(&c, How::Fail(2))).unwrap_err();
        assert_eq!(e.into_failed(), Some(ResError(2)));
    })
    .await
    .unwrap();
    assert_eq!((counts.finished(), counts.drops()), (3, 3));
    assert!(kinds::<R>().is_empty());
}

#[tokio::test]
async fn block_on_on_a_current_thread_runtime() {
    install();
    type R = Res<32>;
    let counts = Counters::new();
    // A cleanup that needs nothing from the blocked runtime finishes on the helper
    // thread.
    block_on_async_drop(R::guard(&counts, How::Yield(3))).unwrap();
    assert_eq!(counts.finished(), 1);

    // One that needs the runtime's timer cannot progress while the runtime's only
    // thread blocks: the wait gives up with a typed error, and no panic, no hang.
    let slow = R::guard(&counts, How::Sleep(Duration::from_millis(1)));
    let err = block_on_async_drop_timeout(slow, Duration::from_millis(100)).unwrap_err();
    match &err {
        BlockingError::TimedOut { type_name, after } => {
            assert!(type_name.ends_with("Res<32>"));
            assert_eq!(*after, Duration::from_millis(100));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(counts.finished(), 1);
    // Once the runtime runs again, the cleanup finishes.
    bounded(eventually_async("the timed-out cleanup", || {
        counts.finished() == 2
    }))
    .await;
    assert_eq!(counts.drops(), 2);
    assert!(kinds::<R>().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_on_inside_a_local_set_falls_back_to_a_helper_thread() {
    install();
    type R = Res<33>;
    let counts = Counters::new();
    let local = tokio::task::LocalSet::new();
    let c = counts.clone();
    local
        .run_until(async move {
            block_on_async_drop(R::guard(&c, How::Sleep(Duration::from_millis(2)))).unwrap();
        })
        .await;
    assert_eq!((counts.finished(), counts.drops()), (1, 1));
}

// ---------------------------------------------------------------------------------
// tokio's own resources
// ---------------------------------------------------------------------------------

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("asyncdrop-rt-tokio-{}-{name}", std::process::id()))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_file_is_flushed_and_synced() {
    let path = temp_path("file");
    let data = pattern(300_000);
    let mut file = AsyncDropGuard::new(tokio::fs::File::create(&path).await.unwrap());
    for chunk in data.chunks(7_001) {
        file.write_all(chunk).await.unwrap();
    }
    file.async_drop().await.unwrap();
    let back = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "every byte written must be read back");
}

#[tokio::test]
async fn a_guarded_buf_writer_writes_out_its_buffer() {
    let path = temp_path("bufwriter");
    let data = pattern(50_000);
    let file = tokio::fs::File::create(&path).await.unwrap();
    let mut out = AsyncDropGuard::new(BufWriter::with_capacity(4096, file));
    for chunk in data.chunks(13) {
        out.write_all(chunk).await.unwrap();
    }
    out.async_drop().await.unwrap();
    let back = tokio::fs::read(&path).await.unwrap();
    tokio::fs::remove_file(&path).await.unwrap();
    assert!(back == data, "every byte written must be read back");
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        // Make the drop slow, so that returning early would be caught.
        std::thread::sleep(Duration::from_millis(20));
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn join_handle_waits_for_the_task() {
    let dropped = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(false));
    let (d, r) = (dropped.clone(), running.clone());
    let task = AsyncDropGuard::new(tokio::spawn(async move {
        let _local = SetOnDrop(d);
        r.store(true, Ordering::SeqCst);
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }));
    eventually_async("the task to run", || running.load(Ordering::SeqCst)).await;
    task.async_drop().await.unwrap();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the task's locals were dropped before the cleanup returned"
    );
}

#[tokio::test]
async fn a_guarded_join_handle_returns_after_the_task_is_gone_current_thread() {
    join_handle_waits_for_the_task().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_join_handle_returns_after_the_task_is_gone_multi_thread() {
    join_handle_waits_for_the_task().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_join_handle_reports_a_panic_of_the_task() {
    let task = AsyncDropGuard::new(tokio::spawn(async { panic!("task panicked") }));
    eventually_async("the task to finish", || task.is_finished()).await;
    let err = task.async_drop().await.unwrap_err();
    assert!(err.is_panic());

    // A finished task is fine.
    let task = AsyncDropGuard::new(tokio::spawn(async { 5 }));
    eventually_async("the task to finish", || task.is_finished()).await;
    task.async_drop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_join_set_cancels_and_waits_for_every_task() {
    let flags: Vec<_> = (0..4).map(|_| Arc::new(AtomicBool::new(false))).collect();
    let started = Arc::new(AtomicUsize::new(0));
    let mut set = AsyncDropGuard::new(tokio::task::JoinSet::new());
    for flag in &flags {
        let (flag, started) = (flag.clone(), started.clone());
        set.spawn(async move {
            let _local = SetOnDrop(flag);
            started.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        });
    }
    eventually_async("the tasks to run", || started.load(Ordering::SeqCst) == 4).await;
    set.async_drop().await.unwrap();
    assert!(flags.iter().all(|f| f.load(Ordering::SeqCst)));
}

#[cfg(unix)]
#[tokio::test]
async fn a_guarded_child_process_is_killed_and_reaped() {
    let child = tokio::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut child = AsyncDropGuard::new(child);
    assert!(child.try_wait().unwrap().is_none(), "running");
    let started = Instant::now();
    child.async_drop().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_tcp_stream_shutdown_is_seen_as_eof() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = AsyncDropGuard::new(
        TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap(),
    );
    let (mut server, _) = listener.accept().await.unwrap();
    client.write_all(b"last words").await.unwrap();
    client.async_drop().await.unwrap();
    let mut got = Vec::new();
    bounded(server.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"last words");
}

#[cfg(unix)]
#[tokio::test]
async fn a_guarded_unix_stream_shutdown_is_seen_as_eof() {
    let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    let mut a = AsyncDropGuard::new(a);
    a.write_all(b"bye").await.unwrap();
    a.async_drop().await.unwrap();
    let mut got = Vec::new();
    bounded(b.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"bye");
}

// ---------------------------------------------------------------------------------
// End to end over loopback sockets
// ---------------------------------------------------------------------------------

const CLIENTS: usize = 200;

/// A client connection whose cleanup says goodbye, optionally waits for the
/// server's "ack", then shuts the connection down.
struct Client {
    stream: BufReader<TcpStream>,
    wait_for_ack: bool,
    drops: Arc<AtomicUsize>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl AsyncDrop for Client {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.stream.get_mut().write_all(b"goodbye\n").await?;
        if self.wait_for_ack {
            let mut ack = String::new();
            self.stream.read_line(&mut ack).await?;
        }
        self.stream.get_mut().shutdown().await
    }
}

#[derive(Default)]
struct ServerCounts {
    accepted: AtomicUsize,
    goodbyes: AtomicUsize,
    eofs: AtomicUsize,
}

/// Accepts `n` connections; on each counts "goodbye" lines and end-of-file. A
/// stalling server reads nothing until `stall` is closed.
fn serve(
    listener: TcpListener,
    n: usize,
    counts: Arc<ServerCounts>,
    stall: Option<Arc<Semaphore>>,
) {
    tokio::spawn(async move {
        for _ in 0..n {
            let (stream, _) = listener.accept().await.unwrap();
            counts.accepted.fetch_add(1, Ordering::SeqCst);
            let (counts, stall) = (counts.clone(), stall.clone());
            tokio::spawn(async move {
                if let Some(stall) = stall {
                    let _ = stall.acquire().await; // never acks, reads nothing meanwhile
                }
                let mut lines = BufReader::new(stream).lines();
                loop {
                    match lines.next_line().await {
                        Ok(Some(line)) if line == "goodbye" => {
                            counts.goodbyes.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => {
                            counts.eofs.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                    }
                }
            });
        }
    });
}

async fn connect_all(
    addr: std::net::SocketAddr,
    wait_for_ack: bool,
    drops: &Arc<AtomicUsize>,
) -> AsyncDropGuard<AsyncDropVec<Client>> {
    let mut clients = AsyncDropVec::new();
    for _ in 0..CLIENTS {
        let stream = TcpStream::connect(addr).await.unwrap();
        clients.push(AsyncDropGuard::new(Client {
            stream: BufReader::new(stream),
            wait_for_ack,
            drops: drops.clone(),
        }));
    }
    clients
}

async fn two_hundred_clients_say_goodbye() {
    install();
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Arc::new(ServerCounts::default());
        serve(listener, CLIENTS, server.clone(), None);
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
    })
    .await;
    assert!(kinds::<Client>().is_empty(), "{:?}", reports::<Client>());
}

#[tokio::test]
async fn end_to_end_two_hundred_clients_say_goodbye_current_thread() {
    two_hundred_clients_say_goodbye().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_two_hundred_clients_say_goodbye_multi_thread() {
    two_hundred_clients_say_goodbye().await;
}

async fn a_stalled_server_hits_the_deadline() {
    install();
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Arc::new(ServerCounts::default());
        let stall = Arc::new(Semaphore::new(0));
        serve(listener, CLIENTS, server.clone(), Some(stall.clone()));
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
        assert_eq!(server.accepted.load(Ordering::SeqCst), CLIENTS);

        // The server wakes up and finds every goodbye, then the closed connection.
        stall.close();
        eventually_async("200 goodbyes and 200 EOFs", || {
            server.goodbyes.load(Ordering::SeqCst) == CLIENTS
                && server.eofs.load(Ordering::SeqCst) == CLIENTS
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn end_to_end_a_stalled_server_hits_the_deadline_current_thread() {
    a_stalled_server_hits_the_deadline().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_a_stalled_server_hits_the_deadline_multi_thread() {
    a_stalled_server_hits_the_deadline().await;
}
