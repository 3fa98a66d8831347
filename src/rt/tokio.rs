//! The tokio adapter (tokio 1.38 or later, both runtime flavors): [the crate's
//! adapter items](crate::rt) on tokio's [`Handle`], and [`AsyncDrop`] for
//! `JoinHandle<T>` and `JoinSet<T>`, plus with features of their own `TcpStream`,
//! `UnixStream` (`tokio-net`), `File` (`tokio-fs`), `BufWriter<W>`
//! (`tokio-io-util`) and `Child` (`tokio-process`).
//!
//! # Examples
//!
//! ```
//! # #[cfg(all(unix, feature = "tokio-net"))] {
//! use std::time::Duration;
//! use asyncdrop::rt::tokio::{async_drop_timeout, spawn_async_drop};
//! use asyncdrop::AsyncDropGuard;
//!
//! tokio::runtime::Runtime::new()?.block_on(async {
//!     let (a, b) = tokio::net::UnixStream::pair()?;
//!     // `UnixStream` is `AsyncDrop`: its cleanup shuts the stream down.
//!     async_drop_timeout(AsyncDropGuard::new(a), Duration::from_secs(5)).await?;
//!     spawn_async_drop(AsyncDropGuard::new(b))?.await?; // in the background
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod resources;

use alloc::boxed::Box;
use core::future::Future;
use core::panic::AssertUnwindSafe;
use core::time::Duration;
use std::panic::{catch_unwind, resume_unwind};

use ::tokio::runtime::{Builder, Handle, RuntimeFlavor};

use super::handle::detached;
use super::{CleanupTracker, LocalRuntime, Runtime};
use crate::wait::wait_for;
use crate::{AsyncDrop, AsyncDropGuard};

runtime_items!(Handle, spawn_on);

/// A tokio runtime: tasks go to [`Handle::spawn`], sleeps to tokio's timer.
impl Runtime for Handle {
    type Sleep = ::tokio::time::Sleep;
    const NAME: &'static str = "tokio";

    fn current() -> Option<Self> {
        Handle::try_current().ok()
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        // The task reports for itself; its `JoinHandle` has nothing to add.
        drop(Handle::spawn(self, future));
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        let _context = self.enter();
        ::tokio::time::sleep(duration)
    }

    /// `true` on a current-thread runtime's thread, and for a current-thread runtime
    /// anywhere (only its own thread drives its timers and I/O).
    fn blocking_could_deadlock(&self) -> bool {
        match Handle::try_current() {
            Ok(current) => current.runtime_flavor() != RuntimeFlavor::MultiThread,
            Err(_) => self.runtime_flavor() != RuntimeFlavor::MultiThread,
        }
    }

    /// Parks this thread in the runtime's context ([`Handle::enter`]) inside
    /// `block_in_place`, which on a multi-thread runtime's worker hands the worker's
    /// other tasks to another thread meanwhile and elsewhere just runs it (in a
    /// `LocalSet`, where tokio refuses, on a scoped helper thread).
    fn block_on<F>(&self, future: F, limit: Duration) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        let wait = |future: F| {
            let _context = self.enter();
            wait_for(&mut core::pin::pin!(future), limit)
        };
        let mut future = Some(future);
        let blocked = catch_unwind(AssertUnwindSafe(|| {
            ::tokio::task::block_in_place(|| future.take().and_then(&wait))
        }));
        match (blocked, future) {
            (Ok(output), _) => output,
            // `block_in_place` refused before running anything (inside a `LocalSet`).
            (Err(_), Some(future)) => {
                std::thread::scope(|scope| scope.spawn(|| wait(future)).join())
                    .unwrap_or_else(|payload| resume_unwind(payload))
            }
            (Err(payload), None) => resume_unwind(payload),
        }
    }

    fn tracker() -> &'static CleanupTracker {
        static TRACKER: CleanupTracker = CleanupTracker::new();
        &TRACKER
    }
}

/// The current `LocalSet` as a [`LocalRuntime`]: `!Send` cleanups go to
/// `tokio::task::spawn_local`, which panics outside a `LocalSet`.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::spawn_local_async_drop_on;
/// use asyncdrop::rt::tokio::Local;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Journal; // `!Send`
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// let local = tokio::task::LocalSet::new();
/// let journal = AsyncDropGuard::new(Journal::default());
/// local.block_on(&rt, async { spawn_local_async_drop_on(&Local, journal).await })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl LocalRuntime for Local {
    fn spawn_local<F: Future<Output = ()> + 'static>(&self, future: F) {
        drop(::tokio::task::spawn_local(future));
    }
}

/// Runs the cleanup of `guard` to completion from synchronous code, waiting at most
/// `limit`, as [`block_on_async_drop_on`](crate::rt::block_on_async_drop_on) on the
/// current runtime; outside any runtime on a temporary current-thread runtime with
/// I/O and timers enabled (enter a runtime first, [`Handle::enter`], to use that
/// one).
///
/// # Errors
///
/// See [`BlockingError`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use asyncdrop::rt::tokio::block_on_async_drop_timeout;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// // Outside any runtime: a temporary one runs the cleanup.
/// block_on_async_drop_timeout(AsyncDropGuard::new(Conn), Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn block_on_async_drop_timeout<T: AsyncDrop<Error: core::fmt::Debug> + 'static>(
    guard: AsyncDropGuard<T>,
    limit: Duration,
) -> Result<(), BlockingError<T::Error>> {
    if let Ok(runtime) = Handle::try_current() {
        let could_deadlock = runtime.runtime_flavor() != RuntimeFlavor::MultiThread;
        return super::block::block_on_async_drop_where(&runtime, could_deadlock, guard, limit);
    }
    let (task, mut handle) = detached(guard);
    let mut task = Box::pin(<Handle as Runtime>::tracker().track(task));
    let mut left = Duration::ZERO; // how long to wait below, after a temporary runtime
    match Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => {
            let in_time = async { ::tokio::time::timeout(limit, task.as_mut()).await };
            if runtime.block_on(in_time).is_ok() {
                runtime.shutdown_background(); // never wait for what the cleanup left
            } else {
                // The rest goes on on a helper thread (or is dropped, reporting).
                super::runtime::helper_thread(move || runtime.block_on(task));
            }
        }
        // Out of file descriptors? A plain helper thread: tokio resources fail, not hang.
        Err(_) => {
            left = limit;
            super::runtime::helper_thread(move || {
                let _ = wait_for(&mut task, Duration::MAX);
            });
        }
    }
    match wait_for(&mut handle, left) {
        Some(result) => result.map_err(BlockingError::from),
        None => Err(BlockingError::TimedOut {
            type_name: handle.type_name(),
            after: limit,
        }),
    }
}
