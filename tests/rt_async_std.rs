//! The async-std adapter (legacy) on its global runtime: the suite, and its resources.
#![cfg(feature = "async-std")]

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_std::net::{TcpListener, TcpStream};
use async_std::prelude::*;
use asyncdrop::rt::async_std::AsyncStd;
use asyncdrop::AsyncDropGuard;
#[cfg(unix)]
use common::rt::assert_process_gone;
use common::rt::{
    assert_read_back, bounded, eventually_async, pattern, task_cleanup_waits_for_the_task,
    temp_path, SetOnDrop,
};
use common::suite::TestRuntime;

/// async-std's global runtime; test bodies run in `async_std::task::block_on`.
struct AsyncStdTest;

impl TestRuntime for AsyncStdTest {
    type Rt = AsyncStd;
    const BODY_MAY_BLOCK: bool = false; // `block_on` runs an async-std task
    const TASKS_MAY_BLOCK: bool = false;
    const CURRENT_ON_PLAIN_THREADS: bool = true;

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(d)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        async_std::task::yield_now()
    }
    fn new() -> Self {
        AsyncStdTest
    }
    fn runtime(&self) -> AsyncStd {
        AsyncStd
    }
    fn block_on<F: Future>(&self, body: F) -> F::Output {
        async_std::task::block_on(body)
    }
    common::rt::module_cleanups!(async_std);
}

common::rt::test_net!([] AsyncStdTest: TcpListener, TcpStream);

common::suite::adapter_suite!(global: AsyncStdTest);
common::suite::net_suite!(global_net: AsyncStdTest);

/// Runs a test body in `async_std::task::block_on`, bounded: a hang is a failure.
fn run<F: Future>(body: F) -> F::Output {
    async_std::task::block_on(bounded::<AsyncStdTest, _>(body))
}

// async-std's own resources -------------------------------------------------------

#[test]
fn guarded_files_and_buf_writers_write_out_everything() {
    let (path, buffered) = (
        temp_path("async-std", "file"),
        temp_path("async-std", "bufwriter"),
    );
    let (data, small) = (pattern(300_000), pattern(50_000));
    run(async {
        let mut file = AsyncDropGuard::new(async_std::fs::File::create(&path).await.unwrap());
        for chunk in data.chunks(7_001) {
            file.write_all(chunk).await.unwrap();
        }
        file.async_drop().await.unwrap();

        let file = async_std::fs::File::create(&buffered).await.unwrap();
        let mut out = AsyncDropGuard::new(async_std::io::BufWriter::with_capacity(4096, file));
        for chunk in small.chunks(13) {
            out.write_all(chunk).await.unwrap();
        }
        out.async_drop().await.unwrap();
    });
    assert_read_back(&path, &data);
    assert_read_back(&buffered, &small);
}

#[test]
fn a_guarded_join_handle_waits_for_the_task_and_reports_its_panic() {
    run(async {
        // A task parked in a timer, and one busy on a thread when cancelled.
        for busy in [false, true] {
            task_cleanup_waits_for_the_task::<AsyncStdTest, _>(busy, async_std::task::spawn).await;
        }

        // A task that finished: reaped, its output dropped (not leaked).
        let output = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicBool::new(false));
        let (o, r) = (output.clone(), ran.clone());
        let task = AsyncDropGuard::new(async_std::task::spawn(async move {
            r.store(true, Ordering::SeqCst);
            SetOnDrop(o)
        }));
        eventually_async::<AsyncStdTest>("the task to run", || ran.load(Ordering::SeqCst)).await;
        async_std::task::sleep(Duration::from_millis(10)).await;
        task.async_drop().await.unwrap();
        eventually_async::<AsyncStdTest>("the output to be dropped", || {
            output.load(Ordering::SeqCst)
        })
        .await;
    });

    // A task cancelled while it unwinds has no panic to report: try a few times.
    let mut caught = None;
    for _ in 0..20 {
        let outcome = run(async {
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let task = AsyncDropGuard::new(async_std::task::spawn(async move {
                r.store(true, Ordering::SeqCst);
                panic!("task panicked on purpose");
            }));
            eventually_async::<AsyncStdTest>("the task to run", || ran.load(Ordering::SeqCst))
                .await;
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

#[cfg(unix)]
#[test]
fn a_guarded_child_process_is_killed_and_reaped() {
    run(async {
        let child = async_std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut child = AsyncDropGuard::new(child);
        assert!(child.try_status().unwrap().is_none(), "running");
        child.async_drop().await.unwrap();
        assert_process_gone(pid);
        // One that already exited is just reaped.
        let mut done = async_std::process::Command::new("true").spawn().unwrap();
        done.status().await.unwrap();
        AsyncDropGuard::new(done).async_drop().await.unwrap();
    });
}
