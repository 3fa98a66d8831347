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

/// Writes out what is buffered, then shuts down both directions; see [resources](crate::rt#resources).
impl AsyncDrop for TcpStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        TcpStream::shutdown(&self, Shutdown::Both)
    }
}

/// Writes out what is buffered, then shuts down both directions; see [resources](crate::rt#resources).
#[cfg(unix)]
impl AsyncDrop for ::async_std::os::unix::net::UnixStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        ::async_std::os::unix::net::UnixStream::shutdown(&self, Shutdown::Both)
    }
}

/// Writes out async-std's write cache, then [`File::sync_all`], without blocking;
/// see [resources](crate::rt#resources).
impl AsyncDrop for File {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.sync_all().await
    }
}

/// Writes out the buffer, then [`Write::poll_close`]s the inner writer; see
/// [resources](crate::rt#resources).
impl<W: Write + Unpin + Send> AsyncDrop for BufWriter<W> {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        poll_fn(|cx| Pin::new(&mut self).poll_close(cx)).await
    }
}

/// [`JoinHandle::cancel`]s the task and waits until it has stopped; see
/// [resources](crate::rt#resources).
impl<T: Send + 'static> AsyncDrop for JoinHandle<T> {
    type Error = TaskPanic;

    async fn async_drop_impl(self) -> Result<(), TaskPanic> {
        match AssertUnwindSafe(self.cancel()).catch_unwind().await {
            Ok(_) => Ok(()),
            Err(payload) => Err(TaskPanic::new(payload)),
        }
    }
}
