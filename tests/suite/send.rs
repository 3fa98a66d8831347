//! Auto traits of the crate's types and futures; `!Send` resources on a local executor.
//! `AsyncDropFuture<T, F>` takes its auto traits from the cleanup future `F` only.
#![allow(
    clippy::manual_async_fn,
    reason = "the `+ Send` in a generic function's signature is the assertion"
)]

use crate::common;

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::marker::PhantomPinned;
use std::rc::Rc;
use std::sync::Arc;

use asyncdrop::future::AsyncDropFuture;
use asyncdrop::{
    all_or_cleanup, async_drop_all, with_async_drop, AcquireError, AcquireOutcome, ArrayError,
    AsyncDrop, AsyncDropGuard, ErrorAndCleanup, LocalAsyncDrop, Policy, Report, ReportKind,
    TupleError,
};
use common::harness::fail;
use common::reports::{cleaned_quietly, one_report};
use common::{
    assert_send, assert_unpin, block_on_send, implements, poll_once, record_reports, setup,
    take_reports, type_implements, yield_now, Behaviour, Counters, NotSync, Probe, ProbeError,
};
use futures_executor::{block_on, LocalPool};
use futures_util::task::LocalSpawnExt;

/// Static assertions on named types: a compile error if any is not `Send`/`Sync`.
const _: fn() = || {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<AsyncDropGuard<Probe>>();
    send_sync::<TupleError<(Option<ProbeError>, Option<String>)>>();
    send_sync::<ArrayError<ProbeError, 3>>();
    send_sync::<AcquireOutcome<String, ProbeError>>();
    send_sync::<
        AcquireError<(
            AcquireOutcome<String, ProbeError>,
            AcquireOutcome<String, u8>,
        )>,
    >();
    send_sync::<AcquireError<[AcquireOutcome<String, ProbeError>; 2]>>();
    send_sync::<ErrorAndCleanup<String, ProbeError>>();
    send_sync::<ReportKind>();
    send_sync::<Policy>();
};

