//! The cancellation harness ([`sweep`]): a scenario's future polled `k` times and dropped, for
//! every `k` until it completes. Each run checks: members dropped once, cleaned up at most once;
//! tokens dropped once; exactly the [`Run`]'s reports; re-polled only when woken; a cleanup's
//! panic out once; under the panicking policy, the drop panics exactly when it reports.

use std::convert::Infallible;
use std::error::Error;
use std::fmt::Debug;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use asyncdrop::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop, ReportKind};

use super::{record_reports_then_panic, take_reports, Behaviour, Counters, Probe, ProbeError};

/// A report the scenario expects: the guarded type's name and the kind.
pub type Expected = (String, ReportKind);

/// The name of the type a guard guards.
pub fn guarded<T>(_: &AsyncDropGuard<T>) -> &'static str {
    std::any::type_name::<T>()
}

/// The name reports give a clone of a shared future: its output's, not the future's.
#[cfg(feature = "std")]
pub fn shared_name<F, T>(_: &AsyncDropGuard<asyncdrop::AsyncDropShared<F, T>>) -> String
where
    F: std::future::Future<Output = AsyncDropGuard<T>>,
    T: asyncdrop::LocalAsyncDrop,
{
    format!("asyncdrop::AsyncDropShared<{}>", std::any::type_name::<T>())
}

/// Counts the tokens made and dropped.
#[derive(Debug, Default)]
pub struct Tokens {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

/// A value that counts its drop: a cleanup error, a map key, a caller's error.
pub struct Tok(pub u32, Arc<Tokens>);

impl Tok {
    fn new(id: u32, tokens: &Arc<Tokens>) -> Tok {
        tokens.made.fetch_add(1, Ordering::SeqCst);
        Tok(id, tokens.clone())
    }
}

impl Drop for Tok {
    fn drop(&mut self) {
        self.1.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl Debug for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "E{}", self.0)
    }
}

impl PartialEq for Tok {
    fn eq(&self, other: &Tok) -> bool {
        self.0 == other.0
    }
}
impl Eq for Tok {}
impl PartialOrd for Tok {
    fn partial_cmp(&self, other: &Tok) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Tok {
    fn cmp(&self, other: &Tok) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}
impl std::hash::Hash for Tok {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// A scenario's resource: a [`Probe`] whose error is a [`Tok`] named after it.
pub struct Member(Probe, Arc<Tokens>);

impl Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "M{}", self.0.id)
    }
}

impl AsyncDrop for Member {
    type Error = Tok;

    async fn async_drop_impl(self) -> Result<(), Tok> {
        let Member(probe, tokens) = self;
        let id = probe.id;
        probe
            .async_drop_impl()
            .await
            .map_err(|_| Tok::new(id, &tokens))
    }
}

/// Makes a scenario's members and tokens, and remembers them for the checks.
#[derive(Default)]
pub struct Kit {
    members: Vec<(Arc<Counters>, Behaviour)>,
    tokens: Arc<Tokens>,
}

impl Kit {
    /// Member `i` (in order of making), whose cleanup waits `yields` times.
    pub fn member(&mut self, yields: usize, behaviour: Behaviour) -> Member {
        let counters = Counters::new();
        let id = self.members.len() as u32;
        self.members.push((counters.clone(), behaviour));
        let probe = Probe::new(&counters).id(id).yields(yields);
        Member(probe.behaviour(behaviour), self.tokens.clone())
    }

    /// As [`member`](Self::member), guarded.
    #[track_caller]
    pub fn guard(&mut self, yields: usize, behaviour: Behaviour) -> AsyncDropGuard<Member> {
        AsyncDropGuard::new(self.member(yields, behaviour))
    }

    /// A [`guard`](Self::guard) for each `(yields, behaviour)`, in order.
    pub fn guards<const N: usize>(
        &mut self,
        specs: [(usize, Behaviour); N],
    ) -> [AsyncDropGuard<Member>; N] {
        specs.map(|(yields, behaviour)| self.guard(yields, behaviour))
    }

    /// A token (a key, or a caller's error).
    pub fn token(&self, id: u32) -> Tok {
        Tok::new(id, &self.tokens)
    }
}

/// How one run ended, for a scenario's expected reports.
#[derive(Debug)]
pub struct Run {
    /// The future completed (and its output was checked).
    pub done: bool,
    /// A member's cleanup panicked out of a poll.
    pub panicked: bool,
    /// `(started, finished, behaviour)` of each member.
    members: Vec<(usize, usize, Behaviour)>,
}

impl Run {
    /// Whether member `i`'s cleanup started.
    pub fn started(&self, i: usize) -> bool {
        self.members[i].0 > 0
    }

    /// The reports of member guards: none if finished or panicked, `Cancelled` if started,
    /// `unstarted` if not.
    pub fn guards(&self, unstarted: ReportKind) -> Vec<Expected> {
        let name = std::any::type_name::<Member>();
        self.members
            .iter()
            .filter(|(_, finished, b)| *finished == 0 && !(self.panicked && *b == Behaviour::Panic))
            .map(|(started, ..)| match started {
                0 => (name.to_owned(), unstarted),
                _ => (name.to_owned(), ReportKind::Cancelled),
            })
            .collect()
    }

