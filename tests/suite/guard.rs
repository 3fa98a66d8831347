//! The guard. Every test records reports (`record_reports`) so a forgotten guard does
//! not panic, and checks them exactly.

use crate::common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;

use asyncdrop::{AsyncDrop, AsyncDropGuard, ErrorAndCleanup, ReportKind};
use common::harness::fail;
use common::reports::{counts_quietly, one_report, report_kinds};
use common::{
    assert_counts, assert_site, record_reports, setup, site_of, take_reports, Counters, Probe,
    ProbeError,
};
use futures_executor::block_on;

/// A resource with a fixed `Debug` form.
#[derive(Debug, PartialEq)]
struct Named(&'static str);

impl AsyncDrop for Named {
    type Error = core::convert::Infallible;
    async fn async_drop_impl(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A bigger resource that owns a probe; its cleanup cleans up the probe.
#[derive(Debug)]
struct Wrapper {
    probe: Probe,
    label: String,
}

impl AsyncDrop for Wrapper {
    type Error = ProbeError;
    async fn async_drop_impl(self) -> Result<(), ProbeError> {
        common::yield_now().await;
        self.probe.async_drop_impl().await
    }
}

#[test]
fn new_deref_debug() {
    let counters = setup();
    let mut guard = AsyncDropGuard::new(Probe::new(&counters).id(1));
    assert_eq!(guard.id, 1);
    guard.id = 2;
    let probe: &mut Probe = &mut guard;
    probe.id += 1;
    let probe: &Probe = &guard;
    assert_eq!(probe.id, 3);
    // Creating and using the guard neither cleans up nor drops.
    assert_counts(&counters, 0, 0, 0);

    assert_eq!(block_on(guard.async_drop()), Ok(()));
    counts_quietly(&counters, 1, 1, 1);

    record_reports();
    let guard = AsyncDropGuard::new(Named("db"));
    assert_eq!(format!("{guard:?}"), r#"AsyncDropGuard(Named("db"))"#);
    assert_eq!(
        format!("{guard:#?}"),
        "AsyncDropGuard(\n    Named(\n        \"db\",\n    ),\n)"
    );
    block_on(guard.async_drop()).unwrap();

    let counters = Counters::new();
    let guard = AsyncDropGuard::new(Probe::new(&counters).id(42));
    let text = format!("{guard:?}");
    assert!(text.starts_with("AsyncDropGuard(Probe {"), "{text}");
    assert!(text.contains("id: 42"), "{text}");
    assert!(text.ends_with(")"), "{text}");
    block_on(guard.async_drop()).unwrap();
    counts_quietly(&counters, 1, 1, 1);
}

/// Plain, nested and mapped: the cleanup runs once, only when polled, and its result
/// comes back; a failed cleanup still consumed the value (dropped once).
#[test]
fn async_drop_runs_the_cleanup_once_and_returns_its_result() {
    // (how, id, yields, the code the cleanup fails with)
    let rows = [
        ("plain", 0, 2, None),
        ("plain", 7, 1, Some(13)),
        ("nested", 4, 2, None),
        ("nested", 4, 0, Some(2)),
        ("mapped", 2, 0, Some(4)),
    ];
    for (how, id, yields, code) in rows {
        let counters = setup();
        let probe = Probe::new(&counters).id(id).yields(yields);
        let guard = match code {
            Some(code) => probe.fail(code),
            None => probe,
        }
        .guard();
        let fut: Pin<Box<dyn Future<Output = Result<(), ProbeError>>>> = match how {
            "plain" => Box::pin(guard.async_drop()),
            "nested" => {
                let outer: AsyncDropGuard<AsyncDropGuard<Probe>> = AsyncDropGuard::new(guard);
                // Deref goes through both layers.
                assert_eq!(outer.id, id);
                Box::pin(outer.async_drop())
            }
            _ => {
                let label = String::new();
                Box::pin(AsyncDropGuard::map(guard, |probe| Wrapper { probe, label }).async_drop())
            }
        };
        // Nothing happens before the future is polled.
        assert_counts(&counters, 0, 0, 0);
        let expected = code.map_or(Ok(()), |code| Err(ProbeError { id, code }));
        assert_eq!(block_on(fut), expected, "{how}");
        counts_quietly(&counters, 1, 1, 1);
    }
}

#[test]
fn async_drop_inside_an_async_block_and_into_inner() {
    let counters = setup();
    let result = block_on(async {
        let mut guard = Probe::new(&counters).id(3).yields(1).guard();
        guard.id += 1;
        common::yield_now().await;
        let id = guard.id;
        guard.async_drop().await.map(|()| id)
    });
    assert_eq!(result, Ok(4));
    counts_quietly(&counters, 1, 1, 1);

    let counters = setup();
    let mut guard = Probe::new(&counters).id(9).guard();
    guard.id = 10;
    let probe = AsyncDropGuard::into_inner_without_cleanup(guard);
    assert_eq!(probe.id, 10);
    assert_counts(&counters, 0, 0, 0);
    drop(probe);
    // Dropped once by us, no cleanup, and no report: the caller took responsibility.
    counts_quietly(&counters, 0, 0, 1);
    // Guarded again, it is cleaned up once.
    let probe = AsyncDropGuard::into_inner_without_cleanup(Probe::new(&counters).guard());
    block_on(AsyncDropGuard::new(probe).async_drop()).unwrap();
    counts_quietly(&counters, 1, 1, 2);
}

#[test]
fn map_into_a_wrapper_cleans_up_the_inner_probe_once() {
    let counters = setup();
    let probe = Probe::new(&counters).id(5).yields(1).guard();
    let line = line!() + 1;
    let wrapper = AsyncDropGuard::map(probe, |probe| Wrapper {
        probe,
        label: "w".to_owned(),
    });
    // Mapping moves the value: no cleanup, no drop, no report.
    assert_counts(&counters, 0, 0, 0);
    assert_eq!(wrapper.label, "w");
    assert_eq!(wrapper.probe.id, 5);
    assert_site(site_of(&wrapper), file!(), line);
    assert_eq!(block_on(wrapper.async_drop()), Ok(()));
    counts_quietly(&counters, 1, 1, 1);

    let counters = setup();
    let probe = Probe::new(&counters).guard();
    let wrapper = AsyncDropGuard::map(probe, |probe| Wrapper {
        probe,
        label: String::new(),
    });
    drop(wrapper);
    assert_counts(&counters, 0, 0, 1);
    one_report(ReportKind::Forgotten).of("Wrapper");

    let counters = setup();
    let probe = Probe::new(&counters).guard();
    let result = catch_unwind(AssertUnwindSafe(|| {
        AsyncDropGuard::map(probe, |_probe: Probe| -> Wrapper { panic!("map failed") })
    }));
    let payload = result.expect_err("the closure panicked");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"map failed"));
    counts_quietly(&counters, 0, 0, 1);
}

#[test]
fn async_drop_on_err_hands_the_guard_back_or_cleans_up_and_keeps_every_error() {
    let counters = setup();
    let guard = Probe::new(&counters).id(8).guard();
    let ok: Result<u32, &str> = Ok(99);
    let (guard, value) = block_on(AsyncDropGuard::async_drop_on_err(guard, ok))
        .expect("Ok passes the guard through");
    assert_eq!(value, 99);
    assert_eq!(guard.id, 8);
    // No cleanup ran; the guard is still live.
    counts_quietly(&counters, 0, 0, 0);

    block_on(guard.async_drop()).unwrap();
    counts_quietly(&counters, 1, 1, 1);

    let counters = setup();
    let guard = Probe::new(&counters).yields(2).guard();
    let failed: Result<(), &str> = Err("handshake");
    let err = block_on(AsyncDropGuard::async_drop_on_err(guard, failed))
        .expect_err("Err cleans up and returns the error");
    assert_eq!(
        err,
        ErrorAndCleanup {
            error: "handshake",
            cleanup: Ok(()),
        }
    );
    assert_eq!(err.to_string(), "handshake");
    assert_eq!(err.into_error(), "handshake");
    counts_quietly(&counters, 1, 1, 1);

    let counters = setup();
    let guard = Probe::new(&counters).id(6).yields(1).fail(3).guard();
    let failed: Result<(), ProbeError> = Err(fail(100, 1));
    let err = block_on(AsyncDropGuard::async_drop_on_err(guard, failed)).unwrap_err();
    assert_eq!(err.error, fail(100, 1));
    assert_eq!(err.cleanup, Err(fail(6, 3)));
    assert_eq!(
        err.to_string(),
        "probe 100 failed with 1 (cleanup failed too: probe 6 failed with 3)"
    );
    // The source is the operation's error.
    let source = std::error::Error::source(&err).expect("has a source");
    assert_eq!(source.to_string(), "probe 100 failed with 1");
    counts_quietly(&counters, 1, 1, 1);
}

#[test]
fn report_cleanup_returns_the_callers_error_and_reports_a_failed_cleanup() {
    let counters = setup();
    // `?` straight into the caller's own error type.
    async fn step(guard: AsyncDropGuard<Probe>, r: Result<u8, String>) -> Result<u8, String> {
        let (guard, value) = AsyncDropGuard::async_drop_on_err(guard, r)
            .report_cleanup()
            .await?;
        guard.async_drop().await.map_err(|e| e.to_string())?;
        Ok(value)
    }
    let ok = Probe::new(&counters).id(1).guard();
    assert_eq!(block_on(step(ok, Ok(5))), Ok(5));
    assert!(take_reports().is_empty());
    // The error goes on; a cleanup that failed as well is reported, not lost.
    let failing = Probe::new(&counters).id(2).yields(1).fail(3).guard();
    let site = site_of(&failing);
    let result = block_on(step(failing, Err("refused".into())));
    assert_eq!(result, Err("refused".into()));
    let report = one_report(ReportKind::Failed);
    report.of("Probe");
    report.says("ProbeError { id: 2, code: 3 }");
    assert_eq!(report.site, site, "the guard's own site");
    // A cleanup that succeeds reports nothing.
    let fine = Probe::new(&counters).id(3).guard();
    assert_eq!(block_on(step(fine, Err("late".into()))), Err("late".into()));
    assert!(take_reports().is_empty());
    assert_counts(&counters, 3, 3, 3);
}

#[test]
fn forgotten_guards_are_dropped_once_and_each_reported_once() {
    let counters = setup();
    {
        let mut guard = Probe::new(&counters).guard();
        guard.id = 1;
    }
    assert_counts(&counters, 0, 0, 1);
    one_report(ReportKind::Forgotten);
    let a = Probe::new(&counters).id(1).guard();
    let b = Probe::new(&counters).id(2).guard();
    let c = Probe::new(&counters).id(3).guard();
    block_on(b.async_drop()).unwrap();
    drop((a, c));
    assert_counts(&counters, 1, 1, 4);
    assert_eq!(report_kinds(), [ReportKind::Forgotten; 2]);

    let counters = setup();
    let outer = AsyncDropGuard::new(Probe::new(&counters).guard());
    drop(outer);
    assert_counts(&counters, 0, 0, 1);
    // The outer guard reports first, then the inner guard it drops.
    let seen: Vec<_> = take_reports()
        .iter()
        .map(|r| (r.type_name, r.kind))
        .collect();
    let outer = std::any::type_name::<AsyncDropGuard<Probe>>();
    let inner = std::any::type_name::<Probe>();
    use ReportKind::Forgotten;
    assert_eq!(seen, [(outer, Forgotten), (inner, Forgotten)]);
}

#[test]
fn site_is_where_the_guard_was_created_and_a_local_type_is_guarded() {
    let counters = setup();
    let line = line!() + 1;
    let guard = AsyncDropGuard::new(Probe::new(&counters));
    assert_site(site_of(&guard), file!(), line);
    // The column of `AsyncDropGuard::new(` in the line above.
    let column = AsyncDropGuard::site(&guard).map(|site| site.column());
    assert_eq!(column, cfg!(debug_assertions).then_some(17));
    block_on(guard.async_drop()).unwrap();
    counts_quietly(&counters, 1, 1, 1);

    use std::cell::Cell;
    use std::rc::Rc;

    record_reports();
    let closed = Rc::new(Cell::new(0));
    block_on(common::Local::guard(&closed).async_drop()).unwrap();
    assert_eq!(closed.get(), 1);
    assert_eq!(Rc::strong_count(&closed), 1, "the value was dropped");
    assert_eq!(take_reports(), []);
}
