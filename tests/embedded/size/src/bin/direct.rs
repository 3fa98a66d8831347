//! The resource closed by hand.
#![no_std]
#![no_main]

#[path = "../resource.rs"]
mod resource;

use cortex_m_rt::entry;
use resource::{finish, run, skip, Conn};

#[entry]
fn main() -> ! {
    let conn = Conn::new();
    if skip() {
        drop(conn);
        finish(None)
    }
    finish(run(conn.close()))
}