    /// One `Cancelled` for `name` if dropped unfinished (a cleanup's panic is its own report).
    pub fn cut(&self, name: &str) -> Vec<Expected> {
        self.cut_as(name, ReportKind::Cancelled)
    }

    /// One report of `kind` for `name` if the future was dropped unfinished.
    pub fn cut_as(&self, name: &str, kind: ReportKind) -> Vec<Expected> {
        if self.done || self.panicked {
            vec![]
        } else {
            vec![(name.to_owned(), kind)]
        }
    }
}

type Expect = Box<dyn Fn(&Run) -> Vec<Expected>>;
type OnRuntime = (Box<dyn Fn()>, Box<dyn FnOnce(bool)>);

/// A scenario: the future under test, its output, and all the reports of a run.
pub struct Case {
    future: Pin<Box<dyn Future<Output = String>>>,
    output: String,
    expect: Expect,
    /// On a runtime: what lets it run a little (waiting for a wake-up, or for the members'
    /// drops), then the teardown, told whether the future completed.
    runtime: Option<OnRuntime>,
}

impl Case {
    /// `output` is the `Debug` form of the future's output.
    pub fn new<F>(
        future: F,
        output: impl Into<String>,
        expect: impl Fn(&Run) -> Vec<Expected> + 'static,
    ) -> Case
    where
        F: Future + 'static,
        F::Output: Debug,
    {
        Case {
            future: Box::pin(async move { format!("{:?}", future.await) }),
            output: output.into(),
            expect: Box::new(expect),
            runtime: None,
        }
    }

    /// `guard`'s cleanup, reported `Cancelled` (for its type) when dropped unfinished.
    pub fn cleanup<T>(guard: AsyncDropGuard<T>, output: &str) -> Case
    where
        T: LocalAsyncDrop + 'static,
        T::Error: Debug,
    {
        let name = guarded(&guard);
        Case::new(guard.async_drop(), output, move |r| r.cut(name))
    }

    /// For a future that waits on a runtime: `advance` lets it run a little.
    pub fn on_runtime(
        mut self,
        advance: impl Fn() + 'static,
        teardown: impl FnOnce(bool) + 'static,
    ) -> Case {
        self.runtime = Some((Box::new(advance), Box::new(teardown)));
        self
    }
}

/// Generous: a hang becomes a failure, a slow machine does not.
const PATIENCE: Duration = Duration::from_secs(10);

/// No scenario takes this many polls.
const MAX_POLLS: usize = 64;

/// Counts wake-ups.
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The message of a panic payload.
pub fn message(payload: &(dyn std::any::Any + Send)) -> &str {
    match (
        payload.downcast_ref::<String>(),
        payload.downcast_ref::<&str>(),
    ) {
        (Some(s), _) => s,
        (None, Some(s)) => s,
        (None, None) => "<not a string>",
    }
}

/// Keeps the expected panics (the policy's, the members' cleanups') off stderr.
fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = message(info.payload());
            if !(text.starts_with("policy panics on:") || text.ends_with("cleanup panicked")) {
                default(info);
            }
        }));
    });
}

/// Runs `make`'s scenario for `k = 0, 1, ..` until it ends, under both policies; checks each run.
pub fn sweep(make: impl Fn(&mut Kit) -> Case) {
    sweep_under(&[false, true], make);
}

/// As [`sweep`], under the policies that panic or not as `policies` say.
pub fn sweep_under(policies: &[bool], make: impl Fn(&mut Kit) -> Case) {
    quiet_expected_panics();
    for &panics in policies {
        record_reports_then_panic(panics);
        for k in 0.. {
            assert!(k <= MAX_POLLS, "did not complete within {MAX_POLLS} polls");
            let mut kit = Kit::default();
            let case = make(&mut kit);
            if run(case, &kit, k, panics) {
                break;
            }
        }
    }
    record_reports_then_panic(false);
}

