//! The guard collections (`AsyncDropVec`, `AsyncDropBTreeMap`, `AsyncDropHashMap`)
//! and `async_drop_iter`.
#![cfg(feature = "alloc")]

use crate::common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::error::Error;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

#[cfg(feature = "std")]
use asyncdrop::collections::AsyncDropHashMap;
use asyncdrop::collections::{async_drop_iter, AsyncDropBTreeMap, AsyncDropVec, CleanupErrors};
use asyncdrop::{AsyncDropGuard, LocalAsyncDrop, ReportKind};
use common::{
    assert_counts, assert_site, poll_once, reports::one_report_naming, setup, take_reports,
    yield_now, Behaviour, Counters, Probe, ProbeError, Seen,
};
use futures_core::FusedFuture;
use futures_executor::block_on;

/// The failure code of probe `id` (so an error names its probe twice).
fn code(id: u32) -> u32 {
    1000 + id
}

fn behaviour(id: u32, fail: bool) -> Behaviour {
    if fail {
        Behaviour::Fail(code(id))
    } else {
        Behaviour::Succeed
    }
}

fn probe(c: &Arc<Counters>, id: u32, fail: bool, yields: usize) -> AsyncDropGuard<Probe> {
    let b = behaviour(id, fail);
    Probe::new(c).id(id).behaviour(b).yields(yields).guard()
}

/// A vector of `probe(c, id, fail(id), yields(id))` for each id.
#[track_caller]
fn vec_of(
    c: &Arc<Counters>,
    ids: impl IntoIterator<Item = u32>,
    fail: impl Fn(u32) -> bool,
    yields: impl Fn(u32) -> usize,
) -> AsyncDropGuard<AsyncDropVec<Probe>> {
    let mut vec = AsyncDropVec::new();
    vec.extend(ids.into_iter().map(|id| probe(c, id, fail(id), yields(id))));
    vec
}

/// As [`vec_of`], each probe under its id as key.
#[track_caller]
fn btree_of(
    c: &Arc<Counters>,
    ids: impl IntoIterator<Item = u32>,
    fail: impl Fn(u32) -> bool,
    yields: impl Fn(u32) -> usize,
) -> AsyncDropGuard<AsyncDropBTreeMap<u32, Probe>> {
    let mut map = AsyncDropBTreeMap::new();
    for id in ids {
        assert!(map.insert(id, probe(c, id, fail(id), yields(id))).is_none());
    }
    map
}

/// As [`btree_of`], in a hash map.
#[cfg(feature = "std")]
#[track_caller]
fn hash_of(
    c: &Arc<Counters>,
    ids: impl IntoIterator<Item = u32>,
    fail: impl Fn(u32) -> bool,
    yields: impl Fn(u32) -> usize,
) -> AsyncDropGuard<AsyncDropHashMap<u32, Probe>> {
    let mut map = AsyncDropHashMap::new();
    for id in ids {
        assert!(map.insert(id, probe(c, id, fail(id), yields(id))).is_none());
    }
    map
}

fn fails(p: &Probe) -> bool {
    matches!(p.behaviour, Behaviour::Fail(_))
}

/// `(position, id)` of every failing `(id, fails)` entry, in order.
fn failing(entries: impl IntoIterator<Item = (u32, bool)>) -> Vec<(usize, u32)> {
    let all = entries.into_iter().enumerate();
    all.filter(|(_, e)| e.1).map(|(i, e)| (i, e.0)).collect()
}

/// `(position, probe id)` of every error, checking each error's code.
fn positions(err: &CleanupErrors<ProbeError>) -> Vec<(usize, u32)> {
    err.iter_indexed()
        .map(|(i, e)| {
            assert_eq!(e.code, code(e.id));
            (i, e.id)
        })
        .collect()
}

/// Cleanup result as `(position, id)` pairs; empty for `Ok`.
fn outcome(r: Result<(), CleanupErrors<ProbeError>>) -> Vec<(usize, u32)> {
    r.err().map_or_else(Vec::new, |e| positions(&e))
}

/// Runs `fut`; asserts that at some point all `n` probes had started and none finished.
fn all_started_before_any_finished<F: Future>(c: &Counters, n: usize, fut: F) -> F::Output {
    let mut fut = Box::pin(fut);
    let mut seen = false;
    loop {
        if let Poll::Ready(out) = poll_once(&mut fut) {
            assert!(seen, "the cleanups did not all start before one finished");
            return out;
        }
        seen |= c.started() == n && c.finished() == 0;
    }
}

/// A `!Send` resource that logs when its cleanup starts and ends.
struct Step {
    id: u32,
    log: Rc<RefCell<Vec<Event>>>,
    yields: usize,
    fail: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Start(u32),
    End(u32),
}

impl LocalAsyncDrop for Step {
    type Error = u32;

