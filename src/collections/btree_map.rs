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

/// A [`BTreeMap`] of guarded values that is itself one guarded value.
///
/// Values go in as [`AsyncDropGuard`]s and come out as guards: a removed or replaced
/// value still has to be cleaned up. Inside, they are stored bare: if the map's
/// guard is forgotten, that is *one* report for the map, not one per value. Keys
/// need no cleanup and are dropped normally.
///
/// Create it with [`new`](Self::new), which hands out the map's guard; the methods
/// are reached through that guard.
///
/// # Cleanup
///
/// [`AsyncDropGuard::async_drop`] cleans up every value concurrently in the current
/// task, without spawning, as [`async_drop_iter`](super::async_drop_iter) does:
/// every value is cleaned up even if others fail, and the future resolves to
/// `Err(`[`CleanupErrors`]`)` holding every error in key order (position `i` is the
/// `i`-th smallest key). [`async_drop_in_order`](Self::async_drop_in_order) cleans
/// up one value at a time, largest key first.
///
/// # Cost
///
/// As [`async_drop_iter`](super::async_drop_iter)'s: at most 2 allocations for
/// any number of values, 3 if some fail; the ordered variant allocates only its
/// error list. The concurrent cleanup frees the map's nodes as it starts, the
/// ordered one as it goes.
///
/// # Send
///
/// The cleanup future is `Send` when the values' cleanups and the keys are `Send`:
/// the ordered variant holds the keys of the values not yet cleaned up, and both
/// variants share one future type. (An `AsyncDropHashMap` drops its keys before its
/// cleanup starts.)
///
/// # Drop behaviour
///
/// Dropping the map's guard without cleanup drops every key and value synchronously
/// and reports [`ReportKind::Forgotten`](crate::ReportKind::Forgotten) once, for the
/// map.
///
/// # Cancel safety
///
/// Dropping the cleanup future midway drops every value whose cleanup had not
/// finished (exactly once) and reports
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) once, for the map.
/// The values, started or not, report nothing of their own.
///
/// A panic inside a value's cleanup propagates to the caller; the other values are
/// dropped (exactly once) when the cleanup future is, and nothing is reported (the
/// panic is the report).
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
    /// Creates an empty map and guards it.
    ///
    /// The guard records the caller's location, as [`AsyncDropGuard::new`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let conns = AsyncDropBTreeMap::<u16, Conn>::new();
    /// assert!(conns.is_empty());
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
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
    /// Inserts a guarded value under `key`; the map now owns its cleanup.
    ///
    /// If the key was present, its old value is handed back guarded (the guard
    /// records the location of this call) and must be cleaned up; the old key is
    /// kept, as in [`BTreeMap::insert`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropBTreeMap::new();
    /// assert!(conns.insert(1, AsyncDropGuard::new(Conn(1))).is_none());
    /// let old = conns.insert(1, AsyncDropGuard::new(Conn(2))).unwrap();
    /// assert_eq!((old.0, conns[&1].0), (1, 2));
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
    /// If the key is present, the map is left as it was and the guard is handed
    /// back (`key` is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # #[derive(Debug)]
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.try_insert("a", AsyncDropGuard::new(Conn(1))).unwrap().0 += 1;
    /// let rejected = conns.try_insert("a", AsyncDropGuard::new(Conn(9))).unwrap_err();
    /// assert_eq!((conns[&"a"].0, rejected.0), (2, 9));
    /// rejected.async_drop().await.unwrap();
    /// conns.async_drop().await.unwrap();
    /// # });
    /// ```
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

    /// Removes the value under `key` and hands it back guarded; `None` if absent.
    ///
    /// The returned guard records the location of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(String::from("db"), AsyncDropGuard::new(Conn));
    /// let db = conns.remove("db").unwrap();
    /// db.async_drop().await.unwrap();
    /// assert!(conns.remove("db").is_none());
    /// conns.async_drop().await.unwrap();
    /// # });
    /// ```
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

    /// Removes the entry with the smallest key and hands back the key and the
    /// guarded value; `None` if empty.
    ///
    /// The returned guard records the location of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(2, AsyncDropGuard::new(Conn));
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// let (key, first) = conns.pop_first().unwrap();
    /// assert_eq!(key, 1);
    /// first.async_drop().await.unwrap();
    /// conns.async_drop().await.unwrap();
    /// # });
    /// ```
    #[inline]
    #[track_caller]
    pub fn pop_first(&mut self) -> Option<(K, AsyncDropGuard<T>)> {
        let (key, value) = self.map.pop_first()?;
        Some((key, AsyncDropGuard::new(value)))
    }

    /// Removes the entry with the largest key and hands back the key and the
    /// guarded value; `None` if empty.
    ///
    /// The returned guard records the location of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(2, AsyncDropGuard::new(Conn));
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// let (key, last) = conns.pop_last().unwrap();
    /// assert_eq!(key, 2);
    /// last.async_drop().await.unwrap();
    /// conns.async_drop().await.unwrap();
    /// # });
    /// ```
    #[inline]
    #[track_caller]
    pub fn pop_last(&mut self) -> Option<(K, AsyncDropGuard<T>)> {
        let (key, value) = self.map.pop_last()?;
        Some((key, AsyncDropGuard::new(value)))
    }
}

