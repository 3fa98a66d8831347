//! Deadline: a cleanup with a time limit, on tokio's timer.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use ::tokio::runtime::Handle;
use ::tokio::time::Sleep;
use pin_project_lite::pin_project;

use crate::rt::deadline::Deadline;
use crate::rt::DeadlineError;
use crate::{AsyncDropGuard, LocalAsyncDrop};

/// Runs the cleanup of `guard`, giving up after `limit`.
///
/// The cleanup runs in the current task (nothing is spawned) and the limit is kept
/// with tokio's timer. If the cleanup finishes in time, its result comes back
/// (an error as [`DeadlineError::Failed`]). If not, the cleanup future is dropped —
/// whatever it still held is dropped synchronously, exactly once — and
/// [`DeadlineError::Expired`] names the type and the limit. That error *is* the
/// report of the cancellation: the [`Policy`](crate::Policy) is not told a second
/// time.
///
/// Works for `!Send` ([`LocalAsyncDrop`]) resources too, on a local task.
///
/// Requires the `tokio` feature (`asyncdrop = { version = "0.1", features =
/// ["tokio"] }`) and a tokio runtime with the time driver enabled.
///
/// # Errors
///
/// [`DeadlineError::Failed`] with the cleanup's error, or
/// [`DeadlineError::Expired`] if the limit ran out first.
///
/// # Panics
///
/// Panics, naming the type, if called outside a tokio runtime; tokio panics if the
/// runtime's time driver is disabled (`enable_time`).
///
/// # Cancel safety
///
/// As [`AsyncDropGuard::async_drop`]: dropping the returned future before it
/// completes drops what the cleanup still held and reports
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use asyncdrop::rt::tokio::async_drop_timeout;
/// use asyncdrop::rt::DeadlineError;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Peer {
///     answers: bool,
/// }
/// impl AsyncDrop for Peer {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         if !self.answers {
///             // waiting for a goodbye that never comes
///             std::future::pending::<()>().await;
///         }
///         Ok(())
///     }
/// }
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let limit = Duration::from_millis(20);
///     async_drop_timeout(AsyncDropGuard::new(Peer { answers: true }), limit).await?;
///
///     let err = async_drop_timeout(AsyncDropGuard::new(Peer { answers: false }), limit)
///         .await
///         .unwrap_err();
///     assert!(matches!(err, DeadlineError::Expired { after, .. } if after == limit));
///     println!("{err}"); // the cleanup of `…::Peer` did not finish within 20ms; …
///     Ok::<(), DeadlineError<std::io::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn async_drop_timeout<T: LocalAsyncDrop>(
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> AsyncDropTimeout<T, impl Future<Output = Result<(), T::Error>>> {
    if Handle::try_current().is_err() {
        panic!(
            "`async_drop_timeout` for `{}` was called outside a tokio runtime; \
             it needs the runtime's timer",
            core::any::type_name::<T>()
        );
    }
    let timer = ::tokio::time::sleep(limit);
    AsyncDropTimeout {
        inner: Deadline::new(guard.async_drop(), timer, limit),
    }
}

pin_project! {
    /// The future returned by [`async_drop_timeout`]: the cleanup of a guarded `T`
    /// (whose cleanup future is `F`) with a time limit.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it completes drops what the cleanup still held and reports
    /// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled); once the limit ran out, the
    /// cleanup is already gone and its [`DeadlineError::Expired`] is the report.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncdrop::rt::tokio::async_drop_timeout;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
    ///     let cleanup = async_drop_timeout(AsyncDropGuard::new(Conn), Duration::from_secs(1));
    ///     assert_eq!(cleanup.limit(), Duration::from_secs(1));
    ///     cleanup.await
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AsyncDropTimeout<T, F> {
        #[pin]
        inner: Deadline<T, F, Sleep>,
    }
}

impl<T, F> AsyncDropTimeout<T, F> {
    /// The time limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncdrop::rt::tokio::async_drop_timeout;
    /// use asyncdrop::AsyncDropGuard;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// tokio::runtime::Runtime::new()?.block_on(async {
    ///     let limit = Duration::from_millis(250);
    ///     let cleanup = async_drop_timeout(AsyncDropGuard::new(Conn), limit);
    ///     assert_eq!(cleanup.limit(), limit);
    ///     cleanup.await
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn limit(&self) -> Duration {
        self.inner.after()
    }
}

impl<T, F, E> Future for AsyncDropTimeout<T, F>
where
    F: Future<Output = Result<(), E>>,
{
    type Output = Result<(), DeadlineError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

impl<T, F, E> futures_core::FusedFuture for AsyncDropTimeout<T, F>
where
    F: Future<Output = Result<(), E>>,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<T, F> fmt::Debug for AsyncDropTimeout<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDropTimeout")
            .field("type", &core::any::type_name::<T>())
            .field("limit", &self.inner.after())
            .field("done", &self.inner.is_terminated())
            .finish()
    }
}
