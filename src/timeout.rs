//! The per-attempt timeout of async loops: its error, the type-level switch that requires
//! `E: From<AttemptTimedOut>` only where a timeout is set, and the future that enforces it.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use crate::Sleeper;
use crate::config::HumanDuration;
use crate::machine;
use crate::nesting;

/// The error of an async attempt that was cancelled because it ran past its
/// [`attempt_timeout`](crate::AsyncRetryingCaller::attempt_timeout) or the loop's deadline.
///
/// Loops with an attempt timeout require `E: From<AttemptTimedOut>` of their error type `E`, and
/// convert it into `E` when an attempt times out; the `on` predicate then classifies it like any
/// other error (usually as worth retrying).
///
/// ```
/// use std::{fmt, time::Duration};
/// use stamina::AttemptTimedOut;
///
/// #[derive(Debug)]
/// enum FetchError {
///     TimedOut(AttemptTimedOut),
///     NotFound,
/// }
///
/// impl From<AttemptTimedOut> for FetchError {
///     fn from(error: AttemptTimedOut) -> Self {
///         Self::TimedOut(error)
///     }
/// }
///
/// fn is_transient(error: &FetchError) -> bool {
///     matches!(error, FetchError::TimedOut(_))
/// }
///
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let result = stamina::AsyncRetryingCaller::new()
///     .attempts(2)
///     .attempt_timeout(Duration::from_secs(1))
///     .call(is_transient, || async {
///         std::future::pending::<()>().await; // hangs: cancelled after 1 s
///         Err::<(), _>(FetchError::NotFound)
///     })
///     .await;
/// let Err(FetchError::TimedOut(timed_out)) = result else { panic!() };
/// assert_eq!(timed_out.to_string(), "attempt timed out after 1s");
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttemptTimedOut {
    after: Duration,
}

impl AttemptTimedOut {
    /// How long the attempt was given: the attempt timeout, or less when the loop's deadline came
    /// first.
    pub const fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for AttemptTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt timed out after {}", HumanDuration(self.after))
    }
}

impl Error for AttemptTimedOut {}

/// An [`io::Error`](std::io::Error) of kind [`TimedOut`](std::io::ErrorKind::TimedOut) that
/// wraps the `AttemptTimedOut` (get it back with `get_ref` and `downcast_ref`), so that loops
/// over `std::io::Result` can have an attempt timeout.
///
/// ```
/// use std::io;
/// use std::time::Duration;
///
/// # #[cfg(feature = "tokio")]
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let result = stamina::AsyncRetryingCaller::new()
///     .attempts(2)
///     .attempt_timeout(Duration::from_secs(1))
///     .call(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut, || std::future::pending::<io::Result<()>>())
///     .await;
/// let error = result.unwrap_err();
/// assert_eq!(error.kind(), io::ErrorKind::TimedOut);
/// assert_eq!(error.to_string(), "attempt timed out after 1s");
/// # }
/// # #[cfg(not(feature = "tokio"))]
/// # fn main() {}
/// ```
impl From<AttemptTimedOut> for std::io::Error {
    fn from(error: AttemptTimedOut) -> Self {
        Self::new(std::io::ErrorKind::TimedOut, error)
    }
}

mod sealed {
    //! Public in a private module: nameable by the public traits below, implementable or usable
    //! only here.
    #![allow(unreachable_pub)]

    use std::future::Future;
    use std::marker::PhantomData;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use pin_project_lite::pin_project;

    use super::AttemptTimedOut;

    pub trait Sealed {}

    /// The timer of an attempt without a timeout, which cannot exist: an `Option` of it is
    /// always `None` and takes no space.
    #[derive(Debug)]
    pub enum NoTimer<E> {
        #[doc(hidden)]
        Never(std::convert::Infallible, PhantomData<fn() -> E>),
    }

    impl<E> Future for NoTimer<E> {
        type Output = E;

        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<E> {
            match *self {
                Self::Never(never, _) => match never {},
            }
        }
    }

    pin_project! {
        /// The timer of an attempt with a timeout: [`AttemptTimedOut`] converted into the
        /// attempt's error once its sleep completes.
        #[derive(Debug)]
        #[must_use = "futures do nothing unless you `.await` or poll them"]
        pub struct Timer<S, E> {
            #[pin]
            sleep: S,
            after: Duration,
            error: PhantomData<fn() -> E>,
        }
    }

