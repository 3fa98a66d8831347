// Cleanup consumes the guard: a second cleanup is a use of a moved value.
use asyncdrop::{AsyncDrop, AsyncDropGuard};

struct Conn;

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

fn main() {
    let _ = close_twice;
}
