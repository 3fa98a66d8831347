//! Blocking on a cleanup from synchronous code, on any kind of tokio thread.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::future::Future;
use core::panic::AssertUnwindSafe;
use core::time::Duration;
use std::panic::{catch_unwind, resume_unwind};
use std::thread;

use ::tokio::runtime::{Builder, Handle, RuntimeFlavor};

use crate::rt::handle::detached;
use crate::rt::{BlockingError, CleanupHandle};
use crate::wait::wait_for;
use crate::{AsyncDrop, AsyncDropGuard};

/// How long [`block_on_async_drop`] waits for a cleanup at most: 10 seconds.
///
/// # Examples
///
/// ```
/// assert_eq!(asyncdrop::rt::tokio::DEFAULT_BLOCKING_LIMIT.as_secs(), 10);
/// ```
pub const DEFAULT_BLOCKING_LIMIT: Duration = Duration::from_secs(10);

/// Runs the cleanup of `guard` to completion from synchronous code, waiting at most
/// [`DEFAULT_BLOCKING_LIMIT`].
///
/// As [`block_on_async_drop_timeout`] with that limit; see there for where the
/// cleanup runs on each kind of thread.
///
/// Requires the `tokio` feature (`asyncdrop = { version = "0.1", features =
/// ["tokio"] }`); uses the current tokio runtime if there is one, else a temporary
/// one.
///
/// # Errors
///
/// The cleanup's error, its panic, a [`BlockingError::TimedOut`] wait, or a
/// cancellation by a runtime that shut down; see [`BlockingError`].
///
/// # Examples
///
/// ```
/// use std::path::PathBuf;
/// use asyncdrop::rt::tokio::block_on_async_drop;
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
///         tokio::fs::remove_dir_all(&self.0).await
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
/// // Outside any runtime: a temporary one runs the cleanup.
/// finish(TempDir::create("asyncdrop-doc-a")?);
///
/// // On a current-thread runtime's own thread: a helper thread runs it.
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async { finish(TempDir::create("asyncdrop-doc-b").unwrap()) });
///
/// // On a multi-thread runtime's worker: `block_in_place`.
/// let rt = tokio::runtime::Runtime::new()?;
/// rt.block_on(async {
///     tokio::spawn(async { finish(TempDir::create("asyncdrop-doc-c").unwrap()) }).await
/// })?;
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
/// - **A multi-thread runtime's thread** (a worker, or inside its `block_on`): the
///   cleanup is spawned on that runtime and this thread waits inside
///   `tokio::task::block_in_place`, which hands this
///   worker's other tasks to another thread meanwhile.
/// - **A current-thread runtime's thread** (where `block_in_place` would panic), or
///   inside a `LocalSet`: the cleanup runs on a new helper thread that enters the
///   runtime (so it can create tokio resources and timers), and this thread waits.
///   While it waits, the runtime's only thread is blocked, so the runtime's I/O and
///   timer drivers do not run: **a cleanup that needs that runtime's I/O or timers
///   cannot progress** and the wait ends with [`BlockingError::TimedOut`]. The
///   cleanup is not lost: it goes on when the runtime runs again. Prefer
///   `.async_drop().await` or [`spawn_async_drop`](super::spawn_async_drop) there.
/// - **Any other thread** (no runtime entered): the cleanup runs here on a temporary
///   current-thread runtime with I/O and timers enabled. Enter a runtime first
///   ([`Handle::enter`]) to run it on that runtime instead — this matters for a
///   cleanup that uses resources of a current-thread runtime, whose drivers only run
///   on that runtime's thread.
///
/// # Costs
///
/// A boxed task and a small shared slot per call; a thread per call on a
/// current-thread runtime; a temporary runtime per call (tens of microseconds, a
/// few file descriptors) outside any runtime.
///
/// # Errors
///
/// - [`BlockingError::Failed`]: the cleanup returned an error;
/// - [`BlockingError::Panicked`]: it panicked (caught; the payload is in the error);
/// - [`BlockingError::TimedOut`]: it did not finish within `limit`. It was **not**
///   cancelled: it goes on in the background, and if it later fails or panics that
///   is reported through the [`Policy`](crate::Policy);
/// - [`BlockingError::Cancelled`]: the runtime it ran on shut down first (reported
///   as [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) as well).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use asyncdrop::rt::tokio::block_on_async_drop_timeout;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Flusher;
/// impl AsyncDrop for Flusher {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         tokio::time::sleep(Duration::from_millis(100)).await; // needs the timer
///         Ok(())
///     }
/// }
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     // This thread is the runtime's only thread, so its timer cannot fire while
///     // the thread blocks: the wait gives up.
///     let err = block_on_async_drop_timeout(AsyncDropGuard::new(Flusher), Duration::from_millis(10))
///         .unwrap_err();
///     assert!(err.is_timed_out());
///     // Once the runtime runs again, the cleanup finishes in the background.
///     tokio::time::sleep(Duration::from_millis(200)).await;
/// });
/// # Ok::<(), std::io::Error>(())
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
    let finished = match Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::MultiThread => {
            in_place(&runtime, task, &mut handle, limit)
        }
        Ok(runtime) => on_helper_thread(runtime, task, &mut handle, limit),
        Err(_) => on_temporary_runtime(task, &mut handle, limit),
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

