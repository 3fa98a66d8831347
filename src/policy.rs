//! What happens when cleanup is skipped: the report and the process-wide policy.

use core::fmt;
use core::panic::Location;
use core::sync::atomic::{AtomicPtr, Ordering};

/// What went wrong with a guarded value's cleanup.
///
/// # Examples
///
/// ```
/// use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy, Report, ReportKind};
/// # struct Conn;
/// # impl AsyncDrop for Conn {
/// #     type Error = core::convert::Infallible;
/// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
/// # }
///
/// fn hook(report: &Report<'_>) {
///     match report.kind() {
///         ReportKind::Forgotten => eprintln!("leak-ish bug: {report}"),
///         ReportKind::Cancelled => eprintln!("cleanup interrupted: {report}"),
///         _ => eprintln!("{report}"),
///     }
/// }
/// set_policy(Policy::Hook(hook));
/// drop(AsyncDropGuard::new(Conn).async_drop()); // cancelled before it ran
/// set_policy(Policy::Panic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ReportKind {
    /// An [`AsyncDropGuard`](crate::AsyncDropGuard) was dropped without
    /// [`async_drop`](crate::AsyncDropGuard::async_drop) being called. The value was
    /// dropped synchronously instead.
    Forgotten,
    /// A cleanup future ([`AsyncDropFuture`](crate::future::AsyncDropFuture)) was
    /// dropped before it finished (a `select!`, a deadline, an aborted task). The
    /// value was dropped synchronously instead; the cleanup did not complete.
    Cancelled,
    /// A cleanup ran where nobody could receive its error (a synchronous `Drop`, a
    /// background task); the error is in [`Report::detail`].
    Failed,
    /// A cleanup panicked where nobody could observe the panic (a background thread
    /// or task); the panic message, if it is a string, is in [`Report::detail`].
    Panicked,
}

impl ReportKind {
    /// The kind's name in lower case: `"forgotten"`, `"cancelled"`, `"failed"` or
    /// `"panicked"`. With [`Report::type_name`], what a hook needs to say what
    /// happened without `core::fmt` (see [`Policy`]).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(asyncdrop::ReportKind::Cancelled.as_str(), "cancelled");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Forgotten => "forgotten",
            ReportKind::Cancelled => "cancelled",
            ReportKind::Failed => "failed",
            ReportKind::Panicked => "panicked",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ReportKind::Forgotten => {
                "was dropped without cleanup (call `.async_drop().await` on the guard)"
            }
            ReportKind::Cancelled => {
                "had its cleanup cancelled: the cleanup future was dropped before it finished"
            }
            ReportKind::Failed => "failed to clean up",
            ReportKind::Panicked => "panicked during cleanup",
        }
    }
}

/// A report of skipped cleanup, handed to the [`Policy`].
///
/// It names the guarded type and, in builds with debug assertions, where the guard
/// was created. Its `Display` form is a one-line, human-readable message.
///
/// # Examples
///
/// ```
/// use asyncdrop::{Policy, Report, ReportKind};
///
/// fn hook(report: &Report<'_>) {
///     assert_eq!(report.kind(), ReportKind::Forgotten);
///     println!("{report}");
/// }
/// asyncdrop::set_policy(Policy::Hook(hook));
/// # asyncdrop::set_policy(Policy::Panic);
/// ```
#[derive(Clone, Copy)]
pub struct Report<'a> {
    kind: ReportKind,
    type_name: &'static str,
    site: Option<&'static Location<'static>>,
    detail: Option<&'a dyn fmt::Debug>,
}

impl<'a> Report<'a> {
    pub(crate) fn new(kind: ReportKind, type_name: &'static str, site: Site) -> Self {
        Report::at(kind, type_name, site.get())
    }

    /// A report about a value that had no guard of its own (a derived type's field).
    #[cfg(feature = "derive")]
    pub(crate) fn unsited(kind: ReportKind, type_name: &'static str) -> Self {
        Report::at(kind, type_name, None)
    }

