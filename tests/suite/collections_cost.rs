//! The exact allocation cost of cleaning up many values, as documented under `# Cost`:
//! the cleanups and their wake-up state (2 for `N ≥ 1`), and the list of any errors.
#![cfg(feature = "alloc")]

use crate::common;

#[cfg(feature = "std")]
use asyncdrop::collections::AsyncDropHashMap;
use asyncdrop::collections::{async_drop_iter, AsyncDropBTreeMap, AsyncDropVec};
use asyncdrop::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop};
use common::counting::allocations;
use common::{run_to_end as run, yield_now};
use std::fmt::Debug;
use std::future::Future;

/// The documented cost of a concurrent cleanup of `n` values with no failure.
fn concurrent(n: usize) -> usize {
    2 * usize::from(n > 0)
}

/// How many allocations making and running the (succeeding) cleanup `make` returns took.
fn cost<F: Future<Output = Result<(), E>>, E: Debug>(make: impl FnOnce() -> F) -> usize {
    let (r, allocs) = allocations(|| run(make()));
    r.unwrap();
    allocs
}

/// A resource whose cleanup yields once and fails if its number is odd.
#[derive(Debug)]
struct Conn(u64);

#[derive(Debug, PartialEq)]
struct CloseError(u64);

impl AsyncDrop for Conn {
    type Error = CloseError;
    async fn async_drop_impl(self) -> Result<(), CloseError> {
        yield_now().await;
        if self.0 % 2 == 1 {
            Err(CloseError(self.0))
        } else {
            Ok(())
        }
    }
}

/// `n` conns numbered `0, 2, 4, ..` (all succeed) followed by `failing` odd ones.
fn numbers(n: usize, failing: usize) -> impl Iterator<Item = u64> {
    let ok = (0..(n - failing) as u64).map(|i| 2 * i);
    ok.chain((0..failing as u64).map(|i| 2 * i + 1))
}

fn vec_of(n: usize, failing: usize) -> AsyncDropGuard<AsyncDropVec<Conn>> {
    let mut vec = AsyncDropVec::with_capacity(n);
    vec.extend(numbers(n, failing).map(|i| AsyncDropGuard::new(Conn(i))));
    vec
}

fn btree_of(n: usize, failing: usize) -> AsyncDropGuard<AsyncDropBTreeMap<u64, Conn>> {
    let mut map = AsyncDropBTreeMap::new();
    for i in numbers(n, failing) {
        assert!(map.insert(i, AsyncDropGuard::new(Conn(i))).is_none());
    }
    map
}

/// Many values (each of whose cleanups waits once); miri interprets a hundred.
const MANY: usize = if cfg!(miri) { 100 } else { 10_000 };

const SIZES: &[usize] = if cfg!(miri) {
    &[0, 1, 2, 10, MANY]
} else {
    &[0, 1, 2, 10, 100, MANY]
};

#[test]
fn cleanups_allocate_as_documented() {
    let guards = |n| numbers(n, 0).map(|i| AsyncDropGuard::new(Conn(i)));
    for &n in SIZES {
        let vec = vec_of(n, 0);
        let allocs = cost(|| vec.async_drop());
        assert_eq!(allocs, concurrent(n), "AsyncDropVec, N = {n}");

        let map = btree_of(n, 0);
        let allocs = cost(|| map.async_drop());
        assert_eq!(allocs, concurrent(n), "BTreeMap, N = {n}");
        #[cfg(feature = "std")]
        {
            let mut map = AsyncDropHashMap::with_capacity(n);
            for i in 0..n as u64 {
                map.insert(i, AsyncDropGuard::new(Conn(2 * i)));
            }
            assert_eq!(cost(|| map.async_drop()), concurrent(n), "HashMap, N = {n}");
        }

        let collected: Vec<_> = guards(n).collect();
        let allocs = cost(|| async_drop_iter(collected));
        assert_eq!(allocs, concurrent(n), "async_drop_iter, N = {n}");

        // A bare iterator of values: nothing collected first.
        let allocs = cost(|| async_drop_iter(numbers(n, 0).map(Conn)));
        let lazy = "async_drop_iter of a lazy iterator";
        assert_eq!(allocs, concurrent(n), "{lazy}, N = {n}");

        // `Vec<T>` (no collection guard) costs the same.
        let collected: Vec<_> = guards(n).collect();
        let allocs = cost(|| collected.local_async_drop_impl());
        assert_eq!(allocs, concurrent(n), "Vec<T>, N = {n}");

        // The ordered variants allocate nothing.
        let vec = vec_of(n, 0);
        let allocs = cost(|| AsyncDropVec::async_drop_in_order(vec));
        assert_eq!(allocs, 0, "AsyncDropVec, N = {n}");

        let map = btree_of(n, 0);
        let allocs = cost(|| AsyncDropBTreeMap::async_drop_in_order(map));
        assert_eq!(allocs, 0, "AsyncDropBTreeMap, N = {n}");
    }

    // Concurrently: one allocation more, whatever the number of failures (the
    // errors wait in their cleanups' places until the list is made, at its size).
    let single = [(1, 1), (2, 1), (10, 1), (100, 1)];
    let failing = single.into_iter().chain([(10, 10), (100, 50), (100, 100)]);
    for (n, k) in failing.clone().chain([(MANY, MANY / 2)]) {
        let vec = vec_of(n, k);
        let (r, allocs) = allocations(|| run(vec.async_drop()));
        assert_eq!(r.unwrap_err().len(), k);
        assert_eq!(allocs, 3, "concurrent, N = {n}, {k} failures");
    }
    // In order: a `Vec` grown to `k` (geometrically: at most 1 + log2(k) allocations).
    for (n, k) in failing {
        let bound = 1 + k.ilog2() as usize;
        let vec = vec_of(n, k);
        let (r, allocs) = allocations(|| run(AsyncDropVec::async_drop_in_order(vec)));
        assert_eq!(r.unwrap_err().len(), k);
        let within = (1..=bound).contains(&allocs);
        assert!(within, "in order, N = {n}, {k} failures: {allocs} allocs");
    }

    // Composition allocates nothing itself.
    let some = Some(AsyncDropGuard::new(Conn(0)));
    assert_eq!(cost(|| some.local_async_drop_impl()), 0, "Option");
    let ok: Result<_, String> = Ok(AsyncDropGuard::new(Conn(0)));
    assert_eq!(cost(|| ok.local_async_drop_impl()), 0, "Result");
    let boxed = AsyncDropGuard::new(Box::new(Conn(0)));
    let freed = "Box<T>: the box is freed, nothing allocated";
    assert_eq!(cost(|| boxed.async_drop()), 0, "{freed}");
    let boxed_guard = Box::new(AsyncDropGuard::new(Conn(0)));
    let allocs = cost(|| boxed_guard.local_async_drop_impl());
    assert_eq!(allocs, 0, "Box<AsyncDropGuard<T>>");
}
