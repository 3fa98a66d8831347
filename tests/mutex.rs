//! `AsyncDropMutex`: locking on local and multi-threaded executors, cleanup of the
//! value through the mutex, and sharing with `AsyncDropArc` (the last clone cleans
//! up). Every test installs the recording policy hook.
#![cfg(feature = "alloc")]

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use asyncdrop::{AsyncDropArc, AsyncDropGuard, AsyncDropMutex, AsyncDropMutexGuard};
use common::{
    assert_counts, assert_site, implements, poll_once, record_reports, setup, site_of,
    take_reports, yield_now, Behaviour, Counters, Local, NotSync, Probe, ProbeError,
};
use futures_executor::{block_on, LocalPool};
use futures_util::task::{LocalSpawnExt, SpawnExt};

#[test]
fn cleanup_cleans_up_the_value_and_passes_its_error_on() {
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
}

#[test]
fn lock_try_lock_and_get_mut() {
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
    block_on(m.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
}

#[test]
fn into_inner_hands_the_guarded_value_back() {
    let counters = setup();
    let m = AsyncDropMutex::new(Probe::new(&counters).id(8).guard());
    let (probe, line) = (AsyncDropMutex::into_inner(m), line!());
    assert_site(site_of(&probe), file!(), line);
    assert_eq!(probe.id, 8);
    assert_counts(&counters, 0, 0, 0);
    block_on(probe.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());
}

#[test]
fn a_dropped_lock_future_gives_up_the_wait() {
    let counters = setup();
    let m = AsyncDropMutex::new(Probe::new(&counters).guard());
    let held = AsyncDropMutex::try_lock(&m).unwrap();
    let mut waiting = Box::pin(AsyncDropMutex::lock(&m));
    assert!(poll_once(&mut waiting).is_pending());
    drop(waiting);
    drop(held);
    let mut again = Box::pin(AsyncDropMutex::lock(&m));
    let std::task::Poll::Ready(locked) = poll_once(&mut again) else {
        panic!("the mutex is free");
    };
    drop(locked);
    drop(again);
    block_on(m.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());
}

#[test]
fn a_waiter_is_woken_when_the_lock_is_released() {
    let counters = setup();
    let m = AsyncDropMutex::new(Probe::new(&counters).guard());
    let mut pool = LocalPool::new();
    let held = AsyncDropMutex::try_lock(&m).unwrap();
    let got_it = Rc::new(Cell::new(false));
    {
        let m = &m;
        let got_it = got_it.clone();
        let mut waiter = Box::pin(async move {
            AsyncDropMutex::lock(m).await.id = 9;
            got_it.set(true);
        });
        assert!(poll_once(&mut waiter).is_pending());
        drop(held);
        pool.run_until(waiter);
    }
    assert!(got_it.get());
    assert_eq!(AsyncDropMutex::try_lock(&m).unwrap().id, 9);
    block_on(m.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
}

#[test]
fn debug_shows_the_value_or_locked() {
    let counters = setup();
    let m = AsyncDropMutex::new(Probe::new(&counters).id(6).guard());
    let free = format!("{:?}", *m);
    assert!(free.starts_with("AsyncDropMutex"), "{free}");
    assert!(free.contains("id: 6"), "{free}");
    let locked = AsyncDropMutex::try_lock(&m).unwrap();
    assert!(format!("{locked:?}").contains("id: 6"));
    assert!(format!("{:?}", *m).contains("<locked>"));
    let lock = AsyncDropMutex::lock(&m);
    assert!(format!("{lock:?}").starts_with("AsyncDropMutexLock"));
    drop(lock);
    drop(locked);
    block_on(m.async_drop()).unwrap();
}

/// Tasks that hold the lock across `.await` points never overlap, on `executor`.
async fn exclusive_increments(
    shared: AsyncDropGuard<AsyncDropArc<AsyncDropMutex<Probe>>>,
    inside: Arc<AtomicBool>,
    rounds: usize,
) -> Result<(), ProbeError> {
    for _ in 0..rounds {
        let mut locked = AsyncDropMutex::lock(&shared).await;
        assert!(
            !inside.swap(true, Ordering::SeqCst),
            "two tasks hold the lock"
        );
        yield_now().await;
        locked.id += 1;
        yield_now().await;
        inside.store(false, Ordering::SeqCst);
        drop(locked);
        yield_now().await;
    }
    shared.async_drop().await
}

#[test]
fn tasks_on_a_local_pool_take_turns() {
    let counters = setup();
    let shared = AsyncDropArc::new(AsyncDropMutex::new(Probe::new(&counters).guard()));
    let inside = Arc::new(AtomicBool::new(false));
    let mut pool = LocalPool::new();
    let done = Rc::new(Cell::new(0));
    for _ in 0..4 {
        let clone = AsyncDropArc::clone(&shared);
        let inside = inside.clone();
        let done = done.clone();
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
}

#[test]
fn tasks_on_a_thread_pool_share_it_and_the_last_one_cleans_up() {
    record_reports();
    let (tasks, rounds) = if cfg!(miri) { (3, 2) } else { (16, 50) };
    let counters = Counters::new();
    let shared = AsyncDropArc::new(AsyncDropMutex::new(Probe::new(&counters).yields(2).guard()));
    let inside = Arc::new(AtomicBool::new(false));
    let pool = common::JoinedPool::new(4);
    let (tx, rx) = mpsc::channel();
    let observer = AsyncDropArc::clone(&shared);
    for _ in 0..tasks {
        let clone = AsyncDropArc::clone(&shared);
        let inside = inside.clone();
        let tx = tx.clone();
        pool.spawn(async move {
            tx.send(exclusive_increments(clone, inside, rounds).await)
                .unwrap();
        })
        .unwrap();
    }
    drop(tx); // a panicking task then fails `recv` instead of hanging the test
              // Give the root clone up while the tasks run: a task's clone or `observer` is last.
    block_on(shared.async_drop()).unwrap();
    for _ in 0..tasks {
        rx.recv().unwrap().unwrap();
    }
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(
        block_on(AsyncDropMutex::lock(&observer)).id as usize,
        tasks * rounds
    );
    assert_eq!(AsyncDropArc::strong_count(&observer), 1);
    block_on(observer.async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);
    assert!(take_reports().is_empty());
}

#[test]
fn the_last_task_on_a_thread_pool_cleans_up() {
    record_reports();
    let tasks = if cfg!(miri) { 3 } else { 32 };
    let counters = Counters::new();
    let shared = AsyncDropArc::new(AsyncDropMutex::new(Probe::new(&counters).yields(1).guard()));
    let clones: Vec<_> = (0..tasks).map(|_| AsyncDropArc::clone(&shared)).collect();
    // The root clone goes first, before any task runs: one of the tasks is the last.
    block_on(shared.async_drop()).unwrap();
    assert_counts(&counters, 0, 0, 0);
    let pool = common::JoinedPool::new(4);
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
}

// ---------------------------------------------------------------------------------
// Auto traits
// ---------------------------------------------------------------------------------

/// `NotSync` is `Send` but not `Sync`: the mutex makes it shareable. `Local` is
/// neither; it is cleaned up on a local executor.
#[test]
fn auto_traits() {
    let counters = setup();
    let probe = AsyncDropMutex::new(Probe::new(&counters).guard());
    assert!(implements!(*probe => Send + Sync + Unpin));
    let lock = AsyncDropMutex::lock(&probe);
    assert!(implements!(lock => Send + Sync));
    drop(lock);
    let locked = AsyncDropMutex::try_lock(&probe).unwrap();
    assert!(implements!(locked => Send + Sync));
    drop(locked);
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
