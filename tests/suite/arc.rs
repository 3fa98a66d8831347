//! `AsyncDropArc`. Every test installs the recording policy hook (`record_reports`), so
//! forgotten guards are recorded instead of panicking.
#![cfg(feature = "alloc")]

use crate::common;
use common::End;

use std::borrow::Borrow;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};

use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard, ReportKind};
use common::counting::allocations;
use common::{
    assert_counts, assert_send, assert_site, assert_sync, clean_up, implements, now,
    reports::one_report_naming, setup, site_of, take_reports, Behaviour, Counters, Local, NotSync,
    Probe, ProbeError,
};
use futures_executor::block_on;
use futures_util::task::{LocalSpawnExt, SpawnExt};
use proptest::prelude::*;

fn shared_probe(counters: &Arc<Counters>) -> AsyncDropGuard<AsyncDropArc<Probe>> {
    AsyncDropArc::new(Probe::new(counters).guard())
}

#[test]
fn only_the_last_clone_runs_the_cleanup_also_on_executors_and_clones_reach_one_value() {
    let counters = setup();
    let a = shared_probe(&counters);
    let b = AsyncDropArc::clone(&a);
    let c = AsyncDropArc::clone(&b);
    assert_eq!(AsyncDropArc::strong_count(&a), 3);

    assert_eq!(block_on(b.async_drop()), Ok(()));
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(AsyncDropArc::strong_count(&a), 2);
    assert_eq!(block_on(a.async_drop()), Ok(()));
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(AsyncDropArc::strong_count(&c), 1);
    assert_eq!(block_on(c.async_drop()), Ok(()));
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    // A clone that is not the last finishes in one poll.
    let a = AsyncDropArc::new(Probe::new(&counters).yields(2).guard());
    let b = AsyncDropArc::clone(&a);
    assert_eq!(now(a.async_drop()), Ok(()));
    assert_eq!(block_on(b.async_drop()), Ok(()));
    assert_counts(&counters, 2, 2, 2);

    // Only the last clone returns the cleanup's error.
    let failing = Probe::new(&counters).id(3).behaviour(Behaviour::Fail(9));
    let a = AsyncDropArc::new(failing.guard());
    let (b, c) = (AsyncDropArc::clone(&a), AsyncDropArc::clone(&a));
    assert_eq!(block_on(c.async_drop()), Ok(()));
    assert_eq!(block_on(a.async_drop()), Ok(()));
    assert_eq!(block_on(b.async_drop()), Err(ProbeError { id: 3, code: 9 }));
    assert_counts(&counters, 3, 3, 3);

    // Clones reach the same value, count and compare as one.
    let counters = setup();
    let a = AsyncDropArc::new(Probe::new(&counters).id(42).guard());
    let b = AsyncDropArc::clone(&a);
    assert_eq!((a.id, b.id), (42, 42));
    assert!(std::ptr::eq::<Probe>(&**a, &**b));
    assert_eq!(format!("{:?}", *a), format!("{:?}", **b));
    assert!(format!("{a:?}").contains("id: 42"));
    assert_eq!(AsyncDropArc::as_ptr(&a), AsyncDropArc::as_ptr(&b));
    assert!(std::ptr::eq(AsyncDropArc::as_ptr(&a), &**a));
    let borrowed: &Probe = (*a).borrow();
    let referenced: &Probe = (*b).as_ref();
    assert!(std::ptr::eq(borrowed, referenced));
    assert_eq!(borrowed.id, 42);
    let other = shared_probe(&counters);
    assert!(AsyncDropArc::ptr_eq(&a, &b));
    assert!(AsyncDropArc::ptr_eq(&b, &a));
    assert!(!AsyncDropArc::ptr_eq(&a, &other));
    assert_eq!(AsyncDropArc::strong_count(&a), 2);
    assert_eq!(AsyncDropArc::strong_count(&other), 1);
    let clones: Vec<_> = (0..5).map(|_| AsyncDropArc::clone(&other)).collect();
    assert_eq!(AsyncDropArc::strong_count(&other), 6);
    clean_up(clones);
    assert_eq!(AsyncDropArc::strong_count(&other), 1);
    clean_up([a, b]);
    assert_counts(&counters, 1, 1, 1);
    clean_up([other]);
    assert_counts(&counters, 2, 2, 2);

    // Clones cleaned up by tasks on a thread pool.
    let counters = setup();
    let pool = common::JoinedPool::new(4);
    let root = AsyncDropArc::new(Probe::new(&counters).yields(2).guard());
    let (tx, rx) = mpsc::channel();
    for _ in 0..16 {
        let (clone, tx) = (AsyncDropArc::clone(&root), tx.clone());
        pool.spawn(async move {
            common::yield_now().await;
            assert_eq!(clone.yields, 2);
            tx.send(clone.async_drop().await).unwrap();
        })
        .unwrap();
    }
    drop(tx); // a panicking task then fails `recv` instead of hanging the test
    block_on(root.async_drop()).unwrap();
    for _ in 0..16 {
        rx.recv().unwrap().unwrap();
    }
    assert_counts(&counters, 1, 1, 1);

    // A `!Send` value shared on one thread: the cleanup runs on the local executor.
    let (cleaned, uses) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let mut pool = futures_executor::LocalPool::new();
    let root = AsyncDropArc::new(Local::guard(&cleaned));
    for _ in 0..4 {
        let (clone, uses) = (AsyncDropArc::clone(&root), uses.clone());
        pool.spawner()
            .spawn_local(async move {
                assert_eq!(clone.0.get(), 0, "used before the value's cleanup");
                uses.set(uses.get() + 1);
                clone.async_drop().await.unwrap();
            })
            .unwrap();
    }
    pool.spawner()
        .spawn_local(async move { root.async_drop().await.unwrap() })
        .unwrap();
    pool.run();
    assert_eq!((uses.get(), cleaned.get()), (4, 1));
}

