//! `AsyncDropArc`: shared ownership of a guarded value.
//!
//! # How exactly-once cleanup is decided
//!
//! The value lives in one allocation next to a counter of *shares*: every
//! `AsyncDropArc` handle owns one. Giving a share up (cleanup or synchronous drop of a
//! handle) decrements the counter with `Release`; the one call that brings it to zero
//! issues an `Acquire` fence and moves the value out — the same protocol as
//! `Arc::drop`, so every use of the value through other handles happens before the
//! value is cleaned up, and only one caller can ever see the zero.
//!
//! The allocation is an `Arc`. All shares together own *one* strong reference of it
//! (the handles hold a raw pointer), so cloning and cleaning up a handle touch only
//! the share counter — one atomic operation each, as for `Arc` itself. Whoever gives
//! the last share up moves the value out and then drops that strong reference.
//! Crate-internal `ArcRef`s hold strong references of their own, which keep the
//! allocation (not the value) alive.
//!
//! The counter is separate from the `Arc`'s own strong count because the loom model
//! checker's `Arc` has no `into_inner`; with `--cfg asyncdrop_loom` the `Arc` and the
//! atomics are loom's, so `tests/loom_arc.rs` checks this very code.

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{self, NonNull};

#[cfg(not(asyncdrop_loom))]
use alloc::sync::Arc;
#[cfg(not(asyncdrop_loom))]
use core::sync::atomic::{fence, AtomicUsize, Ordering};
#[cfg(asyncdrop_loom)]
use loom::sync::atomic::{fence, AtomicUsize, Ordering};
#[cfg(asyncdrop_loom)]
use loom::sync::Arc;

use crate::{AsyncDropGuard, LocalAsyncDrop};

/// The shared allocation: the share counter and the value.
struct Inner<T> {
    /// Shares of the value that are still held. The value is alive (and may be
    /// borrowed through a handle) while this is non-zero; whoever brings it to zero
    /// moves the value out.
    shares: AtomicUsize,
    /// Never dropped in place: moved out exactly once, by whoever releases the last
    /// share. After that the bytes here are dead and never read again.
    value: ManuallyDrop<T>,
}

impl<T> Inner<T> {
    fn new(value: T) -> Arc<Inner<T>> {
        Arc::new(Inner {
            shares: AtomicUsize::new(1),
            value: ManuallyDrop::new(value),
        })
    }

    /// Gives one share up; the caller that gives up the last share gets the value.
    ///
    /// The caller must hold a share, and must not use the value through that share
    /// afterwards (handles call this only from `Drop` or when consuming themselves).
    fn release(&self) -> Option<T> {
        // `Release`: every use of the value through this share happens before the
        // decrement; the final `Acquire` fence below synchronises with all of them.
        if self.shares.fetch_sub(1, Ordering::Release) != 1 {
            return None;
        }
        fence(Ordering::Acquire);
        // SAFETY: the counter went from 1 to 0 in this call, and a zero counter never
        // goes up again (`clone` needs a live share, `ArcRef::upgrade` refuses zero),
        // so this is the only place that ever moves the value out, and nobody
        // borrows it any more. The `Acquire` fence orders every earlier use of the
        // value before this read. `value` is `ManuallyDrop`, so the bytes left behind
        // are never dropped.
        Some(unsafe { ptr::read(&*self.value) })
    }

    /// Takes one more share. The caller must hold a share (so the counter cannot be
    /// zero).
    fn acquire(&self) {
        // `Relaxed` as in `Arc::clone`: a new share is made from an existing one, which
        // already orders the value's uses. The counter cannot overflow: every share is
        // also a strong reference of the `Arc`, which aborts on overflow first.
        self.shares.fetch_add(1, Ordering::Relaxed);
    }
}

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
/// [`AsyncDropMutex`](crate::AsyncDropMutex) inside for mutation). Like
/// [`Arc`](alloc::sync::Arc) it is `Send` and `Sync` when `T` is `Send + Sync`.
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
/// one pointer (plus the guard's creation site in debug builds); cloning and
/// releasing each cost two atomic operations (the share counter and the `Arc`'s).
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
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub struct AsyncDropArc<T> {
    /// The allocation, from `Arc::into_raw`: the strong reference all shares own
    /// together. Valid while this handle holds its share.
    ptr: NonNull<Inner<T>>,
    /// Owns a share of an `Inner<T>` (for variance and drop check, as `Arc` does).
    _owns: PhantomData<Inner<T>>,
}