    async fn local_async_drop_impl(self) -> Result<(), u32> {
        self.log.borrow_mut().push(Event::Start(self.id));
        for _ in 0..self.yields {
            yield_now().await;
        }
        self.log.borrow_mut().push(Event::End(self.id));
        if self.fail {
            Err(self.id)
        } else {
            Ok(())
        }
    }
}

fn step(log: &Rc<RefCell<Vec<Event>>>, id: u32, yields: usize, fail: bool) -> AsyncDropGuard<Step> {
    let log = log.clone();
    AsyncDropGuard::new(Step {
        id,
        log,
        yields,
        fail,
    })
}

/// `Start(id), End(id)` for each id in turn: one cleanup at a time.
fn sequential(ids: &[u32]) -> Vec<Event> {
    ids.iter()
        .flat_map(|&id| [Event::Start(id), Event::End(id)])
        .collect()
}

/// `(position, error)` of every error of a `Step` cleanup.
fn indexed(err: &CleanupErrors<u32>) -> Vec<(usize, u32)> {
    err.iter_indexed().map(|(i, e)| (i, *e)).collect()
}

#[test]
fn cleanups_clean_every_element_once_concurrently_and_keep_every_error_in_order() {
    let c = setup();
    // Later elements yield less and finish first; the errors still come back by index.
    let vec = vec_of(&c, 0..6, |id| id % 2 == 1, |id| 6 - id as usize);
    assert_eq!(vec.len(), 6);
    let err = block_on(vec.async_drop()).unwrap_err();
    assert_eq!(positions(&err), [(1, 1), (3, 3), (5, 5)]);
    assert_eq!((err.len(), err.total(), err.first().id), (3, 6, 1));
    assert_eq!(
        err.to_string(),
        "3 of 6 cleanups failed; [1]: probe 1 failed with 1001; \
         [3]: probe 3 failed with 1003; [5]: probe 5 failed with 1005"
    );
    let source = err.source().map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("probe 1 failed with 1001"));
    let ids = |errors: Vec<&ProbeError>| errors.iter().map(|e| e.id).collect::<Vec<_>>();
    let owned = ids(err.clone().into_vec().iter().collect());
    assert_eq!(ids(err.iter().collect()), owned);
    assert_eq!(err.clone().into_iter().count(), 3);
    assert_eq!(err.into_indexed().len(), 3);
    assert_counts(&c, 6, 6, 6);
    assert!(take_reports().is_empty());

    // Without failures: `Ok`.
    let c = Counters::new();
    let mut vec = AsyncDropVec::with_capacity(4);
    assert!(vec.capacity() >= 4 && vec.is_empty());
    vec.extend((0..4).map(|id| probe(&c, id, false, 1)));
    assert_eq!(block_on(vec.async_drop()), Ok(()));
    assert_counts(&c, 4, 4, 4);
    assert_eq!(block_on(AsyncDropVec::<Probe>::new().async_drop()), Ok(()));
    assert!(take_reports().is_empty());

    // Maps: inserted out of order, larger keys finish first; the errors in key order.
    let c = setup();
    let map = btree_of(&c, [4, 0, 5, 2, 1, 3], |k| k != 2, |k| 6 - k as usize);
    let err = block_on(map.async_drop()).unwrap_err();
    assert_eq!(positions(&err), [(0, 0), (1, 1), (3, 3), (4, 4), (5, 5)]);
    assert_counts(&c, 6, 6, 6);

    // A hash map's documented order: the order `values()` lists the values in.
    #[cfg(feature = "std")]
    {
        let c = Counters::new();
        let map = hash_of(&c, 0..16, |k| k % 3 == 0, |k| (k % 4) as usize);
        let expected = failing(map.values().map(|p| (p.id, fails(p))));
        assert_eq!(expected.len(), 6);
        let err = block_on(map.async_drop()).unwrap_err();
        assert_eq!(positions(&err), expected);
        assert_eq!(err.total(), 16);
        assert_counts(&c, 16, 16, 16);
    }
    assert!(take_reports().is_empty());

    // Concurrently, or one at a time in order.
    let c = setup();
    let vec = vec_of(&c, 0..8, |_| false, |_| 2);
    all_started_before_any_finished(&c, 8, vec.async_drop()).unwrap();
    assert_counts(&c, 8, 8, 8);

    let c = Counters::new();
    let map = btree_of(&c, 0..8, |id| id == 3, |_| 2);
    let err = all_started_before_any_finished(&c, 8, map.async_drop()).unwrap_err();
    assert_eq!(positions(&err), [(3, 3)]);
    assert_counts(&c, 8, 8, 8);

    #[cfg(feature = "std")]
    {
        let c = Counters::new();
        let map = hash_of(&c, 0..8, |_| false, |_| 3);
        all_started_before_any_finished(&c, 8, map.async_drop()).unwrap();
        assert_counts(&c, 8, 8, 8);
    }

    let c = Counters::new();
    let guards: Vec<_> = (0..8).map(|id| probe(&c, id, false, 2)).collect();
    all_started_before_any_finished(&c, 8, async_drop_iter(guards)).unwrap();
    assert_counts(&c, 8, 8, 8);
    assert!(take_reports().is_empty());

    let log = Rc::new(RefCell::new(Vec::new()));
    let mut vec = AsyncDropVec::new();
    vec.extend((0..4).map(|id| step(&log, id, 1, id == 2)));
    let err = block_on(vec.async_drop()).unwrap_err();
    assert_eq!(err.into_vec(), [2]);
    let log = log.borrow();
    assert_eq!(log.len(), 8);
    let starts = log[..4].iter().all(|e| matches!(e, Event::Start(_)));
    assert!(starts, "{log:?}");
    drop(log);

    // In order: the last element first, one at a time.
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut vec = AsyncDropVec::new();
    vec.extend((0..5).map(|id| step(&log, id, 2, id == 1 || id == 3)));
    let err = block_on(AsyncDropVec::async_drop_in_order(vec)).unwrap_err();
    assert_eq!(log.take(), sequential(&[4, 3, 2, 1, 0]));
    // Every error, in index order (not cleanup order).
    assert_eq!((indexed(&err), err.total()), (vec![(1, 1), (3, 3)], 5));

    // A map: the largest key first.
    let mut map = AsyncDropBTreeMap::new();
    for key in [3, 1, 4, 2] {
        map.insert(key, step(&log, key, 1, key == 4 || key == 1));
    }
    let err = block_on(AsyncDropBTreeMap::async_drop_in_order(map)).unwrap_err();
    assert_eq!(*log.borrow(), sequential(&[4, 3, 2, 1]));
    assert_eq!(indexed(&err), [(0, 1), (3, 4)]);
    assert!(take_reports().is_empty());

    // Every element cleaned up once, in order too.
    let c = Counters::new();
    let vec = vec_of(&c, 0..4, |id| id == 0, |_| 1);
    let err = block_on(AsyncDropVec::async_drop_in_order(vec)).unwrap_err();
    assert_eq!(positions(&err), [(0, 0)]);
    assert_counts(&c, 4, 4, 4);

    let c = Counters::new();
    let map = btree_of(&c, 0..4, |_| false, |_| 1);
    block_on(AsyncDropBTreeMap::async_drop_in_order(map)).unwrap();
    assert_counts(&c, 4, 4, 4);
    let empty = AsyncDropVec::<Probe>::new();
    block_on(AsyncDropVec::async_drop_in_order(empty)).unwrap();
    assert!(take_reports().is_empty());

    // `async_drop_iter` cleans up guards and bare values.
    let c = setup();
    let guards = (0..5).map(|id| probe(&c, id, id >= 3, 4 - id as usize));
    let err = block_on(async_drop_iter(guards)).unwrap_err();
    assert_eq!(positions(&err), [(3, 3), (4, 4)]);
    assert_counts(&c, 5, 5, 5);

    let c = Counters::new();
    let bare = (0..3).map(|id| Probe::new(&c).id(id).yields(1));
    block_on(async_drop_iter(bare)).unwrap();
    assert_counts(&c, 3, 3, 3);

    block_on(async_drop_iter(Vec::<AsyncDropGuard<Probe>>::new())).unwrap();
    block_on(async_drop_iter(None::<Probe>)).unwrap();
    assert!(take_reports().is_empty());

    let c = setup();
    let mut fut = async_drop_iter((0..2).map(|id| probe(&c, id, false, 1)));
    let debug = format!("{fut:?}");
    let counts = debug.contains("total: 2") && debug.contains("running: 2");
    assert!(counts, "{debug}");
    assert!(!fut.is_terminated());
    common::run_to_end(&mut fut).unwrap();
    assert!(fut.is_terminated());
    let again = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut)));
    assert!(again.is_err(), "polling after completion panics");
    assert_counts(&c, 2, 2, 2);
    assert!(take_reports().is_empty());

    // `Unpin`, and `Send` for `Send` cleanups.
    fn assert_send_unpin<T: Send + Unpin>(_: &T) {}
    let fut = async_drop_iter((0..2).map(|id| probe(&c, id, false, 0)));
    assert_send_unpin(&fut);
    block_on(fut).unwrap();
    assert_counts(&c, 4, 4, 4);
}

