//! `AsyncDropArc`: shared ownership of a guarded value; `AsyncDropWeak`: a handle to
//! it that does not own it.
//!
//! # How exactly-once cleanup is decided
//!
//! An `AsyncDropArc<T>` is an `Arc<T>` and nothing else. Cleaning a clone up gives
//! its strong reference up through [`Arc::into_inner`], which hands the value to
//! exactly one caller — the one that gives up the last strong reference, after every
//! use of the value through the others — also when clones are cleaned up on several
//! threads at once. That caller runs the value's cleanup. A clone dropped without
//! cleanup is the `Arc`'s own drop. An `AsyncDropWeak<T>` is a `Weak<T>`:
//! [`Weak::upgrade`] never brings a strong count back from zero, so it fails from
//! the moment the last clone has given its reference up to be cleaned up.
//!
//! With `--cfg asyncdrop_loom` the `Arc` and `Weak` are those of `loom_model`: loom's
//! own `Arc` has neither `into_inner` nor `Weak`, so the model implements std's
//! counting protocol on loom's atomics and `tests/loom/tests/arc.rs` checks this module's
//! code against it.

use core::borrow::Borrow;
use core::fmt;
use core::future::Future;
use core::ops::Deref;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

#[cfg(all(not(asyncdrop_loom), target_has_atomic = "ptr"))]
use alloc::sync::{Arc, Weak};
#[cfg(asyncdrop_loom)]
use loom_model::{Arc, Weak};
// Targets without compare-and-swap (thumbv6m): the same `Arc`, on emulated atomics.
#[cfg(all(not(asyncdrop_loom), not(target_has_atomic = "ptr")))]
use portable_atomic_util::{Arc, Weak};

use crate::{AsyncDropGuard, LocalAsyncDrop};

#[cfg(asyncdrop_loom)]
mod loom_model;

/// Shared ownership of a guarded value whose cleanup runs once, when the last clone
/// is cleaned up.
///
/// `AsyncDropArc::new` turns an [`AsyncDropGuard<T>`] into an
/// `AsyncDropGuard<AsyncDropArc<T>>`. Every clone is itself a guard (there is no
/// `Clone` impl; use [`AsyncDropArc::clone`]), so each holder must clean its clone up
/// with [`async_drop`](AsyncDropGuard::async_drop). Cleaning up a clone that is not
/// the last one returns `Ok(())` at once; cleaning up the last one runs `T`'s
/// cleanup and returns its result. This holds when clones are cleaned up on several
/// threads at the same time: exactly one of them runs the cleanup, after every use
/// of the value through the others.
///
/// It dereferences to `T` (shared access only; put a
/// [`AsyncDropMutex`](crate::AsyncDropMutex) inside for mutation). It is an
/// [`Arc`](alloc::sync::Arc) inside, and is `Send` and `Sync` when `T` is
/// `Send + Sync`, as `Arc` is. [`AsyncDropArc::downgrade`] makes an
/// [`AsyncDropWeak`], which does not keep the value alive.
///
/// # Drop behaviour
///
/// A clone whose guard is dropped without cleanup is reported as forgotten by the
/// guard, and still gives its share up: nothing leaks. If it was the last clone, the
/// value is dropped synchronously, without its cleanup (the report already said so).
///
/// # Cost
///
/// `new` allocates once; `clone` and cleaning up a clone do not allocate. A clone is
/// one pointer (plus the guard's creation site in debug builds). In release builds,
/// cloning and cleaning up a clone that is not the last compile to the code of
/// `Arc::clone` and `Arc::into_inner`: one atomic operation each.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard};
///
/// struct Pool {
///     name: &'static str,
/// }
///
/// impl AsyncDrop for Pool {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> Result<(), std::io::Error> {
///         println!("closing {}", self.name); // runs once
///         Ok(())
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let pool = AsyncDropArc::new(AsyncDropGuard::new(Pool { name: "db" }));
/// let other = AsyncDropArc::clone(&pool);
/// assert_eq!(other.name, "db");
/// assert_eq!(AsyncDropArc::strong_count(&pool), 2);
///
/// other.async_drop().await?; // not the last clone: returns at once
/// pool.async_drop().await?; // the last clone: closes the pool
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct AsyncDropArc<T> {
    inner: Arc<T>,
}

