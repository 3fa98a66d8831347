// `AsyncDrop` promises a `Send` cleanup, so it requires a `Send` type; `!Send`
// resources implement `LocalAsyncDrop` instead.
use std::rc::Rc;

use asyncdrop::AsyncDrop;

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

fn main() {}
