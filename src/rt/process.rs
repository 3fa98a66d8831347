//! Async drop for the child processes of smol and async-std (one type:
//! `async-process`'s).

use std::io;

#[cfg(not(feature = "smol"))]
use ::async_std::process::Child;
#[cfg(feature = "smol")]
use ::smol::process::Child;

use crate::AsyncDrop;

/// Kills the process unless it exited, and waits for it (smol's and async-std's
/// `Child` are one type, `async-process`'s); see [resources](crate::rt#resources).
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
