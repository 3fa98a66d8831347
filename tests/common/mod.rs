//! Shared helpers for the integration tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(unreachable_pub, reason = "test helpers are `pub` for the test files")]
#![allow(unused_macros, reason = "each test binary uses a different subset")]

pub mod counting;
pub mod harness;
pub mod reports;
#[cfg(feature = "rt")]
pub mod rt;
#[cfg(feature = "rt")]
pub mod suite;

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use asyncdrop::{
    set_policy, AsyncDrop, AsyncDropGuard, LocalAsyncDrop, Policy, Report, ReportKind,
};

/// Counts what happened to probes.
#[derive(Debug, Default)]
pub struct Counters {
    /// Cleanups started (`async_drop_impl` entered and polled once).
    pub cleanups_started: AtomicUsize,
    /// Cleanups that ran to the end.
    pub cleanups_finished: AtomicUsize,
    /// Synchronous drops (every probe is dropped exactly once, cleaned up or not).
    pub drops: AtomicUsize,
    /// Cleanups running now, for resources that track it (the runtime tests').
    pub in_flight: AtomicUsize,
    /// The most cleanups that ran at once, for resources that track it.
    pub max_in_flight: AtomicUsize,
}

impl Counters {
    pub fn new() -> Arc<Counters> {
        Arc::new(Counters::default())
    }
    pub fn started(&self) -> usize {
        self.cleanups_started.load(Ordering::SeqCst)
    }
    pub fn finished(&self) -> usize {
        self.cleanups_finished.load(Ordering::SeqCst)
    }
    pub fn drops(&self) -> usize {
        self.drops.load(Ordering::SeqCst)
    }
}

/// Asserts the counters: (cleanups started, cleanups finished, sync drops).
#[track_caller]
pub fn assert_counts(counters: &Counters, started: usize, finished: usize, drops: usize) {
    assert_eq!(
        (counters.started(), counters.finished(), counters.drops()),
        (started, finished, drops),
        "(started, finished, drops)"
    );
}

/// How a probe's cleanup behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Succeed,
    Fail(u32),
    Panic,
    /// Never finishes, and never wakes its waker.
    Hang,
}

/// A resource that records its cleanup and drop in shared counters.
#[derive(Debug)]
pub struct Probe {
    pub id: u32,
    pub counters: Arc<Counters>,
    pub yields: usize,
    pub behaviour: Behaviour,
}

impl Probe {
    pub fn new(counters: &Arc<Counters>) -> Probe {
        Probe {
            id: 0,
            counters: counters.clone(),
            yields: 0,
            behaviour: Behaviour::Succeed,
        }
    }
    pub fn id(mut self, id: u32) -> Probe {
        self.id = id;
        self
    }
    pub fn yields(mut self, n: usize) -> Probe {
        self.yields = n;
        self
    }
    pub fn behaviour(mut self, b: Behaviour) -> Probe {
        self.behaviour = b;
        self
    }
    pub fn guard(self) -> AsyncDropGuard<Probe> {
        AsyncDropGuard::new(self)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.counters.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// The error a failing probe returns: its id and configured code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeError {
    pub id: u32,
    pub code: u32,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "probe {} failed with {}", self.id, self.code)
    }
}

impl std::error::Error for ProbeError {}

impl AsyncDrop for Probe {
    type Error = ProbeError;

    async fn async_drop_impl(self) -> Result<(), ProbeError> {
        self.counters
            .cleanups_started
            .fetch_add(1, Ordering::SeqCst);
        for _ in 0..self.yields {
            yield_now().await;
        }
        match self.behaviour {
            Behaviour::Succeed => {}
            Behaviour::Fail(code) => {
                self.counters
                    .cleanups_finished
                    .fetch_add(1, Ordering::SeqCst);
                return Err(ProbeError { id: self.id, code });
            }
            Behaviour::Panic => panic!("probe {} cleanup panicked", self.id),
            Behaviour::Hang => std::future::pending().await,
        }
        self.counters
            .cleanups_finished
            .fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Returns `Pending` once (waking itself), then `Ready`.
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

#[derive(Debug)]
pub struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Polls `fut` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    Pin::new(fut).poll(&mut cx)
}

/// Polls `fut` to completion with a no-op waker, allocating nothing (a busy loop).
pub fn run_to_end<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = poll_once(&mut fut) {
            return out;
        }
    }
}

/// Polls `fut` once with a no-op waker and returns its output; panics if pending.
#[track_caller]
pub fn now<F: Future>(fut: F) -> F::Output {
    match poll_once(&mut std::pin::pin!(fut)) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("future not ready after one poll"),
    }
}

/// `block_on` of a future that must be `Send`: the bound is the assertion.
pub fn block_on_send<F: Future + Send>(fut: F) -> F::Output {
    futures_executor::block_on(fut)
}

pub fn assert_send<T: Send>(_: &T) {}
pub fn assert_sync<T: Sync>(_: &T) {}
pub fn assert_unpin<T: Unpin>(_: &T) {}

/// Whether the type of `$val` implements the given traits, decided at compile time: an inherent
/// method whose `where` clause holds beats the trait method, so negative facts work too. The type
/// must be fully known: a named type or another function's future (not a local `async` block).
macro_rules! implements {
    ($val:expr => $($bound:tt)+) => {{
        struct Check<T: ?Sized>(::core::marker::PhantomData<T>);
        // Only one of the two `implements` is chosen in each expansion.
        #[allow(dead_code)]
        trait Fallback {
            fn implements(&self) -> bool {
                false
            }
        }
        impl<T: ?Sized> Fallback for Check<T> {}
        impl<T: ?Sized + $($bound)+> Check<T> {
            #[allow(dead_code)]
            fn implements(&self) -> bool {
                true
            }
        }
        fn check_of<T: ?Sized>(_: &T) -> Check<T> {
            Check(::core::marker::PhantomData)
        }
        check_of(&$val).implements()
    }};
}
#[allow(unused_imports, reason = "not every test binary checks auto traits")]
pub(crate) use implements;

