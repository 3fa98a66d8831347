//! The tokio adapter on current-thread and multi-thread runtimes: the suite on both,
//! and what is tokio's own (no runtime, shutdown, `LocalSet`, its resources).
#![cfg(feature = "tokio")]

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use asyncdrop::rt::tokio::{
    block_on_async_drop, block_on_async_drop_timeout, spawn_async_drop, spawn_async_drop_on,
    BlockingError, Reaper, SpawnOnDrop,
};
use asyncdrop::{AsyncDropGuard, ReportKind};
#[cfg(all(unix, feature = "tokio-process"))]
use common::rt::assert_process_gone;
use common::rt::{
    assert_cancelled, assert_unreported, bounded, eventually, eventually_async, kinds, recording,
    reports, task_cleanup_waits_for_the_task, How, Res, SetOnDrop,
};
#[cfg(any(feature = "tokio-fs", feature = "tokio-io-util"))]
use common::rt::{assert_read_back, pattern, temp_path};
use common::suite::{block_on_every_outcome, TestRuntime};
use common::Counters;
use tokio::runtime::{Builder, Handle};

/// A tokio runtime of its own per test: multi-thread (two workers) or current-thread.
struct Tokio<const MULTI: bool>(tokio::runtime::Runtime);

type CurrentThread = Tokio<false>;
type MultiThread = Tokio<true>;

impl<const MULTI: bool> TestRuntime for Tokio<MULTI> {
    type Rt = Handle;
    const BODY_MAY_BLOCK: bool = MULTI;
    const TASKS_MAY_BLOCK: bool = MULTI;
    const PLAIN_THREADS_MAY_BLOCK: bool = MULTI;
    const CURRENT_ON_PLAIN_THREADS: bool = false;
    const TIMER_NEEDS_THE_BODY: bool = !MULTI;

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
    fn new() -> Self {
        let mut builder = match MULTI {
            true => Builder::new_multi_thread(),
            false => Builder::new_current_thread(),
        };
        Tokio(builder.worker_threads(2).enable_all().build().unwrap())
    }
    fn runtime(&self) -> Handle {
        self.0.handle().clone()
    }
    fn block_on<F: Future>(&self, body: F) -> F::Output {
        self.0.block_on(body)
    }
    common::rt::module_cleanups!(tokio);
}

/// tokio's TCP, for the end-to-end tests (`TcpStream`'s cleanup needs `tokio-net`).
#[cfg(feature = "tokio-net")]
mod net {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    common::rt::test_net!([const MULTI: bool] Tokio<MULTI>: TcpListener, TcpStream);

    common::suite::net_suite!(current_thread_net: CurrentThread);
    common::suite::net_suite!(multi_thread_net: MultiThread);
}

common::suite::adapter_suite!(current_thread: CurrentThread);
common::suite::adapter_suite!(multi_thread: MultiThread);

// The current runtime, runtime shutdown, blocking where tokio is special ----------

#[test]
fn outside_a_runtime_spawn_hands_the_guard_back_and_block_on_uses_a_temporary_one() {
    type R = Res<CurrentThread, 100>;
    let counts = recording();
    let err = spawn_async_drop(R::guard(&counts, How::Succeed)).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no tokio runtime"), "{message}");
    assert!(message.contains(std::any::type_name::<R>()), "{message}");
    assert!(format!("{err:?}").contains(std::any::type_name::<R>()));
    // Nothing happened to the value; it can still be cleaned up.
    assert_eq!((counts.started(), counts.drops()), (0, 0));
    block_on_async_drop(err.into_guard()).unwrap();
    assert_eq!((counts.finished(), counts.drops()), (1, 1));
    assert_unreported::<R>();

    // Blocking uses a temporary runtime, which has a timer (the first cleanup needs
    // it); the cleanup that times out goes on on a helper thread.
    let counts = Counters::new();
    let first = How::Sleep(Duration::from_millis(2));
    let (block, block_for) = (block_on_async_drop, block_on_async_drop_timeout);
    block_on_every_outcome::<CurrentThread, 105>(&counts, first, block, block_for);
    // (The panicking cleanup never counted as finished.)
    eventually("the slow cleanup to finish", || counts.finished() == 3);
    eventually("the slow value to be dropped", || counts.drops() == 4);
}

