//! What the test firmware shares: a polling executor, semihosting output and exit,
//! and (feature `panic-handler`) a panic handler that prints the message and exits
//! with a failure status, so the runner sees every panic by its exit code.
#![no_std]

use core::future::Future;
use core::pin::pin;
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

static VTABLE: RawWakerVTable =
    RawWakerVTable::new(|p| RawWaker::new(p, &VTABLE), |_| {}, |_| {}, |_| {});

/// Polls `future` to completion on the spot (it busy-polls: the firmware's futures
/// wake themselves), returning its output and how many polls it took.
pub fn block_on<F: Future>(future: F) -> (F::Output, u32) {
    // SAFETY: the vtable's functions do nothing and ignore the data pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut polls = 0;
    loop {
        polls += 1;
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return (output, polls);
        }
    }
}

/// Polls `future` once.
pub fn poll_once<F: Future>(future: core::pin::Pin<&mut F>) -> Poll<F::Output> {
    // SAFETY: as in `block_on`.
    let waker = unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &VTABLE)) };
    future.poll(&mut Context::from_waker(&waker))
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

#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("PANIC: {}", info.message());
    exit(false)
}
