//! The async-std adapter (**legacy**: async-std is discontinued upstream): background
//! cleanup, a bounded cleanup worker, deadlines, blocking from sync code, and async
//! drop for async-std's own resources.
//!
//! Enable it with the `async-std` feature:
//!
//! ```toml
//! asyncdrop = { version = "0.1", features = ["async-std"] }
//! ```
//!
//! **Legacy.** async-std 1.13 is the last release: the project is discontinued and
//! recommends smol, which runs on the same executor and reactor. This module is kept
//! for programs that still run on async-std; new code should prefer the smol
//! adapter.
//!
//! # Which runtime
//!
//! Everything here runs on async-std's **global runtime**: an executor thread pool
//! that starts by itself on first use, plus the reactor thread that drives I/O and
//! timers. There is no runtime to create, enter or pass around, so unlike the tokio
//! adapter nothing here fails for lack of a runtime: it works from any thread —
//! inside `async_std::task::block_on`, inside a spawned task, on a plain thread,
//! even inside another executor.
//!
//! The flip side: the global runtime never shuts down. When `main` returns, tasks
//! still running are neither finished nor dropped — a background cleanup cut off
//! that way is lost *without* a report. Wait for what matters before returning: a
//! [`CleanupHandle`], a [`ReaperWorker`], or every background cleanup at once with
//! [`wait_for_background_cleanups`].
//!
//! | | |
//! |---|---|
//! | background cleanup | [`spawn_async_drop`], [`SpawnOnDrop`], [`CleanupHandle`], [`background_cleanups`], [`wait_for_background_cleanups`] |
//! | bounded cleanup worker | [`Reaper`], [`ReaperDrop`], [`ReaperWorker`], [`ReaperStats`], [`TaskPanic`] |
//! | deadline | [`async_drop_timeout`], [`DeadlineError`] |
//! | blocking from sync code | [`block_on_async_drop`], [`block_on_async_drop_timeout`], [`BlockingError`] |
//! | async-std's resources | [`AsyncDrop`](crate::AsyncDrop) for `TcpStream`, `UnixStream`, `File`, `BufWriter<W>`, `JoinHandle<T>` (its error: [`TaskPanic`]) |
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
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use asyncdrop::rt::async_std::{async_drop_timeout, spawn_async_drop};
//! use asyncdrop::AsyncDropGuard;
//! use async_std::net::{TcpListener, TcpStream};
//! use async_std::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! async_std::task::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!
//!     // `TcpStream` is `AsyncDrop`: its cleanup shuts the connection down.
//!     let mut a = AsyncDropGuard::new(TcpStream::connect(addr).await?);
//!     let mut b = AsyncDropGuard::new(TcpStream::connect(addr).await?);
//!     a.write_all(b"hello").await?;
//!     b.write_all(b"hello").await?;
//!
//!     // One cleaned up with a deadline, in this task ...
//!     async_drop_timeout(a, Duration::from_secs(5)).await?;
//!     // ... the other in the background.
//!     let cleanup = spawn_async_drop(b);
//!
//!     for _ in 0..2 {
//!         let (mut peer, _) = listener.accept().await?;
//!         let mut got = String::new();
//!         peer.read_to_string(&mut got).await?; // ends when the client shut down
//!         assert_eq!(got, "hello");
//!     }
//!     cleanup.await?;
//!     Ok(())
//! })
//! # }
//! ```

mod block;
mod reaper;
mod resources;
mod spawn;
mod time;

pub use self::block::{block_on_async_drop, block_on_async_drop_timeout, DEFAULT_BLOCKING_LIMIT};
pub use self::reaper::{Reaper, ReaperDrop, ReaperWorker};
pub use self::spawn::{
    background_cleanups, spawn_async_drop, wait_for_background_cleanups, SpawnOnDrop,
};
pub use self::time::{async_drop_timeout, AsyncDropTimeout};
pub use crate::rt::TaskPanic;
pub use crate::rt::{
    BackgroundError, BlockingError, CleanupHandle, CleanupPanic, DeadlineError, HandOver,
    HandOverError, ReaperStats,
};
