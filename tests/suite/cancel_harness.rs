//! Every public future polled `k` times and dropped, for every `k` until it completes
//! (`common::harness`). An unstarted member reports as each helper's docs say.

use crate::common;

use std::any::type_name;

use asyncdrop::ReportKind::{Cancelled, Forgotten};
use asyncdrop::{
    all_or_cleanup, async_drop_all, with_async_drop, AsyncDrop, AsyncDropGuard, TupleError,
};
use common::harness::{sweep, Case, Kit, Member, Tok};
use common::yield_now;
use common::Behaviour::{self, Fail, Panic, Succeed};

/// Stamps out one `#[test]` per scenario, each a [`sweep`].
macro_rules! cases {
    ($($(#[$attr:meta])* $name:ident: |$kit:ident| $body:expr;)*) => {$(
        $(#[$attr])*
        #[test]
        fn $name() {
            sweep(|$kit: &mut Kit| $body);
        }
    )*};
}

/// A resource built out of two members with [`AsyncDropGuard::combine`].
struct Pair(Member, Member);

impl AsyncDrop for Pair {
    type Error = TupleError<(Option<Tok>, Option<Tok>)>;
    async fn async_drop_impl(self) -> Result<(), Self::Error> {
        async_drop_all((self.0, self.1)).await
    }
}

/// The output of a scenario that never completes (a cleanup panics).
const NEVER: &str = "";
/// The members of a group, one failing.
const MEMBERS: [(usize, Behaviour); 3] = [(1, Succeed), (3, Fail(1)), (0, Succeed)];
const TUPLE_ERR: &str = "Err(TupleError { errors: (None, Some(E1), None) })";

cases! {
    guard: |kit| {
        Case::new(kit.guard(2, Fail(1)).async_drop(), "Err(E0)", |r| r.guards(Cancelled))
    };
    tuple: |kit| {
        let set = (kit.guard(1, Succeed), kit.guard(2, Fail(1)), kit.guard(0, Succeed));
        Case::new(async_drop_all(set), TUPLE_ERR, |r| r.guards(Cancelled))
    };
    tuple_with_a_panicking_cleanup: |kit| {
        let set = (kit.guard(2, Succeed), kit.guard(1, Panic), kit.guard(3, Succeed));
        Case::new(async_drop_all(set), NEVER, |r| r.guards(Cancelled))
    };
    array: |kit| {
        let set = kit.guards(MEMBERS);
        let output = "Err(ArrayError { errors: [None, Some(E1), None] })";
        Case::new(async_drop_all(set), output, |r| r.guards(Cancelled))
    };
    scope: |kit| {
        let (a, b) = (kit.guard(1, Fail(1)), kit.guard(2, Succeed));
        let scope = async move {
            with_async_drop!(a, b => {
                yield_now().await;
                Ok::<_, Tok>(())
            })
        };
        Case::new(scope, "Err(E0)", |r| r.guards(Forgotten))
    };
    scope_sequential: |kit| {
        let (a, b) = (kit.guard(1, Fail(1)), kit.guard(2, Succeed));
        let scope = async move {
            with_async_drop!(sequential a, b => {
                yield_now().await;
                Ok::<_, Tok>(())
            })
        };
        Case::new(scope, "Err(E0)", |r| r.guards(Forgotten))
    };
    scope_all_with_a_panicking_cleanup: |kit| {
        let (a, b, c) = (kit.guard(1, Succeed), kit.guard(1, Panic), kit.guard(2, Succeed));
        let scope = async move { with_async_drop!(all a, b, c => { yield_now().await }) };
        Case::new(scope, NEVER, |r| r.guards(Forgotten))
    };
    all_or_cleanup_tuple: |kit| {
        let failed: Result<AsyncDropGuard<Member>, _> = Err(kit.token(9));
        let ok = |guard| Ok::<_, Tok>(guard);
        let acquired = (ok(kit.guard(1, Succeed)), failed, ok(kit.guard(2, Fail(1))));
        let outcomes =
            "Err(AcquireError { outcomes: (CleanedUp, Failed(E9), CleanupFailed(E1)) })";
        Case::new(all_or_cleanup(acquired), outcomes, |r| r.guards(Cancelled))
    };
    all_or_cleanup_array: |kit| {
        let acquired = [Ok(kit.guard(2, Fail(1))), Err(kit.token(9)), Ok(kit.guard(0, Succeed))];
        let outcomes =
            "Err(AcquireError { outcomes: [CleanupFailed(E0), Failed(E9), CleanedUp] })";
        Case::new(all_or_cleanup(acquired), outcomes, |r| r.guards(Cancelled))
    };
    async_drop_on_err_with_an_error: |kit| {
        let error: Result<(), _> = Err(kit.token(9));
        let failed = AsyncDropGuard::async_drop_on_err(kit.guard(1, Fail(1)), error);
        let output = "Err(ErrorAndCleanup { error: E9, cleanup: Err(E0) })";
        Case::new(failed, output, |r| r.guards(Cancelled))
    };
    async_drop_on_err_with_ok: |kit| {
        let passed = AsyncDropGuard::async_drop_on_err(kit.guard(1, Succeed), Ok::<_, Tok>(5));
        let used = async move {
            let (guard, five) = passed.await.unwrap();
            guard.async_drop().await.map(|()| five)
        };
        Case::new(used, "Ok(5)", |r| r.guards(Forgotten))
    };
    combine: |kit| {
        let parts = (kit.guard(1, Succeed), kit.guard(2, Fail(1)));
        let pair = AsyncDropGuard::combine(parts, |(a, b)| Pair(a, b));
        let output = "Err(TupleError { errors: (None, Some(E1)) })";
        Case::new(pair.async_drop(), output, |r| r.cut(type_name::<Pair>()))
    };
}

#[cfg(feature = "alloc")]
mod with_alloc {
    use super::*;
    use asyncdrop::collections::{async_drop_iter, AsyncDropBTreeMap, AsyncDropVec};
    use asyncdrop::{AsyncDropArc, AsyncDropMutex, DynAsyncDrop, LocalDynAsyncDrop};
    use common::harness::{guarded, sweep_under, Run};

    /// `core` has no `catch_unwind` for a report's panic: the panicking policy needs `std`.
    fn sweep(make: impl Fn(&mut Kit) -> Case) {
        let policies: &[bool] = if cfg!(feature = "std") {
            &[false, true]
        } else {
            &[false]
        };
        sweep_under(policies, make);
    }

    pub(super) const PAIR_ERR: &str = "Err(TupleError { errors: (None, Some(E0)) })";
    pub(super) const CLEANUP_ERR: &str = "Err(CleanupErrors { errors: [(1, E1)], total: 3 })";
    /// The members of a group, one with a panicking cleanup.
    const PANICKING: [(usize, Behaviour); 3] = [(2, Succeed), (1, Panic), (3, Succeed)];

    fn vec(kit: &mut Kit, specs: [(usize, Behaviour); 3]) -> AsyncDropGuard<AsyncDropVec<Member>> {
        let mut vec = AsyncDropVec::new();
        vec.extend(kit.guards(specs));
        vec
    }

    fn btree(kit: &mut Kit) -> AsyncDropGuard<AsyncDropBTreeMap<Tok, Member>> {
        let mut map = AsyncDropBTreeMap::new();
        for (i, guard) in kit.guards(MEMBERS).into_iter().enumerate() {
            assert!(map.insert(kit.token(i as u32), guard).is_none());
        }
        map
    }

    cases! {
        arc_last_clone: |kit| {
            let a = AsyncDropArc::new(kit.guard(2, Fail(1)));
            futures_executor::block_on(AsyncDropArc::clone(&a).async_drop()).unwrap();
            Case::cleanup(a, "Err(E0)")
        };
        arc_clones_together: |kit| {
            let a = AsyncDropArc::new(kit.guard(2, Fail(1)));
            let (b, name) = (AsyncDropArc::clone(&a), guarded(&a));
            let expect = move |r: &Run| {
                let clones = if r.started(0) { 1 } else { 2 };
                (0..clones).flat_map(|_| r.cut(name)).collect()
            };
            Case::new(async_drop_all((a, b)), PAIR_ERR, expect)
        };
        mutex_locked_then_cleaned_up: |kit| {
            let mutex = AsyncDropMutex::new(kit.guard(1, Fail(1)));
            let name = guarded(&mutex);
            let used = async move {
                drop(AsyncDropMutex::lock(&mutex).await);
                mutex.async_drop().await
            };
            // Unpolled, the guard is dropped with the block.
            let expect = move |r: &Run| match r.started(0) {
                true => r.cut(name),
                false => r.cut_as(name, Forgotten),
            };
            Case::new(used, "Err(E0)", expect)
        };
        vec_collection: |kit| Case::cleanup(vec(kit, MEMBERS), CLEANUP_ERR);
        vec_collection_in_order: |kit| {
            let vec = vec(kit, MEMBERS);
            let name = guarded(&vec);
            let in_order = AsyncDropVec::async_drop_in_order(vec);
            Case::new(in_order, CLEANUP_ERR, move |r| r.cut(name))
        };
        vec_collection_with_a_panicking_cleanup: |kit| Case::cleanup(vec(kit, PANICKING), NEVER);
        btree_map_collection: |kit| Case::cleanup(btree(kit), CLEANUP_ERR);
        btree_map_collection_in_order: |kit| {
            let map = btree(kit);
            let name = guarded(&map);
            let in_order = AsyncDropBTreeMap::async_drop_in_order(map);
            Case::new(in_order, CLEANUP_ERR, move |r| r.cut(name))
        };
        iter_of_guards: |kit| {
            Case::new(async_drop_iter(kit.guards(MEMBERS)), CLEANUP_ERR, |r| r.guards(Cancelled))
        };
        iter_of_guards_with_a_panicking_cleanup: |kit| {
            Case::new(async_drop_iter(kit.guards(PANICKING)), NEVER, |r| r.guards(Cancelled))
        };
        iter_of_bare_values: |kit| {
            let values = vec![kit.member(1, Succeed), kit.member(2, Fail(1))];
            let output = "Err(CleanupErrors { errors: [(1, E1)], total: 2 })";
            Case::new(async_drop_iter(values), output, |_| vec![])
        };
        vec_of_guards: |kit| {
            let all = AsyncDropGuard::new(Vec::from(kit.guards(MEMBERS)));
            let name = guarded(&all);
            let expect = move |r: &Run| [r.guards(Cancelled), r.cut(name)].concat();
            Case::new(all.async_drop(), CLEANUP_ERR, expect)
        };
        dyn_cleanup: |kit| {
            let erased: AsyncDropGuard<Box<dyn DynAsyncDrop<Tok>>> =
                AsyncDropGuard::into_dyn(kit.guard(2, Fail(1)));
            Case::cleanup(erased, "Err(E0)")
        };
        local_dyn_cleanup: |kit| {
            let erased: AsyncDropGuard<Box<dyn LocalDynAsyncDrop<Tok>>> =
                AsyncDropGuard::into_local_dyn(kit.guard(2, Fail(1)));
            Case::cleanup(erased, "Err(E0)")
        };
    }
}

#[cfg(feature = "std")]
mod with_std {
    use super::*;
    use std::collections::hash_map::DefaultHasher;
    use std::hash::BuildHasherDefault;

    use asyncdrop::collections::AsyncDropHashMap;
    use asyncdrop::AsyncDropShared;
    use common::harness::{shared_name, Run};

    cases! {
        hash_map_collection: |kit| {
            // A fixed hasher: the same iteration order, so the same error position.
            let hasher = BuildHasherDefault::<DefaultHasher>::default();
            let mut map = AsyncDropHashMap::with_hasher(hasher);
            let members = kit.guards([(1, Succeed), (2, Fail(1)), (0, Succeed)]);
            for (i, guard) in members.into_iter().enumerate() {
                assert!(map.insert(kit.token(i as u32), guard).is_none());
            }
            Case::cleanup(map, with_alloc::CLEANUP_ERR)
        };
        shared_future_driven_by_the_last_cleanup: |kit| {
            let output = kit.guard(1, Fail(1));
            let shared = AsyncDropShared::new(async move {
                yield_now().await;
                output
            });
            let name = shared_name(&shared);
            // Until the output exists, its guard is in the future, dropped with it.
            let expect = move |r: &Run| match r.started(0) {
                true => r.cut(&name),
                false => [r.cut(&name), r.guards(Forgotten)].concat(),
            };
            Case::new(shared.async_drop(), "Err(E0)", expect)
        };
        shared_future_output_and_last_clone: |kit| {
            let shared = AsyncDropShared::new(std::future::ready(kit.guard(1, Fail(1))));
            let name = shared_name(&shared);
            let used = async move {
                let output = AsyncDropShared::output(&shared).await;
                async_drop_all((output, shared)).await
            };
            let expect = move |r: &Run| match r.started(0) {
                true => r.cut(&name),
                false => [r.cut_as(&name, Forgotten), r.guards(Forgotten)].concat(),
            };
            Case::new(used, with_alloc::PAIR_ERR, expect)
        };
    }
}

/// The runtime adapters' futures, on runtimes run by the test's thread (its policy applies).
#[cfg(any(feature = "tokio", feature = "smol"))]
mod on_runtimes {
    use super::*;
    use std::future::Future;
    use std::rc::Rc;
    use std::time::Duration;

    use asyncdrop::rt::{async_drop_timeout_on, spawn_async_drop_on, Reaper, Runtime};
    use asyncdrop::ReportKind::{Failed, Panicked};
    use common::harness::Run;
    use common::policy_panics;
    use common::Behaviour::Hang;

    /// A runtime driven by the test's thread alone.
    pub(super) trait Driven: Sized + 'static {
        type R: Runtime;
        fn new() -> Self;
        fn runtime(&self) -> Self::R;
        /// Lets its tasks and timers run for a moment.
        fn advance(&self);
        fn block_on<F: Future>(&self, future: F) -> F::Output;
    }

    fn m() -> &'static str {
        type_name::<Member>()
    }

    /// `case` on a new runtime `D`, dropped at the end.
    fn on<D: Driven>(case: impl FnOnce(&Rc<D>) -> Case) -> Case {
        let rt = Rc::new(D::new());
        let advancing = rt.clone();
        case(&rt).on_runtime(move || advancing.advance(), move |_| drop(rt))
    }

    pub(super) fn deadline_met<D: Driven>(kit: &mut Kit) -> Case {
        on::<D>(|rt| {
            let limit = Duration::from_secs(60);
            let cleanup = async_drop_timeout_on(&rt.runtime(), kit.guard(2, Fail(1)), limit);
            Case::new(cleanup, "Err(Failed(E0))", |r| r.guards(Cancelled))
        })
    }

    pub(super) fn deadline_expired<D: Driven>(kit: &mut Kit) -> Case {
        on::<D>(|rt| {
            let limit = Duration::from_millis(1);
            let cleanup = async_drop_timeout_on(&rt.runtime(), kit.guard(1, Hang), limit);
            let output = format!("Err(Expired {{ type_name: {:?}, after: 1ms }})", m());
            // The typed error is the report of the expiry.
            let expect = |r: &Run| if r.done { vec![] } else { r.guards(Cancelled) };
            Case::new(cleanup, output, expect)
        })
    }

    pub(super) fn hand_over<D: Driven>(kit: &mut Kit) -> Case {
        let rt = Rc::new(D::new());
        let (reaper, worker) = Reaper::spawn_on(&rt.runtime(), 1);
        reaper.try_hand_over(kit.guard(1, Succeed)).unwrap(); // the queue is full
        let reaper: &'static Reaper<Member, D::R> = Box::leak(Box::new(reaper));
        let handing = reaper.hand_over(kit.guard(1, Fail(1)));
        let expect = |r: &Run| match r.done {
            true => vec![(m().to_owned(), Failed)],
            false => r.guards(Cancelled),
        };
        let advancing = rt.clone();
        // A panic of the policy in the worker comes out of its handle, once it is done.
        let teardown = move |done: bool| {
            reaper.shutdown();
            match rt.block_on(worker) {
                Ok(stats) => {
                    assert!(!(done && policy_panics()) && stats.total() == 1 + u64::from(done))
                }
                Err(e) => assert!(done && policy_panics() && e.is_panic(), "{e:?}"),
            }
        };
        Case::new(handing, "Ok(())", expect).on_runtime(move || advancing.advance(), teardown)
    }

    pub(super) fn cleanup_handle<D: Driven>(kit: &mut Kit) -> Case {
        on::<D>(|rt| {
            let handle = spawn_async_drop_on(&rt.runtime(), kit.guard(1, Fail(1)));
            Case::new(handle, "Err(Failed(E0))", |r| r.cut_as(m(), Failed))
        })
    }

    pub(super) fn cleanup_handle_with_a_panicking_cleanup<D: Driven>(kit: &mut Kit) -> Case {
        on::<D>(|rt| {
            let handle = spawn_async_drop_on(&rt.runtime(), kit.guard(1, Panic));
            let message = "message: Some(\"probe 0 cleanup panicked\")";
            let output = format!(
                "Err(Panicked(CleanupPanic {{ type_name: {:?}, {message}, .. }}))",
                m()
            );
            Case::new(handle, output, |r| r.cut_as(m(), Panicked))
        })
    }

    /// Stamps out the runtime cases for `$rt` in module `$module`.
    macro_rules! stamp {
        ($module:ident: $rt:ty) => {
            mod $module {
                use super::*;
                stamp!(@ $rt: deadline_met, deadline_expired, hand_over, cleanup_handle,
                    cleanup_handle_with_a_panicking_cleanup);
            }
        };
        (@ $rt:ty: $($name:ident),*) => {$(
            #[test]
            fn $name() {
                sweep(super::$name::<$rt>);
            }
        )*};
    }

    /// tokio's current-thread runtime: it runs only inside `block_on`.
    #[cfg(feature = "tokio")]
    pub(super) struct CurrentThread(tokio::runtime::Runtime);

    #[cfg(feature = "tokio")]
    impl Driven for CurrentThread {
        type R = tokio::runtime::Handle;
        fn new() -> Self {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build();
            CurrentThread(rt.unwrap())
        }
        fn runtime(&self) -> Self::R {
            self.0.handle().clone()
        }
        fn advance(&self) {
            self.0
                .block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
        }
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            self.0.block_on(future)
        }
    }

    #[cfg(feature = "tokio")]
    stamp!(tokio_current_thread: CurrentThread);

    /// A smol executor ticked by the test; async-io's timers fire on their own thread.
    #[cfg(feature = "smol")]
    pub(super) struct OwnExecutor(std::sync::Arc<smol::Executor<'static>>);

    #[cfg(feature = "smol")]
    impl Driven for OwnExecutor {
        type R = asyncdrop::rt::smol::Smol;
        fn new() -> Self {
            OwnExecutor(Default::default())
        }
        fn runtime(&self) -> Self::R {
            self.0.clone().into()
        }
        fn advance(&self) {
            while self.0.try_tick() {}
            std::thread::sleep(Duration::from_millis(1));
        }
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            smol::block_on(self.0.run(future))
        }
    }

    #[cfg(feature = "smol")]
    stamp!(smol_own_executor: OwnExecutor);
}
