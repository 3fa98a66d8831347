//! `AsyncDropGuard::combine`: several guards become one guarded parent.

use crate::common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use asyncdrop::{async_drop_all, AsyncDrop, AsyncDropGuard, ReportKind};
use common::harness::fail;
use common::reports::{counts_quietly, one_report};
use common::{
    assert_counts, assert_site, setup, take_reports, Behaviour, Counters, Probe, ProbeError,
};
use futures_executor::block_on;

/// Three probes as plain fields, cleaned up in order up to the first error.
struct Trio {
    a: Probe,
    b: Probe,
    c: Probe,
}

impl AsyncDrop for Trio {
    type Error = ProbeError;
    async fn async_drop_impl(self) -> Result<(), ProbeError> {
        self.a.async_drop_impl().await?;
        self.b.async_drop_impl().await?;
        self.c.async_drop_impl().await
    }
}

/// Probes in an array, all cleaned up concurrently whatever fails.
struct Pool {
    members: [Probe; 4],
}

impl AsyncDrop for Pool {
    type Error = ProbeError;
    async fn async_drop_impl(self) -> Result<(), ProbeError> {
        async_drop_all(self.members).await.map_err(|e| *e.first())
    }
}

/// A parent of three probes, and the line of its `combine` call.
fn trio(counters: &std::sync::Arc<Counters>) -> (AsyncDropGuard<Trio>, u32) {
    let parts = (
        Probe::new(counters).id(1).yields(1).guard(),
        Probe::new(counters).id(2).guard(),
        Probe::new(counters).id(3).yields(2).guard(),
    );
    let line = line!() + 1;
    let parent = AsyncDropGuard::combine(parts, |(a, b, c)| Trio { a, b, c });
    (parent, line)
}

#[test]
fn tuple_and_array_parents_clean_up_every_part() {
    let counters = setup();
    let (parent, _) = trio(&counters);
    // Combining moves the values: nothing cleaned up, dropped or reported.
    assert_counts(&counters, 0, 0, 0);
    assert_eq!((parent.a.id, parent.b.id, parent.c.id), (1, 2, 3));
    assert_eq!(take_reports(), []);

    assert_eq!(block_on(parent.async_drop()), Ok(()));
    counts_quietly(&counters, 3, 3, 3);

    let counters = setup();
    let guards = [1, 2, 3, 4].map(|id| {
        let behaviour = if id == 3 {
            Behaviour::Fail(9)
        } else {
            Behaviour::Succeed
        };
        Probe::new(&counters).id(id).behaviour(behaviour).guard()
    });
    let pool = AsyncDropGuard::combine(guards, |members| Pool { members });
    let ids: Vec<u32> = pool.members.iter().map(|p| p.id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(block_on(pool.async_drop()), Err(fail(3, 9)));
    counts_quietly(&counters, 4, 4, 4);
}

#[test]
fn the_parents_cleanup_decides_what_an_error_means() {
    let counters = setup();
    let parts = (
        Probe::new(&counters).id(1).guard(),
        Probe::new(&counters).id(2).fail(5).guard(),
        Probe::new(&counters).id(3).guard(),
    );
    let parent = AsyncDropGuard::combine(parts, |(a, b, c)| Trio { a, b, c });
    // `Trio` stops at the first error: the third part is dropped uncleaned, unreported.
    assert_eq!(block_on(parent.async_drop()), Err(fail(2, 5)));
    counts_quietly(&counters, 2, 2, 3);
}

#[test]
fn a_forgotten_or_unbuilt_parent_drops_its_parts_once() {
    let counters = setup();
    let (parent, combine_line) = trio(&counters);
    drop(parent);
    assert_counts(&counters, 0, 0, 3);
    let report = one_report(ReportKind::Forgotten);
    report.of("Trio");
    // The site is the `combine` call, not where the parts were created.
    assert_site(report.site, file!(), combine_line);

    let counters = setup();
    let parts = (
        Probe::new(&counters).id(1).guard(),
        Probe::new(&counters).id(2).guard(),
    );
    let result = catch_unwind(AssertUnwindSafe(|| {
        AsyncDropGuard::combine(parts, |(_a, _b)| -> Trio {
            panic!("cannot build the parent")
        })
    }));
    assert!(result.is_err());
    counts_quietly(&counters, 0, 0, 2);
}

#[test]
fn one_to_eight_parts() {
    let counters = setup();
    let g = |id| Probe::new(&counters).id(id).guard();
    let one = AsyncDropGuard::combine((g(1),), |(a,)| a);
    let eight =
        AsyncDropGuard::combine((g(2), g(3), g(4), g(5), g(6), g(7), g(8), g(9)), |parts| {
            parts
        });
    assert_eq!(one.id, 1);
    assert_eq!((eight.0.id, eight.7.id), (2, 9));
    assert_eq!(block_on(one.async_drop()), Ok(()));
    block_on(eight.async_drop()).expect("all eight clean up");
    counts_quietly(&counters, 9, 9, 9);
}
