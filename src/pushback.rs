//! Server pushback: the HTTP `Retry-After` header (RFC 9110, section 10.2.3).

use std::str::FromStr;
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
    let now = unix_nanos(now);
    let date = i128::from(parse_http_date(value, now)?) * NANOS_PER_SEC;
    // A date at or before `now` is a zero wait; a later one is at most some 10^19 seconds
    // ahead (a year-9999 date against the earliest `SystemTime`), which `Duration` holds.
    let ahead = u128::try_from(date - now).unwrap_or(0);
    let secs = u64::try_from(ahead / NANOS_PER_SEC as u128).unwrap_or(u64::MAX);
    Some(Duration::new(secs, (ahead % NANOS_PER_SEC as u128) as u32))
}

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Nanoseconds since the Unix epoch, negative before it: exact for every `SystemTime`.
fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
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

/// An HTTP-date in any of RFC 9110's three formats, as seconds since the Unix epoch (negative
/// before it). `now` (nanoseconds since the epoch) places two-digit years.
fn parse_http_date(value: &str, now: i128) -> Option<i64> {
    let words: Vec<&str> = value.split(' ').collect();
    let (year, month, day, time): (i64, _, u32, _) = match words[..] {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        [name, day, month, year, time, "GMT"] if named(name, &DAYS) => {
            (digits(year, 4)?, month, digits(day, 2)?, time)
        }
        // rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"
        [name, date, time, "GMT"] if named(name, &LONG_DAYS) => {
            let [day, month, yy] = three(date, '-')?;
            let year = two_digit_year(digits(yy, 2)?, now);
            (year, month, digits(day, 2)?, time)
        }
        // asctime-date: "Sun Nov  6 08:49:37 1994" (a day below 10 padded with a space)
        [name, month, "", day, time, year] if DAYS.contains(&name) => {
            (digits(year, 4)?, month, digits(day, 1)?, time)
        }
        [name, month, day, time, year] if DAYS.contains(&name) => {
            (digits(year, 4)?, month, digits(day, 2)?, time)
        }
        _ => return None,
    };
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let [hour, minute, second] = three(time, ':')?;
    let (hour, minute, second): (u32, u32, u32) =
        (digits(hour, 2)?, digits(minute, 2)?, digits(second, 2)?);
    if hour > 23 || minute > 59 || second > 60 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

/// The three parts of `text` between `separator`s, if it has exactly three.
fn three(text: &str, separator: char) -> Option<[&str; 3]> {
    let mut parts = text.split(separator);
    let three = [parts.next()?, parts.next()?, parts.next()?];
    parts.next().is_none().then_some(three)
}

/// Whether `word` is one of `names` followed by a comma.
fn named(word: &str, names: &[&str]) -> bool {
    word.strip_suffix(',')
        .is_some_and(|name| names.contains(&name))
}

/// `text` as a number if it is exactly `len` ASCII digits.
fn digits<T: FromStr>(text: &str, len: usize) -> Option<T> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

/// RFC 9110: a two-digit year more than 50 years in the future is the most recent past year
/// with the same last two digits; so it is the year with those digits in the 100 years that end
/// 50 years from now. The current year comes from `now` (nanoseconds since the
/// epoch) in closed form, for any `now`, before 1970 included.
fn two_digit_year(yy: u32, now: i128) -> i64 {
    // Every `SystemTime` is within about 2^63 seconds of the epoch, so the day fits an `i64`.
    let today = i64::try_from(now.div_euclid(NANOS_PER_SEC * 86_400)).unwrap_or(i64::MAX);
    // The one year with these last two digits from this_year - 49 to this_year + 50.
    let earliest = civil_year(today) - 49;
    earliest + (i64::from(yy) - earliest).rem_euclid(100)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years, March-based years).
/// Exact for every year whose day count fits an `i64` (any year a `SystemTime` can reach).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian year of the day `days` after 1970-01-01 (negative: before), in closed
/// form: the inverse of [`days_from_civil`].
fn civil_year(days: i64) -> i64 {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097; // 0..=146_096
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0 = March .. 11 = February
    // January and February belong to the year after the March-based one.
    era * 400 + year_of_era + i64::from(month_from_march >= 10)
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
        // As of the system's time: a delay is the same at any time.
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("soon"), None);
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
        let epoch = 0;
        let cases = [
            ("Thu, 01 Jan 1970 00:00:01 GMT", 1),
            ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600),
            ("Fri, 31 Dec 2038 23:59:59 GMT", 2_177_452_799),
            ("Sat, 01 Jan 2100 00:00:00 GMT", 4_102_444_800),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_http_date(text, epoch), Some(secs), "{text}");
        }
    }

    #[test]
    fn two_digit_years_follow_rfc_9110() {
        // In 2026, "94" is 1994 and "70" is 2070 (44 years ahead, not more than 50).
        let now = 1_795_000_000 * NANOS_PER_SEC; // 2026-11-18
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(EXAMPLE as i64)
        );
        assert_eq!(
            parse_http_date("Tuesday, 01-Jan-70 00:00:00 GMT", now),
            Some(3_155_760_000) // 2070-01-01
        );
        assert_eq!(
            parse_http_date("Thursday, 01-Jan-80 00:00:00 GMT", now),
            Some(315_532_800)
        );
        // In 2050, "00" is 2100: exactly 50 years ahead is not more than 50.
        let now = i128::from(days_from_civil(2050, 6, 1)) * 86_400 * NANOS_PER_SEC;
        assert_eq!(
            parse_http_date("Friday, 01-Jan-00 00:00:00 GMT", now),
            Some(days_from_civil(2100, 1, 1) * 86_400)
        );
        assert_eq!(
            parse_http_date("Friday, 01-Jan-01 00:00:00 GMT", now),
            Some(days_from_civil(2001, 1, 1) * 86_400)
        );
    }

    /// A leap second (60) is a time; 61 is not. A day name must be one, in every format.
    #[test]
    fn leap_seconds_and_day_names() {
        let epoch = 0;
        let leap = parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT", epoch);
        assert_eq!(leap, Some(days_from_civil(2017, 1, 1) * 86_400));
        for bad in [
            "Sat, 31 Dec 2016 23:59:61 GMT",
            "Sux, 06 Nov 1994 08:49:37 GMT",
            "Sun 06 Nov 1994 08:49:37 GMT",
            "Sux Nov  6 08:49:37 1994",
            "Sux Nov 06 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(bad, epoch), None, "{bad}");
        }
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
        assert_eq!(civil_year(-1), 1969);
        assert_eq!(civil_year(days_from_civil(0, 1, 1)), 0);
        assert_eq!(civil_year(days_from_civil(0, 1, 1) - 1), -1);
        assert_eq!(civil_year(days_from_civil(9999, 12, 31)), 9999);
        // Every day of two 400-year eras (every century's and era's last days included) is in
        // the year it was made from, and the days follow each other.
        let mut previous = days_from_civil(1599, 12, 31);
        for year in 1600..2400 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    let days = days_from_civil(year, month, day);
                    assert_eq!((days - previous, civil_year(days)), (1, year));
                    previous = days;
                }
            }
        }
        // Days around the largest `SystemTime` a Unix clock holds (2^63 s): no overflow.
        let far = i64::MAX / 86_400;
        assert!(days_from_civil(civil_year(far), 1, 1) <= far);
        assert!(days_from_civil(civil_year(far) + 1, 1, 1) > far);
    }

    /// Days since 1970-01-01 by counting whole years and months one by one: slow, obviously
    /// right, and only used for years 0 to 9999.
    fn reference_days(year: i64, month: u32, day: u32) -> i64 {
        let year_len = |y: i64| if is_leap(y) { 366 } else { 365 };
        let mut days: i64 = 0;
        if year >= 1970 {
            for y in 1970..year {
                days += year_len(y);
            }
        } else {
            for y in year..1970 {
                days -= year_len(y);
            }
        }
        for m in 1..month {
            days += i64::from(days_in_month(year, m));
        }
        days + i64::from(day) - 1
    }

    /// The year of `days` since 1970 by counting, for the same range.
    fn reference_year(days: i64) -> i64 {
        let mut year = 1970;
        let mut start = 0;
        let year_len = |y: i64| if is_leap(y) { 366 } else { 365 };
        while days < start {
            year -= 1;
            start -= year_len(year);
        }
        while days >= start + year_len(year) {
            start += year_len(year);
            year += 1;
        }
        year
    }

    #[test]
    fn a_date_before_1970_as_of_an_earlier_now_is_exact() {
        // 1950-01-01 as of 1900-01-01: 50 years (12 leap days: 1904..1948), not 70.
        let now = days_from_civil(1900, 1, 1) as i128 * 86_400 * NANOS_PER_SEC;
        let now = UNIX_EPOCH - Duration::from_nanos((-now) as u64);
        let wait = parse_retry_after("Sun, 01 Jan 1950 00:00:00 GMT", now).unwrap();
        assert_eq!(wait, Duration::from_secs((50 * 365 + 12) * 86_400));
        // And a two-digit year as of 1900 is in the 1900s.
        let wait = parse_retry_after("Sunday, 01-Jan-50 00:00:00 GMT", now).unwrap();
        assert_eq!(wait, Duration::from_secs((50 * 365 + 12) * 86_400));
    }

    #[test]
    fn a_now_near_the_end_of_time_does_not_loop_or_overflow() {
        let now = UNIX_EPOCH + Duration::from_secs(1 << 62);
        // Fixed dates are all in the past.
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(Duration::ZERO)
        );
        // A two-digit year is placed in now's century, some 1.46e11 years ahead, and is past
        // or at most 50 years ahead.
        let wait = parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now).unwrap();
        assert!(wait <= Duration::from_secs(51 * 366 * 86_400), "{wait:?}");
    }

    use proptest::prelude::*;

    fn any_now() -> impl Strategy<Value = SystemTime> {
        prop_oneof![
            (0u64..1 << 62).prop_map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            (0u64..1 << 62).prop_map(|s| UNIX_EPOCH - Duration::from_secs(s)),
            (-62_200_000_000i64..253_500_000_000, 0u32..1_000_000_000).prop_map(|(s, n)| {
                if s >= 0 {
                    UNIX_EPOCH + Duration::new(s as u64, n)
                } else {
                    UNIX_EPOCH - Duration::new(s.unsigned_abs(), n)
                }
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_values_never_panic(value in "\\PC{0,40}", now in any_now()) {
            let _ = parse_retry_after(&value, now);
        }

        #[test]
        fn near_valid_dates_never_panic(
            day in "[0-9 ]{1,3}",
            month in prop::sample::select(MONTHS.to_vec()),
            year in "[0-9]{1,5}",
            time in "[0-9:]{5,9}",
            now in any_now(),
        ) {
            for value in [
                format!("Sun, {day} {month} {year} {time} GMT"),
                format!("Sunday, {day}-{month}-{year} {time} GMT"),
                format!("Sun {month} {day} {time} {year}"),
            ] {
                let _ = parse_retry_after(&value, now);
            }
        }

        #[test]
        fn dates_match_a_reference_day_count(
            year in 0i64..=9999,
            month in 1u32..=12,
            day in 1u32..=31,
            (hour, minute, second) in (0u32..24, 0u32..60, 0u32..60),
            now in any_now(),
        ) {
            prop_assume!(day <= days_in_month(year, month));
            let value = format!(
                "Mon, {day:02} {} {year:04} {hour:02}:{minute:02}:{second:02} GMT",
                MONTHS[month as usize - 1]
            );
            let date = reference_days(year, month, day) * 86_400
                + i64::from(hour * 3600 + minute * 60 + second);
            let expected = (i128::from(date) * NANOS_PER_SEC - unix_nanos(now)).max(0);
            let expected = Duration::new(
                (expected / NANOS_PER_SEC) as u64,
                (expected % NANOS_PER_SEC) as u32,
            );
            prop_assert_eq!(parse_retry_after(&value, now), Some(expected), "{}", value);
        }

        #[test]
        fn the_year_of_a_day_matches_a_reference(days in -3_652_425i64..=2_932_896) {
            prop_assert_eq!(civil_year(days), reference_year(days));
        }

        #[test]
        fn two_digit_years_are_within_fifty_years_of_now(yy in 0u32..100, now in any_now()) {
            let today = i64::try_from(unix_nanos(now).div_euclid(NANOS_PER_SEC * 86_400)).unwrap();
            let this_year = civil_year(today);
            let year = two_digit_year(yy, unix_nanos(now));
            prop_assert_eq!(year.rem_euclid(100), i64::from(yy));
            prop_assert!(year > this_year - 50 && year <= this_year + 50, "{} in {}", year, this_year);
        }
    }
}
