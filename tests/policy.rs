//! The process-wide reporting policy. The policy is global, so every test takes
//! `LOCK`, sets the policy it needs and restores `Policy::Panic` (the default) when
//! it ends, even if it fails.

mod common;

use std::any::type_name;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};

use asyncdrop::{set_policy, AsyncDropGuard, Policy, Report, ReportKind};
use common::harness::message;
use common::{assert_counts, poll_once, Counters, Probe};
use futures_executor::block_on;

static LOCK: Mutex<()> = Mutex::new(());

/// Holds `LOCK` while a test runs with its policy; restores `Policy::Panic` on drop,
/// before the lock is released.
struct PolicyScope {
    _lock: MutexGuard<'static, ()>,
}

impl Drop for PolicyScope {
    fn drop(&mut self) {
        set_policy(Policy::Panic);
    }
}

/// Takes the lock without changing the policy (which is then `Policy::Panic`).
fn lock() -> PolicyScope {
    PolicyScope {
        _lock: LOCK.lock().unwrap_or_else(|e| e.into_inner()),
    }
}

/// Takes the lock and sets `policy`.
fn with_policy(policy: Policy) -> PolicyScope {
    let scope = lock();
    set_policy(policy);
    scope
}

/// Runs `f`, which must panic, and returns the panic message.
#[track_caller]
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    message(&*payload).to_owned()
}

/// `AsyncDropGuard<Probe>` as the reports spell it.
fn probe_guard_name() -> String {
    format!("AsyncDropGuard<{}>", type_name::<Probe>())
}

/// Drops a guard (created at `line` of this file) inside `catch_unwind`; asserts
/// the forgotten-guard panic message.
#[track_caller]
fn assert_forgotten_panics(guard: AsyncDropGuard<Probe>, line: u32) {
    let text = panic_message(move || drop(guard));
    assert!(text.starts_with("asyncdrop: AsyncDropGuard<"), "{text}");
    assert!(text.contains(&probe_guard_name()), "{text}");
    assert!(text.contains("dropped without cleanup"), "{text}");
    if cfg!(debug_assertions) {
        let at = format!("guard created at {}:{}:", file!(), line);
        assert!(text.contains(&at), "{text}");
    } else {
        assert!(!text.contains("guard created at"), "{text}");
    }
}

#[test]
fn default_and_panic_policies_panic_on_a_forgotten_guard() {
    // Every test restores the default, so the policy in force first is the default.
    for policy in [None, Some(Policy::Panic)] {
        let _scope = policy.map_or_else(lock, with_policy);
        let counters = Counters::new();
        let line = line!() + 1;
        let guard = AsyncDropGuard::new(Probe::new(&counters).id(3));
        assert_forgotten_panics(guard, line);
        // The policy panicked, yet the value was dropped, once, and not cleaned up.
        assert_counts(&counters, 0, 0, 1);
    }
}

#[test]
fn panic_policy_panics_on_a_cancelled_cleanup() {
    let _scope = with_policy(Policy::Panic);
    // Dropped unpolled, or after a poll.
    for polls in [0, 1] {
        let counters = Counters::new();
        let line = line!() + 1;
        let guard = AsyncDropGuard::new(Probe::new(&counters).yields(2));
        let text = panic_message(|| {
            let mut fut = pin!(guard.async_drop());
            for _ in 0..polls {
                assert!(poll_once(&mut fut).is_pending());
            }
            // `fut` is dropped here, unfinished.
        });
        assert!(text.contains("cancelled"), "{text}");
        assert!(text.contains(&probe_guard_name()), "{text}");
        assert!(!text.contains("without cleanup"), "{text}");
        if cfg!(debug_assertions) {
            let at = format!("guard created at {}:{}:", file!(), line);
            assert!(text.contains(&at), "{text}");
        }
        // Dropped once although the report panicked.
        assert_counts(&counters, polls, 0, 1);
    }
}

