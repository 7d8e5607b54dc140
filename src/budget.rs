//! Shared retry budgets: a limit on retries across all the loops that share one, so that
//! retries cannot multiply the load on a struggling service.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ConfigError;

/// Tokens are kept in thousandths, so that fractional refills (a throttle's token ratio) are
/// exact.
const MILLI: u64 = 1000;

/// A budget of retries shared by every loop it is attached to, cheap to clone (clones share the
/// same tokens) and lock-free.
///
/// Per-call limits alone (attempts, timeout) let every caller retry during an outage, which
/// multiplies the load on the service exactly when it can least take it: with stamina's
/// defaults, a stalled service can receive several times its normal traffic and never recover.
/// A budget ties retries to how well the service is doing across all callers: while most calls
/// succeed there are tokens to spare; when most fail, retries stop and the load falls back to
/// about one call per request.
///
/// The first attempt of a loop is never gated: a budget only decides whether a failed attempt
/// may be retried. When it says no, the loop ends with the last error, as when the attempts run
/// out. In testing mode and when retries are switched off the budget is not consulted or
/// charged; successes always refill it.
///
/// Two flavours, with their published parameters:
///
/// - [`RetryBudget::retry_quota`]: the retry quota of the AWS SDKs' standard retry mode. A bucket
///   of 500 tokens; a retry costs 5 (10 after a timed-out attempt); a success gives back the cost
///   of the retry that led to it, or 1 token when it needed no retry. Retries stop when the
///   bucket cannot pay: after about 100 retries that did not pay off, recovering as calls
///   succeed again. Good default for clients of a service shared with many other clients.
/// - [`RetryBudget::throttle`]: gRPC's retry throttling. `max_tokens` tokens; every retryable
///   failure costs 1, every success gives back `token_ratio`; retries are allowed only while more
///   than half the tokens are left. It reacts to the failure *ratio*: with a ratio of 0.1, retries
///   stop once more than about 1 call in 11 fails. Good when a quick, proportional reaction
///   matters more than absorbing bursts.
///
/// ```
/// use std::time::Duration;
/// use stamina::{RetryBudget, RetryingCaller};
/// use stamina::testing::FakeClock;
///
/// // A small quota: room for exactly two retries of 5 tokens each.
/// let budget = RetryBudget::quota(10, 5, 10);
/// let caller = RetryingCaller::new()
///     .attempts(10)
///     .budget(&budget)
///     .clock(FakeClock::new());
///
/// let mut calls = 0;
/// let result = caller.call(|_: &std::io::Error| true, || {
///     calls += 1;
///     Err::<(), _>(std::io::Error::other("down"))
/// });
/// assert!(result.is_err());
/// assert_eq!(calls, 3); // the first attempt, then two retries the budget could pay for
/// assert_eq!(budget.available(), 0.0);
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    rules: Rules,
    capacity: u64,
    tokens: AtomicU64,
}

enum Rules {
    Quota { retry_cost: u64, timeout_cost: u64 },
    Throttle { ratio: u64 },
}

impl RetryBudget {
    /// The AWS SDKs' standard retry quota: 500 tokens, 5 per retry, 10 per retry after a
    /// timed-out attempt, 1 back per success without retry.
    pub fn retry_quota() -> Self {
        Self::quota(500, 5, 10)
    }

    /// A retry quota with its own capacity and costs (the bucket starts full). A success gives
    /// back the cost of the retry that led to it, or 1 token when it needed no retry.
    pub fn quota(capacity: u32, retry_cost: u32, timeout_cost: u32) -> Self {
        let milli = |tokens| u64::from(tokens) * MILLI;
        let rules = Rules::Quota {
            retry_cost: milli(retry_cost),
            timeout_cost: milli(timeout_cost),
        };
        Self::full(rules, milli(capacity))
    }

    /// gRPC's retry throttling with `max_tokens` (the bucket starts full) and `token_ratio`
    /// tokens back per success (kept to three decimals, as gRPC does).
    ///
    /// # Panics
    ///
    /// If `max_tokens` is 0 or `token_ratio` is not a finite number of at least 0.001, with the
    /// message of [`try_throttle`](Self::try_throttle)'s error.
    #[track_caller]
    pub fn throttle(max_tokens: u32, token_ratio: f64) -> Self {
        match Self::try_throttle(max_tokens, token_ratio) {
            Ok(budget) => budget,
            Err(err) => panic!("stamina: {err}"),
        }
    }

