//! `BlockingDrop`: a synchronous drop that runs the async cleanup on the cleanup thread.
#![cfg(feature = "std")]

use crate::common;

use std::future::Future;
use std::sync::{mpsc, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use asyncdrop::{AsyncDrop, AsyncDropGuard, BlockingDrop, DynAsyncDrop, ReportKind};
use common::reports::{counts_quietly, one_report};
use common::{assert_counts, assert_site, setup, take_reports, Probe, Seen};
use futures_executor::{block_on, LocalPool};
use futures_util::task::LocalSpawnExt;

/// The test that watches the cleanup thread stop when idle needs it to itself.
static SERIAL: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    SERIAL.read().unwrap_or_else(PoisonError::into_inner)
}

fn blocking(probe: Probe) -> BlockingDrop<Probe> {
    BlockingDrop::new(probe.guard())
}

/// The cleanup has finished when `drop` returns.
#[test]
fn on_a_plain_thread_in_a_sync_type_and_in_single_threaded_executors() {
    let _shared = shared();
    let counters = setup();
    drop(blocking(Probe::new(&counters).yields(3)));
    assert_counts(&counters, 1, 1, 1);
    let c = counters.clone();
    let reports = std::thread::spawn(move || {
        drop(blocking(Probe::new(&c).yields(2)));
        assert_counts(&c, 2, 2, 2);
        take_reports()
    });
    assert!(reports.join().unwrap().is_empty());

    struct Client {
        conn: BlockingDrop<Probe>,
        name: &'static str,
    }
    let conn = blocking(Probe::new(&counters).id(4).yields(1));
    let mut client = Client { conn, name: "c" };
    // Deref / DerefMut reach the value.
    assert_eq!(client.conn.id, 4);
    client.conn.id = 5;
    assert_eq!((client.conn.id, client.name), (5, "c"));
    drop(client);
    assert_counts(&counters, 3, 3, 3);

    block_on(async {
        let conn = blocking(Probe::new(&counters).yields(5));
        common::yield_now().await;
        drop(conn);
        assert_counts(&counters, 4, 4, 4);
    });

    let mut pool = LocalPool::new();
    for i in 0..4 {
        let c = counters.clone();
        let task = async move {
            let conn = blocking(Probe::new(&c).id(i).yields(i as usize));
            common::yield_now().await;
            drop(conn);
        };
        pool.spawner().spawn_local(task).unwrap();
    }
    pool.run();
    counts_quietly(&counters, 8, 8, 8);
}

/// Failures are reported on the thread (and in the task) that dropped.
#[test]
fn inside_a_thread_pool_concurrently() {
    let _shared = shared();
    const TASKS: u32 = if cfg!(miri) { 4 } else { 32 };
    let counters = setup();
    let pool = common::JoinedPool::new(4);
    let (tx, rx) = mpsc::channel();
    for i in 0..TASKS {
        let c = counters.clone();
        let tx = tx.clone();
        pool.spawn_ok(async move {
            let probe = Probe::new(&c).id(i).yields(2);
            drop(blocking(if i % 4 == 0 { probe.fail(i) } else { probe }));
            // The report, if any, was made right here, on this thread.
            tx.send((i, take_reports())).unwrap();
        });
    }
    drop(tx);
    let mut seen: Vec<(u32, Vec<Seen>)> = rx.iter().collect();
    seen.sort_by_key(|(i, _)| *i);
    assert_eq!(seen.len(), TASKS as usize);
    for (i, reports) in seen {
        if i % 4 == 0 {
            assert_eq!(reports.len(), 1, "task {i}: {reports:?}");
            assert_eq!(reports[0].kind, ReportKind::Failed);
            let detail = format!("ProbeError {{ id: {i}, code: {i} }}");
            reports[0].says(&detail);
        } else {
            assert!(reports.is_empty(), "task {i}: {reports:?}");
        }
    }
    let n = TASKS as usize;
    counts_quietly(&counters, n, n, n);
}

