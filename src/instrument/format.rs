//! How the built-in hooks write limits and durations for people.

use std::fmt;
use std::time::Duration;

use super::{GiveUpDetails, RetryDetails};
use crate::config::HumanDuration;

/// Writes an attempts limit as a config string does: a number or `unlimited`.
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
pub(super) struct Limit(pub(super) Option<u32>);

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(limit) => write!(f, "{limit}"),
            None => f.write_str("unlimited"),
        }
    }
}

/// Writes a duration for people: `humantime`'s form, cut to whole milliseconds from one
/// millisecond up (`1s234ms` rather than `1s234ms567us890ns`).
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
pub(super) struct Readable(pub(super) Duration);

impl fmt::Display for Readable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let duration = if self.0 >= Duration::from_millis(1) {
            Duration::from_millis(u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX))
        } else {
            self.0
        };
        fmt::Display::fmt(&HumanDuration(duration), f)
    }
}

/// Writes an optional duration as a config string does: [`Readable`] or `none`.
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
pub(super) struct MaybeDuration(pub(super) Option<Duration>);

impl fmt::Display for MaybeDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(duration) => Readable(duration).fmt(f),
            None => f.write_str("none"),
        }
    }
}

/// The message of a retry's record or event: the essentials for loggers that show no
/// key-values, such as `stamina.retry_scheduled: fetch: attempt 1 of 3 failed with io::Error,
/// retrying in 100ms`.
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
pub(super) struct RetryMessage<'d, 'a>(pub(super) &'d RetryDetails<'a>);

impl fmt::Display for RetryMessage<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "stamina.retry_scheduled: {}: attempt {}",
            d.name(),
            d.retry_num()
        )?;
        if let Some(limit) = d.attempts_limit() {
            write!(f, " of {limit}")?;
        }
        write!(
            f,
            " failed with {}, retrying in {}",
            d.caused_by().show(d.show_error()),
            Readable(d.wait_for())
        )
    }
}

/// The message of a give-up's record or event, such as `stamina.retries_exhausted: fetch: gave
/// up after 3 attempts (attempts_exhausted) with io::Error`.
#[cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]
pub(super) struct GiveUpMessage<'d, 'a>(pub(super) &'d GiveUpDetails<'a>);

impl fmt::Display for GiveUpMessage<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let attempts = d.attempts();
        write!(
            f,
            "stamina.retries_exhausted: {}: gave up after {attempts} attempt{} ({}) with {}",
            d.name(),
            if attempts == 1 { "" } else { "s" },
            d.reason(),
            d.caused_by().show(d.show_error())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_to_the_millisecond() {
        let read = |d: Duration| Readable(d).to_string();
        assert_eq!(read(Duration::ZERO), "0s");
        assert_eq!(read(Duration::from_nanos(1_234_567_890)), "1s234ms");
        assert_eq!(read(Duration::from_micros(999)), "999us");
        assert_eq!(read(Duration::from_secs(90)), "1m30s");
        assert_eq!(read(Duration::MAX), read(Duration::from_millis(u64::MAX)));
        assert_eq!(MaybeDuration(None).to_string(), "none");
        assert_eq!(
            MaybeDuration(Some(Duration::from_millis(44_999))).to_string(),
            "44s999ms"
        );
        assert_eq!(Limit(None).to_string(), "unlimited");
        assert_eq!(Limit(Some(3)).to_string(), "3");
    }
}
