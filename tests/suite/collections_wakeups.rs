//! How the concurrent cleanup of many values schedules and wakes.
#![cfg(feature = "std")]

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use asyncdrop::collections::async_drop_iter;
use asyncdrop::LocalAsyncDrop;

/// What every cleanup of one test did: polls, wake-ups, and its last waker.
struct Board {
    polls: Vec<Cell<usize>>,
    wakes: Vec<Cell<usize>>,
    wakers: RefCell<Vec<Option<Waker>>>,
}

impl Board {
    fn new(n: usize) -> Rc<Board> {
        Rc::new(Board {
            polls: (0..n).map(|_| Cell::new(0)).collect(),
            wakes: (0..n).map(|_| Cell::new(0)).collect(),
            wakers: RefCell::new(vec![None; n]),
        })
    }

    fn polls(&self) -> usize {
        self.polls.iter().map(Cell::get).sum()
    }

    /// Wakes cleanup `id` (which must have waited), counting the wake-up first.
    fn wake(&self, id: usize) {
        let waker = self.wakers.borrow()[id].clone().expect("a waker");
        self.wakes[id].set(self.wakes[id].get() + 1);
        waker.wake();
    }
}

/// A resource whose cleanup (itself) waits `waits` times for a wake-up from the test.
struct Waiter {
    id: usize,
    waits: usize,
    board: Rc<Board>,
}

impl Future for Waiter {
    type Output = Result<(), Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Waiter { id, waits, board } = &mut *self;
        let polls = board.polls[*id].get() + 1;
        board.polls[*id].set(polls);
        let wakes = board.wakes[*id].get();
        assert!(polls <= wakes + 1, "cleanup {id} polled with no wake-up");
        board.wakers.borrow_mut()[*id] = Some(cx.waker().clone());
        if *waits == 0 {
            return Poll::Ready(Ok(()));
        }
        *waits -= 1;
        Poll::Pending
    }
}

impl LocalAsyncDrop for Waiter {
    type Error = Infallible;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Infallible>> {
        self
    }
}

