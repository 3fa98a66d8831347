//! The suite on a runtime of our own through the public `asyncdrop::rt::Runtime`: a
//! `futures-executor` thread pool with a timer made of sleeping threads.
#![cfg(feature = "rt")]

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use asyncdrop::rt::{CleanupTracker, Runtime};
use common::suite::TestRuntime;
use futures_channel::oneshot;
use futures_executor::ThreadPool;
use futures_util::FutureExt;

/// A thread pool as a [`Runtime`]; current inside its tasks and test bodies.
#[derive(Clone, Debug)]
struct Pool(ThreadPool);

std::thread_local! {
    static CURRENT: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

/// `future`, polled with `pool` as the current runtime.
struct Entered<F> {
    pool: Pool,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let outer = CURRENT.with(|c| c.replace(Some(self.pool.clone())));
        let poll = self.future.as_mut().poll(cx);
        CURRENT.with(|c| *c.borrow_mut() = outer);
        poll
    }
}

/// Completes after `duration`, on a thread of its own.
fn timer(duration: Duration) -> oneshot::Receiver<()> {
    let (wake, sleep) = oneshot::channel();
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let _ = wake.send(());
    });
    sleep
}

impl Runtime for Pool {
    type Sleep = oneshot::Receiver<()>;

    fn current() -> Option<Self> {
        CURRENT.with(|c| c.borrow().clone())
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        // A task that panics ends, not the pool's thread.
        let future = AssertUnwindSafe(future).catch_unwind().map(drop);
        self.0.spawn_ok(Entered {
            pool: self.clone(),
            future: Box::pin(future),
        });
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        timer(duration)
    }

    fn blocking_could_deadlock(&self) -> bool {
        false // timers run on threads of their own; the pool has threads to spare
    }

    fn tracker() -> &'static CleanupTracker {
        static TRACKER: CleanupTracker = CleanupTracker::new();
        &TRACKER
    }
}

struct Custom(Pool);

impl TestRuntime for Custom {
    type Rt = Pool;
    const BODY_MAY_BLOCK: bool = true;
    const TASKS_MAY_BLOCK: bool = true;
    const CURRENT_ON_PLAIN_THREADS: bool = false;

    async fn sleep(d: Duration) {
        let _ = timer(d).await;
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        common::yield_now()
    }
    fn new() -> Self {
        let pool = ThreadPool::builder().pool_size(4).create().unwrap();
        Custom(Pool(pool))
    }
    fn runtime(&self) -> Pool {
        self.0.clone()
    }
    fn block_on<F: Future>(&self, body: F) -> F::Output {
        futures_executor::block_on(Entered {
            pool: self.0.clone(),
            future: Box::pin(body),
        })
    }
}

common::suite::adapter_suite!(pool: Custom);
