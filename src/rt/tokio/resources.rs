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
#[cfg(feature = "tokio-net")]
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
#[cfg(all(feature = "tokio-net", unix))]
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
#[cfg(feature = "tokio-fs")]
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
#[cfg(feature = "tokio-io-util")]
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
#[cfg(feature = "tokio-process")]
impl AsyncDrop for Child {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        match self.try_wait() {
            Ok(Some(_)) => Ok(()),
            Ok(None) | Err(_) => self.kill().await,
        }
    }
}
