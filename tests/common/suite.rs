//! The runtime adapters' behaviour, written once against [`TestRuntime`] and
//! stamped out for every runtime by [`adapter_suite!`]. Bodies wait on the runtime's
//! own sleep ([`eventually_async`], [`on_plain_thread`]): tokio's current-thread
//! runtime runs only while its thread awaits. `Res` tags below 100 are the suite's.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::rt::{
    async_drop_timeout_current, async_drop_timeout_on, block_on_async_drop_on,
    spawn_async_drop_current, spawn_async_drop_on, BackgroundError, BlockOnDrop, BlockingError,
    CleanupHandle, CleanupPanic, DeadlineError, HandOverError, NoRuntime, Reaper, ReaperDrop,
    ReaperStats, ReaperWorker, Runtime, SpawnOnDrop, TaskPanic, WaitForCleanups, WorkerError,
    DEFAULT_WAIT_LIMIT,
};
use asyncdrop::{AsyncDrop, AsyncDropGuard, ReportKind};
use futures_util::future::FusedFuture;

use super::rt::{
    assert_unreported, bounded, eventually_async, gate, install_recording_hook, kinds, recording,
    reports, How, Opener, Res, ResError, PATIENCE,
};
use super::{poll_once, Counters};

/// A runtime the suite runs on: its [`Runtime`], how a body runs, where it may block.
pub trait TestRuntime: Sized + 'static {
    type Rt: Runtime;
    /// `blocking_could_deadlock` is `false` in a test body ([`Self::block_on`]).
    const BODY_MAY_BLOCK: bool;
    /// `blocking_could_deadlock` is `false` in a task of the runtime.
    const TASKS_MAY_BLOCK: bool;
    /// `blocking_could_deadlock` is `false` on a plain thread.
    const PLAIN_THREADS_MAY_BLOCK: bool = true;
    /// `Runtime::current` finds the runtime on a plain thread too.
    const CURRENT_ON_PLAIN_THREADS: bool;
    /// The timer runs only while the test body's thread runs the runtime.
    const TIMER_NEEDS_THE_BODY: bool = false;

    fn new() -> Self;
    fn runtime(&self) -> Self::Rt;
    /// The runtime's own sleep and yield, for the cleanups of test resources.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// Runs a test body to completion on this thread, in the runtime's context.
    fn block_on<F: Future>(&self, body: F) -> F::Output;

    /// The runtime module's `background_cleanups`.
    fn background_cleanups() -> usize {
        <Self::Rt as Runtime>::tracker().running()
    }
    /// The runtime module's `wait_for_background_cleanups`.
    fn wait_for_background_cleanups(limit: Duration) -> usize {
        <Self::Rt as Runtime>::tracker().wait_blocking(limit)
    }
    /// The runtime module's `background_cleanups_finished`.
    fn background_cleanups_finished() -> WaitForCleanups<'static> {
        <Self::Rt as Runtime>::tracker().wait()
    }
}

/// A runtime with TCP, for the end-to-end tests.
pub trait TestNet: TestRuntime {
    type Listener: Send + Sync + 'static;
    /// The runtime's own stream; its cleanup shuts the connection down.
    type Stream: AsyncDrop<Error = io::Error> + Send + 'static;
    fn bind() -> impl Future<Output = io::Result<(Self::Listener, SocketAddr)>>;
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        data: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
}

/// Stamps out the suite's tests for `$rt` in module `$module`.
#[allow(unused_macros, reason = "not every test binary stamps the suite")]
macro_rules! adapter_suite {
    ($module:ident: $rt:ty) => {
        $crate::common::suite::stamp!($module: $rt:
                public_types_are_send_and_sync,
                spawned_cleanup_result_goes_to_the_awaiting_handle,
                spawn_from_plain_threads,
                detached_failures_and_panics_go_to_the_policy,
                spawn_on_drop_spawns_in_the_background,
                spawn_on_drop_made_on_a_plain_thread,
                a_panicking_policy_in_a_background_task_is_contained,
                background_cleanups_are_counted_and_waited_for,
                reaper_cleans_up_ten_thousand_values_from_std_threads_under_back_pressure,
                reaper_counts_and_reports_failures_and_panics,
                hand_over_blocking_in_the_runtime,
                reaper_drop_where_the_queue_is_full_overflows_into_tasks,
                a_stuck_worker_does_not_hang_a_dropping_thread,
                a_panicking_policy_does_not_stop_the_worker,
                reaper_worker_reports_when_it_stopped,
                deadline_passes_the_result_through_or_expires_typed,
                blocking_from_a_plain_thread,
                blocking_inside_the_runtime,
                block_on_drop_cleans_up_before_the_drop_returns,
                deadline_cancelled_at_every_poll,
                hand_over_cancelled_at_every_poll,
                cleanup_handle_dropped_at_every_poll,
                reaper_worker_dropped_at_every_poll,
                    );
    };
}
#[allow(unused_imports, reason = "not every test binary stamps the suite")]
pub(crate) use adapter_suite;

/// Stamps out the end-to-end tests over loopback sockets for `$rt` (a [`TestNet`]).
#[allow(unused_macros, reason = "not every runtime has TCP here")]
macro_rules! net_suite {
    ($module:ident: $rt:ty) => {
        $crate::common::suite::stamp!($module: $rt:
            end_to_end_two_hundred_clients_say_goodbye,
            end_to_end_a_stalled_server_hits_the_deadline,
        );
    };
}
#[allow(unused_imports, reason = "not every runtime has TCP here")]
pub(crate) use net_suite;

#[allow(unused_macros, reason = "not every test binary stamps the suite")]
macro_rules! stamp {
    ($module:ident: $rt:ty: $($name:ident),* $(,)?) => {
        mod $module {
            #[allow(unused_imports, reason = "for the runtime type")]
            use super::*;
            $(
                #[test]
                fn $name() {
                    $crate::common::suite::$name::<$rt>();
                }
            )*
        }
    };
}
#[allow(unused_imports, reason = "not every test binary stamps the suite")]
pub(crate) use stamp;

// Helpers -------------------------------------------------------------------------

/// Installs the recording hook and runs `body(runtime, counters)`, bounded, on a new
/// `T`; returns `T` (for the test to keep its runtime) and the counters.
fn body<T: TestRuntime, F: Future>(
    body: impl FnOnce(T::Rt, Arc<Counters>) -> F,
) -> (T, Arc<Counters>) {
    let (t, counts) = (T::new(), recording());
    t.block_on(bounded::<T, _>(body(t.runtime(), counts.clone())));
    (t, counts)
}

/// The one report about `X` so far, a failure.
#[track_caller]
fn one_failure<X>() -> super::rt::Seen {
    let mut seen = reports::<X>();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].kind, ReportKind::Failed);
    seen.remove(0)
}

fn name<X>() -> &'static str {
    std::any::type_name::<X>()
}

/// Runs `future` as a task of `runtime`; the returned future gives its output.
pub fn spawn_join<R, F>(runtime: &R, future: F) -> impl Future<Output = F::Output>
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: Send,
{
    let (tx, rx) = futures_channel::oneshot::channel();
    runtime.spawn(async move {
        let _ = tx.send(future.await);
    });
    async move { rx.await.expect("the task panicked or was dropped") }
}

