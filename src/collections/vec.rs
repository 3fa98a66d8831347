//! A growable sequence of guarded values.

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::ops::{Index, IndexMut};
use core::slice;

use futures_util::future::Either;

use super::cleanup::{in_order, AsyncDropIter};
use super::CleanupErrors;
use crate::future::AsyncDropFuture;
use crate::{AsyncDropGuard, LocalAsyncDrop};

/// A `Vec` of guarded values that is itself one guarded value: values go in and come
/// out as [`AsyncDropGuard`]s, and are cleaned up together (see [the
/// collections](super) for how, and for the drop and cancel behaviour). Errors come
/// in index order; [`async_drop_in_order`](Self::async_drop_in_order) cleans up one
/// by one, last first.
///
/// # Examples
///
/// ```
/// use asyncdrop::collections::AsyncDropVec;
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
/// let mut pool = AsyncDropVec::new();
/// for port in [80, 0, 443] {
///     pool.push(AsyncDropGuard::new(Conn(port)));
/// }
/// // A removed element comes back as a guard: it must be cleaned up too.
/// let https = pool.remove(2);
/// assert_eq!(https.0, 443);
/// https.async_drop().await.unwrap();
///
/// let err = pool.async_drop().await.unwrap_err(); // cleans up 80 and 0 concurrently
/// assert_eq!(err.to_string(), "1 of 2 cleanups failed; [1]: port 0");
/// # });
/// ```
pub struct AsyncDropVec<T> {
    items: Vec<T>,
    /// Set by `async_drop_in_order` just before the cleanup starts.
    in_order: bool,
}

impl<T: LocalAsyncDrop> AsyncDropVec<T> {
    /// Creates an empty collection and guards it; the guard records the caller's
    /// location, as [`AsyncDropGuard::new`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::doc_fixture::Port;
    /// use asyncdrop::collections::AsyncDropVec;
    /// use asyncdrop::AsyncDropGuard;
    ///
    /// let mut conns = AsyncDropVec::new();
    /// assert!(conns.is_empty());
    /// conns.push(AsyncDropGuard::new(Port(80)));
    /// futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    #[track_caller]
    pub fn new() -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropVec {
            items: Vec::new(),
            in_order: false,
        })
    }

    /// As [`new`](Self::new), with room for `capacity` elements.
    ///
    /// # Panics
    ///
    /// If the capacity exceeds `isize::MAX` bytes (as [`Vec::with_capacity`]).
    #[inline]
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropVec {
            items: Vec::with_capacity(capacity),
            in_order: false,
        })
    }

    /// Appends a guarded value. The collection now owns its cleanup.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::doc_fixture::Port;
    /// use asyncdrop::collections::AsyncDropVec;
    /// use asyncdrop::AsyncDropGuard;
    ///
    /// let mut conns = AsyncDropVec::new();
    /// conns.push(AsyncDropGuard::new(Port(80)));
    /// conns.push(AsyncDropGuard::new(Port(443)));
    /// assert_eq!((conns.len(), &conns[1]), (2, &Port(443)));
    /// futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn push(&mut self, value: AsyncDropGuard<T>) {
        self.items
            .push(AsyncDropGuard::into_inner_without_cleanup(value));
    }

    /// Inserts a guarded value at `index`, shifting the later elements right.
    ///
    /// # Panics
    ///
    /// If `index > len`. The value is then dropped during unwinding without a report
    /// (the panic is the report).
    #[inline]
    #[track_caller]
    pub fn insert(&mut self, index: usize, value: AsyncDropGuard<T>) {
        let value = AsyncDropGuard::into_inner_without_cleanup(value);
        let len = self.items.len();
        assert!(
            index <= len,
            "insertion index (is {index}) should be <= len (is {len})"
        );
        self.items.insert(index, value);
    }

    /// Removes the last element and hands it back guarded (the guard records this
    /// call's location); `None` if empty.
    #[inline]
    #[track_caller]
    pub fn pop(&mut self) -> Option<AsyncDropGuard<T>> {
        let value = self.items.pop()?;
        Some(AsyncDropGuard::new(value))
    }

    /// Removes the element at `index`, shifting the later ones left, and hands it back
    /// guarded; the guard records this call's location.
    ///
    /// # Panics
    ///
    /// If `index >= len`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::doc_fixture::Port;
    /// use asyncdrop::collections::AsyncDropVec;
    /// use asyncdrop::AsyncDropGuard;
    ///
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropVec::new();
    /// conns.extend([80, 443, 8080].map(|port| AsyncDropGuard::new(Port(port))));
    /// let https = conns.remove(1); // comes back guarded: clean it up too
    /// assert_eq!(*https, Port(443));
    /// https.async_drop().await.unwrap();
    /// let last = conns.pop().unwrap(); // so does this one
    /// assert_eq!(*last, Port(8080));
    /// last.async_drop().await.unwrap();
    /// conns.async_drop().await.unwrap();
    /// # });
    /// ```
    #[inline]
    #[track_caller]
    pub fn remove(&mut self, index: usize) -> AsyncDropGuard<T> {
        let len = self.items.len();
        assert!(
            index < len,
            "removal index (is {index}) should be < len (is {len})"
        );
        AsyncDropGuard::new(self.items.remove(index))
    }

    /// Removes the element at `index`, moving the last element into its place (O(1),
    /// not keeping the order), and hands it back guarded.
    ///
    /// # Panics
    ///
    /// If `index >= len`.
    #[inline]
    #[track_caller]
    pub fn swap_remove(&mut self, index: usize) -> AsyncDropGuard<T> {
        let len = self.items.len();
        assert!(
            index < len,
            "swap_remove index (is {index}) should be < len (is {len})"
        );
        AsyncDropGuard::new(self.items.swap_remove(index))
    }

    /// Cleans the collection up one element at a time, **last element first**,
    /// instead of all at once.
    ///
    /// Use it when elements depend on the ones before them, as on a stack: a session
    /// pushed after the connection it runs on must be closed before that
    /// connection. Each cleanup starts when the previous one has finished; a failure
    /// does not stop the rest.
    ///
    /// # Errors
    ///
    /// If any element's cleanup failed, a [`CleanupErrors`] with every error — in
    /// index order, as for the concurrent cleanup (not in cleanup order).
    ///
    /// # Cancel safety
    ///
    /// As for [`AsyncDropGuard::async_drop`]: dropping the future midway drops the
    /// elements not yet cleaned up (exactly once) and reports
    /// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) once, for the
    /// collection (with the collection guard's creation site); the elements report
    /// nothing of their own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use asyncdrop::collections::AsyncDropVec;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// static CLOSED: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    ///
    /// struct Layer(&'static str);
    /// impl AsyncDrop for Layer {
    ///     type Error = core::convert::Infallible;
    ///     async fn async_drop_impl(self) -> Result<(), Self::Error> {
    ///         CLOSED.lock().unwrap().push(self.0);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # futures_executor::block_on(async {
    /// let mut stack = AsyncDropVec::new();
    /// for name in ["tcp", "tls", "http"] {
    ///     stack.push(AsyncDropGuard::new(Layer(name)));
    /// }
    /// AsyncDropVec::async_drop_in_order(stack).await.unwrap();
    /// assert_eq!(*CLOSED.lock().unwrap(), ["http", "tls", "tcp"]);
    /// # });
    /// ```
    #[inline]
    pub fn async_drop_in_order(
        mut this: AsyncDropGuard<Self>,
    ) -> AsyncDropFuture<Self, impl Future<Output = Result<(), CleanupErrors<T::Error>>>> {
        this.in_order = true;
        this.async_drop()
    }
}