type Task = core::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type Waited<E> = Option<Result<(), crate::rt::BackgroundError<E>>>;

/// On a multi-thread runtime: spawn, then wait inside `block_in_place`.
fn in_place<T>(
    runtime: &Handle,
    task: Task,
    handle: &mut CleanupHandle<T>,
    limit: Duration,
) -> Waited<T::Error>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let mut task = Some(task);
    let waited = catch_unwind(AssertUnwindSafe(|| {
        ::tokio::task::block_in_place(|| {
            if let Some(task) = task.take() {
                drop(runtime.spawn(task));
            }
            wait_for(handle, limit)
        })
    }));
    match (waited, task) {
        (Ok(waited), _) => waited,
        // `block_in_place` refused before running anything (inside a `LocalSet`):
        // use a helper thread instead.
        (Err(_), Some(task)) => on_helper_thread(runtime.clone(), task, handle, limit),
        (Err(payload), None) => resume_unwind(payload),
    }
}

/// On a current-thread runtime's thread: drive the cleanup on a helper thread that
/// enters the runtime, and wait here.
fn on_helper_thread<T>(
    runtime: Handle,
    task: Task,
    handle: &mut CleanupHandle<T>,
    limit: Duration,
) -> Waited<T::Error>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    // If the thread cannot be started, the task is dropped with the closure: the
    // cleanup reports its cancellation, and the handle says so at once.
    helper_thread(move || runtime.block_on(task));
    wait_for(handle, limit)
}

/// Starts a helper thread; if that fails, `f` is dropped.
fn helper_thread(f: impl FnOnce() + Send + 'static) {
    drop(
        thread::Builder::new()
            .name(String::from("asyncdrop-tokio-cleanup"))
            .spawn(f),
    );
}

/// Outside any runtime: a temporary current-thread runtime on this thread. If the
/// wait runs out, the runtime moves to a helper thread and finishes the cleanup
/// there.
fn on_temporary_runtime<T>(
    mut task: Task,
    handle: &mut CleanupHandle<T>,
    limit: Duration,
) -> Waited<T::Error>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let runtime = match Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        // No runtime could be built (out of file descriptors?): drive the cleanup on
        // a plain thread; tokio resources it creates will fail, not hang.
        Err(_) => {
            helper_thread(move || {
                let mut task = task;
                let _ = wait_for(&mut task, Duration::MAX);
            });
            return wait_for(handle, limit);
        }
    };
    let finished = runtime
        .block_on(async { ::tokio::time::timeout(limit, task.as_mut()).await })
        .is_ok();
    if finished {
        // Never wait here for whatever the cleanup left running on the runtime.
        runtime.shutdown_background();
    } else {
        // If the thread cannot be started, the runtime and the task are dropped with
        // the closure: the cleanup reports its cancellation.
        helper_thread(move || runtime.block_on(task));
    }
    wait_for(handle, Duration::ZERO)
}
