//! `with_async_drop!`: every guard cleaned up once on every way out of the block.

use crate::common;

use std::convert::Infallible;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use asyncdrop::{with_async_drop, AsyncDrop, AsyncDropGuard, ReportKind};
use common::harness::CodeError;
use common::reports::{assert_cleaned, cleaned_quietly};
use common::{
    poll_once, record_reports, setup, take_reports, yield_now, Behaviour, Counters, Probe,
    ProbeError,
};
use futures_executor::block_on;

/// What happened to a [`Logged`] resource, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Start(u32),
    End(u32),
}

type Log = Arc<Mutex<Vec<Event>>>;

fn events(log: &Log) -> Vec<Event> {
    log.lock().unwrap().clone()
}

/// A probe whose cleanup also records when it starts and ends in a shared log.
#[derive(Debug)]
struct Logged {
    probe: Probe,
    log: Log,
}

impl Logged {
    fn guard(probe: Probe, log: &Log) -> AsyncDropGuard<Logged> {
        AsyncDropGuard::new(Logged {
            probe,
            log: log.clone(),
        })
    }
}

/// Logged guards with ids 1, 2, 3, each probe set up by `setup(id, probe)`.
fn logged(
    c: &Arc<Counters>,
    log: &Log,
    setup: impl Fn(u32, Probe) -> Probe,
) -> [AsyncDropGuard<Logged>; 3] {
    [1, 2, 3].map(|id| Logged::guard(setup(id, Probe::new(c).id(id)), log))
}

/// The log of cleanups of `ids` run one by one, last listed first.
fn one_by_one_last_first(ids: &[u32]) -> Vec<Event> {
    ids.iter()
        .rev()
        .flat_map(|&id| [Event::Start(id), Event::End(id)])
        .collect()
}

impl AsyncDrop for Logged {
    type Error = ProbeError;

    async fn async_drop_impl(self) -> Result<(), ProbeError> {
        let id = self.probe.id;
        self.log.lock().unwrap().push(Event::Start(id));
        let result = AsyncDrop::async_drop_impl(self.probe).await;
        self.log.lock().unwrap().push(Event::End(id));
        result
    }
}

/// The error type of the blocks below; cleanup errors convert into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppError {
    Block(&'static str),
    Probe(ProbeError),
    Code(CodeError),
}

impl From<ProbeError> for AppError {
    fn from(e: ProbeError) -> Self {
        AppError::Probe(e)
    }
}

impl From<CodeError> for AppError {
    fn from(e: CodeError) -> Self {
        AppError::Code(e)
    }
}

/// A query that fails.
fn query() -> Result<u32, AppError> {
    Err(AppError::Block("query failed"))
}

#[test]
fn question_mark_leaves_the_block_and_converts_with_from() {
    let c = setup();
    let mut reached_after = false;
    let result: Result<u32, AppError> = block_on(async {
        // The cleanup fails too: the block's error still has priority.
        let g = Probe::new(&c).id(3).fail(30).guard();
        with_async_drop!(g => {
            let n = query()?;
            reached_after = true;
            Ok(n)
        })
    });
    assert_eq!(result, Err(AppError::Block("query failed")));
    assert!(!reached_after, "code after `?` ran");
    cleaned_quietly(&c, 1);

    let c = setup();
    let result: Result<(), AppError> = block_on(async {
        let g = Probe::new(&c).guard();
        with_async_drop!(g => {
            // `?` converts a `ProbeError` into `AppError`.
            Err(ProbeError { id: 8, code: 80 })?;
            Ok(())
        })
    });
    assert_eq!(result, Err(AppError::Probe(ProbeError { id: 8, code: 80 })));
    cleaned_quietly(&c, 1);
}

#[test]
fn return_leaves_the_block_not_the_function() {
    let c = setup();

    async fn run(c: &std::sync::Arc<Counters>, early: bool) -> (Result<u32, AppError>, bool) {
        let mut reached_after = false;
        let g = Probe::new(c).guard();
        let result = with_async_drop!(g => {
            if early {
                return Ok(1);
            }
            reached_after = true;
            Ok(2)
        });
        // Still running: `return` only left the block. Make that observable.
        (result.map(|v| v + 100), reached_after)
    }

    assert_eq!(block_on(run(&c, true)), (Ok(101), false));
    assert_cleaned(&c, 1);
    assert_eq!(block_on(run(&c, false)), (Ok(102), true));
    cleaned_quietly(&c, 2);
}