#[test]
fn try_unwrap_into_inner_and_upgrade_only_while_shared_and_clones_allocate_nothing() {
    let counters = setup();
    let a = AsyncDropArc::new(Probe::new(&counters).id(5).guard());
    let site = AsyncDropGuard::site(&a);
    let b = AsyncDropArc::clone(&a);

    // Not unique: the very same guard comes back, nothing is given up.
    let a = AsyncDropArc::try_unwrap(a).unwrap_err();
    assert_eq!(AsyncDropGuard::site(&a), site);
    assert!(AsyncDropArc::ptr_eq(&a, &b));
    assert_eq!(AsyncDropArc::strong_count(&a), 2);
    let b = AsyncDropArc::try_unwrap(b).unwrap_err();
    assert_eq!(AsyncDropArc::strong_count(&b), 2);

    block_on(b.async_drop()).unwrap();
    assert_counts(&counters, 0, 0, 0);

    // Unique: the value comes out, still needing its cleanup.
    let (probe, line) = (AsyncDropArc::try_unwrap(a).ok().unwrap(), line!());
    assert_site(site_of::<Probe>(&probe), file!(), line);
    assert_eq!(probe.id, 5);
    assert_counts(&counters, 0, 0, 0);
    block_on(probe.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    // `into_inner`: the value to the last clone only, one winner with cleanup.
    let counters = setup();
    let a = AsyncDropArc::new(Probe::new(&counters).id(3).guard());
    let b = AsyncDropArc::clone(&a);
    assert!(AsyncDropArc::into_inner(a).is_none());
    assert_eq!(AsyncDropArc::strong_count(&b), 1);
    assert_counts(&counters, 0, 0, 0);

    let (probe, line) = (AsyncDropArc::into_inner(b).unwrap(), line!());
    assert_site(site_of(&probe), file!(), line);
    assert_eq!(probe.id, 3);
    assert_counts(&counters, 0, 0, 0);
    block_on(probe.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);

    // After a cleanup, and before one: one winner.
    let a = shared_probe(&counters);
    let b = AsyncDropArc::clone(&a);
    block_on(a.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    let probe = AsyncDropArc::into_inner(b).expect("`b` is the last clone");
    block_on(probe.async_drop()).unwrap();
    let a = shared_probe(&counters);
    let b = AsyncDropArc::clone(&a);
    assert!(AsyncDropArc::into_inner(a).is_none());
    block_on(b.async_drop()).unwrap(); // the last: runs the cleanup
    assert_counts(&counters, 3, 3, 3);
    // A clone given up by `into_inner` is not forgotten.
    assert!(take_reports().is_empty());

    // Clone and cleanup do not allocate.
    let counters = setup();
    let probe = Probe::new(&counters).guard();
    let (root, new_allocs) = allocations(|| AsyncDropArc::new(probe));
    // `new` allocates the shared value once.
    assert_eq!(new_allocs, 1);
    let ((), clone_allocs) = allocations(|| {
        for _ in 0..100 {
            let clone = AsyncDropArc::clone(&root);
            now(clone.async_drop()).unwrap();
        }
    });
    assert_eq!(clone_allocs, 0);
    let clone = AsyncDropArc::clone(&root);
    let ((), last_allocs) = allocations(|| {
        now(root.async_drop()).unwrap();
        now(clone.async_drop()).unwrap();
    });
    assert_eq!(last_allocs, 0);
    assert_counts(&counters, 1, 1, 1);

    // Weak handles upgrade while a clone holds the value.
    let counters = setup();
    let a = AsyncDropArc::new(Probe::new(&counters).id(8).guard());
    let weak = AsyncDropArc::downgrade(&a);
    assert_eq!((weak.strong_count(), weak.weak_count()), (1, 1));
    assert_eq!(AsyncDropArc::weak_count(&a), 1);

    let (b, line) = (weak.upgrade().unwrap(), line!());
    assert_site(site_of(&b), file!(), line);
    assert!(AsyncDropArc::ptr_eq(&a, &b));
    assert_eq!(b.id, 8);
    assert_eq!(weak.strong_count(), 2);

    // The upgraded clone is a clone like any other: the last one runs the cleanup.
    block_on(a.async_drop()).unwrap();
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(weak.strong_count(), 1);
    block_on(b.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert!(weak.upgrade().is_none());
    assert!(take_reports().is_empty());

    // Weak handles never delay the cleanup.
    let counters = setup();
    let a = shared_probe(&counters);
    let weak = AsyncDropArc::downgrade(&a);
    let weaks: Vec<_> = (0..3).map(|_| weak.clone()).collect();
    assert_eq!(AsyncDropArc::weak_count(&a), 4);
    assert!(weaks.iter().all(|w| w.ptr_eq(&weak)));

    block_on(a.async_drop()).unwrap();
    // Cleaned up and dropped at once, although four weak handles remain.
    assert_counts(&counters, 1, 1, 1);
    for w in weaks.iter().chain([&weak]) {
        assert!(w.upgrade().is_none());
        assert_eq!((w.strong_count(), w.weak_count()), (0, 0));
    }
    assert_eq!(format!("{weak:?}"), "(AsyncDropWeak)");
    drop(weaks); // weak handles need no cleanup: nothing is reported
    assert!(take_reports().is_empty());

    // Upgrade fails once the last clone started its cleanup or gave the value up.
    let counters = setup();
    let a = AsyncDropArc::new(Probe::new(&counters).yields(1).guard());
    let weak = AsyncDropArc::downgrade(&a);
    let mut cleanup = Box::pin(a.async_drop());
    // The share is given up when the cleanup is made, before its first poll.
    assert!(weak.upgrade().is_none());
    assert_eq!(weak.strong_count(), 0);
    assert!(common::poll_once(&mut cleanup).is_pending());
    // Under way: the cleanup owns the value, and no clone can come back.
    assert_counts(&counters, 1, 0, 0);
    assert!(weak.upgrade().is_none());
    assert_eq!(block_on(cleanup), Ok(()));
    assert_counts(&counters, 1, 1, 1);

    // After `into_inner`, and after a forgotten last clone.
    let a = shared_probe(&counters);
    let weak = AsyncDropArc::downgrade(&a);
    let probe = AsyncDropArc::into_inner(a).unwrap();
    assert!(weak.upgrade().is_none());
    block_on(probe.async_drop()).unwrap();
    let a = shared_probe(&counters);
    let weak = AsyncDropArc::downgrade(&a);
    drop(a);
    assert!(weak.upgrade().is_none());
    assert_counts(&counters, 2, 2, 3);
    one_report_naming(ReportKind::Forgotten, "AsyncDropArc");
}

#[test]
fn a_forgotten_panicking_or_cancelled_last_clone_drops_the_value_once() {
    let counters = setup();
    let a = shared_probe(&counters);
    let b = AsyncDropArc::clone(&a);
    let (c, line) = (AsyncDropArc::clone(&a), line!());
    drop(c);
    let report = one_report_naming(ReportKind::Forgotten, "AsyncDropArc");
    assert_site(report.site, file!(), line);
    assert_eq!(AsyncDropArc::strong_count(&a), 2);
    assert_counts(&counters, 0, 0, 0);
    clean_up([a, b]);
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    // A forgotten last clone drops the value synchronously.
    let counters = setup();
    let a = shared_probe(&counters);
    let b = AsyncDropArc::clone(&a);
    block_on(a.async_drop()).unwrap();
    drop(b);
    // Reported once (by the clone's guard), dropped once, never cleaned up.
    one_report_naming(ReportKind::Forgotten, "AsyncDropArc");
    assert_counts(&counters, 0, 0, 1);

    // A panicking or cancelled cleanup of the last clone.
    let counters = setup();
    let a = AsyncDropArc::new(Probe::new(&counters).behaviour(Behaviour::Panic).guard());
    let b = AsyncDropArc::clone(&a);
    block_on(a.async_drop()).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(b.async_drop()))).is_err());
    assert_counts(&counters, 1, 0, 1);
    assert!(take_reports().is_empty());

    let counters = setup();
    let a = AsyncDropArc::new(Probe::new(&counters).yields(3).guard());
    let b = AsyncDropArc::clone(&a);
    block_on(a.async_drop()).unwrap();
    {
        let mut cleanup = Box::pin(b.async_drop());
        assert!(common::poll_once(&mut cleanup).is_pending());
        assert_counts(&counters, 1, 0, 0);
    }
    assert_counts(&counters, 1, 0, 1);
    one_report_naming(ReportKind::Cancelled, "AsyncDropArc");

    // A cleanup future dropped before it ran still gives the share up.
    let counters = setup();
    let a = shared_probe(&counters);
    let b = AsyncDropArc::clone(&a);
    drop(b.async_drop()); // cancelled before it ran: reported, share given up
    assert_eq!(AsyncDropArc::strong_count(&a), 1);
    one_report_naming(ReportKind::Cancelled, "AsyncDropArc");
    block_on(a.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
}

/// In generic code over `T: AsyncDrop + Sync`, a clone's cleanup is `Send`.
fn generic_cleanup_is_send<T: AsyncDrop + Sync>(arc: AsyncDropGuard<AsyncDropArc<T>>) {
    assert_send(&arc.async_drop());
}

#[test]
fn auto_traits() {
    let counters = setup();
    let probe = shared_probe(&counters);
    assert_send(&probe);
    assert_sync(&probe);
    assert!(implements!(*probe => Send + Sync + Unpin));
    let cleanup = AsyncDropArc::clone(&probe).async_drop();
    assert_send(&cleanup);
    assert!(implements!(cleanup => Send));
    drop(cleanup);
    generic_cleanup_is_send(AsyncDropArc::clone(&probe));
    let _ = take_reports();

    // Weak handles: `Send` and `Sync` where the clones are.
    let weak = AsyncDropArc::downgrade(&probe);
    assert!(implements!(weak => Send + Sync + Unpin + Clone));
    let upgrade = std::thread::spawn(move || weak.upgrade().map(|c| now(c.async_drop())));
    assert_eq!(upgrade.join().unwrap(), Some(Ok(())));

    let not_sync = AsyncDropArc::new(AsyncDropGuard::new(NotSync(Cell::new(0))));
    assert!(implements!(not_sync.0 => Send));
    assert!(!implements!(*not_sync => Send));
    assert!(!implements!(*not_sync => Sync));
    assert!(!implements!(AsyncDropArc::downgrade(&not_sync) => Send));
    assert!(!implements!(AsyncDropArc::downgrade(&not_sync) => Sync));

    let local = AsyncDropArc::new(AsyncDropGuard::new(Local(Rc::default())));
    assert!(!implements!(*local => Send));
    assert!(!implements!(*local => Sync));
    assert!(!implements!(AsyncDropArc::downgrade(&local) => Send));
    let local_cleanup = local.async_drop();
    assert!(!implements!(local_cleanup => Send));

    clean_up([probe]);
    clean_up([not_sync]);
    block_on(local_cleanup).unwrap();
    assert_counts(&counters, 1, 1, 1);
}

/// `threads` threads each make and clean up `cycles` clones of one value; then the
/// clones of `rounds` values race to be the last: each value cleaned up and dropped once.
fn stress(threads: usize, cycles: usize, rounds: usize) {
    let counters = setup();

    // One value, hammered by clone + cleanup cycles on every thread.
    let root = AsyncDropArc::new(Probe::new(&counters).guard());
    std::thread::scope(|s| {
        for _ in 0..threads {
            let mine = AsyncDropArc::clone(&root);
            s.spawn(move || {
                for _ in 0..cycles {
                    let clone = AsyncDropArc::clone(&mine);
                    assert_eq!(now(clone.async_drop()), Ok(()));
                }
                assert_eq!(now(mine.async_drop()), Ok(()));
            });
        }
    });
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(AsyncDropArc::strong_count(&root), 1);
    now(root.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);

    // Many values, each one's clones cleaned up on all threads at once.
    let counters = Counters::new();
    std::thread::scope(|s| {
        let senders: Vec<_> = (0..threads)
            .map(|_| {
                let (tx, rx) = mpsc::channel::<AsyncDropGuard<AsyncDropArc<Probe>>>();
                s.spawn(move || {
                    for clone in rx {
                        now(clone.async_drop()).unwrap();
                    }
                });
                tx
            })
            .collect();
        for _ in 0..rounds {
            let value = AsyncDropArc::new(Probe::new(&counters).guard());
            for tx in &senders {
                tx.send(AsyncDropArc::clone(&value)).unwrap();
            }
            // The root clone is cleaned up here, racing the threads.
            now(value.async_drop()).unwrap();
        }
    });
    assert_counts(&counters, rounds, rounds, rounds);
    let reports = take_reports();
    assert!(reports.is_empty(), "{reports:?}");
}

#[cfg(not(miri))]
#[test]
fn stress_8_threads_and_racing_stress_4_threads() {
    stress(8, 100_000, 20_000);
    racing_stress(4, 5_000);
}

#[test]
fn stress_small_and_racing_stress_small() {
    stress(3, 20, 10);
    racing_stress(2, 10);
}

#[derive(Debug, Clone)]
enum Op {
    Clone(usize),
    Cleanup(usize),
    Forget(usize),
    TryUnwrap(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<usize>().prop_map(Op::Clone),
        3 => any::<usize>().prop_map(Op::Cleanup),
        1 => any::<usize>().prop_map(Op::Forget),
        1 => any::<usize>().prop_map(Op::TryUnwrap),
    ]
}

proptest! {
    #![proptest_config(common::proptest_config(256))]

    #[test]
    fn any_sequence_cleans_up_exactly_once(
        ops in proptest::collection::vec(op(), 0..common::MAX_OPS),
        fail in any::<bool>(),
        yields in 0usize..3,
    ) {
        let counters = setup();
        let behaviour = if fail { Behaviour::Fail(7) } else { Behaviour::Succeed };
        let mut clones = vec![AsyncDropArc::new(
            Probe::new(&counters).id(1).yields(yields).behaviour(behaviour).guard(),
        )];
        let mut forgotten = 0;
        let mut errors = 0;
        let mut end = None;
        // Every op, then clean up whatever is left, in order.
        let rest = (0..).map(Op::Cleanup);
        for op in ops.into_iter().chain(rest) {
            if clones.is_empty() {
                break;
            }
            let n = clones.len();
            let last = n == 1;
            match op {
                Op::Clone(i) => clones.push(AsyncDropArc::clone(&clones[i % n])),
                Op::Cleanup(i) => {
                    let failed = block_on(clones.swap_remove(i % n).async_drop()).is_err();
                    prop_assert_eq!(failed, last && fail);
                    errors += usize::from(failed);
                    if last {
                        end = Some(End::CleanedUp);
                    }
                }
                Op::Forget(i) => {
                    drop(clones.swap_remove(i % n));
                    forgotten += 1;
                    if last {
                        end = Some(End::Dropped);
                    }
                }
                Op::TryUnwrap(i) => {
                    let clone = clones.swap_remove(i % n);
                    match AsyncDropArc::try_unwrap(clone) {
                        Ok(value) => {
                            prop_assert!(last);
                            prop_assert_eq!(counters.drops(), 0);
                            let result = block_on(value.async_drop());
                            prop_assert_eq!(result.is_err(), fail);
                            errors += usize::from(fail);
                            end = Some(End::CleanedUp);
                        }
                        Err(clone) => {
                            prop_assert!(!last);
                            clones.push(clone);
                        }
                    }
                }
            }
            if let Some(first) = clones.first() {
                prop_assert_eq!(AsyncDropArc::strong_count(first), clones.len());
                prop_assert_eq!(counters.drops(), 0);
            }
        }
        let reports = take_reports();
        prop_assert_eq!(reports.len(), forgotten);
        prop_assert!(reports.iter().all(|r| r.kind == ReportKind::Forgotten));
        prop_assert_eq!(counters.drops(), 1);
        match end {
            Some(End::CleanedUp) => {
                prop_assert_eq!((counters.started(), counters.finished()), (1, 1));
                prop_assert_eq!(errors, usize::from(fail));
            }
            Some(End::Dropped) => prop_assert_eq!((counters.started(), errors), (0, 0)),
            None => prop_assert!(false, "the value did not end"),
        }
    }
}

/// Each of `rounds` values is given up by `threads` clones at once, half through
/// `into_inner` and half through cleanup, while a weak handle races to upgrade: exactly
/// one gets the value, and an upgraded clone never sees its cleanup under way.
fn racing_stress(threads: usize, rounds: usize) {
    let counters = setup();
    let winners = AtomicUsize::new(0);
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let mut per_thread: Vec<Vec<_>> = (0..threads).map(|_| Vec::new()).collect();
        let weaks: Vec<_> = (0..rounds)
            .map(|_| {
                // Failing: the one cleanup that runs the value's returns an error.
                let probe = Probe::new(&counters).behaviour(Behaviour::Fail(1));
                let first = AsyncDropArc::new(probe.guard());
                for mine in &mut per_thread[1..] {
                    mine.push(AsyncDropArc::clone(&first));
                }
                let weak = AsyncDropArc::downgrade(&first);
                per_thread[0].push(first);
                weak
            })
            .collect();
        for (t, mine) in per_thread.into_iter().enumerate() {
            let (winners, barrier) = (&winners, &barrier);
            s.spawn(move || {
                for clone in mine {
                    barrier.wait();
                    if t % 2 == 0 {
                        if let Some(value) = AsyncDropArc::into_inner(clone) {
                            winners.fetch_add(1, Ordering::SeqCst);
                            assert!(now(value.async_drop()).is_err());
                        }
                    } else if now(clone.async_drop()).is_err() {
                        winners.fetch_add(1, Ordering::SeqCst);
                    }
                    barrier.wait();
                }
            });
        }
        let (winners, barrier, counters) = (&winners, &barrier, &counters);
        s.spawn(move || {
            for weak in weaks {
                barrier.wait();
                let started = counters.started();
                if let Some(clone) = weak.upgrade() {
                    // Holding a clone, the value's cleanup cannot have begun.
                    assert_eq!(counters.started(), started);
                    if let Some(value) = AsyncDropArc::into_inner(clone) {
                        winners.fetch_add(1, Ordering::SeqCst);
                        assert!(now(value.async_drop()).is_err());
                    }
                }
                barrier.wait();
            }
        });
    });
    assert_eq!(winners.load(Ordering::SeqCst), rounds);
    assert_counts(&counters, rounds, rounds, rounds);
    let reports = take_reports();
    assert!(reports.is_empty(), "{reports:?}");
}
