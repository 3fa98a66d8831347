//! The tests whose reports go to the recording policy hook of `common` (or to none),
//! one module a concept, in one binary. Tests that install a global allocator or a
//! policy of their own have binaries of their own.

#[path = "../common/mod.rs"]
mod common;

mod blocking;
mod cancel;
mod cancel_harness;
mod collections;
mod collections_wakeups;
mod combine;
mod compose;
mod guard;
mod join;
mod mutex;
mod scope;
mod send;
mod shared;
