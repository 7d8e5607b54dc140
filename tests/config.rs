//! Config strings: any policy prints to a string that parses back to the same policy, no string
//! makes parsing panic, and every error names its key.

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
        prop::option::of(duration()),
        prop_oneof![
            Just(Jitter::Additive),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
        ],
    )
        .prop_map(
            |(attempts, timeout, initial, max, jitter, base, seed, ceiling, family)| {
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
                if let Some(ceiling) = ceiling {
                    p = p.retry_after_max(ceiling);
                }
                p
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn display_parses_back(p in policy()) {
        let text = p.to_string();
        let parsed: RetryPolicy = text.parse().unwrap();
        prop_assert_eq!(parsed, p);
    }

    #[test]
    fn garbage_never_panics(s in "\\PC{0,40}") {
        check_outcome(&s)?;
    }

    #[test]
    fn near_valid_strings_never_panic(s in config_string()) {
        check_outcome(&s)?;
    }
}

const KEYS: [&str; 9] = [
    "attempts",
    "timeout",
    "wait_initial",
    "wait_max",
    "wait_jitter",
    "wait_exp_base",
    "jitter",
    "retry_after_max",
    "seed",
];

/// Values that reach every value parser, most of them near a limit.
fn value() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("584542046090".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0u32..1000).prop_map(|n| n.to_string()),
        "[0-9]{1,40}",
        "[0-9]{1,3}\\.[0-9]{1,25}",
    ];
    let unit = prop::sample::select(vec![
        "ns", "us", "\u{b5}s", "ms", "s", "m", "min", "h", "d", "days", "w", "M", "months", "y",
        "years", "", "parsecs", "S",
    ]);
    prop_oneof![
        prop::collection::vec((number.clone(), unit), 1..5)
            .prop_map(|parts| parts.into_iter().map(|(n, u)| n + u).collect::<String>()),
        number,
        Just("none".to_owned()),
        Just("unlimited".to_owned()),
        Just("584542046090years7months15days17h5m3s999ms999us999ns1ns".to_owned()),
        prop::sample::select(vec!["additive", "full", "equal", "decorrelated", "Full"])
            .prop_map(str::to_owned),
        any::<f64>().prop_map(|f| f.to_string()),
        "\\PC{0,12}",
    ]
}

/// `key=value` items, known and unknown keys, repeated keys, missing `=`, odd separators.
fn config_string() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        8 => prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ];
    let item = prop_oneof![
        8 => (key.clone(), value()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => key,
    ];
    let separator = prop::sample::select(vec![" ", ",", "  ", ", ", "\t"]);
    prop::collection::vec((item, separator), 0..5).prop_map(|items| {
        items
            .into_iter()
            .map(|(item, sep)| item + sep)
            .collect::<String>()
    })
}

/// Every outcome is `Ok` with a policy that prints back to an equal one, or an error naming a
/// key that the message shows.
fn check_outcome(s: &str) -> Result<(), TestCaseError> {
    match s.parse::<RetryPolicy>() {
        Ok(policy) => {
            let printed = policy.to_string();
            let again: RetryPolicy = printed
                .parse()
                .map_err(|e| TestCaseError::fail(format!("{printed:?} from {s:?}: {e}")))?;
            prop_assert_eq!(again, policy, "{:?} printed as {:?}", s, printed);
        }
        Err(err) => {
            let key = err.key();
            prop_assert!(key.is_some(), "{:?}: {} names no key", s, err);
            let key = key.unwrap_or_default();
            let message = err.to_string();
            prop_assert!(
                message.contains(key) || message.contains(&format!("{key:?}")),
                "{:?}: {} lacks {:?}",
                s,
                message,
                key
            );
        }
    }
    Ok(())
}

