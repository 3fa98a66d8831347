//! Collections of guarded values, cleaned up concurrently in the current task.
//!
//! - [`AsyncDropVec`]: a sequence; [`AsyncDropBTreeMap`]: an ordered map;
//!   `AsyncDropHashMap`: a hash map (with the `std` feature).
//! - [`async_drop_iter`]: clean up the values of any iterator at once.
//! - [`CleanupErrors`]: every error of such a cleanup, in element order.
//!
//! Each collection is itself guarded: its constructor returns an
//! [`AsyncDropGuard`](crate::AsyncDropGuard) of the collection, and its methods are
//! reached through that guard. Values go in as guards and come out as guards —
//! removing, replacing or popping an element hands back an `AsyncDropGuard` that
//! must be cleaned up like any other. Inside the collection the values are stored
//! bare, so a forgotten collection is reported once, not once per element.
//!
//! # Cleanup
//!
//! Cleaning a collection up runs the cleanup of every element concurrently inside
//! the cleanup future itself, as [`async_drop_iter`] does: nothing is spawned and no
//! runtime is needed. Every element is cleaned up even when others fail, and every
//! error is returned in a [`CleanupErrors`], in element order (each collection says
//! which). A cleanup is polled again only after it has woken its waker, so the
//! whole cleanup is one pass; it allocates at most twice whatever the number of
//! elements, three times if some fail. For elements that depend on each other, the
//! ordered variants (`async_drop_in_order`) clean up one element at a time, last
//! first, allocating only their error list.
//!
//! # Drop behaviour and cancel safety
//!
//! A collection whose guard is dropped without cleanup drops every element (and
//! key) synchronously and reports
//! [`ReportKind::Forgotten`](crate::ReportKind::Forgotten) once, for the collection.
//! A cleanup future dropped midway drops every element whose cleanup had not
//! finished, exactly once, and reports
//! [`ReportKind::Cancelled`](crate::ReportKind::Cancelled) once, for the
//! collection; the elements, started or not, report nothing of their own. A panic
//! inside an element's cleanup propagates to the caller; the other elements are
//! dropped (exactly once) with the cleanup future, and nothing is reported (the
//! panic is the report).
//!
//! # Examples
//!
//! ```
//! use asyncdrop::collections::AsyncDropVec;
//! use asyncdrop::{AsyncDrop, AsyncDropGuard};
//!
//! struct Conn(u16);
//! impl AsyncDrop for Conn {
//!     type Error = std::io::Error;
//!     async fn async_drop_impl(self) -> std::io::Result<()> {
//!         Ok(()) // send a goodbye frame, shut the socket down
//!     }
//! }
//!
//! # futures_executor::block_on(async {
//! let mut pool = AsyncDropVec::new();
//! for port in 8000..8010 {
//!     pool.push(AsyncDropGuard::new(Conn(port)));
//! }
//! let idle = pool.pop().unwrap(); // a guard: clean it up, or hand it on
//! assert_eq!(idle.0, 8009);
//! idle.async_drop().await?;
//! pool.async_drop().await?; // the nine others, concurrently
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod btree_map;
mod cleanup;
mod errors;
#[cfg(feature = "std")]
mod hash_map;
mod ready;
mod vec;

pub use btree_map::AsyncDropBTreeMap;
pub use cleanup::{async_drop_iter, AsyncDropIter};
pub use errors::CleanupErrors;
#[cfg(feature = "std")]
pub use hash_map::AsyncDropHashMap;
pub use vec::AsyncDropVec;
