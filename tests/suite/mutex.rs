//! `AsyncDropMutex`. Every test installs the recording policy hook.
#![cfg(feature = "alloc")]

use crate::common;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use asyncdrop::{AsyncDropArc, AsyncDropGuard, AsyncDropMutex, AsyncDropMutexGuard};
use common::{
    assert_counts, assert_site, implements, poll_once, setup, site_of, take_reports, yield_now,
    Behaviour, Counters, Local, NotSync, Probe, ProbeError,
};
use futures_executor::{block_on, LocalPool};
use futures_util::task::{LocalSpawnExt, SpawnExt};

#[test]
fn cleanup_into_inner_lock_and_tasks_on_a_local_or_thread_pool() {
    let counters = setup();
    let m = AsyncDropMutex::new(Probe::new(&counters).guard());
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(block_on(m.async_drop()), Ok(()));
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    let failing = Probe::new(&counters).id(4).behaviour(Behaviour::Fail(2));
    let m = AsyncDropMutex::new(failing.guard());
    assert_eq!(block_on(m.async_drop()), Err(ProbeError { id: 4, code: 2 }));
    assert_counts(&counters, 2, 2, 2);

    // `into_inner` hands the guarded value back, not cleaned up.
    let m = AsyncDropMutex::new(Probe::new(&counters).id(8).guard());
    let (probe, line) = (AsyncDropMutex::into_inner(m), line!());
    assert_site(site_of(&probe), file!(), line);
    assert_eq!(probe.id, 8);
    assert_counts(&counters, 2, 2, 2);
    block_on(probe.async_drop()).unwrap();
    assert_counts(&counters, 3, 3, 3);
    assert!(take_reports().is_empty());

    // Lock, `try_lock` and `get_mut`.
    let counters = setup();
    let mut m = AsyncDropMutex::new(Probe::new(&counters).id(1).guard());
    AsyncDropMutex::get_mut(&mut m).id = 2;
    block_on(async {
        let mut locked = AsyncDropMutex::lock(&m).await;
        assert_eq!(locked.id, 2);
        locked.id = 3;
        assert!(AsyncDropMutex::try_lock(&m).is_none());
        drop(locked);
        let mut locked: AsyncDropMutexGuard<'_, Probe> = AsyncDropMutex::try_lock(&m).unwrap();
        locked.id += 1;
        let probe: &Probe = &locked;
        assert_eq!(probe.id, 4);
    });
    assert_eq!(AsyncDropMutex::get_mut(&mut m).id, 4);

    // Debug shows the value, or that it is locked.
    let free = format!("{:?}", *m);
    assert!(free.starts_with("AsyncDropMutex"), "{free}");
    assert!(free.contains("id: 4"), "{free}");
    let locked = AsyncDropMutex::try_lock(&m).unwrap();
    assert!(format!("{locked:?}").contains("id: 4"));
    assert!(format!("{:?}", *m).contains("<locked>"));
    let lock = AsyncDropMutex::lock(&m);
    assert!(format!("{lock:?}").starts_with("AsyncDropMutexLock"));
    drop(lock);
    drop(locked);
    block_on(m.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);

    // A dropped lock future gives up the wait.
    let counters = setup();
    let m = AsyncDropMutex::new(Probe::new(&counters).guard());
    let held = AsyncDropMutex::try_lock(&m).unwrap();
    assert!(poll_once(&mut Box::pin(AsyncDropMutex::lock(&m))).is_pending());
    drop(held);
    let again = poll_once(&mut Box::pin(AsyncDropMutex::lock(&m)));
    assert!(again.is_ready(), "the mutex is free");
    drop(again);

    // A waiter is woken when the lock is released.
    let mut pool = LocalPool::new();
    let held = AsyncDropMutex::try_lock(&m).unwrap();
    let mut waiter = Box::pin(async { AsyncDropMutex::lock(&m).await.id = 9 });
    assert!(poll_once(&mut waiter).is_pending());
    drop(held);
    pool.run_until(waiter);
    assert_eq!(
        AsyncDropMutex::try_lock(&m).unwrap().id,
        9,
        "the waiter got the lock"
    );
    block_on(m.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    // Tasks on a local pool take turns.
    let counters = setup();
    let shared = AsyncDropArc::new(AsyncDropMutex::new(Probe::new(&counters).guard()));
    let inside = Arc::new(AtomicBool::new(false));
    let mut pool = LocalPool::new();
    let done = Rc::new(Cell::new(0));
    for _ in 0..4 {
        let (clone, inside, done) = (AsyncDropArc::clone(&shared), inside.clone(), done.clone());
        pool.spawner()
            .spawn_local(async move {
                exclusive_increments(clone, inside, 5).await.unwrap();
                done.set(done.get() + 1);
            })
            .unwrap();
    }
    pool.run();
    assert_eq!(done.get(), 4);
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(block_on(AsyncDropMutex::lock(&shared)).id, 20);
    block_on(shared.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);

    // On a thread pool; the root clone given up while the tasks run.
    let (tasks, rounds) = if cfg!(miri) { (3, 2) } else { (16, 50) };
    let counters = Counters::new();
    let shared = AsyncDropArc::new(AsyncDropMutex::new(Probe::new(&counters).yields(2).guard()));
    let pool = common::JoinedPool::new(4);
    let (tx, rx) = mpsc::channel();
    let observer = AsyncDropArc::clone(&shared);
    for _ in 0..tasks {
        let (clone, inside, tx) = (AsyncDropArc::clone(&shared), inside.clone(), tx.clone());
        pool.spawn(async move {
            tx.send(exclusive_increments(clone, inside, rounds).await)
                .unwrap();
        })
        .unwrap();
    }
    // Give the root clone up while the tasks run: a task's clone or `observer` is last.
    drop(tx); // a panicking task then fails `recv` instead of hanging the test
    block_on(shared.async_drop()).unwrap();
    for _ in 0..tasks {
        rx.recv().unwrap().unwrap();
    }
    assert_counts(&counters, 0, 0, 0);
    let total = block_on(AsyncDropMutex::lock(&observer)).id as usize;
    assert_eq!(total, tasks * rounds);
    assert_eq!(AsyncDropArc::strong_count(&observer), 1);
    block_on(observer.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());

    // Each task locks once, then cleans up its clone.
    let tasks = if cfg!(miri) { 3 } else { 32 };
    let counters = Counters::new();
    let shared = AsyncDropArc::new(AsyncDropMutex::new(Probe::new(&counters).yields(1).guard()));
    let clones: Vec<_> = (0..tasks).map(|_| AsyncDropArc::clone(&shared)).collect();
    // The root clone goes first, before any task runs: one of the tasks is the last.
    block_on(shared.async_drop()).unwrap();
    assert_counts(&counters, 0, 0, 0);
    let (tx, rx) = mpsc::channel();
    for clone in clones {
        let tx = tx.clone();
        pool.spawn(async move {
            AsyncDropMutex::lock(&clone).await.id += 1;
            yield_now().await;
            tx.send(clone.async_drop().await).unwrap();
        })
        .unwrap();
    }
    drop(tx);
    let results: Vec<_> = rx.iter().collect();
    assert_eq!(results.len(), tasks);
    assert!(results.iter().all(Result::is_ok));
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());
}

