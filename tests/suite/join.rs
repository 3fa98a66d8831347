//! `async_drop_all` and `all_or_cleanup` on tuples and arrays.

use crate::common;

use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::task::Poll;

use asyncdrop::{
    all_or_cleanup, async_drop_all, AcquireError, AcquireOutcome, ArrayError, AsyncDropGuard,
    ReportKind, TupleError,
};
use common::harness::{fail, CodeError, Refused};
use common::reports::{assert_cleaned, cleaned_quietly, report_kinds};
use common::{poll_once, record_reports, setup, take_reports, Behaviour, Probe, ProbeError};
use futures_executor::block_on;

/// Polls `fut` to completion with a no-op waker; returns the output and the polls.
fn run_counting<F: Future>(fut: F) -> (F::Output, usize) {
    let mut fut = Box::pin(fut);
    let mut polls = 0;
    loop {
        polls += 1;
        assert!(polls < 1000, "future never completed");
        if let Poll::Ready(out) = poll_once(&mut fut) {
            return (out, polls);
        }
    }
}

// async_drop_all: tuples

#[test]
fn same_type_tuples_first_and_iter() {
    let c = setup();
    let set = (
        Probe::new(&c).id(1).guard(),
        Probe::new(&c).id(2).fail(2).guard(),
        Probe::new(&c).id(3).fail(3).guard(),
    );
    let err = block_on(async_drop_all(set)).unwrap_err();
    assert_eq!(*err.first(), fail(2, 2));
    let errors: Vec<_> = err.iter().copied().collect();
    assert_eq!(errors, [fail(2, 2), fail(3, 3)]);
    assert_eq!(err.count(), 2);
    assert_cleaned(&c, 3);

    // The first error is by position, not by which cleanup finished first.
    let set = (
        Probe::new(&c).id(4).yields(3).fail(4).guard(),
        Probe::new(&c).id(5).fail(5).guard(),
    );
    let err = block_on(async_drop_all(set)).unwrap_err();
    assert_eq!(*err.first(), fail(4, 4));
    cleaned_quietly(&c, 5);

    let c = setup();
    block_on(async_drop_all((AsyncDropGuard::new(Probe::new(&c).id(1)),))).unwrap();
    let failing = Probe::new(&c).id(2).fail(7).coded();
    let err: TupleError<(Option<CodeError>,)> = block_on(async_drop_all((failing,))).unwrap_err();
    assert_eq!((err.count(), *err.first()), (1, CodeError(7)));
    assert_eq!(err.to_string(), "1 of 1 cleanups failed; [0]: code 7");
    assert_cleaned(&c, 2);
    // Acquisition of one: the `Ok` comes back, an `Err` is the error.
    let one = Ok::<_, Refused>(AsyncDropGuard::new(Probe::new(&c).id(3)));
    let (one,) = block_on(all_or_cleanup((one,))).unwrap();
    block_on(one.async_drop()).unwrap();
    let refused: Result<AsyncDropGuard<Probe>, _> = Err(Refused("full"));
    let err = block_on(all_or_cleanup((refused,))).unwrap_err();
    assert_eq!(*err.first_error(), Refused("full"));
    cleaned_quietly(&c, 3);
}

#[test]
fn tuples_and_arrays_all_succeed() {
    let c = setup();
    let pair = (Probe::new(&c).guard(), Probe::new(&c).coded());
    // The error type of a pair names each element's error type.
    type PairError = TupleError<(Option<ProbeError>, Option<CodeError>)>;
    let result: Result<(), PairError> = block_on(async_drop_all(pair));
    assert_eq!(result, Ok(()));
    assert_cleaned(&c, 2);
    let g = || Probe::new(&c).guard();
    assert!(block_on(async_drop_all((g(), g(), g(), g(), g(), g(), g(), g()))).is_ok());
    assert_cleaned(&c, 10);
    let guards: [AsyncDropGuard<Probe>; 4] = std::array::from_fn(|_| g());
    assert_eq!(block_on(async_drop_all(guards)), Ok(()));
    cleaned_quietly(&c, 14);
}

