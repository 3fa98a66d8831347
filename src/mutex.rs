//! `AsyncDropMutex`: an async mutex around a guarded value.

use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::{AsyncDropGuard, LocalAsyncDrop};

#[cfg(target_has_atomic = "ptr")]
use async_lock::{futures::Lock, Mutex, MutexGuard};
// Targets without compare-and-swap (thumbv6m), where async-lock does not build.
#[cfg(not(target_has_atomic = "ptr"))]
use nocas::{Lock, Mutex, MutexGuard};

// Also in the host's unit tests.
#[cfg(any(not(target_has_atomic = "ptr"), test))]
mod nocas;

/// An async mutex around a guarded value; cleaning the mutex up cleans the value up.
///
/// Locking waits without blocking the thread and works on every executor (tokio,
/// smol, async-std, `futures` executors, embedded ones): it is built on
/// [`async-lock`](https://docs.rs/async-lock), which needs no runtime, or, on
/// targets without compare-and-swap (thumbv6m), on a lock of the crate's own over
/// `portable-atomic`. Share it
/// between tasks with [`AsyncDropArc`](crate::AsyncDropArc): the last clone's cleanup
/// cleans up the mutex, and so the value.
///
/// Helpers are associated functions (`m.lock()`), so they never
/// shadow methods of `T`.
///
/// # Drop behaviour
///
/// As for any guarded value: a guard of the mutex dropped without cleanup is reported
/// as forgotten, and the value is dropped synchronously. Cleanup needs the mutex by
/// value, so no lock can be held while it runs.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard, AsyncDropMutex};
///
/// struct Log {
///     lines: Vec<String>,
/// }
///
/// impl AsyncDrop for Log {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> Result<(), std::io::Error> {
///         // flush `self.lines` ...
///         Ok(())
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let log = AsyncDropArc::new(AsyncDropMutex::new(AsyncDropGuard::new(Log { lines: vec![] })));
/// let writer = AsyncDropArc::clone(&log);
/// writer.lock().await.lines.push("hello".into());
/// writer.async_drop().await?;
///
/// assert_eq!(log.lock().await.lines, ["hello"]);
/// log.async_drop().await?; // the last clone: flushes the log
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct AsyncDropMutex<T> {
    inner: Mutex<T>,
}

impl<T: LocalAsyncDrop> AsyncDropMutex<T> {
    /// Puts a guarded value behind a mutex. The value's guard is consumed without
    /// cleanup or report; the returned guard records the location of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropMutex};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let conn = AsyncDropMutex::new(AsyncDropGuard::new(Conn));
    /// # futures_executor::block_on(conn.async_drop()).unwrap();
    /// ```
    #[track_caller]
    pub fn new(value: AsyncDropGuard<T>) -> AsyncDropGuard<AsyncDropMutex<T>> {
        let value = AsyncDropGuard::into_inner_without_cleanup(value);
        AsyncDropGuard::new(AsyncDropMutex {
            inner: Mutex::new(value),
        })
    }

    /// Takes the value out of the mutex, still guarded (not cleaned up). The new
    /// guard records the location of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropMutex};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let m = AsyncDropMutex::new(AsyncDropGuard::new(Conn(1)));
    /// let conn: AsyncDropGuard<Conn> = AsyncDropMutex::into_inner(m);
    /// assert_eq!(conn.0, 1);
    /// # futures_executor::block_on(conn.async_drop()).unwrap();
    /// ```
    #[track_caller]
    pub fn into_inner(this: AsyncDropGuard<Self>) -> AsyncDropGuard<T> {
        AsyncDropGuard::map(this, |mutex| mutex.inner.into_inner())
    }
}

