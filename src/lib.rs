//! Explicit, checked, zero-cost async cleanup.
//!
//! Rust's `Drop` is synchronous, but connections, buffered files, background tasks
//! and remote sessions need *async* teardown. This crate makes that teardown
//! explicit and checked:
//!
//! 1. a type says how it is torn down by implementing [`AsyncDrop`] (or
//!    [`LocalAsyncDrop`]) with a plain `async fn`;
//! 2. its constructors hand out [`AsyncDropGuard<Self>`], never a bare `Self`;
//! 3. the owner calls [`guard.async_drop().await`](AsyncDropGuard::async_drop);
//! 4. a guard dropped without that call is *reported* through a [`Policy`] — by
//!    default a panic naming the type and where the guard was created — so forgotten
//!    cleanup shows up in tests.
//!
//! ```
//! use asyncdrop::{with_async_drop, AsyncDrop, AsyncDropGuard};
//!
//! struct Connection {
//!     peer: &'static str,
//! }
//!
//! impl Connection {
//!     async fn open(peer: &'static str) -> AsyncDropGuard<Connection> {
//!         AsyncDropGuard::new(Connection { peer })
//!     }
//!     async fn send(&mut self, msg: &str) -> Result<(), std::io::Error> {
//!         println!("{} <- {msg}", self.peer);
//!         Ok(())
//!     }
//! }
//!
//! impl AsyncDrop for Connection {
//!     type Error = std::io::Error;
//!     async fn async_drop_impl(mut self) -> Result<(), std::io::Error> {
//!         self.send("goodbye").await // then shut the socket down
//!     }
//! }
//!
//! async fn greet() -> Result<(), std::io::Error> {
//!     let mut conn = Connection::open("db").await;
//!     // The block may leave early with `?`; `conn` is cleaned up on every path.
//!     with_async_drop!(conn => {
//!         conn.send("hello").await?;
//!         Ok(())
//!     })
//! }
//! # futures_executor::block_on(greet()).unwrap();
//! ```
//!
//! # Which trait to implement
//!
//! Implement [`AsyncDrop`] when the resource is `Send` (the common case): its
//! cleanup future is `Send` and can run on any runtime. Implement
//! [`LocalAsyncDrop`] for `!Send` resources (an `Rc` inside, a single-threaded or
//! embedded executor). There are two because a trait's `async fn` cannot promise a
//! `Send` future to generic callers without return-type notation, which is not
//! stable. Every `AsyncDrop` type is a `LocalAsyncDrop`, and generic code here binds
//! `LocalAsyncDrop`, so each helper serves both while `Send` flows through.
//!
//! # What the crate gives
//!
//! - [`AsyncDropGuard`]: the guard; zero-sized overhead in release builds, no
//!   allocation, with escape hatches [`AsyncDropGuard::into_inner_without_cleanup`],
//!   [`AsyncDropGuard::map`] and [`AsyncDropGuard::async_drop_on_err`].
//! - [`set_policy`] / [`Policy`]: what a forgotten guard or a cancelled cleanup
//!   does — panic (default), panic in debug builds only, print, ignore, or your hook.
//! - [`with_async_drop!`]: run a block, then clean up on every exit path.
//! - [`async_drop_all`]: clean up a tuple or array of guards concurrently, keeping
//!   every error; [`all_or_cleanup`]: combine fallible acquisitions.
//!
//! With `alloc` / `std` there is more for programs with many owners or many
//! resources: [`AsyncDropArc`] (shared ownership, cleaned up once by the last
//! clone; [`AsyncDropWeak`] handles that do not keep it alive), [`AsyncDropMutex`], the [`collections`] (concurrent cleanup of every
//! element, every error kept), type-erased cleanup ([`DynAsyncDrop`]),
//! [`AsyncDropShared`] (a shared future with a guarded output) and [`BlockingDrop`]
//! (synchronous `Drop` that completes the cleanup).
//!
//! # Composite types
//!
//! With the feature `derive`, a type made of resources derives its cleanup: every
//! field is cleaned up — concurrently, or in order with `sequential` — whatever
//! fails, every error kept, for what a hand-written close costs (see the
//! `AsyncDrop` derive macro for the options).
//!
//! ```
//! # #[cfg(all(feature = "derive", feature = "std"))] {
//! use asyncdrop::{AsyncDrop, AsyncDropGuard};
//! # use asyncdrop::doc_fixture::Conn;
//!
//! #[derive(AsyncDrop)]
//! #[async_drop(error = std::io::Error)]
//! struct Session {
//!     socket: AsyncDropGuard<Conn>,
//!     cache: Option<AsyncDropGuard<Conn>>,
//!     #[async_drop(skip)]
//!     user: String,
//! }
//!
//! let session = AsyncDropGuard::new(Session {
//!     socket: AsyncDropGuard::new(Conn),
//!     cache: Some(AsyncDropGuard::new(Conn)),
//!     user: "ada".into(),
//! });
//! futures_executor::block_on(session.async_drop()).unwrap();
//! # }
//! ```
//!
//! # Cancellation
//!
//! A cleanup future dropped before it finished did not clean up: the value is
//! dropped synchronously, exactly once, and [`ReportKind::Cancelled`] goes to the
//! policy. A panic inside a cleanup propagates once, with nothing leaked and no
//! second report.
//!
//! In a group, a member whose cleanup had not started yet reports `Cancelled` where
//! the group makes every cleanup future at once ([`async_drop_all`],
//! [`all_or_cleanup`], [`collections::async_drop_iter`], [`with_async_drop!`]),
//! `Forgotten` in `with_async_drop!(sequential ..)`, which starts them in turn, and
//! nothing of its own where the members are stored bare (the [`collections`],
//! [`AsyncDropGuard::combine`]).
//!
//! # Guides
//!
//! [Patterns](https://docs.rs/crate/asyncdrop/latest/source/docs/patterns.md) (how code
//! that uses the crate is shaped), [gotchas](https://docs.rs/crate/asyncdrop/latest/source/docs/gotchas.md)
//! and [migrating](https://docs.rs/crate/asyncdrop/latest/source/docs/migrating.md) from
//! cryfs's `async_drop` module and from async-dropper, in `docs/`.
//!
//! # Features
//!
//! - *(none)*: the traits, the guard, the policy, the scope macro and the join
//!   helpers. Needs neither `alloc` nor `std`; runs on bare metal (tested on
//!   Cortex-M0, M3 and M4F).
//! - `alloc`: [`AsyncDropArc`], [`AsyncDropMutex`], [`collections`] (but the hash
//!   map), `Vec`/`Box` composition, [`DynAsyncDrop`] / [`LocalDynAsyncDrop`]. On
//!   targets without compare-and-swap (thumbv6m) on `portable-atomic`, whose
//!   `critical-section` feature the application enables.
//! - `std` (default, implies `alloc`): the hash map, [`AsyncDropShared`],
//!   [`BlockingDrop`]; panic-aware reporting — the default policy never panics while
//!   the thread is already panicking — and `Policy::Stderr`.
//!
//! - `derive`: `#[derive(AsyncDrop)]` and `#[derive(LocalAsyncDrop)]` (a
//!   proc-macro, off by default; the generated code needs neither `alloc` nor
//!   `std`).
//!
//! - `rt`: the runtime adapters written once over the [`rt::Runtime`] trait —
//!   background cleanup, graceful shutdown, a bounded cleanup worker, deadlines,
//!   blocking from sync code — for any executor that implements it.
//! - `tokio` (implies `rt`): [`rt::tokio`], the adapter on tokio's `Handle`;
//!   `tokio-net`, `tokio-fs`, `tokio-io-util`, `tokio-process` add `AsyncDrop` for
//!   tokio's streams, files, buffered writers and child processes.
//! - `smol`, `async-std` (legacy: async-std is discontinued upstream): the same
//!   adapter for those runtimes, with `AsyncDrop` for their resources.
//! - `log`, `tracing`: `Policy::Log` and `Policy::Tracing`, reports with structured
//!   fields through those crates (no `std` needed).
//! - `defmt`: `defmt_hook`, a ready hook that logs reports with `defmt`; [`Report`],
//!   [`ReportKind`] and the error types implement `defmt::Format`.
//!
//! The crate is `#![no_std]` in every configuration; without a runtime feature it
//! assumes no async runtime and depends on none. Runtime features may be combined.