#[test]
fn sequential_forms_clean_up_last_listed_first_one_after_the_other() {
    let c = setup();
    let log = Log::default();
    let result: Result<(), AppError> = block_on(async {
        let [a, b, d] = logged(&c, &log, |_, probe| probe.yields(2));
        with_async_drop!(sequential a, b, d => {
            assert!(events(&log).is_empty());
            Ok(())
        })
    });
    assert_eq!(result, Ok(()));
    // Sequential, not interleaved, even though every cleanup suspends twice.
    assert_eq!(events(&log), one_by_one_last_first(&[1, 2, 3]));
    cleaned_quietly(&c, 3);

    let c = setup();
    let log = Log::default();
    block_on(async {
        let a = Logged::guard(Probe::new(&c).id(1), &log);
        let b = Logged::guard(Probe::new(&c).id(2), &log);
        let (v, (ra, rb)) = with_async_drop!(sequential all a, b => { 5 });
        assert_eq!((v, ra, rb), (5, Ok(()), Ok(())));
    });
    assert_eq!(events(&log), one_by_one_last_first(&[1, 2]));
    cleaned_quietly(&c, 2);

    record_reports();
    // One counter set per guard, so each poll shows which cleanup is running.
    let (ca, cb) = (Counters::new(), Counters::new());
    let a = Probe::new(&ca).yields(1).quiet();
    let b = Probe::new(&cb).yields(1).quiet();
    let mut fut = Box::pin(async move { with_async_drop!(sequential infallible a, b => { 9u8 }) });

    // Poll 1: the block ends, `b` (last listed) starts and suspends.
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    assert_eq!((ca.started(), cb.started(), cb.finished()), (0, 1, 0));
    // Poll 2: `b` finishes, `a` starts and suspends.
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    assert_eq!((ca.started(), ca.finished(), cb.finished()), (1, 0, 1));
    // Poll 3: `a` finishes.
    assert_eq!(poll_once(&mut fut), Poll::Ready(9));
    assert_cleaned(&ca, 1);
    cleaned_quietly(&cb, 1);
}

#[test]
fn cleanup_error_is_the_result_and_the_block_error_has_priority() {
    let c = setup();
    let result: Result<u32, AppError> = block_on(async {
        let g = Probe::new(&c).id(4).fail(40).guard();
        with_async_drop!(g => { Ok(1) })
    });
    assert_eq!(result, Err(AppError::Probe(ProbeError { id: 4, code: 40 })));
    assert_cleaned(&c, 1);

    // Guards of different types, each error converted with its own `From`.
    let result: Result<u32, AppError> = block_on(async {
        let p = Probe::new(&c).id(5).guard();
        let k = Probe::new(&c).fail(50).coded();
        with_async_drop!(p, k => { Ok(1) })
    });
    assert_eq!(result, Err(AppError::Code(CodeError(50))));
    cleaned_quietly(&c, 3);

    let c = setup();
    let result: Result<u32, AppError> = block_on(async {
        let p = Probe::new(&c).id(1).fail(1).guard();
        let k = Probe::new(&c).fail(2).coded();
        with_async_drop!(p, k => { Err(AppError::Block("block")) })
    });
    assert_eq!(result, Err(AppError::Block("block")));
    cleaned_quietly(&c, 2);
}

