//! The sleeper of smol, async-std and any other executor, on async-io's timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::yield_once;
use crate::Sleeper;

/// Sleeps on async-io's timer, for smol, async-std and any executor (async-io drives its own
/// reactor thread when nothing else does). Reads [`Instant::now`].
///
/// A zero wait (testing mode, zero waits configured) needs no timer: it yields to the executor
/// once.
///
/// ```
/// let caller = stamina::AsyncRetryingCaller::new().sleeper(stamina::AsyncIoSleeper);
/// let value = smol::block_on(
///     caller.call(|_: &std::fmt::Error| true, || async { Ok::<_, std::fmt::Error>(1) }),
/// );
/// assert_eq!(value, Ok(1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsyncIoSleeper;

impl Sleeper for AsyncIoSleeper {
    type Sleep = AsyncIoSleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        AsyncIoSleep {
            // `Timer::after` never fires when the deadline cannot be represented.
            timer: (!duration.is_zero()).then(|| async_io::Timer::after(duration)),
            yielded: false,
        }
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Sets a timer that was made for a non-zero wait again in place (`Timer::set_after`); a
    /// zero wait gets a single yield.
    fn reset(&self, mut sleep: Pin<&mut AsyncIoSleep>, duration: Duration) {
        match &mut sleep.timer {
            Some(timer) if !duration.is_zero() => timer.set_after(duration),
            _ => *sleep = self.sleep(duration),
        }
    }
}

/// The future of [`AsyncIoSleeper::sleep`]: an async-io timer, or a single yield for a zero
/// wait.
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AsyncIoSleep {
    // `None` for a zero wait.
    timer: Option<async_io::Timer>,
    yielded: bool,
}

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match &mut this.timer {
            Some(timer) => Pin::new(timer).poll(cx).map(drop),
            None => yield_once(&mut this.yielded, cx),
        }
    }
}
