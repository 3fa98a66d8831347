//! `Policy::Log`: reports go to the `log` crate with their key-values.
#![cfg(feature = "log")]

use std::sync::Mutex;

use asyncdrop::{set_thread_policy, AsyncDrop, AsyncDropGuard, Policy};
use log::kv::{Key, Value, VisitSource};

/// A logged record: level, target, message and key-values.
#[derive(Debug)]
struct Logged {
    level: log::Level,
    target: String,
    message: String,
    pairs: Vec<(String, String)>,
}

static LOGGED: Mutex<Vec<Logged>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        struct Pairs(Vec<(String, String)>);
        impl<'kvs> VisitSource<'kvs> for Pairs {
            fn visit_pair(
                &mut self,
                key: Key<'kvs>,
                value: Value<'kvs>,
            ) -> Result<(), log::kv::Error> {
                self.0.push((key.to_string(), value.to_string()));
                Ok(())
            }
        }
        let mut pairs = Pairs(Vec::new());
        record.key_values().visit(&mut pairs).unwrap();
        LOGGED.lock().unwrap().push(Logged {
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
            pairs: pairs.0,
        });
    }

    fn flush(&self) {}
}

struct Conn;

impl AsyncDrop for Conn {
    type Error = String;
    async fn async_drop_impl(self) -> Result<(), String> {
        Ok(())
    }
}

fn pair<'a>(logged: &'a Logged, key: &str) -> &'a str {
    &logged
        .pairs
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no `{key}` in {logged:?}"))
        .1
}

#[test]
fn reports_become_log_records_with_key_values() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let _scope = set_thread_policy(Policy::Log);

    let line = line!() + 1;
    drop(AsyncDropGuard::new(Conn)); // forgotten
    drop(AsyncDropGuard::new(Conn).async_drop()); // cancelled

    let logged = std::mem::take(&mut *LOGGED.lock().unwrap());
    assert_eq!(logged.len(), 2, "{logged:?}");
    let (forgotten, cancelled) = (&logged[0], &logged[1]);
    assert_eq!(forgotten.level, log::Level::Error);
    assert_eq!(cancelled.level, log::Level::Warn);
    for record in &logged {
        assert_eq!(record.target, "asyncdrop");
        assert!(
            pair(record, "type_name").ends_with("policy_log::Conn"),
            "{record:?}"
        );
        assert!(
            record.message.contains("AsyncDropGuard<policy_log::Conn>"),
            "{record:?}"
        );
        assert_eq!(pair(record, "detail"), "");
    }
    assert_eq!(pair(forgotten, "kind"), "Forgotten");
    assert_eq!(pair(cancelled, "kind"), "Cancelled");
    if cfg!(debug_assertions) {
        assert_eq!(pair(forgotten, "site"), format!("{}:{line}:10", file!()));
    } else {
        assert_eq!(pair(forgotten, "site"), "");
    }
}