#[test]
fn panic_policy_is_silent_when_cleanup_completes() {
    let _scope = with_policy(Policy::Panic);
    let counters = Counters::new();
    let guard = Probe::new(&counters).yields(2).guard();
    assert_eq!(block_on(guard.async_drop()), Ok(()));
    let guard = Probe::new(&counters).guard();
    drop(AsyncDropGuard::into_inner_without_cleanup(guard));
    assert_counts(&counters, 1, 1, 2);
}

#[test]
fn ignore_and_stderr_policies_do_not_panic() {
    #[cfg(feature = "std")]
    let policies = [Policy::Ignore, Policy::Stderr];
    #[cfg(not(feature = "std"))]
    let policies = [Policy::Ignore];
    for policy in policies {
        let _scope = with_policy(policy);
        let counters = Counters::new();
        drop(Probe::new(&counters).guard());
        assert_counts(&counters, 0, 0, 1);
        drop(Probe::new(&counters).guard().async_drop());
        assert_counts(&counters, 0, 0, 2);
        {
            let mut fut = pin!(Probe::new(&counters).yields(1).guard().async_drop());
            assert!(poll_once(&mut fut).is_pending());
        }
        assert_counts(&counters, 1, 0, 3);
    }
}

#[test]
fn panic_in_debug_policy_panics_only_in_debug_builds() {
    let _scope = with_policy(Policy::PanicInDebug);
    let counters = Counters::new();
    let line = line!() + 1;
    let guard = AsyncDropGuard::new(Probe::new(&counters));
    if cfg!(debug_assertions) {
        assert_forgotten_panics(guard, line);
    } else {
        drop(guard);
    }
    assert_counts(&counters, 0, 0, 1);

    let fut = Probe::new(&counters).guard().async_drop();
    let result = catch_unwind(AssertUnwindSafe(move || drop(fut)));
    assert_eq!(result.is_err(), cfg!(debug_assertions));
    if let Err(payload) = result {
        assert!(message(&*payload).contains("cancelled"));
    }
    assert_counts(&counters, 0, 0, 2);
}

/// What the test hook saw: kind, type name, site, message.
type Seen = (
    ReportKind,
    &'static str,
    Option<(&'static str, u32)>,
    String,
);

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

fn seen() -> MutexGuard<'static, Vec<Seen>> {
    SEEN.lock().unwrap_or_else(|e| e.into_inner())
}

fn hook(report: &Report<'_>) {
    seen().push((
        report.kind(),
        report.type_name(),
        report.site().map(|s| (s.file(), s.line())),
        report.to_string(),
    ));
}

fn panicking_hook(report: &Report<'_>) {
    panic!("hook: {:?} {}", report.kind(), report.type_name());
}

#[test]
fn hook_receives_each_report() {
    let _scope = with_policy(Policy::Hook(hook));
    seen().clear();
    let counters = Counters::new();

    let line_forgotten = line!() + 1;
    let guard = AsyncDropGuard::new(Probe::new(&counters));
    drop(guard);
    assert_counts(&counters, 0, 0, 1);

    let line_cancelled = line!() + 1;
    let guard = AsyncDropGuard::new(Probe::new(&counters).yields(1));
    {
        let mut fut = pin!(guard.async_drop());
        assert!(poll_once(&mut fut).is_pending());
    }
    assert_counts(&counters, 1, 0, 2);

    // A completed cleanup is not reported.
    block_on(Probe::new(&counters).guard().async_drop()).unwrap();
    assert_counts(&counters, 2, 1, 3);

    let seen = std::mem::take(&mut *seen());
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (kind, name, site, text) = &seen[0];
    assert_eq!(*kind, ReportKind::Forgotten);
    assert_eq!(*name, type_name::<Probe>());
    assert!(text.contains(&probe_guard_name()), "{text}");
    assert!(text.contains("dropped without cleanup"), "{text}");
    let (kind, name, cancelled_site, text) = &seen[1];
    assert_eq!(*kind, ReportKind::Cancelled);
    assert_eq!(*name, type_name::<Probe>());
    assert!(text.contains("cancelled"), "{text}");
    if cfg!(debug_assertions) {
        assert_eq!(*site, Some((file!(), line_forgotten)));
        assert_eq!(*cancelled_site, Some((file!(), line_cancelled)));
    } else {
        assert_eq!((*site, *cancelled_site), (None, None));
    }
}

