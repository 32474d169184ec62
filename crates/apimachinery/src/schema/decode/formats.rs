//! Value formats Kubernetes checks while decoding, before validation runs: resource quantities and
//! the base64 of Secret data, with the error texts its decoder gives.

/// Kubernetes' message for a quantity that does not even look like a number with a suffix.
pub(crate) const QUANTITY_FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Kubernetes' message for a quantity whose suffix is not a known unit.
pub(crate) const QUANTITY_SUFFIX_WRONG: &str = "unable to parse quantity's suffix";

const SUFFIX_CHARS: &str = "eEinumkKMGTP";
const KNOWN_SUFFIXES: &[&str] = &[
    "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
];

/// Checks a quantity string the way `resource.ParseQuantity` does, returning its error text.
pub(crate) fn check_quantity(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err(QUANTITY_FORMAT_WRONG);
    }
    let b = s.as_bytes();
    let mut pos = 0;
    if matches!(b[0], b'-' | b'+') {
        pos = 1;
    }
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
    }
    let suffix_start = pos;
    while pos < b.len() && SUFFIX_CHARS.as_bytes().contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < b.len() {
        return Err(QUANTITY_FORMAT_WRONG);
    }
    let suffix = &s[suffix_start..];
    if KNOWN_SUFFIXES.contains(&suffix) {
        return Ok(());
    }
    // A decimal exponent: `e3`, `E-2`.
    let exponent = suffix
        .strip_prefix('e')
        .or_else(|| suffix.strip_prefix('E'));
    match exponent {
        Some(exp) if exp.parse::<i32>().is_ok() => Ok(()),
        _ => Err(QUANTITY_SUFFIX_WRONG),
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|a| *a == c).map(|p| p as u8)
}

/// Decodes padded standard base64 as Go's `StdEncoding` does: line breaks are skipped, trailing
/// bits are ignored. The error is the input offset Go reports in `illegal base64 data at input
/// byte N`.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut quantum: Vec<u8> = Vec::with_capacity(4);
    let mut quantum_start = 0;
    let mut padding_at: Option<usize> = None;
    for (i, c) in s.bytes().enumerate() {
        if c == b'\r' || c == b'\n' {
            continue;
        }
        if quantum.is_empty() {
            quantum_start = i;
        }
        if padding_at.is_some() {
            // After padding only more padding may complete the quantum, and nothing may follow.
            if c != b'=' || quantum.len() >= 4 {
                return Err(i);
            }
            quantum.push(0);
            continue;
        }
        if c == b'=' {
            if quantum.len() < 2 {
                return Err(i);
            }
            padding_at = Some(quantum.len());
            quantum.push(0);
            continue;
        }
        let Some(v) = sextet(c) else {
            return Err(i);
        };
        quantum.push(v);
        if quantum.len() == 4 {
            out.push((quantum[0] << 2) | (quantum[1] >> 4));
            out.push((quantum[1] << 4) | (quantum[2] >> 2));
            out.push((quantum[2] << 6) | quantum[3]);
            quantum.clear();
        }
    }
    if let Some(pad) = padding_at {
        if quantum.len() != 4 {
            return Err(s.len());
        }
        out.push((quantum[0] << 2) | (quantum[1] >> 4));
        if pad == 3 {
            out.push((quantum[1] << 4) | (quantum[2] >> 2));
        }
        return Ok(out);
    }
    if !quantum.is_empty() {
        return Err(quantum_start);
    }
    Ok(out)
}

/// Padded standard base64, as Go's `StdEncoding` and k8s-openapi write it.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        out.push(ALPHABET[usize::from(b0 >> 2)] as char);
        out.push(ALPHABET[usize::from(((b0 & 0x03) << 4) | (b1 >> 4))] as char);
        out.push(if chunk.len() > 1 {
            ALPHABET[usize::from(((b1 & 0x0f) << 2) | (b2 >> 6))] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[usize::from(b2 & 0x3f)] as char
        } else {
            '='
        });
    }
    out
}

/// A quantity in Kubernetes' canonical form, as the API server writes it back: rounded up to
/// thousandths, with the largest suffix that keeps the number whole (`0.5` → `500m`,
/// `1536Mi` stays, `2048Mi` → `2Gi`, `2000` → `2k`). `None` when `s` is not a quantity or is
/// out of the range this arithmetic covers, in which case the text is kept as given.
pub(crate) fn canonical_quantity(s: &str) -> Option<String> {
    check_quantity(s).ok()?;
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let split = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{whole}{fraction}");
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut exp = -i32::try_from(fraction.len()).ok()?;
    #[derive(PartialEq)]
    enum Format {
        Binary,
        Decimal,
        Exponent,
    }
    let binary = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let decimal = [
        ("n", -9),
        ("u", -6),
        ("m", -3),
        ("", 0),
        ("k", 3),
        ("M", 6),
        ("G", 9),
        ("T", 12),
        ("P", 15),
        ("E", 18),
    ];
    let format = if let Some(power) = binary.iter().position(|b| *b == suffix) {
        mantissa = mantissa.checked_mul(1024i128.checked_pow(u32::try_from(power + 1).ok()?)?)?;
        Format::Binary
    } else if let Some((_, e)) = decimal.iter().find(|(name, _)| *name == suffix) {
        exp += e;
        Format::Decimal
    } else {
        exp += suffix.get(1..)?.parse::<i32>().ok()?;
        Format::Exponent
    };
    // Round up (away from zero) to thousandths.
    if exp < -3 {
        let divisor = 10i128.checked_pow(u32::try_from(-3 - exp).ok()?)?;
        mantissa = mantissa / divisor + i128::from(mantissa % divisor != 0);
        exp = -3;
    }
    if mantissa == 0 {
        return Some("0".to_string());
    }
    let sign = if negative { "-" } else { "" };
    if format == Format::Binary {
        let scale = 10i128.checked_pow(exp.unsigned_abs())?;
        let whole = if exp >= 0 {
            mantissa.checked_mul(scale)
        } else {
            (mantissa % scale == 0).then(|| mantissa / scale)
        };
        // Below 1024, or with a fraction, Kubernetes falls back to decimal suffixes.
        if let Some(value) = whole.filter(|v| *v >= 1024) {
            let (mut amount, mut power) = (value, 0);
            while amount % 1024 == 0 && power < 6 {
                amount /= 1024;
                power += 1;
            }
            let suffix = if power == 0 { "" } else { binary[power - 1] };
            return Some(format!("{sign}{amount}{suffix}"));
        }
    }
    // Decimal: the exponent becomes a multiple of three, then grows while the number stays whole.
    while exp.rem_euclid(3) != 0 {
        mantissa = mantissa.checked_mul(10)?;
        exp -= 1;
    }
    while mantissa % 1000 == 0 {
        mantissa /= 1000;
        exp += 3;
    }
    if format == Format::Exponent {
        return Some(if exp == 0 {
            format!("{sign}{mantissa}")
        } else {
            format!("{sign}{mantissa}e{exp}")
        });
    }
    while exp > 18 {
        mantissa = mantissa.checked_mul(1000)?;
        exp -= 3;
    }
    let (suffix, _) = decimal.iter().find(|(_, e)| *e == exp)?;
    Some(format!("{sign}{mantissa}{suffix}"))
}
