//! Async drop for the child processes of smol and async-std (one type:
//! `async-process`'s).

use std::io;

#[cfg(not(feature = "smol"))]
use ::async_std::process::Child;
#[cfg(feature = "smol")]
use ::smol::process::Child;

use crate::AsyncDrop;

/// Kills the child process (unless it already exited) and waits for it, so that no
/// zombie is left behind.
///
/// smol's and async-std's `Child` are the same type (`async-process`'s); the cleanup
/// runs on any executor.
///
/// # Errors
///
/// The `io::Error` of killing or waiting.
///
/// # Examples
///
/// ```
/// use asyncdrop::AsyncDropGuard;
/// # #[cfg(all(unix, feature = "smol"))] {
/// use smol::process::Command;
///
/// smol::block_on(async {
///     let mut child = AsyncDropGuard::new(Command::new("sleep").arg("30").spawn()?);
///     assert!(child.try_status()?.is_none()); // running
///     child.async_drop().await // killed and reaped
/// })?;
/// # }
/// # #[cfg(all(unix, feature = "async-std"))] {
/// use async_std::process::Command;
///
/// async_std::task::block_on(async {
///     let child = AsyncDropGuard::new(Command::new("sleep").arg("30").spawn()?);
///     let pid = child.id();
///     child.async_drop().await?; // killed and reaped: no zombie is left
///     assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(any(feature = "smol", feature = "async-std"))))]
impl AsyncDrop for Child {
    type Error = io::Error;

    async fn async_drop_impl(mut self) -> io::Result<()> {
        if let Ok(Some(_)) = self.try_status() {
            return Ok(()); // exited, and reaped now
        }
        if let Err(error) = self.kill() {
            // It may have exited in between; then there is nothing to kill.
            if !matches!(self.try_status(), Ok(Some(_))) {
                return Err(error);
            }
            return Ok(());
        }
        self.status().await.map(drop)
    }
}
