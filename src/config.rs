//! Config strings: a [`RetryPolicy`] written as `key=value` pairs and read back from environment
//! variables and CLI flags, and the error that names what is wrong with one.
//!
//! Durations are read by the crate's own parser (humantime's units, checked arithmetic), so that
//! no string, however long its numbers, can make parsing panic.

use std::error::Error;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::{Jitter, RetryPolicy};

/// A duration written compactly (`1m30s`, `100ms`), in a form `humantime` parses back.
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spaced = humantime::format_duration(self.0).to_string();
        f.write_str(&spaced.replace(' ', ""))
    }
}

/// Writes the policy as a config string that [`FromStr`] parses back to the same value.
///
/// ```
/// let policy = stamina::RetryPolicy::new().unlimited_attempts().no_timeout();
/// assert_eq!(
///     policy.to_string(),
///     "attempts=unlimited timeout=none wait_initial=100ms wait_max=5s wait_jitter=1s wait_exp_base=2",
/// );
/// assert_eq!(policy.to_string().parse::<stamina::RetryPolicy>().unwrap(), policy);
/// ```
impl fmt::Display for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        self.fields(|key, value| {
            write!(f, "{separator}{key}={value}")?;
            separator = " ";
            Ok(())
        })
    }
}

/// Parses a config string of `key=value` pairs separated by spaces or commas, such as
/// `"attempts=5 timeout=30s wait_initial=100ms"`.
///
/// Keys not given keep their [defaults](RetryPolicy#default); to keep an application's own
/// defaults instead, parse over them with [`RetryPolicy::with_config`]. Durations use
/// `humantime`'s units (`250ms`, `30s`, `1m30s`, `1.5h`, `2days`), up to [`Duration::MAX`], each
/// part in whole nanoseconds: `1.5ns` is refused, not rounded.
/// `attempts` also takes `unlimited` (or `none`); `timeout`, `retry_after_max`,
/// `attempt_timeout` and `seed` take `none`; `seed` takes an integer; `jitter` one of
/// `additive`, `full`, `equal`, `decorrelated`.
///
/// # Errors
///
/// A [`ConfigError`] naming the key that is unknown, repeated, given without a value, or whose
/// value does not parse. No string makes parsing panic.
///
/// ```
/// let err = "attempts=5 timeout=30".parse::<stamina::RetryPolicy>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid value \"30\" for timeout: expected a duration such as 30s or 250ms",
/// );
/// assert_eq!(err.key(), Some("timeout"));
/// ```
impl FromStr for RetryPolicy {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new().with_config(s)
    }
}

impl RetryPolicy {
    /// Parses a config string over this policy: the keys it gives override, the keys it leaves
    /// out keep this policy's values. This is how an application layers settings from an
    /// environment variable or a CLI flag over defaults of its own (a repeated key is an error,
    /// so prepending the defaults to the string cannot do that).
    ///
    /// The syntax is that of [`FromStr`](#impl-FromStr-for-RetryPolicy); `retry_after_max=none`
    /// and `seed=none` remove a ceiling or a seed the base has.
    ///
    /// # Errors
    ///
    /// As for [`FromStr`](#impl-FromStr-for-RetryPolicy): a [`ConfigError`] naming the key.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stamina::RetryPolicy;
    ///
    /// const APP_DEFAULTS: RetryPolicy = RetryPolicy::new()
    ///     .attempts(3)
    ///     .timeout(Duration::from_secs(5))
    ///     .retry_after_max(Duration::from_secs(10));
    ///
    /// // From an environment variable such as APP_RETRY="attempts=5":
    /// let policy = APP_DEFAULTS.with_config("attempts=5")?;
    /// assert_eq!(policy, APP_DEFAULTS.attempts(5));
    /// assert_eq!(policy.get_timeout(), Some(Duration::from_secs(5))); // the app's, not 45s
    /// # Ok::<(), stamina::ConfigError>(())
    /// ```
    pub fn with_config(mut self, config: &str) -> Result<Self, ConfigError> {
        let mut seen = [false; KEYS.len()];
        let items = config.split(|c: char| c.is_whitespace() || c == ',');
        for item in items.filter(|item| !item.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .map_or((item, None), |(k, v)| (k, Some(v)));
            let error = |message| Err(ConfigError::new(key, message));
            let Some(index) = KEYS.iter().position(|k| *k == key) else {
                let expected = KEYS.join(", ");
                return error(format!("unknown key {key:?}: expected one of {expected}"));
            };
            let Some(value) = value else {
                return error(format!("missing value for {key}: expected {key}=VALUE"));
            };
            if std::mem::replace(&mut seen[index], true) {
                return error(format!("key {key} is given more than once"));
            }
            self = parse_value(self, key, value)?;
        }
        Ok(self)
    }
}

