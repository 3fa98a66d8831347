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

/// Shuts the write side down, once what was written is sent; see [resources](crate::rt#resources).
#[cfg(feature = "tokio-net")]
impl AsyncDrop for TcpStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        AsyncWriteExt::shutdown(&mut self).await
    }
}

/// Shuts the write side down; see [resources](crate::rt#resources).
#[cfg(all(feature = "tokio-net", unix))]
impl AsyncDrop for ::tokio::net::UnixStream {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        AsyncWriteExt::shutdown(&mut self).await
    }
}

/// Waits for writes in flight, then [`File::sync_all`]; see [resources](crate::rt#resources).
#[cfg(feature = "tokio-fs")]
impl AsyncDrop for File {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.sync_all().await
    }
}

/// Writes out the buffer, then [`AsyncWriteExt::shutdown`]s the inner writer; see
/// [resources](crate::rt#resources).
#[cfg(feature = "tokio-io-util")]
impl<W: AsyncWrite + Unpin + Send> AsyncDrop for BufWriter<W> {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        self.flush().await?;
        self.shutdown().await
    }
}

/// [`JoinHandle::abort`]s the task and waits until it has stopped; see [resources](crate::rt#resources).
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

/// Aborts every task of the set and waits for all; the first panic is the error. See
/// [resources](crate::rt#resources).
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

/// Kills the process unless it exited, and waits for it; see [resources](crate::rt#resources).
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
