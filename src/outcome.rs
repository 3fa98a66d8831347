//! How a cleanup that runs away from its owner (on another thread or task) ended,
//! and how that is reported. Shared by `BlockingDrop` and the runtime adapters.

use alloc::boxed::Box;
use core::any::Any;
use core::fmt;
use core::future::Future;
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::catch_unwind;

use crate::policy::{self, Report, ReportKind, Site};
use crate::{AsyncDropGuard, LocalAsyncDrop};

/// A caught panic.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// How a cleanup ended.
pub(crate) enum Outcome<E> {
    /// It returned `Ok(())`.
    Cleaned,
    /// It returned an error.
    Failed(E),
    /// It panicked; the panic was caught.
    Panicked(Payload),
}

/// What a report about one cleanup names: the guarded type and where the guard was
/// created.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pub(crate) type_name: &'static str,
    pub(crate) site: Site,
}

impl<E: fmt::Debug> Outcome<E> {
    /// Reports a failure or a panic through the policy; a success says nothing.
    pub(crate) fn report(&self, origin: Origin) {
        match self {
            Outcome::Cleaned => {}
            Outcome::Failed(error) => policy::report(
                &Report::new(ReportKind::Failed, origin.type_name, origin.site).with_detail(error),
            ),
            Outcome::Panicked(payload) => {
                let report = Report::new(ReportKind::Panicked, origin.type_name, origin.site);
                match panic_message(&**payload) {
                    Some(message) => policy::report(&report.with_detail(&message)),
                    None => policy::report(&report),
                }
            }
        }
    }
}

/// The message of a panic, if its payload is a string (as `panic!` makes it).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        Some(s)
    } else {
        payload
            .downcast_ref::<alloc::string::String>()
            .map(|s| &**s)
    }
}

/// Starts the cleanup of `guard` and catches its panic.
///
/// The cleanup future is created here, not on first poll: dropping the returned
/// future unpolled (a runtime that shuts down before the task ever ran) then reports
/// [`ReportKind::Cancelled`] like any cleanup future dropped early.
pub(crate) fn catch_cleanup<T: LocalAsyncDrop>(
    guard: AsyncDropGuard<T>,
) -> (Origin, Caught<impl Future<Output = Result<(), T::Error>>>) {
    let cleanup = guard.async_drop();
    let origin = Origin {
        type_name: core::any::type_name::<T>(),
        site: cleanup.site(),
    };
    (origin, Caught { cleanup })
}

pin_project_lite::pin_project! {
    /// A cleanup whose panic is caught: it resolves to its [`Outcome`].
    pub(crate) struct Caught<F> {
        #[pin]
        cleanup: F,
    }
}

impl<E, F: Future<Output = Result<(), E>>> Future for Caught<F> {
    type Output = Outcome<E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<E>> {
        let cleanup = self.project().cleanup;
        match catch_unwind(AssertUnwindSafe(|| cleanup.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(()))) => Poll::Ready(Outcome::Cleaned),
            Ok(Poll::Ready(Err(error))) => Poll::Ready(Outcome::Failed(error)),
            Err(payload) => Poll::Ready(Outcome::Panicked(payload)),
        }
    }
}

/// The cleanup of `guard`, for running where nobody awaits it (a detached task): it
/// reports its own failure or panic through the policy when it ends, on whichever
/// thread runs it.
///
/// The cleanup future is made now, so that dropping the result unpolled (a runtime
/// shutting down) reports [`ReportKind::Cancelled`].
#[cfg_attr(
    not(feature = "rt"),
    allow(dead_code, reason = "used by the runtime adapters")
)]
pub(crate) fn clean_up_reporting<T>(guard: AsyncDropGuard<T>) -> impl Future<Output = ()>
where
    T: LocalAsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let (origin, cleanup) = catch_cleanup(guard);
    async move { cleanup.await.report(origin) }
}
