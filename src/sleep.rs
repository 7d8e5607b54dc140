//! Where async loops take their time from and how they wait: the [`Sleeper`] trait, its runtime
//! implementations, and the default.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The time source and sleep of async retry loops.
///
/// A sleeper hands out sleep futures and says what time it is on its own clock, so a loop's
/// deadline follows the runtime's clock: under `tokio::time::pause`, a 45-second budget passes in
/// no real time at all. Implementations ship for tokio (`TokioSleeper`, feature `tokio`) and
/// async-io, which serves smol and async-std (`AsyncIoSleeper`, feature `async-io`); with
/// either feature on, [`DefaultSleeper`] is one of them. Any other runtime plugs in by
/// implementing this trait.
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
    note = "enable stamina's `tokio` or `async-io` feature for a default sleeper, or pass your own `Sleeper` (`.sleeper(..)` on callers, `.into_stream_with(..)` on contexts)"
)]
pub trait Sleeper {
    /// The future [`sleep`](Self::sleep) returns.
    type Sleep: Future<Output = ()>;

    /// A future that completes after `duration` on this sleeper's clock.
    ///
    /// It must not panic for any duration, `Duration::MAX` included (sleep "forever" instead).
    fn sleep(&self, duration: Duration) -> Self::Sleep;

    /// The current instant on this sleeper's clock, which deadlines are measured on.
    fn now(&self) -> Instant;
}

impl<S: Sleeper + ?Sized> Sleeper for &S {
    type Sleep = S::Sleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        (**self).sleep(duration)
    }

    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<S: Sleeper + ?Sized> Sleeper for Arc<S> {
    type Sleep = S::Sleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        (**self).sleep(duration)
    }

    fn now(&self) -> Instant {
        (**self).now()
    }
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

/// The sleeper used unless another is given: [`TokioSleeper`] with the `tokio` feature,
/// otherwise [`AsyncIoSleeper`] with the `async-io` feature, otherwise
/// [`EnableTheTokioOrAsyncIoFeatureOrProvideASleeper`], which is not a sleeper, so that using an
/// async loop without one fails to compile with a message that says what to do.
#[cfg(feature = "tokio")]
pub type DefaultSleeper = TokioSleeper;

/// The sleeper used unless another is given: [`TokioSleeper`] with the `tokio` feature,
/// otherwise [`AsyncIoSleeper`] with the `async-io` feature, otherwise
/// [`EnableTheTokioOrAsyncIoFeatureOrProvideASleeper`], which is not a sleeper, so that using an
/// async loop without one fails to compile with a message that says what to do.
#[cfg(all(feature = "async-io", not(feature = "tokio")))]
pub type DefaultSleeper = AsyncIoSleeper;

/// The sleeper used unless another is given: `TokioSleeper` with the `tokio` feature,
/// otherwise `AsyncIoSleeper` with the `async-io` feature, otherwise
/// [`EnableTheTokioOrAsyncIoFeatureOrProvideASleeper`], which is not a sleeper, so that using an
/// async loop without one fails to compile with a message that says what to do.
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

/// Sleeps on tokio's timer and reads tokio's clock, so loops follow `tokio::time::pause` and
/// `advance` (a 45-second budget runs in no real time under `#[tokio::test(start_paused = true)]`).
///
/// Needs a tokio runtime with the time driver enabled when a loop waits.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let caller = stamina::AsyncRetryingCaller::new().sleeper(stamina::TokioSleeper);
/// let value = caller.call(|_: &std::fmt::Error| true, || async { Ok::<_, std::fmt::Error>(1) }).await;
/// assert_eq!(value, Ok(1));
/// # }
/// ```
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioSleeper;

#[cfg(feature = "tokio")]
impl Sleeper for TokioSleeper {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        // tokio caps deadlines it cannot represent to "far in the future".
        tokio::time::sleep(duration)
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// Sleeps on async-io's timer, for smol, async-std and any executor (async-io drives its own
/// reactor thread when nothing else does). Reads [`Instant::now`].
///
/// ```
/// let caller = stamina::AsyncRetryingCaller::new().sleeper(stamina::AsyncIoSleeper);
/// let value = smol::block_on(
///     caller.call(|_: &std::fmt::Error| true, || async { Ok::<_, std::fmt::Error>(1) }),
/// );
/// assert_eq!(value, Ok(1));
/// ```
#[cfg(feature = "async-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsyncIoSleeper;

#[cfg(feature = "async-io")]
impl Sleeper for AsyncIoSleeper {
    type Sleep = AsyncIoSleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        // `Timer::after` never fires when the deadline cannot be represented.
        AsyncIoSleep {
            timer: async_io::Timer::after(duration),
        }
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The future of [`AsyncIoSleeper::sleep`]: an async-io timer that completes with `()`.
#[cfg(feature = "async-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AsyncIoSleep {
    timer: async_io::Timer,
}

#[cfg(feature = "async-io")]
impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.timer).poll(cx).map(drop)
    }
}
