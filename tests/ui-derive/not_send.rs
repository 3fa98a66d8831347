// `derive(AsyncDrop)` promises a `Send` cleanup; a field whose cleanup is not
// `Send` needs `derive(LocalAsyncDrop)`.
use std::rc::Rc;

use asyncdrop::{AsyncDropGuard, AsyncDrop, LocalAsyncDrop};

struct Journal(Rc<u8>);
impl LocalAsyncDrop for Journal {
    type Error = core::convert::Infallible;
    async fn local_async_drop_impl(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[derive(AsyncDrop)]
struct Session {
    journal: AsyncDropGuard<Journal>,
}

fn main() {}
