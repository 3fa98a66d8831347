//! Blocking on a cleanup from synchronous code, on any kind of thread.

use core::fmt;
use core::time::Duration;

use super::handle::detached;
use super::{BlockingError, Runtime};
use crate::guard::Held;
use crate::outcome::{catch_cleanup, Origin, Outcome};
use crate::policy::{self, Report, ReportKind};
use crate::wait::wait_for;
use crate::{AsyncDrop, AsyncDropGuard};

/// How long the adapters block by default (`block_on_async_drop`, [`BlockOnDrop`],
/// [`ReaperDrop`](super::ReaperDrop)): 10 seconds.
///
/// # Examples
///
/// ```
/// assert_eq!(asyncdrop::rt::DEFAULT_WAIT_LIMIT.as_secs(), 10);
/// ```
pub const DEFAULT_WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Runs the cleanup of `guard` to completion from synchronous code, waiting at most
/// `limit`. Never panics and never deadlocks, on any kind of thread.
///
/// Where the cleanup runs: where blocking is safe
/// ([`Runtime::blocking_could_deadlock`] is `false`: a plain thread, a tokio
/// multi-thread worker), on this thread through [`Runtime::block_on`] (for tokio
/// inside `block_in_place`, as one writes it by hand), moving to a task of `runtime`
/// if the limit runs out; elsewhere on a helper thread while this one waits (a
/// cleanup that needs what only this thread drives then times out, and goes on
/// there).
///
/// In place it costs a boxed cleanup in a heap block each thread reuses, and a
/// clock read only if the cleanup has to wait.
///
/// # Errors
///
/// The cleanup's error, its caught panic, [`BlockingError::TimedOut`] (the cleanup
/// goes on in the background) or [`BlockingError::Cancelled`] (the runtime dropped
/// it).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use std::time::Duration;
/// use asyncdrop::rt::block_on_async_drop_on;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// let rt = tokio::runtime::Runtime::new()?;
/// let limit = Duration::from_secs(1);
/// // From a plain thread, on `rt`:
/// block_on_async_drop_on(rt.handle(), AsyncDropGuard::new(Conn), limit)?;
/// // On one of its workers, in place:
/// let on_worker = async move {
///     block_on_async_drop_on(&tokio::runtime::Handle::current(), AsyncDropGuard::new(Conn), limit)
/// };
/// rt.block_on(async { tokio::spawn(on_worker).await })??;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn block_on_async_drop_on<R: Runtime, T: AsyncDrop<Error: fmt::Debug> + 'static>(
    runtime: &R,
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> Result<(), BlockingError<T::Error>> {
    block_on_async_drop_where(runtime, runtime.blocking_could_deadlock(), guard, limit)
}

/// As [`block_on_async_drop_on`], for a caller that knows already whether blocking
/// this thread could deadlock `runtime`.
pub(crate) fn block_on_async_drop_where<R: Runtime, T: AsyncDrop<Error: fmt::Debug> + 'static>(
    runtime: &R,
    could_deadlock: bool,
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> Result<(), BlockingError<T::Error>> {
    if could_deadlock {
        on_helper_thread(runtime, guard, limit)
    } else {
        in_place(runtime, guard, limit)
    }
}

/// Runs the cleanup on this thread; hands it to a task of `runtime` if the limit
/// runs out.
fn in_place<R: Runtime, T: AsyncDrop<Error: fmt::Debug> + 'static>(
    runtime: &R,
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> Result<(), BlockingError<T::Error>> {
    let (origin, cleanup) = catch_cleanup(guard);
    let mut cleanup = crate::spare::pin_box(cleanup);
    let outcome = runtime.block_on(&mut cleanup, limit);
    match outcome {
        Some(outcome) => {
            crate::spare::recycle(cleanup);
            into_result(outcome, origin)
        }
        None => {
            super::runtime::detach(runtime, async move { cleanup.await.report(origin) });
            Err(BlockingError::TimedOut {
                type_name: origin.type_name,
                after: limit,
            })
        }
    }
}

/// Runs the cleanup on a helper thread through `runtime`, and waits here.
fn on_helper_thread<R: Runtime, T: AsyncDrop<Error: fmt::Debug> + 'static>(
    runtime: &R,
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> Result<(), BlockingError<T::Error>> {
    let (task, mut handle) = detached(guard);
    let task = R::tracker().track(task);
    let helper = runtime.clone();
    // If the thread cannot be started, the task is dropped with the closure: the
    // cleanup reports its cancellation, and the handle says so at once.
    super::runtime::helper_thread(move || {
        // Unfinished only if the runtime broke its promise: the task's drop reports.
        let _ = helper.block_on(task, Duration::MAX);
    });
    match wait_for(&mut handle, limit) {
        Some(result) => result.map_err(BlockingError::from),
        // Dropping `handle` detaches the cleanup: it reports for itself from now on.
        None => Err(BlockingError::TimedOut {
            type_name: handle.type_name(),
            after: limit,
        }),
    }
}