    fn at(
        kind: ReportKind,
        type_name: &'static str,
        site: Option<&'static Location<'static>>,
    ) -> Self {
        #[cfg(feature = "std")]
        let type_name = crate::shared::report_name(type_name);
        Report {
            kind,
            type_name,
            site,
            detail: None,
        }
    }

    /// Adds the error or panic message a report of [`ReportKind::Failed`] or
    /// [`ReportKind::Panicked`] carries.
    #[allow(
        dead_code,
        reason = "used by the `std` helpers and the derive's support"
    )]
    pub(crate) fn with_detail(mut self, detail: &'a dyn fmt::Debug) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The cleanup's error ([`ReportKind::Failed`]) or panic message
    /// ([`ReportKind::Panicked`]), in its `Debug` form; `None` for other kinds.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::Report;
    ///
    /// fn hook(report: &Report<'_>) {
    ///     if let Some(detail) = report.detail() {
    ///         eprintln!("{}: {detail:?}", report.type_name());
    ///     }
    /// }
    /// asyncdrop::set_policy(asyncdrop::Policy::Hook(hook));
    /// # asyncdrop::set_policy(asyncdrop::Policy::Panic);
    /// ```
    pub fn detail(&self) -> Option<&'a dyn fmt::Debug> {
        self.detail
    }

    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy, Report, ReportKind};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// fn hook(r: &Report<'_>) {
    ///     assert_eq!(r.kind(), ReportKind::Forgotten);
    /// }
    /// set_policy(Policy::Hook(hook));
    /// drop(AsyncDropGuard::new(Conn)); // forgotten: reported to `hook`
    /// set_policy(Policy::Panic);
    /// ```
    pub fn kind(&self) -> ReportKind {
        self.kind
    }

    /// The full name of the guarded type, as given by [`core::any::type_name`]; a
    /// clone of a shared future is named by its output, `asyncdrop::AsyncDropShared<app::Conn>`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy, Report};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// fn hook(r: &Report<'_>) {
    ///     assert!(r.type_name().ends_with("Conn"));
    /// }
    /// set_policy(Policy::Hook(hook));
    /// drop(AsyncDropGuard::new(Conn)); // forgotten: reported to `hook`
    /// set_policy(Policy::Panic);
    /// ```
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Where the guard was created: recorded by
    /// [`AsyncDropGuard::new`](crate::AsyncDropGuard::new) in builds with debug
    /// assertions, `None` in release builds (where the guard is exactly as large as
    /// the value).
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy, Report};
    /// # struct Conn;
    /// # impl AsyncDrop for Conn {
    /// #     type Error = core::convert::Infallible;
    /// #     async fn async_drop_impl(self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// fn hook(r: &Report<'_>) {
    ///     if let Some(site) = r.site() {
    ///         assert!(site.file().ends_with(".rs")); // where `AsyncDropGuard::new` was called
    ///     }
    /// }
    /// set_policy(Policy::Hook(hook));
    /// drop(AsyncDropGuard::new(Conn)); // forgotten: reported to `hook`
    /// set_policy(Policy::Panic);
    /// ```
    pub fn site(&self) -> Option<&'static Location<'static>> {
        self.site
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("kind", &self.kind)
            .field("type_name", &self.type_name)
            .field("site", &self.site)
            .field("detail", &self.detail)
            .finish()
    }
}

// Written with `write_str` and no format string: the default policy's
// `panic!("{report}")` then links none of `core::fmt`'s machinery unless the panic
// handler formats its message (a firmware with a handler that prints nothing pays
// for this function only). The site is formatted only where one is recorded.
impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("asyncdrop: AsyncDropGuard<")?;
        f.write_str(self.type_name)?;
        f.write_str("> ")?;
        f.write_str(self.kind.describe())?;
        if let Some(detail) = self.detail {
            f.write_str(": ")?;
            detail.fmt(f)?;
        }
        #[cfg(debug_assertions)]
        if let Some(site) = self.site {
            f.write_str("; guard created at ")?;
            fmt::Display::fmt(site, f)?;
        }
        Ok(())
    }
}

