//! A cleanup raced against a runtime's timer.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use pin_project_lite::pin_project;

use super::error::DeadlineError;
use super::Runtime;
use crate::future::AsyncDropFuture;
use crate::{AsyncDropGuard, LocalAsyncDrop};

pin_project! {
    #[project = StateProj]
    enum State<T, F, S> {
        Running {
            #[pin]
            cleanup: AsyncDropFuture<T, F>,
            #[pin]
            timer: S,
        },
        Done,
    }
}

/// Runs the cleanup of `guard` in the current task, giving up after `limit` on
/// `runtime`'s timer.
///
/// Works for `!Send` ([`LocalAsyncDrop`]) resources too.
///
/// # Errors
///
/// [`DeadlineError::Failed`] with the cleanup's error, or
/// [`DeadlineError::Expired`] if the limit ran out first.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use std::time::Duration;
/// use asyncdrop::rt::async_drop_timeout_on;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Peer; // whose goodbye never comes
/// impl AsyncDrop for Peer {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { std::future::pending().await }
/// }
///
/// let rt = tokio::runtime::Runtime::new()?;
/// let limit = Duration::from_millis(20);
/// let err = rt.block_on(async_drop_timeout_on(rt.handle(), AsyncDropGuard::new(Peer), limit));
/// assert!(err.unwrap_err().is_expired());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn async_drop_timeout_on<R: Runtime, T: LocalAsyncDrop>(
    runtime: &R,
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> AsyncDropTimeout<T, impl Future<Output = Result<(), T::Error>>, R::Sleep> {
    AsyncDropTimeout::new(guard.async_drop(), runtime.sleep(limit), limit)
}

/// As [`async_drop_timeout_on`], on the current runtime of kind `R`
/// ([`Runtime::current`]).
///
/// # Panics
///
/// Panics, naming the type, if there is no current runtime.
#[track_caller]
pub fn async_drop_timeout_current<R: Runtime, T: LocalAsyncDrop>(
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> AsyncDropTimeout<T, impl Future<Output = Result<(), T::Error>>, R::Sleep> {
    match R::current() {
        Some(runtime) => async_drop_timeout_on(&runtime, guard, limit),
        None => panic!(
            "`async_drop_timeout` for `{}` was called outside a {} runtime; it needs the runtime's timer",
            core::any::type_name::<T>(),
            R::NAME
        ),
    }
}

pin_project! {
    /// The future returned by [`async_drop_timeout_on`] (and each runtime's
    /// `async_drop_timeout`): the cleanup of a guarded `T`, whose cleanup future is
    /// `F`, raced against the timer `S`.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it completes drops what the cleanup still held and reports
    /// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled); once the limit ran out,
    /// the cleanup is already gone and its [`DeadlineError::Expired`] is the report.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AsyncDropTimeout<T, F, S> {
        #[pin]
        state: State<T, F, S>,
        after: Duration,
    }
}

impl<T, F, S> AsyncDropTimeout<T, F, S> {
    fn new(cleanup: AsyncDropFuture<T, F>, timer: S, after: Duration) -> Self {
        AsyncDropTimeout {
            state: State::Running { cleanup, timer },
            after,
        }
    }

    /// The time limit.
    pub fn limit(&self) -> Duration {
        self.after
    }
}

impl<T, F, S, E> Future for AsyncDropTimeout<T, F, S>
where
    F: Future<Output = Result<(), E>>,
    S: Future,
{
    type Output = Result<(), DeadlineError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = match this.state.as_mut().project() {
            StateProj::Running { mut cleanup, timer } => {
                if let Poll::Ready(result) = cleanup.as_mut().poll(cx) {
                    result.map_err(DeadlineError::Failed)
                } else if timer.poll(cx).is_ready() {
                    cleanup.abandon();
                    Err(DeadlineError::Expired {
                        type_name: core::any::type_name::<T>(),
                        after: *this.after,
                    })
                } else {
                    return Poll::Pending;
                }
            }
            StateProj::Done => panic!("a cleanup deadline future was polled after completion"),
        };
        // Drops the cleanup (what it still held, if it expired) and the timer now.
        this.state.set(State::Done);
        Poll::Ready(result)
    }
}

impl<T, F, S, E> futures_core::FusedFuture for AsyncDropTimeout<T, F, S>
where
    F: Future<Output = Result<(), E>>,
    S: Future,
{
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl<T, F, S> fmt::Debug for AsyncDropTimeout<T, F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDropTimeout")
            .field("type", &core::any::type_name::<T>())
            .field("limit", &self.after)
            .field("done", &matches!(self.state, State::Done))
            .finish()
    }
}