// SAFETY: as for `Arc<T>`: handles on several threads share `&T` (hence `T: Sync`)
// and the last one, on any thread, moves the value out (hence `T: Send`). The
// counter is atomic.
unsafe impl<T: Send + Sync> Send for AsyncDropArc<T> {}
// SAFETY: as for `Arc<T>`; `&AsyncDropArc<T>` only gives `&T` and new shares.
unsafe impl<T: Send + Sync> Sync for AsyncDropArc<T> {}

impl<T> AsyncDropArc<T> {
    /// A handle for one share of the allocation at `ptr`.
    ///
    /// The caller must own one share (taken or pending) for the new handle, and the
    /// shares must together own one strong reference of the `Arc` at `ptr`.
    fn from_share(ptr: *const Inner<T>) -> Self {
        AsyncDropArc {
            ptr: NonNull::new(ptr.cast_mut()).expect("`Arc` pointers are never null"),
            _owns: PhantomData,
        }
    }

    fn inner(&self) -> &Inner<T> {
        // SAFETY: this handle holds a share, so the shares' strong reference keeps
        // the allocation alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Gives the share of the handle at `ptr` up; returns the value if it was the
    /// last share (and then drops the shares' strong reference).
    ///
    /// The caller must own that share and not use the handle afterwards.
    fn release_share(ptr: NonNull<Inner<T>>) -> Option<T> {
        // SAFETY: the caller's share keeps the allocation alive until `release`
        // gives it up; `release` touches the value only if this was the last share.
        let value = unsafe { ptr.as_ref() }.release()?;
        // SAFETY: that was the last share, so nobody else uses the shares' strong
        // reference, which came from `Arc::into_raw` of this allocation.
        drop(unsafe { Arc::from_raw(ptr.as_ptr().cast_const()) });
        Some(value)
    }
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
        AsyncDropGuard::new(AsyncDropArc::from_share(Arc::into_raw(Inner::new(value))))
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
    /// of this call; it has not been cleaned up.
    ///
    /// # Errors
    ///
    /// Returns the same guard back if other clones exist. Another thread may clean up
    /// or drop its clone right after, so a failure is a snapshot, not a promise.
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
        // `Acquire` on success, as in `release`: the other clones' uses of the value
        // happen before we take it.
        if this
            .inner()
            .shares
            .compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(this);
        }
        let handle = ManuallyDrop::new(AsyncDropGuard::into_inner_without_cleanup(this));
        // SAFETY: this call brought the share counter from 1 to 0 (the one share was
        // ours), so, as in `Inner::release`, it is the only place that moves the value
        // out, and nobody borrows it any more.
        let value = unsafe { ptr::read(&*handle.inner().value) };
        // SAFETY: the last share is gone: nobody else uses the shares' strong
        // reference, which came from `Arc::into_raw` of this allocation.
        drop(unsafe { Arc::from_raw(handle.ptr.as_ptr().cast_const()) });
        Ok(AsyncDropGuard::new(value))
    }
}

