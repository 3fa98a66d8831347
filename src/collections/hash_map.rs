//! A hash map of guarded values.

use core::borrow::Borrow;
use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
use std::collections::hash_map::{self, Entry, HashMap, RandomState};

use super::cleanup::AsyncDropIter;
use super::CleanupErrors;
use crate::{AsyncDropGuard, LocalAsyncDrop};

/// A [`HashMap`] of guarded values that is itself one guarded value.
///
/// Values go in as [`AsyncDropGuard`]s and come out as guards: a removed or replaced
/// value still has to be cleaned up. Inside, they are stored bare: if the map's
/// guard is forgotten, that is *one* report for the map, not one per value. Keys
/// need no cleanup and are dropped normally.
///
/// Create it with [`new`](Self::new) (or [`with_hasher`](Self::with_hasher)),
/// which hands out the map's guard; the methods are reached through that guard.
///
/// # Cleanup
///
/// [`AsyncDropGuard::async_drop`] cleans up every value concurrently in the current
/// task, without spawning, as [`async_drop_iter`](super::async_drop_iter) does:
/// every value is cleaned up even if others fail, and the future resolves to
/// `Err(`[`CleanupErrors`]`)` holding every error in the map's iteration order
/// (the order [`values`](Self::values) lists them in just before the cleanup).
///
/// There is no ordered variant: a hash map's order is arbitrary, so it cannot
/// express that one value depends on another. Keep such values in an
/// [`AsyncDropBTreeMap`](super::AsyncDropBTreeMap) (cleaned up largest key first by
/// its `async_drop_in_order`), or [`remove`](Self::remove) and clean them up in the
/// order they need before cleaning up the map.
///
/// # Cost
///
/// As [`async_drop_iter`](super::async_drop_iter)'s: at most 2 allocations for
/// any number of values, 3 if some fail. The map's table is freed as the cleanup
/// starts.
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
/// use asyncdrop::collections::AsyncDropHashMap;
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
/// let mut sessions = AsyncDropHashMap::new();
/// sessions.insert("ann", AsyncDropGuard::new(Session("ann")));
/// sessions.insert("bob", AsyncDropGuard::new(Session("bob")));
/// // A removed value comes back as a guard: it must be cleaned up too.
/// let ann = sessions.remove("ann").unwrap();
/// ann.async_drop().await.unwrap();
///
/// let err = sessions.async_drop().await.unwrap_err();
/// assert_eq!(err.first(), "bob: timeout");
/// # });
/// ```
pub struct AsyncDropHashMap<K, T, S = RandomState> {
    map: HashMap<K, T, S>,
}

impl<K, T: LocalAsyncDrop> AsyncDropHashMap<K, T, RandomState> {
    /// Creates an empty map and guards it.
    ///
    /// The guard records the caller's location, as [`AsyncDropGuard::new`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let conns = AsyncDropHashMap::<u16, Conn>::new();
    /// assert!(conns.is_empty());
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    #[track_caller]
    pub fn new() -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropHashMap {
            map: HashMap::new(),
        })
    }

    /// Creates an empty map with room for `capacity` values, and guards it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let conns = AsyncDropHashMap::<u16, Conn>::with_capacity(16);
    /// assert!(conns.capacity() >= 16);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropHashMap {
            map: HashMap::with_capacity(capacity),
        })
    }
}

impl<K, T: LocalAsyncDrop, S> AsyncDropHashMap<K, T, S> {
    /// Creates an empty map that hashes keys with `hasher`, and guards it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// use std::hash::BuildHasherDefault;
    /// use std::collections::hash_map::DefaultHasher;
    ///
    /// let mut conns = AsyncDropHashMap::with_hasher(BuildHasherDefault::<DefaultHasher>::default());
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    #[track_caller]
    pub fn with_hasher(hasher: S) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropHashMap {
            map: HashMap::with_hasher(hasher),
        })
    }

    /// Creates an empty map with room for `capacity` values that hashes keys with
    /// `hasher`, and guards it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// use std::collections::hash_map::RandomState;
    ///
    /// let conns = AsyncDropHashMap::<u8, Conn>::with_capacity_and_hasher(4, RandomState::new());
    /// assert!(conns.capacity() >= 4);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    #[track_caller]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropHashMap {
            map: HashMap::with_capacity_and_hasher(capacity, hasher),
        })
    }
}

impl<K: Eq + Hash, T: LocalAsyncDrop, S: BuildHasher> AsyncDropHashMap<K, T, S> {
    /// Inserts a guarded value under `key`; the map now owns its cleanup.
    ///
    /// If the key was present, its old value is handed back guarded (the guard
    /// records the location of this call) and must be cleaned up; the old key is
    /// kept, as in [`HashMap::insert`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropHashMap::new();
    /// assert!(conns.insert("db", AsyncDropGuard::new(Conn(1))).is_none());
    /// let old = conns.insert("db", AsyncDropGuard::new(Conn(2))).unwrap();
    /// assert_eq!((old.0, conns[&"db"].0), (1, 2));
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
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # #[derive(Debug)]
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropHashMap::new();
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
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert(String::from("db"), AsyncDropGuard::new(Conn(1)));
    /// let db = conns.remove("db").unwrap();
    /// assert_eq!(db.0, 1);
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
        Q: Hash + Eq + ?Sized,
    {
        let value = self.map.remove(key)?;
        Some(AsyncDropGuard::new(value))
    }
}

