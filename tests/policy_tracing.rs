//! `Policy::Tracing`: reports become `tracing` events with structured fields.
#![cfg(feature = "tracing")]

use std::fmt;
use std::sync::{Arc, Mutex};

use asyncdrop::{set_thread_policy, AsyncDrop, AsyncDropGuard, Policy};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// An event: level, target and fields (as their `Debug` form).
#[derive(Debug)]
struct Seen {
    level: tracing::Level,
    target: String,
    fields: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Seen>>>);

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
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
        self.0.lock().unwrap().push(Seen {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields: fields.0,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

struct Conn;

impl AsyncDrop for Conn {
    type Error = String;
    async fn async_drop_impl(self) -> Result<(), String> {
        Ok(())
    }
}

fn field<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn reports_become_events_with_fields() {
    let capture = Capture::default();
    let line = tracing::subscriber::with_default(capture.clone(), || {
        let _scope = set_thread_policy(Policy::Tracing);
        let line = line!() + 1;
        drop(AsyncDropGuard::new(Conn)); // forgotten
        drop(AsyncDropGuard::new(Conn).async_drop()); // cancelled
        line
    });
    let seen = std::mem::take(&mut *capture.0.lock().unwrap());
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].level, tracing::Level::ERROR);
    assert_eq!(seen[1].level, tracing::Level::WARN);
    for event in &seen {
        assert_eq!(event.target, "asyncdrop");
        assert!(field(event, "type_name")
            .unwrap()
            .ends_with("policy_tracing::Conn"));
        assert!(field(event, "message")
            .unwrap()
            .contains("AsyncDropGuard<policy_tracing::Conn>"));
        assert_eq!(field(event, "detail"), None, "no detail: no field");
    }
    assert_eq!(field(&seen[0], "kind"), Some("Forgotten"));
    assert_eq!(field(&seen[1], "kind"), Some("Cancelled"));
    let site = field(&seen[0], "site");
    if cfg!(debug_assertions) {
        assert_eq!(site, Some(format!("{}:{line}:14", file!()).as_str()));
    } else {
        assert_eq!(site, None);
    }
}
