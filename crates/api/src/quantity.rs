//! Resource quantities (`100m`, `2`, `1Gi`, `129e6`) as integers: milli-units for cpu, units for the rest.

/// A quantity string that is not a Kubernetes quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
pub struct QuantityError;

/// Parses a quantity and returns its value in thousandths (`"100m"` → 100, `"2"` → 2000), rounding up as
/// upstream does when it takes `MilliValue`.
///
/// ```
/// use themelios_api::quantity::parse_milli;
/// assert_eq!(parse_milli("100m"), Ok(100));
/// assert_eq!(parse_milli("1.5"), Ok(1500));
/// assert_eq!(parse_milli("1Ki"), Ok(1_024_000));
/// assert!(parse_milli("ten").is_err());
/// ```
pub fn parse_milli(s: &str) -> Result<i128, QuantityError> {
    let s = s.trim();
    let split = s
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '+' || *c == '-'))))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    if number.is_empty() || number == "+" || number == "-" || number.matches('.').count() > 1 {
        return Err(QuantityError);
    }
    let negative = number.starts_with('-');
    let digits = number.trim_start_matches(['+', '-']);
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(QuantityError);
    }
    // value = mantissa / 10^scale
    let mantissa: i128 = format!("{int_part}{frac_part}").parse().map_err(|_| QuantityError)?;
    let scale = frac_part.len() as u32;
    let (numerator, denominator): (i128, i128) = match suffix {
        "" => (1, 1),
        "m" => (1, 1000),
        "u" => (1, 1_000_000),
        "n" => (1, 1_000_000_000),
        "k" => (1000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        exp if exp.starts_with(['e', 'E']) => {
            let e: i32 = exp[1..].parse().map_err(|_| QuantityError)?;
            if !(-18..=18).contains(&e) {
                return Err(QuantityError);
            }
            if e >= 0 {
                (10i128.pow(e as u32), 1)
            } else {
                (1, 10i128.pow((-e) as u32))
            }
        }
        _ => return Err(QuantityError),
    };
    let scaled = mantissa.checked_mul(numerator).and_then(|v| v.checked_mul(1000)).ok_or(QuantityError)?;
    let divisor = denominator * 10i128.pow(scale);
    let value = (scaled + divisor - 1).div_euclid(divisor);
    Ok(if negative { -value } else { value })
}
