//! Cleanup of `Option`, `Result`, `Vec` and `Box` of resources, and its `Send`-ness.
#![cfg(feature = "alloc")]

use crate::common;

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::rc::Rc;

use asyncdrop::collections::CleanupErrors;
use asyncdrop::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop, ReportKind};
use common::harness::fail;
use common::reports::{assert_cleaned, cleaned_quietly, one_report};
use common::{
    block_on_send, implements, poll_once, record_reports, setup, take_reports, Counters, Local,
    Probe, ProbeError,
};
use futures_executor::block_on;

fn probe(c: &std::sync::Arc<Counters>, id: u32, fail: bool) -> AsyncDropGuard<Probe> {
    let probe = Probe::new(c).id(id).yields(2);
    if fail { probe.fail(id) } else { probe }.guard()
}

/// The index and probe id of each error.
fn ids(err: &CleanupErrors<ProbeError>) -> Vec<(usize, u32)> {
    err.iter_indexed().map(|(i, e)| (i, e.id)).collect()
}

// Option and Result

#[test]
fn option_cleans_up_some_and_passes_none() {
    let c = setup();
    let some = AsyncDropGuard::new(Some(probe(&c, 1, true)));
    assert_eq!(block_on(some.async_drop()), Err(fail(1, 1)));
    assert_cleaned(&c, 1);

    let none: Option<AsyncDropGuard<Probe>> = None;
    assert_eq!(block_on(none.local_async_drop_impl()), Ok(()));
    // A bare value inside, too.
    let bare = block_on(Some(Probe::new(&c)).local_async_drop_impl());
    assert_eq!(bare, Ok(()));
    assert_eq!((c.started(), c.drops()), (2, 2));
    assert!(take_reports().is_empty());

    let c = setup();
    drop(Some(probe(&c, 1, false)).local_async_drop_impl());
    one_report(ReportKind::Cancelled);
    assert_eq!((c.started(), c.drops()), (0, 1));
}

#[test]
fn result_cleans_up_ok_and_drops_err_at_once() {
    let c = setup();
    let ok: Result<AsyncDropGuard<Probe>, Probe> = Ok(probe(&c, 1, false));
    assert_eq!(block_on(ok.local_async_drop_impl()), Ok(()));
    assert_eq!((c.started(), c.drops()), (1, 1));

    // The `Err` side, a bare value, is dropped when the cleanup is created, unreported.
    let err: Result<AsyncDropGuard<Probe>, Probe> = Err(Probe::new(&c).id(2));
    let cleanup = err.local_async_drop_impl();
    assert_eq!(c.drops(), 2, "Err dropped before the first poll");
    assert_eq!(block_on(cleanup), Ok(()));
    assert_eq!(c.started(), 1);

    let failing = AsyncDropGuard::new(Ok::<_, String>(probe(&c, 3, true)));
    assert_eq!(block_on(failing.async_drop()), Err(fail(3, 3)));
    assert!(take_reports().is_empty());
}

#[test]
fn vec_of_guards_cleans_up_concurrently_and_keeps_every_error() {
    let c = setup();
    let guards: Vec<_> = (0..5).map(|id| probe(&c, id, id % 2 == 0)).collect();
    let mut cleanup = Box::pin(AsyncDropGuard::new(guards).async_drop());
    let mut all_started_first = false;
    let err = loop {
        match poll_once(&mut cleanup) {
            std::task::Poll::Ready(r) => break r.unwrap_err(),
            std::task::Poll::Pending => all_started_first |= c.started() == 5 && c.finished() == 0,
        }
    };
    assert!(all_started_first);
    assert_eq!(ids(&err), [(0, 0), (2, 2), (4, 4)]);
    assert_eq!(err.total(), 5);
    assert_cleaned(&c, 5);

    let empty = block_on(Vec::<Probe>::new().local_async_drop_impl());
    assert_eq!(empty, Ok(()));
    assert!(take_reports().is_empty());
}

