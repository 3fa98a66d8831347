//! A panic caught in an async-std task.

use alloc::boxed::Box;
use alloc::string::String;
use core::any::Any;
use core::error::Error;
use core::fmt;
use std::sync::{Mutex, PoisonError};

use crate::outcome::{panic_message, Payload};

/// A panic of an async-std task, caught instead of being passed on.
///
/// async-std hands a task's panic to whoever awaits its `JoinHandle`, by panicking
/// there. This adapter catches it instead and returns it as this error:
///
/// - the cleanup of a guarded [`JoinHandle`](::async_std::task::JoinHandle) whose
///   task panicked;
/// - a [`ReaperWorker`](super::ReaperWorker) whose [`Policy`](crate::Policy)
///   panicked on a report (the worker finished every cleanup first).
///
/// It keeps the panic's message, if it was a string (as `panic!` makes it), and the
/// payload itself, to go on unwinding with [`resume_unwind`](Self::resume_unwind).
///
/// Requires the `async-std` feature (**legacy**: async-std is discontinued
/// upstream): `asyncdrop = { version = "0.1", features = ["async-std"] }`.
///
/// # Examples
///
/// ```
/// use asyncdrop::rt::async_std::Reaper;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> std::io::Result<()> {
///         Err(std::io::Error::other("reset by peer"))
///     }
/// }
///
/// async_std::task::block_on(async {
///     // The default policy panics on a failed cleanup. The worker catches that,
///     // finishes every cleanup, then hands the panic to whoever awaits it.
///     let (reaper, worker) = Reaper::spawn(4);
///     reaper.hand_over(AsyncDropGuard::new(Conn)).await.unwrap();
///     reaper.shutdown();
///     let err = worker.await.unwrap_err();
///     assert!(err.message().unwrap().contains("Conn"));
///     println!("{err}"); // an async-std task panicked: the cleanup of `…::Conn` failed …
/// });
/// ```
pub struct TaskPanic {
    message: Option<String>,
    /// In a mutex only so that the error is `Sync`; it is never contended.
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
    /// # use asyncdrop::rt::async_std::Reaper;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Err(std::io::Error::other("reset")) }
    /// # }
    /// # async_std::task::block_on(async {
    /// # let (reaper, worker) = Reaper::spawn(4);
    /// # reaper.hand_over(AsyncDropGuard::new(Conn)).await.unwrap();
    /// # reaper.shutdown();
    /// let err = worker.await.unwrap_err(); // as in the example of `TaskPanic`
    /// let payload = err.into_payload();
    /// assert!(payload.downcast_ref::<String>().unwrap().contains("Conn"));
    /// # });
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
    /// # use asyncdrop::rt::async_std::Reaper;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = std::io::Error;
    /// #     async fn async_drop_impl(self) -> std::io::Result<()> { Err(std::io::Error::other("reset")) }
    /// # }
    /// let unwound = std::panic::catch_unwind(|| {
    ///     async_std::task::block_on(async {
    ///         # let (reaper, worker) = Reaper::spawn(4);
    ///         # reaper.hand_over(AsyncDropGuard::new(Conn)).await.unwrap();
    ///         # reaper.shutdown();
    ///         if let Err(err) = worker.await {
    ///             err.resume_unwind(); // panic here after all
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
        f.write_str("an async-std task panicked")?;
        match &self.message {
            Some(message) => write!(f, ": {message}"),
            None => Ok(()),
        }
    }
}

impl Error for TaskPanic {}
