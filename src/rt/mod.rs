//! Runtime adapters: background cleanup, a bounded cleanup worker, deadlines,
//! blocking from sync code, and async drop for each runtime's own resources.
//!
//! Each adapter is a module behind its feature, with the same shape:
//!
//! | | tokio | smol | async-std (legacy) |
//! |---|---|---|---|
//! | background cleanup | [`spawn_async_drop`](self::tokio::spawn_async_drop), [`SpawnOnDrop`](self::tokio::SpawnOnDrop) | [`spawn_async_drop`](self::smol::spawn_async_drop), [`SpawnOnDrop`](self::smol::SpawnOnDrop) | [`spawn_async_drop`](self::async_std::spawn_async_drop), [`SpawnOnDrop`](self::async_std::SpawnOnDrop) |
//! | bounded cleanup worker | [`Reaper`](self::tokio::Reaper), [`ReaperDrop`](self::tokio::ReaperDrop) | [`Reaper`](self::smol::Reaper), [`ReaperDrop`](self::smol::ReaperDrop) | [`Reaper`](self::async_std::Reaper), [`ReaperDrop`](self::async_std::ReaperDrop) |
//! | deadline | [`async_drop_timeout`](self::tokio::async_drop_timeout) | [`async_drop_timeout`](self::smol::async_drop_timeout) | [`async_drop_timeout`](self::async_std::async_drop_timeout) |
//! | blocking from sync code | [`block_on_async_drop`](self::tokio::block_on_async_drop) | [`block_on_async_drop`](self::smol::block_on_async_drop) | [`block_on_async_drop`](self::async_std::block_on_async_drop) |
//! | the runtime's own resources | `impl AsyncDrop for TcpStream`, `File`, `JoinHandle`, ... | `impl AsyncDrop for Async<TcpStream>`, `fs::File`, `Task`, ... | `impl AsyncDrop for TcpStream`, `File`, `JoinHandle`, ... |
//!
//! The types they share live here and are re-exported by every adapter:
//! [`CleanupHandle`] (a cleanup running in the background), [`ReaperStats`] (what a
//! cleanup worker did), and the errors [`BackgroundError`], [`BlockingError`],
//! [`CleanupPanic`], [`DeadlineError`] and [`HandOverError`].
//!
//! # Nothing is lost silently
//!
//! A cleanup that runs where nobody awaits it (a detached background task, the
//! cleanup worker) reports its error as [`ReportKind::Failed`](crate::ReportKind::Failed)
//! and its panic as [`ReportKind::Panicked`](crate::ReportKind::Panicked) through the
//! [`Policy`](crate::Policy). A cleanup the runtime drops before it finished (at
//! shutdown) reports [`ReportKind::Cancelled`](crate::ReportKind::Cancelled), like any cleanup
//! future dropped early.

// The runtime-neutral machinery every adapter plugs its spawn, timer and thread
// handling into (see `tokio.rs` and `tokio/` for how):
//
// - `handle::detached(guard)` -> (task future, `CleanupHandle`): spawn the task future
//   with the runtime's spawn (background cleanup, `SpawnOnDrop`), or drive it on a
//   helper thread (blocking); the handle reports whatever nobody receives.
// - `deadline::Deadline::new(guard.async_drop(), timer, limit)`: any timer future.
// - `reaper::{work, Job}`: spawn `work(receiver, capacity)`; send `Job::new(guard)`
//   through an `async_channel::bounded(capacity)`; `reaper::{try_hand_over,
//   HandOver, drop_into_worker}` hand values over; an adapter implements
//   `reaper::Background` (detach a task, "is this a runtime thread?") for its
//   runtime handle, which also gives `clean_up_detached(guard)`.
// - `crate::outcome::catch_cleanup` / `clean_up_reporting`: run a cleanup where
//   nobody awaits it and report its failure or panic.
// - `crate::wait::wait_for(future, limit)`: block a plain thread on a future driven
//   elsewhere, for a bounded time.
mod deadline;
mod error;
mod handle;
mod reaper;

#[cfg(any(feature = "smol", feature = "async-std"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "smol", feature = "async-std"))))]
pub use error::TaskPanic;
pub use error::{BackgroundError, BlockingError, CleanupPanic, DeadlineError, HandOverError};
pub use handle::CleanupHandle;
pub use reaper::{HandOver, ReaperStats};

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

#[cfg(feature = "smol")]
#[cfg_attr(docsrs, doc(cfg(feature = "smol")))]
pub mod smol;

#[cfg(feature = "async-std")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-std")))]
pub mod async_std;
