//! std's `Arc` / `Weak` counting protocol on loom's atomics, the stand-in for
//! `alloc::sync` under `--cfg asyncdrop_loom`.
//!
//! loom's own `Arc` has no `into_inner`, no `downgrade` and no `Weak`, and loom
//! cannot see inside std's. So this model repeats what `alloc::sync` does to decide
//! who owns the value — the strong counter with its orderings (`Relaxed` increment,
//! `Release` decrement and an `Acquire` fence for the one that reaches zero, a
//! `Relaxed`/`Relaxed` compare-exchange from 1 in `try_unwrap`, an upgrade that never
//! leaves zero, `Acquire` on success), and the weak counter with the one implicit
//! weak reference that all strong ones share — and `tests/loom/tests/arc.rs` explores
//! every interleaving of `AsyncDropArc`'s code on top of it. It checks our use of the
//! protocol std documents, not std's own code. Only the memory is managed
//! differently: the allocation is a `std::sync::Arc` that every handle holds, freed
//! when the last handle goes (std frees it with the last weak reference), which
//! changes nothing about who owns the value.
//!
//! Its `unsafe` is std's (a value shared through an `UnsafeCell` and taken out
//! once) and is compiled only into the loom build; a lock in its place would add
//! synchronisation that hides the races the model is there to find.

use core::cell::UnsafeCell;
use core::mem::ManuallyDrop;

use loom::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Arc as Allocation;

struct Inner<T> {
    /// Strong references. The value is alive while this is not zero, and never
    /// comes back once it is.
    strong: AtomicUsize,
    /// Weak references, plus one for all strong references together.
    weak: AtomicUsize,
    /// Moved out or dropped once, by whoever brings `strong` to zero.
    value: UnsafeCell<ManuallyDrop<T>>,
}

// SAFETY: as `alloc::sync::ArcInner`: handles on several threads share `&T` (hence
// `T: Sync`), and the one that brings `strong` to zero, on any thread, moves the
// value out (hence `T: Send`); the counters are atomic.
unsafe impl<T: Send + Sync> Sync for Inner<T> {}

impl<T> Inner<T> {
    /// Takes the value out after `strong` reached zero in this call (after the
    /// `Acquire` fence), and gives up the strong references' weak one.
    fn take(&self) -> T {
        // SAFETY: `strong` went to zero in the caller's atomic operation, and a zero
        // `strong` never goes up again (`upgrade` refuses zero, `clone` needs a
        // strong reference), so this runs once per value and no `&T` is in use any
        // more: the caller's fence ordered every use through other handles before
        // this.
        let value = unsafe { ManuallyDrop::take(&mut *self.value.get()) };
        self.weak.fetch_sub(1, Ordering::Release);
        value
    }

    /// Gives one strong reference up; the caller that gives the last one up gets
    /// the value.
    fn release(&self) -> Option<T> {
        if self.strong.fetch_sub(1, Ordering::Release) != 1 {
            return None;
        }
        fence(Ordering::Acquire);
        Some(self.take())
    }
}

/// The model's `Arc<T>`. `inner` is `None` only once `into_inner` / `try_unwrap`
/// took the reference out.
pub(crate) struct Arc<T> {
    inner: Option<Allocation<Inner<T>>>,
}

/// The model's `Weak<T>`.
pub(crate) struct Weak<T> {
    inner: Allocation<Inner<T>>,
}

impl<T> Arc<T> {
    pub(crate) fn new(value: T) -> Arc<T> {
        Arc {
            inner: Some(Allocation::new(Inner {
                strong: AtomicUsize::new(1),
                weak: AtomicUsize::new(1),
                value: UnsafeCell::new(ManuallyDrop::new(value)),
            })),
        }
    }

    fn inner(&self) -> &Allocation<Inner<T>> {
        self.inner
            .as_ref()
            .expect("a live `Arc` holds its reference")
    }

    pub(crate) fn into_inner(mut this: Arc<T>) -> Option<T> {
        this.inner.take()?.release()
    }

    pub(crate) fn try_unwrap(mut this: Arc<T>) -> Result<T, Arc<T>> {
        let inner = this.inner();
        if inner
            .strong
            .compare_exchange(1, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return Err(this);
        }
        fence(Ordering::Acquire);
        let inner = this.inner.take().expect("checked above");
        Ok(inner.take())
    }

    pub(crate) fn downgrade(this: &Arc<T>) -> Weak<T> {
        // `Acquire` as std's (which synchronises with `get_mut`, not modelled).
        this.inner().weak.fetch_add(1, Ordering::Acquire);
        Weak {
            inner: Allocation::clone(this.inner()),
        }
    }

    pub(crate) fn strong_count(this: &Arc<T>) -> usize {
        this.inner().strong.load(Ordering::Relaxed)
    }

    pub(crate) fn weak_count(this: &Arc<T>) -> usize {
        this.inner().weak.load(Ordering::Relaxed) - 1
    }

    pub(crate) fn ptr_eq(a: &Arc<T>, b: &Arc<T>) -> bool {
        Allocation::ptr_eq(a.inner(), b.inner())
    }

    pub(crate) fn as_ptr(this: &Arc<T>) -> *const T {
        this.inner().value.get().cast_const().cast::<T>()
    }
}

impl<T> Clone for Arc<T> {
    fn clone(&self) -> Arc<T> {
        self.inner().strong.fetch_add(1, Ordering::Relaxed);
        Arc {
            inner: Some(Allocation::clone(self.inner())),
        }
    }
}

impl<T> Drop for Arc<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            drop(inner.release());
        }
    }
}

impl<T> core::ops::Deref for Arc<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this handle holds a strong reference, so `strong` is not zero and
        // the value has not been moved out; it is only moved out through `&mut`
        // once `strong` is zero.
        unsafe { &*self.inner().value.get() }
    }
}

impl<T> Weak<T> {
    pub(crate) fn upgrade(&self) -> Option<Arc<T>> {
        let strong = &self.inner.strong;
        let mut n = strong.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            match strong.compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => {
                    return Some(Arc {
                        inner: Some(Allocation::clone(&self.inner)),
                    })
                }
                Err(now) => n = now,
            }
        }
    }

    pub(crate) fn strong_count(&self) -> usize {
        self.inner.strong.load(Ordering::Relaxed)
    }

    pub(crate) fn weak_count(&self) -> usize {
        let weak = self.inner.weak.load(Ordering::Acquire);
        if self.inner.strong.load(Ordering::Relaxed) == 0 {
            0
        } else {
            weak - 1
        }
    }

    pub(crate) fn ptr_eq(&self, other: &Weak<T>) -> bool {
        Allocation::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T> Clone for Weak<T> {
    fn clone(&self) -> Weak<T> {
        self.inner.weak.fetch_add(1, Ordering::Relaxed);
        Weak {
            inner: Allocation::clone(&self.inner),
        }
    }
}

impl<T> Drop for Weak<T> {
    fn drop(&mut self) {
        self.inner.weak.fetch_sub(1, Ordering::Release);
    }
}
