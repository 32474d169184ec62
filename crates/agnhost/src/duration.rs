//! Go durations (`1s`, `500ms`, `1m30s`), the format of netexec's `/exit?wait=&timeout=`.

use std::time::Duration;

/// Parses a Go duration; negative durations count as zero (Go's sleep and timeout treat them so).
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {text:?}"))?;
        let number: f64 = rest[..number_end].parse().map_err(|_| invalid())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_end..];
    }
    if negative {
        return Ok(Duration::ZERO);
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        let cases = [
            ("0", Ok(Duration::ZERO)),
            ("1s", Ok(ms(1000))),
            ("500ms", Ok(ms(500))),
            ("1m30s", Ok(ms(90_000))),
            ("1.5h", Ok(ms(5_400_000))),
            ("-3s", Ok(Duration::ZERO)),
            ("", Err("time: invalid duration \"\"".to_string())),
            (
                "10",
                Err("time: missing unit in duration \"10\"".to_string()),
            ),
            (
                "3d",
                Err("time: unknown unit \"d\" in duration \"3d\"".to_string()),
            ),
        ];
        for (text, expected) in cases {
            let parsed = parse(text).map(|d| ms(d.as_millis() as u64));
            assert_eq!(parsed, expected, "{text}");
        }
    }
}
