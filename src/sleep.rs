//! Where async loops take their time from and how they wait: the [`Sleeper`] trait, its runtime
//! implementations, and the default.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(feature = "async-io")]
mod async_io_sleeper;
#[cfg(any(feature = "tokio", feature = "async-io"))]
mod default_sleeper;
#[cfg(feature = "tokio")]
mod tokio_sleeper;

#[cfg(feature = "async-io")]
pub use async_io_sleeper::{AsyncIoSleep, AsyncIoSleeper};
#[cfg(any(feature = "tokio", feature = "async-io"))]
pub use default_sleeper::{DefaultSleep, DefaultSleeper};
#[cfg(feature = "tokio")]
pub use tokio_sleeper::{TokioSleep, TokioSleeper};

/// The time source and sleep of async retry loops.
///
/// A sleeper hands out sleep futures and says what time it is on its own clock, so a loop's
/// deadline follows the runtime's clock: under `tokio::time::pause`, a 45-second budget passes in
/// no real time at all. Implementations ship for tokio (`TokioSleeper`, feature `tokio`) and
/// async-io, which serves smol and async-std (`AsyncIoSleeper`, feature `async-io`); with
/// either feature on, [`DefaultSleeper`] picks between them when a loop waits. Any other runtime
/// plugs in by implementing this trait: [`sleep`](Self::sleep) and [`now`](Self::now), and
/// [`reset`](Self::reset) too when its timer can be set again in place.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use std::time::{Duration, Instant};
///
/// /// A sleeper for a runtime this crate does not know, here one that never waits (a real one
/// /// would return the runtime's timer future).
/// #[derive(Clone, Copy, Debug)]
/// struct Instantly;
///
/// impl stamina::Sleeper for Instantly {
///     type Sleep = std::future::Ready<()>;
///
///     fn sleep(&self, _duration: Duration) -> Self::Sleep {
///         std::future::ready(())
///     }
///
///     fn now(&self) -> Instant {
///         Instant::now()
///     }
/// }
///
/// let caller = stamina::AsyncRetryingCaller::new().attempts(3).sleeper(Instantly);
/// let mut calls = 0;
/// let result = futures::executor::block_on(caller.call(|_: &std::fmt::Error| true, || {
///     calls += 1;
///     async { Err::<(), _>(std::fmt::Error) }
/// }));
/// assert!(result.is_err());
/// assert_eq!(calls, 3);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Sleeper`: async retry loops need one to wait",
    label = "no sleeper",
    note = "enable stamina's `tokio` feature (tokio) or `async-io` feature (smol, async-std, any executor) for a default sleeper",
    note = "or implement `stamina::Sleeper` for your runtime's timer and pass it: `.sleeper(..)` on callers, `.into_stream_with(..)` on contexts"
)]
pub trait Sleeper {
    /// The future [`sleep`](Self::sleep) returns.
    type Sleep: Future<Output = ()>;

    /// A future that completes after `duration` on this sleeper's clock.
    ///
    /// It must not panic for any duration, `Duration::MAX` included (sleep "forever" instead).
    /// A zero duration should need no timer (the built-in sleepers yield to the executor once),
    /// so that loops in testing mode, whose waits are all zero, run on any executor.
    fn sleep(&self, duration: Duration) -> Self::Sleep;

    /// The current instant on this sleeper's clock, which deadlines are measured on.
    fn now(&self) -> Instant;

    /// Makes `sleep`, which this sleeper made (finished or not), complete after `duration`,
    /// as a new [`sleep`](Self::sleep) would: a loop that waits more than once keeps one sleep
    /// and resets it for every wait after the first.
    ///
    /// The default replaces it with a new sleep. Override it when the runtime's timer can be
    /// set again in place, as the built-in sleepers do (tokio's `Sleep::reset`, async-io's
    /// `Timer::set_after`), so that a wait does not make and drop a timer. As with `sleep`, it
    /// must not panic for any duration, and a zero duration should need no timer.
    ///
    /// ```
    /// use std::pin::{Pin, pin};
    /// use std::time::{Duration, Instant};
    ///
    /// use stamina::Sleeper;
    ///
    /// /// A sleeper whose timer is a deadline, polled until it has passed (a real one would
    /// /// register with the runtime's timer and wake the task).
    /// struct Polling;
    ///
    /// /// `None`: a deadline past what `Instant` holds, which never comes.
    /// struct Deadline(Option<Instant>);
    ///
    /// impl std::future::Future for Deadline {
    ///     type Output = ();
    ///
    ///     fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
    ///         if self.0.is_some_and(|deadline| Instant::now() >= deadline) {
    ///             return std::task::Poll::Ready(());
    ///         }
    ///         cx.waker().wake_by_ref();
    ///         std::task::Poll::Pending
    ///     }
    /// }
    ///
    /// impl Sleeper for Polling {
    ///     type Sleep = Deadline;
    ///
    ///     fn sleep(&self, duration: Duration) -> Deadline {
    ///         Deadline(Instant::now().checked_add(duration))
    ///     }
    ///
    ///     fn now(&self) -> Instant {
    ///         Instant::now()
    ///     }
    ///
    ///     fn reset(&self, mut sleep: Pin<&mut Deadline>, duration: Duration) {
    ///         // The same timer, set again.
    ///         sleep.0 = self.sleep(duration).0;
    ///     }
    /// }
    ///
    /// futures::executor::block_on(async {
    ///     let mut sleep = pin!(Polling.sleep(Duration::from_millis(1)));
    ///     sleep.as_mut().await;
    ///     Polling.reset(sleep.as_mut(), Duration::from_millis(1));
    ///     sleep.as_mut().await;
    /// });
    /// ```
    fn reset(&self, mut sleep: Pin<&mut Self::Sleep>, duration: Duration) {
        sleep.set(self.sleep(duration));
    }
}

