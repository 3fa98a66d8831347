//! Concurrent cleanup of fixed sets (tuples, arrays) and combined acquisition.

use core::error::Error;
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::Poll;

use futures_util::future::{maybe_done, MaybeDone};

use crate::error::{AcquireError, AcquireOutcome, ArrayError, TupleError};
use crate::LocalAsyncDrop;

/// Cleans up every value of a tuple or an array concurrently, in the current task.
///
/// Accepts anything that implements [`LocalAsyncDrop`]; the point is tuples
/// `(A, B, ..)` (1 to 8 elements) and arrays `[T; N]` of guards. Every element is
/// cleaned up even when others fail, and every error comes back: a
/// [`TupleError`] or an [`ArrayError`]. Nothing is spawned and nothing allocated.
///
/// # Errors
///
/// Returns the set's error type if at least one element failed to clean up.
///
/// # Cancel safety
///
/// Dropping the future drops every cleanup still in progress; each element that is
/// an [`AsyncDropGuard`](crate::AsyncDropGuard) reports its own cancellation. One
/// whose cleanup had not started yet reports [`ReportKind::Cancelled`] too: every
/// element's cleanup future is made with this one.
///
/// [`ReportKind::Cancelled`]: crate::ReportKind::Cancelled
///
/// # Examples
///
/// ```
/// use asyncdrop::{async_drop_all, AsyncDrop, AsyncDropGuard};
///
/// struct Conn(&'static str);
/// impl AsyncDrop for Conn {
///     type Error = String;
///     async fn async_drop_impl(self) -> Result<(), String> {
///         if self.0 == "b" { Err(format!("{} reset", self.0)) } else { Ok(()) }
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let conns = ["a", "b", "c"].map(|n| AsyncDropGuard::new(Conn(n)));
/// let err = async_drop_all(conns).await.unwrap_err();
/// assert_eq!(err.first(), "b reset");
/// # });
/// ```
#[inline]
pub fn async_drop_all<S: LocalAsyncDrop>(set: S) -> impl Future<Output = Result<(), S::Error>> {
    set.local_async_drop_impl()
}

/// Pins element `i` of a pinned array.
fn pin_elem<T, const N: usize>(array: Pin<&mut [T; N]>, i: usize) -> Pin<&mut T> {
    // SAFETY: the elements of a pinned array are structurally pinned: this module
    // never moves an element out of, or swaps elements within, a pinned array.
    // Pinning in place is what makes the array join allocation-free: bench case l
    // (against `join_all`, which boxes the futures).
    unsafe { array.map_unchecked_mut(|a| &mut a[i]) }
}

