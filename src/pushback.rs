//! Server pushback: the HTTP `Retry-After` header (RFC 9110, section 10.2.3).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a `Retry-After` header value into the wait it asks for, as of `now`.
///
/// Both forms of RFC 9110 are understood: delay-seconds (`120`) and an HTTP-date in any of the
/// three formats recipients must accept (`Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete
/// `Sunday, 06-Nov-94 08:49:37 GMT` and `Sun Nov  6 08:49:37 1994`). A date in the past is a
/// zero wait; anything else (garbage, a negative or fractional number, an impossible date) is
/// `None`, so that the caller falls back to its own backoff. Surrounding whitespace is ignored;
/// a number of seconds too large for a `Duration` saturates.
///
/// Feed the result to the `on` predicate as a [`Decision::RetryAfter`](crate::Decision): the
/// wait is then exact (no jitter, no `wait_max` cap), still bounded by the attempts, the deadline
/// and [`RetryPolicy::retry_after_max`](crate::RetryPolicy::retry_after_max).
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use stamina::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_700); // Sun, 06 Nov 1994 08:48:20 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(77)));
/// assert_eq!(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
///
/// An HTTP predicate that honours the header:
///
/// ```
/// use std::time::Duration;
/// use stamina::Decision;
///
/// #[derive(Debug)]
/// struct HttpError { status: u16, retry_after: Option<String> }
///
/// fn on(error: &HttpError) -> Decision {
///     match error.status {
///         429 | 503 => match error.retry_after.as_deref().and_then(stamina::retry_after) {
///             Some(wait) => Decision::RetryAfter(wait),
///             None => Decision::Retry,
///         },
///         500..=599 => Decision::Retry,
///         _ => Decision::DontRetry,
///     }
/// }
///
/// let busy = HttpError { status: 503, retry_after: Some("2".into()) };
/// assert_eq!(on(&busy), Decision::RetryAfter(Duration::from_secs(2)));
/// assert_eq!(on(&HttpError { status: 404, retry_after: None }), Decision::DontRetry);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits: a number too large for u64 saturates rather than being ignored.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let date = parse_http_date(value, now)?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// [`parse_retry_after`] as of the system's current time.
pub fn retry_after(value: &str) -> Option<Duration> {
    parse_retry_after(value, SystemTime::now())
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// An HTTP-date in any of RFC 9110's three formats.
fn parse_http_date(value: &str, now: SystemTime) -> Option<SystemTime> {
    let (year, month, day, time) = if let Some((name, rest)) = value.split_once(", ") {
        if DAYS.contains(&name) {
            // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
            let mut parts = rest.split(' ');
            let day = two_digits(parts.next()?)?;
            let month = month(parts.next()?)?;
            let year = four_digits(parts.next()?)?;
            let time = parts.next()?;
            (parts.next()? == "GMT" && parts.next().is_none()).then_some(())?;
            (year, month, day, time)
        } else if LONG_DAYS.contains(&name) {
            // rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"
            let mut parts = rest.split(' ');
            let mut date = parts.next()?.split('-');
            let day = two_digits(date.next()?)?;
            let month = month(date.next()?)?;
            let yy = two_digits(date.next()?)?;
            date.next().is_none().then_some(())?;
            let time = parts.next()?;
            (parts.next()? == "GMT" && parts.next().is_none()).then_some(())?;
            (two_digit_year(yy, now), month, day, time)
        } else {
            return None;
        }
    } else {
        // asctime-date: "Sun Nov  6 08:49:37 1994" (the day padded with a space)
        let rest = value.get(4..)?;
        DAYS.contains(&value.get(..3)?).then_some(())?;
        (value.as_bytes().get(3) == Some(&b' ')).then_some(())?;
        let month = month(rest.get(..3)?)?;
        (rest.as_bytes().get(3) == Some(&b' ')).then_some(())?;
        let day_text = rest.get(4..6)?;
        let day = match day_text.as_bytes() {
            [b' ', d] if d.is_ascii_digit() => u32::from(d - b'0'),
            _ => two_digits(day_text)?,
        };
        let mut parts = rest.get(6..)?.split(' ');
        parts.next().filter(|p| p.is_empty())?;
        let time = parts.next()?;
        let year = four_digits(parts.next()?)?;
        parts.next().is_none().then_some(())?;
        (year, month, day, time)
    };
    let mut hms = time.split(':');
    let hour = two_digits(hms.next()?)?;
    let minute = two_digits(hms.next()?)?;
    let second = two_digits(hms.next()?)?;
    hms.next().is_none().then_some(())?;
    if hour > 23 || minute > 59 || second > 60 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    // A date before 1970 is in the past all the same.
    Some(match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => UNIX_EPOCH,
    })
}

