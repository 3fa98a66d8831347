//! A shared future whose output is guarded.
//!
//! # Design
//!
//! `futures_util::future::Shared` drives the future once and wakes every waiter; its
//! own output is `()`. The real output lives next to a counter of clones (in
//! `Control`), behind an [`ArcRef`]: a reference to an `AsyncDropArc` allocation that
//! holds *no* share of the value. The value starts with one *pending* share, owned
//! collectively by the clones of the shared future; each handed-out handle takes a
//! share of its own. The clone that brings the clone counter to zero (the same
//! `Release` / `Acquire` protocol as `AsyncDropArc`) claims the pending share and
//! gives it up — with cleanup when it is cleaned up, synchronously when it is
//! forgotten. So whichever of {the last clone, the handles} gives up the last share
//! runs the value's cleanup, and the copies of the output kept by `Shared` or
//! `Control`, which may be dropped late and on any thread, own no share and can never
//! be the last one.

use core::fmt;
use core::future::Future;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr;
use core::sync::atomic::{fence, AtomicUsize, Ordering};
use core::task::{Context, Poll};

use alloc::sync::Arc;
use futures_util::future::{FusedFuture, FutureExt, Shared};
use pin_project_lite::pin_project;
use std::sync::OnceLock;

use crate::arc::ArcRef;
use crate::{AsyncDropArc, AsyncDropGuard, LocalAsyncDrop};

mod sealed {
    #[allow(
        unreachable_pub,
        reason = "sealed-trait pattern: public but unnameable"
    )]
    pub trait Sealed {}
}

/// The output type of a future that [`AsyncDropShared`] can share: an
/// [`AsyncDropGuard<T>`], whose `T` it names.
///
/// Implemented for `AsyncDropGuard<T>` only (sealed). It exists so that
/// `AsyncDropShared<F>` needs a single type parameter; you never implement or call
/// it.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard, GuardedOutput};
/// # struct Conn;
/// # impl AsyncDrop for Conn {
/// #     type Error = core::convert::Infallible;
/// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// # }
///
/// fn value_of<G: GuardedOutput>(_: &G) -> &'static str {
///     core::any::type_name::<G::Value>()
/// }
/// let conn = AsyncDropGuard::new(Conn);
/// assert!(value_of(&conn).ends_with("Conn"));
/// # futures_executor::block_on(conn.async_drop()).unwrap();
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub trait GuardedOutput: sealed::Sealed {
    /// The guarded type.
    type Value: LocalAsyncDrop;

    #[doc(hidden)]
    fn __into_value(self) -> Self::Value;
}

impl<T: LocalAsyncDrop> sealed::Sealed for AsyncDropGuard<T> {}

impl<T: LocalAsyncDrop> GuardedOutput for AsyncDropGuard<T> {
    type Value = T;

    #[inline]
    fn __into_value(self) -> T {
        // Not a bypass: the value goes straight into an `AsyncDropArc`-style
        // allocation whose last share runs the cleanup.
        AsyncDropGuard::into_inner_without_cleanup(self)
    }
}

/// The guarded value of the output of `F`.
type ValueOf<F> = <<F as Future>::Output as GuardedOutput>::Value;

/// State shared by every clone of one shared future.
struct Control<T> {
    /// Clones of the `AsyncDropShared` that exist. The clone that brings this to zero
    /// claims the output's pending share.
    clones: AtomicUsize,
    /// The output, once the future finished. It holds the pending share until the
    /// last clone claims it.
    output: OnceLock<ArcRef<T>>,
}

pin_project! {
    /// The future `Shared` drives: runs `F` and stores its output in `Control`.
    struct Driver<F, T> {
        #[pin]
        future: F,
        control: Arc<Control<T>>,
    }
}

impl<F, T> Future for Driver<F, T>
where
    F: Future,
    F::Output: GuardedOutput<Value = T>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let output = core::task::ready!(this.future.poll(cx));
        let stored = this
            .control
            .output
            .set(ArcRef::new(GuardedOutput::__into_value(output)));
        // `Shared` polls the future to completion once.
        debug_assert!(stored.is_ok(), "the shared future finished twice");
        Poll::Ready(())
    }
}