impl<T> AsyncDropVec<T> {
    /// A reference to the element at `index`; `None` if out of bounds.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        self.items.get(index)
    }

    /// A mutable reference to the element at `index`; `None` if out of bounds.
    #[inline]
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.items.get_mut(index)
    }

    /// The number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many elements the collection can hold without reallocating.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.items.capacity()
    }

    /// Reserves room for at least `additional` more elements.
    ///
    /// # Panics
    ///
    /// If the new capacity exceeds `isize::MAX` bytes (as [`Vec::reserve`]).
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        self.items.reserve(additional);
    }

    /// An iterator over the elements, in index order.
    #[inline]
    pub fn iter(&self) -> slice::Iter<'_, T> {
        self.items.iter()
    }

    /// An iterator over mutable references to the elements, in index order.
    #[inline]
    pub fn iter_mut(&mut self) -> slice::IterMut<'_, T> {
        self.items.iter_mut()
    }

    /// The elements as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// The elements as a mutable slice (to sort or swap them, say).
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.items
    }
}

/// Cleans up every element concurrently (or, after
/// [`AsyncDropVec::async_drop_in_order`], one by one, last first); see
/// [`AsyncDropVec`].
impl<T: LocalAsyncDrop> LocalAsyncDrop for AsyncDropVec<T> {
    type Error = CleanupErrors<T::Error>;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
        let total = self.items.len();
        if self.in_order {
            Either::Right(in_order(self.items.into_iter().enumerate().rev(), total))
        } else {
            // Started now, like the other group cleanups of the crate.
            Either::Left(AsyncDropIter::<T, _>::new(
                self.items
                    .into_iter()
                    .map(LocalAsyncDrop::local_async_drop_impl),
            ))
        }
    }
}

impl<T: LocalAsyncDrop> Extend<AsyncDropGuard<T>> for AsyncDropVec<T> {
    /// Appends every guarded value; the collection now owns their cleanup.
    fn extend<I: IntoIterator<Item = AsyncDropGuard<T>>>(&mut self, iter: I) {
        self.items.extend(
            iter.into_iter()
                .map(AsyncDropGuard::into_inner_without_cleanup),
        );
    }
}

impl<T> Index<usize> for AsyncDropVec<T> {
    type Output = T;

    /// # Panics
    ///
    /// If `index >= len`.
    #[inline]
    #[track_caller]
    fn index(&self, index: usize) -> &T {
        &self.items[index]
    }
}

impl<T> IndexMut<usize> for AsyncDropVec<T> {
    /// # Panics
    ///
    /// If `index >= len`.
    #[inline]
    #[track_caller]
    fn index_mut(&mut self, index: usize) -> &mut T {
        &mut self.items[index]
    }
}

impl<'a, T> IntoIterator for &'a AsyncDropVec<T> {
    type Item = &'a T;
    type IntoIter = slice::Iter<'a, T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut AsyncDropVec<T> {
    type Item = &'a mut T;
    type IntoIter = slice::IterMut<'a, T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncDropVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}
