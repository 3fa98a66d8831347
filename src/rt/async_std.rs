//! The async-std adapter (**legacy**: async-std 1.13 is the last release; the
//! project recommends smol, which runs on the same executor and reactor):
//! [the crate's adapter items](crate::rt) on [`AsyncStd`], and
//! [`AsyncDrop`](crate::AsyncDrop) for `TcpStream`, `UnixStream`, `File`,
//! `BufWriter<W>`, `JoinHandle<T>` (its error: [`TaskPanic`]) and `process::Child`.
//!
//! Everything runs on async-std's global runtime, which starts by itself, so
//! nothing here fails for lack of a runtime, from any thread. It never shuts down:
//! cleanups still running when `main` returns are cut off without a report — wait
//! for them first ([`wait_for_background_cleanups`], the [`ReaperWorker`]).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use asyncdrop::rt::async_std::{spawn_async_drop, wait_for_background_cleanups};
//! use asyncdrop::{AsyncDrop, AsyncDropGuard};
//!
//! struct Session;
//! impl AsyncDrop for Session {
//!     type Error = std::io::Error;
//!     async fn async_drop_impl(self) -> std::io::Result<()> {
//!         async_std::task::sleep(Duration::from_millis(1)).await; // log out
//!         Ok(())
//!     }
//! }
//!
//! async_std::task::block_on(async {
//!     drop(spawn_async_drop(AsyncDropGuard::new(Session))?); // fire and forget
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! assert_eq!(wait_for_background_cleanups(Duration::from_secs(5)), 0); // before exit
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod resources;

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use ::async_std::stream::Interval;
use futures_core::Stream;
use pin_project_lite::pin_project;

use super::{CleanupTracker, Runtime};

runtime_items!(AsyncStd, global, spawn_on);

/// async-std's global runtime as a [`Runtime`]: tasks go to
/// `async_std::task::spawn`, sleeps to its reactor thread, so deadlines work on any
/// executor.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::{spawn_async_drop_on, AsyncStd};
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// async_std::task::block_on(spawn_async_drop_on(&AsyncStd, AsyncDropGuard::new(Conn)))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    type Sleep = Tick;
    const NAME: &'static str = "async-std";

    /// Always: the runtime is global and starts on first use.
    fn current() -> Option<Self> {
        Some(AsyncStd)
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        // Dropping async-std's `JoinHandle` detaches the task.
        drop(::async_std::task::spawn(future));
    }

    fn sleep(&self, duration: Duration) -> Tick {
        Tick {
            interval: ::async_std::stream::interval(duration),
        }
    }

    /// Inside an async-std task (a spawned task, or `async_std::task::block_on`).
    fn blocking_could_deadlock(&self) -> bool {
        ::async_std::task::try_current().is_some()
    }

    fn block_on<F>(&self, future: F, limit: Duration) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        ::async_std::task::block_on(super::runtime::within(self, future, limit))
    }

    fn tracker() -> &'static CleanupTracker {
        static TRACKER: CleanupTracker = CleanupTracker::new();
        &TRACKER
    }
}

pin_project! {
    /// The timer of [`AsyncStd`]: the first tick of an async-std interval (a named
    /// future; async-std's `sleep` is an `async fn`).
    pub struct Tick {
        #[pin]
        interval: Interval,
    }
}

impl Future for Tick {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().interval.poll_next(cx).map(drop)
    }
}

impl fmt::Debug for Tick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tick").finish_non_exhaustive()
    }
}
