//! A tour of asyncdrop: run with `cargo run --example quickstart`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::{
    async_drop_all, set_policy, with_async_drop, AsyncDrop, AsyncDropArc, AsyncDropGuard, Policy,
    Report,
};

/// A pretend network connection whose teardown is async: it says goodbye, then
/// closes.
struct Connection {
    peer: String,
    sent: usize,
}

#[derive(Debug)]
struct NetError(String);

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NetError {}

impl Connection {
    /// Constructors hand out guards, never bare values.
    async fn connect(peer: &str) -> AsyncDropGuard<Connection> {
        println!("  connect {peer}");
        AsyncDropGuard::new(Connection {
            peer: peer.to_owned(),
            sent: 0,
        })
    }

    async fn send(&mut self, msg: &str) -> Result<(), NetError> {
        if msg.is_empty() {
            return Err(NetError(format!("{}: empty message", self.peer)));
        }
        self.sent += 1;
        println!("  {} <- {msg:?}", self.peer);
        Ok(())
    }
}

impl AsyncDrop for Connection {
    type Error = NetError;

    async fn async_drop_impl(mut self) -> Result<(), NetError> {
        self.send("goodbye").await?;
        println!("  close {} ({} sent)", self.peer, self.sent);
        if self.peer == "flaky" {
            return Err(NetError("flaky: connection reset during close".into()));
        }
        Ok(())
    }
}

async fn talk(peer: &str, msg: &str) -> Result<(), NetError> {
    let mut conn = Connection::connect(peer).await;
    // The block may leave early through `?`; the connection is closed on every path.
    with_async_drop!(conn => {
        conn.send(msg).await?;
        conn.send("how are you?").await?;
        Ok(())
    })
}

static FORGOTTEN: AtomicUsize = AtomicUsize::new(0);

fn on_forgotten(report: &Report<'_>) {
    FORGOTTEN.fetch_add(1, Ordering::Relaxed);
    println!("  policy hook: {report}");
}

async fn tour() {
    println!("1. guard + explicit cleanup");
    let mut conn = Connection::connect("alice").await;
    conn.send("hi").await.unwrap();
    conn.async_drop().await.unwrap();

    println!("\n2. scope macro: cleanup on the normal path and on `?`");
    println!(
        "  -> {:?}",
        talk("bob", "hello").await.map_err(|e| e.to_string())
    );
    println!(
        "  -> {:?}",
        talk("carol", "").await.map_err(|e| e.to_string())
    );

    println!("\n3. concurrent cleanup of several; every error kept");
    let conns = [
        Connection::connect("d1").await,
        Connection::connect("flaky").await,
        Connection::connect("d3").await,
    ];
    match async_drop_all(conns).await {
        Ok(()) => println!("  all closed"),
        Err(errors) => println!("  {errors}"),
    }

    println!("\n4. shared ownership: the last of the clones closes the connection");
    let shared = AsyncDropArc::new(Connection::connect("shared").await);
    let second_owner = AsyncDropArc::clone(&shared);
    println!("  owners: {}", AsyncDropArc::strong_count(&shared));
    shared.async_drop().await.unwrap(); // not the last: nothing happens yet
    println!("  first owner done; now the last one:");
    second_owner.async_drop().await.unwrap();

    println!("\n5. a collection: remove hands a guard back, cleanup runs all concurrently");
    let mut pool = AsyncDropVec::new();
    for peer in ["p1", "flaky", "p3"] {
        pool.push(Connection::connect(peer).await);
    }
    let taken = pool.remove(0); // now ours to clean up
    taken.async_drop().await.unwrap();
    if let Err(errors) = pool.async_drop().await {
        println!(
            "  {} of the pool's cleanups failed: {}",
            errors.len(),
            errors.first()
        );
    }

    println!("\n6. a forgotten guard is reported (here through a hook; the default panics)");
    set_policy(Policy::Hook(on_forgotten));
    {
        let _conn = Connection::connect("dave").await;
        // no `.async_drop().await`: dropped at the end of this block
    }
    set_policy(Policy::Panic);
    println!(
        "  forgotten guards reported: {}",
        FORGOTTEN.load(Ordering::Relaxed)
    );
}

fn main() {
    futures_executor::block_on(tour());
}