/// Runs `f` on a plain thread while this task lets the runtime run; passes its panic on.
pub async fn on_plain_thread<W: TestRuntime, O: Send + 'static>(
    f: impl FnOnce() -> O + Send + 'static,
) -> O {
    let thread = thread::spawn(f);
    let start = Instant::now();
    while !thread.is_finished() {
        assert!(start.elapsed() < 2 * PATIENCE, "the plain thread hangs");
        W::sleep(Duration::from_millis(2)).await;
    }
    thread
        .join()
        .unwrap_or_else(|payload| resume_unwind(payload))
}

/// Polls `future` up to `k` times with a no-op waker; its output if it completed.
fn poll_times<F: Future + Unpin>(future: &mut F, k: usize) -> Option<F::Output> {
    (0..k).find_map(|_| match poll_once(future) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    })
}

/// Polls `future` with a no-op waker, sleeping on `T`'s timer in between, until it is done.
async fn poll_to_end<T: TestRuntime, F: Future + Unpin>(future: &mut F) -> F::Output {
    loop {
        if let Poll::Ready(output) = poll_once(future) {
            return output;
        }
        T::sleep(Duration::from_millis(1)).await;
    }
}

/// A cleanup that needs the runtime's timer, unless it stops while the body blocks.
fn needs_timer<T: TestRuntime>(ms: u64) -> How {
    if T::TIMER_NEEDS_THE_BODY {
        How::Yield(3)
    } else {
        How::Sleep(Duration::from_millis(ms))
    }
}

// Compile-time facts --------------------------------------------------------------

pub fn public_types_are_send_and_sync<T: TestRuntime>() {
    type X<T> = Res<T, 0>;
    fn send_sync<V: Send + Sync>() {}
    fn unpin<V: Unpin>() {}
    fn boxes<E: std::error::Error + Send + Sync + 'static>() {}
    send_sync::<CleanupHandle<X<T>>>();
    unpin::<CleanupHandle<X<T>>>();
    send_sync::<Reaper<X<T>, T::Rt>>();
    send_sync::<ReaperDrop<X<T>, T::Rt>>();
    send_sync::<SpawnOnDrop<X<T>, T::Rt>>();
    send_sync::<BlockOnDrop<X<T>, T::Rt>>();
    send_sync::<ReaperWorker>();
    unpin::<ReaperWorker>();
    send_sync::<NoRuntime<X<T>>>();
    // Every error boxes into `Box<dyn Error + Send + Sync>`.
    boxes::<BackgroundError<ResError>>();
    boxes::<BlockingError<ResError>>();
    boxes::<DeadlineError<ResError>>();
    boxes::<HandOverError<X<T>>>();
    boxes::<NoRuntime<X<T>>>();
    boxes::<CleanupPanic>();
    boxes::<TaskPanic>();
    boxes::<WorkerError>();
}

/// The futures are `Send` in generic code: they can be spawned.
#[allow(dead_code, reason = "only type-checked")]
fn futures_are_send_in_generic_code<R: Runtime, X: AsyncDrop + 'static>(
    runtime: R,
    a: AsyncDropGuard<X>,
    b: AsyncDropGuard<X>,
    c: AsyncDropGuard<AsyncDropVec<X>>,
    reaper: Reaper<X, R>,
) where
    X::Error: Debug + Send,
{
    let rt = runtime.clone();
    runtime.spawn(async move {
        let _ = async_drop_timeout_on(&rt, a, Duration::from_secs(1)).await;
        let _ = async_drop_timeout_on(&rt, c, Duration::from_secs(1)).await;
        let _ = reaper.hand_over(b).await;
    });
}

// Background cleanup --------------------------------------------------------------

pub fn spawned_cleanup_result_goes_to_the_awaiting_handle<T: TestRuntime>() {
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let res = |how| Res::<T, 1>::guard(&counts, how);
        // On the current runtime, and on the one given.
        let ok = spawn_async_drop_current::<T::Rt, _>(res(How::Sleep(Duration::from_millis(1))))
            .unwrap();
        let failed = spawn_async_drop_on(&rt, res(How::Fail(7)));
        let panicked = spawn_async_drop_on(&rt, res(How::Panic));
        assert_eq!(ok.type_name(), name::<Res<T, 1>>());
        assert!(format!("{ok:?}").contains("CleanupHandle"));

        assert!(ok.await.is_ok());
        assert_eq!(failed.await.unwrap_err().into_failed(), Some(ResError(7)));
        let panicked = panicked.await.unwrap_err();
        let p = panicked
            .panic()
            .unwrap_or_else(|| panic!("expected a panic: {panicked:?}"));
        assert_eq!(p.message(), Some("res 1 cleanup panicked"));
        assert_eq!(p.type_name(), name::<Res<T, 1>>());
    });
    assert_eq!((counts.started(), counts.drops()), (3, 3));
    // The awaiting task received every outcome: the policy heard nothing.
    assert_unreported::<Res<T, 1>>();
}

/// Spawns from this plain thread on the current runtime, or (refused there) on `rt`.
fn spawn_here<T: TestRuntime>(
    rt: &T::Rt,
    guard: AsyncDropGuard<Res<T, 4>>,
) -> CleanupHandle<Res<T, 4>> {
    match spawn_async_drop_current::<T::Rt, _>(guard) {
        Ok(handle) => {
            assert!(T::CURRENT_ON_PLAIN_THREADS);
            handle
        }
        Err(err) => {
            assert!(!T::CURRENT_ON_PLAIN_THREADS);
            let message = err.to_string();
            let no_runtime = format!("no {} runtime", <T::Rt as Runtime>::NAME);
            assert!(message.contains(&no_runtime), "{message}");
            assert!(message.contains(name::<Res<T, 4>>()), "{message}");
            assert!(format!("{err:?}").contains(name::<Res<T, 4>>()));
            spawn_async_drop_on(rt, err.into_guard())
        }
    }
}

#[allow(
    clippy::async_yields_async,
    reason = "the handles are awaited on another executor"
)]
pub fn spawn_from_plain_threads<T: TestRuntime>() {
    let (t, counts) = (T::new(), recording());
    let rt = t.runtime();
    // This thread, outside the body: nothing happened to a refused value.
    let first = spawn_here::<T>(
        &rt,
        Res::guard(&counts, How::Sleep(Duration::from_millis(2))),
    );
    let (c, r) = (counts.clone(), rt.clone());
    let second = t.block_on(bounded::<T, _>(async {
        let second =
            on_plain_thread::<T, _>(move || spawn_here::<T>(&r, Res::guard(&c, How::Yield(2))))
                .await;
        eventually_async::<T>("the cleanups", || {
            first.is_finished() && second.is_finished()
        })
        .await;
        second
    }));
    // Any executor can await the handles.
    futures_executor::block_on(first).unwrap();
    futures_executor::block_on(second).unwrap();
    assert_eq!((counts.finished(), counts.drops()), (2, 2));
    assert_unreported::<Res<T, 4>>();
}

pub fn detached_failures_and_panics_go_to_the_policy<T: TestRuntime>() {
    type X<T> = Res<T, 3>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        // Dropped while the cleanup runs (or before): the task reports.
        drop(spawn_async_drop_on(
            &rt,
            X::<T>::guard(&counts, How::Fail(9)),
        ));
        drop(spawn_async_drop_on(&rt, X::<T>::guard(&counts, How::Panic)));
        eventually_async::<T>("two reports", || reports::<X<T>>().len() == 2).await;

        // Dropped after the cleanup finished, never awaited: the dropper reports.
        let late = spawn_async_drop_on(&rt, X::<T>::guard(&counts, How::Fail(10)));
        eventually_async::<T>("the cleanup to finish", || late.is_finished()).await;
        assert_eq!(reports::<X<T>>().len(), 2);
        drop(late);
    });
    let seen = reports::<X<T>>();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let (failed, panicked): (Vec<_>, Vec<_>) =
        seen.iter().partition(|s| s.kind == ReportKind::Failed);
    assert_eq!((failed.len(), panicked.len()), (2, 1), "{seen:?}");
    assert_eq!(panicked[0].kind, ReportKind::Panicked);
    let mut details: Vec<_> = failed.iter().map(|s| s.detail.clone().unwrap()).collect();
    details.sort();
    assert_eq!(details, ["ResError(10)", "ResError(9)"]);
    let expected = Some("\"res 3 cleanup panicked\"");
    assert_eq!(panicked[0].detail.as_deref(), expected);
    assert!(panicked[0].message.contains("panicked during cleanup"));
    assert_eq!(counts.drops(), 3);
}

