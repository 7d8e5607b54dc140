//! Tools for tests: a fake clock and sleeper, and every switch of
//! [`stamina::switches`](crate::switches) under the names tests look for.
//!
//! The switches (retries off, [testing mode](crate::switches#testing-mode)) are core behaviour
//! and live in [`switches`](crate::switches); they are re-exported here so that a test module
//! needs one import. The fakes make time virtual: [`FakeClock`] for sync loops and callers, [`FakeSleeper`]
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
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use crate::switches::{
    SwitchGuard, Testing, ThreadGuard, WithSwitch, get_testing, is_active, is_testing,
    scoped_active, scoped_testing, set_active, set_testing, thread_active, thread_testing,
    with_active, with_testing,
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
    origin: Instant,
    state: Arc<Mutex<FakeState>>,
}

#[derive(Default)]
struct FakeState {
    elapsed: Duration,
    /// Every sleep: the virtual time it began at, and its length.
    sleeps: Vec<(Duration, Duration)>,
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
            origin: Instant::now(),
            state: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
        self.state().sleeps.iter().map(|&(_, d)| d).collect()
    }

    /// Every sleep so far, in order, with the virtual time (since the clock was made) at which
    /// it began: `(began, length)`. A test checks with it that no sleep crosses a deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::testing::FakeClock;
    ///
    /// let clock = FakeClock::new();
    /// let deadline = Duration::from_secs(1);
    /// let _ = stamina::RetryingCaller::new()
    ///     .unlimited_attempts()
    ///     .timeout(deadline)
    ///     .wait_jitter(Duration::ZERO)
    ///     .clock(clock.clone())
    ///     .call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
    /// let log = clock.sleep_log();
    /// assert_eq!(log.len(), 3); // 100, 200 and 400 ms; the next, 800 ms, would cross 1 s
    /// assert!(log.iter().all(|(began, length)| *began + *length < deadline));
    /// ```
    pub fn sleep_log(&self) -> Vec<(Duration, Duration)> {
        self.state().sleeps.clone()
    }

    /// The sum of every sleep so far (saturating).
    pub fn slept(&self) -> Duration {
        self.sleeps()
            .into_iter()
            .fold(Duration::ZERO, Duration::saturating_add)
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }

    fn sleep(&self, duration: Duration) {
        let mut state = self.state();
        let began = state.elapsed;
        state.sleeps.push((began, duration));
        state.elapsed = began.saturating_add(duration).min(FAKE_HORIZON);
    }
}

impl fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeClock")
            .field("elapsed", &self.elapsed())
            .field("sleeps", &self.sleeps())
            .finish()
    }
}

/// A [`Sleeper`] whose sleeps complete at once and move virtual time instead, recording every
/// wait: the async counterpart of [`FakeClock`], usable on any executor.
///
/// Clones share the same virtual time and record, so keep one clone to inspect and hand another
/// to the loop. A sleep moves virtual time and is recorded when it is first polled, not when it
/// is made, and its future is ready on that first poll: like a sleep on tokio's paused clock, a
/// sleep that is made but never awaited (the timer of an attempt timeout, when the attempt ends
/// first) takes no time, and one that is awaited while nothing else can make progress (a hung
/// attempt raced against its timeout) ends at once with its full length elapsed.
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
#[derive(Clone, Debug, Default)]
pub struct FakeSleeper {
    clock: FakeClock,
}

impl FakeSleeper {
    /// A sleeper at virtual time zero, with no sleeps recorded.
    pub fn new() -> Self {
        Self::default()
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

    /// Every sleep so far, in order, with the virtual time it began at (see
    /// [`FakeClock::sleep_log`]).
    pub fn sleep_log(&self) -> Vec<(Duration, Duration)> {
        self.clock.sleep_log()
    }

    /// The sum of every sleep so far (saturating).
    pub fn slept(&self) -> Duration {
        self.clock.slept()
    }
}

/// The future of a [`FakeSleeper`] sleep: on its first poll it moves virtual time by its length,
/// records itself and is ready.
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct FakeSleep {
    // `None` once polled.
    pending: Option<(FakeClock, Duration)>,
}

impl Future for FakeSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if let Some((clock, duration)) = self.pending.take() {
            clock.sleep(duration);
        }
        Poll::Ready(())
    }
}

// A test double is no fix for a missing sleeper: errors do not list it.
#[diagnostic::do_not_recommend]
impl Sleeper for FakeSleeper {
    type Sleep = FakeSleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        FakeSleep {
            pending: Some((self.clock.clone(), duration)),
        }
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_saturates_at_a_hundred_years() {
        let hundred_years = Duration::from_secs(3_153_600_000);
        let clock = FakeClock::new();
        let start = clock.now();
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.elapsed(), Duration::from_secs(1));
        assert!(clock.sleeps().is_empty(), "an advance is no sleep");
        clock.advance(Duration::MAX);
        assert_eq!(clock.elapsed(), hundred_years);
        clock.sleep(Duration::MAX);
        assert_eq!(clock.now() - start, hundred_years);
        assert_eq!(clock.slept(), Duration::MAX);
    }

    #[test]
    fn a_fake_clock_prints_its_time_and_sleeps() {
        let clock = FakeClock::new();
        clock.sleep(Duration::from_millis(100));
        clock.advance(Duration::from_millis(5));
        assert_eq!(
            format!("{clock:?}"),
            "FakeClock { elapsed: 105ms, sleeps: [100ms] }"
        );
    }
}
