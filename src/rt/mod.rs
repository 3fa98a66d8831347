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
//! | the runtime's own resources | | see [Resources](#resources) |
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
//! # Resources
//!
//! Each runtime module makes the runtime's own resources whose teardown is async
//! [`AsyncDrop`](crate::AsyncDrop). After the cleanup the resource is closed,
//! whatever happened:
//!
//! | resource | the cleanup | a plain drop instead |
//! |---|---|---|
//! | `TcpStream`, `UnixStream` (smol: also `Async<…>`) | sends what was written, then shuts down (tokio: the write side; smol and async-std: both ways, for every clone of a shared `net` stream); the peer reads end-of-file | closes silently: a failure is seen by nobody |
//! | `File` | finishes the writes in flight, then `sync_all` | may lose a write's error (smol: the write itself); async-std blocks the dropping thread to write its cache out; never syncs |
//! | `BufWriter<W>` | writes out the buffer, then shuts down / closes the inner writer | loses what is buffered |
//! | task handles: `JoinHandle`, smol's `Task` | cancels the task and waits until its future, and all it owned, is dropped; a finished task is reaped; a blocking task runs to its end | tokio and async-std detach the task; smol cancels without waiting |
//! | tokio's `JoinSet` | cancels every task and waits for all | cancels them without waiting |
//! | `Child` | kills the process unless it exited, and waits for it: no zombie | leaves the process running |
//!
//! The error is the `io::Error` of the first step that failed (e.g. `NotConnected`
//! after the peer reset; syncing a file opened only for reading fails on Windows),
//! or a task's panic (tokio's `JoinError`, else [`TaskPanic`]); a cancelled task is
//! a success. Read what a peer sends before the cleanup: unread data makes the
//! system reset the connection when the socket closes.

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
        /// [`block_on_async_drop_on`](crate::rt::block_on_async_drop_on) on this runtime.
        pub fn block_on_async_drop_timeout<T: crate::AsyncDrop<Error: core::fmt::Debug> + 'static>(
            guard: crate::AsyncDropGuard<T>,
            limit: core::time::Duration,
        ) -> Result<(), BlockingError<T::Error>>
        {
            let runtime =
                <$rt as crate::rt::Runtime>::current().expect("a global runtime is current");
            crate::rt::block_on_async_drop_on(&runtime, guard, limit)
        }
    };
    (@spawn_on $rt:ty) => {
        /// [`spawn_async_drop_on`](crate::rt::spawn_async_drop_on) on this runtime.
        pub fn spawn_async_drop_on<T: crate::AsyncDrop<Error: core::fmt::Debug> + 'static>(
            runtime: &$rt,
            guard: crate::AsyncDropGuard<T>,
        ) -> CleanupHandle<T>
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

        /// [`spawn_async_drop_current`](crate::rt::spawn_async_drop_current) on this
        /// runtime.
        pub fn spawn_async_drop<T: crate::AsyncDrop<Error: core::fmt::Debug> + 'static>(
            guard: crate::AsyncDropGuard<T>,
        ) -> Result<CleanupHandle<T>, NoRuntime<T>>
        {
            crate::rt::spawn_async_drop_current::<$rt, T>(guard)
        }

        /// [`async_drop_timeout_current`](crate::rt::async_drop_timeout_current) on
        /// this runtime.
        #[track_caller]
        pub fn async_drop_timeout<T: crate::LocalAsyncDrop>(
            guard: crate::AsyncDropGuard<T>,
            limit: core::time::Duration,
        ) -> AsyncDropTimeout<T, impl core::future::Future<Output = Result<(), T::Error>>> {
            crate::rt::async_drop_timeout_current::<$rt, T>(guard, limit)
        }

        /// [`block_on_async_drop_timeout`] with [`DEFAULT_WAIT_LIMIT`].
        pub fn block_on_async_drop<T: crate::AsyncDrop<Error: core::fmt::Debug> + 'static>(
            guard: crate::AsyncDropGuard<T>,
        ) -> Result<(), BlockingError<T::Error>>
        {
            block_on_async_drop_timeout(guard, DEFAULT_WAIT_LIMIT)
        }

        /// [`CleanupTracker::running`](crate::rt::CleanupTracker::running) of this runtime.
        pub fn background_cleanups() -> usize {
            <$rt as crate::rt::Runtime>::tracker().running()
        }

        /// [`CleanupTracker::wait_blocking`](crate::rt::CleanupTracker::wait_blocking) of
        /// this runtime.
        #[must_use = "the number of cleanups still running; report it if it is not zero"]
        pub fn wait_for_background_cleanups(limit: core::time::Duration) -> usize {
            <$rt as crate::rt::Runtime>::tracker().wait_blocking(limit)
        }

        /// [`CleanupTracker::wait`](crate::rt::CleanupTracker::wait) of this runtime.
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
