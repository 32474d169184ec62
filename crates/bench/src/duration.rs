//! Durations as people type them on the command line: `30s`, `500ms`, `2m`, `1h30m`, or bare seconds.

use std::time::Duration;

use crate::{Error, Result};

/// Parses a duration such as `60s`, `1.5s`, `250ms`, `2m`, `1h30m` or `45` (seconds).
///
/// The forms follow Go's `time.ParseDuration` for the units people use in a benchmark, so the
/// same `--duration` works for hakube and for etcd's own tools.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let invalid = || {
        Error::InvalidOption(format!(
            "invalid duration {text:?}: expected e.g. 30s, 500ms, 2m or 1h30m"
        ))
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid());
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds_to_duration(seconds).ok_or_else(invalid);
    }
    let mut total = 0.0_f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let unit_len = rest[number_len..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len() - number_len);
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        let scale = match &rest[number_len..number_len + unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * scale;
        rest = &rest[number_len + unit_len..];
    }
    seconds_to_duration(total).ok_or_else(invalid)
}

fn seconds_to_duration(seconds: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(seconds).ok()
}

/// Formats a duration compactly for the report: `60s`, `1.5s`, `250ms`.
pub fn format_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        let seconds = duration.as_secs_f64();
        let text = format!("{seconds:.3}");
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let cases = [
            ("60s", Some(Duration::from_secs(60))),
            ("45", Some(Duration::from_secs(45))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("250ms", Some(Duration::from_millis(250))),
            ("2m", Some(Duration::from_secs(120))),
            ("1h30m", Some(Duration::from_secs(5400))),
            ("1m30s", Some(Duration::from_secs(90))),
            (" 10s ", Some(Duration::from_secs(10))),
            ("", None),
            ("s", None),
            ("10x", None),
            ("-5s", None),
            ("-5", None),
            ("1..5s", None),
            ("ten seconds", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_duration(input).ok(), expected, "input {input:?}");
        }
    }

    #[test]
    fn formats_compactly() {
        let cases = [
            (Duration::from_secs(60), "60s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1234), "1.234s"),
        ];
        for (input, expected) in cases {
            assert_eq!(format_duration(input), expected);
        }
    }
}