const KEYS: [&str; 10] = [
    "attempts",
    "timeout",
    "wait_initial",
    "wait_max",
    "wait_jitter",
    "wait_exp_base",
    "jitter",
    "retry_after_max",
    "seed",
    "attempt_timeout",
];

fn parse_value(policy: RetryPolicy, key: &str, value: &str) -> Result<RetryPolicy, ConfigError> {
    let invalid = |expected, source| ConfigError::invalid(key, value, expected, source);
    let duration = || parse_duration(value).map_err(|e| invalid(e.expected, Some(e.reason.into())));
    Ok(match (key, value) {
        ("attempts", "unlimited" | "none") => policy.unlimited_attempts(),
        ("attempts", _) => policy.attempts(parse(key, value, "a whole number or `unlimited`")?),
        ("timeout", "none") => policy.no_timeout(),
        ("timeout", _) => policy.timeout(duration()?),
        ("wait_initial", _) => policy.wait_initial(duration()?),
        ("wait_max", _) => policy.wait_max(duration()?),
        ("wait_jitter", _) => policy.wait_jitter(duration()?),
        ("wait_exp_base", _) => policy
            .try_wait_exp_base(parse(key, value, "a number >= 1")?)
            .map_err(|e| invalid("a finite number >= 1", Some(Box::new(e))))?,
        ("jitter", _) => policy.jitter(
            Jitter::from_name(value)
                .ok_or_else(|| invalid("one of additive, full, equal, decorrelated", None))?,
        ),
        ("retry_after_max", "none") => policy.no_retry_after_max(),
        ("retry_after_max", _) => policy.retry_after_max(duration()?),
        ("attempt_timeout", "none") => policy.no_attempt_timeout(),
        ("attempt_timeout", _) => policy.attempt_timeout(duration()?),
        ("seed", "none") => policy.no_seed(),
        // "seed", the last of `KEYS`
        _ => policy.seed(parse(key, value, "an unsigned 64-bit integer or `none`")?),
    })
}

/// `value` parsed with [`FromStr`], or the error that says what `key` expected.
fn parse<T: FromStr<Err: Error + Send + Sync + 'static>>(
    key: &str,
    value: &str,
    expected: &str,
) -> Result<T, ConfigError> {
    let because = |e| ConfigError::invalid(key, value, expected, Some(Box::new(e)));
    value.parse().map_err(because)
}

/// Why a duration in a config string does not parse: what its [`ConfigError`] says was expected,
/// and the reason, the error's source.
struct DurationError {
    expected: &'static str,
    reason: String,
}

impl DurationError {
    /// A value that is not a duration at all.
    fn malformed(reason: String) -> Self {
        let expected = "a duration such as 30s or 250ms";
        Self { expected, reason }
    }
}

/// Nanoseconds per unit, with humantime's unit names (a month is 30.44 days, a year 365.25).
fn unit_nanos(unit: &str) -> Option<u128> {
    const S: u128 = 1_000_000_000;
    Some(match unit {
        "nanos" | "nsec" | "ns" => 1,
        "usec" | "us" | "\u{b5}s" => 1_000,
        "millis" | "msec" | "ms" => 1_000_000,
        "seconds" | "second" | "secs" | "sec" | "s" => S,
        "minutes" | "minute" | "min" | "mins" | "m" => 60 * S,
        "hours" | "hour" | "hr" | "hrs" | "h" => 3_600 * S,
        "days" | "day" | "d" => 86_400 * S,
        "weeks" | "week" | "wk" | "wks" | "w" => 604_800 * S,
        "months" | "month" | "M" => 2_630_016 * S,
        "years" | "year" | "yr" | "yrs" | "y" => 31_557_600 * S,
        _ => return None,
    })
}

