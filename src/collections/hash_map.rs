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
/// Values go in and come out as [`AsyncDropGuard`]s (keys need no cleanup, and are
/// dropped as the cleanup starts), and are cleaned up together (see [the
/// collections](super) for how, and for the drop and cancel behaviour). Errors come
/// in the map's iteration order just before the cleanup. There is no ordered
/// variant: values that depend on each other belong in an
/// [`AsyncDropBTreeMap`](super::AsyncDropBTreeMap).
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
    /// Creates an empty map and guards it; the guard records the caller's location.
    #[inline]
    #[track_caller]
    pub fn new() -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropHashMap {
            map: HashMap::new(),
        })
    }

    /// As [`new`](Self::new), with room for `capacity` values.
    #[inline]
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropHashMap {
            map: HashMap::with_capacity(capacity),
        })
    }
}

impl<K, T: LocalAsyncDrop, S> AsyncDropHashMap<K, T, S> {
    /// As [`new`](AsyncDropHashMap::new), hashing keys with `hasher`.
    #[inline]
    #[track_caller]
    pub fn with_hasher(hasher: S) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropHashMap {
            map: HashMap::with_hasher(hasher),
        })
    }

    /// As [`new`](AsyncDropHashMap::new), with room for `capacity` values, hashing keys
    /// with `hasher`.
    #[inline]
    #[track_caller]
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> AsyncDropGuard<Self> {
        AsyncDropGuard::new(AsyncDropHashMap {
            map: HashMap::with_capacity_and_hasher(capacity, hasher),
        })
    }
}

impl<K: Eq + Hash, T: LocalAsyncDrop, S: BuildHasher> AsyncDropHashMap<K, T, S> {
    /// Inserts a guarded value under `key`; the map now owns its cleanup. A value
    /// already under `key` is handed back guarded (recording this call's location) and
    /// must be cleaned up; the old key is kept, as in [`HashMap::insert`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::doc_fixture::Port;
    /// use asyncdrop::collections::AsyncDropHashMap;
    /// use asyncdrop::AsyncDropGuard;
    ///
    /// # futures_executor::block_on(async {
    /// let mut conns = AsyncDropHashMap::new();
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
        Q: Hash + Eq + ?Sized,
    {
        let value = self.map.remove(key)?;
        Some(AsyncDropGuard::new(value))
    }
}

impl<K: Eq + Hash, T, S: BuildHasher> AsyncDropHashMap<K, T, S> {
    /// A reference to the value under `key`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    /// A mutable reference to the value under `key`.
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(key)
    }

    /// Whether the map has a value under `key`.
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
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many values the map can hold without reallocating.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// The map's hasher.
    #[inline]
    pub fn hasher(&self) -> &S {
        self.map.hasher()
    }

    /// An iterator over the entries, in arbitrary order.
    #[inline]
    pub fn iter(&self) -> hash_map::Iter<'_, K, T> {
        self.map.iter()
    }

    /// An iterator over the entries, in arbitrary order, with mutable references to the
    /// values.
    #[inline]
    pub fn iter_mut(&mut self) -> hash_map::IterMut<'_, K, T> {
        self.map.iter_mut()
    }

    /// An iterator over the keys, in arbitrary order.
    #[inline]
    pub fn keys(&self) -> hash_map::Keys<'_, K, T> {
        self.map.keys()
    }

    /// An iterator over the values, in arbitrary order.
    #[inline]
    pub fn values(&self) -> hash_map::Values<'_, K, T> {
        self.map.values()
    }

    /// An iterator over mutable references to the values, in arbitrary order.
    #[inline]
    pub fn values_mut(&mut self) -> hash_map::ValuesMut<'_, K, T> {
        self.map.values_mut()
    }
}

/// Cleans up every value concurrently; see [`AsyncDropHashMap`].
impl<K, T: LocalAsyncDrop, S> LocalAsyncDrop for AsyncDropHashMap<K, T, S> {
    type Error = CleanupErrors<T::Error>;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
        // Started now, like the other group cleanups of the crate. The keys are
        // dropped with the table: only the values have cleanup.
        AsyncDropIter::<T, _>::new(
            self.map
                .into_values()
                .map(LocalAsyncDrop::local_async_drop_impl),
        )
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
