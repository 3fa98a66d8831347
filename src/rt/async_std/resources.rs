//! Async drop for async-std's own resources whose teardown is async.

use core::future::poll_fn;
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use std::io;
use std::net::Shutdown;

use ::async_std::fs::File;
use ::async_std::io::{BufWriter, Write, WriteExt};
use ::async_std::net::TcpStream;
use ::async_std::task::JoinHandle;
use futures_util::FutureExt;

use crate::rt::TaskPanic;
use crate::AsyncDrop;

/// Sends what was written so far (flush), then shuts the connection down in both
/// directions (`shutdown(Shutdown::Both)`): the peer reads end-of-file.
///
/// # Errors
///
/// The `io::Error` of the flush or of the shutdown, e.g. `NotConnected` if the peer
/// already reset the connection. The stream is closed either way.
///
/// # Drop behaviour
///
/// A `TcpStream` dropped without this cleanup closes the socket without a word: a
/// failure on the way is seen by nobody. The cleanup flushes and shuts down first,
/// so the peer reads everything written, then end-of-file, and an error comes back
/// to the owner. (Either way, data the peer sent that was never read makes the
/// system reset the connection when the socket closes: read what you expect
/// before cleaning up.)
impl AsyncDrop for TcpStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        TcpStream::shutdown(&self, Shutdown::Both)
    }
}

/// Sends what was written so far (flush), then shuts the stream down in both
/// directions: the peer reads end-of-file. Unix only.
///
/// # Errors
///
/// The `io::Error` of the flush or of the shutdown. The stream is closed either
/// way.
///
/// # Drop behaviour
///
/// As for `TcpStream`: a plain drop closes the stream, reporting nothing.
#[cfg(unix)]
impl AsyncDrop for ::async_std::os::unix::net::UnixStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        ::async_std::os::unix::net::UnixStream::shutdown(&self, Shutdown::Both)
    }
}

/// Writes out async-std's write cache, then flushes the file to the storage device
/// ([`File::sync_all`]).
///
/// Why guard it: async-std's `File` keeps recent writes in a cache and runs the
/// actual write on a blocking thread. Its `Drop` writes that cache out by
/// **blocking the dropping thread** — an executor thread, usually — and **throws
/// any error away**: a write that fails then (disk full, quota, an I/O error) loses
/// the buffered data without anybody noticing. Nor does `Drop` sync, so the data is
/// not durable yet. This cleanup does both without blocking, and returns the error.
///
/// # Errors
///
/// The first `io::Error` of writing the cache out or of `sync_all`. Syncing a file
/// opened only for reading fails on some platforms (Windows); guard files you write
/// to.
///
/// # Drop behaviour
///
/// See above: a plain drop blocks the dropping thread to write the cache out,
/// loses the data silently if that fails, and does not sync.
impl AsyncDrop for File {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.sync_all().await
    }
}

/// Writes out the buffer, then closes the inner writer
/// ([`Write::poll_close`]: a socket's write side is shut down, a file written out).
///
/// async-std's `BufWriter` has no `Drop` of its own: dropped without this, whatever
/// is still buffered is **lost**.
///
/// # Errors
///
/// The first `io::Error` of writing the buffer or of closing.
///
/// # Drop behaviour
///
/// See above: a plain drop loses the buffered bytes, silently.
impl<W> AsyncDrop for BufWriter<W>
where
    W: Write + Unpin + Send,
{
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        poll_fn(|cx| Pin::new(&mut self).poll_close(cx)).await
    }
}

/// Cancels the task ([`JoinHandle::cancel`]) and waits until it has really
/// finished: when the cleanup returns, the task's future — and everything it owned
/// — has been dropped. A task that already finished is just reaped (its output
/// dropped).
///
/// (Dropping async-std's `JoinHandle` only *detaches* the task: it goes on running.)
///
/// A task of [`spawn_blocking`](::async_std::task::spawn_blocking) cannot be
/// cancelled once it runs; the cleanup then waits until it returns.
///
/// # Errors
///
/// A [`TaskPanic`] if the task had panicked (async-std would pass the panic on by
/// panicking in the cleanup; it is caught and returned instead). A task that was
/// cancelled — the expected outcome — is a success.
///
/// # Drop behaviour
///
/// A plain drop of the `JoinHandle` detaches the task: it is not cancelled, and
/// nobody learns how it ends.
impl<T: Send + 'static> AsyncDrop for JoinHandle<T> {
    type Error = TaskPanic;

    async fn async_drop_impl(self) -> Result<(), TaskPanic> {
        match AssertUnwindSafe(self.cancel()).catch_unwind().await {
            Ok(_) => Ok(()),
            Err(payload) => Err(TaskPanic::new(payload)),
        }
    }
}
