//! The guard collections (`AsyncDropVec`, `AsyncDropBTreeMap`, `AsyncDropHashMap`)
//! and `async_drop_iter`: every element is cleaned up exactly once, concurrently (or
//! in order for the ordered variants), every error comes back in element order,
//! removal hands back guards, cancellation and panics drop everything once, and the
//! cleanup is one pass even for 10^5 elements.
#![cfg(feature = "alloc")]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::error::Error;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

#[cfg(feature = "std")]
use asyncdrop::collections::AsyncDropHashMap;
use asyncdrop::collections::{async_drop_iter, AsyncDropBTreeMap, AsyncDropVec, CleanupErrors};
use asyncdrop::{AsyncDropGuard, LocalAsyncDrop, ReportKind};
use common::{
    poll_once, record_reports, setup, take_reports, yield_now, Behaviour, Counters, Probe,
    ProbeError, Seen,
};
use futures_core::FusedFuture;
use futures_executor::block_on;

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Records reports on this thread and returns fresh counters.
/// The failure code of probe `id` (so an error names its probe twice).
fn code(id: u32) -> u32 {
    1000 + id
}

fn probe(c: &Arc<Counters>, id: u32, fail: bool, yields: usize) -> AsyncDropGuard<Probe> {
    let behaviour = if fail {
        Behaviour::Fail(code(id))
    } else {
        Behaviour::Succeed
    };
    Probe::new(c)
        .id(id)
        .behaviour(behaviour)
        .yields(yields)
        .guard()
}

fn fails(p: &Probe) -> bool {
    matches!(p.behaviour, Behaviour::Fail(_))
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
    match r {
        Ok(()) => Vec::new(),
        Err(e) => positions(&e),
    }
}

fn assert_all_cleaned(c: &Counters, n: usize) {
    assert_eq!(
        (c.started(), c.finished(), c.drops()),
        (n, n, n),
        "(started, finished, dropped)"
    );
}

/// Polls `fut` with a no-op waker until it completes; asserts that at some point
/// every one of the `n` probes had started while none had finished.
fn all_started_before_any_finished<F: Future>(c: &Counters, n: usize, fut: F) -> F::Output {
    let mut fut = Box::pin(fut);
    let mut seen = false;
    loop {
        match poll_once(&mut fut) {
            Poll::Ready(out) => {
                assert!(seen, "the cleanups did not all start before one finished");
                return out;
            }
            Poll::Pending => {
                if c.started() == n {
                    seen |= c.finished() == 0;
                }
            }
        }
    }
}

fn one_report(kind: ReportKind, type_fragment: &str) -> Seen {
    let mut reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let report = reports.remove(0);
    assert_eq!(report.kind, kind, "{report:#?}");
    assert!(
        report.type_name.contains(type_fragment),
        "{} does not name {type_fragment}",
        report.type_name
    );
    report
}

