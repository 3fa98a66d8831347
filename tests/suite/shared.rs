//! `AsyncDropShared`. Every test installs the recording policy hook.
#![cfg(feature = "std")]

use crate::common;
use common::End;

use std::any::type_name;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::task::Poll;

use asyncdrop::{AsyncDropArc, AsyncDropGuard, AsyncDropShared, ReportKind};
use common::{
    assert_counts, assert_site, clean_up, implements, poll_once, reports::one_report_naming, setup,
    take_reports, yield_now, Behaviour, Counters, Probe, ProbeError,
};
use futures_executor::block_on;
use futures_util::future::FusedFuture;
use futures_util::task::SpawnExt;
use proptest::prelude::*;

/// Yields `yields` times, then "opens" a probe; `runs` counts the future's starts and ends.
fn open(
    counters: &Arc<Counters>,
    runs: &Arc<Counters>,
    yields: usize,
    behaviour: Behaviour,
) -> impl Future<Output = AsyncDropGuard<Probe>> + Send + 'static {
    let (counters, runs) = (counters.clone(), runs.clone());
    async move {
        runs.cleanups_started.fetch_add(1, Ordering::SeqCst);
        for _ in 0..yields {
            yield_now().await;
        }
        runs.cleanups_finished.fetch_add(1, Ordering::SeqCst);
        Probe::new(&counters).id(1).behaviour(behaviour).guard()
    }
}

