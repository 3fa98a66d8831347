//! Type-erased cleanup: `DynAsyncDrop` / `LocalDynAsyncDrop`.
#![cfg(feature = "alloc")]

use crate::common;

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use asyncdrop::collections::{async_drop_iter, AsyncDropVec};
use asyncdrop::{
    async_drop_all, AsyncDrop, AsyncDropGuard, DynAsyncDrop, LocalAsyncDrop, LocalDynAsyncDrop,
    ReportKind,
};
use common::counting::{allocations, peak_extra_blocks};
use common::harness::{fail, CodeError};
use common::reports::{counts_quietly, one_report, one_report_naming};
use common::{
    assert_counts, assert_site, block_on_send, poll_once, run_to_end, setup, take_reports,
    type_implements, yield_now, Counters, Probe, ProbeError,
};
use futures_executor::{block_on, LocalPool};

/// A file whose cleanup (flush, one yield) fails with an `io::Error`.
struct File(Probe);

impl File {
    fn guard(counters: &Arc<Counters>, fail: bool) -> AsyncDropGuard<File> {
        let probe = Probe::new(counters).yields(1);
        let probe = if fail { probe.fail(0) } else { probe };
        AsyncDropGuard::new(File(probe))
    }
}

impl AsyncDrop for File {
    type Error = io::Error;
    async fn async_drop_impl(self) -> io::Result<()> {
        let flushed = self.0.async_drop_impl().await;
        flushed.map_err(|_| io::Error::new(io::ErrorKind::WriteZero, "flush failed"))
    }
}

/// A session whose cleanup (logout, two yields) fails with its status code unless 200.
struct Session(Probe, u32);

impl Session {
    fn guard(counters: &Arc<Counters>, status: u32) -> AsyncDropGuard<Session> {
        AsyncDropGuard::new(Session(Probe::new(counters).yields(2), status))
    }
}

impl AsyncDrop for Session {
    type Error = CodeError;
    async fn async_drop_impl(self) -> Result<(), CodeError> {
        let Session(probe, status) = self;
        probe.async_drop_impl().await.unwrap();
        match status {
            200 => Ok(()),
            _ => Err(CodeError(status)),
        }
    }
}

/// One error type for all three.
#[derive(Debug, PartialEq)]
enum CloseError {
    Probe(ProbeError),
    Io(io::ErrorKind),
    Status(u32),
}

impl From<ProbeError> for CloseError {
    fn from(e: ProbeError) -> Self {
        CloseError::Probe(e)
    }
}

impl From<io::Error> for CloseError {
    fn from(e: io::Error) -> Self {
        CloseError::Io(e.kind())
    }
}

impl From<CodeError> for CloseError {
    fn from(e: CodeError) -> Self {
        CloseError::Status(e.0)
    }
}

type AnyError = Box<dyn Error + Send + Sync>;

/// A probe, a file and a session, erased to one error type `E`.
fn three<E>(c: &Arc<Counters>, probe: Probe, fail: bool, status: u32) -> [Erased<E>; 3]
where
    E: From<ProbeError> + From<io::Error> + From<CodeError> + Send + 'static,
{
    [
        AsyncDropGuard::into_dyn(AsyncDropGuard::new(probe)),
        AsyncDropGuard::into_dyn(File::guard(c, fail)),
        AsyncDropGuard::into_dyn(Session::guard(c, status)),
    ]
}

type Erased<E> = AsyncDropGuard<Box<dyn DynAsyncDrop<E>>>;
type LocalErased<E> = AsyncDropGuard<Box<dyn LocalDynAsyncDrop<E>>>;

