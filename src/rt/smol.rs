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
//! The runtime is [`Smol`]: smol's global executor, or an [`Executor`] of yours.
//! The items here are [the crate's adapter items](crate::rt) on it, plus
//! [`AsyncDrop`] for `Task<T>`, `Async<TcpStream>`,
//! `Async<UnixStream>`, `net::TcpStream`, `net::unix::UnixStream`, `fs::File`,
//! `io::BufWriter<W>` and `process::Child`.
//!
//! # How smol differs from tokio here
//!
//! smol has no "current runtime" to look up. Background work goes to smol's
//! *global executor* ([`smol::spawn`]), which smol starts on first
//! use on background threads of its own (`SMOL_THREADS`, default 1); or, with the
//! `_on` / `with_executor` variants, to an [`Executor`] of yours.
//! So spawning never fails: there is no "outside a runtime" error. Timers and I/O
//! are driven by smol's global reactor, so a deadline works in any task, on any
//! executor, and a blocked thread does not stop other threads' I/O or timers.
//!
//! Two consequences to keep in mind:
//!
//! - **The global executor never shuts down.** Background cleanups still running
//!   when `main` returns are not finished and not reported: the process just ends.
//!   Await the [`CleanupHandle`]s, the [`ReaperWorker`] after
//!   [`Reaper::shutdown`](crate::rt::Reaper::shutdown), or every background cleanup
//!   with [`wait_for_background_cleanups`], before returning when it matters.
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
//!     let cleanup = spawn_async_drop(b)?;
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

mod resources;

use alloc::sync::Arc;
use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::thread;

use ::smol::{Executor, Timer};
use pin_project_lite::pin_project;

use super::handle::detached;
use super::{CleanupTracker, Runtime};
use crate::{AsyncDrop, AsyncDropGuard};

runtime_items!(Smol);

/// smol as a [`Runtime`]: its global executor ([`Smol::global`], what
/// [`Runtime::current`] gives) or an [`Executor`] of yours.
///
/// Timers and I/O run on smol's global reactor, so deadlines work in any task and
/// blocking is safe on any thread that does not run an executor.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use asyncdrop::rt::smol::{Smol, SpawnOnDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let executor = Arc::new(smol::Executor::new());
/// let runtime = Smol::from(executor.clone());
/// assert!(runtime.executor().is_some());
/// drop(SpawnOnDrop::with_runtime(AsyncDropGuard::new(Conn), runtime));
/// while executor.try_tick() {} // runs the cleanup
/// ```
#[derive(Clone, Default)]
pub struct Smol {
    executor: Option<Arc<Executor<'static>>>,
}

impl Smol {
    /// smol's global executor ([`smol::spawn`]).
    pub fn global() -> Self {
        Smol { executor: None }
    }

    /// The executor of yours, if this is not the global one.
    pub fn executor(&self) -> Option<&Arc<Executor<'static>>> {
        self.executor.as_ref()
    }
}

impl From<Arc<Executor<'static>>> for Smol {
    fn from(executor: Arc<Executor<'static>>) -> Self {
        Smol {
            executor: Some(executor),
        }
    }
}

impl fmt::Debug for Smol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.executor {
            None => "global executor",
            Some(_) => "user executor",
        })
    }
}

impl Runtime for Smol {
    type Sleep = Timer;
    const NAME: &'static str = "smol";

    /// Always the global executor: smol has no current one.
    fn current() -> Option<Self> {
        Some(Smol::global())
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let future = Marked { inner: future };
        match &self.executor {
            None => ::smol::spawn(future).detach(),
            Some(executor) => executor.spawn(future).detach(),
        }
    }

    /// A limit too far out for the clock never fires.
    fn sleep(&self, duration: Duration) -> Timer {
        Timer::after(duration)
    }

    /// One of smol's global executor threads (named `smol-N`), or a thread that
    /// has polled a task this adapter spawned.
    fn blocking_could_deadlock(&self) -> bool {
        match RUNS_TASKS.try_with(Cell::get) {
            Ok(true) | Err(_) => true,
            Ok(false) => thread::current()
                .name()
                .is_some_and(|name| name.starts_with("smol-")),
        }
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        ::smol::block_on(future)
    }

    fn tracker() -> &'static CleanupTracker {
        static TRACKER: CleanupTracker = CleanupTracker::new();
        &TRACKER
    }
}

std::thread_local! {
    /// Set on a thread the first time it polls a task this adapter spawned: the
    /// thread runs an executor, and blocking it could stall that executor.
    static RUNS_TASKS: Cell<bool> = const { Cell::new(false) };
}

pin_project! {
    /// A task of this adapter: marks the thread that polls it as an executor thread.
    struct Marked<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Marked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // During thread teardown there is nothing left to mark.
        let _ = RUNS_TASKS.try_with(|runs| runs.set(true));
        self.project().inner.poll(cx)
    }
}

/// Runs the cleanup of `guard` as a task on `executor` (any lifetime), as
/// [`crate::rt::spawn_async_drop_on`]; it runs when something runs the executor.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::smol::spawn_async_drop_on;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session;
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let executor = smol::Executor::new();
/// let cleanup = spawn_async_drop_on(&executor, AsyncDropGuard::new(Session));
/// assert!(!cleanup.is_finished()); // nothing ran the executor yet
/// smol::block_on(executor.run(cleanup)).expect("cleaned up");
/// ```
pub fn spawn_async_drop_on<T>(executor: &Executor<'_>, guard: AsyncDropGuard<T>) -> CleanupHandle<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let (task, handle) = detached(guard);
    let task = <Smol as Runtime>::tracker().track(task);
    executor.spawn(Marked { inner: task }).detach();
    handle
}

/// Runs the cleanup of `guard` to completion from synchronous code, waiting at most
/// `limit`, as [`block_on_async_drop_on`](crate::rt::block_on_async_drop_on) on
/// [`Smol::global`]: in place on a plain thread or inside `smol::block_on`, on a
/// helper thread on an executor thread.
///
/// # Errors
///
/// See [`BlockingError`].
pub fn block_on_async_drop_timeout<T>(
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> Result<(), BlockingError<T::Error>>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    crate::rt::block_on_async_drop_on(&Smol::global(), guard, limit)
}

/// The smol-specific ways to name an executor of yours.
impl<T: AsyncDrop + 'static> SpawnOnDrop<T>
where
    T::Error: fmt::Debug,
{
    /// Wraps `guard`; dropping the wrapper spawns the cleanup on `executor`.
    pub fn with_executor(guard: AsyncDropGuard<T>, executor: Arc<Executor<'static>>) -> Self {
        Self::with_runtime(guard, Smol::from(executor))
    }

    /// The executor of yours the cleanup will be spawned on, if not the global one.
    pub fn executor(this: &Self) -> Option<&Arc<Executor<'static>>> {
        Self::runtime(this).and_then(Smol::executor)
    }
}

impl<T: AsyncDrop + 'static> Reaper<T>
where
    T::Error: fmt::Debug,
{
    /// The executor of yours the worker runs on, if not the global one.
    pub fn executor(&self) -> Option<&Arc<Executor<'static>>> {
        self.runtime().executor()
    }
}
