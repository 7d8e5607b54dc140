//! The default sleeper, which picks the timer of the runtime it runs on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use crate::Sleeper;
use crate::config::HumanDuration;

/// The sleeper used unless another is given: the timer of the runtime a loop runs on, chosen
/// when the loop waits.
///
/// - Inside a tokio runtime (feature `tokio`), tokio's timer and clock, as
///   [`TokioSleeper`](crate::TokioSleeper): loops follow `tokio::time::pause`.
/// - Elsewhere (smol, async-std, `futures::executor::block_on`, any executor), async-io's
///   timer (feature `async-io`), as [`AsyncIoSleeper`](crate::AsyncIoSleeper).
/// - A zero wait (testing mode, zero waits configured) needs no timer on any executor: it
///   yields to the executor once.
///
/// So the runtime features are additive: a crate that turns on `tokio` somewhere in the
/// dependency graph does not break a loop running under smol, as long as `async-io` is on too.
/// The clock is tokio's when the `tokio` feature is on (it is the system clock outside a
/// runtime whose time is paused), the system clock otherwise.
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// let caller = stamina::AsyncRetryingCaller::new() // on the default sleeper
///     .attempts(2)
///     .wait_jitter(std::time::Duration::ZERO);
/// let result = caller.call(|_: &std::fmt::Error| true, || async { Err::<(), _>(std::fmt::Error) }).await;
/// assert!(result.is_err());
/// // One wait of 100 ms, on tokio's paused clock.
/// assert_eq!(start.elapsed(), std::time::Duration::from_millis(100));
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
///
/// # Panics
///
/// A wait outside a tokio runtime panics when the `async-io` feature is off, with a message
/// that says what to do: run the loop in a tokio runtime, enable `async-io`, or give the loop a
/// sleeper of its own. A tokio runtime built without `enable_time` panics at a non-zero wait
/// (tokio's message says to enable it).
// No feature badge: the name exists with every feature set (see the crate root).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefaultSleeper;

impl Sleeper for DefaultSleeper {
    type Sleep = DefaultSleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        // A zero wait needs no runtime: tokio's sleeper yields without its timer.
        #[cfg(feature = "tokio")]
        if duration.is_zero() || in_tokio() {
            let sleep = crate::TokioSleeper.sleep(duration);
            return DefaultSleep {
                inner: Inner::Tokio { sleep },
            };
        }
        #[cfg(feature = "async-io")]
        return DefaultSleep {
            inner: Inner::AsyncIo {
                sleep: crate::AsyncIoSleeper.sleep(duration),
            },
        };
        #[cfg(not(feature = "async-io"))]
        panic!("{}", no_runtime(duration));
    }

    fn now(&self) -> Instant {
        #[cfg(feature = "tokio")]
        return tokio::time::Instant::now().into_std();
        #[cfg(not(feature = "tokio"))]
        return Instant::now();
    }

    /// Sets a timer that was made for a non-zero wait again in place when a new sleep would take
    /// the same kind of timer (tokio's inside a tokio runtime, async-io's elsewhere), as
    /// `TokioSleeper` and `AsyncIoSleeper` do; otherwise, and for a zero wait, makes a new
    /// sleep.
    fn reset(&self, sleep: Pin<&mut DefaultSleep>, duration: Duration) {
        let mut inner = sleep.project().inner;
        match inner.as_mut().project() {
            #[cfg(feature = "tokio")]
            InnerProj::Tokio { sleep } if in_tokio() => crate::TokioSleeper.reset(sleep, duration),
            #[cfg(feature = "async-io")]
            InnerProj::AsyncIo { sleep } if !in_tokio() => {
                crate::AsyncIoSleeper.reset(sleep, duration);
            }
            _ => inner.set(self.sleep(duration).inner),
        }
    }
}

/// Whether this thread runs in a tokio runtime, whose timer then serves non-zero waits.
fn in_tokio() -> bool {
    #[cfg(feature = "tokio")]
    return tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "tokio"))]
    return false;
}

/// What to do when a loop must wait outside a tokio runtime and async-io is off.
#[cfg_attr(feature = "async-io", allow(dead_code))]
fn no_runtime(duration: Duration) -> String {
    format!(
        "stamina: an async retry loop must wait {}, but no tokio runtime is running on this \
         thread and stamina's `async-io` feature is off: run the loop inside a tokio runtime, \
         enable the `async-io` feature to wait on other executors (smol, async-std, \
         `block_on`), or give the loop a `Sleeper` of your own (`.sleeper(..)` on callers, \
         `.into_stream_with(..)` on contexts)",
        HumanDuration(duration)
    )
}

#[cfg(feature = "tokio")]
type TokioSleep = crate::TokioSleep;
#[cfg(not(feature = "tokio"))]
type TokioSleep = std::future::Pending<()>;

#[cfg(feature = "async-io")]
type AsyncIoSleep = crate::AsyncIoSleep;
#[cfg(not(feature = "async-io"))]
type AsyncIoSleep = std::future::Pending<()>;

pin_project! {
    /// The future of [`DefaultSleeper::sleep`]: the runtime's timer, or a single yield for a
    /// zero wait.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct DefaultSleep {
        #[pin]
        inner: Inner,
    }
}

pin_project! {
    // Without one of the features, its variant is never made.
    #[allow(dead_code)]
    #[derive(Debug)]
    #[project = InnerProj]
    enum Inner {
        Tokio { #[pin] sleep: TokioSleep },
        AsyncIo { #[pin] sleep: AsyncIoSleep },
    }
}

impl Future for DefaultSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().inner.project() {
            InnerProj::Tokio { sleep } => sleep.poll(cx),
            InnerProj::AsyncIo { sleep } => sleep.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_runtime_message_says_what_to_do() {
        let message = no_runtime(Duration::from_millis(1500));
        assert!(message.starts_with("stamina: an async retry loop must wait 1s500ms"));
        for fix in [
            "tokio runtime",
            "`async-io` feature",
            "`Sleeper` of your own",
        ] {
            assert!(message.contains(fix), "{message}");
        }
        assert!(
            !message.contains("Fake"),
            "test types are no fix: {message}"
        );
    }

    #[cfg(all(feature = "tokio", not(feature = "async-io")))]
    #[test]
    fn a_wait_outside_a_tokio_runtime_without_async_io_panics_with_the_message() {
        let panic = std::panic::catch_unwind(|| DefaultSleeper.sleep(Duration::from_secs(1)))
            .expect_err("no runtime, no async-io");
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        assert_eq!(*message, no_runtime(Duration::from_secs(1)));
        // A zero wait needs no runtime.
        drop(DefaultSleeper.sleep(Duration::ZERO));
    }
}
