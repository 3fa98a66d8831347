// The guard is gone after `async_drop`: reading through it is a borrow of a moved value.
use asyncdrop::{AsyncDrop, AsyncDropGuard};

struct Conn {
    id: u32,
}

impl AsyncDrop for Conn {
    type Error = core::convert::Infallible;
    async fn async_drop_impl(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

async fn use_after_close(conn: AsyncDropGuard<Conn>) -> u32 {
    conn.async_drop().await.unwrap();
    conn.id
}

fn main() {
    let _ = use_after_close;
}