pub fn spawn_on_drop_spawns_in_the_background<T: TestRuntime>() {
    type X<T> = Res<T, 7>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let res = |how| X::<T>::guard(&counts, how);
        let (gate, opener) = gate();
        let value = SpawnOnDrop::<_, T::Rt>::new(res(How::Gate(gate)));
        assert!(SpawnOnDrop::runtime(&value).is_some());
        assert!(matches!(value.how, How::Gate(_))); // derefs to the value
        assert!(format!("{value:?}").contains("SpawnOnDrop"));
        drop(value); // returns at once: the cleanup waits at the gate, elsewhere
        assert_eq!(counts.finished(), 0);
        eventually_async::<T>("the cleanup to start", || counts.started() == 1).await;
        assert_eq!(counts.finished(), 0);
        opener.open();
        eventually_async::<T>("the spawned cleanup", || counts.finished() == 1).await;
        assert_eq!(counts.drops(), 1);

        // A failure of a dropped `SpawnOnDrop` is reported.
        drop(SpawnOnDrop::with_runtime(res(How::Fail(3)), rt.clone()));
        eventually_async::<T>("the failure report", || !kinds::<X<T>>().is_empty()).await;
        assert_eq!(kinds::<X<T>>(), [ReportKind::Failed]);
        assert_eq!(reports::<X<T>>()[0].detail.as_deref(), Some("ResError(3)"));

        // Dropped on a plain thread: the runtime captured in the body (or given) is used.
        let sleep = || How::Sleep(Duration::from_millis(1));
        let captured = SpawnOnDrop::<_, T::Rt>::new(res(sleep()));
        let given = SpawnOnDrop::with_runtime(res(sleep()), rt.clone());
        on_plain_thread::<T, _>(move || drop((captured, given))).await;
        eventually_async::<T>("the spawned cleanups", || counts.finished() == 4).await;

        // Explicit paths: spawn with a handle, or take the guard back.
        let value = SpawnOnDrop::<_, T::Rt>::new(res(How::Succeed));
        SpawnOnDrop::spawn(value).unwrap().await.unwrap();
        let value = SpawnOnDrop::with_runtime(res(How::Succeed), rt.clone());
        assert!(SpawnOnDrop::runtime(&value).is_some());
        SpawnOnDrop::into_guard(value).async_drop().await.unwrap();
    });
    assert_eq!((counts.finished(), counts.drops()), (6, 6));
    assert_eq!(kinds::<X<T>>().len(), 1);
}

pub fn spawn_on_drop_made_on_a_plain_thread<T: TestRuntime>() {
    type X<T> = Res<T, 5>;
    let (_t, counts) = body::<T, _>(|rt, c| {
        on_plain_thread::<T, _>(move || {
            let value = SpawnOnDrop::<_, T::Rt>::new(X::<T>::guard(&c, How::Succeed));
            assert_eq!(
                SpawnOnDrop::runtime(&value).is_some(),
                T::CURRENT_ON_PLAIN_THREADS
            );
            drop(value);
            if T::CURRENT_ON_PLAIN_THREADS {
                super::rt::eventually("the spawned cleanup", || c.finished() == 1);
                assert_unreported::<X<T>>();
            } else {
                // No runtime anywhere: reported, dropped without cleanup.
                let failure = one_failure::<X<T>>();
                let detail = failure.detail.as_ref().unwrap();
                let no_runtime = format!("no {} runtime", <T::Rt as Runtime>::NAME);
                assert!(detail.contains(&no_runtime), "{detail}");
                assert_eq!((c.started(), c.drops()), (0, 1));
                let value = SpawnOnDrop::<_, T::Rt>::new(X::<T>::guard(&c, How::Succeed));
                let err = SpawnOnDrop::spawn(value).unwrap_err();
                block_on_async_drop_on(&rt, err.into_guard(), PATIENCE).unwrap();
            }
        })
    });
    assert_eq!(
        counts.drops(),
        1 + usize::from(!T::CURRENT_ON_PLAIN_THREADS)
    );
}

pub fn a_panicking_policy_in_a_background_task_is_contained<T: TestRuntime>() {
    type X<T> = Res<T, 17>; // the recording hook panics on its failures
    install_recording_hook(&[name::<X<T>>()]);
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        for _ in 0..4 {
            drop(SpawnOnDrop::with_runtime(
                X::<T>::guard(&counts, How::Fail(1)),
                rt.clone(),
            ));
        }
        eventually_async::<T>("four reports", || kinds::<X<T>>().len() == 4).await;
        // The panics ended their tasks, not the runtime: it still runs cleanups.
        spawn_async_drop_on(&rt, X::<T>::guard(&counts, How::Yield(3)))
            .await
            .unwrap();
    });
    assert_eq!(kinds::<X<T>>(), [ReportKind::Failed; 4]);
    assert_eq!((counts.finished(), counts.drops()), (5, 5));
}

pub fn background_cleanups_are_counted_and_waited_for<T: TestRuntime>() {
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let (gate, opener) = gate();
        for _ in 0..3 {
            let guard = Res::<T, 9>::guard(&counts, How::Gate(gate.clone()));
            drop(SpawnOnDrop::with_runtime(guard, rt.clone()));
        }
        // (Other tests run background cleanups too: only lower bounds hold here.)
        assert!(T::background_cleanups() >= 3);
        eventually_async::<T>("the cleanups to start", || counts.started() == 3).await;
        // Held at the gate: the wait gives up and says how many still run.
        let (left, waited) = on_plain_thread::<T, _>(|| {
            let started = Instant::now();
            let left = T::wait_for_background_cleanups(Duration::from_millis(50));
            (left, started.elapsed())
        })
        .await;
        assert!(left >= 3, "{left}");
        assert!(waited >= Duration::from_millis(50));
        assert!(waited < Duration::from_secs(5));

        opener.open();
        // Every background cleanup of every test ends: none is left running forever.
        let left = on_plain_thread::<T, _>(|| T::wait_for_background_cleanups(PATIENCE)).await;
        assert_eq!(left, 0);
        T::background_cleanups_finished().await;
    });
    assert_eq!((counts.finished(), counts.drops()), (3, 3));
    assert_unreported::<Res<T, 9>>();
}

// The cleanup worker --------------------------------------------------------------

