//! What the crate's macros expand to. Not public API: no stability promise.

pub use futures_util::future::maybe_done;

/// The output of a finished `MaybeDone`.
#[inline]
pub fn take_output<F: core::future::Future>(
    done: core::pin::Pin<&mut futures_util::future::MaybeDone<F>>,
) -> F::Output {
    match done.take_output() {
        Some(output) => output,
        None => unreachable!("taken once, after it finished"),
    }
}

/// Asserts at compile time that a cleanup cannot fail.
#[inline]
pub fn infallible(result: Result<(), core::convert::Infallible>) {
    match result {
        Ok(()) => {}
        Err(never) => match never {},
    }
}

#[cfg(feature = "derive")]
pub use derive::*;

/// The items `#[derive(AsyncDrop)]` / `#[derive(LocalAsyncDrop)]` expand to, so the
/// generated code names nothing but `::asyncdrop` paths.
#[cfg(feature = "derive")]
#[allow(
    missing_debug_implementations,
    reason = "markers and wrappers that live only inside generated code"
)]
#[allow(
    unknown_or_malformed_diagnostic_attributes,
    reason = "`diagnostic::do_not_recommend` is stable from Rust 1.85; older compilers ignore it"
)]
mod derive {
    use core::convert::Infallible;
    use core::fmt;
    use core::marker::PhantomData;
    use core::ops::{Deref, DerefMut};

    pub use core::any::type_name;
    pub use core::convert::From;
    pub use core::fmt::{Debug, Display, Formatter, Result as FmtResult};
    pub use core::future::{poll_fn, Future};
    pub use core::marker::Send;
    pub use core::option::Option::{self, None, Some};
    pub use core::pin::{pin, Pin};
    pub use core::result::Result::{self, Err, Ok};
    pub use core::task::{Context, Poll};
    pub use core::write;

    pub use core::error::Error;

    use crate::policy::{self, Report, ReportKind};
    use crate::{AsyncDropGuard, LocalAsyncDrop};