#[test]
fn runtime_shutdown_reports_pending_cleanups_as_cancelled_current_thread() {
    type R = Res<CurrentThread, 101>;
    type Owned = Res<CurrentThread, 103>;
    let (counts, owned) = (recording(), Counters::new());
    let rt = CurrentThread::new().0;
    // One cleanup that started and waits forever, one that never got to run, and a
    // task that owns a `SpawnOnDrop` and never finishes (a request handler).
    let started = spawn_async_drop_on(rt.handle(), R::guard(&counts, How::Pending));
    let o = owned.clone();
    let owner = rt.spawn(async move {
        let _value = SpawnOnDrop::new(Owned::guard(&o, How::Succeed));
        std::future::pending::<()>().await;
    });
    rt.block_on(tokio::task::yield_now()); // runs both up to their `pending()`
    let never_ran = spawn_async_drop_on(rt.handle(), R::guard(&counts, How::Succeed));
    assert_eq!(counts.started(), 1);
    // Drops the tasks, on this thread; the owned value's drop spawns onto the closing
    // runtime, which drops that task at once: reported, not lost.
    drop(rt);

    assert_eq!(kinds::<R>(), [ReportKind::Cancelled, ReportKind::Cancelled]);
    assert_eq!(counts.drops(), 2);
    assert_eq!(counts.finished(), 0);
    assert_cancelled([started, never_ran]);
    assert_eq!(kinds::<Owned>(), [ReportKind::Cancelled]);
    assert_eq!((owned.started(), owned.drops()), (0, 1));
    let owner = futures_executor::block_on(owner);
    assert!(owner.unwrap_err().is_cancelled());
}

#[test]
fn runtime_shutdown_reports_pending_cleanups_as_cancelled_multi_thread() {
    type R = Res<CurrentThread, 102>;
    let counts = recording();
    let rt = MultiThread::new().0;
    let handles: Vec<_> = (0..4)
        .map(|_| spawn_async_drop_on(rt.handle(), R::guard(&counts, How::Pending)))
        .collect();
    eventually("the cleanups to start", || counts.started() == 4);
    rt.shutdown_timeout(Duration::from_secs(5));

    eventually("four cancellation reports", || kinds::<R>().len() == 4);
    assert!(kinds::<R>().iter().all(|k| *k == ReportKind::Cancelled));
    assert_eq!(counts.drops(), 4);
    assert_cancelled(handles);
}

#[test]
fn reaper_dies_with_its_runtime_and_reports_what_it_held() {
    type R = Res<CurrentThread, 104>;
    let counts = recording();
    let rt = CurrentThread::new().0;
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
    // The worker's task takes the running cleanups and the queued values with it.
    assert_eq!(
        kinds::<R>(),
        [ReportKind::Cancelled; 4],
        "{:?}",
        reports::<R>()
    );
    assert_eq!(counts.drops(), 4);
    drop(reaper); // nothing left in the queue to report
    assert_eq!(kinds::<R>(), [ReportKind::Cancelled; 4]);
    assert_eq!(counts.drops(), 4);
    let joined = futures_executor::block_on(worker);
    assert!(joined.unwrap_err().is_cancelled());
}