#[test]
fn near_valid_strings_reach_the_value_parsers() {
    // The strategy must exercise the value parsers, not just the key check: count the outcomes
    // of a fixed sample.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let (mut ok, mut bad_value) = (0, 0);
    for _ in 0..2000 {
        let s = config_string().new_tree(&mut runner).unwrap().current();
        match s.parse::<RetryPolicy>() {
            Ok(_) => ok += 1,
            Err(e) if e.to_string().starts_with("invalid value") => bad_value += 1,
            Err(_) => {}
        }
    }
    assert!(ok > 200, "only {ok} of 2000 near-valid strings parsed");
    assert!(
        bad_value > 200,
        "only {bad_value} of 2000 reached a value parser and failed there"
    );
}

#[test]
fn an_env_var_style_string() {
    let p: RetryPolicy = "attempts=5 timeout=30s wait_initial=100ms".parse().unwrap();
    assert_eq!(p.get_attempts(), Some(5));
    assert_eq!(p.get_timeout(), Some(Duration::from_secs(30)));
    assert_eq!(p.get_wait_initial(), Duration::from_millis(100));
    assert_eq!(p.get_wait_max(), Duration::from_secs(5));
}

#[test]
fn settings_layer_over_an_applications_defaults() {
    const APP: RetryPolicy = RetryPolicy::new()
        .attempts(3)
        .timeout(Duration::from_secs(5))
        .wait_initial(Duration::from_millis(20))
        .jitter(Jitter::Full)
        .retry_after_max(Duration::from_secs(10))
        .seed(7);

    assert_eq!(APP.with_config("").unwrap(), APP);
    assert_eq!(APP.with_config("attempts=5").unwrap(), APP.attempts(5));
    assert_eq!(
        APP.with_config("timeout=none, wait_max=1s").unwrap(),
        APP.no_timeout().wait_max(Duration::from_secs(1))
    );
    assert_eq!(
        APP.with_config("retry_after_max=none seed=none").unwrap(),
        APP.no_retry_after_max().no_seed()
    );
    let cut = APP.attempt_timeout(Duration::from_secs(2));
    assert_eq!(cut.with_config("attempt_timeout=none").unwrap(), APP);
    assert_eq!(
        APP.with_config("jitter=additive").unwrap().get_jitter(),
        Jitter::Additive
    );
    // A key given twice is still an error, and so is a bad value: the base is not a fallback.
    let err = APP.with_config("attempts=5 attempts=6").unwrap_err();
    assert_eq!(err.to_string(), "key attempts is given more than once");
    let err = APP.with_config("timeout=soon").unwrap_err();
    assert_eq!(err.key(), Some("timeout"));
    // Parsing from scratch is parsing over the library's defaults.
    assert_eq!(
        "attempts=5".parse::<RetryPolicy>().unwrap(),
        RetryPolicy::new().with_config("attempts=5").unwrap()
    );
}

#[test]
fn every_kind_of_error_names_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "attempts",
            "attempts",
            "missing value for attempts: expected attempts=VALUE",
        ),
        (
            "tries=3",
            "tries",
            "unknown key \"tries\": expected one of attempts, timeout, wait_initial, wait_max, wait_jitter, wait_exp_base, jitter, retry_after_max, seed, attempt_timeout",
        ),
        (
            "=3",
            "",
            "unknown key \"\": expected one of attempts, timeout, wait_initial, wait_max, wait_jitter, wait_exp_base, jitter, retry_after_max, seed, attempt_timeout",
        ),
        ("seed=1 seed=2", "seed", "key seed is given more than once"),
        (
            "wait_exp_base=inf",
            "wait_exp_base",
            "invalid value \"inf\" for wait_exp_base: expected a finite number >= 1",
        ),
        (
            "jitter=Full",
            "jitter",
            "invalid value \"Full\" for jitter: expected one of additive, full, equal, decorrelated",
        ),
        (
            "timeout=18446744073709551615s1000000000ns",
            "timeout",
            "invalid value \"18446744073709551615s1000000000ns\" for timeout: expected a duration such as 30s or 250ms",
        ),
    ];
    for (input, key, message) in cases {
        let err = input.parse::<RetryPolicy>().unwrap_err();
        assert_eq!(err.key(), Some(*key), "{input}");
        assert_eq!(err.to_string(), *message, "{input}");
    }
}

