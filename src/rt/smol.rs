//! The smol adapter (smol 2): [the crate's adapter items](crate::rt) on [`Smol`] —
//! smol's global executor or an [`Executor`] of yours — and [`AsyncDrop`] for
//! `Task<T>`, `Async<TcpStream>`, `Async<UnixStream>`, `net::TcpStream`,
//! `net::unix::UnixStream`, `fs::File`, `io::BufWriter<W>` and `process::Child`.
//!
//! Background work goes to the global executor unless one of yours is given, so
//! spawning never fails; timers and I/O run on smol's global reactor, so a deadline
//! works on any executor. **The global executor never shuts down**: wait for
//! cleanups before `main` returns ([`wait_for_background_cleanups`], the
//! [`ReaperWorker`]). An executor of yours that is dropped drops its tasks, which
//! report [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
//!
//! # Examples
//!
//! ```
//! # #[cfg(unix)] {
//! use std::time::Duration;
//! use asyncdrop::rt::smol::{async_drop_timeout, spawn_async_drop};
//! use asyncdrop::AsyncDropGuard;
//!
//! smol::block_on(async {
//!     let (a, b) = std::os::unix::net::UnixStream::pair()?;
//!     // `Async<UnixStream>` is `AsyncDrop`: its cleanup shuts the stream down.
//!     let a = AsyncDropGuard::new(smol::Async::new(a)?);
//!     async_drop_timeout(a, Duration::from_secs(5)).await?; // in this task
//!     let cleanup = spawn_async_drop(AsyncDropGuard::new(smol::Async::new(b)?))?;
//!     cleanup.await?; // on the global executor
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod resources;

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::time::Duration;
use std::thread;

use ::smol::{Executor, Timer};

use super::handle::detached;
use super::{CleanupTracker, Runtime};
use crate::{AsyncDrop, AsyncDropGuard};

runtime_items!(Smol, global);

/// smol as a [`Runtime`]: its global executor ([`Smol::global`], what
/// [`Runtime::current`] gives) or an [`Executor`] of yours.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use asyncdrop::rt::smol::{Smol, SpawnOnDrop};
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
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

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
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
        super::runtime::runs_tasks()
            || thread::current()
                .name()
                .is_some_and(|name| name.starts_with("smol-"))
    }

    fn block_on<F>(&self, future: F, limit: Duration) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        ::smol::block_on(super::runtime::within(self, future, limit))
    }

    fn tracker() -> &'static CleanupTracker {
        static TRACKER: CleanupTracker = CleanupTracker::new();
        &TRACKER
    }
}

/// Runs the cleanup of `guard` as a task on `executor` (any lifetime), as
/// [`crate::rt::spawn_async_drop_on`]; it runs when something runs the executor.
pub fn spawn_async_drop_on<T: AsyncDrop<Error: fmt::Debug> + 'static>(
    executor: &Executor<'_>,
    guard: AsyncDropGuard<T>,
) -> CleanupHandle<T> {
    let (task, handle) = detached(guard);
    let task = super::runtime::Quiet::new(<Smol as Runtime>::tracker().track(task));
    executor.spawn(task).detach();
    handle
}

/// The smol-specific ways to name an executor of yours.
impl<T: AsyncDrop<Error: fmt::Debug> + 'static> SpawnOnDrop<T> {
    /// Wraps `guard`; dropping the wrapper spawns the cleanup on `executor`.
    pub fn with_executor(guard: AsyncDropGuard<T>, executor: Arc<Executor<'static>>) -> Self {
        Self::with_runtime(guard, Smol::from(executor))
    }

    /// The executor of yours the cleanup will be spawned on, if not the global one.
    pub fn executor(this: &Self) -> Option<&Arc<Executor<'static>>> {
        Self::runtime(this).and_then(Smol::executor)
    }
}

impl<T: AsyncDrop<Error: fmt::Debug> + 'static> Reaper<T> {
    /// The executor of yours the worker runs on, if not the global one.
    pub fn executor(&self) -> Option<&Arc<Executor<'static>>> {
        self.runtime().executor()
    }
}