/// The report in one `defmt` frame: the message of its `Display` form, the site as
/// `file:line:column` where one is recorded. The detail (a `dyn Debug`) is left out,
/// so no `core::fmt` is linked for it; a hook can log it with `defmt::Debug2Format`.
#[cfg(feature = "defmt")]
impl defmt::Format for Report<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        let (kind, type_name) = (self.kind.describe(), self.type_name);
        match self.site {
            Some(site) => defmt::write!(
                f,
                "asyncdrop: AsyncDropGuard<{=str}> {=str}; guard created at {=str}:{=u32}:{=u32}",
                type_name,
                kind,
                site.file(),
                site.line(),
                site.column()
            ),
            None => defmt::write!(
                f,
                "asyncdrop: AsyncDropGuard<{=str}> {=str}",
                type_name,
                kind
            ),
        }
    }
}

/// How skipped cleanup is reported, process-wide. Set with [`set_policy`].
///
/// Reports come from [`AsyncDropGuard`](crate::AsyncDropGuard)s dropped without
/// cleanup ([`ReportKind::Forgotten`]) and from cleanup futures dropped before they
/// finished ([`ReportKind::Cancelled`]). In both cases the value itself has been
/// dropped synchronously, exactly once; the policy only decides how loudly that is
/// said.
///
/// # Policies that panic
///
/// With any policy, every value is dropped exactly once and every skipped cleanup
/// reported exactly once, whatever panics (with `std`):
///
/// - while the thread unwinds already, [`Policy::Panic`] prints instead;
/// - a drop responsible for many values — a group cleanup (`async_drop_iter`, the
///   collections, a `Vec` of guards), a cleanup worker and its queue — drops all of
///   them first and raises the first report's panic once, after;
/// - a task's destructor (a runtime dropping the adapters' tasks at shutdown) never
///   panics: a panicking report there is caught, and [`Policy::Panic`] prints.
///
/// # Without `core::fmt`
///
/// [`Policy::Panic`], the default, needs none of `core::fmt`'s machinery: the
/// report's `Display` writes plain strings, so a firmware whose panic handler prints
/// nothing (`panic-halt`) links no formatting code for it, and one whose handler
/// prints gets the full message. To report with no `core::fmt` anywhere, the panic
/// handler included, use a hook that writes the report's parts, all `&'static str`:
///
/// ```
/// use asyncdrop::{set_policy, Policy, Report};
///
/// fn write(bytes: &[u8]) {
///     // e.g. a UART, an RTT channel or semihosting
/// #   let _ = bytes;
/// }
///
/// fn report(report: &Report<'_>) {
///     write(b"asyncdrop: ");
///     write(report.kind().as_str().as_bytes()); // "forgotten", "cancelled", ..
///     write(b" ");
///     write(report.type_name().as_bytes());
///     write(b"\n");
/// }
/// set_policy(Policy::Hook(report));
/// # set_policy(Policy::Panic);
/// ```
///
/// # Examples
///
/// ```
/// use asyncdrop::{set_policy, Policy};
///
/// // In production, prefer a log line over a crash:
/// set_policy(Policy::PanicInDebug);
/// # set_policy(Policy::Panic);
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Policy {
    /// Panic with the report's message. The default.
    ///
    /// With the `std` feature, a report made while the thread is already panicking
    /// is printed to standard error instead, so an unwinding panic never becomes an
    /// abort. Without `std` there is no way to tell, so a guard dropped during
    /// unwinding panics again (which aborts).
    Panic,
    /// Panic in builds with debug assertions (as [`Policy::Panic`]); in release
    /// builds print to standard error with `std`, or ignore without it.
    PanicInDebug,
    /// Print the report to standard error and go on.
    #[cfg(feature = "std")]
    Stderr,
    /// Say nothing.
    Ignore,
    /// Call this function with the report. It may log, count, or panic.
    Hook(fn(&Report<'_>)),
    /// Log the report with the `log` crate, target `asyncdrop`: `Warn` for a
    /// cancelled cleanup, `Error` otherwise, with the key-values `type_name`,
    /// `kind`, `site` and `detail` (empty when there is none).
    ///
    /// ```
    /// asyncdrop::set_policy(asyncdrop::Policy::Log);
    /// # asyncdrop::set_policy(asyncdrop::Policy::Panic);
    /// ```
    #[cfg(feature = "log")]
    Log,
    /// Emit the report as a `tracing` event, target `asyncdrop`: `WARN` for a
    /// cancelled cleanup, `ERROR` otherwise, with the fields `type_name`, `kind`,
    /// `site` and `detail` (the last two when known).
    ///
    /// ```
    /// asyncdrop::set_policy(asyncdrop::Policy::Tracing);
    /// # asyncdrop::set_policy(asyncdrop::Policy::Panic);
    /// ```
    #[cfg(feature = "tracing")]
    Tracing,
}

/// Where a guard was created: the location in builds with debug assertions, nothing
/// (zero bytes) in release builds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site {
    #[cfg(debug_assertions)]
    location: &'static Location<'static>,
}

impl Site {
    #[inline]
    #[track_caller]
    pub(crate) fn caller() -> Site {
        Site {
            #[cfg(debug_assertions)]
            location: Location::caller(),
        }
    }

    #[inline]
    pub(crate) fn get(self) -> Option<&'static Location<'static>> {
        #[cfg(debug_assertions)]
        {
            Some(self.location)
        }
        #[cfg(not(debug_assertions))]
        {
            None
        }
    }
}

/// The policy function in force; null means the default, [`Policy::Panic`].
static POLICY: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Sets the process-wide [`Policy`] for reports of skipped cleanup.
///
/// Takes effect for every report made after it returns, on every thread. It needs no
/// allocation and no lock (the policy is a function pointer in an atomic), so it
/// works in `no_std` code and may be called at any time.
#[cfg_attr(
    feature = "std",
    doc = "With `std`, a thread or a future can have a policy of its own over it \
           ([`set_thread_policy`](crate::set_thread_policy), \
           [`with_policy`](crate::with_policy), [`PolicyScope`](crate::PolicyScope))."
)]
///
/// # Examples
///
/// ```
/// use asyncdrop::{set_policy, Policy, Report};
///
/// fn count(_: &Report<'_>) {
///     // e.g. bump a metric
/// }
/// set_policy(Policy::Hook(count));
/// # set_policy(Policy::Panic);
/// ```
pub fn set_policy(policy: Policy) {
    POLICY.store(policy.function() as *mut (), Ordering::Release);
}

