//! A shared future whose output is guarded.
//!
//! # Design
//!
//! `futures_util::future::Shared` drives the future once and wakes every waiter; its
//! own output is `()`. The future's real output goes, when it finishes, into a slot
//! as one [`AsyncDropArc`] share that all clones of the shared future own together;
//! each handle handed out is a clone of that share. The clones hold the slot through
//! `Control`, an `Arc` whose strong count is the number of clones: the clone that
//! gives the last reference up (`Arc::into_inner`, which picks exactly one) drives an
//! unfinished future to completion, takes the share out of the slot and cleans it up
//! — or drops it, when it is forgotten. So whichever of {the last clone, the handles}
//! gives up the last share runs the value's cleanup. Everything else that refers to
//! the slot or the future may be dropped late and on any thread without ending the
//! value: `Shared` holds only `()` and, until the future finished, the `Driver`,
//! whose reference to the slot it drops as soon as the output is stored.

use core::fmt;
use core::future::{Future, Ready};
use core::hash::{Hash, Hasher};
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use futures_util::future::{FusedFuture, FutureExt, Shared};
use pin_project_lite::pin_project;
use std::sync::{Mutex, OnceLock, PoisonError};

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
/// `AsyncDropShared<F>` can find `T` from the future's type alone; you never
/// implement or call it.
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
        // Not a bypass: the value goes straight into an `AsyncDropArc`, whose last
        // clone runs the cleanup.
        AsyncDropGuard::into_inner_without_cleanup(self)
    }
}

/// The guarded value of the output of `F`.
type ValueOf<F> = <<F as Future>::Output as GuardedOutput>::Value;

/// Where the output goes when the future finishes: the one share of it that all
/// clones own together until the last clone takes it out.
type Slot<T> = Arc<OnceLock<AsyncDropArc<T>>>;

/// What the clones of one shared future hold. The strong count of the `Arc` around
/// it is the number of clones.
struct Control<T> {
    output: Slot<T>,
}

pin_project! {
    /// The future `Shared` drives: runs `F` and stores its output in the slot.
    /// `Shared` drops it (and its reference to the slot) once it finished.
    struct Driver<F, T> {
        #[pin]
        future: F,
        output: Slot<T>,
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
        if this.output.get().is_some() {
            // Finished before `Shared` first polled it (`new_ready`).
            return Poll::Ready(());
        }
        let output = core::task::ready!(this.future.poll(cx));
        let stored = this
            .output
            .set(AsyncDropArc::unguarded(GuardedOutput::__into_value(output)));
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
/// Clones compare equal, and hash alike, when they share the same future (see
/// [`ptr_eq`](Self::ptr_eq)), so they can key a map. The second type parameter is
/// always the guarded output type (its default). Reports name a clone by it,
/// `asyncdrop::AsyncDropShared<app::Session>`, not by the future's type (often an
/// unnameable `{{closure}}`).
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
pub struct AsyncDropShared<F, T = <<F as Future>::Output as GuardedOutput>::Value>
where
    F: Future,
    F::Output: GuardedOutput<Value = T>,
{
    shared: Shared<Driver<F, T>>,
    control: Arc<Control<T>>,
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
    /// # use asyncdrop::{doc_fixture::Conn, AsyncDropGuard, AsyncDropShared};
    /// let shared = AsyncDropShared::new(async { AsyncDropGuard::new(Conn) });
    /// assert!(AsyncDropShared::peek(&shared).is_none());
    /// // Cleaning up the last clone runs the future, then cleans up `Conn`.
    /// futures_executor::block_on(shared.async_drop()).unwrap();
    /// ```
    #[track_caller]
    pub fn new(future: F) -> AsyncDropGuard<Self> {
        let output = Arc::new(OnceLock::new());
        let shared = Driver {
            future,
            output: Arc::clone(&output),
        }
        .shared();
        AsyncDropGuard::new(AsyncDropShared {
            shared,
            control: Arc::new(Control { output }),
        })
    }

    /// Makes another clone, as a guard of its own; it records the location of this
    /// call.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{doc_fixture::Conn, AsyncDropGuard, AsyncDropShared};
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
    pub fn peek(this: &Self) -> Option<&ValueOf<F>> {
        this.control.output.get().map(|share| &**share)
    }

    /// The number of clones of the shared future that exist right now (handles to
    /// the output are not counted).
    pub fn strong_count(this: &Self) -> usize {
        Arc::strong_count(&this.control)
    }

    /// Whether two clones share the same future.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.control, &b.control)
    }
}

impl<T: LocalAsyncDrop> AsyncDropShared<Ready<AsyncDropGuard<T>>> {
    /// Shares a value that is ready now, as a shared future that has finished: the
    /// returned guard is the first clone, and [`peek`](Self::peek) gives the value at
    /// once.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{doc_fixture::Conn, AsyncDropGuard, AsyncDropShared};
    /// # futures_executor::block_on(async {
    /// let shared = AsyncDropShared::new_ready(AsyncDropGuard::new(Conn));
    /// assert!(AsyncDropShared::peek(&shared).is_some());
    /// let conn = AsyncDropShared::output(&shared).await; // at once
    /// conn.async_drop().await?;
    /// shared.async_drop().await?; // the last one: cleans up `Conn`
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn new_ready(value: AsyncDropGuard<T>) -> AsyncDropGuard<Self> {
        let output = Arc::new(OnceLock::new());
        let mut driver = Driver {
            future: core::future::ready(value),
            output: Arc::clone(&output),
        };
        // `Ready` finishes in its first poll: the value goes into the slot now, and
        // `Shared`'s first poll of the driver only sees that.
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let finished = Pin::new(&mut driver).poll(&mut cx).is_ready();
        debug_assert!(finished, "`Ready` finishes in one poll");
        AsyncDropGuard::new(AsyncDropShared {
            shared: driver.shared(),
            control: Arc::new(Control { output }),
        })
    }
}

/// Cleaning up a clone gives it up; the last clone drives the future to completion
/// (if it has not finished) and gives up the share of the output that the clones hold, which runs the
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
    type Error = <ValueOf<F> as LocalAsyncDrop>::Error;

    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        let AsyncDropShared {
            mut shared,
            control,
        } = self;
        // `Release` / `Acquire` inside, as in `Arc::drop`: everything the other clones
        // did (their polls of the future, their `peek`s) happens before the last one
        // goes on. Those that are not the last drop their `Shared` late, which ends
        // nothing: it holds no share.
        let Some(Control { output }) = Arc::into_inner(control) else {
            return Ok(());
        };
        // Every other clone is gone, and so is every `output` future (they borrow a
        // clone). Finish the future: its output may hold a resource that needs
        // cleanup.
        (&mut shared).await;
        drop(shared);
        // Finished, the driver is gone (`Shared` drops it before it reports the
        // completion), so this is the slot's last reference.
        let share = Arc::into_inner(output)
            .and_then(OnceLock::into_inner)
            .expect("a finished future stored its output, and only the last clone holds it");
        share.local_async_drop_impl().await
    }
}