#[test]
fn box_of_a_send_or_a_local_resource_is_a_resource() {
    let c = setup();
    let boxed = AsyncDropGuard::new(Box::new(Probe::new(&c).fail(9)));
    assert_eq!(block_on(boxed.async_drop()), Err(fail(0, 9)));
    // A boxed guard, of a `Send` resource.
    let boxed_guard = Box::new(probe(&c, 1, false));
    assert_eq!(block_on(boxed_guard.local_async_drop_impl()), Ok(()));
    cleaned_quietly(&c, 2);

    record_reports();
    let cleaned = Rc::new(Cell::new(0));
    let local = || Local::guard(&cleaned);
    let boxed = AsyncDropGuard::new(Box::new(local()));
    block_on(boxed.async_drop()).unwrap();
    // Composed further: a Vec of optional boxed local guards.
    let nested = vec![Some(Box::new(local())), None, Some(Box::new(local()))];
    block_on(AsyncDropGuard::new(nested).async_drop()).unwrap();
    assert_eq!(cleaned.get(), 3);
    assert!(take_reports().is_empty());
}

#[test]
fn nested_containers_clean_up_every_value_once() {
    let c = setup();
    let nested: Option<Vec<Result<Box<Probe>, String>>> = Some(vec![
        Ok(Box::new(Probe::new(&c).id(1))),
        Err("never acquired".into()),
        Ok(Box::new(Probe::new(&c).id(3).fail(3))),
    ]);
    let err = block_on(AsyncDropGuard::new(nested).async_drop()).unwrap_err();
    assert_eq!(ids(&err), [(2, 3)]);
    assert_eq!((c.started(), c.drops()), (2, 2));
    assert!(take_reports().is_empty());
}

// Send flows through in generic code

mod generic {
    use std::future::Future;
    use std::rc::Rc;

    use asyncdrop::collections::{async_drop_iter, AsyncDropBTreeMap, AsyncDropVec, CleanupErrors};
    use asyncdrop::{AsyncDrop, AsyncDropGuard};

