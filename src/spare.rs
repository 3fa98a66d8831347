//! One spare heap block per thread, for futures that are boxed only so that they
//! can move elsewhere in the rare case (blocking in place with a time limit: a
//! cleanup still running at the limit moves to a task). Reusing the block saves an
//! allocation and a deallocation per call, which were a quarter of the cost of
//! blocking on a cleanup (bench cases i1 and i2, allocations per operation). Miri
//! runs over it.

use alloc::alloc::dealloc;
use alloc::boxed::Box;
use core::alloc::Layout;
use core::cell::Cell;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr::{self, NonNull};

/// A heap block that held a value of `layout`, freed on drop.
struct Spare {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Drop for Spare {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from a `Box` of a sized, non-zero-sized type of
        // `layout` (see `recycle`), and this `Spare` is its only owner.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

std::thread_local! {
    static SPARE: Cell<Option<Spare>> = const { Cell::new(None) };
}

/// `Box::pin(value)`, in this thread's spare block if it has `F`'s layout.
#[cfg_attr(
    not(feature = "rt"),
    allow(dead_code, reason = "used by the runtime adapters")
)]
pub(crate) fn pin_box<F>(value: F) -> Pin<Box<F>> {
    let layout = Layout::new::<F>();
    match SPARE.try_with(Cell::take).ok().flatten() {
        Some(spare) if spare.layout == layout => {
            let ptr = ManuallyDrop::new(spare).ptr.cast::<F>().as_ptr();
            // SAFETY: the block was allocated by the global allocator for a `Box`
            // of a type with `F`'s layout (see `recycle`) and nothing else owns it,
            // so after the write it is a valid `Box<F>`.
            unsafe {
                ptr.write(value);
                Box::into_pin(Box::from_raw(ptr))
            }
        }
        other => {
            // A block of another size stays for its own kind of future.
            let _ = SPARE.try_with(|slot| slot.set(other));
            Box::pin(value)
        }
    }
}

/// Drops the value of `boxed` in place and keeps its block as this thread's spare.
#[cfg_attr(
    not(feature = "rt"),
    allow(dead_code, reason = "used by the runtime adapters")
)]
pub(crate) fn recycle<F>(boxed: Pin<Box<F>>) {
    let layout = Layout::new::<F>();
    if layout.size() == 0 {
        return drop(boxed);
    }
    // SAFETY: the value is dropped in place below and never moved, as its pin
    // requires.
    let ptr = NonNull::from(Box::leak(unsafe { Pin::into_inner_unchecked(boxed) }));
    // Owns the block from here on: frees it if the value's drop panics.
    let spare = Spare {
        ptr: ptr.cast(),
        layout,
    };
    // SAFETY: `ptr` points to a valid `F`, dropped exactly once, here.
    unsafe { ptr::drop_in_place(ptr.as_ptr()) };
    // After the thread's locals are gone, the block is freed instead.
    let _ = SPARE.try_with(|slot| slot.set(Some(spare)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::rc::Rc;
    use alloc::vec::Vec;
    use core::cell::RefCell;

    /// Records its id when dropped.
    struct Noted(u32, Rc<RefCell<Vec<u32>>>, [u64; 4]);

    impl Drop for Noted {
        fn drop(&mut self) {
            self.1.borrow_mut().push(self.0);
        }
    }

    #[test]
    fn a_recycled_block_is_reused_and_every_value_dropped_once() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let first = pin_box(Noted(1, log.clone(), [0; 4]));
        let address = ptr::from_ref::<Noted>(&first);
        recycle(first);
        assert_eq!(*log.borrow(), [1]);
        let second = pin_box(Noted(2, log.clone(), [7; 4]));
        assert_eq!(
            ptr::from_ref::<Noted>(&second),
            address,
            "the spare is reused"
        );
        assert_eq!(second.2, [7; 4]);
        // A value of another layout gets its own block; the spare is kept.
        let other = pin_box([3u8; 3]);
        assert_eq!(*other, [3; 3]);
        recycle(other);
        drop(second); // an ordinary drop frees the block it was given
        assert_eq!(*log.borrow(), [1, 2]);
        recycle(pin_box(()));
    }

    #[test]
    fn a_panicking_drop_frees_the_block() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("boom");
            }
        }
        let boxed = pin_box((Bomb, 5u64));
        let caught = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| recycle(boxed)));
        assert!(caught.is_err());
        // The thread goes on with a working spare slot (miri checks for leaks).
        recycle(pin_box((0u64, 0u64)));
    }
}