/// A future shared by several owners, whose output is a guarded value, like
/// `futures::future::Shared` for guarded values.
///
/// [`AsyncDropShared::new`] takes a future that resolves to an
/// [`AsyncDropGuard<T>`]. Every clone ([`AsyncDropShared::clone`]) is a guard;
/// [`AsyncDropShared::output`] on any clone waits for the future (driving it if nobody
/// else is) and hands out a shared handle to the one output value, an
/// `AsyncDropGuard<AsyncDropArc<T>>`. The future runs once, whoever polls it.
///
/// # Cleanup
///
/// The output is cleaned up exactly once, after every clone of the shared future and
/// every handed-out handle has been cleaned up: whichever of them goes last runs
/// `T`'s cleanup (handles may outlive the clones). The cleanup of clones that are not
/// the last returns `Ok(())` at once.
///
/// Cleaning up the last clone of a shared future that has not finished (or was never
/// polled) **drives the future to completion first** and then cleans up its output.
/// The future may already have acquired a resource that only exists in its output —
/// a connection half opened, a session begun on a server — and dropping it unpolled
/// would lose that cleanup. So the last cleanup may wait as long as the future does;
/// to give up on it, drop the cleanup future (which is then reported as cancelled).
///
/// # Drop behaviour
///
/// A clone dropped without cleanup is reported as forgotten by its guard. If it was
/// the last clone, the output (if the future finished) gives up its share
/// synchronously — the value is dropped without cleanup if no handle is left — and an
/// unfinished future is dropped unfinished.
///
/// # Panics
///
/// If the future panics, the panic propagates to whoever polled it, and every later
/// poll of an [`output`](Self::output) future or of the last clone's cleanup panics
/// too (as with `futures::future::Shared`); [`peek`](Self::peek) returns `None`.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropShared};
///
/// struct Session {
///     id: u32,
/// }
///
/// impl AsyncDrop for Session {
///     type Error = std::io::Error;
///     async fn async_drop_impl(self) -> Result<(), std::io::Error> {
///         println!("logging out of session {}", self.id); // once
///         Ok(())
///     }
/// }
///
/// async fn log_in() -> AsyncDropGuard<Session> {
///     AsyncDropGuard::new(Session { id: 7 })
/// }
///
/// # futures_executor::block_on(async {
/// let login = AsyncDropShared::new(log_in());
/// let other = AsyncDropShared::clone(&login);
///
/// let session = AsyncDropShared::output(&other).await; // runs `log_in` once
/// assert_eq!(session.id, 7);
/// assert_eq!(AsyncDropShared::peek(&login).map(|s| s.id), Some(7));
///
/// session.async_drop().await?;
/// other.async_drop().await?;
/// login.async_drop().await?; // the last one: logs out
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub struct AsyncDropShared<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    shared: Shared<Driver<F, ValueOf<F>>>,
    control: Arc<Control<ValueOf<F>>>,
}