/// Also for a type-erased guard, and while the thread unwinds (no second panic).
#[test]
fn cleanup_error_is_reported_as_failed_with_the_error() {
    let _shared = shared();
    let counters = setup();
    let probe = Probe::new(&counters).id(2).fail(7);
    let line = line!() + 1;
    drop(BlockingDrop::new(AsyncDropGuard::new(probe)));
    assert_counts(&counters, 1, 1, 1);
    let report = one_report(ReportKind::Failed);
    report
        .of("Probe")
        .says("failed to clean up: ProbeError { id: 2, code: 7 }");
    // Where the guard was created.
    assert_site(report.site, file!(), line);

    type AnyError = Box<dyn std::error::Error + Send + Sync>;
    let erased: AsyncDropGuard<Box<dyn DynAsyncDrop<AnyError>>> =
        AsyncDropGuard::into_dyn(Probe::new(&counters).id(3).fail(4).guard());
    drop(BlockingDrop::new(erased));
    assert_counts(&counters, 2, 2, 2);
    one_report(ReportKind::Failed).says("ProbeError { id: 3, code: 4 }");

    let conn = blocking(Probe::new(&counters).id(9).yields(1).fail(1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _conn = conn;
        panic!("user code failed");
    }));
    assert!(result.is_err());
    assert_counts(&counters, 3, 3, 3);
    one_report(ReportKind::Failed);
}

/// Also a payload that is not a string (no detail) and a panic before the future exists.
#[test]
fn cleanup_panic_is_reported_and_the_cleanup_thread_survives() {
    let _shared = shared();
    let counters = setup();
    drop(blocking(Probe::new(&counters).id(1).yields(1).panics()));
    // Started, never finished, dropped once (while unwinding on the cleanup thread).
    assert_counts(&counters, 1, 0, 1);
    one_report(ReportKind::Panicked).says("panicked during cleanup: \"probe 1 cleanup panicked\"");

    struct Odd;
    impl AsyncDrop for Odd {
        type Error = std::convert::Infallible;
        async fn async_drop_impl(self) -> Result<(), Self::Error> {
            std::panic::panic_any(42_u8)
        }
    }
    drop(BlockingDrop::new(AsyncDropGuard::new(Odd)));
    let report = one_report(ReportKind::Panicked);
    assert!(!report.message.contains("cleanup: "), "{}", report.message);

    struct Eager;
    impl AsyncDrop for Eager {
        type Error = std::convert::Infallible;
        #[allow(
            clippy::manual_async_fn,
            reason = "the panic must happen before the future exists"
        )]
        fn async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> + Send {
            panic!("no future for you");
            #[allow(unreachable_code, reason = "gives the function its return type")]
            async {
                Ok(())
            }
        }
    }
    drop(BlockingDrop::new(AsyncDropGuard::new(Eager)));
    one_report(ReportKind::Panicked).says("no future for you");

    drop(blocking(Probe::new(&counters).id(2).yields(2)));
    counts_quietly(&counters, 2, 1, 2);
}

#[test]
fn into_guard_timeout_debug_and_auto_traits() {
    let _shared = shared();
    fn send_sync<T: Send + Sync>() {}
    send_sync::<BlockingDrop<Probe>>();
    let counters = setup();
    let mut conn = BlockingDrop::with_timeout(
        Probe::new(&counters).id(1).yields(1).guard(),
        Duration::from_secs(3),
    );
    assert_eq!(BlockingDrop::timeout(&conn), Duration::from_secs(3));
    conn.id = 11;
    // Back to the async path without cleanup.
    let guard = BlockingDrop::into_guard(conn);
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(guard.id, 11);
    // And back again.
    let conn = BlockingDrop::new(guard);
    let guard = BlockingDrop::into_guard(conn);
    block_on(guard.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);

    let conn = blocking(Probe::new(&counters).id(6));
    assert_eq!(BlockingDrop::timeout(&conn), Duration::from_secs(10));
    let default = BlockingDrop::<Probe>::DEFAULT_TIMEOUT;
    assert_eq!(default, Duration::from_secs(10));
    let debug = format!("{conn:?}");
    assert!(
        debug.starts_with("BlockingDrop { value: Probe { id: 6"),
        "{debug}"
    );
    assert!(debug.ends_with("timeout: 10s }"), "{debug}");
    drop(conn);
    counts_quietly(&counters, 2, 2, 2);
}

/// Tests that wait on real time: not under miri.
#[cfg(not(miri))]
mod timing {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::sync::{Arc, Mutex};
    use std::thread::ThreadId;

    use futures_channel::oneshot;

    use super::*;
    use common::{record_reports, Counters, ProbeError};

    /// Waits (sleeping) until `done` holds; panics after `limit`.
    fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < limit,
                "condition not reached in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A resource whose cleanup drops another `BlockingDrop` — on the cleanup thread.
    struct Parent(BlockingDrop<Probe>, Probe);

    impl AsyncDrop for Parent {
        type Error = ProbeError;
        async fn async_drop_impl(self) -> Result<(), ProbeError> {
            // Must not block the cleanup thread on itself.
            drop(self.0);
            self.1.async_drop_impl().await
        }
    }