#[test]
fn sequential_first_error_in_listing_order_wins_and_every_guard_is_cleaned_up() {
    let c = setup();
    let log = Log::default();
    let result: Result<u32, AppError> = block_on(async {
        let a = Logged::guard(Probe::new(&c).id(1).fail(10), &log);
        let b = Logged::guard(Probe::new(&c).id(2).fail(20), &log);
        with_async_drop!(sequential a, b => { Ok(0) })
    });
    // `b` was cleaned up (and failed) first, but `a` is listed first.
    assert_eq!(events(&log)[0], Event::Start(2));
    assert_eq!(result, Err(AppError::Probe(ProbeError { id: 1, code: 10 })));
    cleaned_quietly(&c, 2);

    let c = setup();
    let log = Log::default();
    let result: Result<u32, AppError> = block_on(async {
        let [a, b, d] = logged(&c, &log, |id, probe| match id {
            3 => probe.fail(3),
            _ => probe,
        });
        with_async_drop!(sequential a, b, d => { Ok(0) })
    });
    // `d` failed first; `b` and `a` were still cleaned up afterwards.
    assert_eq!(result, Err(AppError::Probe(ProbeError { id: 3, code: 3 })));
    assert_eq!(events(&log), one_by_one_last_first(&[1, 2, 3]));
    cleaned_quietly(&c, 3);
}

#[test]
fn infallible_form_takes_a_block_of_any_type() {
    let c = setup();
    let value: (String, usize) = block_on(async {
        let a = Probe::new(&c).id(1).yields(1).quiet();
        let b = Probe::new(&c).id(2).quiet();
        with_async_drop!(infallible a, b => {
            yield_now().await;
            (format!("{}+{}", a.0.id, b.0.id), c.started())
        })
    });
    // The block saw no cleanup yet; afterwards both ran exactly once.
    assert_eq!(value, ("1+2".to_owned(), 0));
    assert_cleaned(&c, 2);

    // A single guard, and a block returning a `Result` that is passed through as is.
    let r: Result<u8, &str> = block_on(async {
        let q = Probe::new(&c).quiet();
        with_async_drop!(infallible q => { Err("kept") })
    });
    assert_eq!(r, Err("kept"));
    cleaned_quietly(&c, 3);
}

#[test]
fn all_form_returns_the_value_and_every_cleanup_result() {
    let c = setup();
    let (value, (ra, rb, rq)) = block_on(async {
        let a = Probe::new(&c).id(1).fail(11).guard();
        let b = Probe::new(&c).fail(22).coded();
        let q = Probe::new(&c).quiet();
        with_async_drop!(all a, b, q => { vec![a.id] })
    });
    assert_eq!(value, [1]);
    assert_eq!(ra, Err(ProbeError { id: 1, code: 11 }));
    assert_eq!(rb, Err(CodeError(22)));
    let rq: Result<(), Infallible> = rq;
    assert!(rq.is_ok());
    cleaned_quietly(&c, 3);

    let c = setup();
    let (value, (ra,)) = block_on(async {
        let a = Probe::new(&c).fail(1).guard();
        with_async_drop!(all a, => {
            query()?;
            Ok::<_, AppError>("unreachable")
        })
    });
    assert_eq!(value, Err(AppError::Block("query failed")));
    assert_eq!(ra, Err(ProbeError { id: 0, code: 1 }));
    cleaned_quietly(&c, 1);
}

#[test]
fn block_can_use_mutate_and_await_the_guards() {
    let c = setup();
    let result: Result<u32, AppError> = block_on(async {
        let mut g = Probe::new(&c).id(1).guard();
        let mut k = Probe::new(&c).coded();
        with_async_drop!(g, k => {
            let before = g.id;
            g.id = 42;
            g.behaviour = Behaviour::Fail(7);
            k.0.id = 43;
            Ok(before + g.id + k.0.id)
        })
    });
    // The cleanup ran on the mutated value: it failed, with the new id.
    assert_eq!(result, Err(AppError::Probe(ProbeError { id: 42, code: 7 })));
    assert_cleaned(&c, 2);

    let sum: Result<u32, AppError> = block_on(async {
        let mut g = Probe::new(&c).id(1).guard();
        with_async_drop!(g => {
            g.id += 1;
            Ok(g.id)
        })
    });
    assert_eq!(sum, Ok(2));
    cleaned_quietly(&c, 3);

    let c = setup();
    let g = Probe::new(&c).yields(1).guard();
    let mut fut = Box::pin(async move {
        with_async_drop!(g => {
            for _ in 0..3 {
                yield_now().await;
            }
            Ok::<_, AppError>(g.id + 5)
        })
    });
    for _ in 0..3 {
        assert_eq!(poll_once(&mut fut), Poll::Pending);
        assert_eq!(c.started(), 0, "cleanup started during the block");
    }
    // The block ends; the cleanup starts and suspends once.
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    assert_eq!((c.started(), c.finished()), (1, 0));
    assert_eq!(poll_once(&mut fut), Poll::Ready(Ok(5)));
    cleaned_quietly(&c, 1);
}