#[test]
fn hook_sees_reports_from_other_threads() {
    let _scope = with_policy(Policy::Hook(hook));
    seen().clear();
    let counters = Counters::new();
    let guard = Probe::new(&counters).guard();
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert_counts(&counters, 0, 0, 1);
    let seen = std::mem::take(&mut *seen());
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, ReportKind::Forgotten);
}

#[test]
fn set_policy_replaces_the_previous_policy() {
    let _scope = with_policy(Policy::Hook(hook));
    seen().clear();
    set_policy(Policy::Ignore);
    let counters = Counters::new();
    drop(Probe::new(&counters).guard());
    assert_counts(&counters, 0, 0, 1);
    assert!(seen().is_empty());

    set_policy(Policy::Hook(hook));
    drop(Probe::new(&counters).guard());
    assert_counts(&counters, 0, 0, 2);
    assert_eq!(seen().len(), 1);
    seen().clear();
}

#[test]
fn panicking_hook_propagates_and_the_value_is_still_dropped_once() {
    let _scope = with_policy(Policy::Hook(panicking_hook));
    let counters = Counters::new();
    let guard = Probe::new(&counters).guard();
    let text = panic_message(move || drop(guard));
    assert_eq!(text, format!("hook: Forgotten {}", type_name::<Probe>()));
    assert_counts(&counters, 0, 0, 1);

    let fut = Probe::new(&counters).guard().async_drop();
    let text = panic_message(move || drop(fut));
    assert_eq!(text, format!("hook: Cancelled {}", type_name::<Probe>()));
    assert_counts(&counters, 0, 0, 2);
}

#[cfg(feature = "std")]
#[test]
fn panic_policies_do_not_panic_again_while_unwinding() {
    for (policy, yields) in [
        (Policy::Panic, None),
        (Policy::Panic, Some(2)),
        (Policy::PanicInDebug, None),
    ] {
        let _scope = with_policy(policy);
        let counters = Counters::new();
        let probe = Probe::new(&counters);
        let result = catch_unwind(AssertUnwindSafe(move || {
            // A forgotten guard, or (`yields`) a cleanup cancelled after a poll.
            let (mut _guard, mut _cleanup) = (None, None);
            match yields {
                None => _guard = Some(probe.guard()),
                Some(n) => {
                    let fut = _cleanup.insert(Box::pin(probe.yields(n).guard().async_drop()));
                    assert!(poll_once(fut).is_pending());
                }
            }
            panic!("first");
        }));
        let payload = result.expect_err("the closure panicked");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"first"));
        assert_counts(&counters, usize::from(yields.is_some()), 0, 1);
    }
}

#[cfg(feature = "std")]
#[test]
fn panic_policy_on_a_forgotten_nested_guard_panics_once() {
    // The outer guard's report panics; the inner guard is then dropped while
    // unwinding and its report must not panic a second time.
    let _scope = with_policy(Policy::Panic);
    let counters = Counters::new();
    let outer = AsyncDropGuard::new(Probe::new(&counters).guard());
    let text = panic_message(move || drop(outer));
    let outer_name = format!("AsyncDropGuard<{}>", type_name::<AsyncDropGuard<Probe>>());
    assert!(text.contains(&outer_name), "{text}");
    assert_counts(&counters, 0, 0, 1);
}

#[test]
fn policy_is_debug_and_copy() {
    let policy = Policy::Hook(hook);
    let copy = policy;
    assert!(format!("{copy:?}").starts_with("Hook("));
    assert_eq!(format!("{:?}", Policy::Panic), "Panic");
    assert_eq!(format!("{:?}", Policy::PanicInDebug), "PanicInDebug");
    assert_eq!(format!("{:?}", Policy::Ignore), "Ignore");
}

// ---------------------------------------------------------------------------
// Scoped policies: one thread or one future.
#[cfg(feature = "std")]
mod scoped {
    use super::*;

