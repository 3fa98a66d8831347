//! The process-wide policy: each test holds `LOCK` and restores `Policy::Panic`, even on failure.

mod common;

use std::any::type_name;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};

use asyncdrop::ReportKind::{Cancelled, Forgotten};
use asyncdrop::{set_policy, AsyncDropGuard, Policy, Report};
use common::harness::message;
use common::{assert_counts, assert_site, poll_once, Counters, Probe, Seen};
use futures_executor::block_on;

static LOCK: Mutex<()> = Mutex::new(());

/// Holds `LOCK`; restores `Policy::Panic` on drop, before the lock is released.
struct PolicyScope {
    _lock: MutexGuard<'static, ()>,
}

impl Drop for PolicyScope {
    fn drop(&mut self) {
        set_policy(Policy::Panic);
    }
}

/// Takes the lock and sets `policy`, if any (without one, the default is in force).
fn with_policy(policy: Option<Policy>) -> PolicyScope {
    let scope = PolicyScope {
        _lock: LOCK.lock().unwrap_or_else(|e| e.into_inner()),
    };
    if let Some(policy) = policy {
        set_policy(policy);
    }
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

/// Each policy panics (saying so) or is silent; the value is dropped once either way.
#[test]
fn each_policy_panics_or_not_on_a_forgotten_guard_and_a_cancelled_cleanup() {
    // `None`: every test restores the default, so the policy in force first is it.
    let policies = [
        (None, true),
        (Some(Policy::Panic), true),
        (Some(Policy::PanicInDebug), cfg!(debug_assertions)),
        (Some(Policy::Ignore), false),
        #[cfg(feature = "std")]
        (Some(Policy::Stderr), false),
    ];
    let counts = |c: &Counters| (c.started(), c.finished(), c.drops());
    for (policy, panics) in policies {
        let _scope = with_policy(policy);
        let counters = Counters::new();
        let line = line!() + 1;
        let guard = AsyncDropGuard::new(Probe::new(&counters).id(3));
        if panics {
            let text = panic_message(move || drop(guard));
            let case = format!("{policy:?}: {text}");
            assert!(text.starts_with("asyncdrop: AsyncDropGuard<"), "{case}");
            assert!(text.contains(&probe_guard_name()), "{case}");
            assert!(text.contains("dropped without cleanup"), "{case}");
            let at = format!("guard created at {}:{line}:", file!());
            if cfg!(debug_assertions) {
                assert!(text.contains(&at), "{case}");
            } else {
                assert!(!text.contains("guard created at"), "{case}");
            }
        } else {
            drop(guard);
        }
        // Even when the policy panicked, the value was dropped, once, not cleaned up.
        assert_eq!(counts(&counters), (0, 0, 1), "{policy:?}: forgotten");

        for polls in [0, 1] {
            let counters = Counters::new();
            let line = line!() + 1;
            let guard = AsyncDropGuard::new(Probe::new(&counters).yields(2));
            let cancel = || {
                let mut fut = pin!(guard.async_drop());
                for _ in 0..polls {
                    assert!(poll_once(&mut fut).is_pending());
                }
                // `fut` is dropped here, unfinished.
            };
            let case = format!("{policy:?}, cancelled after {polls} polls");
            if panics {
                let text = panic_message(cancel);
                assert!(text.contains("cancelled"), "{case}: {text}");
                assert!(text.contains(&probe_guard_name()), "{case}: {text}");
                assert!(!text.contains("without cleanup"), "{case}: {text}");
                let at = format!("guard created at {}:{line}:", file!());
                if cfg!(debug_assertions) {
                    assert!(text.contains(&at), "{case}: {text}");
                }
            } else {
                cancel();
            }
            assert_eq!(counts(&counters), (polls, 0, 1), "{case}");
        }

        // The inner guard, dropped while the outer one's report unwinds, must not panic again.
        #[cfg(feature = "std")]
        if panics {
            let counters = Counters::new();
            let outer = AsyncDropGuard::new(Probe::new(&counters).guard());
            let text = panic_message(move || drop(outer));
            let outer_name = format!("AsyncDropGuard<{}>", type_name::<AsyncDropGuard<Probe>>());
            assert!(text.contains(&outer_name), "{policy:?}: {text}");
            assert_eq!(counts(&counters), (0, 0, 1), "{policy:?}: nested");
        }

        // A completed cleanup, or a guard taken apart, is never reported.
        let counters = Counters::new();
        let guard = Probe::new(&counters).yields(2).guard();
        assert_eq!(block_on(guard.async_drop()), Ok(()), "{policy:?}");
        let guard = Probe::new(&counters).guard();
        drop(AsyncDropGuard::into_inner_without_cleanup(guard));
        assert_eq!(counts(&counters), (1, 1, 2), "{policy:?}: completed");
    }
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

/// What the test hook saw.
fn seen() -> MutexGuard<'static, Vec<Seen>> {
    SEEN.lock().unwrap_or_else(|e| e.into_inner())
}

fn hook(report: &Report<'_>) {
    seen().push(Seen {
        kind: report.kind(),
        type_name: report.type_name(),
        site: report.site().map(|s| (s.file(), s.line())),
        message: report.to_string(),
    });
}

fn panicking_hook(report: &Report<'_>) {
    panic!("hook: {:?} {}", report.kind(), report.type_name());
}

#[test]
fn hook_receives_each_report_from_any_thread_until_replaced() {
    let _scope = with_policy(Some(Policy::Hook(hook)));
    seen().clear();
    let counters = Counters::new();

    let line_forgotten = line!() + 1;
    drop(AsyncDropGuard::new(Probe::new(&counters)));
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

    let seen_now = std::mem::take(&mut *seen());
    assert_eq!(seen_now.len(), 2, "{seen_now:?}");
    let kinds: Vec<_> = seen_now.iter().map(|s| (s.kind, s.type_name)).collect();
    let probe = type_name::<Probe>();
    assert_eq!(kinds, [(Forgotten, probe), (Cancelled, probe)]);
    let (forgotten, cancelled) = (&seen_now[0].message, &seen_now[1].message);
    assert!(forgotten.contains(&probe_guard_name()), "{forgotten}");
    assert!(forgotten.contains("dropped without cleanup"), "{forgotten}");
    assert!(cancelled.contains("cancelled"), "{cancelled}");
    assert_site(seen_now[0].site, file!(), line_forgotten);
    assert_site(seen_now[1].site, file!(), line_cancelled);

    // A guard dropped on another thread.
    let guard = Probe::new(&counters).guard();
    std::thread::spawn(move || drop(guard)).join().unwrap();
    assert_counts(&counters, 2, 1, 4);
    let seen_now = std::mem::take(&mut *seen());
    assert_eq!(seen_now.len(), 1, "{seen_now:?}");
    assert_eq!(seen_now[0].kind, Forgotten);

    // `set_policy` replaces the previous policy: the hook, then `Ignore`.
    set_policy(Policy::Ignore);
    drop(Probe::new(&counters).guard());
    assert_counts(&counters, 2, 1, 5);
    assert!(seen().is_empty());
    set_policy(Policy::Hook(hook));
    drop(Probe::new(&counters).guard());
    assert_counts(&counters, 2, 1, 6);
    assert_eq!(seen().len(), 1);
    seen().clear();
}

#[test]
fn panicking_hook_propagates_and_the_value_is_still_dropped_once() {
    let _scope = with_policy(Some(Policy::Hook(panicking_hook)));
    let counters = Counters::new();
    let text = panic_message(|| drop(Probe::new(&counters).guard()));
    assert_eq!(text, format!("hook: Forgotten {}", type_name::<Probe>()));
    assert_counts(&counters, 0, 0, 1);

    let text = panic_message(|| drop(Probe::new(&counters).guard().async_drop()));
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
        let _scope = with_policy(Some(policy));
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

#[test]
fn policy_is_debug_and_copy() {
    let policy = Policy::Hook(hook);
    let copy = policy;
    assert!(format!("{copy:?}").starts_with("Hook("));
    assert_eq!(format!("{:?}", Policy::Panic), "Panic");
    assert_eq!(format!("{:?}", Policy::PanicInDebug), "PanicInDebug");
    assert_eq!(format!("{:?}", Policy::Ignore), "Ignore");
}

// Scoped policies: one thread or one future.
#[cfg(feature = "std")]
mod scoped {
    use super::*;
    use asyncdrop::ReportKind;

    thread_local! {
        static MINE: std::cell::RefCell<Vec<(ReportKind, String)>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    fn mine(report: &Report<'_>) {
        let seen = (report.kind(), report.type_name().to_owned());
        MINE.with(|m| m.borrow_mut().push(seen));
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
                    drop(AsyncDropGuard::new(Tagged::<8>).async_drop()); // cancelled
                    take_mine()
                })
            })
            .collect();
        for (i, thread) in threads.into_iter().enumerate() {
            let seen = thread.join().unwrap();
            assert_eq!(seen.len(), i + 2, "{seen:?}");
            assert!(seen[..=i]
                .iter()
                .all(|(kind, name)| *kind == Forgotten && name.ends_with("Tagged<7>")));
            assert_eq!(seen[i + 1].0, Cancelled);
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
        let _lock = with_policy(Some(Policy::Panic));
        assert!(catch_unwind(|| drop(AsyncDropGuard::new(Tagged::<3>))).is_err());
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
        assert_eq!(seen[0].0, Forgotten);
        drop(pool);
        // Dropped unfinished here: reports to its policy; this thread's policy is untouched.
        let scoped = Box::pin(asyncdrop::PolicyScope::new(
            Policy::Hook(mine),
            AsyncDropGuard::new(Tagged::<5>).async_drop(),
        ));
        assert!(format!("{scoped:?}").starts_with("PolicyScope"));
        drop(scoped);
        let seen = take_mine();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, Cancelled);
        assert!(seen[0].1.ends_with("Tagged<5>"));
        let _lock = with_policy(Some(Policy::Panic));
        assert!(catch_unwind(|| drop(AsyncDropGuard::new(Tagged::<6>))).is_err());
    }

    /// A log record or a tracing event: level, target and fields (a record's text as `message`).
    #[cfg(any(feature = "log", feature = "tracing"))]
    #[derive(Debug)]
    struct Event {
        level: String,
        target: String,
        fields: Vec<(String, String)>,
    }

    /// The events of a forgotten then a cancelled `tag` made at `at` (line, column);
    /// `absent` is the value of a field without one (`None`: no field).
    #[cfg(any(feature = "log", feature = "tracing"))]
    fn check_events(events: &[Event], tag: &str, at: (u32, u32), absent: Option<&str>) {
        fn field<'a>(event: &'a Event, name: &str) -> Option<&'a str> {
            let field = event.fields.iter().find(|(k, _)| k == name);
            field.map(|(_, v)| v.as_str())
        }
        let tagged = format!("policy::scoped::{tag}");
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].level, "ERROR");
        assert_eq!(events[1].level, "WARN");
        for event in events {
            assert_eq!(event.target, "asyncdrop");
            let name = field(event, "type_name").unwrap();
            assert!(name.ends_with(&tagged), "{event:?}");
            let message = field(event, "message").unwrap();
            let guard = format!("AsyncDropGuard<{tagged}>");
            assert!(message.contains(&guard), "{event:?}");
            assert_eq!(field(event, "detail"), absent, "no detail");
        }
        assert_eq!(field(&events[0], "kind"), Some("Forgotten"));
        assert_eq!(field(&events[1], "kind"), Some("Cancelled"));
        // No site in builds without debug assertions.
        let site = cfg!(debug_assertions).then(|| format!("{}:{}:{}", file!(), at.0, at.1));
        assert_eq!(field(&events[0], "site"), site.as_deref().or(absent));
    }

    /// `Policy::Log`: reports go to the `log` crate with their key-values.
    #[cfg(feature = "log")]
    mod log_records {
        use super::*;
        use log::kv::{Error as KvError, Key, Value, VisitSource};

        static LOGGED: Mutex<Vec<Event>> = Mutex::new(Vec::new());

        struct Pairs(Vec<(String, String)>);

        impl<'kvs> VisitSource<'kvs> for Pairs {
            fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), KvError> {
                self.0.push((key.to_string(), value.to_string()));
                Ok(())
            }
        }

        struct Capture;

        impl log::Log for Capture {
            fn enabled(&self, _: &log::Metadata<'_>) -> bool {
                true
            }

            fn log(&self, record: &log::Record<'_>) {
                let mut pairs = Pairs(vec![("message".into(), record.args().to_string())]);
                record.key_values().visit(&mut pairs).unwrap();
                LOGGED.lock().unwrap().push(Event {
                    level: record.level().to_string(),
                    target: record.target().to_owned(),
                    fields: pairs.0,
                });
            }

            fn flush(&self) {}
        }

        #[test]
        fn reports_become_log_records_with_key_values() {
            log::set_logger(&Capture).unwrap();
            log::set_max_level(log::LevelFilter::Trace);
            let _scope = asyncdrop::set_thread_policy(Policy::Log);

            let line = line!() + 1;
            drop(AsyncDropGuard::new(Tagged::<9>)); // forgotten
            drop(AsyncDropGuard::new(Tagged::<9>).async_drop()); // cancelled

            let logged = std::mem::take(&mut *LOGGED.lock().unwrap());
            // Every key is there: an absent value is empty.
            check_events(&logged, "Tagged<9>", (line, 18), Some(""));
        }
    }

    /// `Policy::Tracing`: reports become `tracing` events with structured fields.
    #[cfg(feature = "tracing")]
    mod tracing_events {
        use super::*;
        use std::fmt;
        use std::sync::Arc;

        use tracing::field::{Field, Visit};
        use tracing::span::{Attributes, Id, Record};
        use tracing::{Metadata, Subscriber};

        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<Event>>>);

        impl Subscriber for Capture {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &Attributes<'_>) -> Id {
                Id::from_u64(1)
            }
            fn record(&self, _: &Id, _: &Record<'_>) {}
            fn record_follows_from(&self, _: &Id, _: &Id) {}
            fn event(&self, event: &tracing::Event<'_>) {
                struct Fields(Vec<(String, String)>);
                impl Visit for Fields {
                    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                        self.0.push((field.name().to_owned(), format!("{value:?}")));
                    }
                    fn record_str(&mut self, field: &Field, value: &str) {
                        self.0.push((field.name().to_owned(), value.to_owned()));
                    }
                }
                let mut fields = Fields(Vec::new());
                event.record(&mut fields);
                self.0.lock().unwrap().push(Event {
                    level: event.metadata().level().to_string(),
                    target: event.metadata().target().to_owned(),
                    fields: fields.0,
                });
            }
            fn enter(&self, _: &Id) {}
            fn exit(&self, _: &Id) {}
        }

        #[test]
        fn reports_become_events_with_fields() {
            let capture = Capture::default();
            let line = tracing::subscriber::with_default(capture.clone(), || {
                let _scope = asyncdrop::set_thread_policy(Policy::Tracing);
                let line = line!() + 1;
                drop(AsyncDropGuard::new(Tagged::<10>)); // forgotten
                drop(AsyncDropGuard::new(Tagged::<10>).async_drop()); // cancelled
                line
            });
            let seen = std::mem::take(&mut *capture.0.lock().unwrap());
            // A field without a value is not there.
            check_events(&seen, "Tagged<10>", (line, 22), None);
        }
    }
}