pub fn reaper_cleans_up_ten_thousand_values_from_std_threads_under_back_pressure<T: TestRuntime>() {
    type X<T> = Res<T, 10>;
    const THREADS: usize = 4;
    const PER_THREAD: usize = 2_500;
    const CAPACITY: usize = 16;
    const N: usize = THREADS * PER_THREAD;
    let (t, counts) = (T::new(), recording());
    let (gate, opener) = gate();
    let (reaper, worker) = Reaper::<X<T>, T::Rt>::spawn_on(&t.runtime(), CAPACITY);

    let producers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (reaper, counts, gate) = (reaper.clone(), counts.clone(), gate.clone());
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // Mostly instant cleanups; the first ones wait at the gate.
                    let how = if i < CAPACITY {
                        How::Gate(gate.clone())
                    } else {
                        How::Yield(i % 3)
                    };
                    // Blocks while the queue is full (or, where blocking could
                    // deadlock, leaves the value to an overflow task).
                    drop(ReaperDrop::new(X::<T>::guard(&counts, how), &reaper));
                }
            })
        })
        .collect();

    let stats = t.block_on(bounded::<T, _>(async {
        // The gate holds the first cleanups: the worker runs `CAPACITY` of them,
        // the queue fills up behind them.
        eventually_async::<T>("the queue to fill up", || {
            reaper.queued() == CAPACITY && counts.started() == CAPACITY
        })
        .await;
        T::sleep(Duration::from_millis(50)).await;
        let started = counts.started();
        assert_eq!(started, CAPACITY, "the worker must not run more at once");
        assert_eq!(reaper.queued(), CAPACITY);
        assert_eq!(counts.drops(), 0);
        assert!(!worker.is_finished());
        opener.open();

        eventually_async::<T>("the producers", || {
            producers.iter().all(|p| p.is_finished())
        })
        .await;
        for p in producers {
            p.join().unwrap();
        }
        eventually_async::<T>("every cleanup", || counts.finished() == N).await;
        reaper.shutdown();
        worker.await.unwrap()
    }));
    assert_eq!(
        (stats.cleaned, stats.total()),
        (N as u64, N as u64),
        "{stats}"
    );
    // Every value cleaned up and dropped exactly once.
    super::assert_counts(&counts, N, N, N);
    assert!(counts.max_in_flight.load(Ordering::SeqCst) <= CAPACITY);
    assert_unreported::<X<T>>();
}

pub fn reaper_counts_and_reports_failures_and_panics<T: TestRuntime>() {
    type X<T> = Res<T, 11>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        // No capacity: refused.
        let spawn = AssertUnwindSafe(|| Reaper::<Res<T, 21>, T::Rt>::spawn_on(&rt, 0));
        let panic = catch_unwind(spawn).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains(name::<Res<T, 21>>()), "{message}");

        let res = |how| X::<T>::guard(&counts, how);
        let (reaper, worker) = Reaper::<_, T::Rt>::spawn(4);
        assert!(format!("{reaper:?}").contains(name::<X<T>>()));
        for how in [How::Succeed, How::Fail(5), How::Panic, How::Yield(3)] {
            reaper.hand_over(res(how)).await.unwrap();
        }
        assert!(reaper.shutdown());
        assert!(!reaper.shutdown());
        assert!(reaper.is_shut_down());
        let stats = worker.await.unwrap();
        assert_eq!((stats.cleaned, stats.failed, stats.panicked), (2, 1, 1));
        assert_eq!(stats.to_string(), "2 cleaned up, 1 failed, 1 panicked");
        let mut seen = kinds::<X<T>>();
        seen.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(seen, [ReportKind::Failed, ReportKind::Panicked]);
        assert_eq!(counts.drops(), 4);

        // Shut down: the guard comes back.
        let err = reaper.hand_over(res(How::Succeed)).await.unwrap_err();
        assert!(err.is_closed());
        assert!(err.to_string().contains("shut down"), "{err}");
        err.into_guard().async_drop().await.unwrap();
        let err = reaper.try_hand_over(res(How::Succeed)).unwrap_err();
        assert!(err.is_closed());
        err.into_guard().async_drop().await.unwrap();
    });
    assert_eq!(counts.drops(), 6);
}

/// A worker of capacity 1 busy with a cleanup held at a gate, a full queue behind it.
async fn busy_worker<T: TestRuntime, const TAG: u32>(
    rt: &T::Rt,
    counts: &Arc<Counters>,
) -> (Reaper<Res<T, TAG>, T::Rt>, ReaperWorker, Opener) {
    let (gate, opener) = gate();
    let (reaper, worker) = Reaper::spawn_on(rt, 1);
    reaper
        .hand_over(Res::guard(counts, How::Gate(gate)))
        .await
        .unwrap();
    eventually_async::<T>("the gated cleanup to start", || counts.started() == 1).await;
    reaper
        .try_hand_over(Res::guard(counts, How::Succeed))
        .unwrap();
    assert_eq!(reaper.queued(), 1);
    (reaper, worker, opener)
}

/// `hand_over_blocking` with a full queue that `opener` makes room in 20ms from now:
/// where it may block it waits for the room, elsewhere it refuses (and the value is
/// handed over asynchronously).
async fn hand_over_blocking_or_refused<X, R>(
    reaper: &Reaper<X, R>,
    guard: AsyncDropGuard<X>,
    may_block: bool,
    opener: Opener,
) where
    X: AsyncDrop + 'static,
    X::Error: Debug,
    R: Runtime,
{
    assert_eq!(reaper.runtime().blocking_could_deadlock(), !may_block);
    // The opener says when it made room: a call that blocked returns after that.
    let opening = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        let opened = Instant::now();
        opener.open();
        opened
    });
    let result = reaper.hand_over_blocking(guard);
    let returned = Instant::now();
    let opened = opening.join().unwrap();
    match result {
        Ok(()) => {
            assert!(may_block, "blocked where it could deadlock");
            assert!(returned >= opened, "returned before there was room");
        }
        Err(err) => {
            assert!(!may_block, "refused where it may block: {err}");
            assert!(matches!(err, HandOverError::WouldBlock(_)), "{err:?}");
            assert!(err.to_string().contains("deadlock"), "{err}");
            reaper.hand_over(err.into_guard()).await.unwrap();
        }
    }
}

pub fn hand_over_blocking_in_the_runtime<T: TestRuntime>() {
    type X<T> = Res<T, 19>;
    let (_t, _) = body::<T, _>(|rt, _| async move {
        // In the body, in a task of the runtime, on a plain thread; each time with a
        // full queue and a gate that opens a little later.
        for place in ["body", "task", "plain thread"] {
            let counts = Counters::new();
            let (reaper, mut worker, opener) = busy_worker::<T, 19>(&rt, &counts).await;
            assert_eq!(reaper.capacity(), 1);
            let full = reaper
                .try_hand_over(X::<T>::guard(&counts, How::Succeed))
                .unwrap_err();
            assert!(matches!(full, HandOverError::Full(_)), "{full:?}");
            assert!(poll_once(&mut worker).is_pending());
            assert!(!worker.is_finished());
            let (guard, r) = (full.into_guard(), reaper.clone());
            let may_block = match place {
                "body" => T::BODY_MAY_BLOCK,
                "task" => T::TASKS_MAY_BLOCK,
                _ => T::PLAIN_THREADS_MAY_BLOCK,
            };
            let handing = async move {
                hand_over_blocking_or_refused(&r, guard, may_block, opener).await;
            };
            match place {
                "body" => handing.await,
                "task" => spawn_join(&rt, handing).await,
                _ => on_plain_thread::<T, _>(move || futures_executor::block_on(handing)).await,
            }
            reaper.shutdown();
            assert_eq!(worker.await.unwrap().cleaned, 3, "{place}");
            assert_eq!(counts.drops(), 3, "{place}");
        }
    });
    assert_unreported::<X<T>>();
}

