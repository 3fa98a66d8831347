//! Error types that keep every error of a group of cleanups.

use core::error::Error;
use core::fmt;

/// An operation failed and the guard acquired before it was cleaned up; returned by
/// [`AsyncDropGuard::async_drop_on_err`](crate::AsyncDropGuard::async_drop_on_err).
///
/// Holds the operation's `error` and the `cleanup` result, so neither is lost.
///
/// # Examples
///
/// ```
/// use asyncdrop::ErrorAndCleanup;
///
/// let e: ErrorAndCleanup<&str, &str> = ErrorAndCleanup { error: "handshake", cleanup: Err("close") };
/// assert_eq!(e.to_string(), "handshake (cleanup failed too: close)");
/// assert_eq!(e.into_error(), "handshake");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ErrorAndCleanup<E, C> {
    /// The error of the operation that failed.
    pub error: E,
    /// The result of cleaning up the guard afterwards.
    pub cleanup: Result<(), C>,
}

impl<E, C> ErrorAndCleanup<E, C> {
    /// The operation's error, dropping the cleanup result.
    pub fn into_error(self) -> E {
        self.error
    }
}

impl<E: fmt::Display, C: fmt::Display> fmt::Display for ErrorAndCleanup<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)?;
        if let Err(c) = &self.cleanup {
            write!(f, " (cleanup failed too: {c})")?;
        }
        Ok(())
    }
}

impl<E, C> Error for ErrorAndCleanup<E, C>
where
    E: Error + 'static,
    C: fmt::Debug + fmt::Display,
{
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}

/// Every error of a concurrent cleanup of an array of `N` values; the error type of
/// `[T; N]`'s [`LocalAsyncDrop`](crate::LocalAsyncDrop) impl.
///
/// Position `i` holds the error of element `i`, or `None` if it was cleaned up
/// fine. At least one is an error.
///
/// # Examples
///
/// ```
/// use asyncdrop::{async_drop_all, AsyncDrop, AsyncDropGuard};
///
/// struct Conn(bool);
/// impl AsyncDrop for Conn {
///     type Error = &'static str;
///     async fn async_drop_impl(self) -> Result<(), &'static str> {
///         if self.0 { Ok(()) } else { Err("reset") }
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let conns = [true, false, false].map(|ok| AsyncDropGuard::new(Conn(ok)));
/// let err = async_drop_all(conns).await.unwrap_err();
/// assert_eq!(err.count(), 2);
/// assert_eq!(*err.first(), "reset");
/// assert_eq!(err.iter().map(|(i, _)| i).collect::<Vec<_>>(), [1, 2]);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ArrayError<E, const N: usize> {
    errors: [Option<E>; N],
}

impl<E, const N: usize> ArrayError<E, N> {
    /// `None` when no element failed.
    pub(crate) fn new(errors: [Option<E>; N]) -> Option<Self> {
        if errors.iter().any(Option::is_some) {
            Some(ArrayError { errors })
        } else {
            None
        }
    }

    /// The error of the first element (by position) that failed.
    pub fn first(&self) -> &E {
        self.iter()
            .next()
            .map(|(_, e)| e)
            .expect("an ArrayError holds at least one error")
    }

    /// How many elements failed.
    pub fn count(&self) -> usize {
        self.errors.iter().filter(|e| e.is_some()).count()
    }

    /// The errors with the positions of the elements that failed, in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &E)> + '_ {
        self.errors
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i, e)))
    }

    /// The error of each element, by position.
    pub fn into_array(self) -> [Option<E>; N] {
        self.errors
    }
}

impl<E: fmt::Display, const N: usize> fmt::Display for ArrayError<E, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} cleanups failed", self.count(), N)?;
        for (i, e) in self.iter() {
            write!(f, "; [{i}]: {e}")?;
        }
        Ok(())
    }
}

impl<E: Error + 'static, const N: usize> Error for ArrayError<E, N> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.first())
    }
}

/// Every error of a concurrent cleanup of a tuple; the error type of the
/// [`LocalAsyncDrop`](crate::LocalAsyncDrop) impl of tuples `(A, B, ..)`.
///
/// It holds one `Option<_::Error>` per element, in a tuple of the same arity; at
/// least one is `Some`. When all elements share one error type, [`first`] and
/// [`iter`] reach them directly.
///
/// [`first`]: TupleError::first
/// [`iter`]: TupleError::iter
///
/// # Examples
///
/// ```
/// use asyncdrop::{async_drop_all, AsyncDrop, AsyncDropGuard};
///
/// struct Db;
/// impl AsyncDrop for Db {
///     type Error = &'static str;
///     async fn async_drop_impl(self) -> Result<(), &'static str> { Err("rollback failed") }
/// }
/// struct Cache;
/// impl AsyncDrop for Cache {
///     type Error = u32;
///     async fn async_drop_impl(self) -> Result<(), u32> { Err(503) }
/// }
///
/// # futures_executor::block_on(async {
/// let both = (AsyncDropGuard::new(Db), AsyncDropGuard::new(Cache));
/// let err = async_drop_all(both).await.unwrap_err();
/// assert_eq!(err.count(), 2);
/// assert_eq!(err.into_inner(), (Some("rollback failed"), Some(503)));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TupleError<T> {
    pub(crate) errors: T,
}