    /// `fn name<T: AsyncDrop>(g: AsyncDropGuard<Type>)`, its cleanup (`async_drop` or the
    /// function given): the `+ Send` in its signature is the assertion.
    macro_rules! generic {
        (@call $g:ident) => { $g.async_drop() };
        (@call $g:ident, $by:path) => { $by($g) };
        ($($(#[$attr:meta])* $name:ident<$($k:ident)?>($ty:ty) -> $err:ty $(, $by:path)?;)*) => {$(
            $(#[$attr])*
            pub(super) fn $name<$($k: Send,)? T: AsyncDrop>(
                g: AsyncDropGuard<$ty>,
            ) -> impl Future<Output = Result<(), $err>> + Send {
                generic!(@call g $(, $by)?)
            }
        )*};
    }

    generic! {
        vec_of_guards<>(Vec<AsyncDropGuard<T>>) -> CleanupErrors<T::Error>;
        vec_of_values<>(Vec<T>) -> CleanupErrors<T::Error>;
        option<>(Option<AsyncDropGuard<T>>) -> T::Error;
        /// The `Err` side need not be `Send`: it is dropped before the cleanup starts.
        result<>(Result<AsyncDropGuard<T>, Rc<String>>) -> T::Error;
        boxed<>(Box<T>) -> T::Error;
        boxed_guard<>(Box<AsyncDropGuard<T>>) -> T::Error;
        nested<>(Option<Vec<Box<AsyncDropGuard<T>>>>) -> CleanupErrors<T::Error>;
        collection_vec<>(AsyncDropVec<T>) -> CleanupErrors<T::Error>;
        collection_vec_in_order<>(AsyncDropVec<T>) -> CleanupErrors<T::Error>,
            AsyncDropVec::async_drop_in_order;
        collection_of_guards<>(AsyncDropVec<AsyncDropGuard<T>>) -> CleanupErrors<T::Error>;
        /// Keys must be `Send`: the ordered variant holds them until their values are cleaned up.
        btree_map<K>(AsyncDropBTreeMap<K, T>) -> CleanupErrors<T::Error>;
        btree_map_in_order<K>(AsyncDropBTreeMap<K, T>) -> CleanupErrors<T::Error>,
            AsyncDropBTreeMap::async_drop_in_order;
        /// Keys need not be `Send`: they are dropped before the cleanup starts.
        #[cfg(feature = "std")]
        hash_map<>(asyncdrop::collections::AsyncDropHashMap<Rc<u8>, T>) -> CleanupErrors<T::Error>;
    }

    pub(super) fn iter<T: AsyncDrop>(
        guards: Vec<AsyncDropGuard<T>>,
    ) -> impl Future<Output = Result<(), CleanupErrors<T::Error>>> + Send {
        async_drop_iter(guards)
    }
}

#[test]
fn generic_cleanup_futures_are_send_and_run() {
    let c = setup();
    let p = |id| probe(&c, id, false);
    let guards = AsyncDropGuard::new(vec![p(0), p(1)]);
    block_on(generic::vec_of_guards(guards)).unwrap();
    let values = AsyncDropGuard::new(vec![Probe::new(&c)]);
    block_on(generic::vec_of_values(values)).unwrap();
    block_on(generic::option(AsyncDropGuard::new(Some(p(2))))).unwrap();
    block_on(generic::result(AsyncDropGuard::new(Ok(p(3))))).unwrap();
    let boxed = AsyncDropGuard::new(Box::new(Probe::new(&c)));
    block_on(generic::boxed(boxed)).unwrap();
    block_on(generic::boxed_guard(AsyncDropGuard::new(Box::new(p(4))))).unwrap();
    let nested = AsyncDropGuard::new(Some(vec![Box::new(p(5))]));
    block_on(generic::nested(nested)).unwrap();
    block_on(generic::iter(vec![p(6)])).unwrap();
    assert_cleaned(&c, 9);

    let c = setup();
    let mut vec = asyncdrop::collections::AsyncDropVec::new();
    vec.push(probe(&c, 0, false));
    block_on_send(generic::collection_vec(vec)).unwrap();
    let mut vec = asyncdrop::collections::AsyncDropVec::new();
    vec.push(probe(&c, 1, false));
    block_on(generic::collection_vec_in_order(vec)).unwrap();
    let mut vec = asyncdrop::collections::AsyncDropVec::new();
    vec.push(AsyncDropGuard::new(probe(&c, 2, false)));
    block_on(generic::collection_of_guards(vec)).unwrap();
    let mut map = asyncdrop::collections::AsyncDropBTreeMap::new();
    map.insert(1, probe(&c, 3, false));
    block_on(generic::btree_map(map)).unwrap();
    let mut map = asyncdrop::collections::AsyncDropBTreeMap::new();
    map.insert(1, probe(&c, 4, false));
    block_on(generic::btree_map_in_order(map)).unwrap();
    #[cfg(feature = "std")]
    {
        let mut map = asyncdrop::collections::AsyncDropHashMap::new();
        map.insert(Rc::new(1), probe(&c, 5, false));
        block_on(generic::hash_map(map)).unwrap();
    }
    cleaned_quietly(&c, if cfg!(feature = "std") { 6 } else { 5 });
}

/// `Send`, but its cleanup holds an `Rc` across an `.await`: only a `LocalAsyncDrop`.
struct LocalCleanup;

impl LocalAsyncDrop for LocalCleanup {
    type Error = Infallible;

    async fn local_async_drop_impl(self) -> Result<(), Infallible> {
        let rc = Rc::new(());
        common::yield_now().await;
        drop(rc);
        Ok(())
    }
}

/// A `Send` resource whose cleanup is `Send`.
struct SendCleanup;

impl AsyncDrop for SendCleanup {
    type Error = Infallible;

    async fn async_drop_impl(self) -> Result<(), Infallible> {
        Ok(())
    }
}

fn cleanup_of<T: LocalAsyncDrop>(value: T) -> impl Future<Output = Result<(), T::Error>> {
    AsyncDropGuard::new(value).async_drop()
}

#[test]
fn send_follows_the_elements() {
    record_reports();
    let send = cleanup_of(vec![SendCleanup]);
    assert!(implements!(send => Send));
    let local = cleanup_of(vec![LocalCleanup]);
    assert!(!implements!(local => Send));
    let send_option = cleanup_of(Some(SendCleanup));
    assert!(implements!(send_option => Send));
    let local_option = cleanup_of(Some(LocalCleanup));
    assert!(!implements!(local_option => Send));
    let local_box = cleanup_of(Box::new(AsyncDropGuard::new(LocalCleanup)));
    assert!(!implements!(local_box => Send));
    let mut collection = asyncdrop::collections::AsyncDropVec::new();
    collection.push(AsyncDropGuard::new(LocalCleanup));
    let local_collection = collection.async_drop();
    assert!(!implements!(local_collection => Send));

    block_on(async {
        send.await.unwrap();
        local.await.unwrap();
        send_option.await.unwrap();
        local_option.await.unwrap();
        local_box.await.unwrap();
        local_collection.await.unwrap();
    });
    assert!(take_reports().is_empty());
}