    pin_project_lite::pin_project! {
        /// One field cleanup of a concurrent join, then its output.
        #[project = SlotProj]
        enum Slot<F: Future> {
            Running { #[pin] cleanup: F },
            Done { output: Option<F::Output> },
        }
    }

    pin_project_lite::pin_project! {
        /// The field cleanups of a concurrent join, as a list: one, then the rest.
        pub struct Cons<F: Future, R> {
            #[pin]
            head: Slot<F>,
            #[pin]
            tail: R,
        }
    }

    /// The end of a [`Cons`] list.
    pub struct Nil;

    impl<F: Future, R> Cons<F, R> {
        /// `cleanup`, then the cleanups in `tail`.
        #[inline(always)]
        pub fn new(cleanup: F, tail: R) -> Self {
            Cons {
                head: Slot::Running { cleanup },
                tail,
            }
        }
    }

    /// A list of field cleanups that are polled together.
    pub trait Fields {
        /// The outputs, as nested pairs: `(A, (B, ()))`.
        type Output;
        /// Polls every unfinished cleanup; `true` when all have finished.
        fn poll_all(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool;
        /// The outputs, once all have finished.
        fn outputs(self: Pin<&mut Self>) -> Self::Output;
    }

    impl Fields for Nil {
        type Output = ();

        #[inline(always)]
        fn poll_all(self: Pin<&mut Self>, _: &mut Context<'_>) -> bool {
            true
        }

        #[inline(always)]
        fn outputs(self: Pin<&mut Self>) {}
    }

    impl<F: Future, R: Fields> Fields for Cons<F, R> {
        type Output = (F::Output, R::Output);

        #[inline(always)]
        fn poll_all(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
            let mut this = self.project();
            let output = match this.head.as_mut().project() {
                SlotProj::Running { cleanup } => match cleanup.poll(cx) {
                    Poll::Ready(output) => Some(output),
                    Poll::Pending => None,
                },
                SlotProj::Done { .. } => None,
            };
            let head_done = match output {
                Some(output) => {
                    this.head.set(Slot::Done {
                        output: Some(output),
                    });
                    true
                }
                None => matches!(*this.head, Slot::Done { .. }),
            };
            this.tail.poll_all(cx) & head_done
        }

        #[inline(always)]
        fn outputs(self: Pin<&mut Self>) -> Self::Output {
            let this = self.project();
            let head = match this.head.project() {
                SlotProj::Done { output } => output.take(),
                SlotProj::Running { .. } => None,
            };
            match head {
                Some(head) => (head, this.tail.outputs()),
                None => unreachable!("a joined field cleanup has finished, and is taken once"),
            }
        }
    }

    pin_project_lite::pin_project! {
        /// The concurrent join of a struct's or variant's field cleanups.
        pub struct Join<L> {
            #[pin]
            fields: L,
        }
    }

    impl<L: Fields> Join<L> {
        /// Joins the cleanups in `fields`.
        #[inline(always)]
        pub fn new(fields: L) -> Self {
            Join { fields }
        }
    }

    impl<L: Fields> Future for Join<L> {
        type Output = L::Output;

        #[inline(always)]
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<L::Output> {
            let mut fields = self.project().fields;
            if fields.as_mut().poll_all(cx) {
                Poll::Ready(fields.outputs())
            } else {
                Poll::Pending
            }
        }
    }

    /// Drops a field (moved into the cleanup to be dropped at this point).
    #[inline(always)]
    pub fn drop_field<T>(_field: T) {}

    /// A field's type, to pick how its cleanup is started (see [`GuardField`]).
    pub struct Field<T>(PhantomData<fn() -> T>);

    /// Starts picking how `value`'s cleanup is run: `(&&field(&x)).kind()`.
    #[inline(always)]
    pub fn field<T>(_value: &T) -> Field<T> {
        Field(PhantomData)
    }

    /// Picked for a field that is a guard: its value is taken out and cleaned up
    /// directly, since the parent's guard is the one check for the whole cleanup.
    pub trait GuardField {
        /// The guard's way.
        fn kind(&self) -> GuardKind;
    }

    impl<T> GuardField for &Field<AsyncDropGuard<T>> {
        #[inline(always)]
        fn kind(&self) -> GuardKind {
            GuardKind
        }
    }

    /// Picked for a field that is an `Option` of a guard, for the same reason.
    pub trait GuardOptionField {
        /// The optional guard's way.
        fn kind(&self) -> GuardOptionKind;
    }

    impl<T> GuardOptionField for &Field<Option<AsyncDropGuard<T>>> {
        #[inline(always)]
        fn kind(&self) -> GuardOptionKind {
            GuardOptionKind
        }
    }

    /// Picked for every other field: cleaned up as it is.
    pub trait PlainField {
        /// The plain way.
        fn kind(&self) -> PlainKind;
    }

    impl<T> PlainField for Field<T> {
        #[inline(always)]
        fn kind(&self) -> PlainKind {
            PlainKind
        }
    }

    /// How a guard field is cleaned up.
    #[derive(Clone, Copy)]
    pub struct GuardKind;

    impl GuardKind {
        /// The guarded value, without a report: the parent's cleanup owns it.
        #[inline(always)]
        pub fn unguard<T>(self, guard: AsyncDropGuard<T>) -> T {
            AsyncDropGuard::into_inner_without_cleanup(guard)
        }
    }

    /// How a field that is an `Option` of a guard is cleaned up.
    #[derive(Clone, Copy)]
    pub struct GuardOptionKind;

    impl GuardOptionKind {
        /// The guarded value, if any, without a report.
        #[inline(always)]
        pub fn unguard<T>(self, guard: Option<AsyncDropGuard<T>>) -> Option<T> {
            guard.map(AsyncDropGuard::into_inner_without_cleanup)
        }
    }

    /// How any other field is cleaned up.
    #[derive(Clone, Copy)]
    pub struct PlainKind;

    impl PlainKind {
        /// The field itself.
        #[inline(always)]
        pub fn unguard<T>(self, value: T) -> T {
            value
        }

        /// The field's cleanup.
        #[inline(always)]
        pub fn cleanup<T: Resource>(self, value: T) -> impl Future<Output = Result<(), T::Error>> {
            value.cleanup()
        }
    }

    /// A field that is cleaned up: every `LocalAsyncDrop` type. The derived impl
    /// names the fields' errors through it, so an error about a field says what
    /// this trait's note says.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no async cleanup, so it cannot be a field that the derive cleans up",
        label = "not a resource",
        note = "mark the field `#[async_drop(skip)]` to drop it normally after the cleanup, or implement `AsyncDrop` (or `LocalAsyncDrop`) for `{Self}`"
    )]
    pub trait Resource {
        /// `<Self as LocalAsyncDrop>::Error`.
        type Error;
        /// `<Self as LocalAsyncDrop>::local_async_drop_impl`.
        fn cleanup(self) -> impl Future<Output = Result<(), Self::Error>>;
    }