#[test]
fn three_types_in_one_array() {
    let counters = setup();
    // With a boxed error: only the file fails.
    let set: [Erased<AnyError>; 3] = three(&counters, Probe::new(&counters).yields(3), true, 200);
    let err = block_on_send(async_drop_all(set)).unwrap_err();
    assert_eq!(err.count(), 1);
    assert_eq!(err.first().to_string(), "flush failed");
    let failed: Vec<usize> = err.iter().map(|(i, _)| i).collect();
    assert_eq!(failed, [1]);
    assert_counts(&counters, 3, 3, 3);

    // All failing, converted into one enum.
    let set: [Erased<CloseError>; 3] =
        three(&counters, Probe::new(&counters).id(7).fail(70), true, 503);
    let err = block_on(async_drop_all(set)).unwrap_err();
    let probe = CloseError::Probe(fail(7, 70));
    let file = CloseError::Io(io::ErrorKind::WriteZero);
    let session = CloseError::Status(503);
    assert_eq!(err.into_array(), [Some(probe), Some(file), Some(session)]);
    assert_counts(&counters, 6, 6, 6);

    // All succeeding.
    let set: [Erased<CloseError>; 3] = three(&counters, Probe::new(&counters), false, 200);
    block_on(async_drop_all(set)).unwrap();
    counts_quietly(&counters, 9, 9, 9);
}

#[test]
fn mixed_guards_one_by_one_in_an_async_drop_vec_and_through_async_drop_iter() {
    let counters = setup();
    let mut set: Vec<Erased<AnyError>> = Vec::new();
    for i in 0..4 {
        let probe = Probe::new(&counters).id(i).fail(i);
        set.extend(three(&counters, probe, false, 400 + i));
    }
    let errors = block_on(async {
        let mut errors = Vec::new();
        for guard in set {
            if let Err(e) = guard.async_drop().await {
                errors.push(e.to_string());
            }
        }
        errors
    });
    let expected =
        (0..4).flat_map(|i| [format!("probe {i} failed with {i}"), format!("code 40{i}")]);
    assert_eq!(errors, expected.collect::<Vec<_>>());
    counts_quietly(&counters, 12, 12, 12);

    // The crate's collections take erased guards like any others, concurrently.
    let counters = setup();
    let mut set = AsyncDropVec::<Box<dyn DynAsyncDrop<AnyError>>>::new();
    for i in 0..3 {
        let probe = Probe::new(&counters).id(i).yields(i as usize);
        for guard in three(&counters, probe, i == 1, 200 + i) {
            set.push(guard);
        }
    }
    // One of them goes back out as a guard, still erased.
    let last = set.pop().unwrap();
    assert!(format!("{last:?}").contains("Session"));
    let err = block_on_send(set.async_drop()).unwrap_err();
    assert_eq!(err.len(), 2);
    assert_eq!(err.first().to_string(), "flush failed");
    let indexed = err.iter_indexed().map(|(i, e)| format!("{i}: {e}"));
    assert_eq!(
        indexed.collect::<Vec<_>>(),
        ["4: flush failed", "5: code 201"]
    );
    assert_counts(&counters, 8, 8, 8);
    let last = block_on(last.async_drop()).unwrap_err();
    assert_eq!(last.to_string(), "code 202");
    counts_quietly(&counters, 9, 9, 9);

    // `async_drop_iter` cleans up a plain `Vec` of erased guards concurrently.
    let counters = setup();
    let mut set: Vec<Erased<CloseError>> = Vec::new();
    for i in 0..5 {
        let probe = Probe::new(&counters).id(i).yields(2);
        let probe = if i == 3 { probe.fail(33) } else { probe };
        set.extend(three(&counters, probe, false, 200));
    }
    let err = block_on(async_drop_iter(set)).unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(*err.first(), CloseError::Probe(fail(3, 33)));
    counts_quietly(&counters, 15, 15, 15);
}

