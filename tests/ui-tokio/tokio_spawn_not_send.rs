// A `!Send` (`LocalAsyncDrop`) resource cannot be cleaned up in the background: its
// cleanup would move to another thread.
use std::rc::Rc;

use asyncdrop::rt::tokio::spawn_async_drop;
use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};

struct Peripheral(Rc<u32>);

impl LocalAsyncDrop for Peripheral {
    type Error = std::io::Error;
    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        drop(self.0);
        Ok(())
    }
}

fn main() {
    let _ = spawn_async_drop(AsyncDropGuard::new(Peripheral(Rc::new(0))));
}