impl<K: Eq + Hash, T, S: BuildHasher> AsyncDropHashMap<K, T, S> {
    /// A reference to the value under `key`; `None` if absent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert(String::from("db"), AsyncDropGuard::new(Conn(1)));
    /// assert_eq!(conns.get("db").map(|c| c.0), Some(1));
    /// assert!(conns.get("cache").is_none());
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    /// A mutable reference to the value under `key`; `None` if absent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert(1, AsyncDropGuard::new(Conn(1)));
    /// conns.get_mut(&1).unwrap().0 = 7;
    /// assert_eq!(conns[&1].0, 7);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(key)
    }

    /// Whether the map has a value under `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// assert!(conns.contains_key(&1) && !conns.contains_key(&2));
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(key)
    }
}

impl<K, T, S> AsyncDropHashMap<K, T, S> {
    /// The number of values.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
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
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// assert!(conns.is_empty());
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// assert!(!conns.is_empty());
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many values the map can hold without reallocating.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// assert_eq!(conns.capacity(), 0); // `new` does not allocate
    /// conns.insert(1, AsyncDropGuard::new(Conn));
    /// assert!(conns.capacity() >= 1);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// The map's hasher.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// use std::hash::BuildHasher;
    ///
    /// let conns = AsyncDropHashMap::<u8, Conn>::new();
    /// let _ = conns.hasher().hash_one(1u8);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn hasher(&self) -> &S {
        self.map.hasher()
    }

    /// An iterator over the entries, in arbitrary order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert("b", AsyncDropGuard::new(Conn(2)));
    /// conns.insert("a", AsyncDropGuard::new(Conn(1)));
    /// let mut all: Vec<_> = conns.iter().map(|(k, c)| (*k, c.0)).collect();
    /// all.sort();
    /// assert_eq!(all, [("a", 1), ("b", 2)]);
    /// assert_eq!(conns.keys().count(), 2);
    /// assert_eq!(conns.values().map(|c| u32::from(c.0)).sum::<u32>(), 3);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn iter(&self) -> hash_map::Iter<'_, K, T> {
        self.map.iter()
    }

    /// An iterator over the entries with mutable references to the values, in
    /// arbitrary order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert(3, AsyncDropGuard::new(Conn(0)));
    /// for (k, c) in conns.iter_mut() {
    ///     c.0 = *k;
    /// }
    /// assert_eq!(conns[&3].0, 3);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn iter_mut(&mut self) -> hash_map::IterMut<'_, K, T> {
        self.map.iter_mut()
    }

    /// An iterator over the keys, in arbitrary order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert("b", AsyncDropGuard::new(Conn));
    /// conns.insert("a", AsyncDropGuard::new(Conn));
    /// let mut keys: Vec<_> = conns.keys().copied().collect();
    /// keys.sort_unstable();
    /// assert_eq!(keys, ["a", "b"]);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn keys(&self) -> hash_map::Keys<'_, K, T> {
        self.map.keys()
    }

    /// An iterator over the values, in arbitrary order (the order in which a
    /// cleanup reports their errors, if the map is not changed in between).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert("b", AsyncDropGuard::new(Conn(2)));
    /// conns.insert("a", AsyncDropGuard::new(Conn(1)));
    /// let mut all: Vec<_> = conns.values().map(|c| c.0).collect();
    /// all.sort_unstable();
    /// assert_eq!(all, [1, 2]);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn values(&self) -> hash_map::Values<'_, K, T> {
        self.map.values()
    }

    /// An iterator over mutable references to the values, in arbitrary order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::AsyncDropHashMap;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let mut conns = AsyncDropHashMap::new();
    /// conns.insert(1, AsyncDropGuard::new(Conn(1)));
    /// conns.values_mut().for_each(|c| c.0 += 1);
    /// assert_eq!(conns[&1].0, 2);
    /// # futures_executor::block_on(conns.async_drop()).unwrap();
    /// ```
    #[inline]
    pub fn values_mut(&mut self) -> hash_map::ValuesMut<'_, K, T> {
        self.map.values_mut()
    }
}

/// Cleans up every value concurrently; see [`AsyncDropHashMap`].
impl<K, T: LocalAsyncDrop, S> LocalAsyncDrop for AsyncDropHashMap<K, T, S> {
    type Error = CleanupErrors<T::Error>;

    fn async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
        // Started now, like the other group cleanups of the crate. The keys are
        // dropped with the table: only the values have cleanup.
        AsyncDropIter::<T, _>::new(self.map.into_values().map(LocalAsyncDrop::async_drop_impl))
    }
}

impl<K, Q, T, S> core::ops::Index<&Q> for AsyncDropHashMap<K, T, S>
where
    K: Eq + Hash + Borrow<Q>,
    Q: Eq + Hash + ?Sized,
    S: BuildHasher,
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

impl<'a, K, T, S> IntoIterator for &'a AsyncDropHashMap<K, T, S> {
    type Item = (&'a K, &'a T);
    type IntoIter = hash_map::Iter<'a, K, T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

impl<'a, K, T, S> IntoIterator for &'a mut AsyncDropHashMap<K, T, S> {
    type Item = (&'a K, &'a mut T);
    type IntoIter = hash_map::IterMut<'a, K, T>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter_mut()
    }
}

impl<K: fmt::Debug, T: fmt::Debug, S> fmt::Debug for AsyncDropHashMap<K, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(&self.map).finish()
    }
}
