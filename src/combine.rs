//! Building one guarded value out of several guarded ones.

use crate::{AsyncDropGuard, LocalAsyncDrop};

mod sealed {
    #[allow(
        unreachable_pub,
        reason = "sealed-trait pattern: public but unnameable"
    )]
    pub trait Sealed {}
}

/// A fixed set of guards that [`AsyncDropGuard::combine`] takes apart: a tuple of up
/// to 8 guards, or an array of guards.
///
/// Implemented for those shapes only (sealed); you never implement or call it.
///
/// # Examples
///
/// ```
/// use asyncdrop::{AsyncDrop, AsyncDropGuard, GuardSet};
/// # struct Conn;
/// # impl AsyncDrop for Conn {
/// #     type Error = core::convert::Infallible;
/// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// # }
///
/// fn values_of<G: GuardSet>(_: &G) -> &'static str {
///     core::any::type_name::<G::Values>()
/// }
/// let pair = (AsyncDropGuard::new(Conn), AsyncDropGuard::new(Conn));
/// assert!(values_of(&pair).contains("Conn"));
/// # futures_executor::block_on(asyncdrop::async_drop_all(pair)).unwrap();
/// ```
pub trait GuardSet: sealed::Sealed {
    /// The guarded values, in the same shape: `(A, B)` for
    /// `(AsyncDropGuard<A>, AsyncDropGuard<B>)`, `[T; N]` for `[AsyncDropGuard<T>; N]`.
    type Values;

    #[doc(hidden)]
    fn __into_values(self) -> Self::Values;
}

impl<T, const N: usize> sealed::Sealed for [AsyncDropGuard<T>; N] {}

impl<T, const N: usize> GuardSet for [AsyncDropGuard<T>; N] {
    type Values = [T; N];

    #[inline]
    fn __into_values(self) -> [T; N] {
        self.map(AsyncDropGuard::into_inner_without_cleanup)
    }
}

macro_rules! guard_tuples {
    ($( ($($T:ident $v:ident),+) )+) => {$(
        impl<$($T),+> sealed::Sealed for ($(AsyncDropGuard<$T>,)+) {}

        impl<$($T),+> GuardSet for ($(AsyncDropGuard<$T>,)+) {
            type Values = ($($T,)+);

            #[inline]
            fn __into_values(self) -> Self::Values {
                let ($($v,)+) = self;
                ($(AsyncDropGuard::into_inner_without_cleanup($v),)+)
            }
        }
    )+};
}

guard_tuples! {
    (A a)
    (A a, B b)
    (A a, B b, C c)
    (A a, B b, C c, D d)
    (A a, B b, C c, D d, E e)
    (A a, B b, C c, D d, E e, F f)
    (A a, B b, C c, D d, E e, F f, G g)
    (A a, B b, C c, D d, E e, F f, G g, H h)
}

impl<T> AsyncDropGuard<T> {
    /// Builds one guarded value out of several guarded ones: the values move out of
    /// their guards into `f`, and the value `f` returns is guarded instead. Its
    /// cleanup is then responsible for cleaning up the parts. The new guard records
    /// the location of this call.
    ///
    /// This is the cheapest way to build a resource out of other resources: the parts
    /// are plain fields of the parent and the parent's guard is the one check, so
    /// cleaning up through the parent costs what calling the parts' cleanups directly
    /// costs (see `BENCHMARKS.md`, case c). Keeping `AsyncDropGuard` fields inside the
    /// parent works too, but every such field adds its own forgotten-cleanup check to
    /// the parent's drop code.
    ///
    /// The parent's guard is then the only check: forgetting the parent is reported
    /// (once, naming the parent's type), but a part that the parent's cleanup does not
    /// clean up — say, because it returned early with `?` — is dropped without a
    /// report. To clean up every part whatever fails, use
    /// [`async_drop_all`](crate::async_drop_all) on them, as below. Likewise, when
    /// the parent's cleanup is cancelled, the parts it has not cleaned up yet get no
    /// report of their own: the parent's
    /// [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) covers them.
    ///
    /// # Panics
    ///
    /// If `f` panics the values it was given are dropped during unwinding, without a
    /// report (the panic is the report).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::{async_drop_all, AsyncDrop, AsyncDropGuard};
    ///
    /// struct Conn(&'static str);
    /// impl Conn {
    ///     fn open(name: &'static str) -> AsyncDropGuard<Conn> {
    ///         AsyncDropGuard::new(Conn(name))
    ///     }
    /// }
    /// impl AsyncDrop for Conn {
    ///     type Error = String;
    ///     async fn async_drop_impl(self) -> Result<(), String> { Ok(()) }
    /// }
    ///
    /// struct Replicas {
    ///     primary: Conn,
    ///     backup: Conn,
    /// }
    /// impl AsyncDrop for Replicas {
    ///     type Error = String;
    ///     async fn async_drop_impl(self) -> Result<(), String> {
    ///         // Both are cleaned up, even if one fails; the first error is kept.
    ///         async_drop_all((self.primary, self.backup))
    ///             .await
    ///             .map_err(|e| e.first().clone())
    ///     }
    /// }
    ///
    /// let parts = (Conn::open("a"), Conn::open("b"));
    /// let replicas = AsyncDropGuard::combine(parts, |(primary, backup)| Replicas {
    ///     primary,
    ///     backup,
    /// });
    /// assert_eq!(replicas.backup.0, "b");
    /// # futures_executor::block_on(async {
    /// replicas.async_drop().await?;
    /// # Ok::<(), String>(())
    /// # }).unwrap();
    /// ```
    #[inline]
    #[track_caller]
    pub fn combine<G, F>(guards: G, f: F) -> Self
    where
        T: LocalAsyncDrop,
        G: GuardSet,
        F: FnOnce(G::Values) -> T,
    {
        AsyncDropGuard::new(f(guards.__into_values()))
    }
}
