//! The async-std adapter (legacy) on async-std's real global runtime: background
//! cleanup, the cleanup worker, deadlines, blocking from sync code (on plain
//! threads, inside `block_on`, inside spawned tasks), async-std's own resources, and
//! end-to-end cleanup over loopback sockets.
//!
//! Reports are recorded by one process-wide policy hook. Tests run in parallel and
//! reports are made on executor threads, so each test uses its own resource type
//! (`Res<TAG>` with a tag of its own) and looks only at the reports naming it.
//!
//! No test leaves a background cleanup running forever: one test waits for all of
//! them ([`background_cleanups_are_counted_and_waited_for`]).
#![cfg(feature = "async-std")]

mod common;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_std::io::BufReader;
use async_std::net::{TcpListener, TcpStream};
use async_std::prelude::*;

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::rt::async_std::{
    async_drop_timeout, background_cleanups, block_on_async_drop, block_on_async_drop_timeout,
    spawn_async_drop, wait_for_background_cleanups, BackgroundError, BlockingError, CleanupHandle,
    DeadlineError, HandOverError, Reaper, ReaperDrop, ReaperStats, ReaperWorker, SpawnOnDrop,
    TaskPanic,
};
use asyncdrop::{AsyncDrop, AsyncDropGuard, ReportKind};
use common::rt::{eventually, install_recording_hook, kinds, reports, ResError, Waits, PATIENCE};
use common::Counters;

// ---------------------------------------------------------------------------------
// Recording reports
// ---------------------------------------------------------------------------------

/// Installs the recording hook (every test calls this first).
fn install() {
    install_recording_hook(&[
        std::any::type_name::<Res<16>>(),
        std::any::type_name::<Res<17>>(),
    ]);
}

/// As [`eventually`], in async code (lets the task's thread run other work).
async fn eventually_async(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        async_std::task::sleep(Duration::from_millis(2)).await;
    }
}

/// Runs a test body in `async_std::task::block_on`, bounded: a hang becomes a
/// failure.
fn run<F: Future>(body: F) -> F::Output {
    async_std::task::block_on(bounded(body))
}

/// Bounds a future: a hang becomes a failure.
async fn bounded<F: Future>(fut: F) -> F::Output {
    async_std::future::timeout(Duration::from_secs(15), fut)
        .await
        .expect("the test did not finish within 15 s")
}

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    Pin::new(fut).poll(&mut cx)
}

/// A gate that cleanups wait at until it is opened (closed channel = open gate).
#[derive(Debug, Clone)]
struct Gate(async_channel::Receiver<()>);

#[derive(Debug)]
struct Opener(async_channel::Sender<()>);

impl Opener {
    fn open(&self) {
        self.0.close();
    }
}

fn gate() -> (Gate, Opener) {
    let (tx, rx) = async_channel::bounded(1);
    (Gate(rx), Opener(tx))
}

impl Gate {
    async fn pass(&self) {
        while self.0.recv().await.is_ok() {}
    }
}

// ---------------------------------------------------------------------------------
// A test resource
// ---------------------------------------------------------------------------------

/// What a `Res` does when cleaned up.
type How = common::rt::How<Gate>;

/// This runtime's waits, for the shared cleanup of `Res`.
struct AsyncStd;

impl Waits for AsyncStd {
    type Gate = Gate;
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(d)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        async_std::task::yield_now()
    }
    async fn pass(gate: Gate) {
        gate.pass().await
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
        common::rt::cleanup::<AsyncStd>(&self.counts, self.how.clone(), TAG).await
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
    boxes::<asyncdrop::rt::CleanupPanic>();
}

/// The futures are `Send` in generic code: they can be spawned.
#[allow(dead_code, reason = "only type-checked")]
fn futures_are_send_in_generic_code<T: AsyncDrop + 'static>(
    a: AsyncDropGuard<T>,
    b: AsyncDropGuard<T>,
    c: AsyncDropGuard<AsyncDropVec<T>>,
    reaper: Reaper<T>,
) where
    T::Error: std::fmt::Debug + Send,
{
    async_std::task::spawn(async_drop_timeout(a, Duration::from_secs(1)));
    async_std::task::spawn(async move {
        let _ = reaper.hand_over(b).await;
    });
    async_std::task::spawn(async_drop_timeout(c, Duration::from_secs(1)));
}

// ---------------------------------------------------------------------------------
// Background cleanup
// ---------------------------------------------------------------------------------