#[test]
fn removal_hands_back_guards_reported_if_forgotten_and_accessors() {
    let c = setup();
    let mut vec = vec_of(&c, 0..6, |_| false, |_| 0);
    vec.insert(6, probe(&c, 6, false, 0));
    let (removed, line) = (vec.remove(1), line!());
    let (swapped, popped) = (vec.swap_remove(0), vec.pop().unwrap());
    assert_eq!((removed.id, swapped.id, popped.id), (1, 0, 5));
    let ids: Vec<_> = vec.iter().map(|p| p.id).collect();
    assert_eq!(ids, [6, 2, 3, 4], "swap_remove moved 6 into place 0");
    assert!(take_reports().is_empty(), "removing reports nothing");

    // A removed guard is a guard: forgetting it is reported, with the removal site.
    drop(removed);
    let report = one_report_naming(ReportKind::Forgotten, "Probe");
    assert_site(report.site, file!(), line);
    assert_eq!(c.drops(), 1);

    block_on(asyncdrop::async_drop_all((swapped, popped))).unwrap();
    block_on(vec.async_drop()).unwrap();
    assert_counts(&c, 6, 6, 7);
    assert!(take_reports().is_empty());

    // Accessors.
    let c = Counters::new();
    let mut vec = AsyncDropVec::new();
    assert!(vec.pop().is_none());
    vec.extend([probe(&c, 1, false, 0), probe(&c, 2, false, 0)]);
    assert_eq!(vec.get(1).map(|p| p.id), Some(2));
    assert!(vec.get(2).is_none());
    vec.get_mut(0).unwrap().id = 10;
    vec[1].id = 20;
    vec.iter_mut().for_each(|p| p.id += 1);
    for p in &mut *vec {
        p.id += 1;
    }
    let ids: Vec<_> = (&*vec).into_iter().map(|p| p.id).collect();
    assert_eq!(ids, [12, 22]);
    assert_eq!(vec.as_slice().len(), 2);
    vec.as_mut_slice().reverse();
    assert_eq!(vec[0].id, 22);
    vec.reserve(10);
    assert!(vec.capacity() >= 12);
    assert!(format!("{:?}", *vec).starts_with("[Probe {"));
    block_on(vec.async_drop()).unwrap();
    assert_counts(&c, 2, 2, 2);

    // Out of bounds: panics, loses nothing.
    let c = Counters::new();
    let mut vec = vec_of(&c, [0], |_| false, |_| 0);
    assert!(catch_unwind(AssertUnwindSafe(|| vec.remove(1))).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| vec.swap_remove(1))).is_err());
    // A guard given to a failing insert is dropped without a report (the panic is one).
    assert!(catch_unwind(AssertUnwindSafe(|| vec.insert(5, probe(&c, 1, false, 0)))).is_err());
    assert_eq!((c.drops(), vec.len()), (1, 1));
    block_on(vec.async_drop()).unwrap();
    assert_eq!((c.started(), c.drops()), (1, 2));
    assert!(take_reports().is_empty());

    // BTreeMap: removal, replacement and `try_insert` hand back guards.
    let c = setup();
    let mut map = btree_of(&c, 0..5, |_| false, |_| 0);
    let (replaced, line) = (map.insert(2, probe(&c, 20, false, 0)), line!());
    let replaced = replaced.unwrap();
    assert_eq!((replaced.id, map[&2].id), (2, 20));
    let removed = map.remove(&3).unwrap();
    assert!(map.remove(&3).is_none());
    let (k0, first) = map.pop_first().unwrap();
    let (k4, last) = map.pop_last().unwrap();
    assert_eq!((k0, first.id, k4, last.id), (0, 0, 4, 4));
    assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1, 2]);
    assert!(map.contains_key(&1) && !map.contains_key(&0));
    assert_eq!(map.get(&1).map(|p| p.id), Some(1));
    map.get_mut(&1).unwrap().yields = 1;
    assert!(take_reports().is_empty());

    drop(replaced);
    let report = one_report_naming(ReportKind::Forgotten, "Probe");
    assert_site(report.site, file!(), line);

    block_on(async_drop_iter([removed, first, last])).unwrap();
    block_on(map.async_drop()).unwrap();
    assert_counts(&c, 5, 5, 6);
    assert!(take_reports().is_empty());

    // `try_insert` rejects and hands back the guard.
    let c = Counters::new();
    let mut map = AsyncDropBTreeMap::new();
    map.try_insert("a", probe(&c, 1, false, 0)).unwrap().id = 10;
    let rejected = map.try_insert("a", probe(&c, 2, true, 0)).unwrap_err();
    assert_eq!((rejected.id, map[&"a"].id, map.len()), (2, 10, 1));
    assert_eq!(block_on(rejected.async_drop()).unwrap_err().id, 2);
    block_on(map.async_drop()).unwrap();
    assert_counts(&c, 2, 2, 2);
    assert!(take_reports().is_empty());

    // Accessors.
    let c = Counters::new();
    let mut map = AsyncDropBTreeMap::new();
    assert!(map.is_empty() && map.pop_first().is_none() && map.pop_last().is_none());
    map.insert(2, probe(&c, 2, false, 0));
    map.insert(1, probe(&c, 1, false, 0));
    map.iter_mut().for_each(|(k, p)| p.id += k);
    map.values_mut().for_each(|p| p.id += 1);
    for (_, p) in &mut *map {
        p.id *= 10;
    }
    assert_eq!(map.values().map(|p| p.id).collect::<Vec<_>>(), [30, 50]);
    assert_eq!(map.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2]);
    assert_eq!((&*map).into_iter().count(), 2);
    assert!(format!("{:?}", *map).starts_with("{1: Probe {"));
    block_on(map.async_drop()).unwrap();
    assert_counts(&c, 2, 2, 2);

    // HashMap: removal, replacement and `try_insert` hand back guards; any hasher.
    #[cfg(feature = "std")]
    {
        let c = setup();
        let mut map = AsyncDropHashMap::with_capacity(8);
        assert!(map.capacity() >= 8);
        for key in 0..4 {
            map.insert(key.to_string(), probe(&c, key, false, 0));
        }
        let (replaced, line) = (map.insert("1".into(), probe(&c, 10, false, 0)), line!());
        let replaced = replaced.unwrap();
        assert_eq!((replaced.id, map["1"].id), (1, 10));
        let removed = map.remove("2").unwrap();
        assert!(map.remove("2").is_none());
        let five = probe(&c, 5, false, 0);
        map.try_insert("5".into(), five).unwrap().id = 50;
        let rejected = map.try_insert("5".into(), probe(&c, 6, false, 0));
        let rejected = rejected.unwrap_err();
        assert_eq!((rejected.id, map["5"].id), (6, 50));
        assert!(map.contains_key("0") && !map.contains_key("2"));
        assert_eq!(map.get("3").map(|p| p.id), Some(3));
        map.get_mut("3").unwrap().yields = 2;
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["0", "1", "3", "5"]);
        map.values_mut().for_each(|p| p.yields += 1);
        map.iter_mut().for_each(|(_, p)| p.yields += 1);
        assert_eq!(map.iter().count() + (&*map).into_iter().count(), 8);
        let _ = map.hasher();
        assert!(format!("{:?}", *map).starts_with('{'));
        assert!(take_reports().is_empty());

        drop(replaced);
        let report = one_report_naming(ReportKind::Forgotten, "Probe");
        assert_site(report.site, file!(), line);

        block_on(async_drop_iter(vec![removed, rejected])).unwrap();
        block_on(map.async_drop()).unwrap();
        assert_counts(&c, 6, 6, 7);
        assert!(take_reports().is_empty());

        // With a custom hasher.
        type Hasher = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;
        let c = Counters::new();
        let mut map = AsyncDropHashMap::with_hasher(Hasher::default());
        map.insert(1, probe(&c, 1, true, 0));
        let err = block_on(map.async_drop()).unwrap_err();
        assert_eq!(positions(&err), [(0, 1)]);
        let map = AsyncDropHashMap::<u8, Probe, _>::with_capacity_and_hasher(2, Hasher::default());
        block_on(map.async_drop()).unwrap();
        assert_counts(&c, 1, 1, 1);
    }
}

