//! How the built-in hooks write limits and durations for people.

use std::fmt;
use std::time::Duration;

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