#[test]
#[allow(
    clippy::mutable_key_type,
    reason = "clones hash by identity, which the future's progress does not change"
)]
fn the_last_share_ends_the_output_once_and_nothing_leaks_and_clones_are_one() {
    use std::collections::HashMap;
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 1, Behaviour::Succeed));
    let b = AsyncDropShared::clone(&a);
    let h1 = block_on(AsyncDropShared::output(&a));
    let h2 = block_on(AsyncDropShared::output(&b));
    assert!(AsyncDropArc::ptr_eq(&h1, &h2));
    assert_eq!(AsyncDropArc::strong_count(&h1), 3); // two handles + the clones' share
    block_on(a.async_drop()).unwrap();
    block_on(h1.async_drop()).unwrap();
    assert_counts(&counters, 0, 0, 0);
    block_on(b.async_drop()).unwrap(); // last clone, but `h2` is alive
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(AsyncDropArc::strong_count(&h2), 1);
    block_on(h2.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert_eq!(runs.started(), 1);
    assert!(take_reports().is_empty());

    // Handles outlive the shared clones.
    let (counters, runs) = (setup(), Counters::new());
    let shared = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    let handles: Vec<_> = (0..3)
        .map(|_| block_on(AsyncDropShared::output(&shared)))
        .collect();
    block_on(shared.async_drop()).unwrap();
    assert_counts(&counters, 0, 0, 0);
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.id, 1);
        assert_eq!(AsyncDropArc::strong_count(&handle), 3 - i);
        block_on(handle.async_drop()).unwrap();
    }
    assert_counts(&counters, 1, 1, 1);

    // The output's error comes from the last share only: a clone's, then a handle's.
    let a = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Fail(3)));
    let b = AsyncDropShared::clone(&a);
    let h = block_on(AsyncDropShared::output(&a));
    assert_eq!(block_on(h.async_drop()), Ok(()));
    assert_eq!(block_on(a.async_drop()), Ok(()));
    assert_eq!(block_on(b.async_drop()), Err(ProbeError { id: 1, code: 3 }));
    let a = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Fail(4)));
    let h = block_on(AsyncDropShared::output(&a));
    assert_eq!(block_on(a.async_drop()), Ok(()));
    assert_eq!(block_on(h.async_drop()), Err(ProbeError { id: 1, code: 4 }));
    assert_counts(&counters, 3, 3, 3);

    // A never polled future is driven by the last cleanup.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 2, Behaviour::Succeed));
    let b = AsyncDropShared::clone(&a);
    block_on(a.async_drop()).unwrap();
    assert_eq!(runs.started(), 0);
    // The last clone runs the future (which "acquires" the probe), then cleans it up.
    block_on(b.async_drop()).unwrap();
    assert_eq!((runs.started(), runs.finished()), (1, 1));
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    // A future given up half way is finished the same way.
    let (counters, runs) = (setup(), Counters::new());
    let shared = AsyncDropShared::new(open(&counters, &runs, 3, Behaviour::Succeed));
    {
        let mut waiting = pin!(AsyncDropShared::output(&shared));
        assert!(poll_once(&mut waiting).is_pending());
        assert!(!waiting.is_terminated());
    } // given up half way
    assert_eq!((runs.started(), runs.finished()), (1, 0));
    block_on(shared.async_drop()).unwrap();
    assert_eq!((runs.started(), runs.finished()), (1, 1));
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    // `new_ready` is finished at once, and dropped synchronously if forgotten.
    let counters = setup();
    let a = AsyncDropShared::new_ready(Probe::new(&counters).id(6).guard());
    assert_eq!(AsyncDropShared::peek(&a).map(|p| p.id), Some(6));
    let b = AsyncDropShared::clone(&a);
    let Poll::Ready(handle) = poll_once(&mut pin!(AsyncDropShared::output(&b))) else {
        panic!("the output of a ready value is there at the first poll");
    };
    assert_eq!(handle.id, 6);
    assert_eq!(AsyncDropArc::strong_count(&handle), 2);
    clean_up([a, b]);
    assert_counts(&counters, 0, 0, 0);
    clean_up([handle]); // the last share
    assert_counts(&counters, 1, 1, 1);

    // Without any handle, the last clone cleans the value up.
    let only = AsyncDropShared::new_ready(Probe::new(&counters).guard());
    assert_eq!(block_on(only.async_drop()), Ok(()));
    assert_counts(&counters, 2, 2, 2);
    assert!(take_reports().is_empty());

    // Forgotten, it drops the value synchronously.
    let counters = setup();
    let a = AsyncDropShared::new_ready(Probe::new(&counters).guard());
    drop(a);
    assert_counts(&counters, 0, 0, 1);
    one_report_naming(ReportKind::Forgotten, "AsyncDropShared");

    // Forgotten or cancelled: dropped unless a handle holds the output.
    // A finished output, without handles: dropped synchronously.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    clean_up([block_on(AsyncDropShared::output(&a))]);
    drop(a);
    one_report_naming(ReportKind::Forgotten, "AsyncDropShared");
    assert_counts(&counters, 0, 0, 1);

    // Left to the handles.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    let handle = block_on(AsyncDropShared::output(&a));
    drop(a);
    one_report_naming(ReportKind::Forgotten, "AsyncDropShared");
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(AsyncDropArc::strong_count(&handle), 1);
    block_on(handle.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);

    // An unfinished future is dropped.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 3, Behaviour::Succeed));
    assert!(poll_once(&mut pin!(AsyncDropShared::output(&a))).is_pending());
    drop(a);
    one_report_naming(ReportKind::Forgotten, "AsyncDropShared");
    // The future never produced its output: there is nothing to clean up.
    assert_eq!((runs.started(), runs.finished()), (1, 0));
    assert_counts(&counters, 0, 0, 0);

    // So is the unfinished future of a cancelled last cleanup.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 3, Behaviour::Succeed));
    assert!(poll_once(&mut pin!(a.async_drop())).is_pending());
    one_report_naming(ReportKind::Cancelled, "AsyncDropShared");
    assert_eq!((runs.started(), runs.finished()), (1, 0));
    assert_counts(&counters, 0, 0, 0);

    // A forgotten clone that is not the last is only reported, under the output type.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    let (b, line) = (AsyncDropShared::clone(&a), line!());
    drop(b);
    let report = one_report_naming(ReportKind::Forgotten, "AsyncDropShared");
    assert_site(report.site, file!(), line);
    // `open` is an `async fn`: the future's type is a `{{closure}}`, not named.
    let name = format!("asyncdrop::AsyncDropShared<{}>", type_name::<Probe>());
    assert_eq!(report.type_name, name);
    assert!(report.message.contains(&name), "{}", report.message);
    assert_eq!(AsyncDropShared::strong_count(&a), 1);
    block_on(a.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    // A panicking future poisons the output without leaking.
    let (counters, dropped) = (Counters::new(), Counters::new());
    let held = Probe::new(&dropped);
    let a = AsyncDropShared::new(async move {
        let _held = held;
        yield_now().await;
        if true {
            panic!("could not open");
        }
        Probe::new(&counters).guard()
    });
    let b = AsyncDropShared::clone(&a);
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(AsyncDropShared::output(&a)))).is_err());
    assert_eq!(dropped.drops(), 1); // the future's state was dropped
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(AsyncDropShared::output(&b)))).is_err());
    assert!(AsyncDropShared::peek(&a).is_none());
    block_on(a.async_drop()).unwrap(); // not the last: fine
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(b.async_drop()))).is_err());
    assert!(take_reports().is_empty());

    // Clones on a thread pool await the same output.
    let tasks = if cfg!(miri) { 3 } else { 8 };
    let (counters, runs) = (Counters::new(), Counters::new());
    let root = AsyncDropShared::new(open(&counters, &runs, 3, Behaviour::Succeed));
    let pool = common::JoinedPool::new(4);
    let (tx, rx) = mpsc::channel();
    for _ in 0..tasks {
        let (clone, tx) = (AsyncDropShared::clone(&root), tx.clone());
        pool.spawn(async move {
            let handle = AsyncDropShared::output(&clone).await;
            let address = &**handle as *const Probe as usize;
            assert_eq!(handle.id, 1);
            yield_now().await;
            let handle_result = handle.async_drop().await;
            let clone_result = clone.async_drop().await;
            tx.send((address, handle_result, clone_result)).unwrap();
        })
        .unwrap();
    }
    drop(tx); // a panicking task then fails `recv` instead of hanging the test
    let results: Vec<_> = (0..tasks).map(|_| rx.recv().unwrap()).collect();
    // The root clone is still alive: nothing was cleaned up yet.
    assert_counts(&counters, 0, 0, 0);
    assert_eq!((runs.started(), runs.finished()), (1, 1));
    let address = AsyncDropShared::peek(&root).unwrap() as *const Probe as usize;
    for (a, handle_result, clone_result) in results {
        assert_eq!(a, address);
        assert_eq!(handle_result, Ok(()));
        assert_eq!(clone_result, Ok(()));
    }
    assert_eq!(AsyncDropShared::strong_count(&root), 1);
    block_on(root.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert_eq!((runs.started(), runs.finished()), (1, 1));
    assert!(take_reports().is_empty());

    // The last of many racing owners cleans up once.
    let (rounds, tasks) = if cfg!(miri) { (2, 3) } else { (200, 8) };
    let (counters, runs) = (Counters::new(), Counters::new());
    let (tx, rx) = mpsc::channel();
    for round in 0..rounds {
        let root = AsyncDropShared::new(open(&counters, &runs, round % 3, Behaviour::Succeed));
        for task in 0..tasks {
            let (clone, tx) = (AsyncDropShared::clone(&root), tx.clone());
            pool.spawn(async move {
                // Some tasks take a handle, some only clean up their clone.
                let handle = if task % 2 == 0 {
                    Some(AsyncDropShared::output(&clone).await)
                } else {
                    None
                };
                let r1 = clone.async_drop().await;
                let r2 = match handle {
                    Some(h) => h.async_drop().await,
                    None => Ok(()),
                };
                tx.send(r1.and(r2)).unwrap();
            })
            .unwrap();
        }
        let tx = tx.clone();
        pool.spawn(async move { tx.send(root.async_drop().await).unwrap() })
            .unwrap();
    }
    drop(tx); // a panicking task then fails `recv` instead of hanging the test
    for _ in 0..rounds * (tasks + 1) {
        rx.recv().unwrap().unwrap();
    }
    assert_eq!((runs.started(), runs.finished()), (rounds, rounds));
    assert_counts(&counters, rounds, rounds, rounds);
    assert!(take_reports().is_empty());

    // Peek, strong count, identity; output futures are fused.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 1, Behaviour::Succeed));
    let b = AsyncDropShared::clone(&a);
    assert!(AsyncDropShared::peek(&a).is_none());
    assert!(format!("{:?}", *a).contains("finished: false"));
    let handle = block_on(AsyncDropShared::output(&b));
    assert_eq!(AsyncDropShared::peek(&a).map(|p| p.id), Some(1));
    let peeked = AsyncDropShared::peek(&a).unwrap();
    assert!(std::ptr::eq(peeked, AsyncDropShared::peek(&b).unwrap()));
    assert!(std::ptr::eq::<Probe>(peeked, &**handle));
    assert!(format!("{:?}", *a).contains("finished: true"));
    clean_up([handle]);
    let other = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    assert_eq!(AsyncDropShared::strong_count(&a), 2);
    assert_eq!(AsyncDropShared::strong_count(&other), 1);
    assert!(AsyncDropShared::ptr_eq(&a, &b));
    assert!(!AsyncDropShared::ptr_eq(&a, &other));
    let handle = block_on(AsyncDropShared::output(&a));
    assert_eq!(AsyncDropShared::strong_count(&a), 2); // handles are not clones
    clean_up([b]);
    assert_eq!(AsyncDropShared::strong_count(&a), 1);
    clean_up([handle]);
    clean_up([a]);
    assert_counts(&counters, 1, 1, 1);
    clean_up([other]);
    assert_eq!(runs.started(), 2);
    assert_counts(&counters, 2, 2, 2);

    // Output futures are fused.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    let mut waiting = pin!(AsyncDropShared::output(&a));
    assert!(!waiting.is_terminated());
    let Poll::Ready(handle) = poll_once(&mut waiting) else {
        panic!("the future finishes at once");
    };
    assert!(waiting.is_terminated());
    assert!(format!("{:?}", waiting).contains("terminated: true"));
    clean_up([handle]);
    block_on(a.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);

    // Clones key a map by identity.
    let (counters, runs) = (setup(), Counters::new());
    let a = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    let b = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    let clone = AsyncDropShared::clone(&a);
    assert!(*a == *clone);
    clean_up([clone]);
    assert!(a != b);

    let mut waiters: HashMap<_, Vec<&str>> = HashMap::new();
    for (shared, name) in [(&a, "a"), (&b, "b"), (&a, "a again")] {
        match waiters.get_mut(shared) {
            Some(names) => names.push(name),
            None => {
                waiters.insert(AsyncDropShared::clone(shared), vec![name]);
            }
        }
    }
    assert_eq!(waiters.len(), 2);
    assert_eq!(waiters[&a], ["a", "a again"]);
    assert_eq!(waiters[&b], ["b"]);
    // The keys are clones, cleaned up like any other.
    clean_up(waiters.into_keys());
    clean_up([a, b]);
    assert_counts(&counters, 2, 2, 2);
    assert!(take_reports().is_empty());
}