impl Policy {
    /// The function that carries the policy out.
    fn function(self) -> fn(&Report<'_>) {
        match self {
            Policy::Panic => panic_policy,
            Policy::PanicInDebug => panic_in_debug_policy,
            #[cfg(feature = "std")]
            Policy::Stderr => stderr_policy,
            Policy::Ignore => ignore_policy,
            Policy::Hook(hook) => hook,
            #[cfg(feature = "log")]
            Policy::Log => log_policy,
            #[cfg(feature = "tracing")]
            Policy::Tracing => tracing_policy,
        }
    }
}

/// Reports a skipped cleanup (no detail) of a `T` created at `site`. Out of line and
/// cold, so the drop glue of guards and cleanup futures stays one call.
#[cold]
#[inline(never)]
pub(crate) fn report_skipped<T: ?Sized>(kind: ReportKind, site: Site) {
    report(&Report::new(kind, core::any::type_name::<T>(), site));
}

/// Hands `report` to the policy in force. Inside a [`DropScope`] a panic of the
/// policy is caught and kept for the scope's end.
#[cold]
#[inline(never)]
pub(crate) fn report(report: &Report<'_>) {
    #[cfg(feature = "std")]
    if scope::is_open() {
        let caught =
            std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| call_policy(report)));
        if let Err(payload) = caught {
            scope::keep(payload);
        }
        return;
    }
    call_policy(report);
}