pub fn reaper_drop_where_the_queue_is_full_overflows_into_tasks<T: TestRuntime>() {
    type X<T> = Res<T, 13>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let limit = Duration::from_millis(20);
        let (reaper, worker, opener) = busy_worker::<T, 13>(&rt, &counts).await;
        // Full. Where blocking could deadlock an overflow task takes the value at
        // once; elsewhere the drop waits `limit`, then an overflow task takes it.
        for _ in 0..2 {
            let guard = X::<T>::guard(&counts, How::Yield(1));
            drop(ReaperDrop::with_wait_limit(guard, &reaper, limit));
        }
        let (r, c) = (reaper.clone(), counts.clone());
        spawn_join(&rt, async move {
            let guard = X::<T>::guard(&c, How::Yield(1));
            drop(ReaperDrop::with_wait_limit(guard, &r, limit));
        })
        .await;
        assert_eq!(counts.started(), 1);
        assert_eq!(counts.drops(), 0, "nothing lost: overflow tasks hold them");
        assert!(T::background_cleanups() >= 3);

        opener.open();
        eventually_async::<T>("all five cleaned up", || counts.finished() == 5).await;
        reaper.shutdown();
        let stats = worker.await.unwrap();
        assert_eq!(stats.cleaned, 5, "overflow went through the worker");

        // After shutdown a dropped value is cleaned up by a task of its own.
        drop(ReaperDrop::new(
            X::<T>::guard(&counts, How::Succeed),
            &reaper,
        ));
        eventually_async::<T>("the late one", || counts.finished() == 6).await;
    });
    assert_eq!(counts.drops(), 6);
    assert_unreported::<X<T>>();
}

pub fn a_stuck_worker_does_not_hang_a_dropping_thread<T: TestRuntime>() {
    type X<T> = Res<T, 18>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let (reaper, worker, opener) = busy_worker::<T, 18>(&rt, &counts).await;
        let limit = Duration::from_millis(50);
        let guard = X::<T>::guard(&counts, How::Succeed);
        let value = ReaperDrop::with_wait_limit(guard, &reaper, limit);
        assert_eq!(ReaperDrop::wait_limit(&value), limit);
        assert_eq!(ReaperDrop::reaper(&value).capacity(), 1);
        assert!(format!("{value:?}").contains("ReaperDrop"));
        let waited = on_plain_thread::<T, _>(move || {
            let started = Instant::now();
            drop(value);
            started.elapsed()
        })
        .await;
        // Where it may block it waits `limit`; elsewhere it does not wait at all.
        assert_eq!(waited >= limit, T::PLAIN_THREADS_MAY_BLOCK, "{waited:?}");
        assert_eq!(counts.drops(), 0, "nothing lost: an overflow task holds it");
        assert!(T::background_cleanups() >= 1);

        opener.open();
        reaper.shutdown();
        eventually_async::<T>("all three cleaned up", || counts.finished() == 3).await;
        let stats = worker.await.unwrap();
        assert!(stats.cleaned >= 2, "{stats}");
    });
    assert_eq!(counts.drops(), 3);
    assert_unreported::<X<T>>();
}

pub fn a_panicking_policy_does_not_stop_the_worker<T: TestRuntime>() {
    type X<T> = Res<T, 16>; // the recording hook panics on its failures
    install_recording_hook(&[name::<X<T>>()]);
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let (reaper, worker) = Reaper::spawn_on(&rt, 2);
        for how in [How::Fail(1), How::Succeed, How::Fail(2), How::Yield(2)] {
            reaper.hand_over(X::<T>::guard(&counts, how)).await.unwrap();
        }
        reaper.shutdown();
        // The worker finishes every cleanup, then hands the policy's panic over.
        let err = worker.await.unwrap_err();
        assert!(err.is_panic() && !err.is_cancelled(), "{err:?}");
        let panic = err.into_panic().unwrap();
        let message = panic.message().unwrap().to_owned();
        assert!(message.starts_with("policy panics on"), "{message}");
        assert!(panic.to_string().contains("a task panicked"));
        assert!(panic
            .into_payload()
            .downcast_ref::<String>()
            .is_some_and(|m| *m == message));
    });
    assert_eq!((counts.started(), counts.drops()), (4, 4));
    assert_eq!(kinds::<X<T>>(), [ReportKind::Failed, ReportKind::Failed]);
}

#[allow(
    clippy::async_yields_async,
    reason = "the handles are awaited on another executor"
)]
pub fn reaper_worker_reports_when_it_stopped<T: TestRuntime>() {
    type X<T> = Res<T, 15>;
    let (t, counts) = (T::new(), recording());
    let zero = ReaperStats::default();
    assert_eq!(
        (zero.cleaned, zero.failed, zero.panicked, zero.total()),
        (0, 0, 0, 0)
    );
    let (reaper, worker) = Reaper::<X<T>, T::Rt>::spawn_on(&t.runtime(), 2);
    assert!(!worker.is_finished());
    assert!(format!("{worker:?}").contains("finished: false"));
    let worker = t.block_on(bounded::<T, _>(async {
        // Room in the queue: handed over at once, wherever this runs.
        reaper
            .hand_over_blocking(X::<T>::guard(&counts, How::Succeed))
            .unwrap();
        drop(reaper);
        eventually_async::<T>("the worker to stop", || worker.is_finished()).await;
        worker
    }));
    let stats = futures_executor::block_on(worker).unwrap();
    assert_eq!(stats.total(), 1);
    assert_ne!(stats, zero);
    assert_eq!((stats.cleaned, counts.drops()), (1, 1));
    assert_unreported::<X<T>>();
}

// Deadline ------------------------------------------------------------------------

pub fn deadline_passes_the_result_through_or_expires_typed<T: TestRuntime>() {
    type X<T> = Res<T, 22>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let res = |how| X::<T>::guard(&counts, how);
        let limit = Duration::from_secs(5);
        let cleanup = async_drop_timeout_current::<T::Rt, _>(
            res(How::Sleep(Duration::from_millis(1))),
            limit,
        );
        assert_eq!(cleanup.limit(), limit);
        cleanup.await.unwrap();
        let err = async_drop_timeout_on(&rt, res(How::Fail(4)), limit)
            .await
            .unwrap_err();
        assert!(!err.is_expired());
        assert_eq!(err.to_string(), "cleanup failed: res error 4");
        assert_eq!(err.into_failed(), Some(ResError(4)));
        // A deadline too far out for the clock never fires.
        async_drop_timeout_on(&rt, res(How::Yield(2)), Duration::MAX)
            .await
            .unwrap();

        // Expiry in the body, in a task, and on another executor on a plain thread.
        deadline_expires::<T, 23>(rt.clone()).await;
        spawn_join(&rt, deadline_expires::<T, 24>(rt.clone())).await;
        let r = rt.clone();
        on_plain_thread::<T, _>(move || futures_executor::block_on(deadline_expires::<T, 25>(r)))
            .await;
        // The current runtime's deadline from a plain thread: there or refused.
        on_plain_thread::<T, _>(|| {
            let counts = Counters::new();
            let guard = Res::<T, 27>::guard(&counts, How::Succeed);
            let limit = Duration::from_secs(5);
            let made = catch_unwind(AssertUnwindSafe(move || {
                futures_executor::block_on(async_drop_timeout_current::<T::Rt, _>(guard, limit))
            }));
            match made {
                Ok(result) => {
                    assert!(T::CURRENT_ON_PLAIN_THREADS);
                    result.unwrap();
                    assert_eq!(counts.finished(), 1);
                }
                Err(panic) => {
                    assert!(!T::CURRENT_ON_PLAIN_THREADS);
                    let message = panic.downcast_ref::<String>().unwrap();
                    let outside = format!("outside a {} runtime", <T::Rt as Runtime>::NAME);
                    assert!(message.contains(&outside), "{message}");
                    assert!(message.contains(name::<Res<T, 27>>()), "{message}");
                }
            }
            assert_eq!(counts.drops(), 1);
        })
        .await;
    });
    assert_eq!((counts.finished(), counts.drops()), (3, 3));
    assert_unreported::<X<T>>();
}