/// Parses a duration such as `1m30s`, `250ms`, `1.5h` or the printed form of [`Duration::MAX`]:
/// numbers (an optional fraction) each followed by a unit, optionally separated by whitespace.
/// Every part must come to a whole number of nanoseconds: nothing is rounded. All arithmetic is
/// checked in nanoseconds, so a number of any length is either a duration or an error, never a
/// panic.
fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    const MAX_NANOS: u128 = u64::MAX as u128 * NANOS_PER_SEC + (NANOS_PER_SEC - 1);
    // A fraction with more significant digits than this is finer than a nanosecond in every
    // unit (no unit's nanoseconds have more than 16 factors 2 or 16 factors 5), and this many
    // keep `fraction * unit` far below `u128::MAX` (1e20 * 3.2e16 < 3.4e38).
    const FRACTION_DIGITS: usize = 20;

    let digit = |c: char| c.is_ascii_digit();
    // A unit's letters, the micro sign included.
    let letter = |c: char| c.is_ascii_alphabetic() || c == '\u{b5}';
    let number_at = |at: &str| DurationError::malformed(format!("expected a number at {at:?}"));
    let too_long = || {
        let max = HumanDuration(Duration::MAX);
        let reason = format!("the duration is longer than the longest one, {max}");
        DurationError::malformed(reason)
    };
    let finer = |part: &str| DurationError {
        expected: "a duration in whole nanoseconds (1ns is the finest step)",
        reason: format!("{part} is not a whole number of nanoseconds"),
    };
    let mut rest = text.trim_start();
    if rest.is_empty() {
        return Err(DurationError::malformed("the value is empty".to_owned()));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, after) = split_after(rest, digit);
        if whole.is_empty() {
            return Err(number_at(rest));
        }
        let dot = after.strip_prefix('.');
        let (fraction, after) = dot.map_or(("", after), |after| split_after(after, digit));
        if dot.is_some() && fraction.is_empty() {
            return Err(number_at(after));
        }
        let (unit, after) = split_after(after.trim_start(), letter);
        let part = &rest[..rest.len() - after.len()];
        rest = after.trim_start();
        if unit.is_empty() {
            let reason = format!("expected a unit such as s or ms after {whole}");
            return Err(DurationError::malformed(reason));
        }
        let per_unit = unit_nanos(unit).ok_or_else(|| {
            DurationError::malformed(format!(
                "unknown unit {unit:?}: expected one of ns, us, ms, s, m, h, d, w, M, y \
                 (or their long forms)"
            ))
        })?;
        // Digits only: a number either parses or is too long for 128 bits.
        let whole = whole
            .parse::<u128>()
            .ok()
            .and_then(|n| n.checked_mul(per_unit));
        let whole = whole.ok_or_else(too_long)?;
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > FRACTION_DIGITS {
            return Err(finer(part));
        }
        // An empty fraction is 0 / 1.
        let numerator = fraction.parse::<u128>().unwrap_or(0) * per_unit;
        let scale = 10u128.pow(fraction.len() as u32);
        if numerator % scale != 0 {
            return Err(finer(part));
        }
        let nanos = whole.checked_add(numerator / scale);
        total = (nanos.and_then(|nanos| total.checked_add(nanos)))
            .filter(|total| *total <= MAX_NANOS)
            .ok_or_else(too_long)?;
    }
    // At most `MAX_NANOS`: the seconds fit a `u64`.
    Ok(Duration::new(
        (total / NANOS_PER_SEC) as u64,
        (total % NANOS_PER_SEC) as u32,
    ))
}

/// `text` split after its longest prefix of characters that satisfy `keep`.
fn split_after(text: &str, keep: fn(char) -> bool) -> (&str, &str) {
    text.split_at(text.find(|c| !keep(c)).unwrap_or(text.len()))
}

