// A union does not know which field holds a value; the derive cannot name
// `before`'s error type: `error = E` is required with it.
use asyncdrop::{AsyncDrop, AsyncDropGuard};

#[derive(AsyncDrop)]
union Either {
    a: u32,
    b: f32,
}

struct Socket;
impl AsyncDrop for Socket {
    type Error = std::io::Error;
    async fn async_drop_impl(self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(AsyncDrop)]
#[async_drop(before = Self::goodbye)]
struct Session {
    socket: AsyncDropGuard<Socket>,
}

impl Session {
    async fn goodbye(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {}