/// A cleanup that never finishes, under a deadline on `rt`'s timer.
pub async fn deadline_expires<T: TestRuntime, const TAG: u32>(rt: T::Rt) {
    let counts = Counters::new();
    let limit = Duration::from_millis(30);
    let started = Instant::now();
    let err = async_drop_timeout_on(&rt, Res::<T, TAG>::guard(&counts, How::Pending), limit)
        .await
        .unwrap_err();
    assert!(started.elapsed() >= limit);
    let DeadlineError::Expired { type_name, after } = &err else {
        panic!("expected expiry, got {err:?}");
    };
    assert_eq!((*type_name, *after), (name::<Res<T, TAG>>(), limit));
    assert!(err.is_expired());
    let message = err.to_string();
    assert!(message.contains(name::<Res<T, TAG>>()), "{message}");
    assert!(message.contains("30ms"), "{message}");
    // The cleanup was dropped before the error came back: the value is gone, once.
    super::assert_counts(&counts, 1, 0, 1);
    // The typed error is the report: no second, `Cancelled`, report.
    assert_unreported::<Res<T, TAG>>();
}

// Blocking from sync code ---------------------------------------------------------

type Blocked = Result<(), BlockingError<ResError>>;

/// Blocks with `block` on cleanups that succeed (`first`), fail, panic, then with
/// `block_for` on one that outlasts its limit: the caller gets each outcome.
pub fn block_on_every_outcome<T: TestRuntime, const TAG: u32>(
    c: &Arc<Counters>,
    first: How,
    block: impl Fn(AsyncDropGuard<Res<T, TAG>>) -> Blocked,
    block_for: impl Fn(AsyncDropGuard<Res<T, TAG>>, Duration) -> Blocked,
) {
    let block = |how| block(Res::<T, TAG>::guard(c, how));
    block(first).unwrap();
    assert_eq!(
        block(How::Fail(1)).unwrap_err().into_failed(),
        Some(ResError(1))
    );
    let err = block(How::Panic).unwrap_err();
    let p = err
        .panic()
        .unwrap_or_else(|| panic!("expected a panic, got {err:?}"));
    assert_eq!(p.message(), Some(&*format!("res {TAG} cleanup panicked")));
    assert_eq!(c.drops(), 3);
    assert_unreported::<Res<T, TAG>>();

    // A wait that runs out: the cleanup goes on in the background.
    let slow = Res::<T, TAG>::guard(c, How::Sleep(Duration::from_millis(300)));
    let limit = Duration::from_millis(20);
    let started = Instant::now();
    let err = block_for(slow, limit).unwrap_err();
    assert!(started.elapsed() >= limit);
    let BlockingError::TimedOut { type_name, after } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!((*type_name, *after), (name::<Res<T, TAG>>(), limit));
    assert!(err.is_timed_out());
    assert!(err.to_string().contains("goes on in the background"));
    assert_eq!(c.drops(), 3);
}

pub fn blocking_from_a_plain_thread<T: TestRuntime>() {
    type X<T> = Res<T, 31>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let (c, outcomes) = (counts.clone(), Counters::new());
        let o = outcomes.clone();
        let (first, second) = on_plain_thread::<T, _>(move || {
            // The first cleanup needs the runtime's timer.
            let on = |guard, limit| block_on_async_drop_on(&rt, guard, limit);
            let sleep = How::Sleep(Duration::from_millis(2));
            block_on_every_outcome::<T, 30>(&o, sleep, |g| on(g, DEFAULT_WAIT_LIMIT), on);

            // Two more time out at their gates; the second fails once it passes.
            let (gate, opener) = gate();
            let guard = X::<T>::guard(&c, How::Gate(gate));
            let err = block_on_async_drop_on(&rt, guard, Duration::ZERO).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            let (gate, second) = super::rt::gate();
            let guard = X::<T>::guard(&c, How::GateThenFail(gate, 99));
            let err = block_on_async_drop_on(&rt, guard, Duration::from_millis(5)).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            (opener, second)
        })
        .await;
        // (The panicking cleanup never counted as finished.)
        eventually_async::<T>("the slow cleanup", || outcomes.finished() == 3).await;
        eventually_async::<T>("the slow value to be dropped", || outcomes.drops() == 4).await;
        first.open();
        eventually_async::<T>("the first cleanup", || counts.finished() == 1).await;
        assert_unreported::<X<T>>();
        // It fails after the caller stopped waiting: the policy hears of it.
        second.open();
        eventually_async::<T>("the failure report", || !kinds::<X<T>>().is_empty()).await;
    });
    assert_eq!(
        one_failure::<X<T>>().detail.as_deref(),
        Some("ResError(99)")
    );
    assert_eq!(counts.drops(), 2);
    assert_unreported::<Res<T, 30>>();
}

