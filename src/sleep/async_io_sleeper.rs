//! The sleeper of smol, async-std and any other executor, on async-io's timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::YieldOnce;
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
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsyncIoSleeper;

impl Sleeper for AsyncIoSleeper {
    type Sleep = AsyncIoSleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        let inner = if duration.is_zero() {
            Inner::Zero(YieldOnce::default())
        } else {
            // `Timer::after` never fires when the deadline cannot be represented.
            Inner::Timer(async_io::Timer::after(duration))
        };
        AsyncIoSleep { inner }
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Sets a timer that was made for a non-zero wait again in place (`Timer::set_after`); a
    /// zero wait gets a single yield.
    fn reset(&self, mut sleep: Pin<&mut AsyncIoSleep>, duration: Duration) {
        match &mut sleep.inner {
            Inner::Timer(timer) if !duration.is_zero() => timer.set_after(duration),
            inner => *inner = self.sleep(duration).inner,
        }
    }
}

/// The future of [`AsyncIoSleeper::sleep`]: an async-io timer, or a single yield for a zero
/// wait.
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AsyncIoSleep {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Zero(YieldOnce),
    Timer(async_io::Timer),
}

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.inner {
            Inner::Zero(zero) => zero.poll(cx),
            Inner::Timer(timer) => Pin::new(timer).poll(cx).map(drop),
        }
    }
}