    impl<S, E> Timer<S, E> {
        pub(super) const fn new(sleep: S, after: Duration) -> Self {
            Self {
                sleep,
                after,
                error: PhantomData,
            }
        }
    }

    impl<S: Future<Output = ()>, E: From<AttemptTimedOut>> Future for Timer<S, E> {
        type Output = E;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<E> {
            let this = self.project();
            let after = *this.after;
            this.sleep
                .poll(cx)
                .map(|()| E::from(AttemptTimedOut { after }))
        }
    }
}

/// Whether a loop's attempts can be cut at a timeout, at the type level: [`NoAttemptTimeout`]
/// until an `attempt_timeout` setter makes it [`AttemptTimeout`]. Sealed: it shows up in bounds
/// only.
pub trait AttemptTimeoutKind: sealed::Sealed {
    /// Whether the loop's error type converts from [`AttemptTimedOut`], so that an attempt
    /// can be cut.
    #[doc(hidden)]
    const CUTS: bool;
}

/// The attempt timeout of a loop whose errors are `E`: only loops with a timeout require
/// `E: From<AttemptTimedOut>`, so that every error type works with [`NoAttemptTimeout`], and
/// with [`AttemptTimeout`] exactly the error types that convert from [`AttemptTimedOut`] do.
/// Sealed: it shows up in bounds only.
///
/// ```
/// use std::time::Duration;
///
/// // No timeout: any error type will do.
/// let plain = stamina::AsyncRetryingCaller::new();
/// // With a timeout, the error type must convert from `AttemptTimedOut`, as `std::io::Error`
/// // does (with kind `TimedOut`); wrap other error types in your own.
/// let timed: stamina::AsyncRetryingCaller<_, stamina::AttemptTimeout> =
///     plain.attempt_timeout(Duration::from_secs(2));
/// # let _ = timed;
/// ```
#[diagnostic::on_unimplemented(
    message = "an attempt timeout is set, so the error type `{E}` must implement `From<stamina::AttemptTimedOut>`",
    label = "`{E}` cannot represent a timed-out attempt"
)]
pub trait AttemptTimeoutMode<E>: AttemptTimeoutKind {
    /// The timer that an attempt races against, made from the sleeper's sleep `S`: its output
    /// is the attempt's error. Without a timeout it cannot exist, and an attempt holds nothing
    /// for it (its `Option` has no size).
    #[doc(hidden)]
    type Timer<S: Future<Output = ()>>: Future<Output = E>;

    /// The timer of an attempt that starts now with `timeout`, if attempts can be cut: it
    /// fires after the timeout or at `deadline`, whichever comes first.
    #[doc(hidden)]
    fn timer<S: Sleeper>(
        sleeper: &S,
        timeout: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Option<Self::Timer<S::Sleep>>;
}

/// Async attempts run without a per-attempt timeout (the default), whatever their error type.
///
/// See [`AttemptTimeoutMode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NoAttemptTimeout;

impl sealed::Sealed for NoAttemptTimeout {}

impl AttemptTimeoutKind for NoAttemptTimeout {
    const CUTS: bool = false;
}

impl<E> AttemptTimeoutMode<E> for NoAttemptTimeout {
    type Timer<S: Future<Output = ()>> = sealed::NoTimer<E>;

    fn timer<S: Sleeper>(
        _: &S,
        _: Option<Duration>,
        _: Option<Instant>,
    ) -> Option<sealed::NoTimer<E>> {
        None
    }
}

/// Async attempts are cancelled after the policy's
/// [`attempt_timeout`](crate::RetryPolicy::attempt_timeout), or at the loop's deadline if that
/// comes first, and fail with [`AttemptTimedOut`] converted into the loop's error type.
///
/// Made by the `attempt_timeout` setters; see [`AttemptTimeoutMode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttemptTimeout;

impl sealed::Sealed for AttemptTimeout {}

impl AttemptTimeoutKind for AttemptTimeout {
    const CUTS: bool = true;
}

impl<E: From<AttemptTimedOut>> AttemptTimeoutMode<E> for AttemptTimeout {
    type Timer<S: Future<Output = ()>> = sealed::Timer<S, E>;