#[test]
fn spawned_cleanup_result_goes_to_the_awaiting_handle() {
    install();
    type R = Res<1>;
    let counts = Counters::new();
    run(async {
        let ok = spawn_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(2)))).unwrap();
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
    });
    assert_eq!(counts.started(), 3);
    assert_eq!(counts.drops(), 3);
    // The awaiting task received every outcome: the policy heard nothing.
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn spawn_needs_no_runtime_set_up() {
    install();
    type R = Res<4>;
    let counts = Counters::new();
    // A plain thread, no `block_on` around: the global executor runs the cleanup.
    let handle = spawn_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(2)))).unwrap();
    // And any executor can await the handle.
    futures_executor::block_on(handle).unwrap();
    let guard = R::guard(&counts, How::Yield(2));
    let handle = std::thread::spawn(move || spawn_async_drop(guard).unwrap())
        .join()
        .unwrap();
    eventually("the second cleanup", || handle.is_finished());
    futures_executor::block_on(handle).unwrap();
    assert_eq!((counts.finished(), counts.drops()), (2, 2));
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn detached_failures_and_panics_go_to_the_policy() {
    install();
    type R = Res<3>;
    let counts = Counters::new();
    run(async {
        // Dropped while the cleanup runs: the task reports.
        drop(spawn_async_drop(R::guard(&counts, How::Fail(9))).unwrap());
        drop(spawn_async_drop(R::guard(&counts, How::Panic)).unwrap());
        eventually_async("two reports from the tasks", || reports::<R>().len() == 2).await;

        // Dropped after the cleanup finished, never awaited: the dropper reports.
        let late = spawn_async_drop(R::guard(&counts, How::Fail(10))).unwrap();
        eventually_async("the cleanup to finish", || late.is_finished()).await;
        drop(late);
    });

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
fn spawn_on_drop_spawns_in_the_background() {
    install();
    type R = Res<7>;
    let counts = Counters::new();
    run(async {
        let gate_and_opener = gate();
        let value = SpawnOnDrop::new(R::guard(&counts, How::Gate(gate_and_opener.0)));
        assert!(matches!(value.how, How::Gate(_))); // derefs to the value
        drop(value); // returns at once: the cleanup waits at the gate, elsewhere
        eventually_async("the spawned cleanup to start", || counts.started() == 1).await;
        assert_eq!(counts.finished(), 0);
        gate_and_opener.1.open();
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
    });
    assert_eq!((counts.finished(), counts.drops()), (4, 4));
    assert_eq!(kinds::<R>().len(), 1);
}

#[test]
fn spawn_on_drop_dropped_on_a_plain_thread() {
    install();
    type R = Res<8>;
    let counts = Counters::new();
    let value = SpawnOnDrop::new(R::guard(&counts, How::Sleep(Duration::from_millis(1))));
    assert!(format!("{value:?}").contains("SpawnOnDrop"));
    std::thread::spawn(move || drop(value)).join().unwrap();
    eventually("the spawned cleanup", || counts.finished() == 1);
    assert_eq!(counts.drops(), 1);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn a_panicking_policy_in_a_background_task_is_contained() {
    install();
    type R = Res<17>; // the recording hook panics on its failures
    let counts = Counters::new();
    run(async {
        for _ in 0..4 {
            drop(SpawnOnDrop::new(R::guard(&counts, How::Fail(1))));
        }
        eventually_async("four reports", || kinds::<R>().len() == 4).await;
        // The panics ended their tasks, not the executor: it still runs cleanups.
        spawn_async_drop(R::guard(&counts, How::Yield(3)))
            .unwrap()
            .await
            .unwrap();
    });
    assert_eq!(kinds::<R>(), [ReportKind::Failed; 4]);
    assert_eq!((counts.finished(), counts.drops()), (5, 5));
}

#[test]
fn background_cleanups_are_counted_and_waited_for() {
    install();
    type R = Res<9>;
    let counts = Counters::new();
    let (gate, opener) = gate();
    for _ in 0..3 {
        drop(SpawnOnDrop::new(R::guard(&counts, How::Gate(gate.clone()))));
    }
    // (Other tests run background cleanups too: only lower bounds hold here.)
    assert!(background_cleanups() >= 3);
    eventually("the cleanups to start", || counts.started() == 3);
    // Held at the gate: the wait gives up and says how many still run.
    let started = Instant::now();
    let left = wait_for_background_cleanups(Duration::from_millis(50));
    assert!(left >= 3, "{left}");
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(started.elapsed() < Duration::from_secs(5));

    opener.open();
    // Every background cleanup of every test ends: none is left running forever.
    assert_eq!(wait_for_background_cleanups(Duration::from_secs(12)), 0);
    assert_eq!((counts.finished(), counts.drops()), (3, 3));
    assert!(kinds::<R>().is_empty());
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
    let (gate, opener) = gate();
    let (reaper, worker) = Reaper::<R>::spawn(CAPACITY);

    let producers: Vec<_> = (0..THREADS)
        .map(|_| {
            let reaper = reaper.clone();
            let counts = counts.clone();
            let gate = gate.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // Mostly instant cleanups; the first ones wait at the gate.
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
    assert!(!worker.is_finished());
    opener.open();

    for p in producers {
        p.join().unwrap();
    }
    reaper.shutdown();
    let stats = async_std::task::block_on(bounded(worker)).unwrap();
    let n = THREADS * PER_THREAD;
    assert_eq!(stats.cleaned, n as u64, "{stats}");
    assert_eq!(stats.total(), n as u64);
    assert_eq!(counts.started(), n);
    assert_eq!(counts.finished(), n);
    assert_eq!(counts.drops(), n, "every value dropped exactly once");
    assert!(counts.max_in_flight.load(Ordering::SeqCst) <= CAPACITY);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn reaper_counts_and_reports_failures_and_panics() {
    install();
    type R = Res<11>;
    let counts = Counters::new();
    run(async {
        let (reaper, worker) = Reaper::spawn(4);
        assert!(format!("{reaper:?}").contains("Res<11>"));
        for how in [How::Succeed, How::Fail(5), How::Panic, How::Yield(3)] {
            reaper.hand_over(R::guard(&counts, how)).await.unwrap();
        }
        assert!(reaper.shutdown());
        assert!(reaper.is_shut_down());
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
        let err = reaper
            .try_hand_over(R::guard(&counts, How::Succeed))
            .unwrap_err();
        assert!(err.is_closed());
        err.into_guard().async_drop().await.unwrap();
    });
    assert_eq!(counts.drops(), 6);
}

/// A worker of capacity 1 that is busy with a cleanup held at a gate, and a full
/// queue behind it.
async fn busy_worker<const TAG: u32>(
    counts: &Arc<Counters>,
) -> (Reaper<Res<TAG>>, ReaperWorker, Opener) {
    let (gate, opener) = gate();
    let (reaper, worker) = Reaper::spawn(1);
    reaper
        .hand_over(Res::<TAG>::guard(counts, How::Gate(gate)))
        .await
        .unwrap();
    eventually_async("the gated cleanup to start", || counts.started() == 1).await;
    reaper
        .try_hand_over(Res::<TAG>::guard(counts, How::Succeed))
        .unwrap();
    assert_eq!(reaper.queued(), 1);
    (reaper, worker, opener)
}

#[test]
fn reaper_back_pressure_inside_block_on() {
    install();
    type R = Res<12>;
    let counts = Counters::new();
    run(async {
        let (reaper, worker, opener) = busy_worker::<12>(&counts).await;
        assert_eq!(reaper.capacity(), 1);
        let full = reaper
            .try_hand_over(R::guard(&counts, How::Succeed))
            .unwrap_err();
        assert!(matches!(full, HandOverError::Full(_)), "{full:?}");
        // Blocking for room inside an async-std task could starve the executor:
        // refused, guard handed back.
        let refused = reaper.hand_over_blocking(full.into_guard()).unwrap_err();
        assert!(
            matches!(refused, HandOverError::WouldBlock(_)),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("deadlock"));
        // Waiting asynchronously is fine.
        opener.open();
        reaper.hand_over(refused.into_guard()).await.unwrap();
        reaper.shutdown();
        let stats = worker.await.unwrap();
        assert_eq!(stats.cleaned, 3);
    });
    assert_eq!(counts.drops(), 3);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn hand_over_blocking_on_a_plain_thread_waits_for_room() {
    install();
    type R = Res<19>;
    let counts = Counters::new();
    let (reaper, worker, opener) = run(busy_worker::<19>(&counts));
    let opening = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        opener.open();
    });
    let started = Instant::now();
    // This (plain) thread blocks until the worker makes room.
    reaper
        .hand_over_blocking(R::guard(&counts, How::Succeed))
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(15));
    opening.join().unwrap();
    reaper.shutdown();
    assert_eq!(run(worker).unwrap().cleaned, 3);
    assert_eq!(counts.drops(), 3);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn reaper_drop_inside_tasks_overflows_into_tasks() {
    install();
    type R = Res<13>;
    let counts = Counters::new();
    run(async {
        let (reaper, worker, opener) = busy_worker::<13>(&counts).await;
        // Full. Dropped inside `block_on`: no blocking, an overflow task each.
        for _ in 0..2 {
            drop(ReaperDrop::new(R::guard(&counts, How::Yield(1)), &reaper));
        }
        // Dropped inside a spawned task: the same.
        let r = reaper.clone();
        let c = counts.clone();
        async_std::task::spawn(async move {
            drop(ReaperDrop::new(R::guard(&c, How::Yield(1)), &r));
        })
        .await;
        assert_eq!(counts.started(), 1);
        assert_eq!(counts.drops(), 0, "nothing lost: overflow tasks hold them");

        opener.open();
        eventually_async("all five cleaned up", || counts.finished() == 5).await;
        reaper.shutdown();
        let stats = worker.await.unwrap();
        assert_eq!(stats.cleaned, 5, "overflow went through the worker");

        // After shutdown a dropped value is cleaned up by a task of its own.
        drop(ReaperDrop::new(R::guard(&counts, How::Succeed), &reaper));
        eventually_async("the late one", || counts.finished() == 6).await;
    });
    assert_eq!(counts.drops(), 6);
    assert!(kinds::<R>().is_empty());
}

#[test]
fn a_stuck_worker_does_not_hang_a_dropping_thread() {
    install();
    type R = Res<18>;
    let counts = Counters::new();
    let (reaper, worker, opener) = run(busy_worker::<18>(&counts));

    let limit = Duration::from_millis(50);
    let value = ReaperDrop::with_wait_limit(R::guard(&counts, How::Succeed), &reaper, limit);
    assert_eq!(ReaperDrop::wait_limit(&value), limit);
    assert_eq!(ReaperDrop::reaper(&value).capacity(), 1);
    let started = Instant::now();
    std::thread::spawn(move || drop(value)).join().unwrap(); // a plain thread
    assert!(started.elapsed() >= limit);
    assert_eq!(counts.drops(), 0, "nothing lost: an overflow task holds it");
    assert!(background_cleanups() >= 1);

    opener.open();
    reaper.shutdown();
    eventually("all three cleaned up", || counts.finished() == 3);
    let stats = run(worker).unwrap();
    assert!(stats.cleaned >= 2, "{stats}");
    assert_eq!(counts.drops(), 3);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn a_cancelled_hand_over_reports_cancelled() {
    install();
    type R = Res<14>;
    let counts = Counters::new();
    run(async {
        let (reaper, worker, opener) = busy_worker::<14>(&counts).await;
        let mut waiting = Box::pin(reaper.hand_over(R::guard(&counts, How::Succeed)));
        assert!(poll_once(&mut waiting).is_pending()); // the queue is full
        assert!(format!("{waiting:?}").contains("Res<14>"));
        drop(waiting);
        assert_eq!(kinds::<R>(), [ReportKind::Cancelled]);
        assert_eq!(counts.drops(), 1);
        opener.open();
        drop(reaper); // the last handle: the worker drains and stops
        assert_eq!(worker.await.unwrap().cleaned, 2);
    });
    assert_eq!(counts.drops(), 3);
}

#[test]
fn a_panicking_policy_does_not_stop_the_worker() {
    install();
    type R = Res<16>; // the recording hook panics on its failures
    let counts = Counters::new();
    let joined = run(async {
        let (reaper, worker) = Reaper::spawn(2);
        for how in [How::Fail(1), How::Succeed, How::Fail(2), How::Yield(2)] {
            reaper.hand_over(R::guard(&counts, how)).await.unwrap();
        }
        reaper.shutdown();
        worker.await
    });
    // The worker finished every cleanup, then handed the policy's panic over.
    let panic = joined.unwrap_err().into_panic().unwrap();
    let message = panic.message().unwrap().to_owned();
    assert!(message.starts_with("policy panics on"), "{message}");
    assert!(panic.to_string().contains("a task panicked"));
    assert!(panic
        .into_payload()
        .downcast_ref::<String>()
        .is_some_and(|m| *m == message));
    assert_eq!((counts.started(), counts.drops()), (4, 4));
    assert_eq!(kinds::<R>(), [ReportKind::Failed, ReportKind::Failed]);
}

#[test]
fn reaper_worker_reports_when_it_stopped() {
    install();
    type R = Res<15>;
    let counts = Counters::new();
    let (reaper, worker) = Reaper::<R>::spawn(2);
    assert!(!worker.is_finished());
    assert!(format!("{worker:?}").contains("finished: false"));
    reaper
        .hand_over_blocking(R::guard(&counts, How::Succeed))
        .unwrap();
    drop(reaper);
    eventually("the worker to stop", || worker.is_finished());
    let stats = futures_executor::block_on(worker).unwrap();
    assert_eq!(stats.total(), 1);
    assert_ne!(stats, ReaperStats::default());
    assert_eq!((stats.cleaned, counts.drops()), (1, 1));
}

// ---------------------------------------------------------------------------------
// Deadline
// ---------------------------------------------------------------------------------

#[test]
fn deadline_passes_the_result_through() {
    install();
    type R = Res<20>;
    let counts = Counters::new();
    run(async {
        let limit = Duration::from_secs(5);
        let cleanup = async_drop_timeout(
            R::guard(&counts, How::Sleep(Duration::from_millis(1))),
            limit,
        );
        assert_eq!(cleanup.limit(), limit);
        cleanup.await.unwrap();
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
fn deadline_expiry_is_a_typed_error_in_block_on() {
    install();
    run(deadline_expires::<21>());
}

#[test]
fn deadline_expiry_is_a_typed_error_in_a_spawned_task() {
    install();
    run(async_std::task::spawn(deadline_expires::<22>()));
}

#[test]
fn deadline_works_on_another_executor() {
    install();
    type R = Res<25>;
    // async-std's timer is driven by its own reactor thread: no async-std task
    // needed.
    futures_executor::block_on(deadline_expires::<25>());
    let counts = Counters::new();
    futures_executor::block_on(async_drop_timeout(
        R::guard(&counts, How::Sleep(Duration::from_millis(2))),
        Duration::from_secs(5),
    ))
    .unwrap();
    assert_eq!((counts.finished(), counts.drops()), (1, 1));
}

#[test]
fn dropping_a_deadline_future_reports_cancelled() {
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

// ---------------------------------------------------------------------------------
// Blocking from sync code
// ---------------------------------------------------------------------------------

#[test]
fn block_on_a_plain_thread() {
    install();
    type R = Res<30>;
    let counts = Counters::new();
    // The cleanup needs a timer: async-std's is global.
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

    // A wait that runs out: the cleanup goes on in the background.
    let slow = R::guard(&counts, How::Sleep(Duration::from_millis(300)));
    let err = block_on_async_drop_timeout(slow, Duration::from_millis(20)).unwrap_err();
    assert!(err.is_timed_out(), "{err:?}");
    assert!(err.to_string().contains("goes on in the background"));
    assert_eq!(counts.drops(), 3);
    // (The panicking cleanup never counted as finished.)
    eventually("the slow cleanup to finish", || counts.finished() == 3);
    eventually("the slow value to be dropped", || counts.drops() == 4);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn block_on_inside_async_std_block_on() {
    install();
    type R = Res<31>;
    let counts = Counters::new();
    run(async {
        // On a helper thread; its timer works.
        block_on_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(2)))).unwrap();
        let e = block_on_async_drop(R::guard(&counts, How::Fail(2))).unwrap_err();
        assert_eq!(e.into_failed(), Some(ResError(2)));

        // A wait that runs out, without a panic or a hang.
        let slow = R::guard(&counts, How::Sleep(Duration::from_millis(200)));
        let err = block_on_async_drop_timeout(slow, Duration::from_millis(10)).unwrap_err();
        match &err {
            BlockingError::TimedOut { type_name, after } => {
                assert!(type_name.ends_with("Res<31>"));
                assert_eq!(*after, Duration::from_millis(10));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        eventually_async("the timed-out cleanup", || counts.finished() == 3).await;
    });
    assert_eq!(counts.drops(), 3);
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

#[test]
fn block_on_inside_spawned_tasks_never_hangs() {
    install();
    type R = Res<32>;
    const TASKS: usize = 12; // more than the executor has threads
    let counts = Counters::new();
    run(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let c = counts.clone();
                async_std::task::spawn(async move {
                    // Every executor thread may be blocked here at once: the
                    // cleanups run on helper threads, not on the executor.
                    let how = How::Sleep(Duration::from_millis(5 + i as u64));
                    block_on_async_drop(R::guard(&c, how)).unwrap();
                    let e = block_on_async_drop(R::guard(&c, How::Panic)).unwrap_err();
                    assert!(e.panic().is_some());
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert_eq!((counts.finished(), counts.drops()), (TASKS, 2 * TASKS));
    assert!(kinds::<R>().is_empty(), "{:?}", reports::<R>());
}

// ---------------------------------------------------------------------------------
// async-std's own resources
// ---------------------------------------------------------------------------------

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "asyncdrop-rt-async-std-{}-{name}",
        std::process::id()
    ))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn a_guarded_file_is_written_out_and_synced() {
    let path = temp_path("file");
    let data = pattern(300_000);
    run(async {
        let mut file = AsyncDropGuard::new(async_std::fs::File::create(&path).await.unwrap());
        for chunk in data.chunks(7_001) {
            file.write_all(chunk).await.unwrap();
        }
        file.async_drop().await.unwrap();
    });
    let back = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "every byte written must be read back");
}

#[test]
fn a_guarded_buf_writer_writes_out_its_buffer() {
    let path = temp_path("bufwriter");
    let data = pattern(50_000);
    run(async {
        let file = async_std::fs::File::create(&path).await.unwrap();
        let mut out = AsyncDropGuard::new(async_std::io::BufWriter::with_capacity(4096, file));
        for chunk in data.chunks(13) {
            out.write_all(chunk).await.unwrap();
        }
        out.async_drop().await.unwrap();
    });
    let back = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
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

#[test]
fn a_guarded_join_handle_returns_after_the_task_is_gone() {
    run(async {
        // A task parked in a timer, and one busy on a thread when cancelled.
        for busy in [false, true] {
            let dropped = Arc::new(AtomicBool::new(false));
            let running = Arc::new(AtomicBool::new(false));
            let (d, r) = (dropped.clone(), running.clone());
            let task = AsyncDropGuard::new(async_std::task::spawn(async move {
                let _local = SetOnDrop(d);
                r.store(true, Ordering::SeqCst);
                loop {
                    if busy {
                        std::thread::sleep(Duration::from_millis(1));
                        async_std::task::yield_now().await;
                    } else {
                        async_std::task::sleep(Duration::from_millis(1)).await;
                    }
                }
            }));
            eventually_async("the task to run", || running.load(Ordering::SeqCst)).await;
            task.async_drop().await.unwrap();
            assert!(
                dropped.load(Ordering::SeqCst),
                "the task's locals were dropped before the cleanup returned"
            );
        }

        // A task that finished: reaped, its output dropped (not leaked).
        let output = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicBool::new(false));
        let (o, r) = (output.clone(), ran.clone());
        let task = AsyncDropGuard::new(async_std::task::spawn(async move {
            r.store(true, Ordering::SeqCst);
            SetOnDrop(o)
        }));
        eventually_async("the task to run", || ran.load(Ordering::SeqCst)).await;
        async_std::task::sleep(Duration::from_millis(10)).await;
        task.async_drop().await.unwrap();
        eventually_async("the output to be dropped", || output.load(Ordering::SeqCst)).await;
    });
}

#[test]
fn a_guarded_join_handle_reports_a_panic_of_the_task() {
    // Whether the panic is still there to report depends on the task having
    // finished before the cancellation (a task cancelled while it unwinds has no
    // output): try a few times.
    let mut caught = None;
    for _ in 0..20 {
        let outcome = run(async {
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let task = AsyncDropGuard::new(async_std::task::spawn(async move {
                r.store(true, Ordering::SeqCst);
                panic!("task panicked on purpose");
            }));
            eventually_async("the task to run", || ran.load(Ordering::SeqCst)).await;
            async_std::task::sleep(Duration::from_millis(20)).await;
            task.async_drop().await
        });
        if let Err(panic) = outcome {
            caught = Some(panic);
            break;
        }
    }
    let panic = caught.expect("the task's panic was never reported");
    assert_eq!(panic.message(), Some("task panicked on purpose"));
    assert_eq!(
        panic.to_string(),
        "a task panicked: task panicked on purpose"
    );
}

#[test]
fn a_guarded_tcp_stream_shutdown_is_seen_as_eof() {
    run(async {
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
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
    });
}

#[cfg(unix)]
#[test]
fn a_guarded_unix_stream_shutdown_is_seen_as_eof() {
    run(async {
        let (a, mut b) = async_std::os::unix::net::UnixStream::pair().unwrap();
        let mut a = AsyncDropGuard::new(a);
        a.write_all(b"bye").await.unwrap();
        a.async_drop().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
    });
}

// ---------------------------------------------------------------------------------
// End to end over loopback sockets
// ---------------------------------------------------------------------------------

const CLIENTS: usize = 200;

/// Counters drops of the client it belongs to.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A client connection whose cleanup says goodbye, optionally waits for the
/// server's "ack", then shuts the connection down (through `TcpStream`'s own
/// cleanup).
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    wait_for_ack: bool,
    _drops: DropCounter,
}

impl AsyncDrop for Client {
    type Error = io::Error;

    async fn async_drop_impl(self) -> io::Result<()> {
        let Client {
            mut stream,
            mut reader,
            wait_for_ack,
            _drops,
        } = self;
        stream.write_all(b"goodbye\n").await?;
        if wait_for_ack {
            let mut ack = String::new();
            reader.read_line(&mut ack).await?;
        }
        AsyncDrop::async_drop_impl(stream).await
    }
}

#[derive(Default)]
struct ServerCounts {
    accepted: AtomicUsize,
    goodbyes: AtomicUsize,
    eofs: AtomicUsize,
    errors: AtomicUsize,
}

impl ServerCounts {
    fn saw_all(&self) -> bool {
        self.goodbyes.load(Ordering::SeqCst) == CLIENTS
            && self.eofs.load(Ordering::SeqCst) == CLIENTS
    }
}

/// Accepts `n` connections; on each counts "goodbye" lines and end-of-file. A
/// stalling server reads nothing until `stall` is opened.
fn serve(listener: TcpListener, n: usize, counts: Arc<ServerCounts>, stall: Option<Gate>) {
    async_std::task::spawn(async move {
        for _ in 0..n {
            let (stream, _) = listener.accept().await.unwrap();
            counts.accepted.fetch_add(1, Ordering::SeqCst);
            let (counts, stall) = (counts.clone(), stall.clone());
            async_std::task::spawn(async move {
                if let Some(stall) = stall {
                    stall.pass().await; // never acks, reads nothing meanwhile
                }
                let mut lines = BufReader::new(stream);
                let mut line = String::new();
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) => {
                            counts.eofs.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Ok(_) if line == "goodbye\n" => {
                            counts.goodbyes.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => {
                            counts.errors.fetch_add(1, Ordering::SeqCst);
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
            reader: BufReader::new(stream.clone()),
            stream,
            wait_for_ack,
            _drops: DropCounter(drops.clone()),
        }));
    }
    clients
}

#[test]
fn end_to_end_two_hundred_clients_say_goodbye() {
    install();
    run(async {
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

        eventually_async("200 goodbyes and 200 EOFs", || server.saw_all()).await;
        assert_eq!(server.accepted.load(Ordering::SeqCst), CLIENTS);
        assert_eq!(server.errors.load(Ordering::SeqCst), 0);
    });
    assert!(kinds::<Client>().is_empty(), "{:?}", reports::<Client>());
    assert!(
        kinds::<TcpStream>().is_empty(),
        "{:?}",
        reports::<TcpStream>()
    );
}

#[test]
fn end_to_end_a_stalled_server_hits_the_deadline() {
    install();
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Arc::new(ServerCounts::default());
        let (stall, opener) = gate();
        serve(listener, CLIENTS, server.clone(), Some(stall));
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
        eventually_async("200 accepted", || {
            server.accepted.load(Ordering::SeqCst) == CLIENTS
        })
        .await;

        // The server wakes up and finds every goodbye, then the closed connection.
        opener.open();
        eventually_async("200 goodbyes and 200 EOFs", || server.saw_all()).await;
        assert_eq!(server.errors.load(Ordering::SeqCst), 0);
    });
    // The typed error was the report: nothing went to the policy.
    assert!(kinds::<Client>().is_empty(), "{:?}", reports::<Client>());
    let vec_reports = reports::<AsyncDropVec<Client>>();
    assert!(vec_reports.is_empty(), "{vec_reports:?}");
}
