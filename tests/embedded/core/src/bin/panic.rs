//! The default policy on bare metal: a forgotten guard panics, naming its type. The
//! panic handler prints the message and exits with status 1; `ci/embedded.sh` checks
//! both.
#![no_std]
#![no_main]

use asyncdrop::{AsyncDrop, AsyncDropGuard};
use asyncdrop_fw_support::{exit, println};
use cortex_m_rt::entry;

struct Sensor;

impl AsyncDrop for Sensor {
    type Error = ();
    async fn async_drop_impl(self) -> Result<(), ()> {
        Ok(())
    }
}

#[entry]
fn main() -> ! {
    println!("panic: forgetting a guard");
    drop(AsyncDropGuard::new(Sensor));
    println!("panic: the default policy did not panic");
    exit(true)
}
