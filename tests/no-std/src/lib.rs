//! Uses asyncdrop's public API from a `#![no_std]` crate with only the `derive`
//! feature (no `alloc`, no `std`), built for a bare-metal target in CI.

#![no_std]

use core::sync::atomic::{AtomicU32, Ordering};

use asyncdrop::{
    all_or_cleanup, async_drop_all, set_policy, with_async_drop, AsyncDrop, AsyncDropGuard,
    LocalAsyncDrop, Policy, Report,
};

/// A peripheral whose shutdown is asynchronous.
pub struct Uart {
    /// Bytes written so far.
    pub written: u32,
}

impl AsyncDrop for Uart {
    type Error = u8;

    async fn async_drop_impl(self) -> Result<(), u8> {
        if self.written > 1000 {
            Err(1)
        } else {
            Ok(())
        }
    }
}

/// A `!Send` resource.
pub struct Pin {
    _not_send: core::marker::PhantomData<*const ()>,
}

impl LocalAsyncDrop for Pin {
    type Error = core::convert::Infallible;

    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

static FORGOTTEN: AtomicU32 = AtomicU32::new(0);

fn count_forgotten(_: &Report<'_>) {
    FORGOTTEN.fetch_add(1, Ordering::Relaxed);
}

/// Installs the counting policy hook.
pub fn install_hook() {
    set_policy(Policy::Hook(count_forgotten));
}

/// Writes through a guarded UART and cleans it up on every path.
pub async fn write(n: u32) -> Result<u32, u8> {
    let mut uart = AsyncDropGuard::new(Uart { written: 0 });
    with_async_drop!(uart => {
        uart.written += n;
        Ok(uart.written)
    })
}

/// Cleans up a local resource and two UARTs concurrently.
pub async fn shutdown() -> Result<(), u8> {
    let pin = AsyncDropGuard::new(Pin {
        _not_send: core::marker::PhantomData,
    });
    with_async_drop!(infallible pin => {});
    let pair = all_or_cleanup((
        Ok::<_, u8>(AsyncDropGuard::new(Uart { written: 1 })),
        Ok::<_, u8>(AsyncDropGuard::new(Uart { written: 2 })),
    ))
    .await
    .map_err(|e| *e.first_error())?;
    async_drop_all(pair).await.map_err(|e| *e.first())
}

/// A board whose peripherals are cleaned up together: a derived cleanup.
#[derive(AsyncDrop)]
pub struct Board {
    /// The console.
    pub console: AsyncDropGuard<Uart>,
    /// A second port, if fitted.
    pub aux: Option<Uart>,
}

/// Local pins, cleaned up one after another.
#[derive(LocalAsyncDrop)]
#[async_drop(error = u8, sequential)]
pub struct Pins(pub AsyncDropGuard<Pin>, pub Pin);

/// Cleans up a board (both ports concurrently) and then the pins.
pub async fn power_down(
    board: AsyncDropGuard<Board>,
    pins: AsyncDropGuard<Pins>,
) -> Result<(), u8> {
    if let Err(e) = board.async_drop().await {
        return Err(e.console.or(e.aux).unwrap_or(0));
    }
    pins.async_drop().await
}
