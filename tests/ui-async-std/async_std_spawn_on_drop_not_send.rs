// Nor can a `!Send` resource be wrapped so that its `Drop` spawns the cleanup.
use std::rc::Rc;

use asyncdrop::rt::async_std::SpawnOnDrop;
use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};

struct Session(Rc<String>);

impl LocalAsyncDrop for Session {
    type Error = std::io::Error;
    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        drop(self.0);
        Ok(())
    }
}

fn main() {
    let _wrapped = SpawnOnDrop::new(AsyncDropGuard::new(Session(Rc::new(String::new()))));
}
