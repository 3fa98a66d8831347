//! A cleanup raced against a timer of whichever runtime.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use pin_project_lite::pin_project;

use super::error::DeadlineError;
use crate::future::AsyncDropFuture;

pin_project! {
    #[project = StateProj]
    enum State<T, F, S> {
        Running {
            #[pin]
            cleanup: AsyncDropFuture<T, F>,
            #[pin]
            timer: S,
        },
        Done,
    }
}

pin_project! {
    /// Runs `cleanup` until it finishes or `timer` fires, whichever comes first. On
    /// expiry the cleanup is abandoned (no `Cancelled` report: the typed error is the
    /// report) and dropped at once, so what it held is dropped before the error is
    /// returned.
    pub(crate) struct Deadline<T, F, S> {
        #[pin]
        state: State<T, F, S>,
        after: Duration,
    }
}

impl<T, F, S> Deadline<T, F, S> {
    pub(crate) fn new(cleanup: AsyncDropFuture<T, F>, timer: S, after: Duration) -> Self {
        Deadline {
            state: State::Running { cleanup, timer },
            after,
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done)
    }

    pub(crate) fn after(&self) -> Duration {
        self.after
    }
}

impl<T, F, S, E> Future for Deadline<T, F, S>
where
    F: Future<Output = Result<(), E>>,
    S: Future,
{
    type Output = Result<(), DeadlineError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = match this.state.as_mut().project() {
            StateProj::Running { mut cleanup, timer } => {
                if let Poll::Ready(result) = cleanup.as_mut().poll(cx) {
                    result.map_err(DeadlineError::Failed)
                } else if timer.poll(cx).is_ready() {
                    cleanup.abandon();
                    Err(DeadlineError::Expired {
                        type_name: core::any::type_name::<T>(),
                        after: *this.after,
                    })
                } else {
                    return Poll::Pending;
                }
            }
            StateProj::Done => panic!("a cleanup deadline future was polled after completion"),
        };
        // Drops the cleanup (what it still held, if it expired) and the timer now.
        this.state.set(State::Done);
        Poll::Ready(result)
    }
}

impl<T, F, S> fmt::Debug for Deadline<T, F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("type", &core::any::type_name::<T>())
            .field("after", &self.after)
            .field("done", &self.is_terminated())
            .finish()
    }
}
