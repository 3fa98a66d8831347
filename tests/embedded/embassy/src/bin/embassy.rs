//! The core on embassy's executor, with a SysTick time driver: cleanups that wait
//! on embassy-time timers, one within its deadline and one cut off by it (reported
//! as cancelled), and two tasks cleaning up concurrently. `ci/embedded.sh` compares
//! the output with `expected/embassy.txt` and wants exit status 0.
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Waker;

use asyncdrop::{
    set_policy, with_async_drop, AsyncDrop, AsyncDropGuard, Policy, Report, ReportKind,
};
use asyncdrop_fw_support::{check, check_eq, exit, println};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_executor::Spawner;
use embassy_time::{with_timeout, Duration, Instant, TimeoutError, Timer};
use embassy_time_driver::Driver;
use embassy_time_queue_utils::queue_generic::ConstGenericQueue;

/// Time in SysTick interrupts, and the timers waiting on it.
struct SysTickDriver {
    state: Mutex<RefCell<DriverState>>,
}

struct DriverState {
    now: u64,
    queue: ConstGenericQueue<8>,
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.state.borrow_ref(cs).now)
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        // Due timers fire at the next tick.
        critical_section::with(|cs| self.state.borrow_ref_mut(cs).queue.schedule_wake(at, waker));
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    state: Mutex::new(RefCell::new(DriverState { now: 0, queue: ConstGenericQueue::new() })),
});

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let mut state = DRIVER.state.borrow_ref_mut(cs);
        state.now += 1;
        let now = state.now;
        state.queue.next_expiration(now);
    });
}

/// Cleanups that completed, and values dropped (with or without cleanup). Load and
/// store only, from thread mode.
static CLOSED: AtomicU32 = AtomicU32::new(0);
static DROPPED: AtomicU32 = AtomicU32::new(0);
static CANCELLED: AtomicU32 = AtomicU32::new(0);
static TASK_DONE: AtomicU32 = AtomicU32::new(0);

/// How many radios were closed by their cleanup, and how many were dropped.
fn closed_and_dropped() -> (u32, u32) {
    (
        CLOSED.load(Ordering::Relaxed),
        DROPPED.load(Ordering::Relaxed),
    )
}

fn bump(counter: &AtomicU32) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn hook(report: &Report<'_>) {
    check_eq!(report.kind(), ReportKind::Cancelled);
    check!(report.type_name().ends_with("Radio"));
    bump(&CANCELLED);
}

/// A radio whose shutdown takes `ticks` timer ticks.
struct Radio {
    ticks: u64,
}

impl Drop for Radio {
    fn drop(&mut self) {
        bump(&DROPPED);
    }
}

impl AsyncDrop for Radio {
    type Error = ();
    async fn async_drop_impl(self) -> Result<(), ()> {
        Timer::after_ticks(self.ticks).await;
        bump(&CLOSED);
        Ok(())
    }
}

#[embassy_executor::task]
async fn worker() {
    let radio = AsyncDropGuard::new(Radio { ticks: 5 });
    let result: Result<u64, ()> = with_async_drop!(radio => {
        Timer::after_ticks(3).await;
        Ok(radio.ticks)
    });
    check_eq!(result, Ok(5));
    bump(&TASK_DONE);
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut core = cortex_m::Peripherals::take().unwrap();
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(10_000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();
    set_policy(Policy::Hook(hook));

    // A cleanup that waits on a timer, within its deadline.
    let start = Instant::now();
    let radio = AsyncDropGuard::new(Radio { ticks: 20 });
    check_eq!(
        with_timeout(Duration::from_ticks(200), radio.async_drop()).await,
        Ok(Ok(()))
    );
    let took = start.elapsed().as_ticks();
    check!((20..200).contains(&took));
    check_eq!(closed_and_dropped(), (1, 1));
    println!("deadline met: the cleanup waited on its timer and completed");

    // A cleanup cut off by its deadline: cancelled, reported, the value dropped once.
    let start = Instant::now();
    let radio = AsyncDropGuard::new(Radio { ticks: 10_000 });
    check_eq!(
        with_timeout(Duration::from_ticks(50), radio.async_drop()).await,
        Err(TimeoutError)
    );
    let took = start.elapsed().as_ticks();
    check!((50..1_000).contains(&took)); // cut off long before the 10_000
    check_eq!(CANCELLED.load(Ordering::Relaxed), 1);
    check_eq!(closed_and_dropped(), (1, 2));
    println!("deadline missed: the cleanup was cancelled, reported once, the value dropped once");

    // Another task cleans up while this one waits.
    spawner.spawn(worker().unwrap());
    let waiting = AsyncDropGuard::new(Radio { ticks: 30 });
    check_eq!(waiting.async_drop().await, Ok(()));
    check_eq!(TASK_DONE.load(Ordering::Relaxed), 1);
    check_eq!(closed_and_dropped(), (3, 4));
    println!("two tasks: both cleanups completed on the executor");

    check_eq!(CANCELLED.load(Ordering::Relaxed), 1);
    println!("embassy: all passed");
    exit(true)
}
