//! Wait computation: the exponential part without overflow, the jitter, the cap.
//!
//! Every function here is total: any policy and any attempt number up to `u32::MAX` give a
//! duration in `[0, wait_max]`, never a panic.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::RetryPolicy;

/// The jitter-free part of the wait after failed attempt `retry_num` (1-based):
/// `min(wait_max, wait_initial * wait_exp_base^(retry_num - 1))`, saturating.
pub(crate) fn exponential(policy: &RetryPolicy, retry_num: u32) -> Duration {
    let initial = policy.get_wait_initial();
    let max = policy.get_wait_max();
    if initial.is_zero() {
        return Duration::ZERO;
    }
    if initial >= max {
        return max;
    }
    let base = policy.get_wait_exp_base();
    let exponent = retry_num.saturating_sub(1);
    let factor = if base == 1.0 || exponent == 0 {
        1.0
    } else if let Ok(exponent) = i32::try_from(exponent) {
        base.powi(exponent)
    } else {
        // Any base > 1 to a power beyond i32::MAX is infinite.
        f64::INFINITY
    };
    let nanos = initial.as_nanos() as f64 * factor;
    // NaN cannot arise here, but ruling it out costs nothing.
    if nanos.is_nan() || nanos >= max.as_nanos() as f64 {
        return max;
    }
    from_nanos_f64(nanos).min(max)
}

/// `min(wait_max, exponential + U(0, wait_jitter))`: the cap comes after the jitter, so once the
/// exponential part reaches `wait_max` every wait is exactly `wait_max` (and no number is drawn).
pub(crate) fn jittered(policy: &RetryPolicy, retry_num: u32, rng: &mut SmallRng) -> Duration {
    let max = policy.get_wait_max();
    let exp = exponential(policy, retry_num);
    if exp >= max {
        return max;
    }
    exp.saturating_add(uniform(policy.get_wait_jitter(), rng))
        .min(max)
}

/// A uniformly distributed duration in `[0, max]`.
pub(crate) fn uniform(max: Duration, rng: &mut SmallRng) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    match u64::try_from(max.as_nanos()) {
        Ok(nanos) => Duration::from_nanos(rng.random_range(0..=nanos)),
        // Beyond 584 years of jitter nanosecond resolution is moot.
        Err(_) => from_nanos_f64(max.as_nanos() as f64 * rng.random::<f64>()).min(max),
    }
}

/// A fresh generator: seeded from the policy if it has a seed, from the thread's generator if not.
pub(crate) fn rng(policy: &RetryPolicy) -> SmallRng {
    match policy.get_seed() {
        Some(seed) => SmallRng::seed_from_u64(seed),
        None => SmallRng::from_rng(&mut rand::rng()),
    }
}

/// Converts a non-negative number of nanoseconds to a `Duration`, saturating at `Duration::MAX`.
fn from_nanos_f64(nanos: f64) -> Duration {
    if nanos <= 0.0 || nanos.is_nan() {
        Duration::ZERO
    } else if nanos < u64::MAX as f64 {
        Duration::from_nanos(nanos.round() as u64)
    } else {
        Duration::try_from_secs_f64(nanos / 1e9).unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn jitter_free_defaults() {
        let p = RetryPolicy::new().wait_jitter(Duration::ZERO);
        let waits: Vec<_> = (1..=9).map(|n| exponential(&p, n)).collect();
        let expected: Vec<_> = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
            .into_iter()
            .map(secs)
            .collect();
        assert_eq!(waits, expected);
        let mut rng = SmallRng::seed_from_u64(0);
        let jittered: Vec<_> = (1..=9).map(|n| jittered(&p, n, &mut rng)).collect();
        assert_eq!(jittered, expected);
    }

    #[test]
    fn seeded_jitter_is_reproducible_and_bounded() {
        let p = RetryPolicy::new();
        let draw = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            (1..=10)
                .map(|n| jittered(&p, n, &mut rng))
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        for (n, wait) in (1..=10).zip(&a) {
            let low = exponential(&p, n);
            assert!(*wait >= low && *wait <= (low + Duration::from_secs(1)).min(p.get_wait_max()));
        }
        // 3.2 s plus up to 1 s may cross the cap; from the 7th wait on, the cap rules alone.
        assert_eq!(&a[6..], &[Duration::from_secs(5); 4]);
    }

    #[test]
    fn extremes_saturate() {
        let p = RetryPolicy::new()
            .wait_max(Duration::MAX)
            .wait_jitter(Duration::MAX);
        assert_eq!(exponential(&p, u32::MAX), Duration::MAX);
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(jittered(&p, u32::MAX, &mut rng), Duration::MAX);
        assert!(jittered(&p, 1, &mut rng) >= Duration::from_millis(100));
        let zero = RetryPolicy::new()
            .wait_initial(Duration::ZERO)
            .wait_jitter(Duration::ZERO);
        assert_eq!(exponential(&zero, u32::MAX), Duration::ZERO);
        let flat = RetryPolicy::new().wait_exp_base(1.0);
        assert_eq!(exponential(&flat, u32::MAX), Duration::from_millis(100));
        assert_eq!(exponential(&p, 0), Duration::from_millis(100));
        let above = RetryPolicy::new().wait_initial(Duration::from_secs(9));
        assert_eq!(exponential(&above, 1), Duration::from_secs(5));
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            (0u64..10_000_000_000).prop_map(Duration::from_nanos),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    fn any_policy() -> impl Strategy<Value = RetryPolicy> {
        (
            any_duration(),
            any_duration(),
            any_duration(),
            prop_oneof![Just(1.0), Just(2.0), 1.0f64..1e6, Just(f64::MAX)],
            any::<u64>(),
        )
            .prop_map(|(initial, max, jitter, base, seed)| {
                RetryPolicy::new()
                    .wait_initial(initial)
                    .wait_max(max)
                    .wait_jitter(jitter)
                    .wait_exp_base(base)
                    .seed(seed)
            })
    }

    proptest! {
        #[test]
        fn every_wait_is_within_bounds(p in any_policy(), n in prop_oneof![1u32..64, any::<u32>()]) {
            let mut rng = rng(&p);
            let exp = exponential(&p, n);
            let wait = jittered(&p, n, &mut rng);
            prop_assert!(exp <= p.get_wait_max());
            prop_assert!(wait <= p.get_wait_max());
            prop_assert!(wait >= exp);
            prop_assert!(wait <= exp.saturating_add(p.get_wait_jitter()));
        }

        #[test]
        fn exponential_never_shrinks(p in any_policy(), n in 1u32..u32::MAX) {
            prop_assert!(exponential(&p, n) <= exponential(&p, n + 1));
        }
    }
}
