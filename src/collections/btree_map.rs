//! An ordered map of guarded values.

use alloc::collections::btree_map::{self, BTreeMap, Entry};
use core::borrow::Borrow;
use core::fmt;
use core::future::Future;

use futures_util::future::Either;

use super::cleanup::{in_order, AsyncDropIter};
use super::CleanupErrors;
use crate::future::AsyncDropFuture;
use crate::{AsyncDropGuard, LocalAsyncDrop};

/// A [`BTreeMap`] of guarded values that is itself one guarded value: values go in
/// and come out as [`AsyncDropGuard`]s (keys need no cleanup), and are cleaned up
/// together (see [the collections](super) for how, and for the drop and cancel
/// behaviour). Errors come in key order, smallest first;
/// [`async_drop_in_order`](Self::async_drop_in_order) cleans up one by one, largest
/// key first.
///
/// The cleanup future is `Send` when the values' cleanups and the keys are: the
/// ordered variant holds the keys not yet cleaned up, and both share one type.
///
/// # Examples
///
/// ```
/// use asyncdrop::collections::AsyncDropBTreeMap;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session(&'static str);
/// impl AsyncDrop for Session {
///     type Error = String;
///     async fn async_drop_impl(self) -> Result<(), String> {
///         if self.0 == "bob" { Err("bob: timeout".into()) } else { Ok(()) }
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let mut sessions = AsyncDropBTreeMap::new();
/// sessions.insert(2, AsyncDropGuard::new(Session("bob")));
/// sessions.insert(1, AsyncDropGuard::new(Session("ann")));
/// // A replaced value comes back as a guard: it must be cleaned up too.
/// if let Some(old) = sessions.insert(1, AsyncDropGuard::new(Session("amy"))) {
///     old.async_drop().await.unwrap();
/// }
/// assert_eq!(sessions.get(&1).map(|s| s.0), Some("amy"));
///
/// let err = sessions.async_drop().await.unwrap_err();
/// assert_eq!(err.to_string(), "1 of 2 cleanups failed; [1]: bob: timeout");
/// # });
/// ```
pub struct AsyncDropBTreeMap<K, T> {
    map: BTreeMap<K, T>,
    /// Set by `async_drop_in_order` just before the cleanup starts.
    in_order: bool,
}

impl<K, T: LocalAsyncDrop> AsyncDropBTreeMap<K, T> {
    /// Creates an empty map and guards it; the guard records the caller's location.
    #[inline]
    #[track_caller]
    pub fn new() -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropBTreeMap {
            map: BTreeMap::new(),
            in_order: false,
        })
    }

    /// Cleans the map up one value at a time, **largest key first**, instead of all
    /// at once.
    ///
    /// Use it when values depend on those with smaller keys (keys that grow as
    /// resources are acquired: a sequence number, a layer depth): the last acquired
    /// is released first, as on a stack. Each cleanup starts when the previous one
    /// has finished; a failure does not stop the rest.
    ///
    /// # Errors
    ///
    /// If any cleanup failed, a [`CleanupErrors`] with every error — in key order
    /// (smallest key first), as for the concurrent cleanup, not in cleanup order.
    ///
    /// # Cancel safety
    ///
    /// As for [`AsyncDropGuard::async_drop`]: dropping the future midway drops the
    /// values not yet cleaned up (exactly once) and reports
    /// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) once, for the map;
    /// the values report nothing of their own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use asyncdrop::collections::AsyncDropBTreeMap;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// static CLOSED: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    ///
    /// struct Lease(u32);
    /// impl AsyncDrop for Lease {
    ///     type Error = core::convert::Infallible;
    ///     async fn async_drop_impl(self) -> Result<(), Self::Error> {
    ///         CLOSED.lock().unwrap().push(self.0);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # futures_executor::block_on(async {
    /// let mut leases = AsyncDropBTreeMap::new();
    /// for seq in [2, 3, 1] {
    ///     leases.insert(seq, AsyncDropGuard::new(Lease(seq)));
    /// }
    /// AsyncDropBTreeMap::async_drop_in_order(leases).await.unwrap();
    /// assert_eq!(*CLOSED.lock().unwrap(), [3, 2, 1]);
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

impl<K: Ord, T: LocalAsyncDrop> AsyncDropBTreeMap<K, T> {
    /// Inserts a guarded value under `key`; the map now owns its cleanup. A value
    /// already under `key` is handed back guarded (recording this call's location) and
    /// must be cleaned up; the old key is kept, as in [`BTreeMap::insert`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::doc_fixture::Port;
    /// use asyncdrop::collections::AsyncDropBTreeMap;
    /// use asyncdrop::AsyncDropGuard;
    ///
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropBTreeMap::new();
    /// assert!(conns.insert("web", AsyncDropGuard::new(Port(80))).is_none());
    /// let old = conns.insert("web", AsyncDropGuard::new(Port(443))).unwrap();
    /// assert_eq!((&*old, &conns["web"]), (&Port(80), &Port(443)));
    /// old.async_drop().await.unwrap();
    /// conns.async_drop().await.unwrap();
    /// # });
    /// ```
    #[inline]
    #[track_caller]
    pub fn insert(&mut self, key: K, value: AsyncDropGuard<T>) -> Option<AsyncDropGuard<T>> {
        let old = self
            .map
            .insert(key, AsyncDropGuard::into_inner_without_cleanup(value))?;
        // Not `Option::map`: the new guard must record our caller's location.
        Some(AsyncDropGuard::new(old))
    }