/// Counts the wake-ups of the task that polls the group.
#[derive(Default)]
struct Task(AtomicUsize);

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn each_cleanup_is_polled_only_after_its_own_wake_up_and_none_is_lost() {
    let n = if cfg!(miri) { 30 } else { 3_000 };
    let waits = |id: usize| id % 4;
    let board = Board::new(n);
    let waiters = (0..n).map(|id| Waiter {
        id,
        waits: waits(id),
        board: board.clone(),
    });
    let mut group = pin!(async_drop_iter(waiters));
    let task = Arc::new(Task::default());
    let waker = Waker::from(task.clone());
    let mut cx = Context::from_waker(&waker);
    // Every cleanup is polled once at first; after that, exactly the running ones
    // woken since the last poll of the group, however many others wait.
    let mut woken = n;
    let mut finished = vec![false; n];
    for round in 0.. {
        let before = board.polls();
        let done = group.as_mut().poll(&mut cx).is_ready();
        assert_eq!(board.polls() - before, woken, "round {round}");
        for (id, finished) in finished.iter_mut().enumerate() {
            *finished = board.polls[id].get() == waits(id) + 1;
        }
        if done {
            assert!(finished.iter().all(|f| *f));
            break;
        }
        // Wake every third waiting cleanup, and some finished ones (a stale waker:
        // no poll). The first wake-up wakes the group's task, the others not.
        woken = 0;
        let mut calls = 0;
        task.0.store(0, Ordering::SeqCst);
        for id in (round % 3..n).step_by(3) {
            if !finished[id] || id % 2 == 0 {
                board.wake(id);
                calls += 1;
                woken += usize::from(!finished[id]);
            }
        }
        assert_eq!(task.0.load(Ordering::SeqCst), usize::from(calls > 0));
        assert!(round < 20, "the group did not finish");
    }
    for id in 0..n {
        assert_eq!(board.polls[id].get(), waits(id) + 1, "cleanup {id}");
    }

    // Wakers fired from other threads, in any mix of `wake`, `wake_by_ref` and clones.
    let (n, waits) = if cfg!(miri) { (12, 2) } else { (4_000, 3) };
    let rounds = if cfg!(miri) { 2 } else { 10 };
    for _ in 0..rounds {
        let (senders, threads): (Vec<_>, Vec<_>) = (0..2)
            .map(|_| {
                let (tx, rx) = mpsc::channel();
                (tx, thread::spawn(move || waking_thread(rx)))
            })
            .unzip();
        let counts: Vec<_> = (0..n).map(|_| Arc::new(Counts::default())).collect();
        let remotes: Vec<_> = (counts.iter().enumerate())
            .map(|(id, counts)| Remote {
                id,
                waits,
                counts: counts.clone(),
                to_waker: senders[id % 2].clone(),
            })
            .collect();
        let group = async_drop_iter(remotes);
        drop(senders);
        // On its own thread, so that a lost wake-up fails the test instead of hanging it.
        let (done, finished) = mpsc::channel();
        let runner = thread::spawn(move || {
            futures_executor::block_on(group).unwrap();
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("the group finished: no wake-up was lost");
        runner.join().unwrap();
        // The cleanups (and their senders) are gone: the waking threads end.
        for thread in threads {
            thread.join().unwrap();
        }
        for (id, counts) in counts.iter().enumerate() {
            let polls = counts.polls.load(Ordering::SeqCst);
            assert!(polls > waits, "cleanup {id} finished");
            assert_eq!(Arc::strong_count(counts), 1, "cleanup {id} dropped");
        }
    }
}

/// What one cleanup of the threaded test did, shared with the waking threads.
#[derive(Default)]
struct Counts {
    polls: AtomicUsize,
    wakes: AtomicUsize,
}

/// A resource whose cleanup (itself) waits `waits` times, each on a waking thread.
struct Remote {
    id: usize,
    waits: usize,
    counts: Arc<Counts>,
    to_waker: mpsc::Sender<(usize, Waker, Arc<Counts>)>,
}

impl Future for Remote {
    type Output = Result<(), Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let remote = &mut *self;
        let polls = remote.counts.polls.fetch_add(1, Ordering::SeqCst) + 1;
        let (id, wakes) = (remote.id, remote.counts.wakes.load(Ordering::SeqCst));
        assert!(polls <= wakes + 1, "cleanup {id} polled without a wake-up");
        if remote.waits == 0 {
            return Poll::Ready(Ok(()));
        }
        remote.waits -= 1;
        let (waker, counts) = (cx.waker().clone(), remote.counts.clone());
        let sent = remote.to_waker.send((id + remote.waits, waker, counts));
        sent.expect("the waking thread is alive");
        Poll::Pending
    }
}

impl LocalAsyncDrop for Remote {
    type Error = Infallible;

    fn local_async_drop_impl(self) -> impl Future<Output = Result<(), Infallible>> {
        self
    }
}

/// Wakes every waker it is sent, one of four ways, counting each wake-up first.
fn waking_thread(jobs: mpsc::Receiver<(usize, Waker, Arc<Counts>)>) {
    for (how, waker, counts) in jobs {
        let wake = || counts.wakes.fetch_add(1, Ordering::SeqCst);
        match how % 4 {
            0 => {
                wake();
                waker.wake();
            }
            1 => {
                wake();
                waker.wake_by_ref();
            }
            2 => {
                // Twice: the second merges with the first or wakes after the poll it caused.
                let clone = waker.clone();
                wake();
                clone.wake();
                wake();
                waker.wake();
            }
            _ => {
                let clone = waker.clone();
                drop(waker);
                thread::yield_now();
                wake();
                clone.wake_by_ref();
            }
        }
    }
}
