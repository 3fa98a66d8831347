//! The tokio adapter: background cleanup, a bounded cleanup worker, deadlines,
//! blocking from sync code, and async drop for tokio's own resources.
//!
//! Enable it with the `tokio` feature:
//!
//! ```toml
//! asyncdrop = { version = "0.1", features = ["tokio"] }
//! ```
//!
//! Everything here needs a tokio runtime (tokio 1.38 or later); each item says what
//! it does without one. Both runtime flavors are supported, current-thread and
//! multi-thread.
//!
//! | | |
//! |---|---|
//! | background cleanup | [`spawn_async_drop`], [`spawn_async_drop_on`], [`SpawnOnDrop`], [`CleanupHandle`] |
//! | bounded cleanup worker | [`Reaper`], [`ReaperDrop`], [`ReaperWorker`], [`ReaperStats`] |
//! | deadline | [`async_drop_timeout`], [`DeadlineError`] |
//! | blocking from sync code | [`block_on_async_drop`], [`block_on_async_drop_timeout`], [`BlockingError`] |
//! | tokio's resources | [`AsyncDrop`](crate::AsyncDrop) for `TcpStream`, `UnixStream`, `File`, `BufWriter<W>`, `JoinHandle<T>`, `JoinSet<T>`, `Child` |
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
//! use asyncdrop::rt::tokio::{async_drop_timeout, spawn_async_drop};
//! use asyncdrop::AsyncDropGuard;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! tokio::runtime::Runtime::new()?.block_on(async {
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
//!     let cleanup = spawn_async_drop(b)?;
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
pub use self::spawn::{spawn_async_drop, spawn_async_drop_on, NoRuntime, SpawnOnDrop};
pub use self::time::{async_drop_timeout, AsyncDropTimeout};
pub use crate::rt::{
    BackgroundError, BlockingError, CleanupHandle, CleanupPanic, DeadlineError, HandOver,
    HandOverError, ReaperStats,
};
