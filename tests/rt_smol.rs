//! The smol adapter: the suite on the global executor and on one run by our threads,
//! and what is smol's own (user executors, `LocalExecutor`s, smol's resources).
#![cfg(feature = "smol")]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use asyncdrop::rt::smol::{
    block_on_async_drop, block_on_async_drop_timeout, spawn_async_drop_on, BackgroundError,
    HandOverError, Reaper, Smol, SpawnOnDrop,
};
use asyncdrop::{AsyncDrop, AsyncDropGuard, ReportKind};
#[cfg(unix)]
use common::rt::assert_process_gone;
use common::rt::{
    assert_cancelled, assert_read_back, assert_unreported, bounded, eventually_async, gate, kinds,
    pattern, recording, task_cleanup_waits_for_the_task, temp_path, How, Res, ResError, PATIENCE,
};
use common::suite::{deadline_expires, TestRuntime};
use common::{poll_once, Counters};
use futures_util::future::join_all;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use smol::net::{TcpListener, TcpStream};
use smol::{Async, Executor, LocalExecutor, Timer};

/// An executor of our own, run by `threads` threads until it is dropped.
struct Pool {
    executor: Arc<Executor<'static>>,
    stop: Option<smol::channel::Sender<()>>,
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

/// smol's global executor, or (`OWN`) an executor of our own run by two threads.
struct SmolTest<const OWN: bool>(Option<Pool>);

type Global = SmolTest<false>;
type OwnExecutor = SmolTest<true>;

impl<const OWN: bool> TestRuntime for SmolTest<OWN> {
    type Rt = Smol;
    const BODY_MAY_BLOCK: bool = true; // `smol::block_on` runs no executor
    const TASKS_MAY_BLOCK: bool = false;
    const CURRENT_ON_PLAIN_THREADS: bool = true;

    async fn sleep(d: Duration) {
        Timer::after(d).await;
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        smol::future::yield_now()
    }
    fn new() -> Self {
        SmolTest(OWN.then(|| Pool::new(2)))
    }
    fn runtime(&self) -> Smol {
        match &self.0 {
            Some(pool) => Smol::from(pool.executor.clone()),
            None => Smol::global(),
        }
    }
    fn block_on<F: Future>(&self, body: F) -> F::Output {
        smol::block_on(body)
    }
    common::rt::module_cleanups!(smol);
}

common::rt::test_net!([const OWN: bool] SmolTest<OWN>: TcpListener, TcpStream);

common::suite::adapter_suite!(global: Global);
common::suite::adapter_suite!(own_executor: OwnExecutor);
common::suite::net_suite!(global_net: Global);
common::suite::net_suite!(own_executor_net: OwnExecutor);

// Executors of yours, `LocalExecutor`s --------------------------------------------

#[test]
fn a_user_executor_runs_cleanups_when_it_runs_and_cancels_them_when_dropped() {
    type R = Res<Global, 100>;
    let counts = recording();
    let executor = Executor::new();
    let handle = spawn_async_drop_on(&executor, R::guard(&counts, How::Yield(3)));
    thread::sleep(Duration::from_millis(5));
    assert_eq!(counts.started(), 0, "nothing runs the executor yet");
    assert!(!handle.is_finished());
    smol::block_on(executor.run(bounded::<Global, _>(handle))).unwrap();
    assert_eq!((counts.finished(), counts.drops()), (1, 1));

    // On an executor run by threads of its own.
    let pool = Pool::new(2);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let how = if i == 3 { How::Fail(3) } else { How::Yield(i) };
            spawn_async_drop_on(&pool.executor, R::guard(&counts, how))
        })
        .collect();
    let results = smol::block_on(bounded::<Global, _>(join_all(handles)));
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 7);
    assert!(matches!(
        results[3],
        Err(BackgroundError::Failed(ResError(3)))
    ));
    assert_eq!(counts.drops(), 9);
    assert_unreported::<R>();

    // A dropped executor with one cleanup that started and waits forever, and one
    // that never got to run.
    type C = Res<Global, 101>;
    let (counts, executor) = (Counters::new(), Executor::new());
    let started = spawn_async_drop_on(&executor, C::guard(&counts, How::Pending));
    assert!(executor.try_tick()); // runs it up to its `pending()`
    let never_ran = spawn_async_drop_on(&executor, C::guard(&counts, How::Succeed));
    assert_eq!(counts.started(), 1);
    drop(executor); // drops both tasks, on this thread
    assert_eq!(kinds::<C>(), [ReportKind::Cancelled, ReportKind::Cancelled]);
    assert_eq!(counts.drops(), 2);
    assert_eq!(counts.finished(), 0);
    assert_cancelled([started, never_ran]);
}

