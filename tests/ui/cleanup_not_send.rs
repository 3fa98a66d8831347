// `AsyncDrop` promises a `Send` cleanup, so it requires a `Send` type; `!Send`
// resources implement `LocalAsyncDrop`, whose cleanup cannot go to another thread.
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use asyncdrop::{AsyncDrop, AsyncDropGuard, LocalAsyncDrop};

struct Shared {
    inner: Rc<u32>,
}

impl AsyncDrop for Shared {
    type Error = core::convert::Infallible;
    async fn async_drop_impl(self) -> Result<(), Self::Error> {
        drop(self.inner);
        Ok(())
    }
}

struct Peripheral {
    uses: Rc<Cell<u32>>,
}

impl LocalAsyncDrop for Peripheral {
    type Error = core::convert::Infallible;
    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        self.uses.set(self.uses.get() + 1);
        Ok(())
    }
}

fn spawn<F: Future + Send + 'static>(_future: F) {}

fn main() {
    let peripheral = AsyncDropGuard::new(Peripheral {
        uses: Rc::new(Cell::new(0)),
    });
    spawn(peripheral.async_drop());
}
