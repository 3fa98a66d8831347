//! The futures returned by this crate's functions.

#[cfg(feature = "alloc")]
pub use crate::collections::AsyncDropIter;
#[cfg(feature = "alloc")]
pub use crate::mutex::AsyncDropMutexLock;
#[cfg(feature = "std")]
pub use crate::shared::AsyncDropSharedOutput;

use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::error::ErrorAndCleanup;
use crate::policy::{self, ReportKind, Site};
use crate::AsyncDropGuard;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not finished; not inside `poll`.
    Pending,
    /// Inside the cleanup's `poll`. Still set afterwards only if that poll panicked.
    Polling,
    /// The cleanup returned.
    Done,
    /// Abandoned by crate code that reports the interruption itself (a deadline's
    /// typed error); dropping it reports nothing more.
    Abandoned,
}

pin_project! {
    /// The future returned by [`AsyncDropGuard::async_drop`]: runs the cleanup of a
    /// guarded `T` (whose cleanup future is `F`).
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it completes drops what the cleanup still held,
    /// synchronously and exactly once, and reports [`ReportKind::Cancelled`] through
    /// the [`Policy`](crate::Policy). If the cleanup panicked, nothing more is
    /// reported.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let fut = AsyncDropGuard::new(Conn).async_drop();
    /// futures_executor::block_on(fut).unwrap();
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AsyncDropFuture<T, F> {
        #[pin]
        inner: F,
        state: State,
        site: Site,
        _type: PhantomData<fn() -> T>,
    }

    impl<T, F> PinnedDrop for AsyncDropFuture<T, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.state == State::Pending {
                policy::report_skipped::<T>(ReportKind::Cancelled, *this.site);
            }
        }
    }
}

/// One message for every misuse, to keep the flash cost of the check small.
#[cold]
#[inline(never)]
#[track_caller]
fn polled_when_not_pending() -> ! {
    panic!("`AsyncDropFuture` polled after completion (or after its cleanup panicked or was abandoned)")
}

impl<T, F> AsyncDropFuture<T, F> {
    #[inline]
    pub(crate) fn new(inner: F, site: Site) -> Self {
        AsyncDropFuture {
            inner,
            state: State::Pending,
            site,
            _type: PhantomData,
        }
    }

    /// Marks an unfinished cleanup as abandoned by a caller that reports the
    /// interruption itself (a deadline returns a typed error), so that dropping it
    /// does not report [`ReportKind::Cancelled`] as well. What the cleanup held is
    /// still dropped synchronously, exactly once, when the future is dropped.
    #[allow(dead_code, reason = "used by the runtime adapters")]
    pub(crate) fn abandon(self: Pin<&mut Self>) {
        let state = self.project().state;
        if *state == State::Pending {
            *state = State::Abandoned;
        }
    }

    /// Where the guard being cleaned up was created.
    #[allow(dead_code, reason = "used by the runtime adapters")]
    pub(crate) fn site(&self) -> Site {
        self.site
    }
}

impl<T, F: Future> Future for AsyncDropFuture<T, F> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if *this.state != State::Pending {
            polled_when_not_pending();
        }
        // Marks the state as `Polling` (= "the cleanup panicked") only if the inner
        // poll unwinds: no store on the normal path.
        let unwind = MarkOnUnwind(this.state);
        let out = this.inner.poll(cx);
        core::mem::forget(unwind);
        if out.is_ready() {
            *this.state = State::Done;
        }
        out
    }
}

/// Sets the state to `Polling` when dropped, which happens only while unwinding out
/// of the cleanup's `poll` (on the normal path it is forgotten).
struct MarkOnUnwind<'a>(&'a mut State);

impl Drop for MarkOnUnwind<'_> {
    #[cold]
    fn drop(&mut self) {
        *self.0 = State::Polling;
    }
}

impl<T, F: Future> futures_core::FusedFuture for AsyncDropFuture<T, F> {
    /// Done, or its cleanup panicked: polling again would panic either way.
    fn is_terminated(&self) -> bool {
        self.state != State::Pending
    }
}

impl<T, F> core::fmt::Debug for AsyncDropFuture<T, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsyncDropFuture")
            .field("type", &core::any::type_name::<T>())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