/// The local flavour in the crate's sequence, on a local executor.
#[test]
fn local_flavour_on_a_local_executor() {
    let counters = setup();
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut set = AsyncDropVec::<Box<dyn LocalDynAsyncDrop<AnyError>>>::new();
    set.push(AsyncDropGuard::into_local_dyn(Journal::guard(&log, false)));
    let probe = Probe::new(&counters).yields(1).guard();
    set.push(AsyncDropGuard::into_local_dyn(probe));
    LocalPool::new().run_until(set.async_drop()).unwrap();
    assert_eq!(*log.borrow(), ["journal flushed", "journal dropped"]);
    counts_quietly(&counters, 1, 1, 1);

    let counters = setup();
    let log = Rc::new(RefCell::new(Vec::new()));
    let set: [LocalErased<AnyError>; 3] = [
        AsyncDropGuard::into_local_dyn(Journal::guard(&log, true)),
        AsyncDropGuard::into_local_dyn(Probe::new(&counters).yields(2).guard()),
        AsyncDropGuard::into_local_dyn(Session::guard(&counters, 404)),
    ];
    let err = LocalPool::new().run_until(async_drop_all(set)).unwrap_err();
    let messages: Vec<_> = err.iter().map(|(i, e)| format!("{i}: {e}")).collect();
    assert_eq!(messages, ["0: journal full", "2: code 404"]);
    assert_eq!(*log.borrow(), ["journal flushed", "journal dropped"]);
    counts_quietly(&counters, 2, 2, 2);
}

/// An erased guard nests in tuples next to plain guards and inside guarded arrays.
#[test]
fn erased_guards_compose_and_are_async_drop() {
    let counters = setup();
    let erased: Erased<CloseError> = AsyncDropGuard::into_dyn(Session::guard(&counters, 500));
    let plain = Probe::new(&counters).guard();
    let nested = AsyncDropGuard::new([
        AsyncDropGuard::into_dyn::<CloseError>(File::guard(&counters, false)),
        AsyncDropGuard::into_dyn(Probe::new(&counters).guard()),
    ]);
    let err = block_on(async_drop_all((erased, plain, nested))).unwrap_err();
    let status = Some(CloseError::Status(500));
    assert_eq!(err.into_inner(), (status, None, None));
    counts_quietly(&counters, 4, 4, 4);

    // `Box<dyn DynAsyncDrop<E>>` is `AsyncDrop`: code bound by it (`BlockingDrop`) takes it.
    fn needs_async_drop<T: AsyncDrop>(guard: AsyncDropGuard<T>) -> AsyncDropGuard<T> {
        guard
    }
    let counters = setup();
    let pool = common::JoinedPool::new(2);
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..6u32 {
        let guard: Erased<CloseError> = if i % 2 == 0 {
            AsyncDropGuard::into_dyn(Probe::new(&counters).id(i).yields(2).guard())
        } else {
            AsyncDropGuard::into_dyn(Session::guard(&counters, 200 + i))
        };
        let guard = needs_async_drop(guard);
        let tx = tx.clone();
        pool.spawn_ok(async move {
            let result = guard.async_drop().await;
            tx.send(result.map_err(|e| format!("{e:?}"))).unwrap();
        });
    }
    drop(tx);
    let mut results: Vec<_> = rx.iter().collect();
    results.sort();
    let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!(ok.len(), 3);
    let failed: Vec<_> = failed.into_iter().map(Result::unwrap_err).collect();
    assert_eq!(failed, ["Status(201)", "Status(203)", "Status(205)"]);
    counts_quietly(&counters, 6, 6, 6);
}

/// A `!Send` resource: an `Rc` journal.
struct Journal {
    log: Rc<RefCell<Vec<&'static str>>>,
    fail: bool,
}

impl Journal {
    fn guard(log: &Rc<RefCell<Vec<&'static str>>>, fail: bool) -> AsyncDropGuard<Journal> {
        let log = log.clone();
        AsyncDropGuard::new(Journal { log, fail })
    }
}

impl LocalAsyncDrop for Journal {
    type Error = String;
    async fn local_async_drop_impl(self) -> Result<(), String> {
        yield_now().await;
        self.log.borrow_mut().push("journal flushed");
        if self.fail {
            Err(String::from("journal full"))
        } else {
            Ok(())
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.log.borrow_mut().push("journal dropped");
    }
}

/// Not `'static`: borrows a counter instead of sharing it.
struct Borrowing<'a> {
    closed: &'a AtomicUsize,
}

impl AsyncDrop for Borrowing<'_> {
    type Error = std::convert::Infallible;
    async fn async_drop_impl(self) -> Result<(), Self::Error> {
        yield_now().await;
        self.closed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct LocalBorrowing<'a> {
    closed: &'a Cell<u32>,
}

