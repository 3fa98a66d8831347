// Nor can a `!Send` resource be wrapped so that its `Drop` spawns the cleanup.
use std::rc::Rc;

use asyncdrop::rt::async_std::SpawnOnDrop;
use asyncdrop::{AsyncDropGuard, LocalAsyncDrop};

struct Session {
    shared: Rc<String>,
}

impl LocalAsyncDrop for Session {
    type Error = std::io::Error;
    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        drop(self.shared);
        Ok(())
    }
}

fn main() {
    let session = AsyncDropGuard::new(Session {
        shared: Rc::new(String::from("db")),
    });
    let _wrapped = SpawnOnDrop::new(session);
}
