//! The resource behind an `AsyncDropGuard`, with the default policy.
#![no_std]
#![no_main]

#[path = "../resource.rs"]
mod resource;

use asyncdrop::{AsyncDrop, AsyncDropGuard};
use cortex_m_rt::entry;
use resource::{finish, run, skip, Conn};

impl AsyncDrop for Conn {
    type Error = u32;
    async fn async_drop_impl(self) -> Result<(), u32> {
        self.close().await
    }
}

#[entry]
fn main() -> ! {
    let conn = AsyncDropGuard::new(Conn::new());
    if skip() {
        drop(conn);
        finish(None)
    }
    finish(run(conn.async_drop()))
}
