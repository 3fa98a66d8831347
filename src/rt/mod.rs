//! Runtime adapters: background cleanup, a bounded cleanup worker, deadlines,
//! blocking from sync code, and async drop for each runtime's own resources.
//!
//! All of it is written once, over the [`Runtime`] trait; each runtime module
//! implements the trait and names the same items for its runtime:
//!
//! | | generic, over any [`Runtime`] | in `rt::tokio`, `rt::smol`, `rt::async_std` (legacy) |
//! |---|---|---|
//! | background cleanup | [`spawn_async_drop_on`], [`SpawnOnDrop<T, R>`](SpawnOnDrop), [`CleanupHandle`] | `spawn_async_drop`, `spawn_async_drop_on`, `SpawnOnDrop<T>` |
//! | graceful shutdown | [`CleanupTracker`] | `background_cleanups`, `wait_for_background_cleanups`, `background_cleanups_finished` |
//! | bounded cleanup worker | [`Reaper<T, R>`](Reaper), [`ReaperDrop<T, R>`](ReaperDrop), [`ReaperWorker`] | `Reaper<T>`, `ReaperDrop<T>` |
//! | deadline | [`async_drop_timeout_on`], [`AsyncDropTimeout`] | `async_drop_timeout`, `AsyncDropTimeout<T, F>` |
//! | blocking from sync code | [`block_on_async_drop_on`], [`BlockOnDrop<T, R>`](BlockOnDrop) | `block_on_async_drop`, `block_on_async_drop_timeout`, `BlockOnDrop<T>` |
//! | the runtime's own resources | | `impl AsyncDrop for TcpStream`, `File`, task handles, ... |
//!
//! The runtimes are tokio's [`Handle`] (feature `tokio`), [`smol::Smol`] (feature
//! `smol`) and [`async_std::AsyncStd`] (feature `async-std`). For any other
//! executor, implement [`Runtime`] (feature `rt`): see its "Using another runtime"
//! section.
//!
//! # Which one to use
//!
//! - In async code, `guard.async_drop().await` stays the first choice: the cleanup
//!   runs in your task, its error comes back to you.
//! - `async_drop_timeout` when a peer may stall a cleanup.
//! - `spawn_async_drop` / `SpawnOnDrop` when the cleanup may outlive its owner (a
//!   cancelled request handler).
//! - `Reaper` / `ReaperDrop` when synchronous code lets go of many values: bounded
//!   memory, back-pressure, and a shutdown that waits for every cleanup.
//! - `block_on_async_drop` / `BlockOnDrop` when synchronous code must know the
//!   cleanup finished.
//!
//! # Nothing is lost silently
//!
//! A cleanup that runs where nobody awaits it (a detached task, the cleanup worker)
//! reports its error as [`ReportKind::Failed`](crate::ReportKind::Failed) and its
//! panic as [`ReportKind::Panicked`](crate::ReportKind::Panicked) through the
//! [`Policy`](crate::Policy). A cleanup the runtime drops before it finished (at
//! shutdown) reports [`ReportKind::Cancelled`](crate::ReportKind::Cancelled), like any
//! cleanup future dropped early.

//!
// Links to the runtime modules of features that are off go to docs.rs.
#![cfg_attr(feature = "tokio", doc = "[`Handle`]: ::tokio::runtime::Handle")]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "[`Handle`]: https://docs.rs/tokio/latest/tokio/runtime/struct.Handle.html"
)]
#![cfg_attr(
    not(feature = "smol"),
    doc = "[`smol::Smol`]: https://docs.rs/asyncdrop/latest/asyncdrop/rt/smol/struct.Smol.html"
)]
#![cfg_attr(
    not(feature = "async-std"),
    doc = "[`async_std::AsyncStd`]: https://docs.rs/asyncdrop/latest/asyncdrop/rt/async_std/struct.AsyncStd.html"
)]

mod block;
mod deadline;
mod error;
mod handle;
#[cfg(any(feature = "smol", feature = "async-std"))]
mod process;
mod reaper;
mod runtime;
mod spawn;

pub use block::{block_on_async_drop_on, BlockOnDrop, DEFAULT_WAIT_LIMIT};
pub use deadline::{async_drop_timeout_current, async_drop_timeout_on, AsyncDropTimeout};
pub use error::{
    BackgroundError, BlockingError, CleanupPanic, DeadlineError, HandOverError, TaskPanic,
    WorkerError,
};
pub use handle::CleanupHandle;
pub use reaper::{HandOver, Reaper, ReaperDrop, ReaperStats, ReaperWorker};
pub use runtime::{CleanupTracker, LocalRuntime, Runtime, WaitForCleanups};
pub use spawn::{
    spawn_async_drop_current, spawn_async_drop_on, spawn_local_async_drop_on, NoRuntime,
    SpawnOnDrop,
};