    #[test]
    fn blocking_drop_dropped_on_the_cleanup_thread_does_not_block_it() {
        let _shared = shared();
        let parent_counters = setup();
        let child_counters = Counters::new();
        let child = blocking(Probe::new(&child_counters).yields(3));
        let parent = Parent(child, Probe::new(&parent_counters).yields(1));
        let parent =
            BlockingDrop::with_timeout(AsyncDropGuard::new(parent), Duration::from_secs(5));
        let start = Instant::now();
        drop(parent);
        let elapsed = start.elapsed();
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
        assert_eq!(parent_counters.finished(), 1);
        // The child's cleanup was queued on the cleanup thread; it finishes there.
        wait_until(Duration::from_secs(5), || child_counters.finished() == 1);
        counts_quietly(&child_counters, 1, 1, 1);
    }

    /// A resource whose cleanup waits for a signal from another task.
    struct AwaitsSignal(oneshot::Receiver<()>, Probe);

    impl AsyncDrop for AwaitsSignal {
        type Error = ProbeError;
        async fn async_drop_impl(self) -> Result<(), ProbeError> {
            self.0.await.unwrap();
            self.1.async_drop_impl().await
        }
    }

    /// The cleanup awaits a task of the executor that `Drop` blocks: it finishes later, once.
    #[test]
    fn cleanup_waiting_on_the_blocked_executor_times_out_then_finishes() {
        let _shared = shared();
        const TIMEOUT: Duration = Duration::from_millis(50);
        let counters = setup();
        let (tx, rx) = oneshot::channel();
        let mut pool = LocalPool::new();
        let blocked_for = Rc::new(Cell::new(None));
        let reports = Rc::new(RefCell::new(Vec::new()));

        let (c, b, r) = (counters.clone(), blocked_for.clone(), reports.clone());
        pool.spawner()
            .spawn_local(async move {
                let resource = AsyncDropGuard::new(AwaitsSignal(rx, Probe::new(&c)));
                let resource = BlockingDrop::with_timeout(resource, TIMEOUT);
                let start = Instant::now();
                drop(resource);
                b.set(Some(start.elapsed()));
                // The cleanup has not finished: the sender has not run yet.
                assert_eq!(c.finished(), 0);
                r.borrow_mut().extend(take_reports());
            })
            .unwrap();
        pool.spawner()
            .spawn_local(async move {
                // Whichever task runs first, the signal is sent only after a yield.
                common::yield_now().await;
                tx.send(()).unwrap();
            })
            .unwrap();
        pool.run();

        let blocked_for = blocked_for.get().expect("the dropping task ran");
        assert!(blocked_for >= TIMEOUT, "{blocked_for:?}");
        assert!(
            blocked_for < TIMEOUT + Duration::from_secs(5),
            "{blocked_for:?}"
        );
        let reports = reports.take();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert_eq!(reports[0].kind, ReportKind::Failed);
        reports[0].of("AwaitsSignal").says(
            "failed to clean up: cleanup did not finish within 50ms; \
             it continues on the cleanup thread",
        );

        // The signal has been sent; the cleanup finishes on the cleanup thread.
        wait_until(Duration::from_secs(5), || counters.finished() == 1);
        wait_until(Duration::from_secs(5), || counters.drops() == 1);
        std::thread::sleep(Duration::from_millis(20));
        counts_quietly(&counters, 1, 1, 1);
    }

    /// The name and id of each thread a cleanup ran on.
    type Threads = Arc<Mutex<Vec<(Option<String>, ThreadId)>>>;

    /// Records on which thread its cleanup ran; with `.1`, after a yield.
    struct WhereAmI(Threads, bool);

    impl AsyncDrop for WhereAmI {
        type Error = std::convert::Infallible;
        async fn async_drop_impl(self) -> Result<(), Self::Error> {
            if self.1 {
                common::yield_now().await;
            }
            let me = std::thread::current();
            let mut threads = self.0.lock().unwrap();
            threads.push((me.name().map(String::from), me.id()));
            Ok(())
        }
    }

    /// A [`WhereAmI`] recording into `threads`, on the cleanup thread.
    fn where_am_i(threads: &Threads, yields: bool) -> BlockingDrop<WhereAmI> {
        BlockingDrop::new(AsyncDropGuard::new(WhereAmI(threads.clone(), yields)))
    }