impl<T: LocalAsyncDrop> AsyncDropArc<T> {
    /// Moves a guarded value into shared ownership; the returned guard is the first
    /// clone.
    ///
    /// The value's own guard is consumed without cleanup or report; the new guard
    /// records the location of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let shared = AsyncDropArc::new(AsyncDropGuard::new(Conn));
    /// assert_eq!(AsyncDropArc::strong_count(&shared), 1);
    /// # futures_executor::block_on(shared.async_drop()).unwrap();
    /// ```
    #[track_caller]
    pub fn new(value: AsyncDropGuard<T>) -> AsyncDropGuard<AsyncDropArc<T>> {
        let value = AsyncDropGuard::into_inner_without_cleanup(value);
        AsyncDropGuard::new(AsyncDropArc {
            inner: Arc::new(value),
        })
    }

    /// Makes another clone, as a guard of its own; it records the location of this
    /// call.
    ///
    /// This is an associated function (`AsyncDropArc::clone(&arc)`), and
    /// `AsyncDropArc` deliberately has no `Clone` impl: a clone must be cleaned up
    /// like any guarded value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let a = AsyncDropArc::new(AsyncDropGuard::new(Conn));
    /// let b = AsyncDropArc::clone(&a);
    /// assert!(AsyncDropArc::ptr_eq(&a, &b));
    /// # futures_executor::block_on(async {
    /// a.async_drop().await.unwrap();
    /// b.async_drop().await.unwrap();
    /// # });
    /// ```
    #[inline]
    #[track_caller]
    #[allow(
        clippy::should_implement_trait,
        reason = "a clone must be a guard, which `Clone::clone` cannot return"
    )]
    pub fn clone(this: &Self) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(Self::share(this))
    }

    /// Takes the value back out if this is the only clone; otherwise returns the
    /// guard unchanged.
    ///
    /// On success the value is guarded again, by a guard that records the location
    /// of this call; it has not been cleaned up. Weak handles do not count, and
    /// cannot upgrade any more once it succeeded.
    ///
    /// # Errors
    ///
    /// Returns the same guard back if other clones exist. Another thread may clean up
    /// or drop its clone right after, so when several clones may be given up at once,
    /// use [`into_inner`](Self::into_inner), which never lets all of them fail.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard};
    /// # #[derive(Debug)]
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let a = AsyncDropArc::new(AsyncDropGuard::new(Conn(7)));
    /// let b = AsyncDropArc::clone(&a);
    ///
    /// let a = AsyncDropArc::try_unwrap(a).unwrap_err(); // `b` still shares it
    /// b.async_drop().await.unwrap();
    ///
    /// let conn = AsyncDropArc::try_unwrap(a).unwrap(); // now unique
    /// assert_eq!(conn.0, 7);
    /// conn.async_drop().await.unwrap();
    /// # });
    /// ```
    #[track_caller]
    pub fn try_unwrap(
        this: AsyncDropGuard<Self>,
    ) -> Result<AsyncDropGuard<T>, AsyncDropGuard<Self>> {
        let (arc, site) = AsyncDropGuard::into_parts(this);
        match Arc::try_unwrap(arc.inner) {
            Ok(value) => Ok(AsyncDropGuard::new(value)),
            Err(inner) => Err(AsyncDropGuard::from_parts(AsyncDropArc { inner }, site)),
        }
    }

    /// Gives this clone up and returns the value if it was the last clone, as
    /// [`Arc::into_inner`](alloc::sync::Arc::into_inner) does.
    ///
    /// Of several clones given up at the same time through `into_inner` or cleanup,
    /// on any threads, exactly one gets the value (here, guarded again by a guard
    /// that records the location of this call, not yet cleaned up; in a cleanup, to
    /// run its cleanup). [`try_unwrap`](Self::try_unwrap) instead fails for every
    /// clone that is not alone at the moment it looks.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{doc_fixture::Conn, AsyncDropArc, AsyncDropGuard};
    /// # futures_executor::block_on(async {
    /// let a = AsyncDropArc::new(AsyncDropGuard::new(Conn));
    /// let b = AsyncDropArc::clone(&a);
    ///
    /// assert!(AsyncDropArc::into_inner(a).is_none()); // `a` is given up
    /// let conn = AsyncDropArc::into_inner(b).unwrap(); // `b` was the last
    /// conn.async_drop().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    #[allow(
        clippy::manual_map,
        reason = "`Option::map` would record its own location in the new guard"
    )]
    pub fn into_inner(this: AsyncDropGuard<Self>) -> Option<AsyncDropGuard<T>> {
        match Arc::into_inner(AsyncDropGuard::into_inner_without_cleanup(this).inner) {
            Some(value) => Some(AsyncDropGuard::new(value)),
            None => None,
        }
    }
}

