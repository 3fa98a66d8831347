//! The async-std adapter (**legacy**: async-std is discontinued upstream): background
//! cleanup, a bounded cleanup worker, deadlines, blocking from sync code, and async
//! drop for async-std's own resources.
//!
//! Enable it with the `async-std` feature:
//!
//! ```toml
//! asyncdrop = { version = "0.1", features = ["async-std"] }
//! ```
//!
//! **Legacy.** async-std 1.13 is the last release: the project is discontinued and
//! recommends smol, which runs on the same executor and reactor. This module is kept
//! for programs that still run on async-std; new code should prefer the smol
//! adapter.
//!
//! # Which runtime
//!
//! Everything here runs on async-std's **global runtime**: an executor thread pool
//! that starts by itself on first use, plus the reactor thread that drives I/O and
//! timers. There is no runtime to create, enter or pass around, so unlike the tokio
//! adapter nothing here fails for lack of a runtime: it works from any thread —
//! inside `async_std::task::block_on`, inside a spawned task, on a plain thread,
//! even inside another executor.
//!
//! The flip side: the global runtime never shuts down. When `main` returns, tasks
//! still running are neither finished nor dropped — a background cleanup cut off
//! that way is lost *without* a report. Wait for what matters before returning: a
//! [`CleanupHandle`], a [`ReaperWorker`], or every background cleanup at once with
//! [`wait_for_background_cleanups`].
//!
//! The runtime is [`AsyncStd`]; the items here are [the crate's adapter
//! items](crate::rt) on it, plus [`AsyncDrop`] for `TcpStream`,
//! `UnixStream`, `File`, `BufWriter<W>`, `JoinHandle<T>` (its error:
//! [`TaskPanic`]) and `process::Child`.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use asyncdrop::rt::async_std::{async_drop_timeout, spawn_async_drop};
//! use asyncdrop::AsyncDropGuard;
//! use async_std::net::{TcpListener, TcpStream};
//! use async_std::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! async_std::task::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!
//!     // `TcpStream` is `AsyncDrop`: its cleanup shuts the connection down.
//!     let mut a = AsyncDropGuard::new(TcpStream::connect(addr).await?);
//!     let mut b = AsyncDropGuard::new(TcpStream::connect(addr).await?);
//!     a.write_all(b"hello").await?;
//!     b.write_all(b"hello").await?;
//!
//!     // One cleaned up with a deadline, in this task ...
//!     async_drop_timeout(a, Duration::from_secs(5)).await?;
//!     // ... the other in the background.
//!     let cleanup = spawn_async_drop(b)?;
//!
//!     for _ in 0..2 {
//!         let (mut peer, _) = listener.accept().await?;
//!         let mut got = String::new();
//!         peer.read_to_string(&mut got).await?; // ends when the client shut down
//!         assert_eq!(got, "hello");
//!     }
//!     cleanup.await?;
//!     Ok(())
//! })
//! # }
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
use crate::{AsyncDrop, AsyncDropGuard};

runtime_items!(AsyncStd);

/// async-std's global runtime as a [`Runtime`]: tasks go to
/// `async_std::task::spawn`, sleeps to its reactor thread, so deadlines work on any
/// executor.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::AsyncStd;
/// use asyncdrop::rt::spawn_async_drop_on;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let cleanup = spawn_async_drop_on(&AsyncStd, AsyncDropGuard::new(Conn));
/// async_std::task::block_on(cleanup)?;
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

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
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

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        ::async_std::task::block_on(future)
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

/// Runs the cleanup of `guard` to completion from synchronous code, waiting at most
/// `limit`, as [`block_on_async_drop_on`](crate::rt::block_on_async_drop_on) on
/// [`AsyncStd`]: in place outside async-std tasks, on a helper thread inside one.
///
/// # Errors
///
/// See [`BlockingError`].
pub fn block_on_async_drop_timeout<T>(
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> Result<(), BlockingError<T::Error>>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    crate::rt::block_on_async_drop_on(&AsyncStd, guard, limit)
}

/// Runs the cleanup of `guard` as a task on async-std, as
/// [`crate::rt::spawn_async_drop_on`].
pub fn spawn_async_drop_on<T>(runtime: &AsyncStd, guard: AsyncDropGuard<T>) -> CleanupHandle<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    crate::rt::spawn_async_drop_on(runtime, guard)
}