pub fn blocking_inside_the_runtime<T: TestRuntime>() {
    type X<T> = Res<T, 32>;
    const TASKS: usize = 12; // more than the runtime has threads
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        // A synchronous function called from the body.
        let on = |guard, limit| block_on_async_drop_on(&rt, guard, limit);
        let first = needs_timer::<T>(2);
        block_on_every_outcome::<T, 32>(&counts, first, |g| on(g, DEFAULT_WAIT_LIMIT), on);
        eventually_async::<T>("the timed-out cleanup", || counts.finished() == 3).await;

        // In tasks: every runtime thread may block here at once.
        let tasks: Vec<_> = (0..TASKS as u64)
            .map(|i| {
                let (r, c) = (rt.clone(), counts.clone());
                spawn_join(&rt, async move {
                    let how = needs_timer::<T>(5 + i);
                    block_on_async_drop_on(&r, X::<T>::guard(&c, how), DEFAULT_WAIT_LIMIT).unwrap();
                    let guard = X::<T>::guard(&c, How::Panic);
                    let e = block_on_async_drop_on(&r, guard, DEFAULT_WAIT_LIMIT).unwrap_err();
                    assert!(e.panic().is_some(), "{e:?}");
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(
        (counts.finished(), counts.drops()),
        (3 + TASKS, 4 + 2 * TASKS)
    );
    assert_unreported::<X<T>>();
}

pub fn block_on_drop_cleans_up_before_the_drop_returns<T: TestRuntime>() {
    type X<T> = Res<T, 33>;
    let (_t, counts) = body::<T, _>(|rt, c| {
        on_plain_thread::<T, _>(move || {
            let guard = X::<T>::guard(&c, How::Sleep(Duration::from_millis(1)));
            let value = BlockOnDrop::with_runtime(guard, rt.clone());
            assert_eq!(BlockOnDrop::limit(&value), DEFAULT_WAIT_LIMIT);
            let value = BlockOnDrop::with_limit(value, PATIENCE);
            assert_eq!(BlockOnDrop::limit(&value), PATIENCE);
            assert!(matches!(value.how, How::Sleep(_))); // derefs to the value
            assert!(format!("{value:?}").contains("BlockOnDrop"));
            drop(value);
            super::assert_counts(&c, 1, 1, 1);
            // A failure is reported on the dropping thread.
            drop(BlockOnDrop::with_runtime(
                X::<T>::guard(&c, How::Fail(6)),
                rt.clone(),
            ));
            assert_eq!(one_failure::<X<T>>().detail.as_deref(), Some("ResError(6)"));
            // Taken back out: no cleanup.
            let value = BlockOnDrop::with_runtime(X::<T>::guard(&c, How::Succeed), rt.clone());
            let guard = BlockOnDrop::into_guard(value);
            assert_eq!(c.started(), 2);
            block_on_async_drop_on(&rt, guard, PATIENCE).unwrap();
        })
    });
    super::assert_counts(&counts, 3, 3, 3);
    assert_eq!(kinds::<X<T>>(), [ReportKind::Failed]);
}

// Every adapter future, dropped after every number of polls -----------------------

/// `AsyncDropTimeout` dropped after `k` polls, for every `k` until it completes:
/// each cut-off value is dropped once and reported `Cancelled`; the completed one
/// gives its result, is dropped once and reported nowhere.
pub fn deadline_cancelled_at_every_poll<T: TestRuntime>() {
    body::<T, _>(|rt, counts| async move {
        sweep_deadline::<T, 40>(&rt, &counts, How::Yield(3), None);
        sweep_deadline::<T, 41>(&rt, &counts, How::YieldThenFail(2, 8), Some(ResError(8)));
    });
}

fn sweep_deadline<T: TestRuntime, const TAG: u32>(
    rt: &T::Rt,
    counts: &Arc<Counters>,
    how: How,
    error: Option<ResError>,
) {
    let polls_to_finish = match how {
        How::Yield(n) | How::YieldThenFail(n, _) => n + 1,
        _ => unreachable!(),
    };
    let (drops, finished) = (counts.drops(), counts.finished());
    for k in 0.. {
        let guard = Res::<T, TAG>::guard(counts, how.clone());
        let mut cleanup = Box::pin(async_drop_timeout_on(rt, guard, PATIENCE));
        assert!(format!("{cleanup:?}").contains(name::<Res<T, TAG>>()));
        match poll_times(&mut cleanup, k) {
            None => {
                assert!(!cleanup.is_terminated());
                drop(cleanup);
                assert_eq!(counts.drops(), drops + k + 1, "k = {k}");
                assert_eq!(counts.finished(), finished, "k = {k}");
                assert_eq!(kinds::<Res<T, TAG>>(), vec![ReportKind::Cancelled; k + 1]);
            }
            Some(result) => {
                assert_eq!(k, polls_to_finish);
                assert!(cleanup.is_terminated());
                assert_eq!(
                    result.map_err(DeadlineError::into_failed),
                    error.map_or(Ok(()), |e| Err(Some(e)))
                );
                drop(cleanup);
                assert_eq!(counts.drops(), drops + k + 1);
                assert_eq!(counts.finished(), finished + 1);
                assert_eq!(kinds::<Res<T, TAG>>(), vec![ReportKind::Cancelled; k]);
                return;
            }
        }
    }
}

/// `HandOver` dropped after `k` polls: with the queue full, then with room until done.
pub fn hand_over_cancelled_at_every_poll<T: TestRuntime>() {
    type X<T> = Res<T, 42>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        let (reaper, worker, opener) = busy_worker::<T, 42>(&rt, &counts).await;
        for k in 0..4 {
            let mut handing = Box::pin(reaper.hand_over(X::<T>::guard(&counts, How::Succeed)));
            assert!(format!("{handing:?}").contains(name::<X<T>>()));
            assert!(poll_times(&mut handing, k).is_none(), "the queue is full");
            drop(handing);
            assert_eq!(counts.drops(), k + 1);
            assert_eq!(kinds::<X<T>>(), vec![ReportKind::Cancelled; k + 1]);
        }
        opener.open();
        eventually_async::<T>("room in the queue", || {
            counts.finished() == 2 && reaper.queued() == 0
        })
        .await;
        for k in 0.. {
            let mut handing = Box::pin(reaper.hand_over(X::<T>::guard(&counts, How::Succeed)));
            match poll_times(&mut handing, k) {
                None => {
                    drop(handing);
                    assert_eq!(kinds::<X<T>>(), vec![ReportKind::Cancelled; 5 + k]);
                }
                Some(result) => {
                    assert_eq!(k, 1, "room: handed over at the first poll");
                    result.unwrap();
                    break;
                }
            }
        }
        drop(reaper);
        assert_eq!(worker.await.unwrap().cleaned, 3);
    });
    // Two in the busy worker, five cut off, one handed over: each dropped once.
    assert_eq!((counts.finished(), counts.drops()), (3, 8));
    assert_eq!(kinds::<X<T>>(), [ReportKind::Cancelled; 5]);
}

/// `CleanupHandle` dropped after `k` polls detaches: the cleanup goes on, reports
/// only its own failure; awaited to the end it gives the result instead.
pub fn cleanup_handle_dropped_at_every_poll<T: TestRuntime>() {
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        sweep_handle::<T, 43>(&rt, &counts, None).await;
        sweep_handle::<T, 44>(&rt, &counts, Some(12)).await;
    });
    assert_eq!((counts.finished(), counts.drops()), (10, 10));
}

async fn sweep_handle<T: TestRuntime, const TAG: u32>(
    rt: &T::Rt,
    counts: &Arc<Counters>,
    fails: Option<u32>,
) {
    let base = counts.drops();
    let how = |gate| match fails {
        None => How::Gate(gate),
        Some(code) => How::GateThenFail(gate, code),
    };
    for k in 0..4 {
        let (gate, opener) = gate();
        let mut handle = spawn_async_drop_on(rt, Res::<T, TAG>::guard(counts, how(gate)));
        assert!(poll_times(&mut handle, k).is_none(), "held at the gate");
        assert!(!handle.is_terminated());
        drop(handle);
        assert_eq!(counts.drops(), base + k, "the drop did not cancel");
        opener.open();
        eventually_async::<T>("the detached cleanup", || counts.drops() == base + k + 1).await;
        let expected = if fails.is_some() { k + 1 } else { 0 };
        eventually_async::<T>("its report", || kinds::<Res<T, TAG>>().len() == expected).await;
        assert_eq!(kinds::<Res<T, TAG>>(), vec![ReportKind::Failed; expected]);
    }
    // Polled to the end: the handle receives the result; the policy is not told.
    let (gate, opener) = gate();
    let mut handle = spawn_async_drop_on(rt, Res::<T, TAG>::guard(counts, how(gate)));
    assert!(poll_once(&mut handle).is_pending());
    opener.open();
    let result = poll_to_end::<T, _>(&mut handle).await;
    assert!(handle.is_terminated());
    match fails {
        None => result.unwrap(),
        Some(code) => assert_eq!(result.unwrap_err().into_failed(), Some(ResError(code))),
    }
    drop(handle);
    assert_eq!(
        kinds::<Res<T, TAG>>().len(),
        if fails.is_some() { 4 } else { 0 }
    );
}