#[test]
fn tuples_of_different_types_return_every_error() {
    let c = setup();
    let set = (
        Probe::new(&c).id(1).fail(10).guard(),
        Probe::new(&c).fail(20).coded(),
    );
    let err = block_on(async_drop_all(set)).unwrap_err();
    assert_eq!(err.count(), 2);
    assert_eq!(err.as_inner().1, Some(CodeError(20)));
    assert_eq!(
        err.to_string(),
        "2 of 2 cleanups failed; [0]: probe 1 failed with 10; [1]: code 20"
    );
    assert_eq!(err.into_inner(), (Some(fail(1, 10)), Some(CodeError(20))));
    cleaned_quietly(&c, 2);

    let c = setup();
    let set = (
        Probe::new(&c).id(1).fail(1).named(),
        Probe::new(&c).coded(),
        Probe::new(&c).id(3).fail(3).guard(),
    );
    let err = block_on(async_drop_all(set)).unwrap_err();
    assert_eq!(err.count(), 2);
    assert_eq!(
        err.to_string(),
        "2 of 3 cleanups failed; [0]: named 1 failed; [2]: probe 3 failed with 3"
    );
    assert_eq!(
        err.into_inner(),
        (Some("named 1 failed".to_owned()), None, Some(fail(3, 3)))
    );
    cleaned_quietly(&c, 3);

    let c = setup();
    let set = (
        Probe::new(&c).guard(),
        Probe::new(&c).fail(7).coded(),
        Probe::new(&c).id(3).fail(3).guard(),
    );
    let err = block_on(async_drop_all(set)).unwrap_err();
    let source = err.source().expect("a source");
    assert_eq!(source.downcast_ref::<CodeError>(), Some(&CodeError(7)));
    // Usable as a boxed error.
    let boxed: Box<dyn Error + Send + Sync> = Box::new(err);
    assert!(boxed.to_string().starts_with("2 of 3 cleanups failed"));
    cleaned_quietly(&c, 3);
}

#[test]
fn tuple_of_eight_mixed_types_every_cleanup_once_every_error_returned() {
    let c = setup();
    let p = |id: u32, b: Behaviour| Probe::new(&c).id(id).yields(2).behaviour(b);
    let set = (
        p(0, Behaviour::Succeed).guard(),
        p(1, Behaviour::Fail(11)).coded(),
        p(2, Behaviour::Succeed).named(),
        p(3, Behaviour::Succeed).quiet(),
        p(4, Behaviour::Fail(44)).guard(),
        p(5, Behaviour::Succeed).coded(),
        p(6, Behaviour::Fail(66)).named(),
        p(7, Behaviour::Succeed).guard(),
    );
    let mut fut = Box::pin(async_drop_all(set));
    // All eight cleanups start on the first poll; none is done yet.
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    assert_eq!((c.started(), c.finished()), (8, 0));
    let (result, polls) = run_counting(fut);
    assert_eq!(polls, 2, "two yields each: 3 polls in all, concurrently");
    let err = result.unwrap_err();
    assert_eq!(err.count(), 3);
    assert_eq!(
        err.to_string(),
        "3 of 8 cleanups failed; [1]: code 11; [4]: probe 4 failed with 44; [6]: named 6 failed"
    );
    let (e0, e1, e2, e3, e4, e5, e6, e7) = err.into_inner();
    assert_eq!(e0, None);
    assert_eq!(e1, Some(CodeError(11)));
    assert_eq!(e2, None);
    let e3: Option<Infallible> = e3;
    assert!(e3.is_none());
    assert_eq!(e4, Some(fail(4, 44)));
    assert_eq!(e5, None);
    assert_eq!(e6.as_deref(), Some("named 6 failed"));
    assert_eq!(e7, None);
    cleaned_quietly(&c, 8);
}

#[test]
fn cleanups_run_concurrently_and_an_early_failure_stops_none() {
    let c = setup();
    let set = (
        Probe::new(&c).fail(1).guard(),
        Probe::new(&c).yields(2).guard(),
    );
    let mut fut = Box::pin(async_drop_all(set));
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    assert_eq!((c.started(), c.finished()), (2, 1));
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    let Poll::Ready(result) = poll_once(&mut fut) else {
        panic!("not done after the longest cleanup");
    };
    assert_eq!(result.unwrap_err().into_inner(), (Some(fail(0, 1)), None));
    cleaned_quietly(&c, 2);

    let c = setup();
    let guards: [AsyncDropGuard<Probe>; 4] =
        std::array::from_fn(|i| Probe::new(&c).yields(i + 1).guard());
    let mut fut = Box::pin(async_drop_all(guards));
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    assert_eq!((c.started(), c.finished()), (4, 0));
    // Completed after max(yields) + 1 = 5 polls, not sum(yields) + 4 = 14.
    let (result, polls) = run_counting(fut);
    assert_eq!((result, polls), (Ok(()), 4));
    cleaned_quietly(&c, 4);
}

