// Cleanup consumes the guard: a second cleanup is a use of a moved value, and
// reading through the guard after it a borrow of one.
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

async fn close_twice(conn: AsyncDropGuard<Conn>) {
    conn.async_drop().await.unwrap();
    conn.async_drop().await.unwrap();
}

async fn use_after_close(conn: AsyncDropGuard<Conn>) -> u32 {
    conn.async_drop().await.unwrap();
    conn.id
}

fn main() {
    let _ = (close_twice, use_after_close);
}