fn two_digits(s: &str) -> Option<u32> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn four_digits(s: &str) -> Option<u32> {
    (s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn month(s: &str) -> Option<u32> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as u32 + 1)
}

/// RFC 9110: a two-digit year more than 50 years in the future is the most recent past year
/// with the same last two digits.
fn two_digit_year(yy: u32, now: SystemTime) -> u32 {
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let this_year = civil_year(now_secs / 86_400);
    let century = this_year - this_year % 100;
    let candidate = century + yy;
    if candidate > this_year + 50 {
        candidate - 100
    } else {
        candidate
    }
}

fn is_leap(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years, March-based years).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The year of the day `days` after 1970-01-01.
fn civil_year(days: u64) -> u32 {
    // Count whole years; at most a few hundred iterations for any realistic clock.
    let mut year = 1970;
    let mut left = days;
    loop {
        let len = if is_leap(year) { 366 } else { 365 };
        if left < len {
            return year;
        }
        left -= len;
        year += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sun, 06 Nov 1994 08:49:37 GMT
    const EXAMPLE: u64 = 784_111_777;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn delay_seconds() {
        let now = at(EXAMPLE);
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", " ", "-1", "+5", "1.5", "1e3", "12s", "0x10", "１２"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn the_three_date_formats() {
        let now = at(EXAMPLE - 100);
        let hundred = Some(Duration::from_secs(100));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            hundred
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            hundred
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), hundred);
        assert_eq!(parse_retry_after("Sun Nov 06 08:49:37 1994", now), hundred);
    }

    #[test]
    fn dates_in_the_past_are_zero() {
        let now = at(EXAMPLE + 1);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Mon, 01 Jan 1900 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn known_dates() {
        let epoch = UNIX_EPOCH;
        let cases = [
            ("Thu, 01 Jan 1970 00:00:01 GMT", 1),
            ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600),
            ("Fri, 31 Dec 2038 23:59:59 GMT", 2_177_452_799),
            ("Sat, 01 Jan 2100 00:00:00 GMT", 4_102_444_800),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_http_date(text, epoch), Some(at(secs)), "{text}");
        }
    }

    #[test]
    fn two_digit_years_follow_rfc_9110() {
        // In 2026, "94" is 1994 and "70" is 2070 (44 years ahead, not more than 50).
        let now = at(1_795_000_000); // 2026-11-18
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(at(EXAMPLE))
        );
        assert_eq!(
            parse_http_date("Tuesday, 01-Jan-70 00:00:00 GMT", now).map(|t| t > now),
            Some(true)
        );
        assert_eq!(
            parse_http_date("Thursday, 01-Jan-80 00:00:00 GMT", now),
            Some(at(315_532_800))
        );
    }

    #[test]
    fn garbage_is_none() {
        let now = at(EXAMPLE);
        for bad in [
            "soon",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 November 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Funday, 06-Nov-94 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37 94",
            "Sun Nov  6 08:49:37 1994 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "é",
            "Sun",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn civil_arithmetic() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_year(0), 1970);
        assert_eq!(civil_year(11_016), 2000);
        assert_eq!(civil_year(10_956), 1999);
    }
}
