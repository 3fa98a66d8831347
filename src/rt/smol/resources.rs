//! Async drop for smol's own resources whose teardown is async.

use core::panic::AssertUnwindSafe;
use std::io;
use std::net::{Shutdown, TcpStream};

use ::smol::fs::File;
use ::smol::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use ::smol::{Async, Task};
use futures_util::FutureExt;

use crate::rt::TaskPanic;
use crate::AsyncDrop;

/// Cancels the task and waits until it has really stopped
/// ([`Task::cancel`]): when the cleanup returns, the task's future — and everything
/// it owned — has been dropped. A task that already finished is just reaped (its
/// output dropped).
///
/// (Dropping a smol `Task` cancels it too, but does not wait: the task's future may
/// still be running on another thread when the drop returns.)
///
/// # Errors
///
/// A [`TaskPanic`] if the task panicked (smol would resume that panic in whoever
/// awaits the task; the cleanup hands it back as an error instead). A task that was
/// cancelled — the expected outcome — is a success.
impl<T: Send + 'static> AsyncDrop for Task<T> {
    type Error = TaskPanic;

    async fn async_drop_impl(self) -> Result<(), TaskPanic> {
        match AssertUnwindSafe(self.cancel()).catch_unwind().await {
            Ok(_) => Ok(()),
            Err(payload) => Err(TaskPanic::new(payload)),
        }
    }
}

/// Writes out what is still buffered, then shuts the connection down in both
/// directions ([`TcpStream::shutdown`] with [`Shutdown::Both`]): the peer reads
/// end-of-file, and reads on this side end.
///
/// # Errors
///
/// The first `io::Error` of the flush or of the shutdown, e.g. `NotConnected` if
/// the peer already reset the connection. The stream is closed either way.
impl AsyncDrop for Async<TcpStream> {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        // `close` only flushes an `Async<TcpStream>`; the shutdown is separate.
        self.close().await?;
        self.get_ref().shutdown(Shutdown::Both)
    }
}

/// Writes out what is still buffered, then shuts the connection down in both
/// directions (the peer reads end-of-file). Unix only.
///
/// # Errors
///
/// The first `io::Error` of the flush or of the shutdown. The stream is closed
/// either way.
#[cfg(unix)]
impl AsyncDrop for Async<std::os::unix::net::UnixStream> {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.close().await?;
        self.get_ref().shutdown(Shutdown::Both)
    }
}

/// Shuts the connection down in both directions ([`Shutdown::Both`]): the peer
/// reads end-of-file, and reads on this side end.
///
/// A `smol::net::TcpStream` is a shared handle: the shutdown affects every clone of
/// it, which is what a cleanup of the connection means.
///
/// # Errors
///
/// The `io::Error` of the shutdown, e.g. `NotConnected` if the peer already reset
/// the connection.
impl AsyncDrop for ::smol::net::TcpStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.shutdown(Shutdown::Both)
    }
}

/// Shuts the connection down in both directions (the peer reads end-of-file). Unix
/// only. As for `smol::net::TcpStream`, this affects every clone.
///
/// # Errors
///
/// The `io::Error` of the shutdown.
#[cfg(unix)]
impl AsyncDrop for ::smol::net::unix::UnixStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.shutdown(Shutdown::Both)
    }
}

/// Writes out what is still buffered, then flushes the file to the storage device
/// ([`File::sync_all`]).
///
/// (A smol `File` writes on a thread pool in the background; dropping it right
/// after a write can lose that write's error — or, with nothing awaiting it, the
/// write itself. This cleanup finishes the writes and reports their error.)
///
/// # Errors
///
/// The first `io::Error` of the flush or of `sync_all`. Syncing a file opened only
/// for reading fails on some platforms (Windows); guard files you write to.
impl AsyncDrop for File {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.sync_all().await
    }
}

/// Writes out the buffer, then closes the inner writer
/// ([`AsyncWriteExt::close`]: a file is flushed, a `smol::net::TcpStream`'s write
/// side shut down).
///
/// A `BufWriter` dropped without this loses whatever is still buffered.
///
/// # Errors
///
/// The first `io::Error` of writing the buffer or of closing.
impl<W> AsyncDrop for BufWriter<W>
where
    W: AsyncWrite + Unpin + Send,
{
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.close().await
    }
}