    /// Inserts a guarded value under `key` if the key is not present, and returns a
    /// reference to it.
    ///
    /// # Errors
    ///
    /// If the key is present, the map is left as it was and the guard is handed back
    /// (`key` is dropped).
    #[inline]
    pub fn try_insert(
        &mut self,
        key: K,
        value: AsyncDropGuard<T>,
    ) -> Result<&mut T, AsyncDropGuard<T>> {
        match self.map.entry(key) {
            Entry::Occupied(_) => Err(value),
            Entry::Vacant(slot) => {
                Ok(slot.insert(AsyncDropGuard::into_inner_without_cleanup(value)))
            }
        }
    }

    /// Removes the value under `key` and hands it back guarded (recording this call's
    /// location); `None` if absent.
    #[inline]
    #[track_caller]
    pub fn remove<Q>(&mut self, key: &Q) -> Option<AsyncDropGuard<T>>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let value = self.map.remove(key)?;
        Some(AsyncDropGuard::new(value))
    }

    /// Removes the entry with the smallest key and hands back the key and the guarded
    /// value; `None` if empty.
    #[inline]
    #[track_caller]
    pub fn pop_first(&mut self) -> Option<(K, AsyncDropGuard<T>)> {
        let (key, value) = self.map.pop_first()?;
        Some((key, AsyncDropGuard::new(value)))
    }

    /// Removes the entry with the largest key and hands back the key and the guarded
    /// value; `None` if empty.
    #[inline]
    #[track_caller]
    pub fn pop_last(&mut self) -> Option<(K, AsyncDropGuard<T>)> {
        let (key, value) = self.map.pop_last()?;
        Some((key, AsyncDropGuard::new(value)))
    }
}

impl<K: Ord, T> AsyncDropBTreeMap<K, T> {
    /// A reference to the value under `key`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&T>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.get(key)
    }

    /// A mutable reference to the value under `key`.
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut T>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.get_mut(key)
    }

    /// Whether the map has a value under `key`.
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.contains_key(key)
    }
}

impl<K, T> AsyncDropBTreeMap<K, T> {
    /// The number of values.
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// An iterator over the entries, in key order.
    #[inline]
    pub fn iter(&self) -> btree_map::Iter<'_, K, T> {
        self.map.iter()
    }

    /// An iterator over the entries, in key order, with mutable references to the values.
    #[inline]
    pub fn iter_mut(&mut self) -> btree_map::IterMut<'_, K, T> {
        self.map.iter_mut()
    }

    /// An iterator over the keys, in order.
    #[inline]
    pub fn keys(&self) -> btree_map::Keys<'_, K, T> {
        self.map.keys()
    }

    /// An iterator over the values, in key order.
    #[inline]
    pub fn values(&self) -> btree_map::Values<'_, K, T> {
        self.map.values()
    }

    /// An iterator over mutable references to the values, in key order.
    #[inline]
    pub fn values_mut(&mut self) -> btree_map::ValuesMut<'_, K, T> {
        self.map.values_mut()
    }
}

/// Cleans up every value concurrently (or, after
/// [`AsyncDropBTreeMap::async_drop_in_order`], one by one, largest key first); see
/// [`AsyncDropBTreeMap`].
impl<K, T: LocalAsyncDrop> LocalAsyncDrop for AsyncDropBTreeMap<K, T> {
    type Error = CleanupErrors<T::Error>;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
        let total = self.map.len();
        // The keys are dropped now: only the values have cleanup.
        let values = self.map.into_values();
        if self.in_order {
            Either::Right(in_order(values.enumerate().rev(), total))
        } else {
            // Started now, like the other group cleanups of the crate.
            Either::Left(AsyncDropIter::<T, _>::new(
                values.map(LocalAsyncDrop::local_async_drop_impl),
            ))
        }
    }
}

impl<K: Ord, Q: Ord + ?Sized, T> core::ops::Index<&Q> for AsyncDropBTreeMap<K, T>
where
    K: Borrow<Q>,
{
    type Output = T;

    /// # Panics
    ///
    /// If the key is absent.
    #[inline]
    #[track_caller]
    fn index(&self, key: &Q) -> &T {
        self.map.get(key).expect("no entry found for key")
    }
}

impl<'a, K, T> IntoIterator for &'a AsyncDropBTreeMap<K, T> {
    type Item = (&'a K, &'a T);
    type IntoIter = btree_map::Iter<'a, K, T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

impl<'a, K, T> IntoIterator for &'a mut AsyncDropBTreeMap<K, T> {
    type Item = (&'a K, &'a mut T);
    type IntoIter = btree_map::IterMut<'a, K, T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter_mut()
    }
}

impl<K: fmt::Debug, T: fmt::Debug> fmt::Debug for AsyncDropBTreeMap<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(&self.map).finish()
    }
}