#[test]
fn auto_traits_of_guards_cleanup_futures_and_reports() {
    assert!(type_implements!(AsyncDropGuard<Probe> => Send + Sync + Unpin));
    // `Send`, not `Sync`.
    assert!(type_implements!(AsyncDropGuard<NotSync> => Send));
    assert!(!type_implements!(AsyncDropGuard<NotSync> => Sync));
    // Not `Unpin`.
    assert!(type_implements!(AsyncDropGuard<PinnedRes> => Send + Sync));
    assert!(!type_implements!(AsyncDropGuard<PinnedRes> => Unpin));
    // Neither `Send` nor `Sync`.
    assert!(!type_implements!(AsyncDropGuard<LocalRes> => Send));
    assert!(!type_implements!(AsyncDropGuard<LocalRes> => Sync));
    assert!(type_implements!(AsyncDropGuard<LocalRes> => Unpin));
    // Guards of guards, and of sets of guards.
    assert!(
        type_implements!(AsyncDropGuard<(AsyncDropGuard<Probe>, AsyncDropGuard<NotSync>)> => Send)
    );
    assert!(!type_implements!(AsyncDropGuard<[AsyncDropGuard<NotSync>; 2]> => Sync));

    let c = setup();

    // An `async fn` cleanup: `Send` and `Sync` (it holds only a `Probe`), not `Unpin`.
    let fut = Probe::new(&c).guard().async_drop();
    assert!(implements!(fut => Send + Sync));
    assert!(!implements!(fut => Unpin));
    block_on(fut).unwrap();

    // A cleanup returning `Ready`: the `AsyncDropFuture` is `Unpin`, polled unpinned.
    let mut fut: AsyncDropFuture<ReadyRes, _> = AsyncDropGuard::new(ReadyRes(4)).async_drop();
    assert_unpin(&fut);
    assert!(implements!(fut => Send + Sync + Unpin));
    assert_eq!(poll_once(&mut fut), std::task::Poll::Ready(Err(4)));
    drop(fut);

    // A `Send`, `!Sync` resource gives a `Send`, `!Sync` cleanup future.
    let fut = AsyncDropGuard::new(NotSync(Cell::new(0))).async_drop();
    assert!(implements!(fut => Send));
    assert!(!implements!(fut => Sync));
    block_on(fut).unwrap();

    // A `!Send` resource gives a `!Send` cleanup future.
    let lc = Locals::default();
    let fut = lc.guard(1).async_drop();
    assert!(!implements!(fut => Send));
    assert!(!implements!(fut => Unpin));
    block_on(fut).unwrap();
    assert_local_cleaned(&lc, 1);

    // So are the join futures over `!Send` resources.
    let fut = async_drop_all((lc.guard(2), Probe::new(&c).guard()));
    assert!(!implements!(fut => Send));
    block_on(fut).unwrap();
    assert_local_cleaned(&lc, 2);
    assert_eq!(c.drops(), 2);

    // A `Report` may carry a `&dyn Debug` detail: only lent to the hook on its thread.
    assert!(!type_implements!(Report<'static> => Send));
    assert!(!type_implements!(Report<'static> => Sync));
}

/// In generic code, one guard's cleanup is `Send` with no bound beyond `AsyncDrop`.
fn generic_cleanup<T: AsyncDrop>(
    guard: AsyncDropGuard<T>,
) -> impl Future<Output = Result<(), T::Error>> + Send {
    let fut = guard.async_drop();
    assert_send(&fut);
    fut
}

/// The block's value is kept across the cleanup, so its error type `E` must be `Send`.
fn generic_scope_one<T: AsyncDrop, E: From<T::Error> + Send>(
    mut guard: AsyncDropGuard<T>,
) -> impl Future<Output = Result<u32, E>> + Send {
    async move {
        with_async_drop!(guard => {
            // A unique borrow of the guard: needs `T: Send` only.
            let _value: &mut T = &mut guard;
            yield_now().await;
            Ok(1)
        })
    }
}

/// The cleanup results of a pair of guards, from the `all` form of the scope macro.
type PairResults<E> = (Result<(), E>, Result<(), E>);

/// The error of cleaning up a pair of values with the same error type.
type PairError<E> = TupleError<(Option<E>, Option<E>)>;

// The generic functions below need nothing besides `T: AsyncDrop` (`AsyncDrop::Error`
// is `Send`: a finished cleanup's `Result` is kept across the others' `.await`).

/// A guard of a tuple of guards.
fn generic_tuple_guard<T: AsyncDrop>(
    a: AsyncDropGuard<T>,
    b: AsyncDropGuard<T>,
) -> impl Future<Output = Result<(), PairError<T::Error>>> + Send {
    AsyncDropGuard::new((a, b)).async_drop()
}

/// A guard of an array of guards.
fn generic_array_guard<T: AsyncDrop>(
    a: AsyncDropGuard<T>,
    b: AsyncDropGuard<T>,
) -> impl Future<Output = Result<(), ArrayError<T::Error, 2>>> + Send {
    AsyncDropGuard::new([a, b]).async_drop()
}

fn generic_async_drop_all<T: AsyncDrop>(
    a: AsyncDropGuard<T>,
    b: AsyncDropGuard<T>,
) -> impl Future<Output = Result<(), PairError<T::Error>>> + Send {
    async_drop_all((a, b))
}

fn generic_all_or_cleanup<T: AsyncDrop>(
    a: Result<AsyncDropGuard<T>, String>,
    b: Result<AsyncDropGuard<T>, String>,
) -> impl Future<Output = bool> + Send {
    async move {
        match all_or_cleanup((a, b)).await {
            Ok(both) => async_drop_all(both).await.is_ok(),
            Err(_) => false,
        }
    }
}

fn generic_scope_two<T: AsyncDrop>(
    a: AsyncDropGuard<T>,
    b: AsyncDropGuard<T>,
) -> impl Future<Output = (u8, PairResults<T::Error>)> + Send {
    async move { with_async_drop!(all a, b => { 2 }) }
}

/// A block that reads a guard holds a shared reference to it: `T: Sync` is needed.
fn generic_scope_reading<T: AsyncDrop + Sync>(
    guard: AsyncDropGuard<T>,
) -> impl Future<Output = (bool, (Result<(), T::Error>,))> + Send {
    async move {
        with_async_drop!(all guard => {
            let _value: &T = &guard;
            yield_now().await;
            true
        })
    }
}

// Resources with particular auto traits.

/// Not `Unpin`.
#[derive(Debug)]
struct PinnedRes(PhantomPinned);

impl AsyncDrop for PinnedRes {
    type Error = Infallible;
    async fn async_drop_impl(self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// A cleanup written as a plain function returning an `Unpin` future.
#[derive(Debug)]
struct ReadyRes(u8);

impl AsyncDrop for ReadyRes {
    type Error = u8;
    fn async_drop_impl(self) -> impl Future<Output = Result<(), u8>> + Send {
        std::future::ready(if self.0 == 0 { Ok(()) } else { Err(self.0) })
    }
}

/// The counters of one test's `!Send` resources, and the ids in cleanup start order.
#[derive(Debug, Default, Clone)]
struct Locals {
    c: Arc<Counters>,
    order: Rc<RefCell<Vec<u32>>>,
}

impl Locals {
    /// A [`LocalRes`] whose probe yields once.
    fn guard(&self, id: u32) -> AsyncDropGuard<LocalRes> {
        self.wrap(Probe::new(&self.c).id(id).yields(1))
    }
    fn failing(&self, id: u32, code: u32) -> AsyncDropGuard<LocalRes> {
        self.wrap(Probe::new(&self.c).id(id).yields(1).fail(code))
    }
    fn wrap(&self, probe: Probe) -> AsyncDropGuard<LocalRes> {
        AsyncDropGuard::new(LocalRes(probe, self.order.clone()))
    }
    fn quiet(&self, id: u32) -> AsyncDropGuard<LocalQuiet> {
        AsyncDropGuard::map(self.guard(id), LocalQuiet)
    }
}

/// [`cleaned_quietly`], and no clone of the shared `Rc` left behind.
#[track_caller]
fn assert_local_cleaned(l: &Locals, n: usize) {
    cleaned_quietly(&l.c, n);
    assert_eq!(Rc::strong_count(&l.order), 1, "an Rc clone leaked");
}

/// A `!Send` resource: a probe and the `Rc` log, held across its cleanup's `.await`s.
#[derive(Debug)]
struct LocalRes(Probe, Rc<RefCell<Vec<u32>>>);

impl LocalAsyncDrop for LocalRes {
    type Error = ProbeError;

    async fn local_async_drop_impl(self) -> Result<(), ProbeError> {
        let LocalRes(probe, order) = self;
        order.borrow_mut().push(probe.id);
        probe.async_drop_impl().await
    }
}

/// A `!Send` resource whose cleanup cannot fail.
#[derive(Debug)]
struct LocalQuiet(LocalRes);

impl LocalAsyncDrop for LocalQuiet {
    type Error = Infallible;

    async fn local_async_drop_impl(self) -> Result<(), Infallible> {
        assert!(
            self.0 .0.behaviour == Behaviour::Succeed,
            "a quiet resource must not fail"
        );
        let _ = self.0.local_async_drop_impl().await;
        Ok(())
    }
}

/// Spawns `fut` on a fresh `LocalPool`, runs the pool dry and returns `fut`'s output.
fn run_local<T: 'static>(fut: impl Future<Output = T> + 'static) -> T {
    let out = Rc::new(RefCell::new(None));
    let slot = out.clone();
    let mut pool = LocalPool::new();
    pool.spawner()
        .spawn_local(async move {
            let value = fut.await;
            *slot.borrow_mut() = Some(value);
        })
        .expect("spawn on a local pool");
    pool.run();
    out.take().expect("the spawned task did not complete")
}

#[test]
fn guard_and_join_futures_are_send() {
    let c = setup();
    // One guard's cleanup future, built in generic code.
    let failing = Probe::new(&c).id(2).fail(3).guard();
    assert_eq!(block_on(generic_cleanup(failing)), Err(fail(2, 3)));
    cleaned_quietly(&c, 1);

    let c = setup();
    let g = || Probe::new(&c).yields(1).guard();

    assert_eq!(block_on(generic_tuple_guard(g(), g())), Ok(()));
    assert_eq!(block_on(generic_array_guard(g(), g())), Ok(()));
    assert_eq!(block_on(generic_async_drop_all(g(), g())), Ok(()));
    assert!(block_on(generic_all_or_cleanup(Ok(g()), Ok(g()))));
    assert!(!block_on(generic_all_or_cleanup(Ok(g()), Err("no".into()))));
    let failing = Probe::new(&c).fail(1).guard();
    let err = block_on(generic_array_guard(g(), failing)).unwrap_err();
    assert_eq!(err.into_array(), [None, Some(fail(0, 1))]);
    cleaned_quietly(&c, 11);

    let c = setup();
    let pair = (Probe::new(&c).guard(), AsyncDropGuard::new(ReadyRes(0)));
    assert!(block_on_send(async_drop_all(pair)).is_ok());

    let array = [Probe::new(&c).guard(), Probe::new(&c).guard()];
    assert!(block_on_send(async_drop_all(array)).is_ok());

    let acquired = (
        Ok::<_, String>(Probe::new(&c).guard()),
        Err::<AsyncDropGuard<ReadyRes>, _>("refused".to_owned()),
    );
    let err = block_on_send(all_or_cleanup(acquired)).unwrap_err();
    assert_eq!(err.first_error(), "refused");

    let acquired = [
        Ok::<_, String>(Probe::new(&c).guard()),
        Ok(Probe::new(&c).guard()),
    ];
    let guards = block_on_send(all_or_cleanup(acquired)).unwrap();
    block_on(async_drop_all(guards)).unwrap();
    cleaned_quietly(&c, 6);
}

#[test]
fn scope_futures_are_send_unless_the_block_reads_a_non_sync_guard() {
    let c = setup();

    // Concrete: a block that reads the guards across `.await`s (`Probe` is `Sync`).
    let a = Probe::new(&c).id(1).guard();
    let b = Probe::new(&c).id(2).guard();
    let fut = async move {
        with_async_drop!(a, b => {
            yield_now().await;
            Ok::<_, ProbeError>(a.id + b.id)
        })
    };
    assert_eq!(block_on_send(fut), Ok(3));

    let one = block_on(generic_scope_one::<_, AppError>(Probe::new(&c).guard()));
    assert_eq!(one, Ok(1));
    let failing = Probe::new(&c).id(4).fail(4).guard();
    let failed = block_on(generic_scope_one::<_, AppError>(failing));
    assert_eq!(failed, Err(AppError::Cleanup(fail(4, 4))));
    let (v, (ra, rb)) = block_on(generic_scope_two(
        Probe::new(&c).guard(),
        Probe::new(&c).fail(9).guard(),
    ));
    assert_eq!((v, ra, rb), (2, Ok(()), Err(fail(0, 9))));
    let (read, (cleanup,)) = block_on(generic_scope_reading(Probe::new(&c).guard()));
    assert!(read);
    assert_eq!(cleanup, Ok(()));
    cleaned_quietly(&c, 7);

    record_reports();
    let cell = || AsyncDropGuard::new(NotSync(Cell::new(5)));

    let read = scope_reading_cell(cell());
    assert!(!implements!(read => Send));
    assert_eq!(block_on(read), 5);

    let write = scope_mutating_cell(cell());
    assert!(implements!(write => Send));
    assert_eq!(block_on(write), 6);

    let plain = plain_reading_cell(cell());
    assert!(implements!(plain => Send));
    assert_eq!(block_on(plain), 5);
    assert!(take_reports().is_empty());
}

/// A scope whose block only reads a `Send + !Sync` guard.
async fn scope_reading_cell(guard: AsyncDropGuard<NotSync>) -> u8 {
    with_async_drop!(infallible guard => { guard.0.get() })
}

/// A scope whose block mutates a `Send + !Sync` guard.
async fn scope_mutating_cell(mut guard: AsyncDropGuard<NotSync>) -> u8 {
    with_async_drop!(infallible guard => {
        *guard.0.get_mut() += 1;
        guard.0.get()
    })
}

/// The same read without the macro: the borrow ends before the `.await`.
async fn plain_reading_cell(guard: AsyncDropGuard<NotSync>) -> u8 {
    let value = guard.0.get();
    guard.async_drop().await.unwrap();
    value
}

#[test]
fn error_types_are_send_sync_errors() {
    let c = setup();
    let set = (Probe::new(&c).id(1).fail(1).guard(), Probe::new(&c).guard());
    let err = block_on(async_drop_all(set)).unwrap_err();
    assert!(implements!(err => Send + Sync + Unpin + 'static));
    let boxed: Box<dyn Error + Send + Sync> = Box::new(err);
    assert_eq!(
        boxed.to_string(),
        "1 of 2 cleanups failed; [0]: probe 1 failed with 1"
    );

    let array = [Probe::new(&c).fail(2).guard()];
    let err = block_on(async_drop_all(array)).unwrap_err();
    let boxed: Box<dyn Error + Send + Sync> = Box::new(err);
    assert!(boxed.source().is_some());

    let acquired = [Ok(Probe::new(&c).guard()), Err(fail(9, 9))];
    let err = block_on(all_or_cleanup(acquired)).unwrap_err();
    let boxed: Box<dyn Error + Send + Sync> = Box::new(err);
    assert_eq!(
        boxed.to_string(),
        "acquisition failed; [0]: acquired, cleaned up; [1]: failed: probe 9 failed with 9"
    );
    cleaned_quietly(&c, 4);
}

// `!Send` resources on a local executor.

#[test]
fn local_guard_cleanup_on_local_pool() {
    record_reports();
    let lc = Locals::default();
    let ok = lc.guard(1);
    let failing = lc.failing(2, 20);
    let results = run_local(async move {
        let first = ok.async_drop().await;
        let second = failing.async_drop().await;
        (first, second)
    });
    assert_eq!(results, (Ok(()), Err(fail(2, 20))));
    assert_eq!(*lc.order.borrow(), [1, 2]);
    assert_local_cleaned(&lc, 2);

    record_reports();
    let lc = Locals::default();
    let g = lc.guard(1);
    run_local(async move {
        drop(g);
    });
    assert_eq!((lc.c.started(), lc.c.drops()), (0, 1));
    one_report(ReportKind::Forgotten).of("LocalRes");
}

/// A block error type that cleanup errors convert into.
#[derive(Debug, PartialEq)]
enum AppError {
    Block,
    Cleanup(ProbeError),
}

impl From<ProbeError> for AppError {
    fn from(e: ProbeError) -> Self {
        AppError::Cleanup(e)
    }
}

#[test]
fn local_guards_in_every_sequential_scope_form_on_local_pool() {
    record_reports();
    let lc = Locals::default();
    let c = lc.clone();
    let (plain, block_err, infallible, all) = run_local(async move {
        // Cleanup error mapped with `From`, first listed wins.
        let mut a = c.failing(1, 10);
        let b = c.failing(2, 20);
        let plain: Result<u32, AppError> = with_async_drop!(sequential a, b => {
            a.0.id += 10;
            yield_now().await;
            Ok(a.0.id + b.0.id)
        });

        // The block's error has priority.
        let a = c.failing(3, 30);
        let block_err: Result<u32, AppError> = with_async_drop!(sequential a => {
            Err(AppError::Block)?;
            Ok(a.0.id)
        });

        // Infallible form.
        let q1 = c.quiet(4);
        let q2 = c.quiet(5);
        let infallible = with_async_drop!(sequential infallible q1, q2 => {
            yield_now().await;
            format!("{}{}", q1.0 .0.id, q2.0 .0.id)
        });

        // `all` form, mixing error types.
        let r = c.failing(6, 60);
        let q = c.quiet(7);
        let all = with_async_drop!(sequential all r, q => { Rc::strong_count(&r.1) });
        (plain, block_err, infallible, all)
    });
    assert_eq!(
        plain,
        Err(AppError::Cleanup(fail(11, 10))),
        "the first listed guard's error"
    );
    assert_eq!(block_err, Err(AppError::Block));
    assert_eq!(infallible, "45");
    let (count, (rr, rq)) = all;
    // The test's `Locals`, the spawned task's clone, and `r` and `q` (alive in the block).
    assert_eq!(count, 4);
    assert_eq!(rr, Err(fail(6, 60)));
    assert!(rq.is_ok());
    // `sequential`: last listed first in every form.
    assert_eq!(*lc.order.borrow(), [2, 11, 3, 5, 4, 7, 6]);
    assert_local_cleaned(&lc, 7);
}

#[test]
fn local_tuple_and_array_cleanup_on_local_pool() {
    record_reports();
    let lc = Locals::default();
    let c = lc.clone();
    let (tuple, array, acquire) = run_local(async move {
        let tuple = async_drop_all((c.guard(1), c.failing(2, 2), c.quiet(3))).await;
        let array = async_drop_all([c.failing(4, 4), c.guard(5)]).await;
        let acquire = all_or_cleanup((
            Ok::<_, &str>(c.guard(6)),
            Err::<AsyncDropGuard<LocalQuiet>, _>("refused"),
        ))
        .await;
        (tuple, array, acquire)
    });
    let (e1, e2, e3) = tuple.unwrap_err().into_inner();
    assert_eq!((e1, e2), (None, Some(fail(2, 2))));
    assert!(e3.is_none());
    assert_eq!(array.unwrap_err().into_array(), [Some(fail(4, 4)), None]);
    assert_eq!(
        acquire.unwrap_err().into_inner(),
        (AcquireOutcome::CleanedUp, AcquireOutcome::Failed("refused"))
    );
    // Concurrent: each set's cleanups all started before any finished, in listing order.
    assert_eq!(*lc.order.borrow(), [1, 2, 3, 4, 5, 6]);
    assert_local_cleaned(&lc, 6);

    record_reports();
    let lc = Locals::default();
    let mut fut = Box::pin(async_drop_all((lc.guard(1), lc.guard(2), lc.quiet(3))));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!((lc.c.started(), lc.c.finished()), (3, 0));
    assert_eq!(poll_once(&mut fut), std::task::Poll::Ready(Ok(())));
    drop(fut);
    assert_local_cleaned(&lc, 3);
}