/// A configuration value that cannot work: a bad exponential base, a bad config string, a bad
/// budget parameter.
///
/// Its `Display` names the offending key and value; [`key`](Self::key) returns the key and
/// [`source`](Error::source) the underlying parse error, where there is one.
#[derive(Debug)]
pub struct ConfigError {
    key: String,
    message: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl ConfigError {
    pub(crate) fn new(key: &str, message: String) -> Self {
        Self {
            key: key.to_owned(),
            message,
            source: None,
        }
    }

    /// A bad exponential base.
    pub(crate) fn exp_base(base: f64) -> Self {
        let message = format!("wait_exp_base must be a finite number >= 1, got {base}");
        Self::new("wait_exp_base", message)
    }

    /// A policy with an attempt timeout, given to a loop that cannot cut an attempt short.
    pub(crate) fn attempt_timeout_refused() -> Self {
        let message = "attempt_timeout cannot apply here: a blocking loop cannot cut an attempt \
                       short, and an async one only after its own `attempt_timeout` setter";
        Self::new("attempt_timeout", message.to_owned())
    }

    /// A value that does not parse or is out of its range, and why where there is a reason.
    pub(crate) fn invalid(
        key: &str,
        value: &str,
        expected: &str,
        source: Option<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        let message = format!("invalid value {value:?} for {key}: expected {expected}");
        Self {
            source,
            ..Self::new(key, message)
        }
    }

    /// The configuration key the error is about: the unknown word itself for an unknown key.
    ///
    /// Every error of this crate names one; the `Option` leaves room for errors that do not.
    pub fn key(&self) -> Option<&str> {
        Some(&self.key)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_deref()?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn display_round_trips() {
        let p = RetryPolicy::new()
            .attempts(5)
            .timeout(Duration::from_secs(90))
            .wait_initial(Duration::new(0, 1))
            .wait_max(Duration::MAX)
            .wait_jitter(Duration::ZERO)
            .wait_exp_base(1.5)
            .jitter(Jitter::Decorrelated)
            .retry_after_max(Duration::from_secs(60))
            .seed(42);
        let s = p.to_string();
        assert_eq!(
            s,
            "attempts=5 timeout=1m30s wait_initial=1ns \
             wait_max=584542046090years7months15days17h5m3s999ms999us999ns \
             wait_jitter=0s wait_exp_base=1.5 jitter=decorrelated retry_after_max=1m seed=42"
        );
        assert_eq!(s.parse::<RetryPolicy>().unwrap(), p);
    }

    #[test]
    fn parses_commas_and_defaults() {
        let p: RetryPolicy = " attempts=3,timeout=none ,, wait_max=2s ".parse().unwrap();
        assert_eq!(
            p,
            RetryPolicy::new()
                .attempts(3)
                .no_timeout()
                .wait_max(Duration::from_secs(2))
        );
        assert_eq!("".parse::<RetryPolicy>().unwrap(), RetryPolicy::new());
    }

    #[test]
    fn bad_strings_name_the_key_or_value() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "retries=3",
                Some("retries"),
                "unknown key \"retries\": expected one of attempts, timeout, wait_initial, wait_max, wait_jitter, wait_exp_base, jitter, retry_after_max, seed, attempt_timeout",
            ),
            (
                "attempts",
                Some("attempts"),
                "missing value for attempts: expected attempts=VALUE",
            ),
            (
                "attempts=3 attempts=4",
                Some("attempts"),
                "key attempts is given more than once",
            ),
            (
                "attempts=-1",
                Some("attempts"),
                "invalid value \"-1\" for attempts: expected a whole number or `unlimited`",
            ),
            (
                "wait_max=fast",
                Some("wait_max"),
                "invalid value \"fast\" for wait_max: expected a duration such as 30s or 250ms",
            ),
            (
                "wait_exp_base=0.5",
                Some("wait_exp_base"),
                "invalid value \"0.5\" for wait_exp_base: expected a finite number >= 1",
            ),
            (
                "wait_exp_base=x",
                Some("wait_exp_base"),
                "invalid value \"x\" for wait_exp_base: expected a number >= 1",
            ),
            (
                "seed=x",
                Some("seed"),
                "invalid value \"x\" for seed: expected an unsigned 64-bit integer or `none`",
            ),
        ];
        for (input, key, message) in cases {
            let err = input.parse::<RetryPolicy>().unwrap_err();
            assert_eq!(err.key(), *key, "{input}");
            assert_eq!(err.to_string(), *message, "{input}");
        }
        let err = "timeout=x".parse::<RetryPolicy>().unwrap_err();
        assert!(err.source().is_some());
    }

    /// The strings that once overflowed `Duration::new` inside the duration parser.
    #[test]
    fn sub_second_carries_at_the_largest_seconds_are_errors_not_panics() {
        let max = HumanDuration(Duration::MAX).to_string();
        let cases = [
            ("timeout", "18446744073709551615s1000000000ns".to_owned()),
            ("wait_max", "18446744073709551615s500ms500ms".to_owned()),
            ("retry_after_max", "18446744073709551615s1000ms".to_owned()),
            ("wait_initial", format!("{max}1ns")),
            ("wait_jitter", format!("{max}1ns")),
            ("timeout", "1".repeat(60) + "s"),
            ("timeout", "18446744073709551616s".to_owned()),
        ];
        for (key, value) in cases {
            let input = format!("{key}={value}");
            let err = input.parse::<RetryPolicy>().unwrap_err();
            assert_eq!(err.key(), Some(key), "{input}");
            assert_eq!(
                err.source().map(ToString::to_string),
                Some(format!(
                    "the duration is longer than the longest one, {max}"
                )),
                "{input}"
            );
        }
        // The largest duration itself, in every spelling, is fine.
        for value in [
            max.clone(),
            "18446744073709551615s999999999ns".to_owned(),
            "18446744073709551615s999ms999us999ns".to_owned(),
        ] {
            let policy: RetryPolicy = format!("timeout={value}").parse().unwrap();
            assert_eq!(policy.get_timeout(), Some(Duration::MAX), "{value}");
        }
    }

    #[test]
    fn durations_in_every_unit_and_with_fractions() {
        let cases: &[(&str, Duration)] = &[
            ("0s", Duration::ZERO),
            ("1ns", Duration::from_nanos(1)),
            ("1us", Duration::from_micros(1)),
            ("1\u{b5}s", Duration::from_micros(1)),
            ("250ms", Duration::from_millis(250)),
            ("1m30s", Duration::from_secs(90)),
            ("1h 2min", Duration::from_secs(3720)),
            ("1.5s", Duration::from_millis(1500)),
            ("0.25h", Duration::from_secs(900)),
            ("1.000000001s", Duration::new(1, 1)),
            ("2days", Duration::from_secs(172_800)),
            ("1w", Duration::from_secs(604_800)),
            ("1M", Duration::from_secs(2_630_016)),
            ("1y", Duration::from_secs(31_557_600)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text).ok(), Some(*expected), "{text}");
        }
        let finer = |part: &str| format!("{part} is not a whole number of nanoseconds");
        let errors: &[(&str, String)] = &[
            ("", "the value is empty".into()),
            ("   ", "the value is empty".into()),
            ("s", "expected a number at \"s\"".into()),
            ("30", "expected a unit such as s or ms after 30".into()),
            ("1.s", "expected a number at \"s\"".into()),
            (
                "5parsecs",
                "unknown unit \"parsecs\": expected one of ns, us, ms, s, m, h, d, w, M, y \
                 (or their long forms)"
                    .into(),
            ),
            ("1s-", "expected a number at \"-\"".into()),
            ("1.5ns", finer("1.5ns")),
            ("1s 0.5 ns", finer("0.5 ns")),
            (
                "0.000000000000000000001y",
                finer("0.000000000000000000001y"),
            ),
        ];
        for (text, expected) in errors {
            let reason = parse_duration(text).map_err(|e| e.reason);
            assert_eq!(reason.as_ref(), Err(expected), "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Where humantime gives a duration without panicking, the crate's parser gives the
        /// same one (humantime's own overflow panics are exactly what the crate's parser avoids).
        #[test]
        fn agrees_with_humantime_where_humantime_works(
            parts in proptest::collection::vec(
                (
                    prop_oneof![
                        (0u64..1000).prop_map(|n| n.to_string()),
                        any::<u64>().prop_map(|n| n.to_string()),
                        (0u64..1000, 0u64..1000).prop_map(|(a, b)| format!("{a}.{b}")),
                    ],
                    proptest::sample::select(vec![
                        "ns", "us", "ms", "s", "sec", "m", "min", "h", "hours", "d", "w", "M", "y",
                    ]),
                ),
                1..4,
            )
        ) {
            let text: String = parts.iter().map(|(n, u)| format!("{n}{u}")).collect();
            let reference = std::panic::catch_unwind(|| humantime::parse_duration(&text));
            // humantime drops what is finer than a nanosecond, which the crate's parser refuses.
            match (reference, parse_duration(&text)) {
                (Ok(Ok(expected)), Ok(parsed)) => prop_assert_eq!(parsed, expected, "{}", text),
                (Ok(Ok(_)), Err(e)) => {
                    let finer = e.reason.ends_with("is not a whole number of nanoseconds");
                    prop_assert!(finer, "{}: {}", text, e.reason);
                }
                _ => {}
            }
        }
    }
}
