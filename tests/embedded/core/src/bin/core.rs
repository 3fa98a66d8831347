//! The core scenarios on bare metal: every line of output is compared with
//! `expected/core.txt` by `ci/embedded.sh`, and the exit status must be 0.
#![no_std]
#![no_main]

use core::cell::Cell;
use core::marker::PhantomData;
use core::pin::pin;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Poll;

use asyncdrop::{
    async_drop_all, set_policy, with_async_drop, AsyncDrop, AsyncDropGuard, LocalAsyncDrop, Policy,
    Report, ReportKind,
};
use asyncdrop_fw_support::{
    block_on, check, check_eq, exit, poll_once, println, write, write_line, Suspend,
};
use cortex_m_rt::entry;

/// Cleanups that completed, counted by every resource below.
static CLOSED: AtomicU32 = AtomicU32::new(0);

fn closed() -> u32 {
    CLOSED.load(Ordering::Relaxed)
}

// Load and store only: the firmware is single-threaded, and thumbv6m has no
// read-modify-write atomics.
fn bump(counter: &AtomicU32) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

#[derive(Debug, PartialEq)]
enum Error {
    Io(u8),
    Close(u8),
}

/// A connection whose cleanup suspends `yields` times, then fails if `fail`.
struct Conn {
    id: u8,
    yields: u32,
    fail: bool,
}

impl Conn {
    fn open(id: u8, yields: u32, fail: bool) -> AsyncDropGuard<Conn> {
        AsyncDropGuard::new(Conn { id, yields, fail })
    }

    async fn send(&mut self, ok: bool) -> Result<u8, Error> {
        Suspend(1).await;
        if ok {
            Ok(self.id)
        } else {
            Err(Error::Io(self.id))
        }
    }
}

impl AsyncDrop for Conn {
    type Error = Error;
    async fn async_drop_impl(self) -> Result<(), Error> {
        Suspend(self.yields).await;
        bump(&CLOSED);
        if self.fail {
            Err(Error::Close(self.id))
        } else {
            Ok(())
        }
    }
}

/// A `!Send` resource: it borrows a `Cell` and holds a raw-pointer marker.
struct Journal<'a> {
    entries: &'a Cell<u32>,
    _not_send: PhantomData<*const ()>,
}

impl LocalAsyncDrop for Journal<'_> {
    type Error = core::convert::Infallible;
    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        Suspend(2).await;
        self.entries.set(self.entries.get() + 100);
        Ok(())
    }
}

static FORGOTTEN: AtomicU32 = AtomicU32::new(0);
static CANCELLED: AtomicU32 = AtomicU32::new(0);

/// Counts the reports and writes each without `core::fmt`.
fn hook(report: &Report<'_>) {
    check!(report.type_name().ends_with("Conn"));
    write("hook: ");
    write(report.kind().as_str());
    write(" ");
    write_line(report.type_name());
    match report.kind() {
        ReportKind::Forgotten => bump(&FORGOTTEN),
        ReportKind::Cancelled => bump(&CANCELLED),
        _ => exit(false),
    }
}

async fn scoped(ok: bool, early: bool) -> Result<u8, Error> {
    let mut a = Conn::open(1, 2, false);
    let mut b = Conn::open(2, 1, false);
    with_async_drop!(a, b => {
        let x = a.send(ok).await?;
        if early {
            return Ok(40);
        }
        let y = b.send(true).await?;
        Ok(x + y)
    })
}

#[entry]
fn main() -> ! {
    // A guard whose cleanup suspends: it takes more than one poll, and completes.
    let guard = Conn::open(7, 3, false);
    check_eq!(guard.id, 7);
    let (result, polls) = block_on(guard.async_drop());
    check_eq!(result, Ok(()));
    check_eq!(polls, 4);
    check_eq!(closed(), 1);
    println!("guard: cleanup suspended {} times and completed", polls - 1);

    // The scope macro: normal exit, `?` and early `return` all clean up both.
    check_eq!(block_on(scoped(true, false)).0, Ok(3));
    check_eq!(closed(), 3);
    check_eq!(block_on(scoped(false, false)).0, Err(Error::Io(1)));
    check_eq!(closed(), 5);
    check_eq!(block_on(scoped(true, true)).0, Ok(40));
    check_eq!(closed(), 7);
    println!("scope: normal, `?` and early return each cleaned up 2 guards");

    // A `!Send` resource.
    let entries = Cell::new(1);
    let journal = AsyncDropGuard::new(Journal {
        entries: &entries,
        _not_send: PhantomData,
    });
    check_eq!(block_on(journal.async_drop()).0, Ok(()));
    check_eq!(entries.get(), 101);
    println!("!Send resource: cleaned up");

    // Tuples and arrays: every element is cleaned up, every error kept.
    let pair = (Conn::open(1, 1, true), Conn::open(2, 2, false));
    let err = block_on(async_drop_all(pair)).0.unwrap_err();
    check_eq!(err.into_inner(), (Some(Error::Close(1)), None));
    let array = [
        Conn::open(3, 0, true),
        Conn::open(4, 3, false),
        Conn::open(5, 1, true),
    ];
    let err = block_on(async_drop_all(array)).0.unwrap_err();
    check_eq!(err.count(), 2);
    check_eq!(err.first(), &Error::Close(3));
    check_eq!(
        err.into_array(),
        [Some(Error::Close(3)), None, Some(Error::Close(5))]
    );
    check_eq!(closed(), 12);
    println!("tuple/array: 5 cleaned up, 3 errors kept");

    // A custom hook sees a forgotten guard and a cancelled cleanup.
    set_policy(Policy::Hook(hook));
    drop(Conn::open(8, 0, false));
    check_eq!(FORGOTTEN.load(Ordering::Relaxed), 1);
    {
        let mut cleanup = pin!(Conn::open(9, 5, false).async_drop());
        check!(matches!(poll_once(cleanup.as_mut()), Poll::Pending));
    }
    check_eq!(CANCELLED.load(Ordering::Relaxed), 1);
    check_eq!(closed(), 12);
    set_policy(Policy::Panic);
    println!("hook: 1 forgotten, 1 cancelled");

    println!("core: all passed");
    exit(true)
}
