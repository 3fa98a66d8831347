//! The program both binaries share: a resource whose cleanup suspends once and
//! writes a register, closed once, the result written out without `core::fmt`.
//! Which paths run is read from a static the optimiser cannot see through, so the
//! guard's report paths (a value dropped without cleanup, a cleanup given up half
//! way) stay in the guard build, as they do in a real firmware.

use core::sync::atomic::{AtomicU32, Ordering};

use asyncdrop_fw_support::{exit, poll_once, write_line, Suspend};

/// Stands for a peripheral's register.
pub static REGISTER: AtomicU32 = AtomicU32::new(0);

pub struct Conn {
    id: u32,
}

impl Conn {
    pub fn new() -> Conn {
        // Opaque to the optimiser, like a real handle.
        Conn {
            id: REGISTER.load(Ordering::Relaxed) + 1,
        }
    }

    pub async fn close(self) -> Result<(), u32> {
        Suspend(1).await;
        REGISTER.store(self.id, Ordering::Relaxed);
        if REGISTER.load(Ordering::Relaxed) == 1 {
            Ok(())
        } else {
            Err(self.id)
        }
    }
}

/// Polls `future` at most `REGISTER + 3` times: a cleanup deadline.
pub fn run<F: core::future::Future>(future: F) -> Option<F::Output> {
    let mut future = core::pin::pin!(future);
    for _ in 0..REGISTER.load(Ordering::Relaxed) + 3 {
        if let core::task::Poll::Ready(output) = poll_once(future.as_mut()) {
            return Some(output);
        }
    }
    None
}

/// Whether the program should drop its resource without closing it (never).
pub fn skip() -> bool {
    REGISTER.load(Ordering::Relaxed) > 100
}

pub fn finish(result: Option<Result<(), u32>>) -> ! {
    let ok = result == Some(Ok(()));
    write_line(if ok { "closed" } else { "close failed" });
    exit(ok)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    write_line("panic");
    exit(false)
}
