//! A panicking report never leaks and never aborts. One test: the policy is process-wide.
#![cfg(feature = "std")]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

use asyncdrop::collections::async_drop_iter;
use asyncdrop::{set_policy, AsyncDropGuard, Policy, Report, ReportKind};
use common::{Counters, Probe};

static CANCELLED: AtomicUsize = AtomicUsize::new(0);
static OTHER: AtomicUsize = AtomicUsize::new(0);

/// Records, then panics as `Policy::Panic` would (not while the thread unwinds).
fn record_then_panic(report: &Report<'_>) {
    match report.kind() {
        ReportKind::Cancelled => CANCELLED.fetch_add(1, SeqCst),
        _ => OTHER.fetch_add(1, SeqCst),
    };
    if !std::thread::panicking() {
        panic!("policy panics on: {report}");
    }
}

fn reports() -> (usize, usize) {
    (CANCELLED.swap(0, SeqCst), OTHER.swap(0, SeqCst))
}

/// Four guards whose cleanups take a while.
fn guards(counters: &Arc<Counters>) -> Vec<AsyncDropGuard<Probe>> {
    let guard = || Probe::new(counters).yields(3).guard();
    (0..4).map(|_| guard()).collect()
}

/// Polls `cleanup` `polls` times (each `Pending`), then drops it.
fn cut_short(cleanup: impl std::future::Future, polls: usize) {
    let mut cleanup = Box::pin(cleanup);
    for _ in 0..polls {
        assert!(common::poll_once(&mut cleanup).is_pending());
    }
}

/// A group cleanup dropped unfinished; a `Vec` guarded `whole` reports its own cancellation too.
fn group_cleanups(counted: bool) {
    for (polls, whole) in [(0, false), (0, true), (1, false), (1, true)] {
        let case = format!("{polls} polls, as one resource: {whole}");
        let counters = Counters::new();
        let panicked = catch_unwind(AssertUnwindSafe(|| match whole {
            false => cut_short(async_drop_iter(guards(&counters)), polls),
            true => cut_short(AsyncDropGuard::new(guards(&counters)).async_drop(), polls),
        }));
        assert!(panicked.is_err(), "{case}: one panic comes out of the drop");
        assert_eq!(counters.drops(), 4, "{case}: all dropped, none leaked");
        if counted {
            let cancelled = 4 + usize::from(whole);
            assert_eq!(reports(), (cancelled, 0), "{case}: each reported once");
        }
    }
}

/// A tokio cleanup worker with two cleanups running and two queued at runtime shutdown.
#[cfg(feature = "tokio")]
fn tokio_worker_at_runtime_shutdown(counted: bool) {
    use asyncdrop::rt::tokio::Reaper;
    let counters = Counters::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (reaper, worker) = Reaper::spawn_on(rt.handle(), 2);
    rt.block_on(async {
        for probe in (0..2).map(|_| Probe::new(&counters).yields(usize::MAX).guard()) {
            reaper.hand_over(probe).await.unwrap();
        }
        // Let the worker take both; they wait for ever (`Pending` cleanups).
        tokio::task::yield_now().await;
        for probe in (0..2).map(|_| Probe::new(&counters).yields(usize::MAX).guard()) {
            reaper.try_hand_over(probe).unwrap();
        }
    });
    assert_eq!(counters.started(), 2);
    drop(rt); // no panic comes out of the runtime's shutdown
    assert_eq!(counters.drops(), 4, "running and queued values all dropped");
    if counted {
        assert_eq!(reports(), (4, 0));
    }
    let err = futures_executor::block_on(worker).unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    drop(reaper);
}

/// A smol executor dropped under running cleanups: no panic in a task destructor, no abort.
#[cfg(feature = "smol")]
fn smol_executor_drop(counted: bool) {
    use asyncdrop::rt::smol::{spawn_async_drop_on, Reaper, Smol};
    let counters = Counters::new();
    let executor = Arc::new(smol::Executor::new());
    let (reaper, worker) = Reaper::spawn_on(&Smol::from(executor.clone()), 2);
    let waiting = || Probe::new(&counters).yields(usize::MAX).guard();
    let handle = spawn_async_drop_on(&executor, waiting());
    reaper.try_hand_over(waiting()).unwrap();
    for _ in 0..16 {
        executor.try_tick();
    }
    assert_eq!(counters.started(), 2);
    drop(reaper);
    drop(executor); // the process goes on: no abort
    assert_eq!(counters.drops(), 2);
    if counted {
        assert_eq!(reports(), (2, 0));
    }
    assert!(smol::block_on(worker).unwrap_err().is_cancelled());
    assert!(matches!(
        smol::block_on(handle),
        Err(asyncdrop::rt::BackgroundError::Cancelled { .. })
    ));
}

#[test]
fn a_panicking_report_never_leaks_and_never_aborts() {
    for (counted, policy) in [
        (true, Policy::Hook(record_then_panic)),
        (false, Policy::Panic),
    ] {
        set_policy(policy);
        group_cleanups(counted);
        #[cfg(feature = "tokio")]
        tokio_worker_at_runtime_shutdown(counted);
        #[cfg(feature = "smol")]
        smol_executor_drop(counted);
    }
}
