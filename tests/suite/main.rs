//! The integration tests, one module a concept, in one binary: their reports go to
//! the recording policy hook of `common` (or to none), and the allocations they count
//! are counted per thread. `policy.rs` and `panicking_reports.rs` install policies
//! of their own, `derive.rs` runs without `std` too: they have binaries of their own.

#[path = "../common/mod.rs"]
mod common;

mod arc;
mod blocking;
mod cancel;
mod cancel_harness;
mod collections;
mod collections_cost;
mod collections_wakeups;
mod combine;
mod compose;
mod dyn_drop;
mod guard;
mod join;
mod mutex;
mod scope;
mod send;
mod shared;
mod zero_cost;

#[global_allocator]
static GLOBAL: common::counting::CountingAlloc = common::counting::CountingAlloc;