/// Polls `fut` until at least one but not every probe has finished, then drops it.
fn cancel_midway<F: Future>(c: &Counters, n: usize, fut: F) {
    let mut fut = Box::pin(fut);
    while c.finished() == 0 {
        assert!(poll_once(&mut fut).is_pending());
    }
    let finished = c.finished();
    assert!(finished < n, "cancel midway: {finished} of {n} finished");
    drop(fut);
    assert_eq!(c.finished(), finished, "nothing more ran");
    assert_eq!(c.drops(), n, "every element dropped exactly once");
}

#[test]
fn forgotten_cancelled_or_panicked_cleanups_drop_every_element_once_and_scale() {
    let c = setup();
    let (vec, line) = (vec_of(&c, 0..5, |_| false, |_| 0), line!());
    drop(vec);
    let report = one_report_naming(ReportKind::Forgotten, "AsyncDropVec");
    assert_site(report.site, file!(), line);
    assert_eq!((c.started(), c.drops()), (0, 5));

    drop(btree_of(&c, 0..5, |_| false, |_| 0));
    one_report_naming(ReportKind::Forgotten, "AsyncDropBTreeMap");
    assert_eq!((c.started(), c.drops()), (0, 10));

    #[cfg(feature = "std")]
    {
        drop(hash_of(&c, 0..5, |_| false, |_| 0));
        one_report_naming(ReportKind::Forgotten, "AsyncDropHashMap");
        assert_eq!((c.started(), c.drops()), (0, 15));
    }

    // Cancelled midway: the rest dropped once, reported once (or per guard).
    let c = Counters::new();
    let (vec, line) = (vec_of(&c, 0..8, |_| false, |id| id as usize), line!());
    cancel_midway(&c, 8, vec.async_drop());
    let report = one_report_naming(ReportKind::Cancelled, "AsyncDropVec");
    assert_site(report.site, file!(), line);

    let c = Counters::new();
    let (vec, line) = (vec_of(&c, 0..4, |_| false, |_| 2), line!());
    cancel_midway(&c, 4, AsyncDropVec::async_drop_in_order(vec));
    assert_eq!(c.started(), 2, "the last finished, the one before ran");
    let report = one_report_naming(ReportKind::Cancelled, "AsyncDropVec");
    assert_site(report.site, file!(), line);

    let c = Counters::new();
    let map = btree_of(&c, 0..6, |_| false, |id| id as usize);
    cancel_midway(&c, 6, map.async_drop());
    one_report_naming(ReportKind::Cancelled, "AsyncDropBTreeMap");

    let c = Counters::new();
    let map = btree_of(&c, 0..3, |_| false, |_| 1);
    cancel_midway(&c, 3, AsyncDropBTreeMap::async_drop_in_order(map));
    one_report_naming(ReportKind::Cancelled, "AsyncDropBTreeMap");

    #[cfg(feature = "std")]
    {
        let c = Counters::new();
        let map = hash_of(&c, 0..6, |_| false, |id| id as usize);
        cancel_midway(&c, 6, map.async_drop());
        one_report_naming(ReportKind::Cancelled, "AsyncDropHashMap");
    }

    // `async_drop_iter` reports each unfinished guard.
    let c = Counters::new();
    let guards: Vec<_> = (0..4).map(|id| probe(&c, id, false, id as usize)).collect();
    cancel_midway(&c, 4, async_drop_iter(guards));
    let reports = take_reports();
    assert_eq!(reports.len(), 4 - c.finished(), "{reports:#?}");
    assert!(reports.iter().all(|r| r.kind == ReportKind::Cancelled));

    // A panic in one element's cleanup drops every element once, without reports.
    let c = Counters::new();
    let mut vec = AsyncDropVec::new();
    for id in 0..5 {
        let behaviour = [Behaviour::Succeed, Behaviour::Panic][usize::from(id == 2)];
        vec.push(Probe::new(&c).id(id).behaviour(behaviour).yields(1).guard());
    }
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(vec.async_drop()))).is_err());
    assert_eq!(c.drops(), 5);
    assert!(c.finished() < 5);
    assert!(take_reports().is_empty(), "the panic is the report");

    let c = Counters::new();
    let mut vec = AsyncDropVec::new();
    for id in 0..3 {
        let behaviour = [Behaviour::Fail(code(id)), Behaviour::Panic][usize::from(id == 1)];
        vec.push(Probe::new(&c).id(id).behaviour(behaviour).guard());
    }
    let in_order = AsyncDropVec::async_drop_in_order(vec);
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(in_order))).is_err());
    assert_counts(&c, 2, 1, 3);
    assert!(take_reports().is_empty());

    // The cleanup of many elements is one pass, also in order.
    let polls = Rc::new(Cell::new(0));
    let mut vec = AsyncDropVec::with_capacity(SCALE);
    vec.extend((0..SCALE).map(|_| AsyncDropGuard::new(Ticket(polls.clone()))));
    let start = std::time::Instant::now();
    let outer = count_outer_polls(vec.async_drop());
    let elapsed = start.elapsed();
    // Exactly twice each: a join that re-polled every pending cleanup would make ~N²/2.
    assert_eq!(polls.get(), 2 * SCALE);
    // It yields to the executor after about one poll per running cleanup: O(N) in all.
    assert!(outer <= SCALE + 1, "{outer} outer polls, {SCALE} cleanups");
    assert_eq!(Rc::strong_count(&polls), 1, "every ticket dropped");
    #[cfg(not(debug_assertions))]
    assert!(elapsed.as_secs() < 1, "{SCALE} cleanups took {elapsed:?}");
    let _ = elapsed;
    assert!(take_reports().is_empty());

    // In order: each element polled twice too, one outer poll each.
    let polls = Rc::new(Cell::new(0));
    let n = SCALE / 10;
    let mut map = AsyncDropBTreeMap::new();
    for key in 0..n {
        map.insert(key, AsyncDropGuard::new(Ticket(polls.clone())));
    }
    let outer = count_outer_polls(AsyncDropBTreeMap::async_drop_in_order(map));
    assert_eq!((polls.get(), outer), (2 * n, n + 1));
    assert!(take_reports().is_empty());
}