fn call_policy(report: &Report<'_>) {
    #[cfg(feature = "std")]
    if let Some(f) = local::get() {
        return f(report);
    }
    let ptr = POLICY.load(Ordering::Acquire);
    if ptr.is_null() {
        panic_policy(report);
    } else {
        // SAFETY: the only non-null values ever stored in `POLICY` are `fn(&Report<'_>)`
        // pointers cast to `*mut ()` in `set_policy`; casting back gives the same
        // function pointer. (Rust has no atomic function pointer; without `std` the
        // only other way to share the hook is a lock, which needs `unsafe` too.)
        let f = unsafe { core::mem::transmute::<*mut (), fn(&Report<'_>)>(ptr) };
        f(report);
    }
}

fn panic_policy(report: &Report<'_>) {
    #[cfg(feature = "std")]
    if std::thread::panicking() || scope::is_quiet() {
        stderr_policy(report);
        return;
    }
    panic!("{report}");
}

fn panic_in_debug_policy(report: &Report<'_>) {
    if cfg!(debug_assertions) {
        panic_policy(report);
    } else {
        #[cfg(feature = "std")]
        stderr_policy(report);
    }
}

#[cfg(feature = "std")]
fn stderr_policy(report: &Report<'_>) {
    std::eprintln!("{report}");
}

fn ignore_policy(_: &Report<'_>) {}

/// A report's site for a log line: `file:line:column`, or nothing.
#[cfg(feature = "log")]
struct SiteField(Option<&'static Location<'static>>);

#[cfg(feature = "log")]
impl fmt::Display for SiteField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(site) => fmt::Display::fmt(site, f),
            None => Ok(()),
        }
    }
}

/// A report's detail for a log line: its `Debug` form, or nothing.
#[cfg(feature = "log")]
struct DetailField<'a>(Option<&'a dyn fmt::Debug>);

#[cfg(feature = "log")]
impl fmt::Debug for DetailField<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(detail) => detail.fmt(f),
            None => Ok(()),
        }
    }
}

#[cfg(feature = "log")]
fn log_policy(report: &Report<'_>) {
    let level = match report.kind {
        ReportKind::Cancelled => log::Level::Warn,
        _ => log::Level::Error,
    };
    log::log!(
        target: "asyncdrop",
        level,
        type_name = report.type_name,
        kind:? = report.kind,
        site:% = SiteField(report.site),
        detail:? = DetailField(report.detail);
        "{report}"
    );
}

#[cfg(feature = "tracing")]
fn tracing_policy(report: &Report<'_>) {
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: "asyncdrop",
                $level,
                type_name = report.type_name,
                kind = ?report.kind,
                site = report.site.map(tracing::field::display),
                detail = report.detail.map(tracing::field::debug),
                "{report}"
            )
        };
    }
    match report.kind {
        ReportKind::Cancelled => event!(tracing::Level::WARN),
        _ => event!(tracing::Level::ERROR),
    }
}

/// The ready hook for `defmt`: logs the report (its `defmt::Format` form) at
/// `warn` for a cancelled cleanup, `error` otherwise. Needs no `core::fmt`.
///
/// It is a function for [`Policy::Hook`] rather than a `Policy` variant so that
/// only a program that uses it needs a `defmt` logger (a test build with every
/// feature on has none).
///
/// # Examples
///
/// ```
/// use asyncdrop::{defmt_hook, set_policy, Policy};
///
/// fn init() {
///     set_policy(Policy::Hook(defmt_hook));
/// }
/// # let _ = init; // a host has no `defmt` logger to link: not called here
/// ```
#[cfg(feature = "defmt")]
pub fn defmt_hook(report: &Report<'_>) {
    match report.kind {
        ReportKind::Cancelled => defmt::warn!("{}", report),
        _ => defmt::error!("{}", report),
    }
}