    #[diagnostic::do_not_recommend]
    impl<T: LocalAsyncDrop> Resource for T {
        type Error = T::Error;

        #[inline(always)]
        fn cleanup(self) -> impl Future<Output = Result<(), T::Error>> {
            self.local_async_drop_impl()
        }
    }

    /// A field cleanup that `#[derive(AsyncDrop)]` can run: a `Send` one.
    #[diagnostic::on_unimplemented(
        message = "the cleanup of this field is not `Send`, so `#[derive(AsyncDrop)]` cannot promise a `Send` cleanup",
        label = "cleanup is not `Send`",
        note = "derive `LocalAsyncDrop` instead of `AsyncDrop` for a type whose cleanup stays on one thread"
    )]
    pub trait SendCleanup {}

    #[diagnostic::do_not_recommend]
    impl<F: Send> SendCleanup for F {}

    /// A field `#[derive(AsyncDrop)]` can keep: a `Send` one.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not `Send`, so `#[derive(AsyncDrop)]` cannot promise a `Send` cleanup",
        label = "not `Send`",
        note = "derive `LocalAsyncDrop` instead of `AsyncDrop` for a type whose cleanup stays on one thread"
    )]
    pub trait SendField {}

    #[diagnostic::do_not_recommend]
    impl<T: Send + ?Sized> SendField for T {}

    /// Checks that a field's cleanup is `Send`, pointing at the field if not.
    #[inline(always)]
    pub fn send_cleanup<F: SendCleanup>(cleanup: F) -> F {
        cleanup
    }

    /// Checks that a field kept through the cleanup is `Send`.
    #[inline(always)]
    pub fn send_field<T: SendField + ?Sized>(_field: &T) {}

    /// The parent's own step run before its fields are cleaned up.
    #[diagnostic::on_unimplemented(
        message = "`before` must name an `async fn(&mut self) -> Result<(), E>` of `{S}`",
        label = "not an `async fn(&mut {S}) -> Result<(), _>`",
        note = "its error is converted with `From` into the type given by `#[async_drop(error = E)]`"
    )]
    pub trait Before<'a, S: ?Sized> {
        /// The step's error.
        type Error;
        /// The step's future.
        type Future: Future<Output = Result<(), Self::Error>>;
        /// Starts the step.
        fn call(self, parent: &'a mut S) -> Self::Future;
    }

    #[diagnostic::do_not_recommend]
    impl<'a, S: ?Sized + 'a, F, Fut, X> Before<'a, S> for F
    where
        F: FnOnce(&'a mut S) -> Fut,
        Fut: Future<Output = Result<(), X>>,
    {
        type Error = X;
        type Future = Fut;

        #[inline(always)]
        fn call(self, parent: &'a mut S) -> Fut {
            self(parent)
        }
    }

    /// Starts the `before` step on the parent.
    #[inline(always)]
    pub fn before<'a, S: ?Sized, F: Before<'a, S>>(step: F, parent: &'a mut S) -> F::Future {
        step.call(parent)
    }

    /// The parent while its `before` step runs. Dropped before the step finished
    /// (cancelled, or the step panicked), it hands the parent to `on_drop`, which
    /// takes the guard fields out of their guards: the parent's own guard reports
    /// the cancelled cleanup, once.
    pub struct Parent<T, F: FnOnce(T)> {
        held: Option<(T, F)>,
    }

    impl<T, F: FnOnce(T)> Parent<T, F> {
        /// Holds `parent` until [`release`](Self::release).
        #[inline(always)]
        pub fn new(parent: T, on_drop: F) -> Self {
            Parent {
                held: Some((parent, on_drop)),
            }
        }

        /// The parent, for its fields' cleanups.
        #[inline(always)]
        pub fn release(mut this: Self) -> T {
            match this.held.take() {
                Some((parent, _)) => parent,
                None => unreachable!("the parent is held until released"),
            }
        }
    }

    impl<T, F: FnOnce(T)> Deref for Parent<T, F> {
        type Target = T;

        #[inline(always)]
        fn deref(&self) -> &T {
            match &self.held {
                Some((parent, _)) => parent,
                None => unreachable!("the parent is held until released"),
            }
        }
    }

    impl<T, F: FnOnce(T)> DerefMut for Parent<T, F> {
        #[inline(always)]
        fn deref_mut(&mut self) -> &mut T {
            match &mut self.held {
                Some((parent, _)) => parent,
                None => unreachable!("the parent is held until released"),
            }
        }
    }

    impl<T, F: FnOnce(T)> Drop for Parent<T, F> {
        fn drop(&mut self) {
            if let Some((parent, on_drop)) = self.held.take() {
                on_drop(parent);
            }
        }
    }

    /// Converts a field's error into the `error = E` type: by `From`, or, for an
    /// infallible cleanup, by `match never {}` (so `E` needs no `From<Infallible>`).
    pub struct Convert<E, X>(PhantomData<fn(X) -> E>);

    /// Starts converting `error`: `(&&convert::<E, _>(&x)).convert_error(x)`.
    #[inline(always)]
    pub fn convert<E, X>(_error: &X) -> Convert<E, X> {
        Convert(PhantomData)
    }

    /// Picked for an infallible cleanup's error.
    pub trait ConvertNever<E> {
        /// Never called.
        fn convert_error(&self, never: Infallible) -> E;
    }

    impl<E> ConvertNever<E> for &Convert<E, Infallible> {
        #[inline(always)]
        fn convert_error(&self, never: Infallible) -> E {
            match never {}
        }
    }

    /// Picked for every other error: `From`.
    pub trait ConvertFrom<E, X> {
        /// `E::from(error)`.
        fn convert_error(&self, error: X) -> E
        where
            E: From<X>;
    }

    impl<E, X> ConvertFrom<E, X> for Convert<E, X> {
        #[inline(always)]
        fn convert_error(&self, error: X) -> E
        where
            E: From<X>,
        {
            E::from(error)
        }
    }

    /// An error that is not returned, to be reported: `(&&Detail(&e)).detail()` is
    /// its `Debug` form where it has one.
    pub struct Detail<'a, T>(pub &'a T);

    /// Picked for an error with a `Debug` form.
    pub trait DebugDetail {
        /// The error, as the report's detail.
        fn detail(&self) -> Option<&dyn fmt::Debug>;
    }

    impl<T: fmt::Debug> DebugDetail for &Detail<'_, T> {
        #[inline(always)]
        fn detail(&self) -> Option<&dyn fmt::Debug> {
            Some(self.0)
        }
    }

    /// Picked for an error without one.
    pub trait NoDetail {
        /// No detail.
        fn detail(&self) -> Option<&dyn fmt::Debug>;
    }

    impl<T> NoDetail for Detail<'_, T> {
        #[inline(always)]
        fn detail(&self) -> Option<&dyn fmt::Debug> {
            None
        }
    }

    /// Reports an error of `T`'s cleanup that is not the one returned.
    #[cold]
    #[inline(never)]
    pub fn report_failed<T: ?Sized>(detail: Option<&dyn fmt::Debug>) {
        let report = Report::unsited(ReportKind::Failed, core::any::type_name::<T>());
        match detail {
            Some(detail) => policy::report(&report.with_detail(detail)),
            None => policy::report(&report),
        }
    }
}

