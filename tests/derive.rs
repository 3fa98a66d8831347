//! `#[derive(AsyncDrop)]` and `#[derive(LocalAsyncDrop)]`.
#![cfg(feature = "derive")]

mod common;

use std::error::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use asyncdrop::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop, ReportKind};
use common::harness::{fail, Quiet};
use common::reports::{counts_quietly, one_report};
use common::Behaviour::{Fail, Hang, Panic, Succeed};
use common::{
    assert_counts, assert_send, block_on_send, poll_once, setup, take_reports, yield_now,
    Behaviour, Counters, Probe, ProbeError,
};
use futures_executor::block_on;

/// Records how many cleanups had finished when it was dropped.
struct Witness {
    counters: Arc<Counters>,
    finished_at_drop: Arc<AtomicUsize>,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let finished = self.counters.finished();
        self.finished_at_drop.store(finished, Ordering::SeqCst);
    }
}

#[derive(AsyncDrop)]
struct Session {
    socket: AsyncDropGuard<Probe>,
    pool: Probe,
    cache: Option<AsyncDropGuard<Probe>>,
    #[async_drop(skip)]
    witness: Witness,
}

/// A session whose probes yield `yields[i]` times and behave as `behaviours[i]`.
fn session(counters: &Arc<Counters>, yields: [usize; 3], behaviours: [Behaviour; 3]) -> Session {
    let probe = |i: usize| {
        Probe::new(counters)
            .id(i as u32 + 1)
            .yields(yields[i])
            .behaviour(behaviours[i])
    };
    Session {
        socket: probe(0).guard(),
        pool: probe(1),
        cache: Some(probe(2).guard()),
        witness: Witness {
            counters: counters.clone(),
            finished_at_drop: Arc::new(AtomicUsize::new(usize::MAX)),
        },
    }
}

const OK: [Behaviour; 3] = [Succeed; 3];

#[test]
fn fields_are_cleaned_up_concurrently_or_in_declaration_order() {
    let counters = Counters::new();
    let s = session(&counters, [1, 2, 1], OK);
    let witness = s.witness.finished_at_drop.clone();
    let mut cleanup = Box::pin(AsyncDropGuard::new(s).async_drop());
    assert!(poll_once(&mut cleanup).is_pending());
    assert_counts(&counters, 3, 0, 0); // all three started before any finished
    assert!(poll_once(&mut cleanup).is_pending());
    assert_counts(&counters, 3, 2, 2);
    assert!(matches!(poll_once(&mut cleanup), Poll::Ready(Ok(()))));
    assert_counts(&counters, 3, 3, 3);
    assert_eq!(witness.load(Ordering::SeqCst), 3, "skipped: dropped last");

    let counters = Counters::new();
    let p = |yields| Probe::new(&counters).yields(yields);
    let ordered = AsyncDropGuard::new(Ordered(p(1).guard(), p(0), p(0).guard()));
    let mut cleanup = Box::pin(ordered.async_drop());
    assert!(poll_once(&mut cleanup).is_pending());
    assert_counts(&counters, 1, 0, 0); // the first field, alone
    assert!(matches!(poll_once(&mut cleanup), Poll::Ready(Ok(()))));
    assert_counts(&counters, 3, 3, 3);
}

#[derive(AsyncDrop)]
#[async_drop(sequential)]
struct Ordered(AsyncDropGuard<Probe>, Probe, AsyncDropGuard<Probe>);

#[test]
fn the_generated_error_keeps_every_fields_error() {
    let counters = Counters::new();
    let behaviours = [Fail(10), Succeed, Fail(30)];
    let s = AsyncDropGuard::new(session(&counters, [0, 1, 0], behaviours));
    let err: SessionAsyncDropError<ProbeError, ProbeError, ProbeError> =
        block_on(s.async_drop()).unwrap_err();
    assert_counts(&counters, 3, 3, 3);
    assert_eq!(err.socket, Some(ProbeError { id: 1, code: 10 }));
    assert_eq!(err.pool, None);
    assert_eq!(err.cache, Some(ProbeError { id: 3, code: 30 }));
    assert_eq!(
        err.to_string(),
        "2 of 3 field cleanups of `Session` failed; socket: probe 1 failed with 10; cache: probe 3 failed with 30"
    );
    assert_eq!(
        format!("{err:?}"),
        "SessionAsyncDropError { socket: Some(ProbeError { id: 1, code: 10 }), pool: None, cache: Some(ProbeError { id: 3, code: 30 }) }"
    );
    let boxed: Box<dyn Error + Send + Sync + 'static> = Box::new(err);
    let source = boxed.source().and_then(|s| s.downcast_ref::<ProbeError>());
    assert_eq!(source, Some(&ProbeError { id: 1, code: 10 }));
}