#[cfg(feature = "std")]
pub use local::{set_thread_policy, with_policy, PolicyScope, ThreadPolicyGuard};
#[cfg(feature = "std")]
pub(crate) use scope::DropScope;

/// A policy for one thread or one future, over the process-wide one.
#[cfg(feature = "std")]
mod local {
    use core::cell::Cell;
    use core::future::Future;
    use core::marker::PhantomData;
    use core::pin::Pin;
    use core::task::{Context, Poll};

    use super::{Policy, Report};

    std::thread_local! {
        static LOCAL: Cell<Option<fn(&Report<'_>)>> = const { Cell::new(None) };
    }

    pub(super) fn get() -> Option<fn(&Report<'_>)> {
        LOCAL.try_with(Cell::get).ok().flatten()
    }

    /// Routes the reports made on this thread to `policy` until the returned guard
    /// is dropped; then the policy before it applies again. Scopes nest.
    ///
    /// Made for tests that run in parallel and assert on their own reports, without
    /// the process-wide [`set_policy`](super::set_policy). Setting and restoring
    /// take no lock and no allocation. A report made on another thread (a runtime's
    /// worker) is not routed: wrap the future that makes it in a [`PolicyScope`].
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::{set_thread_policy, AsyncDropGuard, Policy, Report, ReportKind};
    /// use std::cell::Cell;
    ///
    /// # use asyncdrop::doc_fixture::Conn;
    /// thread_local!(static FORGOTTEN: Cell<usize> = const { Cell::new(0) });
    /// fn count(report: &Report<'_>) {
    ///     assert_eq!(report.kind(), ReportKind::Forgotten);
    ///     FORGOTTEN.with(|n| n.set(n.get() + 1));
    /// }
    ///
    /// let scope = set_thread_policy(Policy::Hook(count));
    /// drop(AsyncDropGuard::new(Conn)); // reported to `count`, not panicking
    /// drop(scope);
    /// assert_eq!(FORGOTTEN.with(Cell::get), 1);
    /// ```
    #[must_use = "the policy applies until the guard is dropped"]
    pub fn set_thread_policy(policy: Policy) -> ThreadPolicyGuard {
        let previous = LOCAL
            .try_with(|local| local.replace(Some(policy.function())))
            .ok()
            .flatten();
        ThreadPolicyGuard {
            previous,
            _this_thread: PhantomData,
        }
    }

    /// Runs `f` with reports made on this thread routed to `policy`
    /// ([`set_thread_policy`] for the length of a call).
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncdrop::{with_policy, AsyncDropGuard, Policy};
    ///
    /// # use asyncdrop::doc_fixture::Conn;
    /// with_policy(Policy::Ignore, || drop(AsyncDropGuard::new(Conn))); // no panic
    /// ```
    pub fn with_policy<R>(policy: Policy, f: impl FnOnce() -> R) -> R {
        let _scope = set_thread_policy(policy);
        f()
    }

    /// Restores the thread's previous policy when dropped; returned by
    /// [`set_thread_policy`], whose example shows it.
    #[derive(Debug)]
    pub struct ThreadPolicyGuard {
        previous: Option<fn(&Report<'_>)>,
        /// The policy belongs to the thread that set it.
        _this_thread: PhantomData<*const ()>,
    }

    impl Drop for ThreadPolicyGuard {
        fn drop(&mut self) {
            let _ = LOCAL.try_with(|local| local.set(self.previous));
        }
    }

    pin_project_lite::pin_project! {
        /// A future whose reports go to a policy of its own: while it is polled,
        /// on whichever thread, reports made there are routed to the policy
        /// ([`set_thread_policy`] around each poll); so are those of its drop. Polled
        /// after it completed, it polls the inner future again.
        ///
        /// # Examples
        ///
        /// ```
        /// use asyncdrop::{AsyncDropGuard, Policy, PolicyScope};
        ///
        /// # use asyncdrop::doc_fixture::Conn;
        /// let task = PolicyScope::new(Policy::Ignore, async {
        ///     drop(AsyncDropGuard::new(Conn)); // ignored, in this future only
        /// });
        /// futures_executor::block_on(task);
        /// ```
        #[must_use = "futures do nothing unless you `.await` or poll them"]
        pub struct PolicyScope<F> {
            #[pin]
            future: Option<F>,
            policy: Policy,
        }

        impl<F> PinnedDrop for PolicyScope<F> {
            fn drop(this: Pin<&mut Self>) {
                let mut this = this.project();
                let _scope = set_thread_policy(*this.policy);
                this.future.set(None);
            }
        }
    }

    impl<F> PolicyScope<F> {
        /// Wraps `future`; its polls and its drop report to `policy`.
        pub fn new(policy: Policy, future: F) -> Self {
            PolicyScope {
                future: Some(future),
                policy,
            }
        }
    }

    impl<F: Future> Future for PolicyScope<F> {
        type Output = F::Output;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            let this = self.project();
            let _scope = set_thread_policy(*this.policy);
            match this.future.as_pin_mut() {
                Some(future) => future.poll(cx),
                None => unreachable!("the future is only taken by the drop"),
            }
        }
    }

    impl<F> core::fmt::Debug for PolicyScope<F> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("PolicyScope")
                .field("policy", &self.policy)
                .finish_non_exhaustive()
        }
    }
}

