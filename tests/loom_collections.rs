//! Model checking of the wake-up path of a concurrent group cleanup with loom: the
//! cleanups' wakers fire on other threads while the group's task polls, in every
//! interleaving loom explores. No wake-up is lost (loom reports a deadlock if the
//! task sleeps forever), a cleanup is polled again only after its waker fired (the
//! waking thread writes a loom `UnsafeCell` that the next poll reads, with nothing
//! but the wake-up to order them: loom reports a data race otherwise), and the
//! wake-up state is freed by whichever waker goes last.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg asyncdrop_loom" cargo test --release --test loom_collections
//! ```
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

/// What a waking thread hands its cleanup: a value written before the wake-up. (The
/// `Arc` around it is std's: loom needs not explore its counter.)
struct Mailbox(UnsafeCell<usize>);

// SAFETY: written by the waking thread, then read by the cleanup's next poll; loom
// checks that the wake-up orders the two.
unsafe impl Sync for Mailbox {}

/// A resource whose cleanup, on its first poll, starts a thread that writes the
/// mailbox and then wakes it `wakes` times (through clones, the last one kept until
/// the thread ends); its second poll reads the mailbox and finishes.
struct Remote {
    wakes: usize,
    threads: Rc<RefCell<Vec<JoinHandle<()>>>>,
}

struct RemoteWait {
    remote: Remote,
    mailbox: Option<Arc<Mailbox>>,
}

impl Future for RemoteWait {
    type Output = Result<(), Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(mailbox) = &self.mailbox {
            // SAFETY: see `Mailbox`.
            let seen = mailbox.0.with(|p| unsafe { *p });
            assert_eq!(seen, 1, "polled again only after the wake-up");
            return Poll::Ready(Ok(()));
        }
        let mailbox = Arc::new(Mailbox(UnsafeCell::new(0)));
        let (sent, waker, wakes) = (mailbox.clone(), cx.waker().clone(), self.remote.wakes);
        let thread = thread::spawn(move || wake_from_afar(&sent, waker, wakes));
        self.remote.threads.borrow_mut().push(thread);
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
        RemoteWait {
            remote: self,
            mailbox: None,
        }
    }
}

/// Cleans up one `Remote` per entry of `wakes` as a group, and joins their threads.
fn group(wakes: &[usize]) {
    let threads = Rc::new(RefCell::new(Vec::new()));
    let remotes: Vec<_> = (wakes.iter())
        .map(|&wakes| Remote {
            wakes,
            threads: threads.clone(),
        })
        .collect();
    loom::future::block_on(async_drop_iter(remotes)).unwrap();
    let threads = threads.take();
    for thread in threads {
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
fn one_cleanup_woken_twice_from_afar() {
    model(4, || group(&[2]));
}

#[test]
fn two_cleanups_woken_from_two_threads() {
    model(4, || group(&[1, 1]));
}