/// One run: `k` polls, the drop, the checks. Whether the future ended within the `k` polls.
fn run(mut case: Case, kit: &Kit, k: usize, panics: bool) -> bool {
    let at = format!("k = {k}, panicking policy: {panics}");
    let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let (mut done, mut panicked) = (false, false);
    for i in 0..k {
        if i > 0 {
            // Re-polled only when woken: a `Pending` without a wake-up would stall.
            let start = Instant::now();
            while wakes.0.swap(0, Ordering::SeqCst) == 0 {
                let (advance, _) = case
                    .runtime
                    .as_ref()
                    .unwrap_or_else(|| panic!("{at}: stalled after poll {i}"));
                assert!(start.elapsed() < PATIENCE, "{at}: stalled after poll {i}");
                advance();
            }
        }
        wakes.0.store(0, Ordering::SeqCst);
        match catch_unwind(AssertUnwindSafe(|| case.future.as_mut().poll(&mut cx))) {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(out)) => {
                assert_eq!(out, case.output, "{at}: the output");
                done = true;
                break;
            }
            Err(payload) => {
                let text = message(&*payload);
                assert!(
                    text.ends_with("cleanup panicked"),
                    "{at}: poll {i} panicked: {text}"
                );
                panicked = true;
                break;
            }
        }
    }
    let mut reports = take_reports();
    let dropped = catch_unwind(AssertUnwindSafe(|| drop(case.future)));
    let in_drop = take_reports();
    match dropped {
        Ok(()) => assert!(
            !panics || in_drop.is_empty(),
            "{at}: reported {in_drop:?} without a panic"
        ),
        Err(payload) => {
            assert!(
                panics && !in_drop.is_empty(),
                "{at}: the drop panicked: {}",
                message(&*payload)
            );
            assert!(message(&*payload).starts_with("policy panics on:"), "{at}");
        }
    }
    reports.extend(in_drop);
    if k == 0 {
        let started = kit.members.iter().filter(|(c, _)| c.started() > 0).count();
        assert_eq!(started, 0, "{at}: nothing runs before the first poll");
    }
    if let Some((advance, teardown)) = case.runtime {
        let start = Instant::now();
        while kit.members.iter().any(|(c, _)| c.drops() == 0) {
            assert!(start.elapsed() < PATIENCE, "{at}: members still alive");
            advance();
        }
        teardown(done);
    }
    reports.extend(take_reports());

    for (i, (c, _)) in kit.members.iter().enumerate() {
        assert_eq!(c.drops(), 1, "{at}: member {i} dropped once");
        assert!(
            c.started() <= 1 && c.finished() <= 1,
            "{at}: member {i} cleaned up at most once"
        );
    }
    let tokens = &kit.tokens;
    assert_eq!(
        tokens.dropped.load(Ordering::SeqCst),
        tokens.made.load(Ordering::SeqCst),
        "{at}: every error and key dropped once"
    );
    let members = kit
        .members
        .iter()
        .map(|(c, b)| (c.started(), c.finished(), *b))
        .collect();
    let run = Run {
        done,
        panicked,
        members,
    };
    let seen = reports.iter().map(|r| (r.type_name.to_owned(), r.kind));
    let mut seen: Vec<Expected> = seen.collect();
    let mut wanted = (case.expect)(&run);
    seen.sort_unstable_by_key(|(name, kind)| (name.clone(), format!("{kind:?}")));
    wanted.sort_unstable_by_key(|(name, kind)| (name.clone(), format!("{kind:?}")));
    assert_eq!(seen, wanted, "{at}: the reports of {run:?}");
    done || panicked
}

// Resource types several test files share.

/// A resource type whose cleanup error is a plain code.
#[derive(Debug)]
pub struct Coded(pub Probe);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeError(pub u32);

impl std::fmt::Display for CodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "code {}", self.0)
    }
}

impl Error for CodeError {}

impl AsyncDrop for Coded {
    type Error = CodeError;

    async fn async_drop_impl(self) -> Result<(), CodeError> {
        AsyncDrop::async_drop_impl(self.0)
            .await
            .map_err(|e| CodeError(e.code))
    }
}

/// A resource type whose cleanup error is a `String`.
#[derive(Debug)]
pub struct Named(pub Probe);

impl AsyncDrop for Named {
    type Error = String;

    async fn async_drop_impl(self) -> Result<(), String> {
        AsyncDrop::async_drop_impl(self.0)
            .await
            .map_err(|e| format!("named {} failed", e.id))
    }
}

/// A resource type whose cleanup cannot fail.
#[derive(Debug)]
pub struct Quiet(pub Probe);

impl AsyncDrop for Quiet {
    type Error = Infallible;

    async fn async_drop_impl(self) -> Result<(), Infallible> {
        if let Err(e) = AsyncDrop::async_drop_impl(self.0).await {
            panic!("a quiet probe must be configured to succeed, got {e}");
        }
        Ok(())
    }
}

/// An acquisition error that implements `Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}", self.0)
    }
}

impl Error for Refused {}

pub fn fail(id: u32, code: u32) -> ProbeError {
    ProbeError { id, code }
}

impl Probe {
    /// Its cleanup fails with `code`.
    pub fn fail(self, code: u32) -> Probe {
        self.behaviour(Behaviour::Fail(code))
    }

    /// Its cleanup panics.
    pub fn panics(self) -> Probe {
        self.behaviour(Behaviour::Panic)
    }

    /// Guarded as a [`Coded`].
    pub fn coded(self) -> AsyncDropGuard<Coded> {
        AsyncDropGuard::new(Coded(self))
    }

    /// Guarded as a [`Named`].
    pub fn named(self) -> AsyncDropGuard<Named> {
        AsyncDropGuard::new(Named(self))
    }

    /// Guarded as a [`Quiet`].
    pub fn quiet(self) -> AsyncDropGuard<Quiet> {
        AsyncDropGuard::new(Quiet(self))
    }
}
