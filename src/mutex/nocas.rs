//! The mutex under [`AsyncDropMutex`](super::AsyncDropMutex) on targets without
//! compare-and-swap (thumbv6m), where async-lock does not build: a spin lock that
//! is only ever tried, never spun on, and an [`Event`] that wakes a waiting locker
//! when the lock is released. Same names and shape as async-lock's, no `unsafe`.

use core::fmt;
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::{Event, EventListener};
use spin::mutex::{SpinMutex, SpinMutexGuard};

pub(super) struct Mutex<T> {
    value: SpinMutex<T>,
    unlocked: Event,
}

impl<T> Mutex<T> {
    pub(super) fn new(value: T) -> Self {
        Mutex {
            value: SpinMutex::new(value),
            unlocked: Event::new(),
        }
    }

    pub(super) fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            listener: None,
        }
    }

    pub(super) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.value.try_lock().map(|value| MutexGuard {
            value,
            _notify: Notify(&self.unlocked),
        })
    }

    pub(super) fn into_inner(self) -> T {
        self.value.into_inner()
    }

    pub(super) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

pub(super) struct MutexGuard<'a, T> {
    // Dropped first: the lock is free before the next locker is woken.
    value: SpinMutexGuard<'a, T>,
    _notify: Notify<'a>,
}

/// Wakes one waiting locker when dropped.
struct Notify<'a>(&'a Event);

impl Drop for Notify<'_> {
    fn drop(&mut self) {
        self.0.notify(1);
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// The future of [`Mutex::lock`].
pub(super) struct Lock<'a, T> {
    mutex: &'a Mutex<T>,
    listener: Option<EventListener>,
}

impl<'a, T> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            if let Some(guard) = self.mutex.try_lock() {
                return Poll::Ready(guard);
            }
            match &mut self.listener {
                // Listen, then try again: a release in between is not missed.
                None => self.listener = Some(self.mutex.unlocked.listen()),
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.listener = None;
                }
            }
        }
    }
}

impl<T> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use alloc::boxed::Box;
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::future::Future;
    use core::pin::pin;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use core::task::{Context, Poll, Waker};

    use super::Mutex;

    /// Counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    #[test]
    fn try_lock_is_exclusive() {
        let mut mutex = Mutex::new(1);
        let mut guard = mutex.try_lock().unwrap();
        *guard += 1;
        assert!(mutex.try_lock().is_none());
        drop(guard);
        assert_eq!(*mutex.try_lock().unwrap(), 2);
        *mutex.get_mut() += 1;
        assert_eq!(mutex.into_inner(), 3);
    }

    #[test]
    fn a_waiting_lock_is_woken_by_the_release() {
        let mutex = Mutex::new(0);
        let guard = mutex.try_lock().unwrap();
        let (count, waker) = waker();
        let mut cx = Context::from_waker(&waker);
        let mut lock = pin!(mutex.lock());
        assert!(lock.as_mut().poll(&mut cx).is_pending());
        assert!(lock.as_mut().poll(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        drop(guard);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        match lock.as_mut().poll(&mut cx) {
            Poll::Ready(mut guard) => *guard = 5,
            Poll::Pending => panic!("the lock is free"),
        }
        assert_eq!(mutex.into_inner(), 5);
    }

    #[test]
    fn a_dropped_waiter_passes_the_wake_up_on() {
        let mutex = Mutex::new(());
        let guard = mutex.try_lock().unwrap();
        let (first_count, first_waker) = waker();
        let (second_count, second_waker) = waker();
        let mut first = Box::pin(mutex.lock());
        let mut second = Box::pin(mutex.lock());
        assert!(first
            .as_mut()
            .poll(&mut Context::from_waker(&first_waker))
            .is_pending());
        assert!(second
            .as_mut()
            .poll(&mut Context::from_waker(&second_waker))
            .is_pending());
        drop(guard);
        assert_eq!(first_count.0.load(Ordering::SeqCst), 1);
        assert_eq!(second_count.0.load(Ordering::SeqCst), 0);
        // The first gives up without taking the lock: the second is woken instead.
        drop(first);
        assert_eq!(second_count.0.load(Ordering::SeqCst), 1);
        let ready = second
            .as_mut()
            .poll(&mut Context::from_waker(&second_waker));
        assert!(ready.is_ready());
    }
}
