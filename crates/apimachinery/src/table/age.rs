//! Time in tables: the RFC 3339 timestamps objects carry, and the short human-readable durations
//! of AGE, LAST SEEN and RESTARTS cells (`45s`, `3m10s`, `2d5h`), with Kubernetes' precision.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// An instant, in nanoseconds since the Unix epoch (negative before 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Timestamp(i128);

impl Timestamp {
    /// Go's zero `time.Time`, 0001-01-01T00:00:00Z: what an unset timestamp decodes to.
    pub(super) const ZERO: Timestamp = Timestamp(-62_135_596_800 * NANOS_PER_SECOND);

    pub(super) fn from_system_time(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp(after.as_nanos() as i128),
            Err(before) => Timestamp(-(before.duration().as_nanos() as i128)),
        }
    }

    /// A timestamp field; `None` when it is absent, `null` or not a valid RFC 3339 string.
    pub(super) fn from_value(v: &Value) -> Option<Timestamp> {
        v.as_str().and_then(Timestamp::parse)
    }

    /// Parses `2024-05-01T10:00:00Z`, with optional fractional seconds and a numeric offset.
    pub(super) fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let hour = digits(&b[11..13])?;
        let minute = digits(&b[14..16])?;
        let second = digits(&b[17..19])?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        if second > 60 {
            return None;
        }

        let mut rest = &b[19..];
        let mut nanos: i128 = 0;
        if let Some(fraction) = rest.strip_prefix(b".") {
            let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 {
                return None;
            }
            for (i, c) in fraction[..len].iter().enumerate() {
                if i < 9 {
                    nanos += i128::from(c - b'0') * 10i128.pow(8 - i as u32);
                }
            }
            rest = &fraction[len..];
        }
        let offset_seconds = match rest {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let hours = digits(&[*h1, *h2])?;
                let minutes = digits(&[*m1, *m2])?;
                let offset = hours * 3600 + minutes * 60;
                if *sign == b'-' { -offset } else { offset }
            }
            _ => return None,
        };

        let days = days_from_civil(year, month, day);
        let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds;
        Some(Timestamp(i128::from(seconds) * NANOS_PER_SECOND + nanos))
    }

    pub(super) fn is_zero(self) -> bool {
        self == Timestamp::ZERO
    }

    /// Seconds-precision RFC 3339 in UTC, as Go formats `time.RFC3339`.
    pub(super) fn rfc3339(self) -> String {
        let seconds = self.0.div_euclid(NANOS_PER_SECOND) as i64;
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let in_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            in_day / 3600,
            in_day % 3600 / 60,
            in_day % 60
        )
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil calendar method).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day counted from 1970-01-01; the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Time elapsed from `then` to `now`; `<unknown>` for an unset timestamp.
pub(super) fn since(then: Option<Timestamp>, now: SystemTime) -> String {
    match then {
        Some(then) if !then.is_zero() => {
            human_duration(Timestamp::from_system_time(now).0 - then.0)
        }
        _ => "<unknown>".to_string(),
    }
}

/// A duration in nanoseconds as two or three significant figures: `90s`, `3m10s`, `25m`, `5h4m`,
/// `30h`, `2d5h`, `40d`, `2y3d`, `9y`. A clock up to a second behind reads `0s`; anything further
/// in the future is `<invalid>`.
pub(super) fn human_duration(nanos: i128) -> String {
    let seconds = nanos / NANOS_PER_SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    if hours < 24 * 365 * 8 {
        return with_remainder(days / 365, "y", days % 365, "d");
    }
    format!("{}y", days / 365)
}

/// `5h` when the smaller unit is zero, else `5h4m`.
fn with_remainder(big: i128, big_unit: &str, small: i128, small_unit: &str) -> String {
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small}{small_unit}")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn human_durations() {
        let cases: &[(i128, &str)] = &[
            (-3_000, "<invalid>"),
            (-1_500, "0s"),
            (0, "0s"),
            (5_000, "5s"),
            (119_999, "119s"),
            (120_000, "2m"),
            (190_000, "3m10s"),
            (600_000, "10m"),
            (179 * 60_000, "179m"),
            (3 * 3_600_000, "3h"),
            (5 * 3_600_000 + 4 * 60_000, "5h4m"),
            (30 * 3_600_000, "30h"),
            (48 * 3_600_000, "2d"),
            (53 * 3_600_000, "2d5h"),
            (40 * 86_400_000, "40d"),
            (730 * 86_400_000, "2y"),
            (733 * 86_400_000, "2y3d"),
            (9 * 365 * 86_400_000, "9y"),
        ];
        for (millis, want) in cases {
            assert_eq!(human_duration(millis * 1_000_000), *want, "{millis}ms");
        }
    }

    #[test]
    fn parses_and_formats_rfc3339() {
        let cases = [
            ("2024-05-01T10:00:00Z", Some("2024-05-01T10:00:00Z")),
            ("2024-05-01T10:00:00.123456Z", Some("2024-05-01T10:00:00Z")),
            ("2024-05-01T12:30:00+02:30", Some("2024-05-01T10:00:00Z")),
            ("2024-02-29T23:59:59-01:00", Some("2024-03-01T00:59:59Z")),
            ("1969-12-31T23:59:59Z", Some("1969-12-31T23:59:59Z")),
            ("0001-01-01T00:00:00Z", Some("0001-01-01T00:00:00Z")),
            ("2024-13-01T00:00:00Z", None),
            ("2024-05-01 10:00", None),
            ("yesterday", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                Timestamp::parse(text).map(Timestamp::rfc3339).as_deref(),
                want,
                "{text}"
            );
        }
        assert!(Timestamp::parse("0001-01-01T00:00:00Z").unwrap().is_zero());
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:01.5Z"),
            Some(Timestamp(1_500_000_000))
        );
    }

    #[test]
    fn since_measures_from_now() {
        let now = UNIX_EPOCH + Duration::from_secs(1_714_557_600); // 2024-05-01T10:00:00Z
        let cases = [
            (Some("2024-05-01T09:56:50Z"), "3m10s"),
            (Some("2024-05-01T10:00:05Z"), "<invalid>"),
            (Some("0001-01-01T00:00:00Z"), "<unknown>"),
            (None, "<unknown>"),
        ];
        for (then, want) in cases {
            let then = then.and_then(Timestamp::parse);
            assert_eq!(since(then, now), want, "{then:?}");
        }
    }
}
