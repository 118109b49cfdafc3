//! Plain-scalar resolution as go-yaml v3 does it (null, bool, int, float, timestamp), and
//! the conversions kustomize's JSON round trip applies to the results.

use serde_json::{Number, Value};

/// What a plain scalar resolves to.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    /// `null`, `~`, empty.
    Null,
    /// `true` / `false` (YAML 1.2 spellings only).
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer too large for i64.
    Uint(u64),
    /// A float (finite).
    Float(f64),
    /// `.inf`, `.nan` and friends (not representable in JSON).
    NonFinite,
    /// A timestamp, already formatted as Go's `time.Time` JSON (RFC 3339 with nanoseconds).
    Timestamp(String),
    /// A string.
    Str,
}

fn is_float_syntax(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = if let Some(frac) = mantissa.strip_prefix('.') {
        !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())
    } else {
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Go's `strconv.ParseInt(s, 0, 64)` (and ParseUint for the large ones).
fn parse_go_int(s: &str) -> Option<Resolved> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = -(i128::try_from(magnitude).ok()?);
        i64::try_from(value).ok().map(Resolved::Int)
    } else if let Ok(v) = i64::try_from(magnitude) {
        Some(Resolved::Int(v))
    } else {
        u64::try_from(magnitude).ok().map(Resolved::Uint)
    }
}

fn two_digits(s: &str) -> bool {
    (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// go-yaml's timestamp formats: `2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00` (also `t` and a
/// space separator, and no zone), formatted the way Go marshals a `time.Time` to JSON.
fn parse_timestamp(s: &str) -> Option<String> {
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some((&s[i..i + 1], &s[i + 1..]))),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || year.len() != 4
        || !year.bytes().all(|b| b.is_ascii_digit())
        || !two_digits(month)
        || !two_digits(day)
    {
        return None;
    }
    let (month, day): (u32, u32) = (month.parse().ok()?, day.parse().ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let date_text = format!("{year}-{month:02}-{day:02}");
    let Some((separator, time)) = rest else {
        return Some(format!("{date_text}T00:00:00Z"));
    };
    let (clock, zone) = match time.find(['Z', '+', '-']) {
        Some(i) => (&time[..i], Some(&time[i..])),
        None => (time, None),
    };
    if separator == " " && zone.is_some() {
        return None;
    }
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms_parts = hms.split(':');
    let (h, m, sec) = (hms_parts.next()?, hms_parts.next()?, hms_parts.next()?);
    if hms_parts.next().is_some() || !two_digits(h) || !two_digits(m) || !two_digits(sec) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    let (h, m, sec): (u32, u32, u32) = (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    let zone = match zone {
        None | Some("Z") => "Z".to_string(),
        Some(z) => {
            let (sign, hhmm) = z.split_at(1);
            let (zh, zm) = hhmm.split_once(':').unwrap_or((hhmm, "00"));
            if !two_digits(zh) || !two_digits(zm) {
                return None;
            }
            let (zh, zm): (u32, u32) = (zh.parse().ok()?, zm.parse().ok()?);
            if zh == 0 && zm == 0 {
                "Z".to_string()
            } else {
                format!("{sign}{zh:02}:{zm:02}")
            }
        }
    };
    Some(format!(
        "{date_text}T{h:02}:{m:02}:{sec:02}{fraction}{zone}"
    ))
}

/// Resolves a plain scalar.
pub fn resolve(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => {
            return Resolved::NonFinite;
        }
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Resolved::Str;
    }
    if first.is_ascii_digit()
        && let Some(t) = parse_timestamp(s)
    {
        return Resolved::Timestamp(t);
    }
    let plain = s.replace('_', "");
    if let Some(int) = parse_go_int(&plain) {
        return int;
    }
    if is_float_syntax(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Resolved::Float(f);
    }
    Resolved::Str
}

/// The JSON value kustomize ends up with for a plain scalar.
pub fn plain_value(s: &str) -> Result<Value, String> {
    Ok(match resolve(s) {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::Number(i.into()),
        Resolved::Uint(u) => Value::Number(u.into()),
        Resolved::Float(f) => Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Resolved::NonFinite => return Err(format!("json: unsupported value: {s}")),
        Resolved::Timestamp(t) => Value::String(t),
        Resolved::Str => Value::String(s.to_string()),
    })
}

/// Whether a string must be quoted because it would read back as something else (including
/// YAML 1.1 booleans and base-60 numbers, which go-yaml quotes for compatibility).
pub fn needs_quotes(s: &str) -> bool {
    if !matches!(resolve(s), Resolved::Str) {
        return true;
    }
    is_old_bool(s) || is_base60_float(s)
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (main, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    let head_ok = head.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && head.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let rest: Vec<&str> = parts.collect();
    head_ok
        && !rest.is_empty()
        && rest.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
        && frac.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Formats a float the way Go's `encoding/json` does.
pub fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exponent),
        };

        format!("{mantissa}e{sign}{digits}")
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_like_go_yaml_v3() {
        let cases: &[(&str, Value)] = &[
            ("1.0", serde_json::json!(1.0)),
            ("0777", serde_json::json!(511)),
            ("0x1F", serde_json::json!(31)),
            ("0o17", serde_json::json!(15)),
            ("0b101", serde_json::json!(5)),
            ("+12", serde_json::json!(12)),
            ("1_000", serde_json::json!(1000)),
            ("1e3", serde_json::json!(1000.0)),
            (
                "12345678901234567890",
                serde_json::json!(12345678901234567890u64),
            ),
            ("yes", serde_json::json!("yes")),
            ("~", Value::Null),
            ("True", serde_json::json!(true)),
            ("2021-01-01", serde_json::json!("2021-01-01T00:00:00Z")),
            (
                "2001-12-14t21:59:43.10-05:00",
                serde_json::json!("2001-12-14T21:59:43.1-05:00"),
            ),
            ("1.2.3", serde_json::json!("1.2.3")),
            ("08", serde_json::json!(8.0)),
            ("-", serde_json::json!("-")),
        ];
        for (text, want) in cases {
            assert_eq!(&plain_value(text).unwrap(), want, "{text}");
        }
        assert!(plain_value(".inf").is_err());
    }

    #[test]
    fn floats_print_like_go_json() {
        let cases = [
            (1000.0, "1000"),
            (0.5, "0.5"),
            (1e21, "1e+21"),
            (1.1, "1.1"),
            (-0.5, "-0.5"),
            (1e-7, "1e-7"),
            (123456789.0, "123456789"),
        ];
        for (f, want) in cases {
            assert_eq!(go_json_float(f), want);
        }
    }

    #[test]
    fn quoting_follows_resolution_and_yaml_1_1_compatibility() {
        for s in [
            "true",
            "1",
            "1.0",
            "",
            "null",
            "y",
            "on",
            "NO",
            "1:20",
            "2021-01-01",
            "0x10",
            "1e3",
        ] {
            assert!(needs_quotes(s), "{s}");
        }
        for s in ["hello", "1.2.3", "v1", "a:b", "-"] {
            assert!(!needs_quotes(s), "{s}");
        }
    }
}