    /// Every poll is there: the dropping thread's context is never seen by part of it.
    #[test]
    fn a_cleanup_ready_at_once_runs_on_the_cleanup_thread_too() {
        let counters = setup();
        let me = std::thread::current().id();
        let ran_on: Threads = Arc::default();
        drop(where_am_i(&ran_on, false));
        let ran_on = ran_on.lock().unwrap().clone();
        let [(name, id)] = &ran_on[..] else {
            panic!("cleaned up once before drop returned: {ran_on:?}")
        };
        assert_ne!(*id, me);
        assert_eq!(name.as_deref(), Some("asyncdrop-cleanup"));
        // A failing one that is ready at once is still reported.
        drop(BlockingDrop::new(Probe::new(&counters).fail(7).guard()));
        assert_eq!((counters.finished(), counters.drops()), (1, 1));
        one_report(ReportKind::Failed);
    }

    #[test]
    fn cleanup_thread_stops_when_idle_and_starts_again() {
        let _alone = SERIAL.write().unwrap_or_else(PoisonError::into_inner);
        record_reports();
        let seen: Threads = Arc::default();
        let drop_one = || drop(where_am_i(&seen, true));
        drop_one();
        drop_one(); // right away: the same thread
        std::thread::sleep(Duration::from_millis(1_200));
        drop_one(); // after a second without work: a new thread
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        for (name, _) in &seen {
            assert_eq!(name.as_deref(), Some("asyncdrop-cleanup"));
        }
        assert_eq!(seen[0].1, seen[1].1);
        assert_ne!(seen[1].1, seen[2].1);
        assert!(take_reports().is_empty());
    }
}

/// Printed, not asserted: run with `--nocapture` to see it.
#[test]
fn cost_per_drop() {
    let _shared = shared();
    const N: usize = if cfg!(miri) { 5 } else { 2_000 };
    let counters = setup();
    drop(blocking(Probe::new(&counters).yields(1))); // start the cleanup thread
    let start = Instant::now();
    for _ in 0..N {
        // Waits once: finished on the cleanup thread.
        drop(blocking(Probe::new(&counters).yields(1)));
    }
    let handed_over = start.elapsed() / N as u32;
    let start = Instant::now();
    for _ in 0..N {
        // Ready at once: handed over all the same.
        drop(blocking(Probe::new(&counters)));
    }
    let ready = start.elapsed() / N as u32;
    println!(
        "BlockingDrop: {:.1} µs per drop of a waiting cleanup, {:.1} µs of a ready one",
        handed_over.as_secs_f64() * 1e6,
        ready.as_secs_f64() * 1e6
    );
    counts_quietly(&counters, 2 * N + 1, 2 * N + 1, 2 * N + 1);
}

/// A cleanup that needs tokio's timer, made at its first poll or (`.1`) after an await.
#[cfg(feature = "tokio")]
struct TokioTimer(Probe, bool);

#[cfg(feature = "tokio")]
impl AsyncDrop for TokioTimer {
    type Error = std::convert::Infallible;
    async fn async_drop_impl(self) -> Result<(), Self::Error> {
        if self.1 {
            common::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        let finished = &self.0.counters.cleanups_finished;
        finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// Without the runtime a timer panics wherever it is made; `BlockOnDrop` runs both in it.
#[cfg(feature = "tokio")]
#[test]
fn a_cleanup_sees_one_context_whatever_it_does_first() {
    use asyncdrop::rt::tokio::BlockOnDrop;
    use common::{record_reports, Counters};
    let _shared = shared();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let counters = Counters::new();
    let c = counters.clone();
    let reports = rt.block_on(async move {
        tokio::spawn(async move {
            record_reports();
            let timer =
                |after_an_await| AsyncDropGuard::new(TokioTimer(Probe::new(&c), after_an_await));
            for after_an_await in [false, true] {
                drop(BlockingDrop::new(timer(after_an_await)));
            }
            let blocking_drop_reports = take_reports();
            for after_an_await in [false, true] {
                drop(BlockOnDrop::new(timer(after_an_await)));
            }
            (blocking_drop_reports, take_reports())
        })
        .await
        .unwrap()
    });
    let (blocking_drop, block_on_drop) = reports;
    let kinds: Vec<_> = blocking_drop.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [ReportKind::Panicked; 2], "{blocking_drop:?}");
    assert!(block_on_drop.is_empty(), "{block_on_drop:?}");
    // Only the two `BlockOnDrop` cleanups finished; all four values were dropped once.
    assert_eq!((counters.finished(), counters.drops()), (2, 4));
}