/// `ReaperWorker` dropped after `k` polls detaches: the worker goes on and cleans up
/// what it has; polled to the end it gives the statistics.
pub fn reaper_worker_dropped_at_every_poll<T: TestRuntime>() {
    type X<T> = Res<T, 45>;
    let (_t, counts) = body::<T, _>(|rt, counts| async move {
        for k in 0..4 {
            let (gate, opener) = gate();
            let (reaper, mut worker) = Reaper::spawn_on(&rt, 2);
            reaper
                .try_hand_over(X::<T>::guard(&counts, How::Gate(gate)))
                .unwrap();
            assert!(poll_times(&mut worker, k).is_none(), "held at the gate");
            assert!(!worker.is_terminated());
            drop(worker);
            opener.open();
            reaper.shutdown();
            eventually_async::<T>("the detached worker", || counts.drops() == k + 1).await;
            assert_eq!(counts.finished(), k + 1);
        }
        let (reaper, mut worker) = Reaper::spawn_on(&rt, 2);
        reaper
            .try_hand_over(X::<T>::guard(&counts, How::Yield(2)))
            .unwrap();
        assert!(poll_once(&mut worker).is_pending());
        reaper.shutdown();
        let stats = poll_to_end::<T, _>(&mut worker).await.unwrap();
        assert!(worker.is_terminated() && worker.is_finished());
        assert_eq!((stats.cleaned, stats.total()), (1, 1));
    });
    assert_eq!((counts.finished(), counts.drops()), (5, 5));
    assert_unreported::<X<T>>();
}

// End to end over loopback sockets ------------------------------------------------

const CLIENTS: usize = 200;

/// Counts the drops of the client it belongs to.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A client connection whose cleanup says goodbye, optionally waits for the server's
/// ack, then shuts the connection down (through the stream's own cleanup).
struct Client<T: TestNet> {
    stream: T::Stream,
    wait_for_ack: bool,
    _drops: DropCount,
}

impl<T: TestNet> AsyncDrop for Client<T> {
    type Error = io::Error;

    async fn async_drop_impl(self) -> io::Result<()> {
        let Client {
            mut stream,
            wait_for_ack,
            _drops,
        } = self;
        T::write_all(&mut stream, b"goodbye\n").await?;
        if wait_for_ack {
            T::read(&mut stream, &mut [0; 1]).await?;
        }
        stream.async_drop_impl().await
    }
}

#[derive(Default)]
struct ServerCounts {
    accepted: AtomicUsize,
    goodbyes: AtomicUsize,
    eofs: AtomicUsize,
    unexpected: AtomicUsize,
}

impl ServerCounts {
    fn saw_all(&self) -> bool {
        self.goodbyes.load(Ordering::SeqCst) == CLIENTS
            && self.eofs.load(Ordering::SeqCst) == CLIENTS
    }
}

/// Accepts the clients in tasks of `rt`; reads each to the end, counting a lone
/// "goodbye" line and the EOF. A stalling server reads nothing until `stall` opens.
fn serve<T: TestNet>(
    rt: &T::Rt,
    listener: T::Listener,
    counts: Arc<ServerCounts>,
    stall: Option<super::rt::Gate>,
) {
    let spawner = rt.clone();
    rt.spawn(async move {
        for _ in 0..CLIENTS {
            let mut stream = T::accept(&listener).await.unwrap();
            counts.accepted.fetch_add(1, Ordering::SeqCst);
            let (counts, stall) = (counts.clone(), stall.clone());
            spawner.spawn(async move {
                if let Some(stall) = stall {
                    stall.pass().await; // never acks, reads nothing meanwhile
                }
                let (mut data, mut buf) = (Vec::new(), [0; 64]);
                loop {
                    match T::read(&mut stream, &mut buf).await {
                        Ok(0) => break,
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                        Err(_) => {
                            counts.unexpected.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                }
                counts.eofs.fetch_add(1, Ordering::SeqCst);
                match &*data {
                    b"goodbye\n" => counts.goodbyes.fetch_add(1, Ordering::SeqCst),
                    _ => counts.unexpected.fetch_add(1, Ordering::SeqCst),
                };
            });
        }
    });
}

async fn connect_all<T: TestNet>(
    addr: SocketAddr,
    wait_for_ack: bool,
    drops: &Arc<AtomicUsize>,
) -> AsyncDropGuard<AsyncDropVec<Client<T>>> {
    let mut clients = AsyncDropVec::new();
    for _ in 0..CLIENTS {
        clients.push(AsyncDropGuard::new(Client::<T> {
            stream: T::connect(addr).await.unwrap(),
            wait_for_ack,
            _drops: DropCount(drops.clone()),
        }));
    }
    clients
}

pub fn end_to_end_two_hundred_clients_say_goodbye<T: TestNet>() {
    let (_t, _) = body::<T, _>(|rt, _| async move {
        // One guarded stream first: what it wrote, then the end of the stream.
        let (listener, addr) = T::bind().await.unwrap();
        let mut client = AsyncDropGuard::new(T::connect(addr).await.unwrap());
        let mut server = T::accept(&listener).await.unwrap();
        T::write_all(&mut client, b"last words").await.unwrap();
        client.async_drop().await.unwrap();
        let (mut got, mut buf) = (Vec::new(), [0; 64]);
        loop {
            match T::read(&mut server, &mut buf).await.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got, b"last words");

        let (listener, addr) = T::bind().await.unwrap();
        let server = Arc::new(ServerCounts::default());
        serve::<T>(&rt, listener, server.clone(), None);
        let drops = Arc::new(AtomicUsize::new(0));
        let clients = connect_all::<T>(addr, false, &drops).await;
        assert_eq!(clients.len(), CLIENTS);

        // All 200 cleaned up together, concurrently, in this task.
        clients.async_drop().await.unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), CLIENTS);

        eventually_async::<T>("200 goodbyes and 200 EOFs", || server.saw_all()).await;
        assert_eq!(server.accepted.load(Ordering::SeqCst), CLIENTS);
        assert_eq!(server.unexpected.load(Ordering::SeqCst), 0);
    });
    assert_unreported::<Client<T>>();
    assert_unreported::<AsyncDropVec<Client<T>>>();
    assert_unreported::<T::Stream>();
}

pub fn end_to_end_a_stalled_server_hits_the_deadline<T: TestNet>() {
    let (_t, _) = body::<T, _>(|rt, _| async move {
        let (listener, addr) = T::bind().await.unwrap();
        let server = Arc::new(ServerCounts::default());
        let (stall, unstall) = gate();
        serve::<T>(&rt, listener, server.clone(), Some(stall));
        let drops = Arc::new(AtomicUsize::new(0));
        let clients = connect_all::<T>(addr, true, &drops).await;

        // The server never acks: every cleanup waits, and the deadline runs out.
        let limit = Duration::from_millis(300);
        let started = Instant::now();
        let err = async_drop_timeout_current::<T::Rt, _>(clients, limit)
            .await
            .unwrap_err();
        assert!(started.elapsed() >= limit);
        let DeadlineError::Expired { type_name, after } = &err else {
            panic!("expected expiry, got {err:?}");
        };
        assert!(type_name.contains("AsyncDropVec"), "{type_name}");
        assert!(type_name.contains("Client"), "{type_name}");
        assert_eq!(*after, limit);
        // Every client was dropped (its socket closed) when the deadline hit.
        assert_eq!(drops.load(Ordering::SeqCst), CLIENTS);
        eventually_async::<T>("every connection accepted", || {
            server.accepted.load(Ordering::SeqCst) == CLIENTS
        })
        .await;

        // The server wakes up and finds every goodbye, then the closed connection.
        unstall.open();
        eventually_async::<T>("200 goodbyes and 200 EOFs", || server.saw_all()).await;
        assert_eq!(server.unexpected.load(Ordering::SeqCst), 0);
    });
    // The typed error was the report: nothing went to the policy.
    assert_unreported::<Client<T>>();
    assert_unreported::<AsyncDropVec<Client<T>>>();
}