impl<T> AsyncDropArc<T> {
    /// The number of clones (strong references) that exist right now. (For a handle
    /// from `AsyncDropShared::output`, this includes the one that all clones of the
    /// shared future hold together.)
    ///
    /// Other threads may make or clean up clones at any time, so the number may be
    /// stale as soon as it is returned.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let a = AsyncDropArc::new(AsyncDropGuard::new(Conn));
    /// let b = AsyncDropArc::clone(&a);
    /// assert_eq!(AsyncDropArc::strong_count(&a), 2);
    /// b.async_drop().await.unwrap();
    /// assert_eq!(AsyncDropArc::strong_count(&a), 1);
    /// a.async_drop().await.unwrap();
    /// # });
    /// ```
    pub fn strong_count(this: &Self) -> usize {
        Arc::strong_count(&this.inner)
    }

    /// The number of [`AsyncDropWeak`] handles to the value that exist right now.
    pub fn weak_count(this: &Self) -> usize {
        Arc::weak_count(&this.inner)
    }

    /// Makes a weak handle to the value, which does not keep it alive or delay its
    /// cleanup.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{doc_fixture::Conn, AsyncDropArc, AsyncDropGuard};
    /// # futures_executor::block_on(async {
    /// let conn = AsyncDropArc::new(AsyncDropGuard::new(Conn));
    /// let weak = AsyncDropArc::downgrade(&conn);
    /// assert_eq!(AsyncDropArc::weak_count(&conn), 1);
    ///
    /// conn.async_drop().await?; // the last clone: `Conn` is cleaned up
    /// assert!(weak.upgrade().is_none());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn downgrade(this: &Self) -> AsyncDropWeak<T> {
        AsyncDropWeak {
            inner: Arc::downgrade(&this.inner),
        }
    }

    /// Whether two clones share the same value (compares the allocation, not the
    /// values).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let a = AsyncDropArc::new(AsyncDropGuard::new(Conn));
    /// let b = AsyncDropArc::clone(&a);
    /// let c = AsyncDropArc::new(AsyncDropGuard::new(Conn));
    /// assert!(AsyncDropArc::ptr_eq(&a, &b));
    /// assert!(!AsyncDropArc::ptr_eq(&a, &c));
    /// # a.async_drop().await.unwrap();
    /// # b.async_drop().await.unwrap();
    /// # c.async_drop().await.unwrap();
    /// # });
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// A pointer to the value, the same for every clone.
    pub fn as_ptr(this: &Self) -> *const T {
        Arc::as_ptr(&this.inner)
    }

    /// Moves `value` into a new allocation, as a clone that is not guarded.
    #[cfg(feature = "std")]
    pub(crate) fn unguarded(value: T) -> Self {
        AsyncDropArc {
            inner: Arc::new(value),
        }
    }

    /// A new clone, not yet guarded.
    #[inline]
    pub(crate) fn share(this: &Self) -> Self {
        AsyncDropArc {
            inner: Arc::clone(&this.inner),
        }
    }
}

/// Cleaning up a clone gives its share up; the last clone runs `T`'s cleanup.
///
/// # Errors
///
/// Only the cleanup of the last clone can fail, with `T`'s error; the others return
/// `Ok(())`.
///
/// # Cancel safety
///
/// The share is given up as soon as the cleanup future is made
/// ([`async_drop`](AsyncDropGuard::async_drop)), not at its first poll: from then on
/// `into_inner` and `upgrade` elsewhere see it gone. A clone that was not the last
/// has nothing left to do (its future is ready at the first poll); for the last, the
/// future holds `T`'s cleanup, and dropping it before that finished cancels it as
/// described at [`AsyncDropGuard::async_drop`] — the value is dropped synchronously.
/// Either way, a future dropped unfinished reports the cancellation.
impl<T: LocalAsyncDrop> LocalAsyncDrop for AsyncDropArc<T> {
    type Error = T::Error;