impl<F> AsyncDropShared<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    /// Shares `future`; the returned guard is the first clone. The future is not
    /// polled until an [`output`](Self::output) future or the last cleanup polls it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropShared};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let shared = AsyncDropShared::new(async { AsyncDropGuard::new(Conn) });
    /// assert!(AsyncDropShared::peek(&shared).is_none());
    /// // Cleaning up the last clone runs the future, then cleans up `Conn`.
    /// futures_executor::block_on(shared.async_drop()).unwrap();
    /// ```
    #[track_caller]
    pub fn new(future: F) -> AsyncDropGuard<Self> {
        let control = Arc::new(Control {
            clones: AtomicUsize::new(1),
            output: OnceLock::new(),
        });
        let shared = Driver {
            future,
            control: Arc::clone(&control),
        }
        .shared();
        AsyncDropGuard::new(AsyncDropShared { shared, control })
    }

    /// Makes another clone, as a guard of its own; it records the location of this
    /// call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropShared};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// let a = AsyncDropShared::new(async { AsyncDropGuard::new(Conn) });
    /// let b = AsyncDropShared::clone(&a);
    /// assert!(AsyncDropShared::ptr_eq(&a, &b));
    /// assert_eq!(AsyncDropShared::strong_count(&a), 2);
    /// # futures_executor::block_on(async {
    /// # a.async_drop().await.unwrap();
    /// # b.async_drop().await.unwrap();
    /// # });
    /// ```
    #[track_caller]
    #[allow(
        clippy::should_implement_trait,
        reason = "a clone must be a guard, which `Clone::clone` cannot return"
    )]
    pub fn clone(this: &Self) -> AsyncDropGuard<Self> {
        // `Relaxed` as in `Arc::clone`: made from a live clone. No overflow: every
        // clone also holds a strong reference of `control`, which aborts first.
        this.control.clones.fetch_add(1, Ordering::Relaxed);
        AsyncDropGuard::new(AsyncDropShared {
            shared: this.shared.clone(),
            control: Arc::clone(&this.control),
        })
    }

    /// Waits for the output and returns a new shared handle to it.
    ///
    /// If nobody is driving the future, this future drives it. Every handle points
    /// to the same value and must be cleaned up; the value's cleanup runs when the
    /// last handle or clone is cleaned up.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the returned future before it completes takes nothing
    /// away; the shared future keeps its progress for the next poller.
    ///
    /// # Panics
    ///
    /// The returned future panics if the shared future panicked (now or earlier).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropArc, AsyncDropGuard, AsyncDropShared};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let shared = AsyncDropShared::new(async { AsyncDropGuard::new(Conn(1)) });
    /// let a = AsyncDropShared::output(&shared).await;
    /// let b = AsyncDropShared::output(&shared).await;
    /// assert!(AsyncDropArc::ptr_eq(&a, &b));
    /// shared.async_drop().await.unwrap(); // `a` and `b` keep the value alive
    /// assert_eq!(a.0, 1);
    /// a.async_drop().await.unwrap();
    /// b.async_drop().await.unwrap(); // the last share: cleans up `Conn`
    /// # });
    /// ```
    pub fn output(this: &Self) -> AsyncDropSharedOutput<'_, F> {
        AsyncDropSharedOutput {
            shared: Some(this.shared.clone()),
            control: &this.control,
        }
    }

    /// The output, if the future has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropShared};
    /// # struct Conn(u8);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let shared = AsyncDropShared::new(async { AsyncDropGuard::new(Conn(3)) });
    /// assert!(AsyncDropShared::peek(&shared).is_none());
    /// let conn = AsyncDropShared::output(&shared).await;
    /// assert_eq!(AsyncDropShared::peek(&shared).map(|c| c.0), Some(3));
    /// conn.async_drop().await.unwrap();
    /// shared.async_drop().await.unwrap();
    /// # });
    /// ```
    pub fn peek(this: &Self) -> Option<&<F::Output as GuardedOutput>::Value> {
        // SAFETY: `this` is a live clone, so the clone counter is not zero and the
        // pending share has not been claimed: the last clone claims it only when it
        // is consumed (cleanup) or dropped, which cannot happen while `this` is
        // borrowed. The returned reference borrows `this`.
        this.control
            .output
            .get()
            .map(|output| unsafe { output.get() })
    }

    /// The number of clones of the shared future that exist right now (handles to
    /// the output are not counted).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropShared};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let a = AsyncDropShared::new(async { AsyncDropGuard::new(Conn) });
    /// let b = AsyncDropShared::clone(&a);
    /// assert_eq!(AsyncDropShared::strong_count(&a), 2);
    /// b.async_drop().await.unwrap();
    /// assert_eq!(AsyncDropShared::strong_count(&a), 1);
    /// a.async_drop().await.unwrap();
    /// # });
    /// ```
    pub fn strong_count(this: &Self) -> usize {
        this.control.clones.load(Ordering::Relaxed)
    }

    /// Whether two clones share the same future.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard, AsyncDropShared};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # futures_executor::block_on(async {
    /// let a = AsyncDropShared::new(async { AsyncDropGuard::new(Conn) });
    /// let b = AsyncDropShared::clone(&a);
    /// assert!(AsyncDropShared::ptr_eq(&a, &b));
    /// # a.async_drop().await.unwrap();
    /// # b.async_drop().await.unwrap();
    /// # });
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.control, &b.control)
    }

    /// Gives this clone up: returns `None` if other clones remain, or the parts to
    /// finish with if it was the last.
    fn release(this: Self) -> Option<Last<F>> {
        let this = ManuallyDrop::new(this);
        // SAFETY: `this` is `ManuallyDrop` and never used again, so each field is moved
        // out exactly once and `AsyncDropShared::drop` does not run.
        let (shared, control) = unsafe { (ptr::read(&this.shared), ptr::read(&this.control)) };
        // `Release` / `Acquire` as in `Arc::drop`: everything the other clones did
        // (their polls of the future, their `peek`s) happens before the last one
        // claims the output.
        if control.clones.fetch_sub(1, Ordering::Release) != 1 {
            return None;
        }
        fence(Ordering::Acquire);
        Some(Last { shared, control })
    }
}

/// What the last clone finishes with.
struct Last<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    shared: Shared<Driver<F, ValueOf<F>>>,
    control: Arc<Control<ValueOf<F>>>,
}

