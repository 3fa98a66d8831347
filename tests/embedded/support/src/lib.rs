//! What the test firmware shares: a polling executor, semihosting output and exit,
//! and (feature `panic-handler`) a panic handler that prints the message and exits
//! with a failure status, so the runner sees every panic by its exit code.
#![no_std]

use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

pub use cortex_m_semihosting::hprintln as println;

/// Ends the program under QEMU: exit status 0 if `ok`, 1 otherwise.
pub fn exit(ok: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Writes `s` to the host's standard output without `core::fmt`.
pub fn write(s: &str) {
    if let Ok(mut out) = cortex_m_semihosting::hio::hstdout() {
        let _ = out.write_all(s.as_bytes());
    }
}

/// Writes `s` and a newline to the host's standard output without `core::fmt`.
pub fn write_line(s: &str) {
    write(s);
    write("\n");
}

/// Fails the firmware (exit status 1) with a message when `$cond` is false.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            $crate::println!("FAILED: {} ({}:{})", stringify!($cond), file!(), line!());
            $crate::exit(false);
        }
    };
}

/// Fails the firmware when `$a != $b`, printing both.
#[macro_export]
macro_rules! check_eq {
    ($a:expr, $b:expr) => {{
        let (a, b) = (&$a, &$b);
        if a != b {
            $crate::println!(
                "FAILED: {} == {}: {:?} != {:?} ({}:{})",
                stringify!($a),
                stringify!($b),
                a,
                b,
                file!(),
                line!()
            );
            $crate::exit(false);
        }
    }};
}

/// Set by the waker of [`block_on`]; load and store only (thumbv6m has no swap).
static WOKEN: AtomicBool = AtomicBool::new(false);

static VTABLE: RawWakerVTable = RawWakerVTable::new(
    |p| RawWaker::new(p, &VTABLE),
    |_| WOKEN.store(true, Ordering::Release),
    |_| WOKEN.store(true, Ordering::Release),
    |_| {},
);

fn waker() -> Waker {
    // SAFETY: the vtable's functions ignore the data pointer and keep no state
    // behind it; cloning and dropping do nothing.
    unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &VTABLE)) }
}

/// Polls `future` to completion on the spot, returning its output and how many
/// polls it took. It polls again only after a wake-up: a future that returns
/// `Pending` without one having been asked for would never be polled again by a
/// real executor, so that fails the firmware.
pub fn block_on<F: Future>(future: F) -> (F::Output, u32) {
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut polls = 0;
    loop {
        polls += 1;
        WOKEN.store(false, Ordering::Release);
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return (output, polls);
        }
        if !WOKEN.load(Ordering::Acquire) {
            println!("FAILED: pending without a wake-up, after {} polls", polls);
            exit(false);
        }
    }
}

/// Polls `future` once.
pub fn poll_once<F: Future>(future: core::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(&waker()))
}

/// A future that is pending `n` times (waking itself) before it is ready: a
/// cleanup that really suspends.
pub struct Suspend(pub u32);

impl Future for Suspend {
    type Output = ();
    fn poll(mut self: core::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A future that is pending once without asking for a wake-up: under [`block_on`],
/// something else must wake the task meanwhile.
pub struct PendingOnce(pub bool);

impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: core::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("PANIC: {}", info.message());
    exit(false)
}
