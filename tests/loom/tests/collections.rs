//! Model checking with loom of a group cleanup whose wakers fire on other threads. A
//! lost wake-up is a loom deadlock; a poll not ordered after its wake-up races the
//! waking thread's write to a loom `UnsafeCell`; the last waker frees the wake-up state.
//! Run: `RUSTFLAGS="--cfg asyncdrop_loom" cargo test --release -p asyncdrop-loom --test collections`
#![cfg(asyncdrop_loom)]

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use asyncdrop::collections::async_drop_iter;
use asyncdrop::LocalAsyncDrop;
use loom::cell::UnsafeCell;
use loom::thread::{self, JoinHandle};

/// A value written before the wake-up (in std's `Arc`: loom needs not explore it).
struct Mailbox(UnsafeCell<usize>);

// SAFETY: written by the waking thread, then read by the cleanup's next poll; loom
// checks that the wake-up orders the two.
unsafe impl Sync for Mailbox {}

/// A cleanup whose first poll starts a thread that writes the mailbox, then wakes it
/// `wakes` times; its second poll reads the mailbox and finishes.
struct Remote {
    wakes: usize,
    threads: Rc<RefCell<Vec<JoinHandle<()>>>>,
    mailbox: Option<Arc<Mailbox>>,
}

impl Future for Remote {
    type Output = Result<(), Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(mailbox) = &self.mailbox {
            // SAFETY: see `Mailbox`.
            let seen = mailbox.0.with(|p| unsafe { *p });
            assert_eq!(seen, 1, "polled again only after the wake-up");
            return Poll::Ready(Ok(()));
        }
        let mailbox = Arc::new(Mailbox(UnsafeCell::new(0)));
        let (sent, waker, wakes) = (mailbox.clone(), cx.waker().clone(), self.wakes);
        let thread = thread::spawn(move || wake_from_afar(&sent, waker, wakes));
        self.threads.borrow_mut().push(thread);
        self.mailbox = Some(mailbox);
        Poll::Pending
    }
}

fn wake_from_afar(mailbox: &Mailbox, waker: Waker, wakes: usize) {
    // SAFETY: see `Mailbox`.
    mailbox.0.with_mut(|p| unsafe { *p = 1 });
    for _ in 1..wakes {
        let clone = waker.clone(); // a reference of its own, given up by `wake`
        clone.wake();
    }
    waker.wake_by_ref();
    drop(waker);
}

impl LocalAsyncDrop for Remote {
    type Error = Infallible;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Infallible>> {
        self
    }
}

/// Cleans up one `Remote` per entry of `wakes` as a group, and joins their threads.
fn group(wakes: &[usize]) {
    let threads = Rc::new(RefCell::new(Vec::new()));
    let remotes: Vec<_> = (wakes.iter())
        .map(|&wakes| Remote {
            wakes,
            threads: threads.clone(),
            mailbox: None,
        })
        .collect();
    loom::future::block_on(async_drop_iter(remotes)).unwrap();
    for thread in threads.take() {
        thread.join().unwrap();
    }
}

/// Explores every interleaving with at most `preemptions` forced thread switches.
fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    builder.check(f);
}

#[test]
fn one_cleanup_woken_twice_or_two_woken_from_two_threads() {
    model(4, || group(&[2]));
    model(4, || group(&[1, 1]));
}