#[test]
fn nested_tuples_and_arrays() {
    let c = setup();
    let set = (
        Probe::new(&c).id(1).guard(),
        [
            Probe::new(&c).id(2).fail(2).guard(),
            Probe::new(&c).id(3).guard(),
        ],
    );
    let err = block_on(async_drop_all(set)).unwrap_err();
    let (first, array) = err.into_inner();
    assert_eq!(first, None);
    assert_eq!(array.unwrap().into_array(), [Some(fail(2, 2)), None]);
    cleaned_quietly(&c, 3);

    let c = setup();
    let nested = [
        [Probe::new(&c).guard(), Probe::new(&c).guard()],
        [Probe::new(&c).id(7).fail(7).guard(), Probe::new(&c).guard()],
    ];
    let err = block_on(async_drop_all(nested)).unwrap_err();
    assert_eq!(err.iter().map(|(i, _)| i).collect::<Vec<_>>(), [1]);
    assert_eq!(*err.first().first(), fail(7, 7));
    cleaned_quietly(&c, 4);
}

#[test]
fn dropping_a_group_cleanup_reports_each_unfinished_guard_cancelled() {
    let c = setup();
    let set = (
        Probe::new(&c).yields(2).guard(),
        Probe::new(&c).guard(),
        Probe::new(&c).yields(2).guard(),
    );
    let mut fut = Box::pin(async_drop_all(set));
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    assert_eq!((c.started(), c.finished()), (3, 1));
    drop(fut);
    // The finished one is not reported; the two unfinished ones are, once each.
    assert_eq!((c.finished(), c.drops()), (1, 3));
    assert_eq!(report_kinds(), [ReportKind::Cancelled; 2]);
}

// async_drop_all: arrays

#[test]
fn arrays_of_zero_and_one() {
    let c = setup();
    let empty: [AsyncDropGuard<Probe>; 0] = [];
    let mut fut = Box::pin(async_drop_all(empty));
    let out: Poll<Result<(), ArrayError<ProbeError, 0>>> = poll_once(&mut fut);
    assert_eq!(out, Poll::Ready(Ok(())));
    assert_eq!(block_on(async_drop_all([Probe::new(&c).guard()])), Ok(()));
    assert_cleaned(&c, 1);

    let one = [Probe::new(&c).id(9).fail(90).guard()];
    let err: ArrayError<ProbeError, 1> = block_on(async_drop_all(one)).unwrap_err();
    assert_eq!(*err.first(), fail(9, 90));
    assert_eq!(err.count(), 1);
    assert_eq!(err.iter().collect::<Vec<_>>(), [(0, &fail(9, 90))]);
    assert_eq!(
        err.to_string(),
        "1 of 1 cleanups failed; [0]: probe 9 failed with 90"
    );
    assert_eq!(err.into_array(), [Some(fail(9, 90))]);
    assert_cleaned(&c, 2);

    // `all_or_cleanup`.
    let none: [Result<AsyncDropGuard<Probe>, Refused>; 0] = [];
    let out: [AsyncDropGuard<Probe>; 0] = block_on(all_or_cleanup(none)).unwrap();
    assert!(out.is_empty());
    let one = [Err::<AsyncDropGuard<Probe>, _>(Refused("only"))];
    let err = block_on(all_or_cleanup(one)).unwrap_err();
    assert_eq!(err.as_inner(), &[AcquireOutcome::Failed(Refused("only"))]);
    assert_eq!(err.cleanup_errors().count(), 0);
    let one = [Ok::<_, Refused>(Probe::new(&c).guard())];
    let [g] = block_on(all_or_cleanup(one)).unwrap();
    assert_eq!(c.started(), 2);
    block_on(g.async_drop()).unwrap();
    cleaned_quietly(&c, 3);
}