    thread_local! {
        static MINE: std::cell::RefCell<Vec<(ReportKind, String)>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    fn mine(report: &Report<'_>) {
        MINE.with(|m| {
            m.borrow_mut()
                .push((report.kind(), report.type_name().to_owned()))
        });
    }

    fn take_mine() -> Vec<(ReportKind, String)> {
        MINE.with(|m| std::mem::take(&mut *m.borrow_mut()))
    }

    struct Tagged<const N: usize>;
    impl<const N: usize> asyncdrop::AsyncDrop for Tagged<N> {
        type Error = std::convert::Infallible;
        async fn async_drop_impl(self) -> Result<(), std::convert::Infallible> {
            Ok(())
        }
    }

    #[test]
    fn thread_policies_of_parallel_threads_see_only_their_own_reports() {
        // No process-wide lock: each thread routes its reports to its own record.
        let threads: Vec<_> = (0..4)
            .map(|i| {
                std::thread::spawn(move || {
                    let _scope = asyncdrop::set_thread_policy(Policy::Hook(mine));
                    for _ in 0..=i {
                        drop(AsyncDropGuard::new(Tagged::<7>));
                    }
                    let cancelled = AsyncDropGuard::new(Tagged::<8>).async_drop();
                    drop(cancelled);
                    take_mine()
                })
            })
            .collect();
        for (i, thread) in threads.into_iter().enumerate() {
            let seen = thread.join().unwrap();
            assert_eq!(seen.len(), i + 2, "{seen:?}");
            assert!(seen[..=i]
                .iter()
                .all(|(kind, name)| *kind == ReportKind::Forgotten && name.ends_with("Tagged<7>")));
            assert_eq!(seen[i + 1].0, ReportKind::Cancelled);
            assert!(seen[i + 1].1.ends_with("Tagged<8>"));
        }
    }

    #[test]
    fn thread_policies_nest_and_restore_the_one_before() {
        let outer = asyncdrop::set_thread_policy(Policy::Hook(mine));
        asyncdrop::with_policy(Policy::Ignore, || drop(AsyncDropGuard::new(Tagged::<1>)));
        assert!(take_mine().is_empty(), "the inner policy took the report");
        drop(AsyncDropGuard::new(Tagged::<2>));
        assert_eq!(take_mine().len(), 1, "the outer policy is back");
        drop(outer);
        // Without a thread policy the process-wide one applies again (the default panics).
        let _lock = lock();
        set_policy(Policy::Panic);
        let panicked = catch_unwind(|| drop(AsyncDropGuard::new(Tagged::<3>)));
        assert!(panicked.is_err());
        assert!(take_mine().is_empty());
    }

    #[test]
    fn a_policy_scope_routes_the_reports_of_its_polls_and_its_drop_on_any_thread() {
        let pool = common::JoinedPool::new(2);
        // Polled on a pool thread: the forgotten guard inside reports to `mine` there.
        let (done, seen) = std::sync::mpsc::channel();
        pool.spawn_ok(asyncdrop::PolicyScope::new(
            Policy::Hook(mine),
            async move {
                drop(AsyncDropGuard::new(Tagged::<4>));
                done.send(take_mine()).unwrap();
            },
        ));
        let seen = seen.recv().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, ReportKind::Forgotten);
        drop(pool);
        // Dropped unfinished here: the cleanup it held reports to its policy, and this
        // thread's own policy is untouched afterwards.
        let scoped = Box::pin(asyncdrop::PolicyScope::new(
            Policy::Hook(mine),
            AsyncDropGuard::new(Tagged::<5>).async_drop(),
        ));
        assert!(format!("{scoped:?}").starts_with("PolicyScope"));
        drop(scoped);
        let seen = take_mine();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, ReportKind::Cancelled);
        assert!(seen[0].1.ends_with("Tagged<5>"));
        let _lock = lock();
        set_policy(Policy::Panic);
        assert!(catch_unwind(|| drop(AsyncDropGuard::new(Tagged::<6>))).is_err());
    }
}