#[test]
fn spawn_on_drop_with_a_user_executor() {
    type R = Res<Global, 102>;
    let counts = recording();
    let executor = Arc::new(Executor::new());
    let value = SpawnOnDrop::with_executor(R::guard(&counts, How::Yield(1)), executor.clone());
    assert!(Arc::ptr_eq(
        SpawnOnDrop::executor(&value).unwrap(),
        &executor
    ));
    assert!(format!("{value:?}").contains("user executor"));
    let global = SpawnOnDrop::new(R::guard(&Counters::new(), How::Succeed));
    assert!(SpawnOnDrop::executor(&global).is_none());
    drop(AsyncDropGuard::into_inner_without_cleanup(
        SpawnOnDrop::into_guard(global),
    ));
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

#[test]
fn a_reaper_on_a_user_executor_waits_for_it_and_dies_with_it() {
    type R = Res<Global, 103>;
    let counts = recording();
    let executor = Arc::new(Executor::new());
    let (reaper, mut worker) = Reaper::spawn_on(&Smol::from(executor.clone()), 1);
    assert!(Arc::ptr_eq(reaper.executor().unwrap(), &executor));
    assert!(Reaper::<R>::spawn(1).0.executor().is_none());
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
    smol::block_on(executor.run(bounded::<Global, _>(async {
        reaper.hand_over(full.into_guard()).await.unwrap();
        reaper.shutdown();
        let stats = (&mut worker).await.unwrap();
        assert_eq!(stats.cleaned, 2);
    })));
    assert!(worker.is_finished());
    assert_eq!(counts.drops(), 2);
    assert_unreported::<R>();

    // A reaper dies with its executor and reports what it held.
    type D = Res<Global, 104>;
    let (counts, executor) = (Counters::new(), Arc::new(Executor::new()));
    let (reaper, worker) = Reaper::spawn_on(&Smol::from(executor.clone()), 2);
    // Two taken by the worker (its limit), two more queued behind them.
    for _ in 0..2 {
        reaper
            .try_hand_over(D::guard(&counts, How::Pending))
            .unwrap();
        while executor.try_tick() {}
    }
    for _ in 0..2 {
        reaper
            .try_hand_over(D::guard(&counts, How::Pending))
            .unwrap();
    }
    while executor.try_tick() {}
    assert_eq!(counts.started(), 2); // two running, two queued
    assert_eq!(reaper.queued(), 2);
    // The reaper holds the executor too: dropping our `Arc` ends nothing yet.
    drop(executor);
    assert_unreported::<D>();
    // With the last reaper handle the executor goes, and with it the worker: the
    // running cleanups and the queued values are each reported.
    drop(reaper);
    assert_eq!(kinds::<D>(), [ReportKind::Cancelled; 4]);
    assert_eq!(counts.drops(), 4);
    assert_eq!(counts.finished(), 0);
    let err = smol::block_on(worker).unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert!(err.to_string().contains("executor was dropped"), "{err}");
}

#[test]
fn block_on_in_a_local_executor_task_never_hangs_and_deadline_expiry_is_typed() {
    type R = Res<Global, 106>;
    let counts = recording();
    let local = LocalExecutor::new();
    let (closed, open) = gate();
    smol::block_on(local.run(bounded::<Global, _>(async {
        // A cleanup that needs nothing from this thread finishes in place.
        block_on_async_drop(R::guard(&counts, How::Sleep(Duration::from_millis(2)))).unwrap();
        assert_eq!(counts.finished(), 1);

        // One waiting for a sibling task of this blocked executor times out, typed.
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
        // Once the executor runs, the sibling opens the gate: done on the helper thread.
        sibling.await;
        eventually_async::<Global>("the timed-out cleanup", || counts.finished() == 2).await;
    })));
    assert_eq!(counts.drops(), 2);
    assert_unreported::<R>();
    // A deadline that expires in a task of a local executor.
    smol::block_on(local.run(local.spawn(deadline_expires::<Global, 105>(Smol::global()))));
}

// smol's own resources ------------------------------------------------------------

#[test]
fn guarded_files_and_buf_writers_write_out_everything() {
    let (path, buffered) = (temp_path("smol", "file"), temp_path("smol", "bufwriter"));
    let (data, small) = (pattern(300_000), pattern(50_000));
    smol::block_on(bounded::<Global, _>(async {
        let mut file = AsyncDropGuard::new(smol::fs::File::create(&path).await.unwrap());
        for chunk in data.chunks(7_001) {
            file.write_all(chunk).await.unwrap();
        }
        // No flush by hand: the cleanup writes out what is still in flight.
        file.async_drop().await.unwrap();

        let file = smol::fs::File::create(&buffered).await.unwrap();
        let mut out = AsyncDropGuard::new(BufWriter::with_capacity(4096, file));
        for chunk in small.chunks(13) {
            out.write_all(chunk).await.unwrap();
        }
        out.async_drop().await.unwrap();
    }));
    assert_read_back(&path, &data);
    assert_read_back(&buffered, &small);
}

/// On the global executor, on an executor run by a thread pool, and on a local one;
/// then a task that panics, and one that finished.
#[test]
fn a_guarded_task_returns_after_the_task_is_gone_and_reports_its_panic() {
    fn waits<T: AsyncDrop<Error: std::fmt::Debug>>(
        spawn: impl FnOnce(common::rt::Body) -> T,
    ) -> impl Future<Output = ()> {
        bounded::<Global, _>(task_cleanup_waits_for_the_task::<Global, _>(false, spawn))
    }
    smol::block_on(waits(smol::spawn));
    let pool = Pool::new(2);
    let executor = pool.executor.clone();
    smol::block_on(waits(move |f| executor.spawn(f)));
    let local = std::rc::Rc::new(LocalExecutor::new());
    let l = local.clone();
    smol::block_on(local.run(waits(move |f| l.spawn(f))));

    smol::block_on(bounded::<Global, _>(async {
        let task = AsyncDropGuard::new(smol::spawn(async { panic!("task panicked") }));
        eventually_async::<Global>("the task to finish", || task.is_finished()).await;
        let err = task.async_drop().await.unwrap_err();
        assert_eq!(err.message(), Some("task panicked"));
        assert_eq!(err.to_string(), "a task panicked: task panicked");

        // A finished task is fine.
        let task = AsyncDropGuard::new(smol::spawn(async { 5 }));
        eventually_async::<Global>("the task to finish", || task.is_finished()).await;
        task.async_drop().await.unwrap();
    }));
}

#[cfg(unix)]
#[test]
fn a_guarded_child_process_is_killed_and_reaped() {
    smol::block_on(bounded::<Global, _>(async {
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
        assert_process_gone(pid);

        // One that already exited is just reaped.
        let mut done = AsyncDropGuard::new(smol::process::Command::new("true").spawn().unwrap());
        let _ = done.status().await.unwrap();
        done.async_drop().await.unwrap();
    }));
}

/// Writes `data` to guarded `a` and cleans it up: `b` reads `data`, then the end.
async fn shutdown_is_seen_as_eof<A, B>(a: A, mut b: B, data: &[u8])
where
    A: AsyncWrite + Unpin + AsyncDrop<Error = std::io::Error>,
    B: AsyncRead + Unpin,
{
    let mut a = AsyncDropGuard::new(a);
    a.write_all(data).await.unwrap();
    a.async_drop().await.unwrap();
    let mut got = Vec::new();
    b.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, data);
}

#[test]
fn a_guarded_async_tcp_stream_shutdown_is_seen_as_eof() {
    smol::block_on(bounded::<Global, _>(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // `Async<TcpStream>` (the suite's `TestNet::Stream` is `smol::net::TcpStream`).
        let client = Async::<std::net::TcpStream>::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        shutdown_is_seen_as_eof(client, server, b"net").await;

        // A clone of a guarded `smol::net::TcpStream` sees the shutdown too.
        let client = AsyncDropGuard::new(TcpStream::connect(addr).await.unwrap());
        let mut clone = client.clone();
        client.async_drop().await.unwrap();
        let read = clone.read(&mut [0; 4]).await.unwrap();
        assert_eq!(read, 0, "read side shut down");
    }));
}

#[cfg(unix)]
#[test]
fn a_guarded_unix_stream_shutdown_is_seen_as_eof() {
    smol::block_on(bounded::<Global, _>(async {
        let (a, b) = Async::<std::os::unix::net::UnixStream>::pair().unwrap();
        shutdown_is_seen_as_eof(a, b, b"bye").await;
        let (a, b) = smol::net::unix::UnixStream::pair().unwrap();
        shutdown_is_seen_as_eof(a, b, b"bye").await;
    }));
}