#[test]
fn array_some_fail_every_cleanup_once_every_error_returned() {
    let c = setup();
    use Behaviour::{Fail, Succeed};
    let behaviours = [Succeed, Fail(1), Succeed, Fail(3), Fail(4)];
    let probe = |id: usize| Probe::new(&c).id(id as u32).yields(1);
    let guards: [_; 5] = std::array::from_fn(|i| probe(i).behaviour(behaviours[i]).guard());
    let err = block_on(async_drop_all(guards)).unwrap_err();
    assert_eq!(err.count(), 3);
    assert_eq!(*err.first(), fail(1, 1));
    let codes: Vec<_> = err.iter().map(|(i, e)| (i, e.code)).collect();
    assert_eq!(codes, [(1, 1), (3, 3), (4, 4)]);
    assert_eq!(
        err.to_string(),
        "3 of 5 cleanups failed; [1]: probe 1 failed with 1; [3]: probe 3 failed with 3; \
         [4]: probe 4 failed with 4"
    );
    let source = err.source().expect("a source");
    assert_eq!(source.downcast_ref::<ProbeError>(), Some(&fail(1, 1)));
    assert_eq!(
        err.into_array(),
        [
            None,
            Some(fail(1, 1)),
            None,
            Some(fail(3, 3)),
            Some(fail(4, 4))
        ]
    );
    cleaned_quietly(&c, 5);
}

// all_or_cleanup

#[test]
fn all_or_cleanup_all_ok_returns_the_guards_untouched() {
    let c = setup();
    let acquired = (
        Ok::<_, Refused>(Probe::new(&c).id(1).guard()),
        Ok::<_, &str>(Probe::new(&c).id(2).coded()),
    );
    let mut fut = Box::pin(all_or_cleanup(acquired));
    // No cleanup to wait for: ready on the first poll.
    let Poll::Ready(Ok((a, b))) = poll_once(&mut fut) else {
        panic!("all acquisitions succeeded");
    };
    assert_eq!((a.id, b.0.id), (1, 2));
    assert_eq!((c.started(), c.drops()), (0, 0));
    drop(fut);
    block_on(async_drop_all((a, b))).unwrap();
    assert_cleaned(&c, 2);

    let acquired: [Result<AsyncDropGuard<Probe>, Refused>; 3] =
        std::array::from_fn(|i| Ok(Probe::new(&c).id(i as u32).guard()));
    let mut fut = Box::pin(all_or_cleanup(acquired));
    let Poll::Ready(Ok(guards)) = poll_once(&mut fut) else {
        panic!("all acquisitions succeeded");
    };
    assert_eq!(guards.each_ref().map(|g| g.id), [0, 1, 2]);
    assert_eq!((c.started(), c.drops()), (2, 2));
    drop(fut);
    block_on(async_drop_all(guards)).unwrap();
    cleaned_quietly(&c, 5);
}

#[test]
fn all_or_cleanup_tuple_with_errors_cleans_up_the_acquired_ones() {
    let c = setup();
    let acquired = (
        Ok(Probe::new(&c).id(1).guard()),
        Err::<AsyncDropGuard<Probe>, _>(Refused("port 0")),
        Ok(Probe::new(&c).id(3).fail(30).guard()),
        Err::<AsyncDropGuard<Probe>, _>(Refused("port 1")),
    );
    let err = block_on(all_or_cleanup(acquired)).unwrap_err();
    assert_eq!(*err.first_error(), Refused("port 0"));
    assert_eq!(
        err.to_string(),
        "acquisition failed; [0]: acquired, cleaned up; [1]: failed: refused: port 0; \
         [2]: acquired, cleanup failed: probe 3 failed with 30; [3]: failed: refused: port 1"
    );
    let source = err.source().expect("a source");
    assert_eq!(source.downcast_ref::<Refused>(), Some(&Refused("port 0")));
    assert_eq!(
        err.into_inner(),
        (
            AcquireOutcome::CleanedUp,
            AcquireOutcome::Failed(Refused("port 0")),
            AcquireOutcome::CleanupFailed(fail(3, 30)),
            AcquireOutcome::Failed(Refused("port 1")),
        )
    );
    // The two acquired guards were cleaned up exactly once.
    cleaned_quietly(&c, 2);

    let c = setup();
    let acquired = (
        Err::<AsyncDropGuard<Probe>, _>(Refused("db")),
        Ok::<_, Refused>(Probe::new(&c).fail(5).coded()),
        Ok::<_, Refused>(Probe::new(&c).named()),
    );
    // Each position's outcome carries that guard's own cleanup error type.
    type Outcomes = (
        AcquireOutcome<Refused, ProbeError>,
        AcquireOutcome<Refused, CodeError>,
        AcquireOutcome<Refused, String>,
    );
    let err: AcquireError<Outcomes> = block_on(all_or_cleanup(acquired)).unwrap_err();
    assert_eq!(*err.first_error(), Refused("db"));
    assert_eq!(err.as_inner().1.cleanup_error(), Some(&CodeError(5)));
    assert_eq!(err.as_inner().1.error(), None);
    assert_eq!(err.as_inner().2, AcquireOutcome::CleanedUp);
    cleaned_quietly(&c, 2);

    record_reports();
    let acquired = (
        Err::<AsyncDropGuard<Probe>, _>(Refused("a")),
        Err::<AsyncDropGuard<Probe>, _>(Refused("b")),
    );
    let err = block_on(all_or_cleanup(acquired)).unwrap_err();
    assert_eq!(*err.first_error(), Refused("a"));
    assert_eq!(
        err.into_inner(),
        (
            AcquireOutcome::Failed(Refused("a")),
            AcquireOutcome::Failed(Refused("b"))
        )
    );
    assert!(take_reports().is_empty());
}

