//! The errors the runtime adapters share.

use alloc::string::String;
use core::error::Error;
use core::fmt;
use core::time::Duration;
use std::sync::{Mutex, PoisonError};

use crate::outcome::{panic_message, Payload};
use crate::AsyncDropGuard;

/// How a cleanup with a time limit failed ([`async_drop_timeout_on`](super::async_drop_timeout_on)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use asyncdrop::rt::DeadlineError;
///
/// let after = Duration::from_millis(250);
/// let expired = DeadlineError::<std::io::Error>::Expired { type_name: "app::Conn", after };
/// assert!(expired.is_expired());
/// assert!(expired.to_string().starts_with("the cleanup of `app::Conn` did not finish within 250ms"));
/// assert_eq!(DeadlineError::Failed("reset").into_failed(), Some("reset"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadlineError<E> {
    /// The cleanup did not finish in time; its future was dropped. This error is the
    /// report: the [`Policy`](crate::Policy) is not told.
    Expired {
        /// The guarded type, as given by [`core::any::type_name`].
        type_name: &'static str,
        /// The time limit that ran out.
        after: Duration,
    },
    /// The cleanup finished in time, with this error.
    Failed(E),
}

impl<E> DeadlineError<E> {
    /// Whether the cleanup ran out of time.
    pub fn is_expired(&self) -> bool {
        matches!(self, DeadlineError::Expired { .. })
    }

    /// The cleanup's own error, if it finished in time with one.
    pub fn into_failed(self) -> Option<E> {
        match self {
            DeadlineError::Failed(error) => Some(error),
            DeadlineError::Expired { .. } => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for DeadlineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadlineError::Expired { type_name, after } => write!(
                f,
                "the cleanup of `{type_name}` did not finish within {after:?}; \
                 it was cancelled and the value dropped without finishing its cleanup"
            ),
            DeadlineError::Failed(error) => write!(f, "cleanup failed: {error}"),
        }
    }
}

impl<E: Error + 'static> Error for DeadlineError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            DeadlineError::Failed(error) => Some(error),
            DeadlineError::Expired { .. } => None,
        }
    }
}

/// How a cleanup that ran in the background failed, as its
/// [`CleanupHandle`](super::CleanupHandle) tells the task awaiting it.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::BackgroundError;
///
/// let e = BackgroundError::Failed("reset");
/// assert_eq!(e.to_string(), "background cleanup failed: reset");
/// assert!(e.panic().is_none());
/// assert_eq!(e.into_failed(), Some("reset"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BackgroundError<E> {
    /// The cleanup returned this error.
    Failed(E),
    /// The cleanup panicked; the panic was caught in the background task.
    Panicked(CleanupPanic),
    /// The runtime dropped the cleanup's task before it finished; the cleanup
    /// reported [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
    Cancelled {
        /// The guarded type, as given by [`core::any::type_name`].
        type_name: &'static str,
    },
}

impl<E> BackgroundError<E> {
    /// The cleanup's own error, if it returned one.
    pub fn into_failed(self) -> Option<E> {
        match self {
            BackgroundError::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// The caught panic, if the cleanup panicked.
    pub fn panic(&self) -> Option<&CleanupPanic> {
        match self {
            BackgroundError::Panicked(panic) => Some(panic),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for BackgroundError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackgroundError::Failed(error) => write!(f, "background cleanup failed: {error}"),
            BackgroundError::Panicked(panic) => write!(f, "background {panic}"),
            BackgroundError::Cancelled { type_name } => write!(
                f,
                "the background cleanup of `{type_name}` was cancelled: \
                 the runtime dropped its task before it finished"
            ),
        }
    }
}

impl<E: Error + 'static> Error for BackgroundError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BackgroundError::Failed(error) => Some(error),
            BackgroundError::Panicked(panic) => Some(panic),
            BackgroundError::Cancelled { .. } => None,
        }
    }
}

impl<E> From<BackgroundError<E>> for BlockingError<E> {
    fn from(error: BackgroundError<E>) -> Self {
        match error {
            BackgroundError::Failed(error) => BlockingError::Failed(error),
            BackgroundError::Panicked(panic) => BlockingError::Panicked(panic),
            BackgroundError::Cancelled { type_name } => BlockingError::Cancelled { type_name },
        }
    }
}

/// How a cleanup run from synchronous code failed
/// ([`block_on_async_drop_on`](super::block_on_async_drop_on)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use asyncdrop::rt::BlockingError;
///
/// let e = BlockingError::<std::io::Error>::TimedOut { type_name: "app::Conn", after: Duration::from_secs(10) };
/// assert!(e.is_timed_out());
/// assert!(e.to_string().contains("it goes on in the background"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BlockingError<E> {
    /// The cleanup returned this error.
    Failed(E),
    /// The cleanup panicked; the panic was caught.
    Panicked(CleanupPanic),
    /// The cleanup did not finish within the limit. It was **not** cancelled: it goes
    /// on in the background, reporting a later failure through the
    /// [`Policy`](crate::Policy).
    TimedOut {
        /// The guarded type, as given by [`core::any::type_name`].
        type_name: &'static str,
        /// How long the caller waited.
        after: Duration,
    },
    /// The runtime dropped the cleanup before it finished; the cleanup reported
    /// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
    Cancelled {
        /// The guarded type, as given by [`core::any::type_name`].
        type_name: &'static str,
    },
}

