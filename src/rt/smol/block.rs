//! Blocking on a cleanup from synchronous code, on any thread.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::Poll;
use core::time::Duration;
use std::thread;

use ::smol::Timer;

use crate::rt::handle::detached;
use crate::rt::BlockingError;
use crate::wait::wait_for;
use crate::{AsyncDrop, AsyncDropGuard};

/// How long [`block_on_async_drop`] waits for a cleanup at most: 10 seconds.
///
/// Also the default for how long a [`ReaperDrop`](super::ReaperDrop) blocks a
/// dropping thread while the worker's queue is full. Requires the `smol` feature.
///
/// # Examples
///
/// ```
/// assert_eq!(asyncdrop::rt::smol::DEFAULT_BLOCKING_LIMIT.as_secs(), 10);
/// ```
pub const DEFAULT_BLOCKING_LIMIT: Duration = Duration::from_secs(10);

/// Runs the cleanup of `guard` to completion from synchronous code, waiting at most
/// [`DEFAULT_BLOCKING_LIMIT`].
///
/// As [`block_on_async_drop_timeout`] with that limit; see there for where the
/// cleanup runs.
///
/// Requires the `smol` feature (`asyncdrop = { version = "0.1", features =
/// ["smol"] }`); needs no executor.
///
/// # Errors
///
/// The cleanup's error, its panic, or a [`BlockingError::TimedOut`] wait; see
/// [`BlockingError`].
///
/// # Examples
///
/// ```
/// use std::path::PathBuf;
/// use asyncdrop::rt::smol::block_on_async_drop;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct TempDir(PathBuf);
/// impl TempDir {
///     fn create(name: &str) -> std::io::Result<AsyncDropGuard<TempDir>> {
///         let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
///         std::fs::create_dir_all(&path)?;
///         Ok(AsyncDropGuard::new(TempDir(path)))
///     }
/// }
/// impl AsyncDrop for TempDir {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         smol::fs::remove_dir_all(&self.0).await
///     }
/// }
///
/// /// Synchronous code that owns a guarded value.
/// fn finish(dir: AsyncDropGuard<TempDir>) {
///     let path = dir.0.clone();
///     block_on_async_drop(dir).expect("removed");
///     assert!(!path.exists());
/// }
///
/// // On a plain thread ...
/// finish(TempDir::create("asyncdrop-smol-doc-a")?);
/// // ... and inside a task, here on `smol::block_on` (a `LocalExecutor` alike).
/// smol::block_on(async { finish(TempDir::create("asyncdrop-smol-doc-b").unwrap()) });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn block_on_async_drop<T>(guard: AsyncDropGuard<T>) -> Result<(), BlockingError<T::Error>>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    block_on_async_drop_timeout(guard, DEFAULT_BLOCKING_LIMIT)
}

/// Runs the cleanup of `guard` to completion from synchronous code, waiting at most
/// `limit`. Never panics and never hangs, on any thread: a plain thread, inside a
/// task on `smol::block_on`, a [`LocalExecutor`](smol::LocalExecutor), an
/// [`Executor`](smol::Executor) thread, or another runtime's thread.
///
/// Requires the `smol` feature (`asyncdrop = { version = "0.1", features =
/// ["smol"] }`); needs no executor.
///
/// The cleanup runs right here, on this thread (smol's `block_on`, which may
/// nest), for at most `limit`. smol's I/O and timers are driven by its global
/// reactor, so a cleanup that uses them progresses wherever it runs. What cannot
/// progress while this thread blocks is whatever *this thread* would otherwise run:
/// the other tasks of the executor this thread runs (a `LocalExecutor`, or smol's
/// global executor when called on one of its threads). A cleanup that waits for
/// such a task stalls until the limit runs out; then it moves to a helper thread,
/// where it goes on (and finishes once this thread runs its executor again), and
/// this call returns [`BlockingError::TimedOut`]. Prefer `.async_drop().await` or
/// [`spawn_async_drop`](super::spawn_async_drop) in async code.
///
/// # Costs
///
/// A boxed task, a small shared slot and a timer per call; a thread only when the
/// wait runs out.
///
/// # Errors
///
/// - [`BlockingError::Failed`]: the cleanup returned an error;
/// - [`BlockingError::Panicked`]: it panicked (caught; the payload is in the error);
/// - [`BlockingError::TimedOut`]: it did not finish within `limit`. It was **not**
///   cancelled: it goes on in the background, on a helper thread, and if it later
///   fails or panics that is reported through the [`Policy`](crate::Policy);
/// - [`BlockingError::Cancelled`]: a helper thread could not be started for a
///   cleanup that timed out, so it was dropped (also reported as
///   [`ReportKind::Cancelled`](crate::ReportKind::Cancelled)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use asyncdrop::rt::smol::block_on_async_drop_timeout;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Flusher {
///     delay: Duration,
/// }
/// impl AsyncDrop for Flusher {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         smol::Timer::after(self.delay).await;
///         Ok(())
///     }
/// }
///
/// let limit = Duration::from_millis(200);
/// let quick = AsyncDropGuard::new(Flusher { delay: Duration::from_millis(1) });
/// block_on_async_drop_timeout(quick, limit)?;
///
/// let slow = AsyncDropGuard::new(Flusher { delay: Duration::from_millis(400) });
/// let err = block_on_async_drop_timeout(slow, Duration::from_millis(10)).unwrap_err();
/// assert!(err.is_timed_out()); // it goes on, on a helper thread
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn block_on_async_drop_timeout<T>(
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> Result<(), BlockingError<T::Error>>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let (task, mut handle) = detached(guard);
    let mut task: Task = Box::pin(task);
    // A limit too far out for the clock never fires.
    let mut timer = Timer::after(limit);
    let finished = ::smol::block_on(poll_fn(|cx| {
        if task.as_mut().poll(cx).is_ready() {
            Poll::Ready(true)
        } else if Pin::new(&mut timer).poll(cx).is_ready() {
            Poll::Ready(false)
        } else {
            Poll::Pending
        }
    }));
    if !finished {
        // If the thread cannot be started, the task is dropped with the closure:
        // the cleanup reports its cancellation, and the handle says so at once.
        drop(
            thread::Builder::new()
                .name(String::from("asyncdrop-smol-cleanup"))
                .spawn(move || ::smol::block_on(task)),
        );
    }
    match wait_for(&mut handle, Duration::ZERO) {
        Some(result) if finished || result.is_err() => result.map_err(BlockingError::from),
        // Still running (or, moved to the helper thread, it just finished): it is
        // the background's now. Dropping `handle` detaches it: it reports for
        // itself from now on.
        _ => Err(BlockingError::TimedOut {
            type_name: handle.type_name(),
            after: limit,
        }),
    }
}

type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
