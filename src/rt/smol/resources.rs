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

/// [`Task::cancel`]s the task and waits until it has stopped; see [resources](crate::rt#resources).
impl<T: Send + 'static> AsyncDrop for Task<T> {
    type Error = TaskPanic;

    async fn async_drop_impl(self) -> Result<(), TaskPanic> {
        match AssertUnwindSafe(self.cancel()).catch_unwind().await {
            Ok(_) => Ok(()),
            Err(payload) => Err(TaskPanic::new(payload)),
        }
    }
}

/// Writes out what is buffered, then shuts down both directions; see [resources](crate::rt#resources).
impl AsyncDrop for Async<TcpStream> {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        // `close` only flushes an `Async<TcpStream>`; the shutdown is separate.
        self.close().await?;
        self.get_ref().shutdown(Shutdown::Both)
    }
}

/// Writes out what is buffered, then shuts down both directions; see [resources](crate::rt#resources).
#[cfg(unix)]
impl AsyncDrop for Async<std::os::unix::net::UnixStream> {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.close().await?;
        self.get_ref().shutdown(Shutdown::Both)
    }
}

/// Writes out what is buffered, then shuts down both directions, for every clone of
/// this shared handle; see [resources](crate::rt#resources).
impl AsyncDrop for ::smol::net::TcpStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.shutdown(Shutdown::Both)
    }
}

/// Writes out what is buffered, then shuts down both directions, for every clone of
/// this shared handle; see [resources](crate::rt#resources).
#[cfg(unix)]
impl AsyncDrop for ::smol::net::unix::UnixStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.shutdown(Shutdown::Both)
    }
}

/// Finishes the writes in flight, then [`File::sync_all`]; see [resources](crate::rt#resources).
impl AsyncDrop for File {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.sync_all().await
    }
}

/// Writes out the buffer, then [`AsyncWriteExt::close`]s the inner writer; see
/// [resources](crate::rt#resources).
impl<W: AsyncWrite + Unpin + Send> AsyncDrop for BufWriter<W> {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.close().await
    }
}