/// The items every runtime module names for its runtime `$rt` (a [`Runtime`]),
/// plus, as asked: `global`, for a runtime that is always current,
/// `block_on_async_drop_timeout`; `spawn_on`, `spawn_async_drop_on(&$rt, guard)`.
#[cfg_attr(
    not(any(feature = "tokio", feature = "smol", feature = "async-std")),
    allow(unused_macros, reason = "used by the runtime modules")
)]
macro_rules! runtime_items {
    (@global $rt:ty) => {
        /// Runs the cleanup of `guard` to completion from synchronous code, waiting
        /// at most `limit`, as
        /// [`block_on_async_drop_on`](crate::rt::block_on_async_drop_on): in place on
        /// a thread that does not run the executor, on a helper thread on one that
        /// does.
        ///
        /// # Errors
        ///
        /// See [`BlockingError`].
        pub fn block_on_async_drop_timeout<T>(
            guard: crate::AsyncDropGuard<T>,
            limit: core::time::Duration,
        ) -> Result<(), BlockingError<T::Error>>
        where
            T: crate::AsyncDrop + 'static,
            T::Error: core::fmt::Debug,
        {
            let runtime =
                <$rt as crate::rt::Runtime>::current().expect("a global runtime is current");
            crate::rt::block_on_async_drop_on(&runtime, guard, limit)
        }
    };
    (@spawn_on $rt:ty) => {
        /// Runs the cleanup of `guard` as a task on `runtime`, from any thread, as
        /// [`spawn_async_drop_on`](crate::rt::spawn_async_drop_on).
        pub fn spawn_async_drop_on<T>(
            runtime: &$rt,
            guard: crate::AsyncDropGuard<T>,
        ) -> CleanupHandle<T>
        where
            T: crate::AsyncDrop + 'static,
            T::Error: core::fmt::Debug,
        {
            crate::rt::spawn_async_drop_on(runtime, guard)
        }
    };
    ($rt:ty $(, $extra:ident)*) => {
        $(runtime_items!(@$extra $rt);)*
        pub use crate::rt::{
            BackgroundError, BlockingError, CleanupHandle, CleanupPanic, DeadlineError, HandOver,
            HandOverError, NoRuntime, ReaperStats, ReaperWorker, TaskPanic, WorkerError,
            DEFAULT_WAIT_LIMIT,
        };

        /// [`SpawnOnDrop`](crate::rt::SpawnOnDrop) on this runtime.
        pub type SpawnOnDrop<T> = crate::rt::SpawnOnDrop<T, $rt>;
        /// [`Reaper`](crate::rt::Reaper) on this runtime.
        pub type Reaper<T> = crate::rt::Reaper<T, $rt>;
        /// [`ReaperDrop`](crate::rt::ReaperDrop) on this runtime.
        pub type ReaperDrop<T> = crate::rt::ReaperDrop<T, $rt>;
        /// [`BlockOnDrop`](crate::rt::BlockOnDrop) on this runtime.
        pub type BlockOnDrop<T> = crate::rt::BlockOnDrop<T, $rt>;
        /// [`AsyncDropTimeout`](crate::rt::AsyncDropTimeout) on this runtime's timer.
        pub type AsyncDropTimeout<T, F> =
            crate::rt::AsyncDropTimeout<T, F, <$rt as crate::rt::Runtime>::Sleep>;

        /// The former name of [`DEFAULT_WAIT_LIMIT`].
        #[doc(hidden)]
        pub const DEFAULT_BLOCKING_LIMIT: core::time::Duration = crate::rt::DEFAULT_WAIT_LIMIT;

        /// Runs the cleanup of `guard` as a detached task on the current runtime, as
        /// [`spawn_async_drop_on`](crate::rt::spawn_async_drop_on).
        ///
        /// # Errors
        ///
        /// With no current runtime the guard comes back in a [`NoRuntime`].
        pub fn spawn_async_drop<T>(
            guard: crate::AsyncDropGuard<T>,
        ) -> Result<CleanupHandle<T>, NoRuntime<T>>
        where
            T: crate::AsyncDrop + 'static,
            T::Error: core::fmt::Debug,
        {
            crate::rt::spawn_async_drop_current::<$rt, T>(guard)
        }

        /// Runs the cleanup of `guard` in the current task, giving up after `limit`
        /// on the current runtime's timer, as
        /// [`async_drop_timeout_on`](crate::rt::async_drop_timeout_on).
        ///
        /// # Errors
        ///
        /// [`DeadlineError::Failed`] with the cleanup's error, or
        /// [`DeadlineError::Expired`] if the limit ran out first.
        ///
        /// # Panics
        ///
        /// Panics, naming the type, if there is no current runtime.
        #[track_caller]
        pub fn async_drop_timeout<T: crate::LocalAsyncDrop>(
            guard: crate::AsyncDropGuard<T>,
            limit: core::time::Duration,
        ) -> AsyncDropTimeout<T, impl core::future::Future<Output = Result<(), T::Error>>> {
            crate::rt::async_drop_timeout_current::<$rt, T>(guard, limit)
        }

        /// Runs the cleanup of `guard` to completion from synchronous code, waiting
        /// at most [`DEFAULT_WAIT_LIMIT`]; see [`block_on_async_drop_timeout`].
        ///
        /// # Errors
        ///
        /// As [`block_on_async_drop_timeout`].
        pub fn block_on_async_drop<T>(
            guard: crate::AsyncDropGuard<T>,
        ) -> Result<(), BlockingError<T::Error>>
        where
            T: crate::AsyncDrop + 'static,
            T::Error: core::fmt::Debug,
        {
            block_on_async_drop_timeout(guard, DEFAULT_WAIT_LIMIT)
        }

        /// How many detached cleanups of this runtime have not ended (see
        /// [`CleanupTracker`](crate::rt::CleanupTracker)).
        pub fn background_cleanups() -> usize {
            <$rt as crate::rt::Runtime>::tracker().running()
        }

        /// Blocks until every detached cleanup of this runtime has ended, for at
        /// most `limit`; returns how many still run.
        #[must_use = "the number of cleanups still running; report it if it is not zero"]
        pub fn wait_for_background_cleanups(limit: core::time::Duration) -> usize {
            <$rt as crate::rt::Runtime>::tracker().wait_blocking(limit)
        }

        /// Waits until every detached cleanup of this runtime has ended.
        pub fn background_cleanups_finished() -> crate::rt::WaitForCleanups<'static> {
            <$rt as crate::rt::Runtime>::tracker().wait()
        }
    };
}

#[cfg(feature = "tokio")]
pub mod tokio;

#[cfg(feature = "smol")]
pub mod smol;

#[cfg(feature = "async-std")]
pub mod async_std;
