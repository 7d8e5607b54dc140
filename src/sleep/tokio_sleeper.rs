//! The sleeper of tokio runtimes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use super::YieldOnce;
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
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    type Sleep = TokioSleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        let inner = if duration.is_zero() {
            Inner::Zero {
                zero: YieldOnce::default(),
            }
        } else {
            // tokio caps deadlines it cannot represent to "far in the future".
            Inner::Timer {
                sleep: tokio::time::sleep(duration),
            }
        };
        TokioSleep { inner }
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
    fn reset(&self, sleep: Pin<&mut TokioSleep>, duration: Duration) {
        let mut inner = sleep.project().inner;
        if let (false, InnerProj::Timer { sleep }) = (duration.is_zero(), inner.as_mut().project())
        {
            if let Some(deadline) = tokio::time::Instant::now().checked_add(duration) {
                return sleep.reset(deadline);
            }
        }
        inner.set(self.sleep(duration).inner);
    }
}

pin_project! {
    /// The future of [`TokioSleeper::sleep`]: tokio's `Sleep`, or a single yield for a zero
    /// wait.
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct TokioSleep {
        #[pin]
        inner: Inner,
    }
}

pin_project! {
    #[derive(Debug)]
    #[project = InnerProj]
    enum Inner {
        Zero { zero: YieldOnce },
        Timer { #[pin] sleep: tokio::time::Sleep },
    }
}

impl Future for TokioSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().inner.project() {
            InnerProj::Zero { zero } => zero.poll(cx),
            InnerProj::Timer { sleep } => sleep.poll(cx),
        }
    }
}
