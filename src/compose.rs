//! Cleanup of `Option`, `Result`, `Box` and `Vec` of resources.
//!
//! These impls let resources nest in the standard containers without a hand-written
//! cleanup: a field `Option<AsyncDropGuard<Conn>>` is cleaned up by calling its
//! `async_drop_impl`, a `Vec` of guards is cleaned up concurrently, and so on.

use core::future::Future;

#[cfg(feature = "alloc")]
use alloc::{boxed::Box, vec::Vec};

#[cfg(feature = "alloc")]
use crate::collections::{AsyncDropIter, CleanupErrors};
use crate::LocalAsyncDrop;
#[cfg(feature = "alloc")]
use crate::{AsyncDrop, AsyncDropGuard};

/// `Some(value)` is cleaned up; `None` has nothing to clean up and gives `Ok(())`.
///
/// The cleanup future is created at once (not on first poll), so dropping it unpolled
/// reports a guard inside as cancelled, as for a single guard.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop};
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = core::convert::Infallible;
///     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// }
///
/// // A client that may or may not have connected yet.
/// struct Client {
///     conn: Option<AsyncDropGuard<Conn>>,
/// }
/// impl AsyncDrop for Client {
///     type Error = core::convert::Infallible;
///     async fn async_drop_impl(self) -> Result<(), Self::Error> {
///         self.conn.local_async_drop_impl().await
///     }
/// }
///
/// # futures_executor::block_on(async {
/// AsyncDropGuard::new(Client { conn: None }).async_drop().await.unwrap();
/// let conn = Some(AsyncDropGuard::new(Conn));
/// AsyncDropGuard::new(Client { conn }).async_drop().await.unwrap();
/// # });
/// ```
impl<T: LocalAsyncDrop> LocalAsyncDrop for Option<T> {
    type Error = T::Error;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), T::Error>> {
        let cleanup = self.map(LocalAsyncDrop::local_async_drop_impl);
        async move {
            match cleanup {
                Some(cleanup) => cleanup.await,
                None => Ok(()),
            }
        }
    }
}

/// The `Ok` value is cleaned up; an `Err` value has no cleanup and is dropped
/// synchronously, at once, giving `Ok(())`.
///
/// Meant for the result of an acquisition that may have failed
/// (`Result<AsyncDropGuard<Conn>, io::Error>`): whatever was acquired is cleaned up.
/// The cleanup's error type is the `Ok` value's; the `Err` value is not reported —
/// inspect it before cleanup if it matters.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop};
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = &'static str;
///     async fn async_drop_impl(self) -> Result<(), &'static str> { Err("close failed") }
/// }
///
/// # futures_executor::block_on(async {
/// let failed: Result<AsyncDropGuard<Conn>, std::io::Error> = Err(std::io::ErrorKind::TimedOut.into());
/// assert_eq!(failed.local_async_drop_impl().await, Ok(())); // nothing to clean up
///
/// let acquired: Result<_, std::io::Error> = Ok(AsyncDropGuard::new(Conn));
/// assert_eq!(acquired.local_async_drop_impl().await, Err("close failed"));
/// # });
/// ```
impl<T: LocalAsyncDrop, E> LocalAsyncDrop for Result<T, E> {
    type Error = T::Error;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), T::Error>> {
        // `ok()` drops an `Err` now, so the cleanup future never holds it.
        self.ok().local_async_drop_impl()
    }
}

/// Every element is cleaned up concurrently, in the current task, as by
/// [`async_drop_iter`](crate::collections::async_drop_iter); every error comes back,
/// in index order, in a [`CleanupErrors`].
///
/// Dropped unfinished, the cleanup behaves as
/// [`async_drop_iter`](crate::collections::async_drop_iter)'s: each guard not
/// cleaned up yet reports `Cancelled`, started or not.
///
/// A `Vec` of guards already has one report per forgotten guard; to hold many
/// values under one guard (one report, removal that hands back guards, an ordered
/// variant), use [`AsyncDropVec`](crate::collections::AsyncDropVec).
///
/// # Cost
///
/// As [`async_drop_iter`](crate::collections::async_drop_iter)'s: 2 allocations for
/// any non-empty `Vec`, 3 if some fail.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn(u16);
/// impl AsyncDrop for Conn {
///     type Error = String;
///     async fn async_drop_impl(self) -> Result<(), String> {
///         if self.0 == 0 { Err("port 0".into()) } else { Ok(()) }
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let conns: Vec<_> = [1, 0, 2].into_iter().map(|p| AsyncDropGuard::new(Conn(p))).collect();
/// let err = AsyncDropGuard::new(conns).async_drop().await.unwrap_err();
/// assert_eq!(err.to_string(), "1 of 3 cleanups failed; [1]: port 0");
/// # });
/// ```
#[cfg(feature = "alloc")]
impl<T: LocalAsyncDrop> LocalAsyncDrop for Vec<T> {
    type Error = CleanupErrors<T::Error>;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
        AsyncDropIter::<T, _>::new(self.into_iter().map(LocalAsyncDrop::local_async_drop_impl))
    }
}

/// A boxed resource is a resource: the value is moved out of the box (which is
/// freed) and cleaned up.
///
/// This is an [`AsyncDrop`] impl, for `Send` resources. A box of a `!Send`
/// ([`LocalAsyncDrop`]-only) resource cannot get the same treatment: `Box` is a
/// `#[fundamental]` type, so `impl LocalAsyncDrop for Box<T>` would overlap with
/// the blanket impl for every `AsyncDrop` type as far as the coherence rules can
/// tell. Box the guard instead — `Box<AsyncDropGuard<T>>` is a [`LocalAsyncDrop`]
/// for every `T: LocalAsyncDrop` (see the next impl) — or guard the value
/// itself.
///
/// The cleanup future holds the value itself (not the box), so it is as large as the
/// value's own cleanup future.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn {
///     buffer: [u8; 4096],
/// }
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         let _unsent = &self.buffer; // flush it ...
///         Ok(())
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let boxed: AsyncDropGuard<Box<Conn>> = AsyncDropGuard::new(Box::new(Conn { buffer: [0; 4096] }));
/// boxed.async_drop().await.unwrap();
/// # });
/// ```
#[cfg(feature = "alloc")]
impl<T: AsyncDrop> AsyncDrop for Box<T> {
    type Error = T::Error;

    fn async_drop_impl(self) -> impl Future<Output = Result<(), T::Error>> + Send {
        AsyncDrop::async_drop_impl(*self)
    }
}

/// A boxed guard is cleaned up as the guard: this is how to box a `!Send`
/// ([`LocalAsyncDrop`]-only) resource (see the impl of [`AsyncDrop`] for
/// `Box<T>` for why `Box<T>` itself cannot be a `LocalAsyncDrop`).
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};
///
/// struct Local(Rc<u8>);
/// impl LocalAsyncDrop for Local {
///     type Error = core::convert::Infallible;
///     async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
///         drop(self.0); // say goodbye on this thread
///         Ok(())
///     }
/// }
///
/// let boxed: Box<AsyncDropGuard<Local>> = Box::new(AsyncDropGuard::new(Local(Rc::new(1))));
/// futures_executor::block_on(boxed.local_async_drop_impl()).unwrap();
/// ```
#[cfg(feature = "alloc")]
impl<T: LocalAsyncDrop> LocalAsyncDrop for Box<AsyncDropGuard<T>> {
    type Error = T::Error;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), T::Error>> {
        (*self).async_drop()
    }
}
