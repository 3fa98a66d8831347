//! asyncdrop on async-std (legacy: async-std is discontinued upstream): guarded
//! async-std resources, background cleanup, a cleanup worker for synchronous drops,
//! and a deadline for a peer that stalls.
//!
//! Run with `cargo run --example async_std --features async-std`.

#[cfg(feature = "async-std")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    example::main()
}

#[cfg(not(feature = "async-std"))]
fn main() {
    eprintln!(
        "this example needs the `async-std` feature: \
         cargo run --example async_std --features async-std"
    );
}

#[cfg(feature = "async-std")]
mod example {
    use std::io;
    use std::time::{Duration, Instant};

    use async_std::io::{BufReader, BufWriter};
    use async_std::net::{TcpListener, TcpStream};
    use async_std::prelude::*;

    use asyncdrop::rt::async_std::{
        async_drop_timeout, spawn_async_drop, wait_for_background_cleanups, Reaper, ReaperDrop,
        SpawnOnDrop,
    };
    use asyncdrop::{set_policy, AsyncDrop, AsyncDropGuard, Policy, Report};

    /// A client session: its cleanup says goodbye, waits for the server's "bye", then
    /// shuts the connection down.
    struct Session {
        name: &'static str,
        stream: TcpStream,
        reader: BufReader<TcpStream>,
    }

    impl Session {
        async fn open(
            addr: std::net::SocketAddr,
            name: &'static str,
        ) -> io::Result<AsyncDropGuard<Session>> {
            let mut stream = TcpStream::connect(addr).await?;
            stream.write_all(format!("{name}\n").as_bytes()).await?;
            Ok(AsyncDropGuard::new(Session {
                name,
                reader: BufReader::new(stream.clone()),
                stream,
            }))
        }
    }

    impl AsyncDrop for Session {
        type Error = io::Error;

        async fn async_drop_impl(mut self) -> io::Result<()> {
            self.stream.write_all(b"goodbye\n").await?;
            let mut answer = String::new();
            self.reader.read_line(&mut answer).await?;
            println!("  {:<8} server said {:?}", self.name, answer.trim());
            // `TcpStream`'s own cleanup: flush, then shut down.
            AsyncDrop::async_drop_impl(self.stream).await
        }
    }

    /// A line server: answers "goodbye" with "bye" — unless it is told to stall.
    async fn serve(listener: TcpListener, stall_on: &'static str) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            async_std::task::spawn(async move {
                let mut lines = BufReader::new(stream.clone());
                let mut stream = stream;
                let mut name = String::new();
                let mut line = String::new();
                while lines.read_line(&mut line).await.unwrap_or(0) > 0 {
                    match line.trim() {
                        "goodbye" if name == stall_on => {} // never answers
                        "goodbye" => {
                            let _ = stream.write_all(b"bye\n").await;
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

    pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
        set_policy(Policy::Hook(print_report));
        let start = Instant::now();
        async_std::task::block_on(run())?;

        // async-std's runtime never shuts down: wait for background cleanups before
        // the process exits, or they are cut off without a report.
        let left = wait_for_background_cleanups(Duration::from_secs(5));
        println!("background cleanups still running at exit: {left}");
        println!("done in {:?}", start.elapsed());
        Ok(())
    }

    async fn run() -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        async_std::task::spawn(serve(listener, "stalled"));

        println!("1. a guarded file: written out and synced by its cleanup");
        let path = std::env::temp_dir().join(format!(
            "asyncdrop-example-async-std-{}",
            std::process::id()
        ));
        let file = async_std::fs::File::create(&path).await?;
        let mut log = AsyncDropGuard::new(BufWriter::new(file));
        log.write_all(b"session log\n").await?;
        log.async_drop().await?; // without it, the buffered line would be lost
        println!(
            "  wrote {} bytes to {}",
            async_std::fs::read(&path).await?.len(),
            path.display()
        );
        async_std::fs::remove_file(&path).await?;

        println!("2. an explicit cleanup, in this task");
        let alice = Session::open(addr, "alice").await?;
        alice.async_drop().await?;

        println!("3. background cleanup: spawned and awaited later, or on drop");
        let bob = Session::open(addr, "bob").await?;
        let cleanup = spawn_async_drop(bob)?;
        println!("  (bob's cleanup runs in the background)");
        cleanup.await?;
        let carol = SpawnOnDrop::new(Session::open(addr, "carol").await?);
        println!("  carol is {}", carol.name);
        drop(carol); // spawns her cleanup; waited for at exit

        println!("4. a cleanup worker for synchronous drops");
        let (reaper, worker) = Reaper::spawn(4);
        let mut pool = Vec::new();
        for name in ["dave", "erin", "frank"] {
            pool.push(ReaperDrop::new(Session::open(addr, name).await?, &reaper));
        }
        drop(pool); // plain `Drop`: each session goes to the worker
        reaper.shutdown();
        println!("  worker: {}", worker.await?);

        println!("5. a guarded task: cancelled, and waited for until it is gone");
        let ticker = AsyncDropGuard::new(async_std::task::spawn(async {
            loop {
                async_std::task::sleep(Duration::from_millis(10)).await;
            }
        }));
        ticker.async_drop().await?;
        println!("  the ticker task is gone");

        println!("6. a deadline for a peer that never answers");
        let stalled = Session::open(addr, "stalled").await?;
        match async_drop_timeout(stalled, Duration::from_millis(200)).await {
            Ok(()) => println!("  unexpectedly answered"),
            Err(e) => println!("  error: {e}"),
        }
        Ok(())
    }
}