/// A `!Send` future (it holds an `Rc` across an `.await`).
fn open_locally(counters: &Arc<Counters>) -> impl Future<Output = AsyncDropGuard<Probe>> {
    let counters = counters.clone();
    async move {
        let rc = std::rc::Rc::new(());
        yield_now().await;
        drop(rc);
        Probe::new(&counters).guard()
    }
}

#[test]
fn auto_traits() {
    let (counters, runs) = (setup(), Counters::new());
    let shared = AsyncDropShared::new(open(&counters, &runs, 0, Behaviour::Succeed));
    assert!(implements!(*shared => Send + Sync + Unpin));
    let output = AsyncDropShared::output(&shared);
    assert!(implements!(output => Send + Sync + Unpin));
    let handle = block_on(output);
    let cleanup = shared.async_drop();
    assert!(implements!(cleanup => Send));
    block_on(cleanup).unwrap();
    clean_up([handle]);

    // A `!Send` future makes the shared future `!Send`.
    let local = AsyncDropShared::new(open_locally(&counters));
    assert!(!implements!(*local => Send));
    block_on(local.async_drop()).unwrap();
    assert_counts(&counters, 2, 2, 2);
}

#[derive(Debug, Clone)]
enum Op {
    Clone(usize),
    Output(usize),
    PollOutputOnce(usize),
    CleanupClone(usize),
    CleanupHandle(usize),
    ForgetClone(usize),
    ForgetHandle(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<usize>().prop_map(Op::Clone),
        2 => any::<usize>().prop_map(Op::Output),
        1 => any::<usize>().prop_map(Op::PollOutputOnce),
        3 => any::<usize>().prop_map(Op::CleanupClone),
        3 => any::<usize>().prop_map(Op::CleanupHandle),
        1 => any::<usize>().prop_map(Op::ForgetClone),
        1 => any::<usize>().prop_map(Op::ForgetHandle),
    ]
}