/// Whether the type `$ty` implements the given traits; see [`implements!`].
macro_rules! type_implements {
    ($ty:ty => $($bound:tt)+) => {
        $crate::common::implements!(::core::marker::PhantomData::<$ty> => $($bound)+)
    };
}
#[allow(unused_imports, reason = "not every test binary checks auto traits")]
pub(crate) use type_implements;

/// One recorded report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub kind: ReportKind,
    pub type_name: &'static str,
    pub site: Option<(&'static str, u32)>,
    pub message: String,
}

thread_local! {
    static SEEN: RefCell<Vec<Seen>> = const { RefCell::new(Vec::new()) };
    /// The hook panics after recording, as `Policy::Panic` would.
    static PANICKY: Cell<bool> = const { Cell::new(false) };
}

fn record(report: &Report<'_>) {
    let seen = Seen {
        kind: report.kind(),
        type_name: report.type_name(),
        site: report.site().map(|s| (s.file(), s.line())),
        message: report.to_string(),
    };
    SEEN.with(|s| s.borrow_mut().push(seen));
    // As `Policy::Panic`: never while the thread unwinds already.
    if PANICKY.get() && !std::thread::panicking() {
        panic!("policy panics on: {report}");
    }
}

/// Records reports per thread and clears this thread's; for binaries that set no other policy.
pub fn record_reports() {
    record_reports_then_panic(false);
}

/// As [`record_reports`]; with `panics`, the hook then panics on this thread as `Policy::Panic`.
pub fn record_reports_then_panic(panics: bool) {
    set_policy(Policy::Hook(record));
    SEEN.with(|s| s.borrow_mut().clear());
    PANICKY.set(panics);
}

/// Installs the recording hook ([`record_reports`]) and returns fresh counters.
pub fn setup() -> Arc<Counters> {
    record_reports();
    Counters::new()
}

/// Whether the hook panics on this thread ([`record_reports_then_panic`]).
pub fn policy_panics() -> bool {
    PANICKY.get()
}

/// Takes the reports recorded on this thread so far.
pub fn take_reports() -> Vec<Seen> {
    SEEN.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// In builds with debug assertions `site` is `file:line`; in others there is none.
#[track_caller]
pub fn assert_site(site: Option<(&'static str, u32)>, file: &str, line: u32) {
    if cfg!(debug_assertions) {
        assert_eq!(site, Some((file, line)));
    } else {
        assert_eq!(site, None);
    }
}

/// A guard's creation site, as [`assert_site`] takes it.
pub fn site_of<T>(guard: &AsyncDropGuard<T>) -> Option<(&'static str, u32)> {
    AsyncDropGuard::site(guard).map(|s| (s.file(), s.line()))
}

/// Cleans the guards up one after the other on `block_on`; each must succeed.
#[track_caller]
pub fn clean_up<T: LocalAsyncDrop>(guards: impl IntoIterator<Item = AsyncDropGuard<T>>)
where
    T::Error: std::fmt::Debug,
{
    for guard in guards {
        futures_executor::block_on(guard.async_drop()).unwrap();
    }
}

/// The longest sequence of operations a property test draws (fewer under miri, which
/// interprets each one a thousand times slower).
pub const MAX_OPS: usize = if cfg!(miri) { 12 } else { 40 };

/// Proptest's settings here: `cases` cases (4 under miri), no failure files.
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: if cfg!(miri) { 4 } else { cases },
        failure_persistence: None,
        ..Default::default()
    }
}

/// `Send` but not `Sync`.
pub struct NotSync(pub Cell<u8>);

impl AsyncDrop for NotSync {
    type Error = Infallible;
    async fn async_drop_impl(self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Neither `Send` nor `Sync`; its cleanup cannot fail, and counts itself after a yield.
#[derive(Debug)]
pub struct Local(pub Rc<Cell<u32>>);

impl Local {
    pub fn guard(cleaned: &Rc<Cell<u32>>) -> AsyncDropGuard<Local> {
        AsyncDropGuard::new(Local(cleaned.clone()))
    }
}

impl LocalAsyncDrop for Local {
    type Error = Infallible;
    async fn local_async_drop_impl(self) -> Result<(), Infallible> {
        yield_now().await;
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}

/// A `ThreadPool` whose threads have all stopped once dropped (miri checks none outlives).
pub struct JoinedPool {
    pool: Option<futures_executor::ThreadPool>,
    stopped: Arc<AtomicUsize>,
    size: usize,
}

impl JoinedPool {
    pub fn new(size: usize) -> JoinedPool {
        let stopped = Arc::new(AtomicUsize::new(0));
        let counter = stopped.clone();
        let pool = futures_executor::ThreadPool::builder()
            .pool_size(size)
            .before_stop(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .create()
            .unwrap();
        JoinedPool {
            pool: Some(pool),
            stopped,
            size,
        }
    }
}

impl std::ops::Deref for JoinedPool {
    type Target = futures_executor::ThreadPool;
    fn deref(&self) -> &futures_executor::ThreadPool {
        self.pool.as_ref().unwrap()
    }
}

impl Drop for JoinedPool {
    fn drop(&mut self) {
        drop(self.pool.take());
        while self.stopped.load(Ordering::SeqCst) < self.size {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Past `before_stop`, each thread only returns.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// How a shared value (or output) ended, for the property tests of shared ownership.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    CleanedUp,
    Dropped,
}