/// The error of the sessions with `error = E`.
#[derive(Debug, PartialEq)]
struct SessionError(String);

impl From<ProbeError> for SessionError {
    fn from(e: ProbeError) -> Self {
        SessionError(e.to_string())
    }
}

#[derive(AsyncDrop)]
#[async_drop(error = SessionError)]
struct Converted {
    first: AsyncDropGuard<Probe>,
    second: Probe,
    third: AsyncDropGuard<Probe>,
    // `SessionError` has no `From<Infallible>`: an infallible field needs none.
    quiet: Quiet,
}

#[test]
fn with_error_the_first_is_returned_and_the_others_reported() {
    let counters = setup();
    let p = |id, yields, code| Probe::new(&counters).id(id).yields(yields).fail(code);
    // The first field fails last.
    let c = AsyncDropGuard::new(Converted {
        first: p(1, 2, 10).guard(),
        second: p(2, 0, 20),
        third: p(3, 1, 30).guard(),
        quiet: Quiet(Probe::new(&counters).id(4)),
    });
    let err = block_on(c.async_drop()).unwrap_err();
    assert_eq!(err, SessionError("probe 1 failed with 10".into()));
    assert_counts(&counters, 4, 4, 4);
    let reports = take_reports();
    assert_eq!(reports.len(), 2, "{reports:?}");
    for (report, id) in reports.iter().zip([2, 3]) {
        assert_eq!(report.kind, ReportKind::Failed);
        report.of("::Converted");
        assert_eq!(report.site, None);
        let detail = format!("SessionError(\"probe {id} failed with {id}0\")");
        assert!(report.message.ends_with(&detail), "{report:?}");
    }

    let counters = setup();
    let p = || Probe::new(&counters).fail(1);
    assert!(block_on(AsyncDropGuard::new(Undebuggable(p(), p())).async_drop()).is_err());
    let report = one_report(ReportKind::Failed);
    assert!(report.message.ends_with("failed to clean up"), "{report:?}");
}

/// An error type without a `Debug` form.
struct Opaque;

impl From<ProbeError> for Opaque {
    fn from(_: ProbeError) -> Self {
        Opaque
    }
}

#[derive(AsyncDrop)]
#[async_drop(error = Opaque)]
struct Undebuggable(Probe, Probe);

#[derive(AsyncDrop)]
#[async_drop(error = SessionError, before = Self::goodbye)]
struct Polite {
    conn: AsyncDropGuard<Probe>,
    log: Probe,
    #[async_drop(skip)]
    goodbye: Behaviour,
    #[async_drop(skip)]
    started_before_goodbye: Arc<AtomicUsize>,
}

impl Polite {
    fn new(counters: &Arc<Counters>, goodbye: Behaviour, fields: Behaviour) -> Polite {
        Polite {
            conn: Probe::new(counters).id(1).behaviour(fields).guard(),
            log: Probe::new(counters).id(2),
            goodbye,
            started_before_goodbye: Arc::new(AtomicUsize::new(usize::MAX)),
        }
    }

    /// Says goodbye on the connection: its error converts into `SessionError`.
    async fn goodbye(&mut self) -> Result<(), ProbeError> {
        let started = self.conn.counters.started();
        self.started_before_goodbye.store(started, Ordering::SeqCst);
        yield_now().await;
        match self.goodbye {
            Succeed => Ok(()),
            Fail(code) => Err(ProbeError { id: 0, code }),
            Panic => panic!("goodbye panicked"),
            Hang => std::future::pending().await,
        }
    }
}

#[test]
fn before_runs_first_and_its_error_is_returned_first() {
    let counters = Counters::new();
    let polite = Polite::new(&counters, Succeed, Succeed);
    let started = polite.started_before_goodbye.clone();
    block_on(AsyncDropGuard::new(polite).async_drop()).unwrap();
    assert_eq!(started.load(Ordering::SeqCst), 0);
    assert_counts(&counters, 2, 2, 2);

    let counters = setup();
    let polite = Polite::new(&counters, Fail(5), Fail(7));
    let err = block_on(AsyncDropGuard::new(polite).async_drop()).unwrap_err();
    assert_eq!(err, SessionError("probe 0 failed with 5".into()));
    assert_counts(&counters, 2, 2, 2);
    let report = one_report(ReportKind::Failed);
    let detail = "SessionError(\"probe 1 failed with 7\")";
    assert!(report.message.ends_with(detail), "{report:?}");
}