/// `defmt::Format` for the derive's generated error types, written here so that the
/// generated code needs no `defmt` of its own: the impl goes through
/// [`defmt_error!`](crate::__defmt_error), which drops it without the feature.
#[cfg(all(feature = "derive", feature = "defmt"))]
pub mod defmt {
    pub use defmt::{Format, Formatter};

    /// Writes "`failed` of `total` field cleanups of `type_name` failed".
    pub fn header(f: Formatter<'_>, failed: usize, total: usize, type_name: &'static str) {
        defmt::write!(
            f,
            "{=usize} of {=usize} field cleanups of `{=str}` failed",
            failed,
            total,
            type_name
        );
    }

    /// Writes "; `field`: `error`".
    pub fn field<E: Format>(f: Formatter<'_>, field: &'static str, error: &E) {
        defmt::write!(f, "; {=str}: {}", field, error);
    }
}

/// Expands to its input with the `defmt` feature, to nothing without it.
#[cfg(feature = "defmt")]
#[doc(hidden)]
#[macro_export]
macro_rules! __defmt_error {
    ($($item:tt)*) => { $($item)* };
}

/// Expands to its input with the `defmt` feature, to nothing without it.
#[cfg(not(feature = "defmt"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __defmt_error {
    ($($item:tt)*) => {};
}
