//! Zero-cost guarantees: no allocation, and no size beyond the value in release.

use crate::common;

use std::mem::size_of;

use asyncdrop::{async_drop_all, with_async_drop, AsyncDrop, AsyncDropGuard};
use common::counting::allocations;
use common::{run_to_end as run, yield_now};

/// A trivial resource whose cleanup yields once (so the executor really suspends).
struct Conn {
    fd: u64,
}

#[derive(Debug, PartialEq)]
struct CloseError(u64);

impl From<CloseError> for String {
    fn from(e: CloseError) -> String {
        format!("close {}", e.0)
    }
}

impl AsyncDrop for Conn {
    type Error = CloseError;
    async fn async_drop_impl(self) -> Result<(), CloseError> {
        yield_now().await;
        if self.fd == u64::MAX {
            Err(CloseError(self.fd))
        } else {
            Ok(())
        }
    }
}

/// Runs `f` and asserts that it allocated nothing on this thread.
#[track_caller]
fn assert_allocates_nothing(what: &str, f: impl FnOnce()) {
    assert_eq!(allocations(f).1, 0, "{what}");
}

fn conn(fd: u64) -> AsyncDropGuard<Conn> {
    AsyncDropGuard::new(Conn { fd })
}

#[test]
fn guard_scope_macro_tuple_and_array_cleanup_allocate_nothing() {
    assert_allocates_nothing("guard new and async_drop", || {
        run(async {
            for fd in 0..100 {
                let conn = conn(fd);
                assert_eq!(conn.fd, fd);
                conn.async_drop().await.unwrap();
            }
        })
    });
    assert_allocates_nothing("failing cleanup", || {
        let r = run(conn(u64::MAX).async_drop());
        assert_eq!(r, Err(CloseError(u64::MAX)));
    });
    assert_allocates_nothing("scope macro", || {
        let r: Result<u64, CloseError> = run(async {
            let (a, b) = (conn(1), conn(2));
            with_async_drop!(a, b => {
                Ok(a.fd + b.fd)
            })
        });
        assert_eq!(r, Ok(3));
    });
    assert_allocates_nothing("tuple and array cleanup", || {
        run(async {
            async_drop_all((conn(1), conn(2))).await.unwrap();
            let four = [1, 2, 3, u64::MAX].map(conn);
            let err = async_drop_all(four).await.unwrap_err();
            assert_eq!(err.count(), 1);
        })
    });
}

#[cfg(feature = "derive")]
#[test]
fn derived_cleanup_allocates_nothing() {
    #[derive(AsyncDrop)]
    struct Joined {
        a: AsyncDropGuard<Conn>,
        b: Conn,
        c: Option<AsyncDropGuard<Conn>>,
    }

    #[derive(AsyncDrop)]
    #[async_drop(sequential, error = String)]
    struct Sequential(AsyncDropGuard<Conn>, Conn);

    assert_allocates_nothing("derived cleanup", || {
        run(async {
            let (a, b, c) = (conn(1), Conn { fd: u64::MAX }, Some(conn(3)));
            let joined = AsyncDropGuard::new(Joined { a, b, c });
            let err = joined.async_drop().await.unwrap_err();
            assert_eq!(err.b, Some(CloseError(u64::MAX)));
            let sequential = Sequential(conn(1), Conn { fd: 2 });
            AsyncDropGuard::new(sequential).async_drop().await.unwrap();
        })
    });
}

#[test]
fn counting_allocator_counts() {
    // The instrument works: a Box is seen.
    let ((), n) = allocations(|| drop(std::hint::black_box(Box::new(5u8))));
    assert_eq!(n, 1);
}

#[test]
fn guard_is_as_large_as_the_value_in_release_plus_its_site_in_debug() {
    if cfg!(debug_assertions) {
        let site = size_of::<&'static std::panic::Location<'static>>();
        assert_eq!(size_of::<AsyncDropGuard<Conn>>(), size_of::<Conn>() + site);
        return;
    }
    assert_eq!(size_of::<AsyncDropGuard<Conn>>(), size_of::<Conn>());
    assert_eq!(size_of::<AsyncDropGuard<u8>>(), size_of::<u8>());
    assert_eq!(size_of::<AsyncDropGuard<()>>(), 0);
    assert_eq!(
        size_of::<AsyncDropGuard<AsyncDropGuard<Conn>>>(),
        size_of::<Conn>()
    );
    assert_eq!(
        size_of::<Option<AsyncDropGuard<Box<u8>>>>(),
        size_of::<Box<u8>>(),
        "the niche of the value is kept"
    );
}

/// The size of a future, without polling it.
fn future_size<F: std::future::Future>(f: F) -> usize {
    let n = std::mem::size_of_val(&f);
    // Complete it so the guard inside is not reported as cancelled.
    let _ = run(f);
    n
}

#[test]
fn cleanup_future_adds_one_state_byte_in_release_and_at_most_two_words_in_debug() {
    let inner = future_size(Conn { fd: 1 }.async_drop_impl());
    let outer = future_size(conn(1).async_drop());
    let align = std::mem::align_of_val(&Conn { fd: 1 }.async_drop_impl());
    // Debug builds carry the creation site as well: at most two words more.
    assert!(
        outer <= inner + 2 * std::mem::size_of::<usize>(),
        "inner {inner} B, outer {outer} B"
    );
    if !cfg!(debug_assertions) {
        // One state byte, rounded up to the future's alignment.
        assert!(outer <= inner + align, "inner {inner} B, outer {outer} B");
    }
}

#[cfg(feature = "std")]
#[test]
fn a_thread_policy_is_set_and_restored_without_allocating() {
    use asyncdrop::{set_thread_policy, Policy};
    let _warm = set_thread_policy(Policy::Ignore); // the thread-local slot exists now
    assert_allocates_nothing("thread policy", || {
        let scope = set_thread_policy(Policy::Ignore);
        drop(conn(1)); // reported (ignored) without allocating
        drop(scope);
    });
}
