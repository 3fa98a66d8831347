// The cleanup of a `!Send` (`LocalAsyncDrop`) resource cannot go to another thread.
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};

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
