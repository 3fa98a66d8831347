//! The errors of the smol adapter that tokio's has no counterpart for (tokio's
//! `JoinError` plays their part there).

use alloc::boxed::Box;
use alloc::string::String;
use core::any::Any;
use core::error::Error;
use core::fmt;
use std::sync::{Mutex, PoisonError};

use crate::outcome::{panic_message, Payload};

/// A smol task panicked; its panic was caught.
///
/// The error of the cleanup of a guarded [`smol::Task`] whose task
/// panicked (smol would resume that panic in whoever awaits the task; the cleanup
/// hands it back as an error instead), and part of [`WorkerError`].
///
/// It keeps the panic's message, if it was a string (as `panic!` makes it), and the
/// payload, to go on unwinding with [`resume_unwind`](Self::resume_unwind).
///
/// Requires the `smol` feature.
///
/// # Examples
///
/// ```
/// use asyncdrop::AsyncDropGuard;
///
/// smol::block_on(async {
///     let task = smol::spawn(async { panic!("task broke") });
///     while !task.is_finished() {
///         smol::future::yield_now().await;
///     }
///     let err = AsyncDropGuard::new(task).async_drop().await.unwrap_err();
///     assert_eq!(err.message(), Some("task broke"));
///     assert_eq!(err.to_string(), "the task panicked: task broke");
/// });
/// ```
pub struct TaskPanic {
    message: Option<String>,
    /// In a mutex only so that the error is `Sync`; it is never locked.
    payload: Mutex<Payload>,
}

impl TaskPanic {
    pub(super) fn new(payload: Payload) -> Self {
        TaskPanic {
            message: panic_message(&*payload).map(String::from),
            payload: Mutex::new(payload),
        }
    }

    /// The panic message, if the task panicked with a string.
    ///
    /// # Examples
    ///
    /// See [`TaskPanic`].
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The payload the task panicked with.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::AsyncDropGuard;
    ///
    /// smol::block_on(async {
    ///     let task = smol::spawn(async { std::panic::panic_any(7_u8) });
    ///     while !task.is_finished() {
    ///         smol::future::yield_now().await;
    ///     }
    ///     let err = AsyncDropGuard::new(task).async_drop().await.unwrap_err();
    ///     assert_eq!(err.message(), None); // not a string
    ///     assert_eq!(err.into_payload().downcast_ref::<u8>(), Some(&7));
    /// });
    /// ```
    pub fn into_payload(self) -> Box<dyn Any + Send + 'static> {
        self.payload
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Goes on unwinding with the original payload, as
    /// [`std::panic::resume_unwind`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::AsyncDropGuard;
    ///
    /// let unwound = std::panic::catch_unwind(|| {
    ///     smol::block_on(async {
    ///         let task = smol::spawn(async { panic!("task broke") });
    ///         while !task.is_finished() {
    ///             smol::future::yield_now().await;
    ///         }
    ///         if let Err(panic) = AsyncDropGuard::new(task).async_drop().await {
    ///             panic.resume_unwind();
    ///         }
    ///     })
    /// });
    /// assert!(unwound.is_err());
    /// ```
    pub fn resume_unwind(self) -> ! {
        std::panic::resume_unwind(self.into_payload())
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
        f.write_str("the task panicked")?;
        match &self.message {
            Some(message) => write!(f, ": {message}"),
            None => Ok(()),
        }
    }
}

impl Error for TaskPanic {}

/// How a cleanup worker stopped without finishing its work; what its
/// [`ReaperWorker`](super::ReaperWorker) resolves to instead of the
/// [`ReaperStats`](crate::rt::ReaperStats).
///
/// Requires the `smol` feature.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use asyncdrop::rt::smol::{Reaper, WorkerError};
/// use asyncdrop::AsyncDrop;
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let executor = Arc::new(smol::Executor::new());
/// let (reaper, worker) = Reaper::<Conn>::spawn_on(&executor, 4);
/// drop(executor); // the worker's task goes with its executor ...
/// drop(reaper);
/// // ... so it never finished:
/// let err = smol::block_on(worker).unwrap_err();
/// assert!(matches!(err, WorkerError::Cancelled));
/// assert!(err.is_cancelled());
/// ```
#[non_exhaustive]
pub enum WorkerError {
    /// The worker's task was dropped before it finished: its executor was dropped.
    /// The cleanups it was running, and the values still queued, were each reported
    /// as [`ReportKind::Cancelled`](crate::ReportKind::Cancelled).
    Cancelled,
    /// The [`Policy`](crate::Policy) panicked on a report (a failed or panicking
    /// cleanup). The worker still finished every cleanup, then stopped with the
    /// first such panic, caught here.
    Panicked(TaskPanic),
}

impl WorkerError {
    /// Whether the worker was cancelled (its executor was dropped).
    ///
    /// # Examples
    ///
    /// See [`WorkerError`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, WorkerError::Cancelled)
    }

    /// Whether the worker stopped with a panic of the policy.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!asyncdrop::rt::smol::WorkerError::Cancelled.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, WorkerError::Panicked(_))
    }

    /// The caught panic, if the worker stopped with one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(asyncdrop::rt::smol::WorkerError::Cancelled.into_panic().is_none());
    /// ```
    pub fn into_panic(self) -> Option<TaskPanic> {
        match self {
            WorkerError::Panicked(panic) => Some(panic),
            WorkerError::Cancelled => None,
        }
    }
}

impl fmt::Debug for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Cancelled => f.write_str("Cancelled"),
            WorkerError::Panicked(panic) => f.debug_tuple("Panicked").field(panic).finish(),
        }
    }
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Cancelled => f.write_str(
                "the cleanup worker was cancelled: its executor was dropped before it finished",
            ),
            WorkerError::Panicked(panic) => {
                f.write_str("the cleanup worker stopped because the policy panicked")?;
                match panic.message() {
                    Some(message) => write!(f, ": {message}"),
                    None => Ok(()),
                }
            }
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