impl LocalAsyncDrop for LocalBorrowing<'_> {
    type Error = u8;
    async fn local_async_drop_impl(self) -> Result<(), u8> {
        self.closed.set(self.closed.get() + 1);
        Err(1)
    }
}

impl From<std::convert::Infallible> for CloseError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

#[test]
fn non_static_resources() {
    let closed = AtomicUsize::new(0);
    let counters = setup();
    let set: [AsyncDropGuard<Box<dyn DynAsyncDrop<CloseError> + '_>>; 2] = [
        AsyncDropGuard::into_dyn(AsyncDropGuard::new(Borrowing { closed: &closed })),
        AsyncDropGuard::into_dyn(Probe::new(&counters).guard()),
    ];
    block_on_send(async_drop_all(set)).unwrap();
    assert_eq!(closed.load(Ordering::SeqCst), 1);
    assert_counts(&counters, 1, 1, 1);

    let local_closed = Cell::new(0);
    let guard: AsyncDropGuard<Box<dyn LocalDynAsyncDrop<u32> + '_>> =
        AsyncDropGuard::into_local_dyn(AsyncDropGuard::new(LocalBorrowing {
            closed: &local_closed,
        }));
    assert_eq!(block_on(guard.async_drop()), Err(1u32));
    assert_eq!(local_closed.get(), 1);
    assert!(take_reports().is_empty());
}

#[test]
fn forgotten_cancelled_and_panicking_erased_guards_drop_once() {
    let counters = setup();
    let line = line!() + 1;
    let guard = AsyncDropGuard::new(Probe::new(&counters));
    let erased: Erased<AnyError> = AsyncDropGuard::into_dyn(guard);
    drop(erased);
    assert_counts(&counters, 0, 0, 1);
    let report = one_report_naming(ReportKind::Forgotten, "DynAsyncDrop");
    // The site where the resource was guarded, not where it was erased.
    assert_site(report.site, file!(), line);

    let counters = setup();
    let line = line!() + 1;
    let guard = AsyncDropGuard::new(Probe::new(&counters).yields(5));
    let erased: LocalErased<ProbeError> = AsyncDropGuard::into_local_dyn(guard);
    let mut cleanup = Box::pin(erased.async_drop());
    assert!(poll_once(&mut cleanup).is_pending());
    drop(cleanup);
    assert_counts(&counters, 1, 0, 1);
    assert_site(one_report(ReportKind::Cancelled).site, file!(), line);

    let counters = setup();
    let set: [Erased<ProbeError>; 2] = [
        AsyncDropGuard::into_dyn(Probe::new(&counters).id(1).yields(3).guard()),
        AsyncDropGuard::into_dyn(Probe::new(&counters).id(2).panics().guard()),
    ];
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        block_on(async_drop_all(set))
    }));
    let message = panicked.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(*message, "probe 2 cleanup panicked");
    // Both started, neither finished; each dropped exactly once.
    assert_counts(&counters, 2, 0, 2);
    // The first probe's cleanup was cancelled by the panic; the panic is the other's report.
    one_report(ReportKind::Cancelled);
}