impl<T> AsyncDropMutex<T> {
    /// Locks the mutex, waiting (without blocking the thread) until it is free.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes gives up the wait, and
    /// no lock is held.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropMutex};
    /// # struct Counter(u32);
    /// # impl AsyncDrop for Counter {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let m = AsyncDropMutex::new(AsyncDropGuard::new(Counter(0)));
    /// m.lock().await.0 += 1;
    /// assert_eq!(m.lock().await.0, 1);
    /// m.async_drop().await.unwrap();
    /// # });
    /// ```
    #[inline]
    pub fn lock(&self) -> AsyncDropMutexLock<'_, T> {
        AsyncDropMutexLock {
            inner: self.inner.lock(),
        }
    }

    /// Locks the mutex if it is free, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropMutex};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let m = AsyncDropMutex::new(AsyncDropGuard::new(Conn));
    /// let locked = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(locked);
    /// assert!(m.try_lock().is_some());
    /// # futures_executor::block_on(m.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<AsyncDropMutexGuard<'_, T>> {
        self.inner
            .try_lock()
            .map(|inner| AsyncDropMutexGuard { inner })
    }

    /// The value, without locking: the `&mut` proves nobody else can lock.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropMutex};
    /// # struct Counter(u32);
    /// # impl AsyncDrop for Counter {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut m = AsyncDropMutex::new(AsyncDropGuard::new(Counter(0)));
    /// m.get_mut().0 = 5;
    /// assert_eq!(m.try_lock().unwrap().0, 5);
    /// # futures_executor::block_on(m.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

/// Cleaning the mutex up cleans up the value (no lock can be held: the cleanup owns
/// the mutex).
///
/// # Errors
///
/// The value's cleanup error.
impl<T: LocalAsyncDrop> LocalAsyncDrop for AsyncDropMutex<T> {
    type Error = T::Error;

    #[inline]
    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), T::Error>> {
        self.inner.into_inner().local_async_drop_impl()
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncDropMutex<T> {
    /// Shows the value if the mutex is free, `<locked>` otherwise (never waits).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Locked;
        impl fmt::Debug for Locked {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<locked>")
            }
        }
        let mut d = f.debug_struct("AsyncDropMutex");
        match self.inner.try_lock() {
            Some(guard) => d.field("value", &&*guard),
            None => d.field("value", &Locked),
        };
        d.finish()
    }
}

/// Exclusive access to the value of an [`AsyncDropMutex`]; unlocks when dropped.
///
/// Returned by [`AsyncDropMutex::lock`] and [`AsyncDropMutex::try_lock`]. It
/// dereferences to the value. It is not a cleanup guard: dropping it just unlocks.
///
/// # Examples
///
/// ```
/// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropMutex, AsyncDropMutexGuard};
/// # struct Counter(u32);
/// # impl AsyncDrop for Counter {
/// #     type Error = core::convert::Infallible;
/// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # futures_executor::block_on(async {
/// let m = AsyncDropMutex::new(AsyncDropGuard::new(Counter(0)));
/// let mut locked: AsyncDropMutexGuard<'_, Counter> = m.lock().await;
/// locked.0 += 1;
/// drop(locked);
/// m.async_drop().await.unwrap();
/// # });
/// ```
#[must_use = "the mutex is unlocked as soon as this guard is dropped"]
pub struct AsyncDropMutexGuard<'a, T> {
    inner: MutexGuard<'a, T>,
}

impl<T> Deref for AsyncDropMutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for AsyncDropMutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncDropMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

pin_project! {
    /// The future returned by [`AsyncDropMutex::lock`]: resolves to an
    /// [`AsyncDropMutexGuard`] once the mutex is locked.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it before it completes gives up the wait.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{future::AsyncDropMutexLock, AsyncDrop, AsyncDropGuard, AsyncDropMutex};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let m = AsyncDropMutex::new(AsyncDropGuard::new(Conn));
    /// let lock: AsyncDropMutexLock<'_, Conn> = m.lock();
    /// drop(lock.await);
    /// m.async_drop().await.unwrap();
    /// # });
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AsyncDropMutexLock<'a, T> {
        #[pin]
        inner: Lock<'a, T>,
    }
}

impl<'a, T> Future for AsyncDropMutexLock<'a, T> {
    type Output = AsyncDropMutexGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|inner| AsyncDropMutexGuard { inner })
    }
}

impl<T> fmt::Debug for AsyncDropMutexLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDropMutexLock").finish_non_exhaustive()
    }
}
