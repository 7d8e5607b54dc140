//! The retry configuration: limits and backoff parameters, shared by contexts and callers.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::config::HumanDuration;
use crate::{ConfigError, Jitter};

/// How many times to try, for how long, and how long to wait in between.
///
/// A `RetryPolicy` is a small `Copy` value: build it once (in a `const`, from a config string, from
/// CLI flags) and hand it to any number of [`retry_context`](crate::retry_context)s and
/// [`RetryingCaller`](crate::RetryingCaller)s. Every value it can hold works: the one parameter that
/// could be wrong, the exponential base, is validated when it is set.
///
/// # Default
///
/// The defaults are those of Python's *stamina*:
///
/// | parameter | default | meaning |
/// |---|---|---|
/// | `attempts` | `10` | every call counts, the first included; unlimited with [`unlimited_attempts`](Self::unlimited_attempts) |
/// | `timeout` | `45s` | total budget from the start of the first attempt, sleeps included; none with [`no_timeout`](Self::no_timeout) |
/// | `wait_initial` | `100ms` | the exponential part of the first wait |
/// | `wait_max` | `5s` | the cap, applied after the jitter |
/// | `wait_jitter` | `1s` | the upper bound of the uniform random jitter added to each wait |
/// | `wait_exp_base` | `2` | the growth factor of the exponential part |
///
/// The wait after failed attempt `n` (1-based) is
/// `min(wait_max, wait_initial * wait_exp_base^(n - 1) + U(0, wait_jitter))`.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use stamina::RetryPolicy;
///
/// const FAST: RetryPolicy = RetryPolicy::new()
///     .attempts(3)
///     .timeout(Duration::from_secs(5))
///     .wait_initial(Duration::from_millis(10));
///
/// assert_eq!(FAST.to_string(), "attempts=3 timeout=5s wait_initial=10ms wait_max=5s wait_jitter=1s wait_exp_base=2");
///
/// // The same value from a config string (an env var, a CLI flag):
/// let parsed: RetryPolicy = "attempts=3 timeout=5s wait_initial=10ms".parse()?;
/// assert_eq!(parsed, FAST);
/// # Ok::<(), stamina::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[must_use = "a RetryPolicy does nothing until it is given to a retry context or caller"]
pub struct RetryPolicy {
    attempts: Option<NonZeroU32>,
    timeout: Option<Duration>,
    wait_initial: Duration,
    wait_max: Duration,
    wait_jitter: Duration,
    wait_exp_base: f64,
    jitter: Jitter,
    retry_after_max: Option<Duration>,
    seed: Option<u64>,
    attempt_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// The default policy (see the [type-level docs](Self#default)).
    #[inline]
    pub const fn new() -> Self {
        Self {
            attempts: NonZeroU32::new(10),
            timeout: Some(Duration::from_secs(45)),
            wait_initial: Duration::from_millis(100),
            wait_max: Duration::from_secs(5),
            wait_jitter: Duration::from_secs(1),
            wait_exp_base: 2.0,
            jitter: Jitter::Additive,
            retry_after_max: None,
            seed: None,
            attempt_timeout: None,
        }
    }