impl<K: Ord, T> AsyncDropBTreeMap<K, T> {
    /// A reference to the value under `key`; `None` if absent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(String::from("db"), AsyncDropGuard::new(Conn(1)));
    /// assert_eq!(conns.get("db").map(|c| c.0), Some(1));
    /// assert!(conns.get("cache").is_none());
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&T>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.get(key)
    }

    /// A mutable reference to the value under `key`; `None` if absent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(1, AsyncDropGuard::new(Conn(1)));
    /// conns.get_mut(&1).unwrap().0 = 7;
    /// assert_eq!(conns[&1].0, 7);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut T>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.get_mut(key)
    }

    /// Whether the map has a value under `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// assert!(conns.contains_key(&1) && !conns.contains_key(&2));
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// assert_eq!(conns.len(), 1);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// assert!(conns.is_empty());
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// assert!(!conns.is_empty());
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// An iterator over the entries, by key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert("b", AsyncDropGuard::new(Conn(2)));
    /// conns.insert("a", AsyncDropGuard::new(Conn(1)));
    /// let all: Vec<_> = conns.iter().map(|(k, c)| (*k, c.0)).collect();
    /// assert_eq!(all, [("a", 1), ("b", 2)]);
    /// assert_eq!(conns.keys().copied().collect::<Vec<_>>(), ["a", "b"]);
    /// assert_eq!(conns.values().map(|c| c.0).collect::<Vec<_>>(), [1, 2]);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn iter(&self) -> btree_map::Iter<'_, K, T> {
        self.map.iter()
    }

    /// An iterator over the entries with mutable references to the values, by key
    /// order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(3, AsyncDropGuard::new(Conn(0)));
    /// for (k, c) in conns.iter_mut() {
    ///     c.0 = *k;
    /// }
    /// assert_eq!(conns[&3].0, 3);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn iter_mut(&mut self) -> btree_map::IterMut<'_, K, T> {
        self.map.iter_mut()
    }

    /// An iterator over the keys, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert("b", AsyncDropGuard::new(Conn));
    /// conns.insert("a", AsyncDropGuard::new(Conn));
    /// assert_eq!(conns.keys().copied().collect::<Vec<_>>(), ["a", "b"]);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn keys(&self) -> btree_map::Keys<'_, K, T> {
        self.map.keys()
    }

    /// An iterator over the values, by key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(2, AsyncDropGuard::new(Conn(20)));
    /// conns.insert(1, AsyncDropGuard::new(Conn(10)));
    /// assert_eq!(conns.values().map(|c| c.0).collect::<Vec<_>>(), [10, 20]);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn values(&self) -> btree_map::Values<'_, K, T> {
        self.map.values()
    }

    /// An iterator over mutable references to the values, by key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropBTreeMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropBTreeMap::new();
    /// conns.insert(1, AsyncDropGuard::new(Conn(1)));
    /// conns.values_mut().for_each(|c| c.0 += 1);
    /// assert_eq!(conns[&1].0, 2);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
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

    fn async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
        let total = self.map.len();
        // The keys are dropped now: only the values have cleanup.
        let values = self.map.into_values();
        if self.in_order {
            Either::Right(in_order(values.enumerate().rev(), total))
        } else {
            // Started now, like the other group cleanups of the crate.
            Either::Left(AsyncDropIter::<T, _>::new(
                values.map(LocalAsyncDrop::async_drop_impl),
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
