//! Cancellation and panics of cleanup futures: exact reports, each value dropped once.

use crate::common;

use std::any::type_name;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;

use asyncdrop::{async_drop_all, AsyncDropGuard, ReportKind};
use common::harness::{fail, message};
use common::reports::{counts_quietly, one_report};
use common::Behaviour::{Fail, Panic, Succeed};
use common::{assert_counts, assert_site, poll_once, setup, take_reports, Probe};
use futures_core::future::FusedFuture;
use futures_executor::block_on;

/// Polled to the end by hand: terminated only then, and polling it again runs nothing.
#[test]
fn completed_cleanup_reports_nothing_and_is_terminated() {
    for (yields, behaviour, expected) in [(2, Succeed, Ok(())), (1, Fail(5), Err(fail(2, 5)))] {
        let counters = setup();
        let probe = Probe::new(&counters).id(2).yields(yields);
        {
            let mut fut = pin!(probe.behaviour(behaviour).guard().async_drop());
            let text = format!("{fut:?}");
            assert!(text.starts_with("AsyncDropFuture {"), "{text}");
            assert!(text.contains("Probe"), "{text}");
            assert!(text.contains("state: Pending"), "{text}");
            assert!(!fut.is_terminated());
            for _ in 0..yields {
                assert_eq!(poll_once(&mut fut), Poll::Pending);
                assert!(!fut.is_terminated());
                assert_counts(&counters, 1, 0, 0);
            }
            assert_eq!(poll_once(&mut fut), Poll::Ready(expected));
            assert!(fut.is_terminated());
            counts_quietly(&counters, 1, 1, 1);
            let text = format!("{fut:?}");
            assert!(text.contains("state: Done"), "{text}");
            let payload = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut)))
                .expect_err("polling a completed future panics");
            let text = message(&*payload);
            assert!(text.contains("after completion"), "{text}");
            // Still terminated, and the cleanup did not run a second time.
            assert!(fut.is_terminated());
        }
        counts_quietly(&counters, 1, 1, 1);
    }
}

/// The panic unwound through the cleanup: the value is gone, dropping the future adds nothing.
#[test]
fn panicking_cleanup_propagates_once_drops_once_and_reports_nothing() {
    // (id, yields, under `block_on`)
    for (id, yields, blocking) in [(5, 0, false), (6, 1, false), (8, 2, true)] {
        let counters = setup();
        let guard = Probe::new(&counters).id(id).yields(yields).panics().guard();
        {
            let mut fut = pin!(guard.async_drop());
            assert!(!fut.is_terminated());
            let payload = if blocking {
                catch_unwind(AssertUnwindSafe(|| block_on(fut.as_mut()))).map(|_| ())
            } else {
                for _ in 0..yields {
                    assert!(poll_once(&mut fut).is_pending());
                    assert_counts(&counters, 1, 0, 0);
                }
                catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut))).map(|_| ())
            };
            let payload = payload.expect_err("the cleanup panicked");
            assert_eq!(message(&*payload), format!("probe {id} cleanup panicked"));
            assert_counts(&counters, 1, 0, 1);
            // Polling again would panic, so a `select!` must not poll it.
            assert!(fut.is_terminated());
            let payload = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut)))
                .expect_err("polling again panics");
            let text = message(&*payload);
            assert!(text.contains("panicked"), "{text}");
            assert!(text.contains("AsyncDropFuture"), "{text}");
            // The second panic comes from the guard, not from re-running the cleanup.
            assert!(!text.contains("probe"), "{text}");
        }
        counts_quietly(&counters, 1, 0, 1);
    }
}

#[test]
fn async_drop_on_err_and_nested_guards_cancelled_report_cancelled() {
    let counters = setup();
    let guard = Probe::new(&counters).yields(2).guard();
    {
        let failed: Result<(), &str> = Err("handshake");
        let mut fut = pin!(AsyncDropGuard::async_drop_on_err(guard, failed));
        assert!(poll_once(&mut fut).is_pending());
    }
    assert_counts(&counters, 1, 0, 1);
    one_report(ReportKind::Cancelled);

    let counters = setup();
    let outer = AsyncDropGuard::new(Probe::new(&counters).yields(2).guard());
    {
        let mut fut = pin!(outer.async_drop());
        assert!(poll_once(&mut fut).is_pending());
    }
    assert_counts(&counters, 1, 0, 1);
    // Each layer's cleanup future says so: the outer one first, then the inner one.
    let seen = take_reports();
    let seen: Vec<_> = seen.iter().map(|r| (r.kind, r.type_name)).collect();
    let cancelled = |name| (ReportKind::Cancelled, name);
    let outer = type_name::<AsyncDropGuard<Probe>>();
    assert_eq!(seen, [cancelled(outer), cancelled(type_name::<Probe>())]);
}

/// Dropped after one poll or unwound by `b`'s panic: a cleanup that panicked reports nothing.
#[test]
fn async_drop_all_cut_short_or_panicking_reports_each_cut_guard() {
    for (yields, behaviour, cut) in [(2, Succeed, 2), (1, Panic, 1)] {
        let counters = setup();
        let line_a = line!() + 1;
        let a = AsyncDropGuard::new(Probe::new(&counters).id(1).yields(2));
        let b = Probe::new(&counters).id(2).yields(yields);
        let line_b = line!() + 1;
        let b = AsyncDropGuard::new(b.behaviour(behaviour));
        {
            let mut fut = pin!(async_drop_all((a, b)));
            assert!(poll_once(&mut fut).is_pending());
            assert_counts(&counters, 2, 0, 0);
            if behaviour == Panic {
                let payload = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut)));
                assert_eq!(message(&*payload.unwrap_err()), "probe 2 cleanup panicked");
            }
        }
        // A panic unwound out of the join, which dropped `a`'s unfinished cleanup.
        assert_counts(&counters, 2, 0, 2);
        let mut reports = take_reports();
        reports.sort_by_key(|r| r.site);
        assert_eq!(reports.len(), cut, "{behaviour:?}: {reports:?}");
        for (report, line) in reports.iter().zip([line_a, line_b]) {
            assert_eq!(report.kind, ReportKind::Cancelled, "{report:?}");
            assert!(report.type_name.contains("Probe"), "{report:?}");
            assert_site(report.site, file!(), line);
        }
    }
}