pin_project! {
    #[project = OnErrProj]
    enum OnErrState<T, F, R, E> {
        Ok { guard: Option<(AsyncDropGuard<T>, R)> },
        Err { #[pin] cleanup: AsyncDropFuture<T, F>, error: Option<E> },
    }
}

pin_project! {
    /// The future returned by [`AsyncDropGuard::async_drop_on_err`].
    ///
    /// # Cancel safety
    ///
    /// On the `Err` path the cleanup runs from the start: dropping it behaves as
    /// dropping an [`AsyncDropFuture`], polled or not. Dropping it on the `Ok` path
    /// before it was polled drops the guard, which reports it as forgotten.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let ok: Result<u8, ()> = Ok(1);
    /// let fut = AsyncDropGuard::async_drop_on_err(AsyncDropGuard::new(Conn), ok);
    /// let (conn, one) = futures_executor::block_on(fut).unwrap();
    /// assert_eq!(one, 1);
    /// # futures_executor::block_on(conn.async_drop()).unwrap();
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AsyncDropOnErr<T, F, R, E> {
        #[pin]
        state: OnErrState<T, F, R, E>,
    }
}

impl<T, F, R, E> AsyncDropOnErr<T, F, R, E> {
    pub(crate) fn ok(guard: AsyncDropGuard<T>, value: R) -> Self {
        AsyncDropOnErr {
            state: OnErrState::Ok {
                guard: Some((guard, value)),
            },
        }
    }

    pub(crate) fn err(cleanup: AsyncDropFuture<T, F>, error: E) -> Self {
        AsyncDropOnErr {
            state: OnErrState::Err {
                cleanup,
                error: Some(error),
            },
        }
    }
}

impl<T, F, R, E, C> Future for AsyncDropOnErr<T, F, R, E>
where
    F: Future<Output = Result<(), C>>,
{
    type Output = Result<(AsyncDropGuard<T>, R), ErrorAndCleanup<E, C>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            OnErrProj::Ok { guard } => Poll::Ready(Ok(guard
                .take()
                .expect("`AsyncDropOnErr` polled after completion"))),
            OnErrProj::Err { cleanup, error } => {
                let cleanup = core::task::ready!(cleanup.poll(cx));
                let error = error
                    .take()
                    .expect("`AsyncDropOnErr` polled after completion");
                Poll::Ready(Err(ErrorAndCleanup { error, cleanup }))
            }
        }
    }
}

impl<T, F, R, E> AsyncDropOnErr<T, F, R, E> {
    /// Resolves to the caller's own error alone, so that `?` works directly; a
    /// failure of the cleanup goes to the [`Policy`](crate::Policy) as
    /// [`ReportKind::Failed`], its error as the detail.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::AsyncDropGuard;
    ///
    /// # struct Conn;
    /// # impl asyncdrop::AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// async fn open() -> Result<(AsyncDropGuard<Conn>, u32), &'static str> {
    ///     let conn = AsyncDropGuard::new(Conn);
    ///     let greeting: Result<u32, &'static str> = Err("bad greeting");
    ///     // On `Err`, `conn` is cleaned up before the error goes on:
    ///     let (conn, version) = AsyncDropGuard::async_drop_on_err(conn, greeting).report_cleanup().await?;
    ///     Ok((conn, version))
    /// }
    /// assert_eq!(futures_executor::block_on(open()).err(), Some("bad greeting"));
    /// ```
    pub fn report_cleanup(self) -> ReportCleanup<T, F, R, E> {
        let site = match &self.state {
            OnErrState::Err { cleanup, .. } => cleanup.site(),
            // Nothing to report on the `Ok` path.
            OnErrState::Ok { .. } => Site::caller(),
        };
        ReportCleanup { inner: self, site }
    }
}

pin_project! {
    /// The future returned by [`AsyncDropOnErr::report_cleanup`] (an example is
    /// there); cancel safe as [`AsyncDropOnErr`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ReportCleanup<T, F, R, E> {
        #[pin]
        inner: AsyncDropOnErr<T, F, R, E>,
        site: Site,
    }
}

impl<T, F, R, E, C> Future for ReportCleanup<T, F, R, E>
where
    F: Future<Output = Result<(), C>>,
    C: core::fmt::Debug,
{
    type Output = Result<(AsyncDropGuard<T>, R), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(match core::task::ready!(this.inner.poll(cx)) {
            Ok(ok) => Ok(ok),
            Err(ErrorAndCleanup { error, cleanup }) => {
                if let Err(failure) = cleanup {
                    let name = core::any::type_name::<T>();
                    let report = policy::Report::new(ReportKind::Failed, name, *this.site);
                    policy::report(&report.with_detail(&failure));
                }
                Err(error)
            }
        })
    }
}

impl<T, F, R, E> core::fmt::Debug for ReportCleanup<T, F, R, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("ReportCleanup").field(&self.inner).finish()
    }
}

impl<T, F, R, E> core::fmt::Debug for AsyncDropOnErr<T, F, R, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let failed = matches!(self.state, OnErrState::Err { .. });
        f.debug_struct("AsyncDropOnErr")
            .field("type", &core::any::type_name::<T>())
            .field("failed", &failed)
            .finish_non_exhaustive()
    }
}
