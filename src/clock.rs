//! Where synchronous loops take their time from and how they wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// The time source and sleep of synchronous retry loops.
///
/// Nothing in this crate reads the time or sleeps except through a `Clock` (or, for async loops,
/// a sleeper), so a loop driven by [`FakeClock`](crate::testing::FakeClock) runs through minutes
/// of backoff in microseconds and records every wait.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// /// Sleeps for real but never longer than 10 ms (say, for a demo).
/// #[derive(Clone, Copy, Debug)]
/// struct Impatient;
///
/// impl stamina::Clock for Impatient {
///     fn now(&self) -> Instant {
///         Instant::now()
///     }
///     fn sleep(&self, duration: Duration) {
///         std::thread::sleep(duration.min(Duration::from_millis(10)));
///     }
/// }
///
/// let result = stamina::RetryingCaller::new()
///     .attempts(2)
///     .clock(Impatient)
///     .call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
/// assert!(result.is_err());
/// ```
pub trait Clock {
    /// The current instant on a monotonic clock.
    fn now(&self) -> Instant;

    /// Blocks the current thread for `duration`.
    fn sleep(&self, duration: Duration);
}

/// The real clock: [`Instant::now`] and [`std::thread::sleep`]. The default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn sleep(&self, duration: Duration) {
        if !duration.is_zero() {
            std::thread::sleep(duration);
        }
    }
}

/// A clock behind a reference or a pointer is a clock.
macro_rules! clock_behind {
    ($($pointer:ty),*) => {$(
        impl<C: Clock + ?Sized> Clock for $pointer {
            fn now(&self) -> Instant {
                (**self).now()
            }

            fn sleep(&self, duration: Duration) {
                (**self).sleep(duration);
            }
        }
    )*};
}

clock_behind!(&C, Arc<C>, Box<C>);