/// A duration finer than a nanosecond cannot be held: it is refused, not rounded (to a shorter
/// wait, or to a zero timeout that would mean one attempt).
#[test]
fn durations_finer_than_a_nanosecond_are_refused() {
    let expected = "expected a duration in whole nanoseconds (1ns is the finest step)";
    let cases = [
        ("wait_max=1.5ns", "wait_max", "1.5ns"),
        ("timeout=0.0000000001ns", "timeout", "0.0000000001ns"),
        ("timeout=0.0000000001s", "timeout", "0.0000000001s"),
        ("wait_initial=1s0.5ns", "wait_initial", "1s0.5ns"),
        ("wait_jitter=0.1ns", "wait_jitter", "0.1ns"),
        (
            "retry_after_max=1.0000000001s",
            "retry_after_max",
            "1.0000000001s",
        ),
        (
            "attempt_timeout=0.000000000000000000000000001y",
            "attempt_timeout",
            "0.000000000000000000000000001y",
        ),
    ];
    for (input, key, value) in cases {
        let err = input.parse::<RetryPolicy>().unwrap_err();
        assert_eq!(err.key(), Some(key), "{input}");
        assert_eq!(
            err.to_string(),
            format!("invalid value {value:?} for {key}: {expected}"),
            "{input}"
        );
    }
    // Fractions that come to whole nanoseconds are exact, trailing zeros included.
    let exact = [
        ("1.5us", Duration::from_nanos(1_500)),
        ("1.000000001s", Duration::new(1, 1)),
        ("2.000000000000000000000000000ns", Duration::from_nanos(2)),
        ("0.00000000001h", Duration::from_nanos(36)),
        ("0.000ns", Duration::ZERO),
    ];
    for (value, duration) in exact {
        let policy: Result<RetryPolicy, _> = format!("timeout={value}").parse();
        assert_eq!(
            policy.map(|p| p.get_timeout()).ok(),
            Some(Some(duration)),
            "{value}"
        );
    }
}

/// Nanoseconds per unit, as the docs give them (a month is 30.44 days, a year 365.25).
const UNITS: [(&str, u128); 10] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
    ("M", 2_630_016_000_000_000),
    ("y", 31_557_600_000_000_000),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// `whole.fraction unit` is accepted exactly when it comes to a whole number of nanoseconds,
    /// and then it is that number, which the policy prints back exactly.
    #[test]
    fn accepted_durations_are_exact_and_print_back(
        whole in prop_oneof![0u32..10, any::<u32>()],
        fraction in "[0-9]{0,12}",
        (unit, per_unit) in prop::sample::select(UNITS.to_vec()),
    ) {
        let text = if fraction.is_empty() {
            format!("{whole}{unit}")
        } else {
            format!("{whole}.{fraction}{unit}")
        };
        let scale = 10u128.pow(fraction.len() as u32);
        let numerator = (u128::from(whole) * scale + fraction.parse().unwrap_or(0)) * per_unit;
        let parsed = format!("timeout={text}").parse::<RetryPolicy>();
        if numerator % scale == 0 {
            let nanos = numerator / scale;
            let expected = Duration::new((nanos / 1_000_000_000) as u64, (nanos % 1_000_000_000) as u32);
            let policy = parsed.map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(policy.get_timeout(), Some(expected), "{}", text);
            let printed = policy.to_string();
            let again: RetryPolicy = printed.parse().map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
            prop_assert_eq!(again.get_timeout(), Some(expected), "{} printed as {}", text, printed);
        } else {
            let err = parsed.err().map(|e| e.to_string());
            prop_assert_eq!(
                err,
                Some(format!(
                    "invalid value {text:?} for timeout: expected a duration in whole nanoseconds (1ns is the finest step)"
                ))
            );
        }
    }
}