#[derive(AsyncDrop)]
enum Link {
    Tcp {
        socket: AsyncDropGuard<Probe>,
        #[async_drop(skip)]
        peer: String,
    },
    Pair(Probe, #[async_drop(skip)] u8, Probe),
    Closed,
}

#[test]
fn enums_clean_up_the_fields_of_their_variant() {
    let counters = Counters::new();
    let tcp = Link::Tcp {
        socket: Probe::new(&counters).guard(),
        peer: "db".into(),
    };
    block_on(AsyncDropGuard::new(tcp).async_drop()).unwrap();
    block_on(AsyncDropGuard::new(Link::Closed).async_drop()).unwrap();
    assert_counts(&counters, 1, 1, 1);

    let failing = Probe::new(&counters).id(2).fail(2);
    let pair = Link::Pair(failing, 0, Probe::new(&counters).id(3).yields(1));
    let err = block_on(AsyncDropGuard::new(pair).async_drop()).unwrap_err();
    assert_counts(&counters, 3, 3, 3);
    assert!(matches!(
        err,
        LinkAsyncDropError::Pair(Some(ProbeError { id: 2, code: 2 }), None)
    ));
    assert_eq!(
        err.to_string(),
        "1 of 2 field cleanups of `Link::Pair` failed; 0: probe 2 failed with 2"
    );
    assert_eq!(
        format!("{err:?}"),
        "Pair(Some(ProbeError { id: 2, code: 2 }), None)"
    );

    let counters = setup();
    let failing = Probe::new(&counters).id(2).fail(2);
    let open = Journal::Open(Probe::new(&counters).id(1).guard(), failing);
    let err = block_on(AsyncDropGuard::new(open).async_drop()).unwrap_err();
    assert_eq!(err, SessionError("probe 1 failed with 9".into()));
    assert_counts(&counters, 2, 2, 2);
    assert_eq!(take_reports().len(), 1); // the second field's error
    block_on(AsyncDropGuard::new(Journal::Closed).async_drop()).unwrap();
}

#[derive(AsyncDrop)]
struct Nothing;

#[derive(LocalAsyncDrop)]
struct Empty {}

#[derive(AsyncDrop)]
enum Never {}

#[test]
fn types_without_resources_and_nested_derived_types() {
    block_on(AsyncDropGuard::new(Nothing).async_drop()).unwrap();
    block_on(AsyncDropGuard::new(Empty {}).async_drop()).unwrap();
    let _: fn(Never) = |never| drop(AsyncDropGuard::new(never).async_drop());
    let _ = NothingAsyncDropError;

    #[derive(AsyncDrop)]
    struct Outer {
        session: AsyncDropGuard<Session>,
        link: Link,
    }

    let counters = Counters::new();
    let outer = AsyncDropGuard::new(Outer {
        session: AsyncDropGuard::new(session(&counters, [1, 0, 1], OK)),
        link: Link::Pair(Probe::new(&counters), 1, Probe::new(&counters)),
    });
    assert_send(&outer);
    block_on_send(outer.async_drop()).unwrap();
    assert_counts(&counters, 5, 5, 5);
}

#[derive(AsyncDrop)]
struct Pool<'a, T> {
    primary: AsyncDropGuard<T>,
    spare: Option<T>,
    idle: [AsyncDropGuard<T>; 2],
    #[async_drop(skip)]
    label: &'a str,
}

/// Sends a generic derived cleanup (the future) to another thread: `T: AsyncDrop` suffices.
fn clean_up_on_a_thread<T: AsyncDrop + 'static>(
    pool: AsyncDropGuard<Pool<'static, T>>,
) -> std::thread::JoinHandle<bool> {
    let cleanup = pool.async_drop();
    std::thread::spawn(move || block_on(cleanup).is_ok())
}

#[test]
fn derived_cleanups_are_send_also_in_generic_code() {
    let counters = Counters::new();
    let pool = AsyncDropGuard::new(Pool {
        primary: Probe::new(&counters).yields(1).guard(),
        spare: Some(Probe::new(&counters)),
        idle: [Probe::new(&counters).guard(), Probe::new(&counters).guard()],
        label: "pool",
    });
    assert!(clean_up_on_a_thread(pool).join().unwrap());
    assert_counts(&counters, 4, 4, 4);

    let counters = Counters::new();
    let s = AsyncDropGuard::new(session(&counters, [0; 3], OK));
    block_on_send(s.async_drop()).unwrap();
    let polite = AsyncDropGuard::new(Polite::new(&counters, Succeed, Succeed));
    block_on_send(polite.async_drop()).unwrap();
}

