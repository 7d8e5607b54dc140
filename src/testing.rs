//! Test helpers: a fake clock and sleeper, and every switch of [`stamina::switches`](crate::switches)
//! under the names tests look for.
//!
//! The switches (turn retries off, make waits zero) are core behaviour and live in
//! [`switches`](crate::switches); they are re-exported here so that a test module needs one
//! import. The fakes make time virtual: [`FakeClock`] for sync loops and callers, [`FakeSleeper`]
//! for async ones, each recording every sleep with the virtual time it began at.
//!
//! ```
//! use stamina::testing::{self, Testing};
//!
//! #[derive(Debug)]
//! struct Flaky;
//!
//! let _guard = testing::thread_testing(Testing::new().attempts(3));
//! let mut calls = 0;
//! let result = stamina::RetryingCaller::new() // 10 attempts, 45 s timeout by default
//!     .call(|_: &Flaky| true, || {
//!         calls += 1;
//!         Err::<(), _>(Flaky)
//!     });
//! assert!(result.is_err());
//! assert_eq!(calls, 3); // forced to 3, and no wait took any time
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use crate::switches::{
    SwitchGuard, Testing, ThreadGuard, get_testing, is_active, is_testing, scoped_active,
    scoped_testing, set_active, set_testing, thread_active, thread_testing,
};
use crate::{Clock, Sleeper};

/// A [`Clock`] whose time only moves when a loop sleeps on it (or when told to), recording
/// every sleep.
///
/// Clones share the same virtual time and record, so keep one clone to inspect and hand another
/// to the loop. Virtual time saturates at about a century, so even `Duration::MAX` sleeps are
/// safe.
///
/// ```
/// use std::time::Duration;
/// use stamina::testing::FakeClock;
///
/// let clock = FakeClock::new();
/// let result = stamina::RetryingCaller::new()
///     .attempts(4)
///     .wait_jitter(Duration::ZERO)
///     .clock(clock.clone())
///     .call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
/// assert!(result.is_err());
/// assert_eq!(clock.sleeps(), [100, 200, 400].map(Duration::from_millis));
/// assert_eq!(clock.elapsed(), Duration::from_millis(700));
/// ```
#[derive(Clone)]
pub struct FakeClock {
    inner: Arc<Mutex<FakeState>>,
}

struct FakeState {
    origin: Instant,
    elapsed: Duration,
    sleeps: Vec<Duration>,
}

/// Where virtual time stops: 100 years, far below any platform's `Instant` limit.
const FAKE_HORIZON: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeClock {
    /// A clock at virtual time zero, with no sleeps recorded.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(FakeState {
                origin: Instant::now(),
                elapsed: Duration::ZERO,
                sleeps: Vec::new(),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves virtual time forward without recording a sleep (the time an attempt takes, say).
    pub fn advance(&self, duration: Duration) {
        let mut state = self.state();
        state.elapsed = state.elapsed.saturating_add(duration).min(FAKE_HORIZON);
    }

    /// Virtual time since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.state().elapsed
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state().sleeps.clone()
    }

    /// The sum of every sleep so far (saturating).
    pub fn slept(&self) -> Duration {
        self.state()
            .sleeps
            .iter()
            .fold(Duration::ZERO, |sum, d| sum.saturating_add(*d))
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        let state = self.state();
        state.origin + state.elapsed
    }

    fn sleep(&self, duration: Duration) {
        let mut state = self.state();
        state.sleeps.push(duration);
        state.elapsed = state.elapsed.saturating_add(duration).min(FAKE_HORIZON);
    }
}

impl fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("FakeClock")
            .field("elapsed", &state.elapsed)
            .field("sleeps", &state.sleeps)
            .finish()
    }
}

/// A [`Sleeper`] whose sleeps complete at once and move virtual time instead, recording every
/// wait: the async counterpart of [`FakeClock`], usable on any executor.
///
/// Clones share the same virtual time and record, so keep one clone to inspect and hand another
/// to the loop. Each sleep is recorded and moves virtual time when the loop asks for it; the
/// returned future is ready on its first poll.
///
/// ```
/// use std::time::Duration;
/// use stamina::testing::FakeSleeper;
///
/// let sleeper = FakeSleeper::new();
/// let caller = stamina::AsyncRetryingCaller::new()
///     .attempts(4)
///     .wait_jitter(Duration::ZERO)
///     .sleeper(sleeper.clone());
/// let result = futures::executor::block_on(
///     caller.call(|_: &std::fmt::Error| true, || async { Err::<(), _>(std::fmt::Error) }),
/// );
/// assert!(result.is_err());
/// assert_eq!(sleeper.sleeps(), [100, 200, 400].map(Duration::from_millis));
/// assert_eq!(sleeper.elapsed(), Duration::from_millis(700));
/// ```
#[derive(Clone, Default)]
pub struct FakeSleeper {
    clock: FakeClock,
}

impl FakeSleeper {
    /// A sleeper at virtual time zero, with no sleeps recorded.
    pub fn new() -> Self {
        Self {
            clock: FakeClock::new(),
        }
    }

    /// Moves virtual time forward without recording a sleep (the time an attempt takes, say).
    pub fn advance(&self, duration: Duration) {
        self.clock.advance(duration);
    }

    /// Virtual time since the sleeper was made.
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.clock.sleeps()
    }

    /// The sum of every sleep so far (saturating).
    pub fn slept(&self) -> Duration {
        self.clock.slept()
    }
}

impl Sleeper for FakeSleeper {
    type Sleep = std::future::Ready<()>;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.clock.sleep(duration);
        std::future::ready(())
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }
}

impl fmt::Debug for FakeSleeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.clock.state();
        f.debug_struct("FakeSleeper")
            .field("elapsed", &state.elapsed)
            .field("sleeps", &state.sleeps)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_saturates() {
        let clock = FakeClock::new();
        let start = clock.now();
        clock.sleep(Duration::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.elapsed(), FAKE_HORIZON);
        assert_eq!(clock.now() - start, FAKE_HORIZON);
        assert_eq!(clock.slept(), Duration::MAX);
    }
}