#[test]
fn a_panic_in_the_block_reports_every_guard_forgotten() {
    let c = setup();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        block_on(async {
            let a = Probe::new(&c).id(1).guard();
            let b = Probe::new(&c).id(2).guard();
            with_async_drop!(a, b => {
                if a.id + b.id == 3 {
                    panic!("block panicked");
                }
                Ok::<_, AppError>(())
            })
        })
    }));
    assert!(outcome.is_err());
    assert_eq!((c.started(), c.drops()), (0, 2));
    let reports = take_reports();
    assert_eq!(reports.len(), 2, "{reports:?}");
    for r in &reports {
        assert_eq!(r.kind, ReportKind::Forgotten);
        r.of("Probe");
    }
}

// The default form cleans up concurrently; `sequential` one by one (above).

#[test]
fn guards_are_cleaned_up_concurrently_and_the_first_listed_error_wins() {
    let c = setup();
    let log = Log::default();
    let result: Result<(), AppError> = block_on(async {
        let [a, b, d] = logged(&c, &log, |_, probe| probe.yields(2));
        with_async_drop!(a, b, d => { Ok(()) })
    });
    assert_eq!(result, Ok(()));
    let events = events(&log);
    let first = &events[..3];
    assert_eq!(first, [Event::Start(1), Event::Start(2), Event::Start(3)]);
    assert_eq!(events.len(), 6);
    cleaned_quietly(&c, 3);

    let c = setup();
    let result: Result<u32, AppError> = block_on(async {
        let a = Probe::new(&c).id(1).yields(3).fail(10).guard();
        let b = Probe::new(&c).id(2).fail(20).guard();
        let d = Probe::new(&c).id(3).guard();
        with_async_drop!(a, b, d => { Ok(0) })
    });
    // `b` failed first, but `a` is listed first.
    assert_eq!(result, Err(AppError::Probe(ProbeError { id: 1, code: 10 })));
    cleaned_quietly(&c, 3);
}

#[test]
fn infallible_form_cleans_up_concurrently() {
    record_reports();
    let (ca, cb) = (Counters::new(), Counters::new());
    let a = Probe::new(&ca).yields(1).quiet();
    let b = Probe::new(&cb).yields(1).quiet();
    let mut fut = Box::pin(async move { with_async_drop!(infallible a, b => { 9u8 }) });
    // Poll 1: both start and suspend; poll 2: both finish.
    assert_eq!(poll_once(&mut fut), Poll::Pending);
    let counts = (ca.started(), cb.started(), ca.finished(), cb.finished());
    assert_eq!(counts, (1, 1, 0, 0));
    assert_eq!(poll_once(&mut fut), Poll::Ready(9));
}

/// Generic, so it serves guards of several error types in one `map_err`.
fn tagged<E: std::fmt::Debug>(e: E) -> String {
    format!("cleanup: {e:?}")
}

#[test]
fn map_err_maps_cleanup_errors_with_a_closure_or_a_generic_function() {
    let c = setup();
    let result: Result<u8, String> = block_on(async {
        let a = Probe::new(&c).id(1).fail(4).guard();
        with_async_drop!(a => { Ok(1) }, map_err = |e: ProbeError| format!("code {}", e.code))
    });
    assert_eq!(result, Err("code 4".to_owned()));
    let result: Result<u8, String> = block_on(async {
        let a = Probe::new(&c).id(2).guard();
        let b = Probe::new(&c).id(3).fail(5).coded();
        with_async_drop!(sequential a, b => { Ok(2) }, map_err = tagged)
    });
    assert_eq!(result, Err("cleanup: CodeError(5)".to_owned()));
    // The block's own error still wins.
    let result: Result<u8, String> = block_on(async {
        let a = Probe::new(&c).id(4).fail(6).guard();
        with_async_drop!(a => { Err("block".to_owned()) }, map_err = tagged)
    });
    assert_eq!(result, Err("block".to_owned()));
    cleaned_quietly(&c, 4);
}
