//! Async drop for tokio's own resources whose teardown is async.

#[cfg(any(
    feature = "tokio-net",
    feature = "tokio-fs",
    feature = "tokio-io-util",
    feature = "tokio-process"
))]
use std::io;

#[cfg(feature = "tokio-fs")]
use ::tokio::fs::File;
#[cfg(any(feature = "tokio-net", feature = "tokio-fs", feature = "tokio-io-util"))]
use ::tokio::io::AsyncWriteExt;
#[cfg(feature = "tokio-io-util")]
use ::tokio::io::{AsyncWrite, BufWriter};
#[cfg(feature = "tokio-net")]
use ::tokio::net::TcpStream;
#[cfg(feature = "tokio-process")]
use ::tokio::process::Child;
use ::tokio::task::{JoinError, JoinHandle, JoinSet};

use crate::AsyncDrop;

/// Shuts the write side down (the peer reads end-of-file), after everything
/// written so far was sent.
///
/// # Errors
///
/// The `io::Error` of the shutdown, e.g. `NotConnected` if the peer already reset
/// the connection. The stream is closed either way.
///
/// # Examples
///
/// ```
/// use asyncdrop::AsyncDropGuard;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use tokio::net::{TcpListener, TcpStream};
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = AsyncDropGuard::new(TcpStream::connect(listener.local_addr()?).await?);
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"bye").await?;
///     client.async_drop().await?; // FIN
///     let mut got = Vec::new();
///     server.read_to_end(&mut got).await?; // ends: end-of-file
///     assert_eq!(got, b"bye");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "tokio-net")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-net")))]
impl AsyncDrop for TcpStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        AsyncWriteExt::shutdown(&mut self).await
    }
}

/// Shuts the write side down (the peer reads end-of-file). Unix only.
///
/// # Errors
///
/// The `io::Error` of the shutdown. The stream is closed either way.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use asyncdrop::AsyncDropGuard;
/// use tokio::io::AsyncReadExt;
/// use tokio::net::UnixStream;
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let (a, mut b) = UnixStream::pair()?;
///     AsyncDropGuard::new(a).async_drop().await?;
///     assert_eq!(b.read(&mut [0; 8]).await?, 0); // end-of-file
///     Ok::<(), std::io::Error>(())
/// })?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(all(feature = "tokio-net", unix))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tokio-net", unix))))]
impl AsyncDrop for ::tokio::net::UnixStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        AsyncWriteExt::shutdown(&mut self).await
    }
}

/// Waits for writes still in flight, then flushes the file to the storage device
/// ([`File::sync_all`]).
///
/// (Tokio's `File` finishes a `write` in the background; dropping it right after a
/// write can lose the error of that write. This cleanup reports it.)
///
/// # Errors
///
/// The first `io::Error` of the flush or of `sync_all`. Syncing a file opened only
/// for reading fails on some platforms (Windows); guard files you write to.
///
/// # Examples
///
/// ```
/// use asyncdrop::AsyncDropGuard;
/// use tokio::io::AsyncWriteExt;
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let path = std::env::temp_dir().join(format!("asyncdrop-doc-file-{}", std::process::id()));
///     let mut file = AsyncDropGuard::new(tokio::fs::File::create(&path).await?);
///     file.write_all(b"durable").await?;
///     file.async_drop().await?; // flushed and synced
///     assert_eq!(tokio::fs::read(&path).await?, b"durable");
///     tokio::fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "tokio-fs")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-fs")))]
impl AsyncDrop for File {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.sync_all().await
    }
}

/// Writes out the buffer, then shuts the inner writer down
/// ([`AsyncWriteExt::shutdown`]: a socket's write side is closed, a file flushed).
///
/// A `BufWriter` dropped without this loses whatever is still buffered.
///
/// # Errors
///
/// The first `io::Error` of writing the buffer or of the shutdown.
///
/// # Examples
///
/// ```
/// use asyncdrop::AsyncDropGuard;
/// use tokio::io::{AsyncWriteExt, BufWriter};
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let path = std::env::temp_dir().join(format!("asyncdrop-doc-buf-{}", std::process::id()));
///     let file = tokio::fs::File::create(&path).await?;
///     let mut out = AsyncDropGuard::new(BufWriter::new(file));
///     out.write_all(b"buffered").await?; // still in memory
///     out.async_drop().await?; // written out
///     assert_eq!(tokio::fs::read(&path).await?, b"buffered");
///     tokio::fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "tokio-io-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-io-util")))]
impl<W> AsyncDrop for BufWriter<W>
where
    W: AsyncWrite + Unpin + Send,
{
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.shutdown().await
    }
}

/// Cancels the task ([`JoinHandle::abort`]) and waits until it has really finished:
/// when the cleanup returns, the task's future — and everything it owned — has been
/// dropped. A task that already finished is just reaped (its output dropped).
///
/// A task of [`spawn_blocking`](::tokio::task::spawn_blocking) cannot be cancelled
/// once it runs; the cleanup then waits until it returns.
///
/// # Errors
///
/// A [`JoinError`] if the task panicked (`is_panic`). A task that was cancelled —
/// the expected outcome — is a success.
///
/// # Examples
///
/// ```
/// use asyncdrop::AsyncDropGuard;
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let ticker = AsyncDropGuard::new(tokio::spawn(async {
///         loop {
///             tokio::time::sleep(std::time::Duration::from_millis(10)).await;
///         }
///     }));
///     ticker.async_drop().await?; // aborted, and gone
///     Ok::<(), tokio::task::JoinError>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl<T: Send + 'static> AsyncDrop for JoinHandle<T> {
    type Error = JoinError;

    async fn async_drop_impl(self) -> Result<(), JoinError> {
        self.abort();
        match self.await {
            Ok(_) => Ok(()),
            Err(e) if e.is_cancelled() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Cancels every task of the set and waits until all have really finished.
///
/// # Errors
///
/// The first [`JoinError`] of a task that panicked; the other tasks are still
/// waited for. Cancelled tasks are a success.
///
/// # Examples
///
/// ```
/// use asyncdrop::AsyncDropGuard;
/// use tokio::task::JoinSet;
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let mut workers = AsyncDropGuard::new(JoinSet::new());
///     for _ in 0..4 {
///         workers.spawn(std::future::pending::<()>());
///     }
///     workers.async_drop().await?; // all four cancelled and gone
///     Ok::<(), tokio::task::JoinError>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl<T: Send + 'static> AsyncDrop for JoinSet<T> {
    type Error = JoinError;

    async fn async_drop_impl(mut self) -> Result<(), JoinError> {
        self.abort_all();
        let mut first = None;
        while let Some(result) = self.join_next().await {
            if let Err(e) = result {
                if !e.is_cancelled() && first.is_none() {
                    first = Some(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Kills the child process (unless it already exited) and waits for it, so that no
/// zombie is left behind.
///
/// # Errors
///
/// The `io::Error` of killing or waiting.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use asyncdrop::AsyncDropGuard;
/// use tokio::process::Command;
///
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let mut child = AsyncDropGuard::new(Command::new("sleep").arg("30").spawn()?);
///     assert!(child.try_wait()?.is_none()); // running
///     child.async_drop().await // killed and reaped
/// })?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "tokio-process")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-process")))]
impl AsyncDrop for Child {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        match self.try_wait() {
            Ok(Some(_)) => Ok(()),
            Ok(None) | Err(_) => self.kill().await,
        }
    }
}
