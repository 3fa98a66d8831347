//! Composite types derive their cleanup: run with
//! `cargo run --features derive --example derive`.

use std::{fmt, io};

use asyncdrop::collections::AsyncDropVec;
use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy};

/// A pretend socket: its teardown says goodbye, then closes.
struct Socket {
    peer: &'static str,
}

impl Socket {
    fn connect(peer: &'static str) -> AsyncDropGuard<Socket> {
        AsyncDropGuard::new(Socket { peer })
    }

    async fn send(&mut self, msg: &str) -> Result<(), io::Error> {
        println!("  {} <- {msg:?}", self.peer);
        Ok(())
    }
}

impl AsyncDrop for Socket {
    type Error = io::Error;
    async fn async_drop_impl(self) -> Result<(), io::Error> {
        println!("  close socket to {}", self.peer);
        if self.peer == "flaky" {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                format!("{}: reset during close", self.peer),
            ));
        }
        Ok(())
    }
}

/// A cache that writes its dirty entries back when it is torn down.
struct Cache {
    dirty: usize,
}

#[derive(Debug)]
struct CacheError(usize);

impl AsyncDrop for Cache {
    type Error = CacheError;
    async fn async_drop_impl(self) -> Result<(), CacheError> {
        println!("  flush {} cache entries", self.dirty);
        Ok(())
    }
}

/// A session: every member is cleaned up, concurrently, even when one fails; the
/// goodbye runs first. Without the derive this is a hand-written `AsyncDrop` impl
/// that joins three cleanups and keeps their errors.
#[derive(AsyncDrop)]
#[async_drop(error = SessionError, before = Self::say_goodbye)]
struct Session {
    socket: AsyncDropGuard<Socket>,
    pool: AsyncDropGuard<AsyncDropVec<Socket>>,
    cache: Option<Cache>,
    #[async_drop(skip)]
    user: String,
}

impl Session {
    async fn say_goodbye(&mut self) -> Result<(), io::Error> {
        let bye = format!("bye, {}", self.user);
        self.socket.send(&bye).await
    }
}

/// Every member's error converts into it with `From`.
#[derive(Debug)]
enum SessionError {
    Net(io::Error),
    Pool(usize),
    Cache(CacheError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Net(e) => write!(f, "network: {e}"),
            SessionError::Pool(failed) => write!(f, "{failed} pool connections failed to close"),
            SessionError::Cache(e) => write!(f, "{} cache entries lost", e.0),
        }
    }
}

impl From<io::Error> for SessionError {
    fn from(e: io::Error) -> Self {
        SessionError::Net(e)
    }
}

impl From<asyncdrop::collections::CleanupErrors<io::Error>> for SessionError {
    fn from(e: asyncdrop::collections::CleanupErrors<io::Error>) -> Self {
        SessionError::Pool(e.len())
    }
}

impl From<CacheError> for SessionError {
    fn from(e: CacheError) -> Self {
        SessionError::Cache(e)
    }
}

/// Without `error = E`, the derive generates `ReplicasAsyncDropError`, keeping each
/// field's error.
#[derive(AsyncDrop)]
#[async_drop(sequential)]
struct Replicas {
    primary: AsyncDropGuard<Socket>,
    backup: AsyncDropGuard<Socket>,
}

fn session(user: &str, pool: [&'static str; 2]) -> AsyncDropGuard<Session> {
    let mut conns = AsyncDropVec::new();
    for peer in pool {
        conns.push(Socket::connect(peer));
    }
    AsyncDropGuard::new(Session {
        socket: Socket::connect("client"),
        pool: conns,
        cache: Some(Cache { dirty: 3 }),
        user: user.to_owned(),
    })
}

async fn tour() {
    println!("1. a session: goodbye first, then socket, pool and cache concurrently");
    session("ada", ["db1", "db2"]).async_drop().await.unwrap();

    println!("\n2. one pool member fails: the others are still cleaned up");
    if let Err(e) = session("bob", ["db1", "flaky"]).async_drop().await {
        println!("  -> {e}");
    }

    println!("\n3. the generated error type keeps every field's error");
    let replicas = AsyncDropGuard::new(Replicas {
        primary: Socket::connect("flaky"),
        backup: Socket::connect("backup"),
    });
    if let Err(err) = replicas.async_drop().await {
        println!("  -> {err}");
        assert!(err.primary.is_some() && err.backup.is_none());
    }
}

fn main() {
    // Errors beyond the first one returned go to the policy: print them here.
    set_policy(Policy::Stderr);
    futures_executor::block_on(tour());
}