/// Polls all futures of an array to completion, concurrently, without allocating.
pub(crate) async fn join_array<F: Future, const N: usize>(futures: [F; N]) -> [F::Output; N] {
    let mut futures = pin!(futures.map(maybe_done));
    poll_fn(|cx| {
        let mut ready = true;
        for i in 0..N {
            ready &= pin_elem(futures.as_mut(), i).poll(cx).is_ready();
        }
        if ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    core::array::from_fn(|i| take(pin_elem(futures.as_mut(), i)))
}

fn take<F: Future>(done: Pin<&mut MaybeDone<F>>) -> F::Output {
    done.take_output()
        .expect("joined future has completed and its output is taken once")
}

/// Cleans up the value of an `Ok` acquisition; passes an `Err` on.
///
/// The cleanup future is created at once (not on first poll), so that dropping the
/// result unpolled reports each guard's cleanup as cancelled, as it would for a
/// single guard.
fn settle<T: LocalAsyncDrop, E>(
    acquired: Result<T, E>,
) -> impl Future<Output = AcquireOutcome<E, T::Error>> {
    let cleanup = acquired.map(LocalAsyncDrop::local_async_drop_impl);
    async move {
        match cleanup {
            Err(e) => AcquireOutcome::Failed(e),
            Ok(cleanup) => match cleanup.await {
                Ok(()) => AcquireOutcome::CleanedUp,
                Err(c) => AcquireOutcome::CleanupFailed(c),
            },
        }
    }
}

/// An array is cleaned up by cleaning up all its elements concurrently.
impl<T: LocalAsyncDrop, const N: usize> LocalAsyncDrop for [T; N] {
    type Error = ArrayError<T::Error, N>;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
        // Start every element's cleanup now: dropping the returned future unpolled
        // then reports each guard as cancelled (not forgotten).
        let cleanups = self.map(LocalAsyncDrop::local_async_drop_impl);
        async move {
            let results = join_array(cleanups).await;
            match ArrayError::new(results.map(Result::err)) {
                None => Ok(()),
                Some(e) => Err(e),
            }
        }
    }
}

/// A group of fallible acquisitions, combined by [`all_or_cleanup`].
///
/// Implemented for tuples (1 to 8 elements) and arrays of
/// `Result<T, E>` where `T:` [`LocalAsyncDrop`] (typically an
/// [`AsyncDropGuard`](crate::AsyncDropGuard)). Call it through [`all_or_cleanup`].
///
/// # Examples
///
/// ```
/// use asyncdrop::{AcquireAll, AsyncDrop, AsyncDropGuard};
///
/// struct Lock(u8);
/// impl AsyncDrop for Lock {
///     type Error = core::convert::Infallible;
///     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// }
/// # futures_executor::block_on(async {
/// let locks = [Ok::<_, ()>(AsyncDropGuard::new(Lock(1))), Ok(AsyncDropGuard::new(Lock(2)))];
/// let [a, b] = locks.all_or_cleanup().await.unwrap();
/// assert_eq!(a.0 + b.0, 3);
/// # asyncdrop::async_drop_all([a, b]).await.unwrap();
/// # });
/// ```
pub trait AcquireAll {
    /// The acquired values when all succeeded: a tuple or array of `T`s.
    type Output;
    /// The error when any failed: an [`AcquireError`].
    type Error;

    /// See [`all_or_cleanup`].
    ///
    /// # Errors
    ///
    /// An [`AcquireError`] when at least one acquisition failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AcquireAll, AsyncDrop, AsyncDropGuard};
    /// # struct Lock;
    /// # impl AsyncDrop for Lock {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let locks = (Ok(AsyncDropGuard::new(Lock)), Err::<AsyncDropGuard<Lock>, _>("busy"));
    /// let Err(err) = locks.all_or_cleanup().await else { unreachable!() };
    /// assert_eq!(*err.first_error(), "busy"); // the first lock was released
    /// # });
    /// ```
    fn all_or_cleanup(self) -> impl Future<Output = Result<Self::Output, Self::Error>>;
}

/// Combines several fallible acquisitions: all values, or — after cleaning up those
/// that were acquired — every error.
///
/// Pass a tuple or an array of `Result<AsyncDropGuard<_>, _>`. If all are `Ok`, the
/// future resolves at once to the guards. Otherwise the guards that were acquired are
/// cleaned up concurrently, and the [`AcquireError`] tells, for every position,
/// whether it failed (with its error) or was cleaned up (with the cleanup's result).
///
/// # Errors
///
/// An [`AcquireError`] when at least one acquisition failed.
///
/// # Cancel safety
///
/// As [`async_drop_all`]: each acquired guard not cleaned up yet reports
/// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled), started or not.
///
/// # Examples
///
/// ```
/// use asyncdrop::{all_or_cleanup, AsyncDrop, AsyncDropGuard};
///
/// struct Conn(u16);
/// impl AsyncDrop for Conn {
///     type Error = core::convert::Infallible;
///     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// }
/// fn connect(port: u16) -> Result<AsyncDropGuard<Conn>, String> {
///     if port == 0 { Err("port 0".into()) } else { Ok(AsyncDropGuard::new(Conn(port))) }
/// }
///
/// # futures_executor::block_on(async {
/// let (a, b) = all_or_cleanup((connect(1), connect(2))).await.unwrap();
/// assert_eq!((a.0, b.0), (1, 2));
/// # asyncdrop::async_drop_all((a, b)).await.unwrap();
///
/// let Err(err) = all_or_cleanup([connect(1), connect(0), connect(3)]).await else { unreachable!() };
/// assert_eq!(err.first_error(), "port 0"); // ports 1 and 3 were cleaned up
/// # });
/// ```
#[inline]
pub fn all_or_cleanup<S: AcquireAll>(
    acquisitions: S,
) -> impl Future<Output = Result<S::Output, S::Error>> {
    acquisitions.all_or_cleanup()
}

impl<T: LocalAsyncDrop, E, const N: usize> AcquireAll for [Result<T, E>; N] {
    type Output = [T; N];
    type Error = AcquireError<[AcquireOutcome<E, T::Error>; N]>;

    fn all_or_cleanup(self) -> impl Future<Output = Result<[T; N], Self::Error>> {
        let state = if self.iter().all(Result::is_ok) {
            Ok(self.map(|r| match r {
                Ok(value) => value,
                Err(_) => unreachable!("checked above that all are Ok"),
            }))
        } else {
            Err(self.map(settle))
        };
        async move {
            match state {
                Ok(values) => Ok(values),
                Err(cleanups) => Err(AcquireError {
                    outcomes: join_array(cleanups).await,
                }),
            }
        }
    }
}

/// Awaits futures already wrapped in `MaybeDone` (bound to the given names)
/// concurrently, and evaluates to the tuple of their outputs. Use inside `async`.
macro_rules! join_started {
    ($($v:ident),+) => {{
        $( let mut $v = pin!($v); )+
        poll_fn(|cx| {
            let mut ready = true;
            $( ready &= $v.as_mut().poll(cx).is_ready(); )+
            if ready { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
        ($( take($v.as_mut()), )+)
    }};
}

macro_rules! tuples {
    ($( ($T:ident $v:ident $E:ident $C:ident $i:tt) ),+) => {
        /// A tuple is cleaned up by cleaning up all its elements concurrently.
        impl<$($T: LocalAsyncDrop),+> LocalAsyncDrop for ($($T,)+) {
            type Error = TupleError<($(Option<$T::Error>,)+)>;

            fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Self::Error>> {
                let ($($v,)+) = self;
                // Started now, so dropping the result unpolled reports cancellation.
                $( let $v = maybe_done($v.local_async_drop_impl()); )+
                async move {
                    let ($($v,)+) = join_started!($($v),+);
                    let errors = ($( $v.err(), )+);
                    if $( errors.$i.is_none() )&&+ {
                        Ok(())
                    } else {
                        Err(TupleError { errors })
                    }
                }
            }
        }

        impl<$($T),+> TupleError<($(Option<$T>,)+)> {
            /// How many elements failed.
            pub fn count(&self) -> usize {
                0 $( + usize::from(self.errors.$i.is_some()) )+
            }
        }

        impl<E> TupleError<($(Option<tuples!(@same $T E)>,)+)> {
            /// The error of the first element (by position) that failed; available
            /// when all elements share one error type.
            pub fn first(&self) -> &E {
                self.iter().next().expect("a TupleError holds at least one error")
            }

            /// The errors of the elements that failed, by position; available when
            /// all elements share one error type.
            pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
                [$( self.errors.$i.as_ref(), )+].into_iter().flatten()
            }
        }

        impl<$($T: fmt::Display),+> fmt::Display for TupleError<($(Option<$T>,)+)> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} of {} cleanups failed", self.count(), [$($i),+].len())?;
                $(
                    if let Some(e) = &self.errors.$i {
                        write!(f, "; [{}]: {}", $i, e)?;
                    }
                )+
                Ok(())
            }
        }

        impl<$($T: Error + 'static),+> Error for TupleError<($(Option<$T>,)+)> {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                $(
                    if let Some(e) = &self.errors.$i {
                        return Some(e);
                    }
                )+
                None
            }
        }

        impl<$($T: LocalAsyncDrop, $E),+> AcquireAll for ($(Result<$T, $E>,)+) {
            type Output = ($($T,)+);
            type Error = AcquireError<($(AcquireOutcome<$E, $T::Error>,)+)>;

            fn all_or_cleanup(self) -> impl Future<Output = Result<Self::Output, Self::Error>> {
                let state = match self {
                    ($(Ok($v),)+) => Ok(($($v,)+)),
                    // Started now, so dropping the result unpolled reports cancellation.
                    ($($v,)+) => Err(($( maybe_done(settle($v)), )+)),
                };
                async move {
                    let ($($v,)+) = match state {
                        Ok(values) => return Ok(values),
                        Err(cleanups) => cleanups,
                    };
                    Err(AcquireError { outcomes: join_started!($($v),+) })
                }
            }
        }

        impl<E, $($C),+> AcquireError<($(AcquireOutcome<E, $C>,)+)> {
            /// The first acquisition error (by position); available when all
            /// acquisitions share one error type.
            pub fn first_error(&self) -> &E {
                None$( .or(self.outcomes.$i.error()) )+
                    .expect("an AcquireError holds at least one failed acquisition")
            }
        }

        impl<$($E: fmt::Display, $C: fmt::Display),+> fmt::Display
            for AcquireError<($(AcquireOutcome<$E, $C>,)+)>
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("acquisition failed")?;
                $( write!(f, "; [{}]: {}", $i, self.outcomes.$i)?; )+
                Ok(())
            }
        }

        impl<$($E: Error + 'static, $C: fmt::Debug + fmt::Display),+> Error
            for AcquireError<($(AcquireOutcome<$E, $C>,)+)>
        {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                $(
                    if let AcquireOutcome::Failed(e) = &self.outcomes.$i {
                        return Some(e);
                    }
                )+
                None
            }
        }
    };
    (@same $T:ident $E:ident) => { $E };
}

tuples!((A a EA CA 0));
tuples!((A a EA CA 0), (B b EB CB 1));
tuples!((A a EA CA 0), (B b EB CB 1), (C c EC CC 2));
tuples!((A a EA CA 0), (B b EB CB 1), (C c EC CC 2), (D d ED CD 3));
tuples!((A a EA CA 0), (B b EB CB 1), (C c EC CC 2), (D d ED CD 3), (F f EF CF 4));
tuples!((A a EA CA 0), (B b EB CB 1), (C c EC CC 2), (D d ED CD 3), (F f EF CF 4), (G g EG CG 5));
tuples!((A a EA CA 0), (B b EB CB 1), (C c EC CC 2), (D d ED CD 3), (F f EF CF 4), (G g EG CG 5), (H h EH CH 6));
tuples!((A a EA CA 0), (B b EB CB 1), (C c EC CC 2), (D d ED CD 3), (F f EF CF 4), (G g EG CG 5), (H h EH CH 6), (I i EI CI 7));
