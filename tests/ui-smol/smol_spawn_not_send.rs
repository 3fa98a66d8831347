// A `!Send` (`LocalAsyncDrop`) resource cannot be cleaned up in the background: its
// cleanup would move to another thread.
use std::cell::Cell;
use std::rc::Rc;

use asyncdrop::rt::smol::spawn_async_drop;
use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};

struct Peripheral {
    uses: Rc<Cell<u32>>,
}

impl LocalAsyncDrop for Peripheral {
    type Error = std::io::Error;
    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        self.uses.set(self.uses.get() + 1);
        Ok(())
    }
}

fn main() {
    let peripheral = AsyncDropGuard::new(Peripheral {
        uses: Rc::new(Cell::new(0)),
    });
    let _ = spawn_async_drop(peripheral);
}