//!
// The crate docs link items of every feature; where one is off, to docs.rs.
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`AsyncDropArc`]: https://docs.rs/asyncdrop/latest/asyncdrop/struct.AsyncDropArc.html"
)]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`AsyncDropWeak`]: https://docs.rs/asyncdrop/latest/asyncdrop/struct.AsyncDropWeak.html"
)]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`AsyncDropMutex`]: https://docs.rs/asyncdrop/latest/asyncdrop/struct.AsyncDropMutex.html"
)]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`DynAsyncDrop`]: https://docs.rs/asyncdrop/latest/asyncdrop/trait.DynAsyncDrop.html"
)]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`LocalDynAsyncDrop`]: https://docs.rs/asyncdrop/latest/asyncdrop/trait.LocalDynAsyncDrop.html"
)]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`collections`]: https://docs.rs/asyncdrop/latest/asyncdrop/collections/index.html"
)]
#![cfg_attr(
    not(feature = "alloc"),
    doc = "[`collections::async_drop_iter`]: https://docs.rs/asyncdrop/latest/asyncdrop/collections/fn.async_drop_iter.html"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "[`AsyncDropShared`]: https://docs.rs/asyncdrop/latest/asyncdrop/struct.AsyncDropShared.html"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "[`BlockingDrop`]: https://docs.rs/asyncdrop/latest/asyncdrop/struct.BlockingDrop.html"
)]
#![cfg_attr(
    not(feature = "rt"),
    doc = "[`rt::Runtime`]: https://docs.rs/asyncdrop/latest/asyncdrop/rt/trait.Runtime.html"
)]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "[`rt::tokio`]: https://docs.rs/asyncdrop/latest/asyncdrop/rt/tokio/index.html"
)]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]
// Library-only lints (tests and examples use `std` freely): keep every path in the
// crate itself as portable as its features allow.
#![warn(
    clippy::alloc_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::std_instead_of_core
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// `Deref` and `DerefMut` to the value, for a synchronous-drop wrapper that keeps
/// its guard in a `Held` field named `guard`.
#[cfg(feature = "std")]
macro_rules! deref_to_guarded {
    ($wrapper:ident $(, $r:ident: $bound:path)?) => {
        impl<T $(, $r: $bound)?> core::ops::Deref for $wrapper<T $(, $r)?>
        where
            T: crate::AsyncDrop + 'static,
            T::Error: core::fmt::Debug,
        {
            type Target = T;

            #[inline]
            fn deref(&self) -> &T {
                &self.guard
            }
        }

        impl<T $(, $r: $bound)?> core::ops::DerefMut for $wrapper<T $(, $r)?>
        where
            T: crate::AsyncDrop + 'static,
            T::Error: core::fmt::Debug,
        {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                &mut self.guard
            }
        }
    };
}