impl<E> BlockingError<E> {
    /// Whether the wait ran out of time (the cleanup goes on in the background).
    pub fn is_timed_out(&self) -> bool {
        matches!(self, BlockingError::TimedOut { .. })
    }

    /// The cleanup's own error, if it returned one.
    pub fn into_failed(self) -> Option<E> {
        match self {
            BlockingError::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// The caught panic, if the cleanup panicked.
    pub fn panic(&self) -> Option<&CleanupPanic> {
        match self {
            BlockingError::Panicked(panic) => Some(panic),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for BlockingError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingError::Failed(error) => write!(f, "cleanup failed: {error}"),
            BlockingError::Panicked(panic) => fmt::Display::fmt(panic, f),
            BlockingError::TimedOut { type_name, after } => write!(
                f,
                "the cleanup of `{type_name}` did not finish within {after:?}; \
                 it goes on in the background"
            ),
            BlockingError::Cancelled { type_name } => write!(
                f,
                "the cleanup of `{type_name}` was cancelled: \
                 its runtime shut down before it finished"
            ),
        }
    }
}

impl<E: Error + 'static> Error for BlockingError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BlockingError::Failed(error) => Some(error),
            BlockingError::Panicked(panic) => Some(panic),
            BlockingError::TimedOut { .. } | BlockingError::Cancelled { .. } => None,
        }
    }
}

/// A guard a cleanup worker ([`Reaper`](super::Reaper)) did not take, handed back;
/// dropping the error reports the value as [forgotten](crate::ReportKind::Forgotten).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::Reaper;
/// use asyncdrop::AsyncDropGuard;
///
/// # use asyncdrop::doc_fixture::Conn;
/// let rt = tokio::runtime::Runtime::new()?;
/// let (reaper, worker) = Reaper::spawn_on(rt.handle(), 4);
/// reaper.shutdown();
/// let err = reaper.try_hand_over(AsyncDropGuard::new(Conn)).unwrap_err();
/// assert!(err.is_closed());
/// rt.block_on(err.into_guard().async_drop())?; // clean it up here instead
/// rt.block_on(worker)?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum HandOverError<T> {
    /// The worker's queue is full (only from the non-blocking `try_hand_over`).
    Full(AsyncDropGuard<T>),
    /// The worker was shut down; it takes nothing more.
    Closed(AsyncDropGuard<T>),
    /// The queue is full and waiting for room here could deadlock the runtime
    /// ([`Runtime::blocking_could_deadlock`](super::Runtime::blocking_could_deadlock)).
    WouldBlock(AsyncDropGuard<T>),
}

impl<T> HandOverError<T> {
    /// The guard that was not handed over.
    pub fn into_guard(self) -> AsyncDropGuard<T> {
        match self {
            HandOverError::Full(guard)
            | HandOverError::Closed(guard)
            | HandOverError::WouldBlock(guard) => guard,
        }
    }

    /// Whether the worker was shut down (and will not take anything more).
    pub fn is_closed(&self) -> bool {
        matches!(self, HandOverError::Closed(_))
    }
}

impl<T> fmt::Debug for HandOverError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            HandOverError::Full(_) => "Full",
            HandOverError::Closed(_) => "Closed",
            HandOverError::WouldBlock(_) => "WouldBlock",
        };
        write!(f, "{name}(AsyncDropGuard<{}>)", core::any::type_name::<T>())
    }
}

impl<T> fmt::Display for HandOverError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self {
            HandOverError::Full(_) => "its queue is full",
            HandOverError::Closed(_) => "it was shut down",
            HandOverError::WouldBlock(_) => {
                "its queue is full, and waiting for room on this thread (which runs a \
                 single-threaded runtime) could deadlock"
            }
        };
        write!(
            f,
            "the cleanup worker for `{}` did not take the value: {reason}; the guard is handed back",
            core::any::type_name::<T>(),
        )
    }
}

impl<T> Error for HandOverError<T> {}

/// A caught panic of a task: a cleanup worker whose [`Policy`](crate::Policy)
/// panicked ([`WorkerError::Panicked`]), or a guarded smol or async-std task handle.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "smol")] {
/// use asyncdrop::AsyncDropGuard;
///
/// smol::block_on(async {
///     let task = smol::spawn(async { panic!("task broke") });
///     while !task.is_finished() {
///         smol::future::yield_now().await;
///     }
///     let err = AsyncDropGuard::new(task).async_drop().await.unwrap_err();
///     assert_eq!(err.message(), Some("task broke"));
///     assert_eq!(err.to_string(), "a task panicked: task broke");
///     assert!(err.into_payload().downcast_ref::<&str>().is_some());
/// });
/// # }
/// ```
pub struct TaskPanic {
    message: Option<String>,
    /// In a mutex only so that the error is `Sync`; it is never contended.
    payload: Mutex<Payload>,
}

