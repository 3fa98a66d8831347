//! Background cleanup: hand a guard's cleanup to async-std's global executor, and
//! keep count of what runs there.

use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::time::Duration;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::guard::Held;
use crate::rt::handle::detached;
use crate::rt::reaper::Background;
use crate::rt::CleanupHandle;
use crate::{AsyncDrop, AsyncDropGuard};

// ---------------------------------------------------------------------------------
// Counting background cleanups
// ---------------------------------------------------------------------------------

/// How many background cleanups of this adapter have not ended.
static RUNNING: Mutex<usize> = Mutex::new(0);
/// Signalled whenever one ends.
static ENDED: Condvar = Condvar::new();

fn running() -> MutexGuard<'static, usize> {
    // Nothing panics while the lock is held; tolerate poisoning anyway.
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts one background cleanup from its creation until it is dropped (finished,
/// or dropped unfinished).
struct Token(());

impl Token {
    fn new() -> Token {
        *running() += 1;
        Token(())
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let mut running = running();
        *running -= 1;
        drop(running);
        ENDED.notify_all();
    }
}

/// `future`, counted as a background cleanup until it ends or is dropped.
pub(super) fn tracked<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let token = Token::new();
    async move {
        let _token = token;
        future.await
    }
}

/// Runs `task` as a detached, counted task on the global executor.
pub(super) fn spawn_background(task: impl Future<Output = ()> + Send + 'static) {
    // Dropping async-std's `JoinHandle` detaches the task.
    drop(::async_std::task::spawn(tracked(task)));
}

/// Whether this thread runs an async-std task: a spawned task, or the future of
/// `async_std::task::block_on`. Blocking here could starve the executor.
pub(super) fn in_async_std_task() -> bool {
    ::async_std::task::try_current().is_some()
}

/// async-std's global executor, for the shared cleanup-worker code.
pub(super) struct Global;

impl Background for Global {
    fn on_runtime_thread(&self) -> bool {
        in_async_std_task()
    }

    fn detach<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        spawn_background(future);
    }
}