/// Tasks that hold the lock across `.await` points never overlap, on `executor`.
async fn exclusive_increments(
    shared: AsyncDropGuard<AsyncDropArc<AsyncDropMutex<Probe>>>,
    inside: Arc<AtomicBool>,
    rounds: usize,
) -> Result<(), ProbeError> {
    for _ in 0..rounds {
        let mut locked = AsyncDropMutex::lock(&shared).await;
        let taken = inside.swap(true, Ordering::SeqCst);
        assert!(!taken, "two tasks hold the lock");
        yield_now().await;
        locked.id += 1;
        yield_now().await;
        inside.store(false, Ordering::SeqCst);
        drop(locked);
        yield_now().await;
    }
    shared.async_drop().await
}

/// `NotSync` is `Send` but not `Sync`: the mutex makes it shareable. `Local` is neither.
#[test]
fn auto_traits() {
    let counters = setup();
    let probe = AsyncDropMutex::new(Probe::new(&counters).guard());
    assert!(implements!(*probe => Send + Sync + Unpin));
    assert!(implements!(AsyncDropMutex::lock(&probe) => Send + Sync));
    assert!(implements!(AsyncDropMutex::try_lock(&probe).unwrap() => Send + Sync));
    let cleanup = probe.async_drop();
    assert!(implements!(cleanup => Send));
    block_on(cleanup).unwrap();

    let value = NotSync(Cell::new(1));
    assert!(!implements!(value => Sync));
    let not_sync = AsyncDropMutex::new(AsyncDropGuard::new(value));
    assert!(implements!(*not_sync => Send + Sync));
    // So it can be shared across threads through an `AsyncDropArc`.
    let arc = AsyncDropArc::new(not_sync);
    assert!(implements!(*arc => Send + Sync));
    assert_eq!(AsyncDropMutex::try_lock(&arc).unwrap().0.get(), 1);
    block_on(arc.async_drop()).unwrap();

    let cleaned = Rc::new(Cell::new(0));
    let local = AsyncDropMutex::new(Local::guard(&cleaned));
    assert!(!implements!(*local => Send));
    assert!(!implements!(*local => Sync));
    let mut pool = LocalPool::new();
    pool.run_until(async move {
        AsyncDropMutex::lock(&local).await.0.set(0);
        local.async_drop().await.unwrap();
    });
    assert_eq!(cleaned.get(), 1);
    assert_counts(&counters, 1, 1, 1);
}