#[tokio::test]
async fn block_on_on_a_current_thread_runtime() {
    type R = Res<CurrentThread, 106>;
    let counts = recording();
    // A cleanup that needs nothing from the blocked runtime finishes on the helper
    // thread.
    block_on_async_drop(R::guard(&counts, How::Yield(3))).unwrap();
    assert_eq!(counts.finished(), 1);

    // One that needs the runtime's timer cannot progress while the runtime's only
    // thread blocks: the wait gives up with a typed error, and no panic, no hang.
    let slow = R::guard(&counts, How::Sleep(Duration::from_millis(1)));
    let err = block_on_async_drop_timeout(slow, Duration::from_millis(100)).unwrap_err();
    let BlockingError::TimedOut { type_name, after } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert!(type_name.ends_with(std::any::type_name::<R>()));
    assert_eq!(*after, Duration::from_millis(100));
    assert_eq!(counts.finished(), 1);
    // Once the runtime runs again, the cleanup finishes.
    bounded::<CurrentThread, _>(eventually_async::<CurrentThread>(
        "the timed-out cleanup",
        || counts.finished() == 2,
    ))
    .await;
    assert_eq!(counts.drops(), 2);
    assert_unreported::<R>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_on_inside_a_local_set_falls_back_to_a_helper_thread() {
    type R = Res<CurrentThread, 107>;
    let counts = recording();
    let local = tokio::task::LocalSet::new();
    let c = counts.clone();
    local
        .run_until(async move {
            block_on_async_drop(R::guard(&c, How::Sleep(Duration::from_millis(2)))).unwrap();
        })
        .await;
    assert_eq!((counts.finished(), counts.drops()), (1, 1));
}

// tokio's own resources -----------------------------------------------------------

#[cfg(feature = "tokio-fs")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_file_is_flushed_and_synced() {
    use tokio::io::AsyncWriteExt;
    let path = temp_path("tokio", "file");
    let data = pattern(300_000);
    let mut file = AsyncDropGuard::new(tokio::fs::File::create(&path).await.unwrap());
    for chunk in data.chunks(7_001) {
        file.write_all(chunk).await.unwrap();
    }
    file.async_drop().await.unwrap();
    assert_read_back(&path, &data);
}

#[cfg(feature = "tokio-io-util")]
#[tokio::test]
async fn a_guarded_buf_writer_writes_out_its_buffer() {
    use tokio::io::{AsyncWriteExt, BufWriter};
    let path = temp_path("tokio", "bufwriter");
    let data = pattern(50_000);
    let file = tokio::fs::File::create(&path).await.unwrap();
    let mut out = AsyncDropGuard::new(BufWriter::with_capacity(4096, file));
    for chunk in data.chunks(13) {
        out.write_all(chunk).await.unwrap();
    }
    out.async_drop().await.unwrap();
    assert_read_back(&path, &data);
}

#[test]
fn a_guarded_join_handle_returns_after_the_task_is_gone_and_reports_its_panic() {
    for rt in [CurrentThread::new().0, MultiThread::new().0] {
        rt.block_on(async {
            task_cleanup_waits_for_the_task::<CurrentThread, _>(false, tokio::spawn).await;
            let task = AsyncDropGuard::new(tokio::spawn(async { panic!("task panicked") }));
            eventually_async::<CurrentThread>("the task to finish", || task.is_finished()).await;
            assert!(task.async_drop().await.unwrap_err().is_panic());
            // A finished task is fine.
            let task = AsyncDropGuard::new(tokio::spawn(async { 5 }));
            eventually_async::<CurrentThread>("the task to finish", || task.is_finished()).await;
            task.async_drop().await.unwrap();
        });
    }
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
    eventually_async::<CurrentThread>("the tasks to run", || started.load(Ordering::SeqCst) == 4)
        .await;
    set.async_drop().await.unwrap();
    assert!(flags.iter().all(|f| f.load(Ordering::SeqCst)));
}

#[cfg(all(unix, feature = "tokio-process"))]
#[tokio::test]
async fn a_guarded_child_process_is_killed_and_reaped() {
    let child = tokio::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut child = AsyncDropGuard::new(child);
    assert!(child.try_wait().unwrap().is_none(), "running");
    let started = std::time::Instant::now();
    child.async_drop().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_process_gone(pid);
}

#[cfg(all(unix, feature = "tokio-net"))]
#[tokio::test]
async fn a_guarded_unix_stream_shutdown_is_seen_as_eof() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
    let mut a = AsyncDropGuard::new(a);
    a.write_all(b"bye").await.unwrap();
    a.async_drop().await.unwrap();
    let mut got = Vec::new();
    bounded::<CurrentThread, _>(b.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"bye");
}