fn into_result<E>(outcome: Outcome<E>, origin: Origin) -> Result<(), BlockingError<E>> {
    match outcome {
        Outcome::Cleaned => Ok(()),
        Outcome::Failed(error) => Err(BlockingError::Failed(error)),
        Outcome::Panicked(payload) => Err(BlockingError::Panicked(super::CleanupPanic::new(
            origin.type_name,
            payload,
        ))),
    }
}

/// Owns a guarded value and runs its cleanup to completion in its synchronous
/// `Drop`, through a [`Runtime`], as [`block_on_async_drop_on`] does.
///
/// The runtime-aware counterpart of [`BlockingDrop`](crate::BlockingDrop), at the
/// cost of the hand-written `block_in_place`.
///
/// # Drop behaviour
///
/// Runs the cleanup as [`block_on_async_drop_on`] does, waiting at most the limit
/// ([`DEFAULT_WAIT_LIMIT`] unless set). An error, a panic or a cleanup still running
/// at the limit is reported through the [`Policy`](crate::Policy) as
/// [`ReportKind::Failed`] or [`ReportKind::Panicked`].
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::BlockOnDrop;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// /// A synchronous type that owns a connection.
/// struct Client {
///     _conn: BlockOnDrop<Conn>,
/// }
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     tokio::spawn(async {
///         let client = Client { _conn: BlockOnDrop::new(AsyncDropGuard::new(Conn)) };
///         drop(client); // cleaned up in place before `drop` returns
///     })
///     .await
/// })?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BlockOnDrop<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> {
    guard: Held<T>,
    runtime: Option<R>,
    limit: Duration,
}

impl<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> BlockOnDrop<T, R> {
    /// Wraps `guard`, capturing the current runtime if there is one (else the one
    /// current where it is dropped is used).
    pub fn new(guard: AsyncDropGuard<T>) -> Self {
        BlockOnDrop {
            guard: Held::new(guard),
            runtime: R::current(),
            limit: DEFAULT_WAIT_LIMIT,
        }
    }

    /// Wraps `guard`; its drop runs the cleanup through `runtime`.
    pub fn with_runtime(guard: AsyncDropGuard<T>, runtime: R) -> Self {
        BlockOnDrop {
            guard: Held::new(guard),
            runtime: Some(runtime),
            limit: DEFAULT_WAIT_LIMIT,
        }
    }

    /// Sets how long the drop waits for the cleanup at most.
    #[must_use = "`with_limit` returns the wrapper with the new limit"]
    pub fn with_limit(mut this: Self, limit: Duration) -> Self {
        this.limit = limit;
        this
    }

    /// How long the drop waits for the cleanup at most.
    pub fn limit(this: &Self) -> Duration {
        this.limit
    }

    /// Takes the guard back out, **without** any cleanup.
    pub fn into_guard(mut this: Self) -> AsyncDropGuard<T> {
        this.guard.take()
    }
}

deref_to_guarded!(BlockOnDrop, R: Runtime);

impl<T: AsyncDrop<Error: fmt::Debug> + fmt::Debug + 'static, R: Runtime> fmt::Debug
    for BlockOnDrop<T, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockOnDrop")
            .field("value", &**self.guard)
            .field("runtime", &self.runtime)
            .field("limit", &self.limit)
            .finish()
    }
}

impl<T: AsyncDrop<Error: fmt::Debug> + 'static, R: Runtime> Drop for BlockOnDrop<T, R> {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take_for_drop() else {
            return;
        };
        let site = AsyncDropGuard::raw_site(&guard);
        let Some(runtime) = self.runtime.take().or_else(R::current) else {
            // No runtime at all: as a `SpawnOnDrop` would, report and drop.
            return super::spawn::drop_without_runtime::<R, T>(guard);
        };
        let type_name = core::any::type_name::<T>();
        match block_on_async_drop_on(&runtime, guard, self.limit) {
            Ok(()) | Err(BlockingError::Cancelled { .. }) => {}
            Err(BlockingError::Failed(error)) => policy::report(
                &Report::new(ReportKind::Failed, type_name, site).with_detail(&error),
            ),
            Err(BlockingError::Panicked(panic)) => {
                let report = Report::new(ReportKind::Panicked, type_name, site);
                match panic.message() {
                    Some(message) => policy::report(&report.with_detail(&message)),
                    None => policy::report(&report),
                }
            }
            Err(BlockingError::TimedOut { after, .. }) => policy::report(
                &Report::new(ReportKind::Failed, type_name, site).with_detail(&format_args!(
                    "cleanup did not finish within {after:?}; it goes on in the background"
                )),
            ),
        }
    }
}
