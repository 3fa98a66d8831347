// `before` is an `async fn(&mut self) -> Result<(), E>`.
use asyncdrop::{AsyncDrop, AsyncDropGuard};

struct Socket;
impl AsyncDrop for Socket {
    type Error = std::io::Error;
    async fn async_drop_impl(self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(AsyncDrop)]
#[async_drop(error = std::io::Error, before = Self::goodbye)]
struct Session {
    socket: AsyncDropGuard<Socket>,
}

impl Session {
    // Not `async`.
    fn goodbye(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(AsyncDrop)]
#[async_drop(error = std::io::Error, before = Self::goodbye)]
struct Peer {
    socket: AsyncDropGuard<Socket>,
}

impl Peer {
    // Takes `&self`.
    async fn goodbye(&self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {}