/// A sleeper behind a reference or a pointer is a sleeper.
macro_rules! sleeper_behind {
    ($($pointer:ty),*) => {$(
        // Not offered as a fix in errors about a missing sleeper (nor is the fake one): only
        // the features and an implementation of the trait are.
        #[diagnostic::do_not_recommend]
        impl<S: Sleeper + ?Sized> Sleeper for $pointer {
            type Sleep = S::Sleep;

            fn sleep(&self, duration: Duration) -> Self::Sleep {
                (**self).sleep(duration)
            }

            fn now(&self) -> Instant {
                (**self).now()
            }

            fn reset(&self, sleep: Pin<&mut Self::Sleep>, duration: Duration) {
                (**self).reset(sleep, duration);
            }
        }
    )*};
}

sleeper_behind!(&S, Arc<S>);

/// Polls a zero wait, which needs no timer: ready on the second poll, after waking the task once,
/// so that a loop of zero waits (testing mode) lets other tasks run.
#[cfg(any(feature = "tokio", feature = "async-io"))]
fn yield_once(yielded: &mut bool, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
    if std::mem::replace(yielded, true) {
        return std::task::Poll::Ready(());
    }
    cx.waker().wake_by_ref();
    std::task::Poll::Pending
}

/// A [`Sleeper`], or the placeholder [`EnableTheTokioOrAsyncIoFeatureOrProvideASleeper`].
///
/// It lets async streams be built with the [`DefaultSleeper`] whatever the features, so that the
/// missing sleeper is reported where the stream is used, with a message that says what to do.
/// Implemented for every [`Sleeper`]; there is nothing to implement by hand.
#[doc(hidden)]
pub trait MaybeSleeper {
    /// The sleep future, or a future that never completes for the placeholder.
    type Sleep: Future<Output = ()>;
}

impl<S: Sleeper + ?Sized> MaybeSleeper for S {
    type Sleep = S::Sleep;
}

impl MaybeSleeper for EnableTheTokioOrAsyncIoFeatureOrProvideASleeper {
    type Sleep = std::future::Pending<()>;
}

/// The sleeper used unless another is given. Without the `tokio` and `async-io` features it is
/// [`EnableTheTokioOrAsyncIoFeatureOrProvideASleeper`], which is not a sleeper, so that using an
/// async loop without one fails to compile with a message that says what to do; with either
/// feature, a sleeper that picks the runtime's timer at run time.
#[cfg(not(any(feature = "tokio", feature = "async-io")))]
pub type DefaultSleeper = EnableTheTokioOrAsyncIoFeatureOrProvideASleeper;

/// The [`DefaultSleeper`] when neither the `tokio` nor the `async-io` feature is on: a
/// placeholder that is deliberately not a [`Sleeper`].
///
/// Async loops and callers can be built with it, but awaiting them fails to compile with
/// "`EnableTheTokioOrAsyncIoFeatureOrProvideASleeper` is not a `Sleeper`": enable one of the
/// features, or give the loop a sleeper of your own.
///
/// ```
/// // Without a runtime feature, name a sleeper explicitly:
/// # #[derive(Clone, Copy, Debug)]
/// # struct MySleeper;
/// # impl stamina::Sleeper for MySleeper {
/// #     type Sleep = std::future::Ready<()>;
/// #     fn sleep(&self, _: std::time::Duration) -> Self::Sleep { std::future::ready(()) }
/// #     fn now(&self) -> std::time::Instant { std::time::Instant::now() }
/// # }
/// let caller = stamina::AsyncRetryingCaller::new().sleeper(MySleeper);
/// # let _ = caller;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnableTheTokioOrAsyncIoFeatureOrProvideASleeper;

#[cfg(test)]
#[cfg(any(feature = "tokio", feature = "async-io"))]
mod tests {
    use std::task::{Context, Poll};

    use super::*;

    #[test]
    fn a_zero_wait_yields_once() {
        let mut yielded = false;
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(yield_once(&mut yielded, &mut cx), Poll::Pending);
        assert_eq!(yield_once(&mut yielded, &mut cx), Poll::Ready(()));
    }
}
