//! Blocking on a cleanup from synchronous code, on any kind of thread.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;
use std::thread;

use super::spawn::{spawn_background, tracked};
use crate::rt::handle::detached;
use crate::rt::{BackgroundError, BlockingError, CleanupHandle};
use crate::wait::wait_for;
use crate::{AsyncDrop, AsyncDropGuard};

/// How long [`block_on_async_drop`] (and a [`ReaperDrop`](super::ReaperDrop)
/// dropped on a plain thread) waits at most: 10 seconds.
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`.
///
/// # Examples
///
/// ```
/// assert_eq!(asyncdrop::rt::async_std::DEFAULT_BLOCKING_LIMIT.as_secs(), 10);
/// ```
pub const DEFAULT_BLOCKING_LIMIT: Duration = Duration::from_secs(10);

/// Runs the cleanup of `guard` to completion from synchronous code, waiting at most
/// [`DEFAULT_BLOCKING_LIMIT`].
///
/// As [`block_on_async_drop_timeout`] with that limit; see there for where the
/// cleanup runs on each kind of thread.
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`. No
/// runtime needs to be set up: async-std's is global.
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
/// use asyncdrop::rt::async_std::block_on_async_drop;
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
///         async_std::fs::remove_dir_all(&self.0).await
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
/// // On a plain thread: the cleanup runs right here.
/// finish(TempDir::create("asyncdrop-astd-doc-a")?);
///
/// // Inside `block_on`, and inside a spawned task: on a helper thread.
/// async_std::task::block_on(async {
///     finish(TempDir::create("asyncdrop-astd-doc-b").unwrap());
///     async_std::task::spawn(async {
///         finish(TempDir::create("asyncdrop-astd-doc-c").unwrap())
///     })
///     .await;
/// });
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
/// `limit`. Never panics and never deadlocks, on any kind of thread.
///
/// Where the cleanup runs depends on the calling thread:
///
/// - **Inside an async-std task** — a spawned task, or inside
///   `async_std::task::block_on` (which includes `#[async_std::main]`): blocking
///   here must not run the cleanup on this thread's executor (it is blocked) nor
///   rely on the shared executor threads (all of them may be blocked the same way).
///   So the cleanup runs on a new **helper thread** (its own
///   `async_std::task::block_on`), and this thread waits for at most `limit`.
///   Timers and sockets keep working there: async-std's reactor is global.
/// - **Any other thread** (a plain thread, a `spawn_blocking` thread, another
///   executor's thread): the cleanup runs here, in `async_std::task::block_on`. If
///   it does not finish within `limit`, it moves to a background task on the
///   global executor and goes on there.
///
/// A cleanup the wait gave up on counts in
/// [`background_cleanups`](super::background_cleanups) until it ends.
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`.
///
/// # Costs
///
/// A boxed task and a small shared slot per call; a thread per call inside an
/// async-std task.
///
/// # Errors
///
/// - [`BlockingError::Failed`]: the cleanup returned an error;
/// - [`BlockingError::Panicked`]: it panicked (caught; the payload is in the error);
/// - [`BlockingError::TimedOut`]: it did not finish within `limit`. It was **not**
///   cancelled: it goes on in the background, and if it later fails or panics that
///   is reported through the [`Policy`](crate::Policy);
/// - [`BlockingError::Cancelled`]: only if no helper thread could be started (the
///   cleanup was dropped unfinished, and reported as
///   [`ReportKind::Cancelled`](crate::ReportKind::Cancelled)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use asyncdrop::rt::async_std::block_on_async_drop_timeout;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Flusher(Duration);
/// impl AsyncDrop for Flusher {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         async_std::task::sleep(self.0).await;
///         Ok(())
///     }
/// }
///
/// async_std::task::block_on(async {
///     // Inside `block_on`, on a helper thread: timers work there.
///     let quick = AsyncDropGuard::new(Flusher(Duration::from_millis(5)));
///     block_on_async_drop_timeout(quick, Duration::from_secs(5)).unwrap();
///
///     // Too slow: the wait gives up, the cleanup goes on in the background.
///     let slow = AsyncDropGuard::new(Flusher(Duration::from_millis(200)));
///     let err = block_on_async_drop_timeout(slow, Duration::from_millis(10)).unwrap_err();
///     assert!(err.is_timed_out());
/// });
/// # assert_eq!(asyncdrop::rt::async_std::wait_for_background_cleanups(Duration::from_secs(5)), 0);
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
    let task: Task = Box::pin(task);
    let finished = if ::async_std::task::try_current().is_some() {
        on_helper_thread(task, &mut handle, limit)
    } else {
        in_place(task, &mut handle, limit)
    };
    match finished {
        Some(result) => result.map_err(BlockingError::from),
        // Dropping `handle` detaches the cleanup: it reports for itself from now on.
        None => Err(BlockingError::TimedOut {
            type_name: handle.type_name(),
            after: limit,
        }),
    }
}

type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type Waited<E> = Option<Result<(), BackgroundError<E>>>;

/// Not inside an async-std task: drive the cleanup on this thread; if it runs out
/// of time, hand it to the global executor.
fn in_place<T>(mut task: Task, handle: &mut CleanupHandle<T>, limit: Duration) -> Waited<T::Error>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let finished =
        ::async_std::task::block_on(::async_std::future::timeout(limit, task.as_mut())).is_ok();
    if !finished {
        spawn_background(task);
    }
    wait_for(handle, Duration::ZERO)
}

/// Inside an async-std task: drive the cleanup on a helper thread, wait here.
fn on_helper_thread<T>(
    task: Task,
    handle: &mut CleanupHandle<T>,
    limit: Duration,
) -> Waited<T::Error>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let task = tracked(task);
    // If the thread cannot be started, the task is dropped with the closure: the
    // cleanup reports its cancellation, and the handle says so at once.
    drop(
        thread::Builder::new()
            .name(String::from("asyncdrop-async-std-cleanup"))
            .spawn(move || ::async_std::task::block_on(task)),
    );
    wait_for(handle, limit)
}
