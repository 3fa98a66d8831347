//! The smol adapter: background cleanup, a bounded cleanup worker, deadlines,
//! blocking from sync code, and async drop for smol's own resources.
//!
//! Enable it with the `smol` feature:
//!
//! ```toml
//! asyncdrop = { version = "0.1", features = ["smol"] }
//! ```
//!
//! Works with smol 2 (and the crates it re-exports: `async-executor`, `async-io`,
//! `async-net`, `async-fs`, `async-process`).
//!
//! | | |
//! |---|---|
//! | background cleanup | [`spawn_async_drop`], [`spawn_async_drop_on`], [`SpawnOnDrop`], [`CleanupHandle`] |
//! | bounded cleanup worker | [`Reaper`], [`ReaperDrop`], [`ReaperWorker`], [`ReaperStats`], [`WorkerError`] |
//! | deadline | [`async_drop_timeout`], [`DeadlineError`] |
//! | blocking from sync code | [`block_on_async_drop`], [`block_on_async_drop_timeout`], [`BlockingError`] |
//! | smol's resources | [`AsyncDrop`](crate::AsyncDrop) for `Task<T>`, `Async<TcpStream>`, `Async<UnixStream>`, `net::TcpStream`, `net::unix::UnixStream`, `fs::File`, `io::BufWriter<W>`, `process::Child` |
//!
//! # Which one to use
//!
//! - In async code, `guard.async_drop().await` stays the first choice: the cleanup
//!   runs in your task, its error comes back to you.
//! - [`async_drop_timeout`] when a peer may stall a cleanup.
//! - [`spawn_async_drop`] / [`SpawnOnDrop`] when the cleanup may outlive its owner
//!   (a cancelled request handler).
//! - [`Reaper`] / [`ReaperDrop`] when synchronous code lets go of many values:
//!   bounded memory, back-pressure, and a shutdown that waits for every cleanup.
//! - [`block_on_async_drop`] when synchronous code must know the cleanup finished.
//!
//! # How smol differs from tokio here
//!
//! smol has no "current runtime" to look up. Background work goes to smol's
//! *global executor* ([`smol::spawn`]), which smol starts on first
//! use on background threads of its own (`SMOL_THREADS`, default 1); or, with the
//! `_on` / `with_executor` variants, to an [`Executor`](smol::Executor) of yours.
//! So spawning never fails: there is no "outside a runtime" error. Timers and I/O
//! are driven by smol's global reactor, so a deadline works in any task, on any
//! executor, and a blocked thread does not stop other threads' I/O or timers.
//!
//! Two consequences to keep in mind:
//!
//! - **The global executor never shuts down.** Background cleanups still running
//!   when `main` returns are not finished and not reported: the process just ends.
//!   Await the [`CleanupHandle`]s (or the [`ReaperWorker`] after
//!   [`Reaper::shutdown`]) before returning when it matters.
//! - **An executor of yours that is dropped** drops its unfinished tasks: a cleanup
//!   among them reports [`ReportKind::Cancelled`](crate::ReportKind::Cancelled), as with
//!   tokio's runtime shutdown.
//!
//! # Examples
//!
//! ```
//! use std::net::{TcpListener, TcpStream};
//! use std::time::Duration;
//! use asyncdrop::rt::smol::{async_drop_timeout, spawn_async_drop};
//! use asyncdrop::AsyncDropGuard;
//! use smol::io::{AsyncReadExt, AsyncWriteExt};
//! use smol::Async;
//!
//! smol::block_on(async {
//!     let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
//!     let addr = listener.get_ref().local_addr()?;
//!
//!     // `Async<TcpStream>` is `AsyncDrop`: its cleanup shuts the connection down.
//!     let mut a = AsyncDropGuard::new(Async::<TcpStream>::connect(addr).await?);
//!     let mut b = AsyncDropGuard::new(Async::<TcpStream>::connect(addr).await?);
//!     a.write_all(b"hello").await?;
//!     b.write_all(b"hello").await?;
//!
//!     // One cleaned up with a deadline, in this task ...
//!     async_drop_timeout(a, Duration::from_secs(5)).await?;
//!     // ... the other in the background, on smol's global executor.
//!     let cleanup = spawn_async_drop(b);
//!
//!     for _ in 0..2 {
//!         let (mut peer, _) = listener.accept().await?;
//!         let mut got = String::new();
//!         peer.read_to_string(&mut got).await?; // ends when the client shut down
//!         assert_eq!(got, "hello");
//!     }
//!     cleanup.await?;
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod block;
mod error;
mod reaper;
mod resources;
mod spawn;
mod time;

pub use self::block::{block_on_async_drop, block_on_async_drop_timeout, DEFAULT_BLOCKING_LIMIT};
pub use self::error::WorkerError;
pub use self::reaper::{Reaper, ReaperDrop, ReaperWorker};
pub use self::spawn::{spawn_async_drop, spawn_async_drop_on, SpawnOnDrop};
pub use self::time::{async_drop_timeout, AsyncDropTimeout};
pub use crate::rt::TaskPanic;
pub use crate::rt::{
    BackgroundError, BlockingError, CleanupHandle, CleanupPanic, DeadlineError, HandOver,
    HandOverError, ReaperStats,
};
