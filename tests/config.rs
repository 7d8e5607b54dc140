//! Config strings: any policy prints to a string that parses back to the same policy.

use std::time::Duration;

use proptest::prelude::*;
use stamina::{Jitter, RetryPolicy};

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..100_000_000_000).prop_map(Duration::from_nanos),
    ]
}

fn policy() -> impl Strategy<Value = RetryPolicy> {
    (
        prop::option::of(any::<u32>()),
        prop::option::of(duration()),
        duration(),
        duration(),
        duration(),
        prop_oneof![Just(1.0), Just(2.0), 1.0f64..1e300],
        prop::option::of(any::<u64>()),
        prop_oneof![
            Just(Jitter::Additive),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
        ],
    )
        .prop_map(
            |(attempts, timeout, initial, max, jitter, base, seed, family)| {
                let mut p = RetryPolicy::new()
                    .jitter(family)
                    .wait_initial(initial)
                    .wait_max(max)
                    .wait_jitter(jitter)
                    .wait_exp_base(base);
                p = match attempts {
                    Some(n) => p.attempts(n),
                    None => p.unlimited_attempts(),
                };
                p = match timeout {
                    Some(t) => p.timeout(t),
                    None => p.no_timeout(),
                };
                if let Some(seed) = seed {
                    p = p.seed(seed);
                }
                p
            },
        )
}

proptest! {
    #[test]
    fn display_parses_back(p in policy()) {
        let text = p.to_string();
        let parsed: RetryPolicy = text.parse().unwrap();
        prop_assert_eq!(parsed, p);
    }

    #[test]
    fn garbage_never_panics(s in "\\PC{0,40}") {
        let _ = s.parse::<RetryPolicy>();
    }
}

#[test]
fn an_env_var_style_string() {
    let p: RetryPolicy = "attempts=5 timeout=30s wait_initial=100ms".parse().unwrap();
    assert_eq!(p.get_attempts(), Some(5));
    assert_eq!(p.get_timeout(), Some(Duration::from_secs(30)));
    assert_eq!(p.get_wait_initial(), Duration::from_millis(100));
    assert_eq!(p.get_wait_max(), Duration::from_secs(5));
}
