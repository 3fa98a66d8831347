//! asyncdrop on tokio: guarded tokio resources, background cleanup, a cleanup
//! worker for synchronous drops, and a deadline for a peer that stalls.
//!
//! Run with `cargo run --example tokio --features tokio`.

#[cfg(feature = "tokio")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    example::main()
}

#[cfg(not(feature = "tokio"))]
fn main() {
    eprintln!("this example needs the `tokio` feature: cargo run --example tokio --features tokio");
}

#[cfg(feature = "tokio")]
mod example {
    use std::io;
    use std::time::{Duration, Instant};

    use asyncdrop::rt::tokio::{async_drop_timeout, spawn_async_drop, Reaper, ReaperDrop};
    use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy, Report};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
    use tokio::net::{TcpListener, TcpStream};

    /// A client session: its cleanup says goodbye, waits for the server's "bye", then
    /// shuts the connection down.
    struct Session {
        name: &'static str,
        stream: BufReader<TcpStream>,
    }

    impl Session {
        async fn open(
            addr: std::net::SocketAddr,
            name: &'static str,
        ) -> io::Result<AsyncDropGuard<Session>> {
            let stream = TcpStream::connect(addr).await?;
            Ok(AsyncDropGuard::new(Session {
                name,
                stream: BufReader::new(stream),
            }))
        }
    }

    impl AsyncDrop for Session {
        type Error = io::Error;

        async fn async_drop_impl(mut self) -> io::Result<()> {
            self.stream.get_mut().write_all(b"goodbye\n").await?;
            let mut answer = String::new();
            self.stream.read_line(&mut answer).await?;
            println!("  {:<8} server said {:?}", self.name, answer.trim());
            self.stream.get_mut().shutdown().await
        }
    }

    /// A line server: answers "goodbye" with "bye" — unless it is told to stall.
    async fn serve(listener: TcpListener, stall_on: &'static str) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream);
                let mut name = String::new();
                let mut line = String::new();
                while lines.read_line(&mut line).await.unwrap_or(0) > 0 {
                    match line.trim() {
                        "goodbye" if name == stall_on => {} // never answers
                        "goodbye" => {
                            let _ = lines.get_mut().write_all(b"bye\n").await;
                        }
                        other => name = other.to_string(),
                    }
                    line.clear();
                }
            });
        }
    }

    fn print_report(report: &Report<'_>) {
        println!("  policy: {report}");
    }

    #[tokio::main(flavor = "current_thread")]
    pub(crate) async fn main() -> Result<(), Box<dyn std::error::Error>> {
        set_policy(Policy::Hook(print_report));
        let start = Instant::now();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(serve(listener, "stalled"));

        println!("1. a guarded tokio file: flushed and synced by its cleanup");
        let path = std::env::temp_dir().join(format!("asyncdrop-example-{}", std::process::id()));
        let mut log = AsyncDropGuard::new(BufWriter::new(tokio::fs::File::create(&path).await?));
        log.write_all(b"session log\n").await?;
        log.async_drop().await?;
        println!(
            "  wrote {} bytes to {}",
            tokio::fs::read(&path).await?.len(),
            path.display()
        );
        tokio::fs::remove_file(&path).await?;

        println!("2. an explicit cleanup, in this task");
        let mut alice = Session::open(addr, "alice").await?;
        alice.stream.get_mut().write_all(b"alice\n").await?;
        alice.async_drop().await?;

        println!("3. a background cleanup: spawned, awaited later");
        let mut bob = Session::open(addr, "bob").await?;
        bob.stream.get_mut().write_all(b"bob\n").await?;
        let cleanup = spawn_async_drop(bob)?;
        println!("  (bob's cleanup runs in the background)");
        cleanup.await?;

        println!("4. a cleanup worker for synchronous drops");
        let (reaper, worker) = Reaper::spawn(4);
        let mut pool = Vec::new();
        for name in ["carol", "dave", "erin"] {
            let mut session = Session::open(addr, name).await?;
            session
                .stream
                .get_mut()
                .write_all(format!("{name}\n").as_bytes())
                .await?;
            pool.push(ReaperDrop::new(session, &reaper));
        }
        drop(pool); // plain `Drop`: each session goes to the worker
        reaper.shutdown();
        println!("  worker: {}", worker.await?);

        println!("5. a deadline for a peer that never answers");
        let mut stalled = Session::open(addr, "stalled").await?;
        stalled.stream.get_mut().write_all(b"stalled\n").await?;
        match async_drop_timeout(stalled, Duration::from_millis(200)).await {
            Ok(()) => println!("  unexpectedly answered"),
            Err(e) => println!("  error: {e}"),
        }

        println!("done in {:?}", start.elapsed());
        Ok(())
    }
}
