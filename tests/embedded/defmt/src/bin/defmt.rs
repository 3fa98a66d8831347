//! Reports through `defmt_hook`, the crate's `defmt::Format` impls and a derived
//! error type's, logged over semihosting. `ci/embedded.sh` decodes the output and compares it with
//! `expected/defmt.txt`; the exit status must be 0.
#![no_std]
#![no_main]

use core::pin::pin;

use asyncdrop::{async_drop_all, defmt_hook, set_policy, AsyncDrop, AsyncDropGuard, Policy};
use asyncdrop_fw_support::{block_on, check, exit, poll_once, Suspend};
use cortex_m_rt::entry;
use defmt_semihosting as _;

// No timestamps: frames are the format string's index and its arguments only.
defmt::timestamp!("");

struct Sensor(u8);

impl AsyncDrop for Sensor {
    type Error = u8;
    async fn async_drop_impl(self) -> Result<(), u8> {
        Suspend(1).await;
        if self.0 == 0 {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// A derived cleanup: its generated error type is `defmt::Format` as well.
#[derive(AsyncDrop)]
struct Pair {
    left: AsyncDropGuard<Sensor>,
    right: AsyncDropGuard<Sensor>,
}

#[entry]
fn main() -> ! {
    set_policy(Policy::Hook(defmt_hook));
    defmt::info!("defmt: start");
    drop(AsyncDropGuard::new(Sensor(0))); // forgotten: an `error` frame
    {
        let mut cleanup = pin!(AsyncDropGuard::new(Sensor(0)).async_drop());
        check!(poll_once(cleanup.as_mut()).is_pending());
    } // cancelled: a `warn` frame
    let kind = asyncdrop::ReportKind::Failed;
    defmt::info!("kind: {}", kind);

    // The error types are `defmt::Format` too.
    let err = block_on(async_drop_all((
        AsyncDropGuard::new(Sensor(0)),
        AsyncDropGuard::new(Sensor(7)),
    )))
    .0
    .unwrap_err();
    check!(matches!(err.as_inner(), (None, Some(7))));
    defmt::info!("tuple error: {}", err);

    let pair = AsyncDropGuard::new(Pair {
        left: AsyncDropGuard::new(Sensor(0)),
        right: AsyncDropGuard::new(Sensor(9)),
    });
    let err = block_on(pair.async_drop()).0.unwrap_err();
    check!(err.left.is_none() && err.right == Some(9));
    defmt::info!("derived error: {}", err);
    exit(true)
}
