//! Scaffolding shared by the runtime adapters' tests (`tests/rt_*.rs`): a
//! process-wide recording policy hook, polling helpers, and the behaviour, cleanup
//! and error of their test resource.
//!
//! Reports are made on runtime threads, so the hook records into one global list;
//! each test uses a resource type of its own and looks only at reports naming it.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use asyncdrop::{set_policy, Policy, Report, ReportKind};

use super::Counters;

/// One recorded report.
#[derive(Debug, Clone)]
pub struct Seen {
    pub kind: ReportKind,
    pub type_name: &'static str,
    pub detail: Option<String>,
    pub message: String,
}

static REPORTS: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

/// Types for which the hook panics on a `Failed` report, as `Policy::Panic` would.
static PANICKY: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn record(report: &Report<'_>) {
    let panics = report.kind() == ReportKind::Failed
        && PANICKY
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&report.type_name());
    let seen = Seen {
        kind: report.kind(),
        type_name: report.type_name(),
        detail: report.detail().map(|d| format!("{d:?}")),
        message: report.to_string(),
    };
    REPORTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(seen);
    if panics {
        // Stands in for `Policy::Panic` for these types.
        panic!("policy panics on: {report}");
    }
}

/// Installs the recording hook; it panics on failure reports naming one of
/// `panicky` (every test calls this first).
pub fn install_recording_hook(panicky: &[&'static str]) {
    let mut types = PANICKY.lock().unwrap_or_else(PoisonError::into_inner);
    for name in panicky {
        if !types.contains(name) {
            types.push(name);
        }
    }
    drop(types);
    set_policy(Policy::Hook(record));
}

/// The reports made so far about type `T`.
pub fn reports<T>() -> Vec<Seen> {
    let name = std::any::type_name::<T>();
    REPORTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|s| s.type_name == name)
        .cloned()
        .collect()
}

/// The kinds of the reports made so far about type `T`.
pub fn kinds<T>() -> Vec<ReportKind> {
    reports::<T>().iter().map(|s| s.kind).collect()
}

/// Generous: a hang becomes a failure, a slow machine does not.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `condition` (on a plain thread) until it holds; fails after [`PATIENCE`]
/// rather than hanging.
pub fn eventually(what: &str, condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The error of a failing test resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResError(pub u32);

impl std::fmt::Display for ResError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "res error {}", self.0)
    }
}

impl std::error::Error for ResError {}

/// What a test resource does when cleaned up; `G` is the runtime's gate.
#[derive(Debug, Clone)]
pub enum How<G> {
    Succeed,
    Fail(u32),
    Panic,
    /// Never finishes.
    Pending,
    /// The runtime's sleep (needs its timer).
    Sleep(Duration),
    /// The runtime's `yield_now` this many times.
    Yield(usize),
    /// Waits until the gate is opened.
    Gate(G),
}

/// The waits of one runtime that a test resource's cleanup uses.
pub trait Waits {
    /// What `How::Gate` waits behind.
    type Gate: Send;
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// Finishes once `gate` is open.
    fn pass(gate: Self::Gate) -> impl Future<Output = ()> + Send;
}

/// The cleanup of each runtime's test resource `Res<TAG>`: counts it (started, in
/// flight, finished) and does what `how` says.
pub async fn cleanup<W: Waits>(
    counts: &Counters,
    how: How<W::Gate>,
    tag: u32,
) -> Result<(), ResError> {
    counts.cleanups_started.fetch_add(1, Ordering::SeqCst);
    let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    counts.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let result = match how {
        How::Succeed => Ok(()),
        How::Fail(code) => Err(ResError(code)),
        How::Panic => {
            counts.in_flight.fetch_sub(1, Ordering::SeqCst);
            panic!("res {tag} cleanup panicked")
        }
        How::Pending => std::future::pending().await,
        How::Sleep(d) => {
            W::sleep(d).await;
            Ok(())
        }
        How::Yield(n) => {
            for _ in 0..n {
                W::yield_now().await;
            }
            Ok(())
        }
        How::Gate(gate) => {
            W::pass(gate).await;
            Ok(())
        }
    };
    counts.in_flight.fetch_sub(1, Ordering::SeqCst);
    counts.cleanups_finished.fetch_add(1, Ordering::SeqCst);
    result
}