/// Two clones are equal when they share the same future ([`AsyncDropShared::ptr_eq`]).
impl<F> PartialEq for AsyncDropShared<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    fn eq(&self, other: &Self) -> bool {
        AsyncDropShared::ptr_eq(self, other)
    }
}

impl<F> Eq for AsyncDropShared<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
}

/// Hashes the identity of the shared future, consistent with `PartialEq`.
impl<F> Hash for AsyncDropShared<F>
where
    F: Future,
    F::Output: GuardedOutput,
{
    fn hash<H: Hasher>(&self, state: &mut H) {
        ptr::hash(Arc::as_ptr(&self.control), state);
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
/// The name reports give `name`: for a clone of a shared future,
/// `asyncdrop::AsyncDropShared<Output>` (made once per type, then kept); any other
/// name as it is.
pub(crate) fn report_name(name: &'static str) -> &'static str {
    const PREFIX: &str = concat!(module_path!(), "::AsyncDropShared<");
    let Some(output) = name
        .strip_prefix(PREFIX)
        .and_then(|args| args.strip_suffix('>'))
        .and_then(last_argument)
    else {
        return name;
    };
    static NAMES: Mutex<Vec<(&str, &str)>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&(_, short)) = names.iter().find(|(long, _)| *long == name) {
        return short;
    }
    let short: &'static str =
        Box::leak(format!("asyncdrop::AsyncDropShared<{output}>").into_boxed_str());
    names.push((name, short));
    short
}

/// The last top-level argument of a generic argument list (`A<B, C>, D` gives `D`);
/// `None` if there is only one or the brackets do not match.
fn last_argument(args: &str) -> Option<&str> {
    let bytes = args.as_bytes();
    let (mut depth, mut start) = (0usize, None);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {} // `fn() -> T`
            b'>' | b')' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => start = Some(i + 1),
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    Some(args[start?..].trim_start())
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
            // The clone this future borrows keeps the shared share in the slot.
            .expect("the shared future stores its output when it finishes");
        Poll::Ready(AsyncDropGuard::new(AsyncDropArc::share(share)))
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

#[cfg(test)]
mod tests {
    use super::{last_argument, report_name};

    #[test]
    fn the_last_argument_is_found_at_the_top_level() {
        assert_eq!(
            last_argument("app::f::{{closure}}, app::Conn"),
            Some("app::Conn")
        );
        assert_eq!(
            last_argument("app::F<(u8, u8), fn(u8) -> u8>, app::Pair<(u8, u8), [u8; 2]>"),
            Some("app::Pair<(u8, u8), [u8; 2]>")
        );
        assert_eq!(last_argument("app::Conn"), None);
        assert_eq!(last_argument("a>, b"), None);
        assert_eq!(last_argument("a<, b"), None);
    }

    #[test]
    fn a_clone_is_named_by_its_output_once_and_other_names_stay() {
        let long = "asyncdrop::shared::AsyncDropShared<app::f::{{closure}}, app::Conn>";
        let short = report_name(long);
        assert_eq!(short, "asyncdrop::AsyncDropShared<app::Conn>");
        assert!(core::ptr::eq(short, report_name(long)), "made once");
        assert_eq!(report_name("app::Conn"), "app::Conn");
        let odd = "asyncdrop::shared::AsyncDropShared<app::Conn>";
        assert_eq!(report_name(odd), odd);
    }
}