mod combine;
mod error;
pub mod future;
mod guard;
mod join;
mod policy;
mod scope;
mod traits;

#[cfg(feature = "alloc")]
mod arc;
#[cfg(feature = "alloc")]
pub mod collections;
mod compose;
#[cfg(feature = "alloc")]
mod dyn_drop;
#[cfg(feature = "alloc")]
mod mutex;

#[cfg(feature = "rt")]
pub mod rt;

#[cfg(feature = "std")]
mod blocking;
#[cfg(feature = "std")]
mod outcome;
#[cfg(feature = "std")]
mod shared;
#[cfg(feature = "std")]
mod spare;
#[cfg(feature = "std")]
mod wait;

#[cfg(feature = "defmt")]
pub use policy::defmt_hook;
#[cfg(feature = "alloc")]
pub use {
    arc::{AsyncDropArc, AsyncDropWeak},
    dyn_drop::{BoxCleanup, DynAsyncDrop, LocalBoxCleanup, LocalDynAsyncDrop},
    mutex::{AsyncDropMutex, AsyncDropMutexGuard},
};
#[cfg(feature = "std")]
pub use {
    blocking::BlockingDrop,
    policy::{set_thread_policy, with_policy, PolicyScope, ThreadPolicyGuard},
    shared::{AsyncDropShared, GuardedOutput},
};

pub use combine::GuardSet;
pub use error::{AcquireError, AcquireOutcome, ArrayError, ErrorAndCleanup, TupleError};
pub use guard::AsyncDropGuard;
pub use join::{all_or_cleanup, async_drop_all, AcquireAll};
pub use policy::{set_policy, Policy, Report, ReportKind};
pub use traits::{AsyncDrop, LocalAsyncDrop};

#[cfg(feature = "derive")]
pub use asyncdrop_derive::{AsyncDrop, LocalAsyncDrop};

/// The resource the examples share: a connection whose cleanup succeeds at once.
#[cfg(feature = "std")]
#[doc(hidden)]
pub mod doc_fixture {
    /// A connection whose cleanup succeeds at once.
    #[derive(Debug)]
    pub struct Conn;

    impl crate::AsyncDrop for Conn {
        type Error = std::io::Error;
        async fn async_drop_impl(self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A connection to a port, whose cleanup succeeds at once.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Port(pub u16);

    impl crate::AsyncDrop for Port {
        type Error = std::io::Error;
        async fn async_drop_impl(self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A `!Send` resource whose cleanup succeeds at once.
    #[derive(Debug, Default)]
    pub struct Journal(pub alloc::rc::Rc<u8>);

    impl crate::LocalAsyncDrop for Journal {
        type Error = std::io::Error;
        async fn local_async_drop_impl(self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

/// The guides in `docs/`, run as doctests.
#[cfg(all(doctest, feature = "std"))]
mod guides {
    #[doc = include_str!("../docs/patterns.md")]
    mod patterns {}
    #[doc = include_str!("../docs/gotchas.md")]
    mod gotchas {}
    #[doc = include_str!("../docs/migrating.md")]
    mod migrating {}
}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