impl TaskPanic {
    pub(crate) fn new(payload: Payload) -> Self {
        TaskPanic {
            message: panic_message(&*payload).map(String::from),
            payload: Mutex::new(payload),
        }
    }

    /// The panic message, if the task panicked with a string.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The payload the task panicked with.
    pub fn into_payload(self) -> Payload {
        self.payload
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Goes on unwinding with the task's panic ([`std::panic::resume_unwind`]).
    pub fn resume_unwind(self) -> ! {
        std::panic::resume_unwind(self.into_payload())
    }

    /// Writes `what`, then `: message` if there is one.
    fn fmt_with(&self, f: &mut fmt::Formatter<'_>, what: fmt::Arguments<'_>) -> fmt::Result {
        f.write_fmt(what)?;
        match &self.message {
            Some(message) => write!(f, ": {message}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for TaskPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskPanic")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for TaskPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_with(f, format_args!("a task panicked"))
    }
}

impl Error for TaskPanic {}

/// A panic caught in a cleanup that ran away from its owner (a background task, a
/// helper thread); part of [`BackgroundError`] and [`BlockingError`].
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use asyncdrop::rt::tokio::block_on_async_drop;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Buggy;
/// impl AsyncDrop for Buggy {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { panic!("flush failed") }
/// }
///
/// let err = block_on_async_drop(AsyncDropGuard::new(Buggy)).unwrap_err();
/// let panic = err.panic().unwrap();
/// assert_eq!((panic.message(), panic.type_name()), (Some("flush failed"), std::any::type_name::<Buggy>()));
/// # }
/// ```
pub struct CleanupPanic {
    type_name: &'static str,
    caught: TaskPanic,
}

impl CleanupPanic {
    pub(crate) fn new(type_name: &'static str, payload: Payload) -> Self {
        CleanupPanic {
            type_name,
            caught: TaskPanic::new(payload),
        }
    }

    /// The guarded type whose cleanup panicked.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The panic message, if the cleanup panicked with a string.
    pub fn message(&self) -> Option<&str> {
        self.caught.message()
    }

    /// The payload the cleanup panicked with.
    pub fn into_payload(self) -> Payload {
        self.caught.into_payload()
    }

    /// Goes on unwinding with the original payload ([`std::panic::resume_unwind`]).
    pub fn resume_unwind(self) -> ! {
        self.caught.resume_unwind()
    }
}

impl fmt::Debug for CleanupPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanupPanic")
            .field("type_name", &self.type_name)
            .field("message", &self.caught.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for CleanupPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.caught.fmt_with(
            f,
            format_args!("the cleanup of `{}` panicked", self.type_name),
        )
    }
}

impl Error for CleanupPanic {}

/// How a cleanup worker ([`ReaperWorker`](super::ReaperWorker)) stopped without
/// finishing its work.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "smol")] {
/// use std::sync::Arc;
/// use asyncdrop::rt::smol::{Reaper, Smol};
///
/// # use asyncdrop::doc_fixture::Conn;
/// let executor = Arc::new(smol::Executor::new());
/// let (reaper, worker) = Reaper::<Conn>::spawn_on(&Smol::from(executor.clone()), 4);
/// drop((executor, reaper)); // the worker's task goes with its executor
/// let err = smol::block_on(worker).unwrap_err();
/// assert!(err.is_cancelled() && !err.is_panic());
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum WorkerError {
    /// The worker's task was dropped before it finished (its runtime shut down);
    /// each running and queued value reported its cancellation.
    Cancelled,
    /// The [`Policy`](crate::Policy) panicked on a report; the worker finished every
    /// cleanup, then stopped with the first such panic.
    Panicked(TaskPanic),
}

impl WorkerError {
    /// Whether the worker was cancelled (its runtime dropped its task).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, WorkerError::Cancelled)
    }

    /// Whether the worker stopped with a panic of the policy.
    pub fn is_panic(&self) -> bool {
        matches!(self, WorkerError::Panicked(_))
    }

    /// The caught panic, if the worker stopped with one.
    pub fn into_panic(self) -> Option<TaskPanic> {
        match self {
            WorkerError::Panicked(panic) => Some(panic),
            WorkerError::Cancelled => None,
        }
    }
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Cancelled => f.write_str(
                "the cleanup worker was cancelled: its runtime shut down \
                 or its executor was dropped before it finished",
            ),
            WorkerError::Panicked(panic) => panic.fmt_with(
                f,
                format_args!("the cleanup worker stopped because the policy panicked"),
            ),
        }
    }
}

impl Error for WorkerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            WorkerError::Panicked(panic) => Some(panic),
            WorkerError::Cancelled => None,
        }
    }
}