#[cfg(feature = "alloc")]
#[test]
fn a_generic_vec_of_guards_is_cleaned_up_with_a_send_cleanup() {
    #[derive(AsyncDrop)]
    struct Conns<T> {
        conns: Vec<AsyncDropGuard<T>>,
    }

    fn clean_up<T: AsyncDrop + 'static>(conns: AsyncDropGuard<Conns<T>>) -> bool {
        let cleanup = conns.async_drop();
        let thread = std::thread::spawn(move || block_on(cleanup).is_ok());
        thread.join().unwrap()
    }

    let counters = Counters::new();
    let conns = (0..3).map(|_| Probe::new(&counters).guard()).collect();
    assert!(clean_up(AsyncDropGuard::new(Conns { conns })));
    assert_counts(&counters, 3, 3, 3);
}

#[derive(LocalAsyncDrop)]
#[async_drop(sequential, error = SessionError, before = Self::flush)]
enum Journal {
    Open(AsyncDropGuard<Probe>, Probe),
    Closed,
}

impl Journal {
    async fn flush(&mut self) -> Result<(), ProbeError> {
        match self {
            Journal::Open(first, _) => Err(fail(first.id, 9)),
            Journal::Closed => Ok(()),
        }
    }
}

#[derive(LocalAsyncDrop)]
struct Mixed<T, L> {
    sent: AsyncDropGuard<T>,
    local: AsyncDropGuard<L>,
    #[async_drop(skip)]
    rc: Rc<u8>,
}

#[test]
fn local_async_drop_takes_not_send_fields() {
    let (counters, cleaned) = (Counters::new(), Rc::new(std::cell::Cell::new(0)));
    let mixed = AsyncDropGuard::new(Mixed {
        sent: Probe::new(&counters).fail(4).guard(),
        local: common::Local::guard(&cleaned),
        rc: Rc::new(1),
    });
    let err = block_on(mixed.async_drop()).unwrap_err();
    assert_eq!(err.sent, Some(ProbeError { id: 0, code: 4 }));
    assert!(err.local.is_none());
    assert_counts(&counters, 1, 1, 1);
    assert_eq!((cleaned.get(), Rc::strong_count(&cleaned)), (1, 1));
}

#[test]
fn a_panicking_field_cleanup_or_before_drops_every_field_once() {
    let counters = setup();
    let behaviours = [Succeed, Succeed, Panic];
    let s = AsyncDropGuard::new(session(&counters, [1, 0, 0], behaviours));
    let panicked = catch_unwind(AssertUnwindSafe(|| block_on(s.async_drop())));
    assert!(panicked.is_err());
    assert_counts(&counters, 3, 1, 3); // the first was still waiting: dropped
    assert_eq!(take_reports(), []); // the panic is the report

    let p = |b| Probe::new(&counters).behaviour(b);
    let ordered = AsyncDropGuard::new(Ordered(p(Panic).guard(), p(Succeed), p(Succeed).guard()));
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(ordered.async_drop()))).is_err());
    assert_counts(&counters, 4, 1, 6); // the two after it never started: dropped
    assert_eq!(take_reports(), []);

    let counters = setup();
    let polite = AsyncDropGuard::new(Polite::new(&counters, Panic, Succeed));
    assert!(catch_unwind(AssertUnwindSafe(|| block_on(polite.async_drop()))).is_err());
    counts_quietly(&counters, 0, 0, 2);
}

/// Cuts the cleanup of `make`'s value after `polls` polls: one report, the parent's; `counts`.
#[track_caller]
fn cancel_after<T: LocalAsyncDrop>(
    make: impl FnOnce(&Arc<Counters>) -> T,
    polls: usize,
    counts: (usize, usize, usize),
) {
    let counters = setup();
    let mut cleanup = Box::pin(AsyncDropGuard::new(make(&counters)).async_drop());
    for _ in 0..polls {
        assert!(poll_once(&mut cleanup).is_pending());
    }
    drop(cleanup);
    let report = one_report(ReportKind::Cancelled);
    assert_eq!(report.type_name, std::any::type_name::<T>());
    assert_counts(&counters, counts.0, counts.1, counts.2);
}

#[test]
fn a_cancelled_cleanup_is_reported_once_for_the_parent() {
    for polls in [0, 1] {
        cancel_after(|c| session(c, [1, 1, 1], OK), polls, (3 * polls, 0, 3));
        let p = |c: &Arc<Counters>| Probe::new(c).yields(1);
        let ordered = |c: &_| Ordered(p(c).guard(), p(c), p(c).guard());
        cancel_after(ordered, polls, (polls, 0, 3));
        let socket = |c: &_| p(c).guard();
        let tcp = |c: &_| Link::Tcp {
            socket: socket(c),
            peer: String::new(),
        };
        cancel_after(tcp, polls, (polls, 0, 1));
        // During `before`.
        cancel_after(|c| Polite::new(c, Succeed, Succeed), polls, (0, 0, 2));
    }
}
