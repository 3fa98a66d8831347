//! Cancellation and panics of cleanup futures: exact reports, each value dropped once.

mod common;

use std::any::type_name;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;

use asyncdrop::{async_drop_all, AsyncDropGuard, ReportKind};
use common::harness::message;
use common::reports::{counts_quietly, one_report};
use common::{assert_counts, assert_site, poll_once, setup, take_reports, Probe, ProbeError};
use futures_core::future::FusedFuture;
use futures_executor::block_on;

/// Polled to the end by hand, with or without an error: started once, not terminated
/// while it runs; then no report, and the future is terminated.
#[test]
fn completed_cleanup_reports_nothing() {
    for (yields, code) in [(2, None), (1, Some(5))] {
        let counters = setup();
        let probe = Probe::new(&counters).id(2).yields(yields);
        let guard = match code {
            Some(code) => probe.fail(code),
            None => probe,
        }
        .guard();
        let expected = code.map_or(Ok(()), |code| Err(ProbeError { id: 2, code }));
        let mut fut = pin!(guard.async_drop());
        assert!(!fut.is_terminated());
        for _ in 0..yields {
            assert_eq!(poll_once(&mut fut), Poll::Pending);
            assert!(!fut.is_terminated());
            assert_counts(&counters, 1, 0, 0);
        }
        assert_eq!(poll_once(&mut fut), Poll::Ready(expected));
        assert!(fut.is_terminated());
        counts_quietly(&counters, 1, 1, 1);
    }
}

#[test]
fn debug_shows_the_type_and_state() {
    let counters = setup();
    let guard = Probe::new(&counters).yields(1).guard();
    let mut fut = pin!(guard.async_drop());
    let text = format!("{fut:?}");
    assert!(text.starts_with("AsyncDropFuture {"), "{text}");
    assert!(text.contains("Probe"), "{text}");
    assert!(text.contains("state: Pending"), "{text}");
    assert!(poll_once(&mut fut).is_pending());
    assert!(poll_once(&mut fut).is_ready());
    let text = format!("{fut:?}");
    assert!(text.contains("state: Done"), "{text}");
    counts_quietly(&counters, 1, 1, 1);
}

/// A panicking cleanup (at once, after a pending poll, under `block_on`) propagates
/// once; the panic unwound through the cleanup, so the value is already gone, and
/// dropping the future after the panic adds nothing: no drop, no `Cancelled`.
#[test]
fn panicking_cleanup_propagates_once_drops_once_and_reports_nothing() {
    // (id, yields, under `block_on`)
    for (id, yields, blocking) in [(5, 0, false), (6, 1, false), (8, 2, true)] {
        let counters = setup();
        let guard = Probe::new(&counters).id(id).yields(yields).panics().guard();
        {
            let mut fut = pin!(guard.async_drop());
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
        }
        counts_quietly(&counters, 1, 0, 1);
    }
}

#[test]
fn polling_after_a_panic_or_completion_panics_and_the_future_is_terminated() {
    let counters = setup();
    let guard = Probe::new(&counters).panics().guard();
    {
        let mut fut = pin!(guard.async_drop());
        assert!(!fut.is_terminated());
        catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut))).expect_err("first poll panics");
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

    let counters = setup();
    let guard = Probe::new(&counters).guard();
    {
        let mut fut = pin!(guard.async_drop());
        assert_eq!(poll_once(&mut fut), Poll::Ready(Ok(())));
        let payload = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut)))
            .expect_err("polling a completed future panics");
        let text = message(&*payload);
        assert!(text.contains("after completion"), "{text}");
        // Still terminated, and the cleanup did not run a second time.
        assert!(fut.is_terminated());
    }
    counts_quietly(&counters, 1, 1, 1);
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
    // Each layer's cleanup future was cancelled and says so: the outer one first,
    // then the inner one it holds.
    let seen: Vec<_> = take_reports()
        .iter()
        .map(|r| (r.kind, r.type_name))
        .collect();
    let cancelled = |name| (ReportKind::Cancelled, name);
    let outer = type_name::<AsyncDropGuard<Probe>>();
    assert_eq!(seen, [cancelled(outer), cancelled(type_name::<Probe>())]);
}

#[test]
fn async_drop_all_cancelled_after_one_poll_reports_each_guard() {
    let counters = setup();
    let line_a = line!() + 1;
    let a = AsyncDropGuard::new(Probe::new(&counters).id(1).yields(2));
    let line_b = line!() + 1;
    let b = AsyncDropGuard::new(Probe::new(&counters).id(2).yields(2));
    {
        let mut fut = pin!(async_drop_all((a, b)));
        assert!(poll_once(&mut fut).is_pending());
        assert_counts(&counters, 2, 0, 0);
    }
    assert_counts(&counters, 2, 0, 2);
    let mut reports = take_reports();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports.iter().all(|r| r.kind == ReportKind::Cancelled));
    assert!(reports.iter().all(|r| r.type_name.contains("Probe")));
    reports.sort_by_key(|r| r.site);
    assert_site(reports[0].site, file!(), line_a);
    assert_site(reports[1].site, file!(), line_b);
}

#[test]
fn async_drop_all_with_a_panicking_cleanup_drops_every_value_once() {
    let counters = setup();
    let line_a = line!() + 1;
    let a = AsyncDropGuard::new(Probe::new(&counters).id(1).yields(2));
    let b = Probe::new(&counters).id(2).yields(1).panics().guard();
    {
        let mut fut = pin!(async_drop_all((a, b)));
        assert!(poll_once(&mut fut).is_pending());
        let payload =
            catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut))).expect_err("`b` panicked");
        assert_eq!(message(&*payload), "probe 2 cleanup panicked");
    }
    // Both values are gone exactly once. The panic unwound out of the join, which
    // dropped `a`'s unfinished cleanup while unwinding.
    assert_counts(&counters, 2, 0, 2);
    // `a` really was cut short and says so; `b`, which panicked, reports nothing.
    assert_site(one_report(ReportKind::Cancelled).site, file!(), line_a);
}