/// In builds with debug assertions, the report points at `line` of this file.
fn assert_site(report: &Seen, line: u32) {
    if cfg!(debug_assertions) {
        assert_eq!(report.site, Some((file!(), line)), "{report:#?}");
    } else {
        assert_eq!(report.site, None);
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
    AsyncDropGuard::new(Step {
        id,
        log: log.clone(),
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

// ---------------------------------------------------------------------------------
// Every element once, every error in element order
// ---------------------------------------------------------------------------------

#[test]
fn vec_cleanup_cleans_every_element_once_and_keeps_every_error_in_index_order() {
    let c = setup();
    let mut vec = AsyncDropVec::new();
    // Later elements yield less, so they finish first: finishing order is the
    // reverse of index order, and the errors must still come back by index.
    for id in 0..6 {
        vec.push(probe(&c, id, id % 2 == 1, 6 - id as usize));
    }
    assert_eq!(vec.len(), 6);
    let err = block_on(vec.async_drop()).unwrap_err();
    assert_eq!(positions(&err), [(1, 1), (3, 3), (5, 5)]);
    assert_eq!((err.len(), err.total()), (3, 6));
    assert_eq!(err.first().id, 1);
    assert_eq!(
        err.to_string(),
        "3 of 6 cleanups failed; [1]: probe 1 failed with 1001; \
         [3]: probe 3 failed with 1003; [5]: probe 5 failed with 1005"
    );
    assert_eq!(
        err.source().map(ToString::to_string).as_deref(),
        Some("probe 1 failed with 1001")
    );
    assert_eq!(
        err.iter().map(|e| e.id).collect::<Vec<_>>(),
        err.clone()
            .into_vec()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    );
    assert_eq!(err.clone().into_iter().count(), 3);
    assert_eq!(err.into_indexed().len(), 3);
    assert_all_cleaned(&c, 6);
    assert!(take_reports().is_empty());
}

#[test]
fn vec_cleanup_without_failures_is_ok() {
    let c = setup();
    let mut vec = AsyncDropVec::with_capacity(4);
    assert!(vec.capacity() >= 4 && vec.is_empty());
    vec.extend((0..4).map(|id| probe(&c, id, false, 1)));
    assert_eq!(block_on(vec.async_drop()), Ok(()));
    assert_all_cleaned(&c, 4);

    let empty = AsyncDropVec::<Probe>::new();
    assert_eq!(block_on(empty.async_drop()), Ok(()));
    assert!(take_reports().is_empty());
}

#[test]
fn btree_map_cleanup_keeps_every_error_in_key_order() {
    let c = setup();
    let mut map = AsyncDropBTreeMap::new();
    // Inserted out of order; larger keys finish first.
    for key in [4u32, 0, 5, 2, 1, 3] {
        assert!(map
            .insert(key, probe(&c, key, key != 2, 6 - key as usize))
            .is_none());
    }
    let err = block_on(map.async_drop()).unwrap_err();
    assert_eq!(positions(&err), [(0, 0), (1, 1), (3, 3), (4, 4), (5, 5)]);
    assert_all_cleaned(&c, 6);
    assert!(take_reports().is_empty());
}

#[cfg(feature = "std")]
#[test]
fn hash_map_cleanup_keeps_every_error_in_iteration_order() {
    let c = setup();
    let mut map = AsyncDropHashMap::new();
    for key in 0..16u32 {
        map.insert(key, probe(&c, key, key % 3 == 0, (key % 4) as usize));
    }
    // The documented order: the order `values()` lists the values in.
    let expected: Vec<(usize, u32)> = map
        .values()
        .enumerate()
        .filter(|(_, p)| fails(p))
        .map(|(i, p)| (i, p.id))
        .collect();
    assert_eq!(expected.len(), 6);
    let err = block_on(map.async_drop()).unwrap_err();
    assert_eq!(positions(&err), expected);
    assert_eq!(err.total(), 16);
    assert_all_cleaned(&c, 16);
    assert!(take_reports().is_empty());
}

// ---------------------------------------------------------------------------------
// Removal hands back guards
// ---------------------------------------------------------------------------------

#[test]
fn vec_removal_hands_back_guards_that_are_reported_if_forgotten() {
    let c = setup();
    let mut vec = AsyncDropVec::new();
    for id in 0..6 {
        vec.push(probe(&c, id, false, 0));
    }
    vec.insert(6, probe(&c, 6, false, 0));
    let (removed, line) = (vec.remove(1), line!());
    assert_eq!(removed.id, 1);
    let swapped = vec.swap_remove(0);
    assert_eq!(swapped.id, 0);
    let popped = vec.pop().unwrap();
    assert_eq!(popped.id, 5);
    assert_eq!(
        vec.iter().map(|p| p.id).collect::<Vec<_>>(),
        [6, 2, 3, 4],
        "swap_remove moved the last element (6) into place 0"
    );
    assert!(take_reports().is_empty(), "removing reports nothing");

    // A removed guard is a guard: forgetting it is reported, with the removal site.
    drop(removed);
    let report = one_report(ReportKind::Forgotten, "Probe");
    assert_site(&report, line);
    assert_eq!(c.drops(), 1);

    block_on(asyncdrop::async_drop_all((swapped, popped))).unwrap();
    block_on(vec.async_drop()).unwrap();
    assert_eq!((c.started(), c.finished(), c.drops()), (6, 6, 7));
    assert!(take_reports().is_empty());
}

#[test]
fn vec_accessors() {
    let c = setup();
    let mut vec = AsyncDropVec::new();
    assert!(vec.pop().is_none());
    vec.push(probe(&c, 1, false, 0));
    vec.push(probe(&c, 2, false, 0));
    assert_eq!(vec.get(1).map(|p| p.id), Some(2));
    assert!(vec.get(2).is_none());
    vec.get_mut(0).unwrap().id = 10;
    vec[1].id = 20;
    for p in vec.iter_mut() {
        p.id += 1;
    }
    for p in &mut *vec {
        p.id += 1;
    }
    assert_eq!(
        (&*vec).into_iter().map(|p| p.id).collect::<Vec<_>>(),
        [12, 22]
    );
    assert_eq!(vec.as_slice().len(), 2);
    vec.as_mut_slice().reverse();
    assert_eq!(vec[0].id, 22);
    vec.reserve(10);
    assert!(vec.capacity() >= 12);
    assert!(format!("{:?}", *vec).starts_with("[Probe {"));
    block_on(vec.async_drop()).unwrap();
    assert_all_cleaned(&c, 2);
}

#[test]
fn vec_remove_out_of_bounds_panics_and_loses_nothing() {
    let c = setup();
    let mut vec = AsyncDropVec::new();
    vec.push(probe(&c, 0, false, 0));
    let r = catch_unwind(AssertUnwindSafe(|| vec.remove(1)));
    assert!(r.is_err());
    let r = catch_unwind(AssertUnwindSafe(|| vec.swap_remove(1)));
    assert!(r.is_err());
    // A guard given to a failing insert is dropped without a report (the panic is
    // the report).
    let r = catch_unwind(AssertUnwindSafe(|| vec.insert(5, probe(&c, 1, false, 0))));
    assert!(r.is_err());
    assert_eq!(c.drops(), 1);
    assert_eq!(vec.len(), 1);
    block_on(vec.async_drop()).unwrap();
    assert_eq!((c.started(), c.drops()), (1, 2));
    assert!(take_reports().is_empty());
}

#[test]
fn btree_map_removal_and_replacement_hand_back_guards() {
    let c = setup();
    let mut map = AsyncDropBTreeMap::new();
    for key in 0..5 {
        map.insert(key, probe(&c, key, false, 0));
    }
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
    let report = one_report(ReportKind::Forgotten, "Probe");
    assert_site(&report, line);

    block_on(async_drop_iter([removed, first, last])).unwrap();
    block_on(map.async_drop()).unwrap();
    assert_eq!((c.started(), c.finished(), c.drops()), (5, 5, 6));
    assert!(take_reports().is_empty());
}

#[test]
fn btree_map_try_insert_rejects_and_hands_back_the_guard() {
    let c = setup();
    let mut map = AsyncDropBTreeMap::new();
    map.try_insert("a", probe(&c, 1, false, 0)).unwrap().id = 10;
    let rejected = map.try_insert("a", probe(&c, 2, true, 0)).unwrap_err();
    assert_eq!((rejected.id, map[&"a"].id, map.len()), (2, 10, 1));
    let err = block_on(rejected.async_drop()).unwrap_err();
    assert_eq!(err.id, 2);
    block_on(map.async_drop()).unwrap();
    assert_all_cleaned(&c, 2);
    assert!(take_reports().is_empty());
}

#[test]
fn btree_map_accessors() {
    let c = setup();
    let mut map = AsyncDropBTreeMap::new();
    assert!(map.is_empty() && map.pop_first().is_none() && map.pop_last().is_none());
    map.insert(2, probe(&c, 2, false, 0));
    map.insert(1, probe(&c, 1, false, 0));
    for (k, p) in map.iter_mut() {
        p.id += k;
    }
    for p in map.values_mut() {
        p.id += 1;
    }
    for (_, p) in &mut *map {
        p.id *= 10;
    }
    assert_eq!(map.values().map(|p| p.id).collect::<Vec<_>>(), [30, 50]);
    assert_eq!(map.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2]);
    assert_eq!((&*map).into_iter().count(), 2);
    assert!(format!("{:?}", *map).starts_with("{1: Probe {"));
    block_on(map.async_drop()).unwrap();
    assert_all_cleaned(&c, 2);
}

#[cfg(feature = "std")]
#[test]
fn hash_map_removal_replacement_and_try_insert_hand_back_guards() {
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
    map.try_insert("5".into(), probe(&c, 5, false, 0))
        .unwrap()
        .id = 50;
    let rejected = map
        .try_insert("5".into(), probe(&c, 6, false, 0))
        .unwrap_err();
    assert_eq!((rejected.id, map["5"].id), (6, 50));
    assert!(map.contains_key("0") && !map.contains_key("2"));
    assert_eq!(map.get("3").map(|p| p.id), Some(3));
    map.get_mut("3").unwrap().yields = 2;
    let mut keys: Vec<_> = map.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["0", "1", "3", "5"]);
    for p in map.values_mut() {
        p.yields += 1;
    }
    for (_, p) in map.iter_mut() {
        p.yields += 1;
    }
    assert_eq!(map.iter().count() + (&*map).into_iter().count(), 8);
    let _ = map.hasher();
    assert!(format!("{:?}", *map).starts_with('{'));
    assert!(take_reports().is_empty());

    drop(replaced);
    let report = one_report(ReportKind::Forgotten, "Probe");
    assert_site(&report, line);

    block_on(async_drop_iter(vec![removed, rejected])).unwrap();
    block_on(map.async_drop()).unwrap();
    assert_eq!((c.started(), c.finished(), c.drops()), (6, 6, 7));
    assert!(take_reports().is_empty());
}

#[cfg(feature = "std")]
#[test]
fn hash_map_with_a_custom_hasher() {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::BuildHasherDefault;

    let c = setup();
    let mut map = AsyncDropHashMap::with_hasher(BuildHasherDefault::<DefaultHasher>::default());
    map.insert(1, probe(&c, 1, true, 0));
    let err = block_on(map.async_drop()).unwrap_err();
    assert_eq!(positions(&err), [(0, 1)]);
    let map = AsyncDropHashMap::<u8, Probe, _>::with_capacity_and_hasher(
        2,
        BuildHasherDefault::<DefaultHasher>::default(),
    );
    block_on(map.async_drop()).unwrap();
    assert_all_cleaned(&c, 1);
}

// ---------------------------------------------------------------------------------
// Concurrency and order
// ---------------------------------------------------------------------------------

#[test]
fn collection_cleanups_run_concurrently() {
    let c = setup();
    let mut vec = AsyncDropVec::new();
    for id in 0..8 {
        vec.push(probe(&c, id, false, 2));
    }
    all_started_before_any_finished(&c, 8, vec.async_drop()).unwrap();
    assert_all_cleaned(&c, 8);

    let c = Counters::new();
    let mut map = AsyncDropBTreeMap::new();
    for id in 0..8 {
        map.insert(id, probe(&c, id, id == 3, 2));
    }
    let err = all_started_before_any_finished(&c, 8, map.async_drop()).unwrap_err();
    assert_eq!(positions(&err), [(3, 3)]);
    assert_all_cleaned(&c, 8);

    let c = Counters::new();
    let guards: Vec<_> = (0..8).map(|id| probe(&c, id, false, 2)).collect();
    all_started_before_any_finished(&c, 8, async_drop_iter(guards)).unwrap();
    assert_all_cleaned(&c, 8);
    assert!(take_reports().is_empty());
}

#[cfg(feature = "std")]
#[test]
fn hash_map_cleanup_runs_concurrently() {
    let c = setup();
    let mut map = AsyncDropHashMap::new();
    for id in 0..8 {
        map.insert(id, probe(&c, id, false, 3));
    }
    all_started_before_any_finished(&c, 8, map.async_drop()).unwrap();
    assert_all_cleaned(&c, 8);
    assert!(take_reports().is_empty());
}

#[test]
fn local_resources_start_together_when_cleaned_up_concurrently() {
    record_reports();
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut vec = AsyncDropVec::new();
    for id in 0..4 {
        vec.push(step(&log, id, 1, id == 2));
    }
    let err = block_on(vec.async_drop()).unwrap_err();
    assert_eq!(err.into_vec(), [2]);
    let log = log.borrow();
    assert_eq!(log.len(), 8);
    assert!(
        log[..4].iter().all(|e| matches!(e, Event::Start(_))),
        "{log:?}"
    );
}

#[test]
fn vec_in_order_cleans_up_last_first_one_at_a_time() {
    record_reports();
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut vec = AsyncDropVec::new();
    for id in 0..5 {
        vec.push(step(&log, id, 2, id == 1 || id == 3));
    }
    let err = block_on(AsyncDropVec::async_drop_in_order(vec)).unwrap_err();
    assert_eq!(*log.borrow(), sequential(&[4, 3, 2, 1, 0]));
    // Every error, in index order (not cleanup order).
    assert_eq!(
        err.iter_indexed().map(|(i, e)| (i, *e)).collect::<Vec<_>>(),
        [(1, 1), (3, 3)]
    );
    assert_eq!(err.total(), 5);
    assert!(take_reports().is_empty());
}

#[test]
fn btree_map_in_order_cleans_up_largest_key_first() {
    record_reports();
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut map = AsyncDropBTreeMap::new();
    for key in [3, 1, 4, 2] {
        map.insert(key, step(&log, key, 1, key == 4 || key == 1));
    }
    let err = block_on(AsyncDropBTreeMap::async_drop_in_order(map)).unwrap_err();
    assert_eq!(*log.borrow(), sequential(&[4, 3, 2, 1]));
    assert_eq!(
        err.iter_indexed().map(|(i, e)| (i, *e)).collect::<Vec<_>>(),
        [(0, 1), (3, 4)]
    );
    assert!(take_reports().is_empty());
}

#[test]
fn in_order_cleanup_of_probes_cleans_every_element_once() {
    let c = setup();
    let mut vec = AsyncDropVec::new();
    for id in 0..4 {
        vec.push(probe(&c, id, id == 0, 1));
    }
    let err = block_on(AsyncDropVec::async_drop_in_order(vec)).unwrap_err();
    assert_eq!(positions(&err), [(0, 0)]);
    assert_all_cleaned(&c, 4);

    let c = Counters::new();
    let mut map = AsyncDropBTreeMap::new();
    for id in 0..4 {
        map.insert(id, probe(&c, id, false, 1));
    }
    block_on(AsyncDropBTreeMap::async_drop_in_order(map)).unwrap();
    assert_all_cleaned(&c, 4);
    let empty = AsyncDropVec::<Probe>::new();
    block_on(AsyncDropVec::async_drop_in_order(empty)).unwrap();
    assert!(take_reports().is_empty());
}

// ---------------------------------------------------------------------------------
// Forgotten, cancelled, panicked
// ---------------------------------------------------------------------------------

#[test]
fn forgotten_collection_is_reported_once_and_drops_every_element() {
    let c = setup();
    let (mut vec, line) = (AsyncDropVec::new(), line!());
    for id in 0..5 {
        vec.push(probe(&c, id, false, 0));
    }
    drop(vec);
    let report = one_report(ReportKind::Forgotten, "AsyncDropVec");
    assert_site(&report, line);
    assert_eq!((c.started(), c.drops()), (0, 5));

    let mut map = AsyncDropBTreeMap::new();
    for id in 0..5 {
        map.insert(id, probe(&c, id, false, 0));
    }
    drop(map);
    one_report(ReportKind::Forgotten, "AsyncDropBTreeMap");
    assert_eq!((c.started(), c.drops()), (0, 10));
}

#[cfg(feature = "std")]
#[test]
fn forgotten_hash_map_is_reported_once() {
    let c = setup();
    let mut map = AsyncDropHashMap::new();
    for id in 0..5 {
        map.insert(id, probe(&c, id, false, 0));
    }
    drop(map);
    one_report(ReportKind::Forgotten, "AsyncDropHashMap");
    assert_eq!((c.started(), c.drops()), (0, 5));
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
fn vec_cleanup_cancelled_midway_drops_the_rest_once_and_reports_once() {
    let c = setup();
    let (mut vec, line) = (AsyncDropVec::new(), line!());
    for id in 0..8 {
        vec.push(probe(&c, id, false, id as usize));
    }
    cancel_midway(&c, 8, vec.async_drop());
    let report = one_report(ReportKind::Cancelled, "AsyncDropVec");
    assert_site(&report, line);
}

#[test]
fn vec_in_order_cleanup_cancelled_midway_reports_the_collection_once() {
    let c = setup();
    let (mut vec, line) = (AsyncDropVec::new(), line!());
    for id in 0..4 {
        vec.push(probe(&c, id, false, 2));
    }
    cancel_midway(&c, 4, AsyncDropVec::async_drop_in_order(vec));
    assert_eq!(
        c.started(),
        2,
        "the last one finished, the one before was running"
    );
    let report = one_report(ReportKind::Cancelled, "AsyncDropVec");
    assert_site(&report, line);
}

#[test]
fn map_cleanups_cancelled_midway_report_once() {
    let c = setup();
    let mut map = AsyncDropBTreeMap::new();
    for id in 0..6 {
        map.insert(id, probe(&c, id, false, id as usize));
    }
    cancel_midway(&c, 6, map.async_drop());
    one_report(ReportKind::Cancelled, "AsyncDropBTreeMap");

    let c = Counters::new();
    let mut map = AsyncDropBTreeMap::new();
    for id in 0..3 {
        map.insert(id, probe(&c, id, false, 1));
    }
    cancel_midway(&c, 3, AsyncDropBTreeMap::async_drop_in_order(map));
    one_report(ReportKind::Cancelled, "AsyncDropBTreeMap");
}

#[cfg(feature = "std")]
#[test]
fn hash_map_cleanup_cancelled_midway_reports_once() {
    let c = setup();
    let mut map = AsyncDropHashMap::new();
    for id in 0..6 {
        map.insert(id, probe(&c, id, false, id as usize));
    }
    cancel_midway(&c, 6, map.async_drop());
    one_report(ReportKind::Cancelled, "AsyncDropHashMap");
}

#[test]
fn unpolled_collection_cleanup_dropped_reports_cancelled_once() {
    let c = setup();
    let mut vec = AsyncDropVec::new();
    for id in 0..3 {
        vec.push(probe(&c, id, false, 0));
    }
    drop(vec.async_drop());
    one_report(ReportKind::Cancelled, "AsyncDropVec");
    assert_eq!((c.started(), c.drops()), (0, 3));
}

#[test]
fn async_drop_iter_cancelled_midway_reports_each_unfinished_guard() {
    let c = setup();
    let guards: Vec<_> = (0..4).map(|id| probe(&c, id, false, id as usize)).collect();
    cancel_midway(&c, 4, async_drop_iter(guards));
    let reports = take_reports();
    assert_eq!(reports.len(), 4 - c.finished(), "{reports:#?}");
    assert!(reports.iter().all(|r| r.kind == ReportKind::Cancelled));
}

#[test]
fn panic_in_one_element_cleanup_drops_every_element_once_without_reports() {
    let c = setup();
    let mut vec = AsyncDropVec::new();
    for id in 0..5 {
        let behaviour = if id == 2 {
            Behaviour::Panic
        } else {
            Behaviour::Succeed
        };
        vec.push(Probe::new(&c).id(id).behaviour(behaviour).yields(1).guard());
    }
    let r = catch_unwind(AssertUnwindSafe(|| block_on(vec.async_drop())));
    assert!(r.is_err());
    assert_eq!(c.drops(), 5);
    assert!(c.finished() < 5);
    assert!(take_reports().is_empty(), "the panic is the report");

    let c = Counters::new();
    let mut vec = AsyncDropVec::new();
    for id in 0..3 {
        let behaviour = if id == 1 {
            Behaviour::Panic
        } else {
            Behaviour::Fail(code(id))
        };
        vec.push(Probe::new(&c).id(id).behaviour(behaviour).guard());
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        block_on(AsyncDropVec::async_drop_in_order(vec))
    }));
    assert!(r.is_err());
    assert_eq!((c.started(), c.finished(), c.drops()), (2, 1, 3));
    assert!(take_reports().is_empty());
}

// ---------------------------------------------------------------------------------
// async_drop_iter
// ---------------------------------------------------------------------------------

#[test]
fn async_drop_iter_cleans_up_guards_and_bare_values() {
    let c = setup();
    let guards = (0..5).map(|id| probe(&c, id, id >= 3, 4 - id as usize));
    let err = block_on(async_drop_iter(guards)).unwrap_err();
    assert_eq!(positions(&err), [(3, 3), (4, 4)]);
    assert_all_cleaned(&c, 5);

    let c = Counters::new();
    let bare = (0..3).map(|id| Probe::new(&c).id(id).yields(1));
    block_on(async_drop_iter(bare)).unwrap();
    assert_all_cleaned(&c, 3);

    block_on(async_drop_iter(Vec::<AsyncDropGuard<Probe>>::new())).unwrap();
    block_on(async_drop_iter(None::<Probe>)).unwrap();
    assert!(take_reports().is_empty());
}

#[test]
fn async_drop_iter_is_fused_and_debug() {
    let c = setup();
    let mut fut = async_drop_iter((0..2).map(|id| probe(&c, id, false, 1)));
    let debug = format!("{fut:?}");
    assert!(
        debug.contains("total: 2") && debug.contains("running: 2"),
        "{debug}"
    );
    assert!(!fut.is_terminated());
    let out = loop {
        if let Poll::Ready(out) = poll_once(&mut fut) {
            break out;
        }
    };
    out.unwrap();
    assert!(fut.is_terminated());
    let again = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut)));
    assert!(again.is_err(), "polling after completion panics");
    assert_all_cleaned(&c, 2);
    assert!(take_reports().is_empty());
}