/// How many background cleanups of this adapter are running (or waiting to run).
///
/// Counted are the cleanups started by [`spawn_async_drop`] and [`SpawnOnDrop`],
/// those a [`ReaperDrop`](super::ReaperDrop) or a shut-down [`Reaper`](super::Reaper)
/// hands to a task of their own, and those
/// [`block_on_async_drop_timeout`](super::block_on_async_drop_timeout) runs on a
/// helper thread or gave up waiting for. The cleanups of a
/// [`Reaper`](super::Reaper)'s worker are not counted: await its
/// [`ReaperWorker`](super::ReaperWorker).
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::{background_cleanups, wait_for_background_cleanups, SpawnOnDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
/// use std::time::Duration;
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         async_std::task::sleep(Duration::from_millis(10)).await;
///         Ok(())
///     }
/// }
///
/// drop(SpawnOnDrop::new(AsyncDropGuard::new(Conn)));
/// println!("{} cleanup(s) running in the background", background_cleanups());
/// assert_eq!(wait_for_background_cleanups(Duration::from_secs(5)), 0);
/// assert_eq!(background_cleanups(), 0);
/// ```
pub fn background_cleanups() -> usize {
    *running()
}

/// Blocks the calling thread until every background cleanup of this adapter (see
/// [`background_cleanups`]) has ended, or `limit` has passed; returns how many are
/// still running — `0` when all are done.
///
/// async-std's runtime never shuts down: when `main` returns, a cleanup still
/// running in the background is neither finished nor dropped, and nothing reports
/// it. Call this at the end of `main` (or wherever the program stops) so that no
/// cleanup is cut off silently; report or log a non-zero result.
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`.
///
/// # Blocking
///
/// It blocks the thread, so call it from synchronous code: after
/// `async_std::task::block_on` returned, or from the body of `#[async_std::main]`
/// (whose thread is not one of the executor's). Inside a spawned task it blocks an
/// executor thread for up to `limit`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use asyncdrop::rt::async_std::{spawn_async_drop, wait_for_background_cleanups};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session;
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         async_std::task::sleep(Duration::from_millis(10)).await; // log out
///         Ok(())
///     }
/// }
///
/// fn main() {
///     async_std::task::block_on(async {
///         // Fire and forget: the handle is dropped.
///         drop(spawn_async_drop(AsyncDropGuard::new(Session)));
///     });
///     // Before the process exits:
///     let left = wait_for_background_cleanups(Duration::from_secs(5));
///     if left > 0 {
///         eprintln!("{left} cleanups did not finish");
///     }
///     # assert_eq!(left, 0);
/// }
/// ```
#[must_use = "the number of cleanups still running; report it if it is not zero"]
pub fn wait_for_background_cleanups(limit: Duration) -> usize {
    let deadline = Instant::now().checked_add(limit);
    let mut running = running();
    loop {
        if *running == 0 {
            return 0;
        }
        running = match deadline {
            // A limit too large for the clock: no limit.
            None => ENDED.wait(running).unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return *running;
                }
                ENDED
                    .wait_timeout(running, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}

// ---------------------------------------------------------------------------------
// Spawning
// ---------------------------------------------------------------------------------

/// Runs the cleanup of `guard` as a task on async-std's global executor.
///
/// Returns at once with a [`CleanupHandle`]: await it to learn when the cleanup
/// finished and how; drop it to let the cleanup go on alone. Either way a failure is
/// never lost: it goes to whoever awaits the handle, or else to the
/// [`Policy`](crate::Policy) (see [`CleanupHandle`]).
///
/// `T` must be [`AsyncDrop`] (its cleanup future is `Send`) and `'static`; a
/// `!Send` ([`LocalAsyncDrop`](crate::LocalAsyncDrop)-only) resource is rejected at
/// compile time — clean it up in place, on its own task.
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`.
///
/// # No runtime needed
///
/// async-std's executor is global and starts on first use, so this works from any
/// thread — there is no "outside a runtime" error as with tokio, and so no `Result`.
///
/// # Runtime shutdown
///
/// The global executor never shuts down. A cleanup still running when the process
/// exits is cut off without a report: await the handle, or call
/// [`wait_for_background_cleanups`] before `main` returns.
///
/// # Panics
///
/// Only if async-std cannot start its executor threads on first use (async-std
/// panics then); the cleanup is then dropped unfinished and reported as
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::spawn_async_drop;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Session {
///     id: u32,
/// }
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         async_std::task::yield_now().await; // log session `self.id` out, close the socket, ...
///         assert!(self.id > 0);
///         Ok(())
///     }
/// }
///
/// // From async code ...
/// async_std::task::block_on(async {
///     let cleanup = spawn_async_drop(AsyncDropGuard::new(Session { id: 1 }));
///     // ... carry on; later, if it matters, wait for the cleanup:
///     cleanup.await.expect("logged out");
/// });
///
/// // ... or from a plain thread: the global executor runs it either way.
/// let cleanup = spawn_async_drop(AsyncDropGuard::new(Session { id: 2 }));
/// async_std::task::block_on(cleanup)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn_async_drop<T>(guard: AsyncDropGuard<T>) -> CleanupHandle<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    let (task, handle) = detached(guard);
    spawn_background(task);
    handle
}

/// A guarded value whose `Drop` spawns its cleanup on async-std's global executor,
/// instead of reporting it as forgotten.
///
/// For values whose cleanup may run after their owner is gone: connections in a
/// cache, sessions of a request handler that may be cancelled. It dereferences to
/// the value. To clean up in place after all, take the guard back with
/// [`into_guard`](Self::into_guard) and `.async_drop().await` it; to get a handle on
/// the background cleanup, use [`spawn`](Self::spawn).
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`. It needs
/// no runtime set up: async-std's global executor starts on first use.
///
/// # Drop behaviour
///
/// Dropping it spawns the cleanup as a detached task on the global executor, from
/// whatever thread drops it — a task, `block_on`, or a plain thread. The drop
/// itself never blocks and never reports anything itself: the task reports the
/// cleanup's error or panic through the [`Policy`](crate::Policy), as
/// [`ReportKind::Failed`](crate::ReportKind::Failed) /
/// [`ReportKind::Panicked`](crate::ReportKind::Panicked). A policy that panics
/// (the default one does) panics in that background task: the panic is printed by
/// the panic hook and ends the task, not the executor thread.
///
/// The global executor never shuts down: a cleanup still running when the process
/// exits is cut off without a report. Call [`wait_for_background_cleanups`] before
/// `main` returns.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::{wait_for_background_cleanups, SpawnOnDrop};
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
/// use std::time::Duration;
///
/// struct Conn {
///     peer: &'static str,
/// }
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         async_std::task::yield_now().await; // say goodbye, shut down
///         Ok(())
///     }
/// }
///
/// async_std::task::block_on(async {
///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn { peer: "db" }));
///     assert_eq!(conn.peer, "db");
///     drop(conn); // the cleanup runs as a task
/// });
/// assert_eq!(wait_for_background_cleanups(Duration::from_secs(5)), 0);
/// ```
pub struct SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// `None` only after `into_guard`/`spawn` or inside `drop`.
    guard: Held<T>,
}

impl<T> SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    /// Wraps `guard`; dropping the wrapper spawns the cleanup.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Duration;
    /// use asyncdrop::rt::async_std::{wait_for_background_cleanups, SpawnOnDrop};
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// static CLOSED: AtomicUsize = AtomicUsize::new(0);
    ///
    /// struct Conn(u32);
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> {
    ///         CLOSED.fetch_add(1, Ordering::SeqCst);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// // No runtime to set up, even on a plain thread:
    /// let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn(7)));
    /// assert_eq!(conn.0, 7);
    /// drop(conn); // the cleanup runs as a task on the global executor
    /// assert_eq!(wait_for_background_cleanups(Duration::from_secs(5)), 0);
    /// assert_eq!(CLOSED.load(Ordering::SeqCst), 1);
    /// ```
    pub fn new(guard: AsyncDropGuard<T>) -> Self {
        SpawnOnDrop {
            guard: Held::new(guard),
        }
    }

    /// Takes the guard back out, **without** any cleanup: back to the explicit path,
    /// where the owner calls [`AsyncDropGuard::async_drop`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::async_std::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// async_std::task::block_on(async {
    ///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    ///     SpawnOnDrop::into_guard(conn).async_drop().await // cleaned up right here
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_guard(mut this: Self) -> AsyncDropGuard<T> {
        this.guard.take()
    }

    /// Spawns the cleanup now and returns its [`CleanupHandle`], as
    /// [`spawn_async_drop`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::rt::async_std::SpawnOnDrop;
    /// use asyncdrop::{AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn;
    /// impl AsyncDrop for Conn {
    ///     type Error = std::io::Error;
    ///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// async_std::task::block_on(async {
    ///     let conn = SpawnOnDrop::new(AsyncDropGuard::new(Conn));
    ///     let cleanup = SpawnOnDrop::spawn(conn);
    ///     cleanup.await.expect("cleaned up");
    /// });
    /// ```
    pub fn spawn(this: Self) -> CleanupHandle<T> {
        spawn_async_drop(Self::into_guard(this))
    }
}

impl<T> Deref for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> fmt::Debug for SpawnOnDrop<T>
where
    T: AsyncDrop + fmt::Debug + 'static,
    T::Error: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnOnDrop")
            .field("value", &**self.guard)
            .finish()
    }
}

impl<T> Drop for SpawnOnDrop<T>
where
    T: AsyncDrop + 'static,
    T::Error: fmt::Debug,
{
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take_for_drop() {
            Global.clean_up_detached(guard);
        }
    }
}
