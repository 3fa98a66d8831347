// Every field is cleaned up unless skipped; a `String` has no async cleanup.
use asyncdrop::{AsyncDrop, AsyncDropGuard};

struct Socket;
impl AsyncDrop for Socket {
    type Error = std::io::Error;
    async fn async_drop_impl(self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(AsyncDrop)]
struct Session {
    socket: AsyncDropGuard<Socket>,
    name: String,
}

fn main() {}