// ---------------------------------------------------------------------------------
// Scale: one pass
// ---------------------------------------------------------------------------------

const SCALE: usize = if cfg!(miri) { 100 } else { 100_000 };

/// A resource whose cleanup yields once and counts its polls.
struct Ticket {
    polls: Rc<Cell<usize>>,
}

struct TicketCleanup {
    polls: Rc<Cell<usize>>,
    yielded: bool,
}

impl Future for TicketCleanup {
    type Output = Result<(), Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls.set(self.polls.get() + 1);
        if self.yielded {
            Poll::Ready(Ok(()))
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl LocalAsyncDrop for Ticket {
    type Error = Infallible;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Infallible>> {
        TicketCleanup {
            polls: self.polls,
            yielded: false,
        }
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

#[test]
fn scale_cleanup_of_many_elements_is_one_pass() {
    record_reports();
    let polls = Rc::new(Cell::new(0));
    let mut vec = AsyncDropVec::with_capacity(SCALE);
    vec.extend((0..SCALE).map(|_| {
        AsyncDropGuard::new(Ticket {
            polls: polls.clone(),
        })
    }));
    let start = std::time::Instant::now();
    let outer = count_outer_polls(vec.async_drop());
    let elapsed = start.elapsed();
    // Each cleanup is polled exactly twice (once to yield, once to finish): a
    // cleanup that did not wake is never polled again. A join that re-polled every
    // pending cleanup would make ~N²/2 polls here.
    assert_eq!(polls.get(), 2 * SCALE);
    // The cleanup yields to the executor after about one poll per running cleanup;
    // still O(N) outer polls in all.
    assert!(
        outer <= SCALE + 1,
        "{outer} outer polls for {SCALE} elements"
    );
    assert_eq!(Rc::strong_count(&polls), 1, "every ticket dropped");
    #[cfg(not(debug_assertions))]
    assert!(
        elapsed < std::time::Duration::from_secs(1),
        "{SCALE} cleanups took {elapsed:?}"
    );
    let _ = elapsed;
    assert!(take_reports().is_empty());
}

#[test]
fn scale_in_order_cleanup_polls_each_element_twice() {
    record_reports();
    let polls = Rc::new(Cell::new(0));
    let n = SCALE / 10;
    let mut map = AsyncDropBTreeMap::new();
    for key in 0..n {
        map.insert(
            key,
            AsyncDropGuard::new(Ticket {
                polls: polls.clone(),
            }),
        );
    }
    let outer = count_outer_polls(AsyncDropBTreeMap::async_drop_in_order(map));
    assert_eq!(polls.get(), 2 * n);
    assert_eq!(outer, n + 1);
    assert!(take_reports().is_empty());
}

// ---------------------------------------------------------------------------------
// Auto traits
// ---------------------------------------------------------------------------------

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

#[test]
fn async_drop_iter_future_is_unpin_and_send_for_send_cleanups() {
    fn assert_send_unpin<T: Send + Unpin>(_: &T) {}
    let c = setup();
    let fut = async_drop_iter((0..2).map(|id| probe(&c, id, false, 0)));
    assert_send_unpin(&fut);
    block_on(fut).unwrap();
    assert_all_cleaned(&c, 2);
}

// ---------------------------------------------------------------------------------
// Property: random operations, nothing lost
// ---------------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 128 },
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

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

    fn behaviour(id: u32, fail: bool) -> Behaviour {
        if fail {
            Behaviour::Fail(code(id))
        } else {
            Behaviour::Succeed
        }
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
            let expected: Vec<(usize, u32)> = self
                .guards
                .iter()
                .enumerate()
                .filter(|(_, p)| fails(p))
                .map(|(i, p)| (i, p.id))
                .collect();
            assert_eq!(outcome(block_on(async_drop_iter(self.guards))), expected);
            assert_eq!(reports.len(), self.forgotten, "{reports:#?}");
            assert!(reports.iter().all(|r| r.kind == ReportKind::Forgotten));
            let cleaned = created - self.forgotten;
            assert_eq!(
                (c.started(), c.finished(), c.drops()),
                (cleaned, cleaned, created),
                "every value cleaned up or dropped exactly once"
            );
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn vec_random_operations_lose_nothing(
            ops in proptest::collection::vec(vec_op(), 0..40),
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
            prop_assert_eq!(
                vec.iter().map(|p| (p.id, fails(p))).collect::<Vec<_>>(),
                model.clone()
            );
            let expected: Vec<(usize, u32)> = model
                .iter()
                .enumerate()
                .filter(|(_, (_, fail))| *fail)
                .map(|(i, (id, _))| (i, *id))
                .collect();
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

    /// Runs `ops` against a map and a `BTreeMap` model; the same code for both map
    /// types. Returns the map and the model for the final cleanup.
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
            let mut actual: Vec<(u8, u32, bool)> =
                $map.iter().map(|(k, p)| (*k, p.id, fails(p))).collect();
            actual.sort();
            let modelled: Vec<(u8, u32, bool)> = model
                .iter()
                .map(|(k, (id, fail))| (*k, *id, *fail))
                .collect();
            prop_assert_eq!(actual, modelled);
            model
        }};
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn btree_map_random_operations_lose_nothing(
            ops in proptest::collection::vec(map_op(), 0..40),
            in_order: bool,
        ) {
            let c = setup();
            let mut map = AsyncDropBTreeMap::new();
            let mut loose = Loose::default();
            let mut next = 0u32;
            let model = run_map_ops!(map, c, ops, loose, next);
            // Element order is key order.
            let expected: Vec<(usize, u32)> = model
                .values()
                .enumerate()
                .filter(|(_, (_, fail))| *fail)
                .map(|(i, (id, _))| (i, *id))
                .collect();
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
            ops in proptest::collection::vec(map_op(), 0..40),
        ) {
            let c = setup();
            let mut map = AsyncDropHashMap::new();
            let mut loose = Loose::default();
            let mut next = 0u32;
            run_map_ops!(map, c, ops, loose, next);
            // Element order is the order `values()` lists them in.
            let expected: Vec<(usize, u32)> = map
                .values()
                .enumerate()
                .filter(|(_, p)| fails(p))
                .map(|(i, p)| (i, p.id))
                .collect();
            prop_assert_eq!(outcome(block_on(map.async_drop())), expected);
            loose.finish(&c, next as usize, take_reports());
        }
    }
}