#[test]
fn async_drop_boxed_debug_and_auto_traits() {
    let counters = Counters::new();
    let boxed: Box<dyn DynAsyncDrop<CloseError>> = Box::new(Probe::new(&counters).id(3));
    assert!(format!("{boxed:?}").starts_with("DynAsyncDrop(\""));
    assert!(format!("{boxed:?}").ends_with("Probe\")"));
    block_on(boxed.async_drop_boxed()).unwrap();

    let local: Box<dyn LocalDynAsyncDrop<String>> = Box::new(Journal {
        log: Rc::default(),
        fail: true,
    });
    assert!(format!("{local:?}").starts_with("LocalDynAsyncDrop(\""));
    assert_eq!(
        block_on(local.async_drop_boxed()),
        Err(String::from("journal full"))
    );

    // A guard of an erased value is `Debug` and derefs to the trait object.
    let guard: Erased<CloseError> = AsyncDropGuard::into_dyn(Probe::new(&counters).guard());
    assert!(format!("{guard:?}").starts_with("AsyncDropGuard(DynAsyncDrop("));
    block_on(guard.async_drop()).unwrap();
    assert_counts(&counters, 2, 2, 2);

    // `DynAsyncDrop` has `Send` as a supertrait; nothing makes it `Sync`.
    assert!(type_implements!(Erased<CloseError> => Send));
    assert!(!type_implements!(Erased<CloseError> => Sync));
    assert!(type_implements!(asyncdrop::BoxCleanup<'static, CloseError> => Send));
    // The local flavour promises nothing.
    assert!(!type_implements!(LocalErased<CloseError> => Send));
    assert!(!type_implements!(LocalErased<CloseError> => Sync));
    assert!(!type_implements!(asyncdrop::LocalBoxCleanup<'static, CloseError> => Send));
    // Both are `Unpin` (a box).
    assert!(type_implements!(Erased<CloseError> => Unpin));
    assert!(type_implements!(LocalErased<CloseError> => Unpin));
}

/// One allocation for the value at conversion, one for the future at cleanup.
#[test]
fn one_allocation_to_erase_one_to_clean_up() {
    let counters = setup();

    let guard = File::guard(&counters, false);
    let (erased, n) = allocations(|| AsyncDropGuard::into_dyn::<CloseError>(guard));
    assert_eq!(n, 1, "allocations to erase");
    let (result, n) = allocations(|| run_to_end(erased.async_drop()));
    result.unwrap();
    assert_eq!(n, 1, "allocations to clean up");

    let guard = Session::guard(&counters, 200);
    let (erased, n) = allocations(|| AsyncDropGuard::into_local_dyn::<CloseError>(guard));
    assert_eq!(n, 1, "allocations to erase (local)");
    let (result, n) = allocations(|| run_to_end(erased.async_drop()));
    result.unwrap();
    assert_eq!(n, 1, "allocations to clean up (local)");

    // Three of them in an array: three and three; the join itself allocates nothing.
    let guards = (
        Probe::new(&counters).guard(),
        File::guard(&counters, false),
        Session::guard(&counters, 200),
    );
    let (set, n) = allocations(|| -> [Erased<CloseError>; 3] {
        [
            AsyncDropGuard::into_dyn(guards.0),
            AsyncDropGuard::into_dyn(guards.1),
            AsyncDropGuard::into_dyn(guards.2),
        ]
    });
    assert_eq!(n, 3, "allocations to erase three");
    let (result, n) = allocations(|| run_to_end(async_drop_all(set)));
    result.unwrap();
    assert_eq!(n, 3, "allocations to clean up three");

    counts_quietly(&counters, 5, 5, 5);
}

/// Starting the cleanup never holds the value's box and the future's at once.
#[test]
fn value_box_is_freed_before_the_future_is_allocated() {
    let counters = Counters::new();
    let erased = AsyncDropGuard::into_dyn::<CloseError>(File::guard(&counters, false));
    let (cleanup, extra) = peak_extra_blocks(|| erased.async_drop());
    assert_eq!(extra, 0, "both boxes were live at once");
    run_to_end(cleanup).unwrap();

    let erased = AsyncDropGuard::into_local_dyn::<CloseError>(Session::guard(&counters, 200));
    let (cleanup, extra) = peak_extra_blocks(|| erased.async_drop());
    assert_eq!(extra, 0, "both boxes were live at once");
    run_to_end(cleanup).unwrap();
    assert_counts(&counters, 2, 2, 2);

    // A zero-sized resource is boxed without allocating; its cleanup future still is.
    struct Unit;
    impl AsyncDrop for Unit {
        type Error = std::convert::Infallible;
        async fn async_drop_impl(self) -> Result<(), Self::Error> {
            yield_now().await;
            Ok(())
        }
    }
    let (erased, n) =
        allocations(|| AsyncDropGuard::into_dyn::<CloseError>(AsyncDropGuard::new(Unit)));
    assert_eq!(n, 0);
    let (result, n) = allocations(|| run_to_end(erased.async_drop()));
    result.unwrap();
    assert_eq!(n, 1);
}