proptest! {
    #![proptest_config(common::proptest_config(256))]

    #[test]
    fn any_order_ends_the_output_exactly_once(
        ops in proptest::collection::vec(op(), 0..common::MAX_OPS),
        fail in any::<bool>(),
        yields in 0usize..3,
    ) {
        let (counters, runs) = (setup(), Counters::new());
        let behaviour = if fail { Behaviour::Fail(5) } else { Behaviour::Succeed };
        let mut clones = vec![AsyncDropShared::new(open(&counters, &runs, yields, behaviour))];
        let mut handles: Vec<AsyncDropGuard<AsyncDropArc<Probe>>> = Vec::new();
        let mut forgotten = 0;
        let mut errors = 0;
        let mut end: Option<End> = None;
        // Whether the future produced its output (the model's view).
        let mut finished = false;
        // Every op, then clean up the clones, then the handles.
        let mut ops = ops.into_iter().chain(std::iter::repeat(Op::CleanupClone(0)));
        while !(clones.is_empty() && handles.is_empty()) {
            let op = if clones.is_empty() {
                Op::CleanupHandle(0)
            } else {
                ops.next().unwrap()
            };
            let (nc, nh) = (clones.len(), handles.len());
            match op {
                Op::Clone(i) if nc > 0 => clones.push(AsyncDropShared::clone(&clones[i % nc])),
                Op::Output(i) if nc > 0 => {
                    handles.push(block_on(AsyncDropShared::output(&clones[i % nc])));
                    finished = true;
                }
                Op::PollOutputOnce(i) if nc > 0 => {
                    let polled = poll_once(&mut pin!(AsyncDropShared::output(&clones[i % nc])));
                    if let Poll::Ready(handle) = polled {
                        handles.push(handle);
                        finished = true;
                    }
                }
                Op::CleanupClone(i) if nc > 0 => {
                    let last_clone = nc == 1;
                    let result = block_on(clones.swap_remove(i % nc).async_drop());
                    let ends = last_clone && nh == 0;
                    if last_clone {
                        finished = true; // the last cleanup drives the future
                    }
                    prop_assert_eq!(result.is_err(), ends && fail);
                    errors += usize::from(result.is_err());
                    if ends {
                        end = Some(End::CleanedUp);
                    }
                }
                Op::ForgetClone(i) if nc > 0 => {
                    let last_clone = nc == 1;
                    drop(clones.swap_remove(i % nc));
                    forgotten += 1;
                    if last_clone && nh == 0 && finished {
                        end = Some(End::Dropped);
                    }
                }
                Op::CleanupHandle(i) if nh > 0 => {
                    let result = block_on(handles.swap_remove(i % nh).async_drop());
                    let ends = nc == 0 && nh == 1;
                    prop_assert_eq!(result.is_err(), ends && fail);
                    errors += usize::from(result.is_err());
                    if ends {
                        end = Some(End::CleanedUp);
                    }
                }
                Op::ForgetHandle(i) if nh > 0 => {
                    drop(handles.swap_remove(i % nh));
                    forgotten += 1;
                    if nc == 0 && nh == 1 {
                        end = Some(End::Dropped);
                    }
                }
                _ => {}
            }
            if end.is_none() {
                prop_assert_eq!(counters.drops(), 0);
            }
            if let Some(first) = handles.first() {
                let share = usize::from(!clones.is_empty());
                prop_assert_eq!(AsyncDropArc::strong_count(first), handles.len() + share);
            }
        }
        let reports = take_reports();
        prop_assert_eq!(reports.len(), forgotten);
        prop_assert!(reports.iter().all(|r| r.kind == ReportKind::Forgotten));
        prop_assert!(runs.started() <= 1);
        prop_assert_eq!(runs.finished(), usize::from(finished));
        match end {
            Some(End::CleanedUp) => {
                let counts = (counters.started(), counters.finished(), counters.drops());
                prop_assert_eq!(counts, (1, 1, 1));
                prop_assert_eq!(errors, usize::from(fail));
            }
            Some(End::Dropped) => {
                prop_assert_eq!((counters.started(), counters.drops(), errors), (0, 1, 0));
            }
            None => {
                // The last clone was forgotten before the future finished.
                prop_assert!(!finished);
                prop_assert_eq!((counters.started(), counters.drops()), (0, 0));
            }
        }
    }
}