    /// Makes at most `attempts` calls, the first one included. `0` behaves as `1`.
    pub const fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = NonZeroU32::new(if attempts == 0 { 1 } else { attempts });
        self
    }

    /// Removes the limit on the number of attempts: only the timeout (if any) and the `on`
    /// predicate end the loop.
    pub const fn unlimited_attempts(mut self) -> Self {
        self.attempts = None;
        self
    }

    /// Sets the total time budget, measured on the clock in use from the start of the first
    /// attempt and covering attempts and waits.
    ///
    /// The loop never starts a wait that would end at or after the deadline: it gives up at once
    /// with the last error instead. A zero timeout therefore means exactly one attempt.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Removes the total time budget: only the attempts limit and the `on` predicate end the loop.
    pub const fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Sets the exponential part of the first wait.
    pub const fn wait_initial(mut self, wait: Duration) -> Self {
        self.wait_initial = wait;
        self
    }

    /// Sets the cap on every computed wait, jitter included.
    ///
    /// Waits requested by the `on` predicate itself (a [`Duration`] or
    /// [`Decision::RetryAfter`](crate::Decision::RetryAfter)) are not capped.
    pub const fn wait_max(mut self, wait: Duration) -> Self {
        self.wait_max = wait;
        self
    }

    /// Sets the upper bound of the uniform random jitter added to each wait (zero turns it off).
    pub const fn wait_jitter(mut self, jitter: Duration) -> Self {
        self.wait_jitter = jitter;
        self
    }

    /// Sets the growth factor of the exponential part of the wait.
    ///
    /// # Panics
    ///
    /// If `base` is NaN, infinite or smaller than 1, with the message
    /// `stamina: wait_exp_base must be a finite number >= 1, got {base}`. Use
    /// [`try_wait_exp_base`](Self::try_wait_exp_base) for values that come from outside.
    #[track_caller]
    pub fn wait_exp_base(self, base: f64) -> Self {
        match self.try_wait_exp_base(base) {
            Ok(policy) => policy,
            Err(err) => panic!("stamina: {err}"),
        }
    }

    /// Sets the growth factor of the exponential part of the wait, or tells why it cannot work.
    ///
    /// # Errors
    ///
    /// If `base` is NaN, infinite or smaller than 1.
    ///
    /// ```
    /// use stamina::RetryPolicy;
    ///
    /// assert!(RetryPolicy::new().try_wait_exp_base(1.5).is_ok());
    /// let err = RetryPolicy::new().try_wait_exp_base(0.5).unwrap_err();
    /// assert_eq!(err.to_string(), "wait_exp_base must be a finite number >= 1, got 0.5");
    /// ```
    pub fn try_wait_exp_base(mut self, base: f64) -> Result<Self, ConfigError> {
        if base.is_finite() && base >= 1.0 {
            self.wait_exp_base = base;
            Ok(self)
        } else {
            Err(ConfigError::exp_base(base))
        }
    }

    /// Chooses how the waits are randomised: [`Jitter::Additive`] (Python stamina's, the default),
    /// [`Jitter::Full`], [`Jitter::Equal`] or [`Jitter::Decorrelated`]. See [`Jitter`] for the
    /// formulas and the order of cap and jitter.
    pub const fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets a ceiling on waits asked for by the `on` predicate
    /// ([`Decision::RetryAfter`](crate::Decision::RetryAfter), a returned `Duration`): a longer
    /// one ends the loop at once with the error, rather than sleeping into certain failure or
    /// letting a misbehaving server park the caller. Without a ceiling (the default) such waits
    /// are bounded by the total timeout only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::testing::FakeClock;
    ///
    /// let clock = FakeClock::new();
    /// let mut calls = 0;
    /// let result = stamina::RetryingCaller::new()
    ///     .no_timeout()
    ///     .retry_after_max(Duration::from_secs(30))
    ///     .clock(clock.clone())
    ///     .call(|_: &std::io::Error| Duration::from_secs(3600), || {
    ///         calls += 1;
    ///         Err::<(), _>(std::io::Error::other("503, come back in an hour"))
    ///     });
    /// assert!(result.is_err());
    /// assert_eq!(calls, 1);
    /// assert!(clock.sleeps().is_empty());
    /// ```
    pub const fn retry_after_max(mut self, ceiling: Duration) -> Self {
        self.retry_after_max = Some(ceiling);
        self
    }

    /// Removes the ceiling on waits asked for by the `on` predicate (the default): such waits are
    /// then bounded by the total timeout only.
    pub const fn no_retry_after_max(mut self) -> Self {
        self.retry_after_max = None;
        self
    }

    /// Seeds the random number generator used for the jitter, so that the sequence of waits is
    /// the same on every run (for tests and simulations): the loop then draws from a generator of its
    /// own, seeded with `seed`. By default the jitter comes from a generator per thread, seeded
    /// from the operating system's randomness.
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Removes the seed (the default): the jitter comes from the thread's generator.
    pub const fn no_seed(mut self) -> Self {
        self.seed = None;
        self
    }

    /// Gives each attempt at most `timeout`, or less when the loop's deadline comes first: an
    /// attempt still running then is cancelled and fails with
    /// [`AttemptTimedOut`](crate::AttemptTimedOut).
    ///
    /// Only loops that can cut an attempt short apply it: the async callers, streams and tower
    /// layers that were given an attempt timeout with their own `attempt_timeout` setter (which
    /// makes their error type convert from `AttemptTimedOut`), and the reqwest middleware, which
    /// makes it the request's timeout. Giving a policy with an attempt timeout to any other loop
    /// (a `for` loop, a blocking caller, an async caller without one) is refused: see
    /// [`Retrying::policy`](crate::Retrying::policy). The key `attempt_timeout` of a config
    /// string sets it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::RetryPolicy;
    ///
    /// let policy: RetryPolicy = "attempts=3 attempt_timeout=2s".parse()?;
    /// assert_eq!(policy.get_attempt_timeout(), Some(Duration::from_secs(2)));
    /// # Ok::<(), stamina::ConfigError>(())
    /// ```
    pub const fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Removes the attempt timeout (the default).
    pub const fn no_attempt_timeout(mut self) -> Self {
        self.attempt_timeout = None;
        self
    }

    /// The attempts limit, `None` if unlimited.
    pub const fn get_attempts(&self) -> Option<u32> {
        match self.attempts {
            Some(n) => Some(n.get()),
            None => None,
        }
    }

    /// The total time budget, `None` if there is none.
    pub const fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The exponential part of the first wait.
    pub const fn get_wait_initial(&self) -> Duration {
        self.wait_initial
    }

    /// The cap on computed waits.
    pub const fn get_wait_max(&self) -> Duration {
        self.wait_max
    }

    /// The upper bound of the jitter.
    pub const fn get_wait_jitter(&self) -> Duration {
        self.wait_jitter
    }

    /// The growth factor of the exponential part.
    pub const fn get_wait_exp_base(&self) -> f64 {
        self.wait_exp_base
    }

    /// The jitter family.
    pub const fn get_jitter(&self) -> Jitter {
        self.jitter
    }

    /// The ceiling on waits asked for by the `on` predicate, `None` if there is none.
    pub const fn get_retry_after_max(&self) -> Option<Duration> {
        self.retry_after_max
    }

    /// The jitter seed, `None` if every loop draws its own.
    pub const fn get_seed(&self) -> Option<u64> {
        self.seed
    }

    /// The attempt timeout, `None` if there is none.
    pub const fn get_attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    pub(crate) const fn attempts_limit(&self) -> Option<NonZeroU32> {
        self.attempts
    }

    /// Calls `field` with each key and value, durations written as in config strings: the one
    /// list behind the config string ([`Display`](fmt::Display)) and the front ends' `Debug`.
    pub(crate) fn fields(
        &self,
        mut field: impl FnMut(&'static str, &dyn fmt::Display) -> fmt::Result,
    ) -> fmt::Result {
        match self.attempts {
            Some(n) => field("attempts", &n)?,
            None => field("attempts", &"unlimited")?,
        }
        match self.timeout {
            Some(timeout) => field("timeout", &HumanDuration(timeout))?,
            None => field("timeout", &"none")?,
        }
        field("wait_initial", &HumanDuration(self.wait_initial))?;
        field("wait_max", &HumanDuration(self.wait_max))?;
        field("wait_jitter", &HumanDuration(self.wait_jitter))?;
        field("wait_exp_base", &self.wait_exp_base)?;
        if self.jitter != Jitter::Additive {
            field("jitter", &self.jitter)?;
        }
        if let Some(ceiling) = self.retry_after_max {
            field("retry_after_max", &HumanDuration(ceiling))?;
        }
        if let Some(seed) = self.seed {
            field("seed", &seed)?;
        }
        if let Some(timeout) = self.attempt_timeout {
            field("attempt_timeout", &HumanDuration(timeout))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_staminas() {
        let p = RetryPolicy::default();
        assert_eq!(p.get_attempts(), Some(10));
        assert_eq!(p.get_timeout(), Some(Duration::from_secs(45)));
        assert_eq!(p.get_wait_initial(), Duration::from_millis(100));
        assert_eq!(p.get_wait_max(), Duration::from_secs(5));
        assert_eq!(p.get_wait_jitter(), Duration::from_secs(1));
        assert_eq!(p.get_wait_exp_base(), 2.0);
        assert_eq!(p.get_seed(), None);
    }

    #[test]
    fn zero_attempts_is_one() {
        assert_eq!(RetryPolicy::new().attempts(0).get_attempts(), Some(1));
        assert_eq!(RetryPolicy::new().unlimited_attempts().get_attempts(), None);
    }

    #[test]
    fn exp_base_is_validated() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.999, 0.0, -2.0] {
            let err = RetryPolicy::new().try_wait_exp_base(bad).unwrap_err();
            assert_eq!(err.key(), Some("wait_exp_base"));
            assert_eq!(
                err.to_string(),
                format!("wait_exp_base must be a finite number >= 1, got {bad}")
            );
        }
        assert_eq!(
            RetryPolicy::new()
                .try_wait_exp_base(1.0)
                .unwrap()
                .get_wait_exp_base(),
            1.0
        );
    }

    #[test]
    #[should_panic(expected = "stamina: wait_exp_base must be a finite number >= 1, got NaN")]
    fn exp_base_panics_in_the_plain_builder() {
        let _ = RetryPolicy::new().wait_exp_base(f64::NAN);
    }
}
