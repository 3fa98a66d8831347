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