impl<T> AsyncDropArc<T> {
    /// The number of clones (shares of the value) that exist right now. (For a
    /// handle from `AsyncDropShared::output`, this includes the one share that all
    /// clones of the shared future hold together.)
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
        this.inner().shares.load(Ordering::Relaxed)
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
        a.ptr == b.ptr
    }

    /// A new handle with its own share, not yet guarded.
    fn share(this: &Self) -> Self {
        this.inner().acquire();
        AsyncDropArc::from_share(this.ptr.as_ptr())
    }

    /// Gives this handle's share up; returns the value if it was the last share.
    fn release(this: Self) -> Option<T> {
        let this = ManuallyDrop::new(this);
        Self::release_share(this.ptr)
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
/// The share is given up when the cleanup future is first polled. If the future is
/// dropped before that, the clone is dropped synchronously (its share given up, the
/// value dropped without cleanup if it was the last); if it is dropped while `T`'s
/// cleanup runs, that cleanup is cancelled as described at
/// [`AsyncDropGuard::async_drop`]. Either way the guard's future reports the
/// cancellation.
impl<T: LocalAsyncDrop> LocalAsyncDrop for AsyncDropArc<T> {
    type Error = T::Error;

    async fn async_drop_impl(self) -> Result<(), T::Error> {
        match AsyncDropArc::release(self) {
            Some(value) => value.async_drop_impl().await,
            None => Ok(()),
        }
    }
}

/// A handle dropped without cleanup (its guard reported that) still gives its share
/// up; if it was the last, the value is dropped synchronously.
impl<T> Drop for AsyncDropArc<T> {
    fn drop(&mut self) {
        drop(Self::release_share(self.ptr));
    }
}

impl<T> Deref for AsyncDropArc<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // The value is alive: this handle holds a share, and the value is only moved
        // out once every share is given up.
        &self.inner().value
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncDropArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A reference to the value of an [`AsyncDropArc`] that holds no share: it keeps the
/// allocation alive, not the value. Crate-internal, for `AsyncDropShared`, which
/// keeps its output behind one of these so that a synchronous drop of its internal
/// copy can never be the one that ends the value.
///
/// The value is created with one *pending* share that no handle holds yet; exactly
/// one [`ArcRef::claim`] turns it into a handle.
#[cfg(feature = "std")]
pub(crate) struct ArcRef<T> {
    inner: Arc<Inner<T>>,
}

#[cfg(feature = "std")]
impl<T> ArcRef<T> {
    /// Moves `value` into a new allocation with one pending share. If the share is
    /// never claimed the value and the allocation are leaked (never dropped), which
    /// is safe.
    pub(crate) fn new(value: T) -> Self {
        let inner = Inner::new(value);
        // The strong reference that the shares (here: the pending one) own together.
        let _ = Arc::into_raw(Arc::clone(&inner));
        ArcRef { inner }
    }

    /// Turns the pending share into a handle.
    ///
    /// # Safety
    ///
    /// Called at most once per value, over all clones of this `ArcRef`. (Claiming the
    /// pending share twice would give up one share too many, moving the value out
    /// while another handle still uses it.)
    pub(crate) unsafe fn claim(&self) -> AsyncDropArc<T> {
        AsyncDropArc::from_share(Arc::as_ptr(&self.inner))
    }

    /// Takes a new share if the value is still alive (some share is held).
    pub(crate) fn upgrade(&self) -> Option<AsyncDropArc<T>> {
        let mut shares = self.inner.shares.load(Ordering::Relaxed);
        loop {
            if shares == 0 {
                return None;
            }
            // `Relaxed` as in `Weak::upgrade`: a share is made from a live one.
            match self.inner.shares.compare_exchange_weak(
                shares,
                shares + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(AsyncDropArc::from_share(Arc::as_ptr(&self.inner))),
                Err(now) => shares = now,
            }
        }
    }

    /// The value.
    ///
    /// # Safety
    ///
    /// Some share (for example the pending one) must be held, and not given up, for
    /// as long as the returned reference lives.
    pub(crate) unsafe fn get(&self) -> &T {
        &self.inner.value
    }
}

#[cfg(feature = "std")]
impl<T> Clone for ArcRef<T> {
    fn clone(&self) -> Self {
        ArcRef {
            inner: Arc::clone(&self.inner),
        }
    }
}
