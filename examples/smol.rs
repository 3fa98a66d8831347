//! asyncdrop on smol: guarded smol resources, background cleanup, a cleanup worker
//! for synchronous drops, and a deadline for a peer that stalls.
//!
//! Run with `cargo run --example smol --features smol`.

#[cfg(feature = "smol")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    example::main()
}

#[cfg(not(feature = "smol"))]
fn main() {
    eprintln!("this example needs the `smol` feature: cargo run --example smol --features smol");
}

#[cfg(feature = "smol")]
mod example {
    use std::io;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use asyncdrop::rt::smol::{async_drop_timeout, spawn_async_drop, Reaper, ReaperDrop};
    use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy, Report};
    use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
    use smol::{Async, Timer};

    /// A client session: its cleanup says goodbye, waits for the server's "bye", then
    /// shuts the connection down (the cleanup of the `Async<TcpStream>` inside).
    struct Session {
        name: &'static str,
        stream: BufReader<Async<TcpStream>>,
    }

    impl Session {
        async fn open(addr: SocketAddr, name: &'static str) -> io::Result<AsyncDropGuard<Session>> {
            let mut stream = Async::<TcpStream>::connect(addr).await?;
            stream.write_all(format!("{name}\n").as_bytes()).await?;
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
            self.stream.into_inner().async_drop_impl().await
        }
    }

    /// A line server: answers "goodbye" with "bye" — unless it is told to stall.
    async fn serve(listener: Async<TcpListener>, stall_on: &'static str) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            smol::spawn(async move {
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
            })
            .detach();
        }
    }

    fn print_report(report: &Report<'_>) {
        println!("  policy: {report}");
    }

    pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
        set_policy(Policy::Hook(print_report));
        let start = Instant::now();
        smol::block_on(async {
            let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
            let addr = listener.get_ref().local_addr()?;
            smol::spawn(serve(listener, "stalled")).detach();

            println!("1. a guarded smol file: written out and synced by its cleanup");
            let path =
                std::env::temp_dir().join(format!("asyncdrop-smol-example-{}", std::process::id()));
            let mut log = AsyncDropGuard::new(BufWriter::new(smol::fs::File::create(&path).await?));
            log.write_all(b"session log\n").await?;
            log.async_drop().await?;
            println!(
                "  wrote {} bytes to {}",
                smol::fs::read(&path).await?.len(),
                path.display()
            );
            smol::fs::remove_file(&path).await?;

            println!("2. a guarded task: cancelled, and gone when the cleanup returns");
            let ticker = AsyncDropGuard::new(smol::spawn(async {
                loop {
                    Timer::after(Duration::from_millis(5)).await;
                }
            }));
            ticker.async_drop().await?;
            println!("  the ticker task has stopped");

            println!("3. an explicit cleanup, in this task");
            let alice = Session::open(addr, "alice").await?;
            alice.async_drop().await?;

            println!("4. a background cleanup: spawned, awaited later");
            let bob = Session::open(addr, "bob").await?;
            let cleanup = spawn_async_drop(bob)?;
            println!("  (bob's cleanup runs on smol's global executor)");
            cleanup.await?;

            println!("5. a cleanup worker for synchronous drops");
            let (reaper, worker) = Reaper::spawn(4);
            let mut pool = Vec::new();
            for name in ["carol", "dave", "erin"] {
                pool.push(ReaperDrop::new(Session::open(addr, name).await?, &reaper));
            }
            drop(pool); // plain `Drop`: each session goes to the worker
            reaper.shutdown();
            println!("  worker: {}", worker.await?);

            println!("6. a deadline for a peer that never answers");
            let stalled = Session::open(addr, "stalled").await?;
            match async_drop_timeout(stalled, Duration::from_millis(200)).await {
                Ok(()) => println!("  unexpectedly answered"),
                Err(e) => println!("  error: {e}"),
            }
            Ok::<(), Box<dyn std::error::Error>>(())
        })?;
        println!("done in {:?}", start.elapsed());
        Ok(())
    }
}