    fn timer<S: Sleeper>(
        sleeper: &S,
        timeout: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Option<sealed::Timer<S::Sleep, E>> {
        // The deadline is ignored in testing mode, as `remaining` says; the attempt timeout is
        // not.
        let timeout = timeout?;
        let left = machine::remaining(deadline, || sleeper.now());
        let after = left.map_or(timeout, |left| left.min(timeout));
        Some(sealed::Timer::new(sleeper.sleep(after), after))
    }
}

/// Awaits `future` as one attempt: as is unless `M` cuts attempts, otherwise cancelled (dropped)
/// after `timeout` or at `deadline`, whichever comes first. The output says whether the attempt
/// timed out.
///
/// A plain function returning a hand-written future, not an `async fn`: the arguments of an
/// `async fn` stay in its state next to the locals made from them, which would hold the user's
/// future twice in every loop's future.
pub(crate) fn run_attempt<T, E, M, S, Fut>(
    sleeper: &S,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    make: impl FnOnce() -> Fut,
) -> RunAttempt<Fut, M::Timer<S::Sleep>>
where
    M: AttemptTimeoutMode<E>,
    S: Sleeper,
    Fut: Future<Output = Result<T, E>>,
{
    // Loops started by the attempt see themselves nested, from the synchronous part of the
    // closure that makes its future to the future's last poll. The timer starts after it.
    let future = nesting::InAttemptFuture::new(nesting::in_attempt(make));
    RunAttempt {
        future,
        timer: M::timer(sleeper, timeout, deadline),
    }
}

pin_project! {
    /// One attempt's future, raced against its timer when there is one: the attempt's output
    /// and `false`, or the timer's error and `true` once the timer fires first.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub(crate) struct RunAttempt<F, T> {
        #[pin]
        future: nesting::InAttemptFuture<F>,
        #[pin]
        timer: Option<T>,
    }
}

impl<V, E, F, T> Future for RunAttempt<F, T>
where
    F: Future<Output = Result<V, E>>,
    T: Future<Output = E>,
{
    type Output = (Result<V, E>, bool);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The attempt goes first: an attempt that finishes as time runs out still counts.
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready((output, false));
        }
        match this.timer.as_pin_mut() {
            Some(timer) => timer.poll(cx).map(|error| (Err(error), true)),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use std::future::{pending, ready};

    type Limited<F> = RunAttempt<F, sealed::Timer<std::future::Ready<()>, AttemptTimedOut>>;

    fn limited<F>(future: F) -> Limited<F> {
        RunAttempt {
            future: nesting::InAttemptFuture::new(future),
            timer: Some(sealed::Timer::new(ready(()), Duration::from_secs(1))),
        }
    }

    #[test]
    fn without_a_timeout_an_attempt_holds_nothing_for_one() {
        assert_eq!(std::mem::size_of::<Option<sealed::NoTimer<u64>>>(), 0);
        let sleeper = crate::testing::FakeSleeper::new();
        let timer = <NoAttemptTimeout as AttemptTimeoutMode<std::io::Error>>::timer(
            &sleeper,
            Some(Duration::from_secs(1)),
            None,
        );
        let _: &Option<sealed::NoTimer<std::io::Error>> = &timer;
        assert!(timer.is_none());
    }

    #[test]
    fn the_attempt_wins_a_tie_with_the_timer() {
        assert_eq!(block_on(limited(ready(Ok(5)))), (Ok(5), false));
        let after = Duration::from_secs(1);
        assert_eq!(
            block_on(limited(pending::<Result<u8, _>>())),
            (Err(AttemptTimedOut { after }), true)
        );
    }

    #[test]
    fn an_io_error_of_kind_timed_out_wraps_it() {
        let timed_out = AttemptTimedOut {
            after: Duration::from_secs(2),
        };
        let error = std::io::Error::from(timed_out);
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(error.to_string(), "attempt timed out after 2s");
        let inner = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<AttemptTimedOut>());
        assert_eq!(inner, Some(&timed_out));
    }

    #[test]
    fn the_error_reads_well() {
        let error = AttemptTimedOut {
            after: Duration::from_millis(1500),
        };
        assert_eq!(error.to_string(), "attempt timed out after 1s500ms");
        assert_eq!(format!("{AttemptTimeout:?}"), "AttemptTimeout");
    }
}
