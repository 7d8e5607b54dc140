//! The sleeper of tokio runtimes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use super::yield_once;
use crate::Sleeper;

/// Sleeps on tokio's timer and reads tokio's clock, so loops follow `tokio::time::pause` and
/// `advance` (a 45-second budget runs in no real time under `#[tokio::test(start_paused = true)]`).
///
/// Needs a tokio runtime with the time driver enabled when a loop waits. A zero wait (testing
/// mode, zero waits configured) needs no timer: it yields to the executor once.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let caller = stamina::AsyncRetryingCaller::new().sleeper(stamina::TokioSleeper);
/// let value = caller.call(|_: &std::fmt::Error| true, || async { Ok::<_, std::fmt::Error>(1) }).await;
/// assert_eq!(value, Ok(1));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    type Sleep = TokioSleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        TokioSleep {
            // tokio caps deadlines it cannot represent to "far in the future".
            timer: (!duration.is_zero()).then(|| tokio::time::sleep(duration)),
            yielded: false,
        }
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    /// Sets a timer that was made for a non-zero wait again in place (`Sleep::reset`); a zero
    /// wait, or a deadline tokio cannot represent, gets a new sleep.
    ///
    /// Like every tokio resource, the timer stays with the runtime that made it: a stream that
    /// waited on one runtime and is then driven by another keeps waiting on the first one's
    /// timer, which must still be running.
    fn reset(&self, mut sleep: Pin<&mut TokioSleep>, duration: Duration) {
        let deadline = tokio::time::Instant::now().checked_add(duration);
        match (sleep.as_mut().project().timer.as_pin_mut(), deadline) {
            (Some(timer), Some(deadline)) if !duration.is_zero() => timer.reset(deadline),
            _ => sleep.set(self.sleep(duration)),
        }
    }
}

pin_project! {
    /// The future of [`TokioSleeper::sleep`]: tokio's `Sleep`, or a single yield for a zero
    /// wait.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct TokioSleep {
        // `None` for a zero wait.
        #[pin]
        timer: Option<tokio::time::Sleep>,
        yielded: bool,
    }
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        match this.timer.as_pin_mut() {
            Some(timer) => timer.poll(cx),
            None => yield_once(this.yielded, cx),
        }
    }
}