    /// gRPC's retry throttling, or why the parameters cannot work.
    ///
    /// # Errors
    ///
    /// If `max_tokens` is 0 or `token_ratio` is not a finite number of at least 0.001.
    ///
    /// ```
    /// let err = stamina::RetryBudget::try_throttle(10, 0.0).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid value \"0\" for token_ratio: expected a finite number >= 0.001");
    /// ```
    pub fn try_throttle(max_tokens: u32, token_ratio: f64) -> Result<Self, ConfigError> {
        let invalid =
            |key, value: String, expected| Err(ConfigError::invalid(key, &value, expected, None));
        if max_tokens == 0 {
            return invalid("max_tokens", max_tokens.to_string(), "a number >= 1");
        }
        // The documented bound is checked on the value given, before rounding to thousandths.
        if !(token_ratio.is_finite() && token_ratio >= 0.001) {
            return invalid(
                "token_ratio",
                token_ratio.to_string(),
                "a finite number >= 0.001",
            );
        }
        let max = u64::from(max_tokens) * MILLI;
        // Any ratio above the whole bucket refills it in one success (`as` saturates).
        let ratio = ((token_ratio * MILLI as f64).round() as u64).min(max);
        Ok(Self::full(Rules::Throttle { ratio }, max))
    }

    fn full(rules: Rules, capacity: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                rules,
                capacity,
                tokens: AtomicU64::new(capacity),
            }),
        }
    }

    /// The tokens left.
    pub fn available(&self) -> f64 {
        self.inner.tokens.load(Ordering::Acquire) as f64 / MILLI as f64
    }

    /// The most tokens the budget holds.
    pub fn capacity(&self) -> f64 {
        self.inner.capacity as f64 / MILLI as f64
    }

    /// Whether `other` is a clone of this budget (shares its tokens).
    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Applies `f` to the tokens atomically; returns the tokens before, or `None` if `f` refused.
    fn update(&self, f: impl FnMut(u64) -> Option<u64>) -> Result<u64, u64> {
        self.inner
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, f)
    }

    /// A failed attempt whose error is worth retrying (before any other limit is checked).
    pub(crate) fn on_retryable_failure(&self) {
        if let Rules::Throttle { .. } = self.inner.rules {
            let _ = self.update(|t| Some(t.saturating_sub(MILLI)));
        }
    }

    /// Pays for a retry; returns its cost, or `None` if the budget says no.
    pub(crate) fn try_withdraw(&self, timed_out: bool) -> Option<u64> {
        match self.inner.rules {
            Rules::Quota {
                retry_cost,
                timeout_cost,
            } => {
                let cost = if timed_out { timeout_cost } else { retry_cost };
                self.update(|t| t.checked_sub(cost)).ok().map(|_| cost)
            }
            Rules::Throttle { .. } => {
                let tokens = self.inner.tokens.load(Ordering::Acquire);
                (tokens > self.inner.capacity / 2).then_some(0)
            }
        }
    }

    /// A successful attempt, `paid` being the cost of the retry that led to it (0 for a success
    /// on the first attempt).
    pub(crate) fn on_success(&self, paid: u64) {
        let gain = match self.inner.rules {
            Rules::Quota { .. } if paid > 0 => paid,
            Rules::Quota { .. } => MILLI,
            Rules::Throttle { ratio } => ratio,
        };
        let cap = self.inner.capacity;
        let _ = self.update(|t| (t < cap).then(|| t.saturating_add(gain).min(cap)));
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RetryBudget");
        match self.inner.rules {
            Rules::Quota {
                retry_cost,
                timeout_cost,
            } => d
                .field("kind", &format_args!("quota"))
                .field("retry_cost", &(retry_cost / MILLI))
                .field("timeout_cost", &(timeout_cost / MILLI)),
            Rules::Throttle { ratio } => d
                .field("kind", &format_args!("throttle"))
                .field("token_ratio", &(ratio as f64 / MILLI as f64)),
        };
        d.field("available", &self.available())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_arithmetic() {
        let b = RetryBudget::retry_quota();
        assert_eq!((b.available(), b.capacity()), (500.0, 500.0));
        assert_eq!(b.try_withdraw(false), Some(5 * MILLI));
        assert_eq!(b.try_withdraw(true), Some(10 * MILLI));
        assert_eq!(b.available(), 485.0);
        b.on_success(10 * MILLI); // the timed-out retry paid off
        assert_eq!(b.available(), 495.0);
        b.on_success(0); // a first-attempt success
        assert_eq!(b.available(), 496.0);
        b.on_success(0);
        b.on_success(0);
        b.on_success(0);
        b.on_success(0);
        assert_eq!(b.available(), 500.0, "never above capacity");
        b.on_retryable_failure(); // quotas only pay for retries
        assert_eq!(b.available(), 500.0);
    }

    #[test]
    fn an_empty_quota_refuses_and_never_goes_negative() {
        let b = RetryBudget::quota(12, 5, 10);
        assert_eq!(b.try_withdraw(true), Some(10 * MILLI));
        assert_eq!(b.try_withdraw(false), None);
        assert_eq!(b.try_withdraw(true), None);
        assert_eq!(b.available(), 2.0);
        let empty = RetryBudget::quota(0, 5, 10);
        assert_eq!(empty.try_withdraw(false), None);
        assert_eq!(empty.available(), 0.0);
    }

    #[test]
    fn throttle_arithmetic() {
        // gRPC's example: 10 tokens, 0.1 back per success, retries while > 5 tokens.
        let b = RetryBudget::throttle(10, 0.1);
        let mut allowed = Vec::new();
        for _ in 0..6 {
            b.on_retryable_failure();
            allowed.push(b.try_withdraw(false).is_some());
        }
        // 9, 8, 7, 6 > 5: allowed; 5 and 4 are not.
        assert_eq!(allowed, [true, true, true, true, false, false]);
        assert_eq!(b.available(), 4.0);
        for _ in 0..11 {
            b.on_success(0);
        }
        assert_eq!(b.available(), 5.1);
        assert_eq!(b.try_withdraw(false), Some(0));
        for _ in 0..100 {
            b.on_retryable_failure();
        }
        assert_eq!(b.available(), 0.0, "never negative");
        for _ in 0..1000 {
            b.on_success(0);
        }
        assert_eq!(b.available(), 10.0, "never above max");
    }

    #[test]
    fn throttle_validation() {
        assert_eq!(
            RetryBudget::try_throttle(0, 0.1).unwrap_err().to_string(),
            "invalid value \"0\" for max_tokens: expected a number >= 1"
        );
        for bad in [
            f64::NAN,
            f64::INFINITY,
            -1.0,
            0.0,
            0.0004,
            0.0009,
            0.000_999_999,
        ] {
            let err = RetryBudget::try_throttle(10, bad).unwrap_err();
            assert_eq!(err.key(), Some("token_ratio"));
        }
        // The smallest ratio the docs allow is allowed, and kept as one thousandth.
        let smallest = RetryBudget::throttle(10, 0.001);
        smallest.on_retryable_failure();
        smallest.on_success(0);
        assert_eq!(smallest.available(), 9.001);
        let whole = RetryBudget::throttle(1, 1e12);
        whole.on_retryable_failure();
        whole.on_success(0);
        assert_eq!(whole.available(), 1.0);
    }

    #[test]
    fn concurrent_use_keeps_the_books_straight() {
        let b = RetryBudget::quota(1000, 5, 10);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let mut paid = 0u64;
                    for _ in 0..10_000 {
                        if let Some(cost) = b.try_withdraw(false) {
                            paid += 1;
                            b.on_success(cost);
                        }
                    }
                    paid
                })
            })
            .collect();
        let paid: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(
            paid, 80_000,
            "every withdrawal fits: each is refunded at once"
        );
        assert_eq!(b.available(), 1000.0);

        // Only withdrawals: exactly capacity / cost of them succeed, whatever the interleaving.
        let b = RetryBudget::quota(1000, 5, 10);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    (0..100).filter(|_| b.try_withdraw(false).is_some()).count()
                })
            })
            .collect();
        let granted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(granted, 200);
        assert_eq!(b.available(), 0.0);
    }

    #[test]
    fn debug() {
        assert_eq!(
            format!("{:?}", RetryBudget::retry_quota()),
            "RetryBudget { kind: quota, retry_cost: 5, timeout_cost: 10, available: 500.0, capacity: 500.0 }"
        );
        assert_eq!(
            format!("{:?}", RetryBudget::throttle(10, 0.1)),
            "RetryBudget { kind: throttle, token_ratio: 0.1, available: 10.0, capacity: 10.0 }"
        );
    }
}