/// Cleaning up a clone gives it up; the last clone drives the future to completion
/// (if it has not finished) and gives up the output's pending share, which runs the
/// output's cleanup unless handles to it remain.
///
/// # Errors
///
/// The output's cleanup error, from whichever cleanup (of the last clone or of the
/// last handle) ran it; every other cleanup returns `Ok(())`.
///
/// # Cancel safety
///
/// Dropping the last clone's cleanup while it drives the future drops the unfinished
/// future (a guard inside it reports
/// [`ReportKind::Forgotten`](crate::ReportKind::Forgotten)); dropping it while the
/// output's cleanup runs cancels that cleanup as described at
/// [`AsyncDropGuard::async_drop`]. Either way it is reported as cancelled.
impl<F> LocalAsyncDrop for AsyncDropShared<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    type Error = <<F::Output as GuardedOutput>::Value as LocalAsyncDrop>::Error;

    async fn async_drop_impl(self) -> Result<(), Self::Error> {
        let Some(Last {
            mut shared,
            control,
        }) = AsyncDropShared::release(self)
        else {
            return Ok(());
        };
        // Every other clone is gone, and so is every `output` future (they borrow a
        // clone). Finish the future: its output may hold a resource that needs
        // cleanup.
        (&mut shared).await;
        drop(shared);
        let output = control
            .output
            .get()
            .expect("the shared future stores its output when it finishes");
        // SAFETY: only the last clone gets here (the counter reached zero in
        // `release`), once; the synchronous `drop` of this clone does not run.
        let share = unsafe { output.claim() };
        share.async_drop_impl().await
    }
}

/// A clone dropped without cleanup (its guard reported that) is given up; if it was
/// the last, the output's pending share is given up synchronously.
impl<F> Drop for AsyncDropShared<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    fn drop(&mut self) {
        if self.control.clones.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        if let Some(output) = self.control.output.get() {
            // SAFETY: this was the last clone (the counter reached zero here), and it
            // is being dropped, so its cleanup never runs: the pending share is
            // claimed once.
            drop(unsafe { output.claim() });
        }
        // An unfinished future is dropped with the last `Shared`.
    }
}

impl<F> fmt::Debug for AsyncDropShared<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDropShared")
            .field("clones", &AsyncDropShared::strong_count(self))
            .field("finished", &self.control.output.get().is_some())
            .finish_non_exhaustive()
    }
}

/// The future returned by [`AsyncDropShared::output`]: resolves to a new shared
/// handle to the output, driving the shared future if nobody else is.
///
/// # Cancel safety
///
/// Cancel safe: dropping it takes nothing away from the shared future.
///
/// # Panics
///
/// Panics if the shared future panicked, or if polled again after it completed.
///
/// # Examples
///
/// ```
/// # use asyncdrop::{future::AsyncDropSharedOutput, AsyncDrop, AsyncDropGuard, AsyncDropShared};
/// # struct Conn;
/// # impl AsyncDrop for Conn {
/// #     type Error = core::convert::Infallible;
/// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # futures_executor::block_on(async {
/// let shared = AsyncDropShared::new(async { AsyncDropGuard::new(Conn) });
/// let waiting: AsyncDropSharedOutput<'_, _> = AsyncDropShared::output(&shared);
/// let conn = waiting.await;
/// conn.async_drop().await.unwrap();
/// shared.async_drop().await.unwrap();
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AsyncDropSharedOutput<'a, F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    shared: Option<Shared<Driver<F, ValueOf<F>>>>,
    control: &'a Arc<Control<ValueOf<F>>>,
}

impl<F> Future for AsyncDropSharedOutput<'_, F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    type Output = AsyncDropGuard<AsyncDropArc<<F::Output as GuardedOutput>::Value>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let shared = self
            .shared
            .as_mut()
            .expect("`AsyncDropSharedOutput` polled after completion");
        core::task::ready!(shared.poll_unpin(cx));
        self.shared = None;
        let share = self
            .control
            .output
            .get()
            .expect("the shared future stores its output when it finishes")
            .upgrade()
            // The clone this future borrows keeps the pending share.
            .expect("the output of a live shared future is alive");
        Poll::Ready(AsyncDropGuard::new(share))
    }
}

impl<F> FusedFuture for AsyncDropSharedOutput<'_, F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    fn is_terminated(&self) -> bool {
        self.shared.is_none()
    }
}

impl<F> fmt::Debug for AsyncDropSharedOutput<'_, F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDropSharedOutput")
            .field("finished", &self.control.output.get().is_some())
            .field("terminated", &self.shared.is_none())
            .finish()
    }
}