const SCALE: usize = if cfg!(miri) { 100 } else { 100_000 };

/// A resource whose cleanup yields once and counts its polls (one before, one after).
struct Ticket(Rc<Cell<usize>>);

impl LocalAsyncDrop for Ticket {
    type Error = Infallible;

    async fn local_async_drop_impl(self) -> Result<(), Infallible> {
        self.0.set(self.0.get() + 1);
        yield_now().await;
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}

/// Runs `fut` on `block_on`; returns how often it was polled.
fn count_outer_polls<F: Future<Output = Result<(), E>>, E: std::fmt::Debug>(fut: F) -> usize {
    let mut fut = pin!(fut);
    let mut polls = 0;
    block_on(poll_fn(|cx| {
        polls += 1;
        fut.as_mut().poll(cx)
    }))
    .unwrap();
    polls
}

const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<AsyncDropVec<Probe>>();
    send_sync::<AsyncDropBTreeMap<String, Probe>>();
    #[cfg(feature = "std")]
    send_sync::<AsyncDropHashMap<String, Probe>>();
    send_sync::<CleanupErrors<ProbeError>>();
    fn boxes_as_error(e: CleanupErrors<ProbeError>) -> Box<dyn Error + Send + Sync> {
        Box::new(e)
    }
    let _ = boxes_as_error;
};

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum VecOp {
        Push { fail: bool, yields: usize },
        Insert { at: usize, fail: bool },
        Remove { at: usize, forget: bool },
        SwapRemove { at: usize },
        Pop { forget: bool },
        SetFail { at: usize, fail: bool },
    }

    fn vec_op() -> impl Strategy<Value = VecOp> {
        prop_oneof![
            3 => (any::<bool>(), 0..3usize).prop_map(|(fail, yields)| VecOp::Push { fail, yields }),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(at, fail)| VecOp::Insert { at, fail }),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(at, forget)| VecOp::Remove { at, forget }),
            1 => any::<usize>().prop_map(|at| VecOp::SwapRemove { at }),
            1 => any::<bool>().prop_map(|forget| VecOp::Pop { forget }),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(at, fail)| VecOp::SetFail { at, fail }),
        ]
    }

    /// What the test expects of the values handed back by the collection.
    #[derive(Default)]
    struct Loose {
        guards: Vec<AsyncDropGuard<Probe>>,
        forgotten: usize,
    }

    impl Loose {
        fn take(&mut self, guard: AsyncDropGuard<Probe>, forget: bool) {
            if forget {
                drop(guard);
                self.forgotten += 1;
            } else {
                self.guards.push(guard);
            }
        }

        /// Cleans up the loose guards; checks their errors against their behaviour.
        fn finish(self, c: &Counters, created: usize, reports: Vec<Seen>) {
            let expected = failing(self.guards.iter().map(|p| (p.id, fails(p))));
            assert_eq!(outcome(block_on(async_drop_iter(self.guards))), expected);
            assert_eq!(reports.len(), self.forgotten, "{reports:#?}");
            assert!(reports.iter().all(|r| r.kind == ReportKind::Forgotten));
            let cleaned = created - self.forgotten;
            // Every value cleaned up or dropped exactly once.
            assert_counts(c, cleaned, cleaned, created);
        }
    }

    #[derive(Debug, Clone)]
    enum MapOp {
        Insert { key: u8, fail: bool, yields: usize },
        TryInsert { key: u8, fail: bool },
        Remove { key: u8, forget: bool },
        SetFail { key: u8, fail: bool },
    }

    fn map_op() -> impl Strategy<Value = MapOp> {
        prop_oneof![
            3 => (0..8u8, any::<bool>(), 0..3usize)
                .prop_map(|(key, fail, yields)| MapOp::Insert { key, fail, yields }),
            1 => (0..8u8, any::<bool>()).prop_map(|(key, fail)| MapOp::TryInsert { key, fail }),
            2 => (0..8u8, any::<bool>()).prop_map(|(key, forget)| MapOp::Remove { key, forget }),
            1 => (0..8u8, any::<bool>()).prop_map(|(key, fail)| MapOp::SetFail { key, fail }),
        ]
    }

    /// Runs `ops` against a map (of either type) and a `BTreeMap` model; returns the model.
    macro_rules! run_map_ops {
        ($map:ident, $c:ident, $ops:ident, $loose:ident, $next:ident) => {{
            let mut model: BTreeMap<u8, (u32, bool)> = BTreeMap::new();
            for op in $ops {
                match op {
                    MapOp::Insert { key, fail, yields } => {
                        let old = $map.insert(key, probe(&$c, $next, fail, yields));
                        let old_model = model.insert(key, ($next, fail));
                        prop_assert_eq!(old.as_ref().map(|p| p.id), old_model.map(|m| m.0));
                        if let Some(old) = old {
                            $loose.take(old, false);
                        }
                        $next += 1;
                    }
                    MapOp::TryInsert { key, fail } => {
                        let present = model.contains_key(&key);
                        match $map.try_insert(key, probe(&$c, $next, fail, 1)) {
                            Ok(p) => {
                                prop_assert!(!present);
                                prop_assert_eq!(p.id, $next);
                                model.insert(key, ($next, fail));
                            }
                            Err(rejected) => {
                                prop_assert!(present);
                                prop_assert_eq!(rejected.id, $next);
                                $loose.take(rejected, false);
                            }
                        }
                        $next += 1;
                    }
                    MapOp::Remove { key, forget } => {
                        let removed = $map.remove(&key);
                        let removed_model = model.remove(&key);
                        prop_assert_eq!(removed.as_ref().map(|p| p.id), removed_model.map(|m| m.0));
                        if let Some(removed) = removed {
                            $loose.take(removed, forget);
                        }
                    }
                    MapOp::SetFail { key, fail } => {
                        if let Some(p) = $map.get_mut(&key) {
                            p.behaviour = behaviour(p.id, fail);
                            model.get_mut(&key).unwrap().1 = fail;
                        }
                        prop_assert_eq!($map.contains_key(&key), model.contains_key(&key));
                    }
                }
                prop_assert_eq!($map.len(), model.len());
            }
            let mut actual: Vec<_> = $map.iter().map(|(k, p)| (*k, (p.id, fails(p)))).collect();
            actual.sort();
            prop_assert_eq!(actual, model.clone().into_iter().collect::<Vec<_>>());
            model
        }};
    }

    proptest! {
        #![proptest_config(common::proptest_config(128))]

        #[test]
        fn vec_random_operations_lose_nothing(
            ops in proptest::collection::vec(vec_op(), 0..common::MAX_OPS),
            in_order: bool,
        ) {
            let c = setup();
            let mut vec = AsyncDropVec::new();
            let mut model: Vec<(u32, bool)> = Vec::new();
            let mut loose = Loose::default();
            let mut next = 0u32;
            for op in ops {
                match op {
                    VecOp::Push { fail, yields } => {
                        vec.push(probe(&c, next, fail, yields));
                        model.push((next, fail));
                        next += 1;
                    }
                    VecOp::Insert { at, fail } => {
                        let at = at % (model.len() + 1);
                        vec.insert(at, probe(&c, next, fail, 1));
                        model.insert(at, (next, fail));
                        next += 1;
                    }
                    VecOp::Remove { at, forget } if !model.is_empty() => {
                        let at = at % model.len();
                        let guard = vec.remove(at);
                        prop_assert_eq!(guard.id, model.remove(at).0);
                        loose.take(guard, forget);
                    }
                    VecOp::SwapRemove { at } if !model.is_empty() => {
                        let at = at % model.len();
                        let guard = vec.swap_remove(at);
                        prop_assert_eq!(guard.id, model.swap_remove(at).0);
                        loose.take(guard, false);
                    }
                    VecOp::Pop { forget } => match vec.pop() {
                        Some(guard) => {
                            prop_assert_eq!(guard.id, model.pop().unwrap().0);
                            loose.take(guard, forget);
                        }
                        None => prop_assert!(model.is_empty()),
                    },
                    VecOp::SetFail { at, fail } if !model.is_empty() => {
                        let at = at % model.len();
                        let p = vec.get_mut(at).unwrap();
                        p.behaviour = behaviour(p.id, fail);
                        model[at].1 = fail;
                    }
                    _ => {}
                }
                prop_assert_eq!(vec.len(), model.len());
            }
            let actual: Vec<_> = vec.iter().map(|p| (p.id, fails(p))).collect();
            prop_assert_eq!(actual, model.clone());
            let expected = failing(model.iter().copied());
            let result = if in_order {
                block_on(AsyncDropVec::async_drop_in_order(vec))
            } else {
                block_on(vec.async_drop())
            };
            if let Err(e) = &result {
                prop_assert_eq!(e.total(), model.len());
            }
            prop_assert_eq!(outcome(result), expected);
            loose.finish(&c, next as usize, take_reports());
        }

        #[test]
        fn btree_map_random_operations_lose_nothing(
            ops in proptest::collection::vec(map_op(), 0..common::MAX_OPS),
            in_order: bool,
        ) {
            let c = setup();
            let mut map = AsyncDropBTreeMap::new();
            let mut loose = Loose::default();
            let mut next = 0u32;
            let model = run_map_ops!(map, c, ops, loose, next);
            // Element order is key order.
            let expected = failing(model.values().copied());
            let result = if in_order {
                block_on(AsyncDropBTreeMap::async_drop_in_order(map))
            } else {
                block_on(map.async_drop())
            };
            prop_assert_eq!(outcome(result), expected);
            loose.finish(&c, next as usize, take_reports());
        }

        #[cfg(feature = "std")]
        #[test]
        fn hash_map_random_operations_lose_nothing(
            ops in proptest::collection::vec(map_op(), 0..common::MAX_OPS),
        ) {
            let c = setup();
            let mut map = AsyncDropHashMap::new();
            let mut loose = Loose::default();
            let mut next = 0u32;
            run_map_ops!(map, c, ops, loose, next);
            // Element order is the order `values()` lists them in.
            let expected = failing(map.values().map(|p| (p.id, fails(p))));
            prop_assert_eq!(outcome(block_on(map.async_drop())), expected);
            loose.finish(&c, next as usize, take_reports());
        }
    }
}