impl<T> TupleError<T> {
    /// The tuple of per-element errors.
    pub fn into_inner(self) -> T {
        self.errors
    }

    /// A reference to the tuple of per-element errors.
    pub fn as_inner(&self) -> &T {
        &self.errors
    }
}

/// What became of one acquisition in a group combined with
/// [`all_or_cleanup`](crate::all_or_cleanup) that failed as a whole.
///
/// # Examples
///
/// ```
/// use asyncdrop::AcquireOutcome;
///
/// let o: AcquireOutcome<&str, ()> = AcquireOutcome::Failed("refused");
/// assert_eq!(o.error(), Some(&"refused"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AcquireOutcome<E, C> {
    /// This acquisition failed with `E`.
    Failed(E),
    /// This acquisition succeeded; its guard was cleaned up successfully.
    CleanedUp,
    /// This acquisition succeeded; cleaning up its guard failed with `C`.
    CleanupFailed(C),
}

impl<E, C> AcquireOutcome<E, C> {
    /// The acquisition error, if this one failed.
    pub fn error(&self) -> Option<&E> {
        match self {
            AcquireOutcome::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The cleanup error, if this one was acquired and its cleanup failed.
    pub fn cleanup_error(&self) -> Option<&C> {
        match self {
            AcquireOutcome::CleanupFailed(c) => Some(c),
            _ => None,
        }
    }
}

impl<E: fmt::Display, C: fmt::Display> fmt::Display for AcquireOutcome<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireOutcome::Failed(e) => write!(f, "failed: {e}"),
            AcquireOutcome::CleanedUp => f.write_str("acquired, cleaned up"),
            AcquireOutcome::CleanupFailed(c) => write!(f, "acquired, cleanup failed: {c}"),
        }
    }
}

/// A group of acquisitions combined with [`all_or_cleanup`](crate::all_or_cleanup)
/// failed: every acquisition's [`AcquireOutcome`], in a tuple or array shaped like
/// the input. At least one is [`AcquireOutcome::Failed`].
///
/// # Examples
///
/// ```
/// use asyncdrop::{all_or_cleanup, AcquireOutcome, AsyncDrop, AsyncDropGuard};
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = core::convert::Infallible;
///     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// }
///
/// # futures_executor::block_on(async {
/// let a: Result<_, &str> = Ok(AsyncDropGuard::new(Conn));
/// let b: Result<AsyncDropGuard<Conn>, &str> = Err("refused");
/// let Err(err) = all_or_cleanup((a, b)).await else { unreachable!() };
/// assert_eq!(*err.first_error(), "refused");
/// assert!(matches!(err.into_inner(), (AcquireOutcome::CleanedUp, AcquireOutcome::Failed("refused"))));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AcquireError<T> {
    pub(crate) outcomes: T,
}

impl<T> AcquireError<T> {
    /// Each acquisition's outcome, shaped like the input.
    pub fn into_inner(self) -> T {
        self.outcomes
    }

    /// A reference to each acquisition's outcome.
    pub fn as_inner(&self) -> &T {
        &self.outcomes
    }
}

impl<E, C, const N: usize> AcquireError<[AcquireOutcome<E, C>; N]> {
    /// The first acquisition error (by position).
    pub fn first_error(&self) -> &E {
        self.outcomes
            .iter()
            .find_map(AcquireOutcome::error)
            .expect("an AcquireError holds at least one failed acquisition")
    }

    /// Every acquisition error, in order.
    pub fn errors(&self) -> impl Iterator<Item = &E> + '_ {
        self.outcomes.iter().filter_map(AcquireOutcome::error)
    }

    /// Every cleanup error of the guards that had been acquired, in order.
    pub fn cleanup_errors(&self) -> impl Iterator<Item = &C> + '_ {
        self.outcomes
            .iter()
            .filter_map(AcquireOutcome::cleanup_error)
    }
}

impl<E: fmt::Display, C: fmt::Display, const N: usize> fmt::Display
    for AcquireError<[AcquireOutcome<E, C>; N]>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("acquisition failed")?;
        for (i, o) in self.outcomes.iter().enumerate() {
            write!(f, "; [{i}]: {o}")?;
        }
        Ok(())
    }
}

impl<E, C, const N: usize> Error for AcquireError<[AcquireOutcome<E, C>; N]>
where
    E: Error + 'static,
    C: fmt::Debug + fmt::Display,
{
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.first_error())
    }
}