#[test]
fn all_or_cleanup_array_some_err_cleaned_up_concurrently() {
    let c = setup();
    let acquired = [
        Err(Refused("first")),
        Ok(Probe::new(&c).id(1).fail(10).guard()),
        Ok(Probe::new(&c).id(2).guard()),
        Err(Refused("second")),
        Ok(Probe::new(&c).id(4).fail(40).guard()),
    ];
    let err = block_on(all_or_cleanup(acquired)).unwrap_err();
    assert_eq!(*err.first_error(), Refused("first"));
    let errors: Vec<_> = err.errors().copied().collect();
    assert_eq!(errors, [Refused("first"), Refused("second")]);
    let cleanup_errors: Vec<_> = err.cleanup_errors().copied().collect();
    assert_eq!(cleanup_errors, [fail(1, 10), fail(4, 40)]);
    assert_eq!(
        err.to_string(),
        "acquisition failed; [0]: failed: refused: first; \
         [1]: acquired, cleanup failed: probe 1 failed with 10; [2]: acquired, cleaned up; \
         [3]: failed: refused: second; [4]: acquired, cleanup failed: probe 4 failed with 40"
    );
    let source = err.source().expect("a source");
    assert_eq!(source.downcast_ref::<Refused>(), Some(&Refused("first")));
    assert_eq!(
        err.into_inner(),
        [
            AcquireOutcome::Failed(Refused("first")),
            AcquireOutcome::CleanupFailed(fail(1, 10)),
            AcquireOutcome::CleanedUp,
            AcquireOutcome::Failed(Refused("second")),
            AcquireOutcome::CleanupFailed(fail(4, 40)),
        ]
    );
    cleaned_quietly(&c, 3);

    let c = setup();
    let acquired = [
        Ok(Probe::new(&c).yields(3).guard()),
        Err(Refused("x")),
        Ok(Probe::new(&c).yields(3).guard()),
        Ok(Probe::new(&c).yields(3).guard()),
    ];
    let mut fut = Box::pin(all_or_cleanup(acquired));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!((c.started(), c.finished()), (3, 0));
    let (result, polls) = run_counting(fut);
    assert_eq!(polls, 3);
    assert_eq!(result.unwrap_err().errors().count(), 1);
    assert_cleaned(&c, 3);

    let acquired = (
        Ok(Probe::new(&c).yields(2).guard()),
        Ok(Probe::new(&c).yields(2).guard()),
        Err::<AsyncDropGuard<Probe>, _>(Refused("y")),
    );
    let mut fut = Box::pin(all_or_cleanup(acquired));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!((c.started(), c.finished()), (5, 3));
    let (result, _) = run_counting(fut);
    assert_eq!(*result.unwrap_err().first_error(), Refused("y"));
    cleaned_quietly(&c, 5);
}

#[test]
fn acquire_outcome_accessors_and_display() {
    use AcquireOutcome::{CleanedUp, CleanupFailed, Failed};
    // (outcome, error(), cleanup_error(), Display)
    let cases: [(AcquireOutcome<Refused, CodeError>, _, _, _); 3] = [
        (
            Failed(Refused("r")),
            Some(&Refused("r")),
            None,
            "failed: refused: r",
        ),
        (CleanedUp, None, None, "acquired, cleaned up"),
        (
            CleanupFailed(CodeError(2)),
            None,
            Some(&CodeError(2)),
            "acquired, cleanup failed: code 2",
        ),
    ];
    for (outcome, error, cleanup_error, display) in cases {
        assert_eq!(outcome.error(), error, "{display}");
        assert_eq!(outcome.cleanup_error(), cleanup_error, "{display}");
        assert_eq!(outcome.to_string(), display);
    }
}
