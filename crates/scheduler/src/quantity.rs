//! Kubernetes resource quantities (`100m`, `1.5Gi`, `2e3`) read as the integers the scheduler
//! compares: millicores for CPU and whole units (bytes, counts) for everything else, both
//! rounded up as `resource.Quantity`'s `MilliValue` and `Value` round.

/// A quantity as an exact decimal fraction times a binary factor: `digits / 10^scale * 2^shift`
/// (`shift` is 0 for decimal suffixes, whose power of ten is folded into `scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    negative: bool,
    digits: u128,
    /// Power of ten to divide by (negative means multiply).
    scale: i32,
    /// Power of two to multiply by (binary suffixes `Ki`..`Ei`).
    shift: u32,
}

fn parse(text: &str) -> Option<Parsed> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let mut digits: u128 = 0;
    let mut scale: i32 = 0;
    let mut after_point = false;
    for c in number.chars() {
        if c == '.' {
            after_point = true;
            continue;
        }
        // Digits past what u128 holds cannot change a comparison against real node sizes;
        // dropping them (and adjusting the scale) keeps the value's magnitude.
        if digits < u128::MAX / 100 {
            digits = digits * 10 + u128::from(c as u8 - b'0');
            if after_point {
                scale += 1;
            }
        } else if !after_point {
            scale -= 1;
        }
    }
    let (decimal_exponent, shift) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            (exponent.parse::<i32>().ok()?, 0)
        }
    };
    Some(Parsed {
        negative,
        digits,
        scale: scale - decimal_exponent,
        shift,
    })
}

/// `value * 10^extra_exponent`, rounded away from zero like Kubernetes rounds a quantity up to
/// the next integer, saturating at `i64`'s range.
fn scaled(parsed: Parsed, extra_exponent: i32) -> i64 {
    let mut numerator = parsed.digits;
    let mut denominator: u128 = 1;
    let exponent = extra_exponent - parsed.scale;
    for _ in 0..exponent.max(0) {
        numerator = numerator.saturating_mul(10);
    }
    for _ in 0..(-exponent).max(0) {
        if denominator > u128::MAX / 10 {
            // Anything this small rounds up to 1 (or stays 0 for a zero numerator).
            numerator = u128::from(numerator > 0);
            denominator = 1;
            break;
        }
        denominator *= 10;
    }
    numerator = numerator.saturating_mul(1u128 << parsed.shift);
    let whole = numerator.div_ceil(denominator);
    let whole = i64::try_from(whole).unwrap_or(i64::MAX);
    if parsed.negative { -whole } else { whole }
}

/// The quantity in whole units (bytes, pods, devices), rounded up; `None` when it is not a
/// quantity.
pub fn value(text: &str) -> Option<i64> {
    parse(text).map(|p| scaled(p, 0))
}

/// The quantity in thousandths of a unit (millicores), rounded up; `None` when it is not a
/// quantity.
pub fn milli_value(text: &str) -> Option<i64> {
    parse(text).map(|p| scaled(p, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_up_like_kubernetes() {
        let cases: &[(&str, Option<i64>, Option<i64>)] = &[
            // (quantity, Value, MilliValue)
            ("1", Some(1), Some(1000)),
            ("100m", Some(1), Some(100)),
            ("0.5", Some(1), Some(500)),
            ("1.5", Some(2), Some(1500)),
            ("250m", Some(1), Some(250)),
            ("1500m", Some(2), Some(1500)),
            ("0", Some(0), Some(0)),
            ("1Ki", Some(1024), Some(1_024_000)),
            ("128Mi", Some(134_217_728), Some(134_217_728_000)),
            ("1.5Gi", Some(1_610_612_736), Some(1_610_612_736_000)),
            ("2G", Some(2_000_000_000), Some(2_000_000_000_000)),
            ("1k", Some(1000), Some(1_000_000)),
            ("129e6", Some(129_000_000), Some(129_000_000_000)),
            ("1E3", Some(1000), Some(1_000_000)),
            ("1n", Some(1), Some(1)),
            ("10u", Some(1), Some(1)),
            ("+3", Some(3), Some(3000)),
            ("-2", Some(-2), Some(-2000)),
            ("110", Some(110), Some(110_000)),
            ("", None, None),
            ("abc", None, None),
            ("1Q", None, None),
            ("1.2.3", None, None),
        ];
        for (text, want_value, want_milli) in cases {
            assert_eq!(value(text), *want_value, "Value({text:?})");
            assert_eq!(milli_value(text), *want_milli, "MilliValue({text:?})");
        }
    }

    #[test]
    fn huge_quantities_saturate() {
        assert_eq!(value("1Ei"), Some(1 << 60));
        assert_eq!(milli_value("100Ei"), Some(i64::MAX));
    }
}