/// Drops that are responsible for many values (a group of cleanups, a worker's
/// queue, a runtime task) open a [`DropScope`] around them: a report that panics
/// inside is caught, the other values are still dropped and reported, and the
/// scope raises the first panic once at its end (or, quiet, none: a task destructor
/// must not panic, and the default policy prints instead of panicking there).
#[cfg(feature = "std")]
mod scope {
    use alloc::boxed::Box;
    use core::any::Any;
    use core::cell::{Cell, RefCell};

    std::thread_local! {
        /// Open scopes on this thread, and how many of them are quiet.
        static OPEN: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
        /// The first panic of a report inside the outermost open scope.
        static CAUGHT: RefCell<Option<Box<dyn Any + Send>>> = const { RefCell::new(None) };
    }

    pub(super) fn is_open() -> bool {
        OPEN.try_with(|open| open.get().0 > 0).unwrap_or(false)
    }

    pub(super) fn is_quiet() -> bool {
        OPEN.try_with(|open| open.get().1 > 0).unwrap_or(false)
    }

    pub(super) fn keep(payload: Box<dyn Any + Send>) {
        let _ = CAUGHT.try_with(|caught| {
            caught.borrow_mut().get_or_insert(payload);
        });
    }

    /// See the module docs; [`end`](Self::end) it where the drops are done.
    pub(crate) struct DropScope {
        quiet: bool,
    }

    impl DropScope {
        /// Opens a scope; a quiet one never panics at its end.
        pub(crate) fn open(quiet: bool) -> Self {
            let _ = OPEN.try_with(|open| {
                let (depth, quiet_depth) = open.get();
                open.set((depth + 1, quiet_depth + u32::from(quiet)));
            });
            DropScope { quiet }
        }

        /// Closes the scope: the outermost one resumes the first caught panic, unless
        /// it is quiet or the thread is unwinding already.
        pub(crate) fn end(self) {
            drop(self);
        }
    }

    impl Drop for DropScope {
        fn drop(&mut self) {
            let outermost = OPEN
                .try_with(|open| {
                    let (depth, quiet_depth) = open.get();
                    open.set((depth - 1, quiet_depth - u32::from(self.quiet)));
                    depth == 1
                })
                .unwrap_or(false);
            if !outermost {
                return;
            }
            let caught = CAUGHT.try_with(|c| c.borrow_mut().take()).ok().flatten();
            if let Some(payload) = caught {
                if !self.quiet && !std::thread::panicking() {
                    std::panic::resume_unwind(payload);
                }
            }
        }
    }
}