    #[inline]
    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), T::Error>> {
        Release {
            last: Arc::into_inner(self.inner).map(T::local_async_drop_impl),
        }
    }
}

pin_project! {
    /// The cleanup of a clone, whose share `async_drop_impl` already gave up: `T`'s
    /// cleanup if it was the last, otherwise nothing (ready at once). Giving the
    /// share up before the first poll lets the common case compile to
    /// `Arc::into_inner` alone.
    struct Release<F> {
        #[pin]
        last: Option<F>,
    }
}

impl<F, E> Future for Release<F>
where
    F: Future<Output = Result<(), E>>,
{
    type Output = Result<(), E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        match self.project().last.as_pin_mut() {
            Some(last) => last.poll(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<T> Deref for AsyncDropArc<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> AsRef<T> for AsyncDropArc<T> {
    fn as_ref(&self) -> &T {
        &self.inner
    }
}

impl<T> Borrow<T> for AsyncDropArc<T> {
    fn borrow(&self) -> &T {
        &self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncDropArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A weak handle to the value of an [`AsyncDropArc`]: it does not keep the value
/// alive, and never delays or prevents its cleanup.
///
/// Made by [`AsyncDropArc::downgrade`]. [`upgrade`](Self::upgrade) makes a new clone
/// (a guard of its own) while some clone still holds the value, and fails from the
/// moment the last clone has given its share up — for cleanup, for
/// [`into_inner`](AsyncDropArc::into_inner), or by being dropped — also when that
/// happens on another thread at the same time. The handle itself needs no cleanup:
/// it is an ordinary value (`Clone`, dropped silently), like
/// [`Weak`](alloc::sync::Weak), which it is inside.
///
/// # Examples
///
/// ```
/// use asyncdrop::{doc_fixture::Conn, AsyncDropArc, AsyncDropGuard, AsyncDropWeak};
///
/// /// Keeps track of a connection without keeping it open.
/// struct Monitor(AsyncDropWeak<Conn>);
///
/// # futures_executor::block_on(async {
/// let conn = AsyncDropArc::new(AsyncDropGuard::new(Conn));
/// let monitor = Monitor(AsyncDropArc::downgrade(&conn));
/// assert_eq!(monitor.0.strong_count(), 1);
///
/// conn.async_drop().await?; // closes the connection despite the monitor
/// assert!(monitor.0.upgrade().is_none());
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct AsyncDropWeak<T> {
    inner: Weak<T>,
}

impl<T: LocalAsyncDrop> AsyncDropWeak<T> {
    /// A new clone of the value, as a guard that records the location of this call;
    /// `None` once the last clone has given its share up.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{doc_fixture::Conn, AsyncDropArc, AsyncDropGuard};
    /// # futures_executor::block_on(async {
    /// let conn = AsyncDropArc::new(AsyncDropGuard::new(Conn));
    /// let weak = AsyncDropArc::downgrade(&conn);
    /// let clone = weak.upgrade().expect("`conn` holds the value");
    /// assert!(AsyncDropArc::ptr_eq(&clone, &conn));
    /// clone.async_drop().await?;
    /// # conn.async_drop().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    #[allow(
        clippy::manual_map,
        reason = "`Option::map` would record its own location in the new guard"
    )]
    pub fn upgrade(&self) -> Option<AsyncDropGuard<AsyncDropArc<T>>> {
        match self.inner.upgrade() {
            Some(inner) => Some(AsyncDropGuard::new(AsyncDropArc { inner })),
            None => None,
        }
    }
}

impl<T> AsyncDropWeak<T> {
    /// The number of clones that hold the value right now; 0 once the last one gave
    /// it up.
    pub fn strong_count(&self) -> usize {
        self.inner.strong_count()
    }

    /// The number of weak handles to the value, this one included; 0 once no clone
    /// holds it.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }

    /// Whether two weak handles point to the same value.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        self.inner.ptr_eq(&other.inner)
    }
}

impl<T> Clone for AsyncDropWeak<T> {
    fn clone(&self) -> Self {
        AsyncDropWeak {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for AsyncDropWeak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(AsyncDropWeak)")
    }
}
