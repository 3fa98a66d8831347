//! The error of the smol adapter's cleanup worker (tokio's `JoinError` plays its
//! part there).

use core::error::Error;
use core::fmt;

use crate::rt::TaskPanic;

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
    /// ```
    /// use std::sync::Arc;
    /// use asyncdrop::rt::smol::Reaper;
    /// # use asyncdrop::AsyncDrop;
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Ok(()) }
    /// # }
    ///
    /// let executor = Arc::new(smol::Executor::new());
    /// let (reaper, worker) = Reaper::<Conn>::spawn_on(&executor, 4);
    /// drop(reaper);
    /// drop(executor); // before the worker ever ran
    /// let err = smol::block_on(worker).unwrap_err();
    /// assert!(err.is_cancelled());
    /// assert!(!err.is_panic());
    /// ```
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
