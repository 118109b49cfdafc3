//! Sprig's hermetic functions (the set Flux gives commit message templates), and the
//! conversions they share: `strval`, `strslice`, `toInt64`, `toFloat64`.

mod certs;
mod collections;
mod crypto;
mod data;
mod dates;
mod encoding;
mod floats;
mod layout;
mod numbers;
mod strings;
mod url;
mod versions;
mod words;

use crate::format;
use crate::functions::Func;
use crate::value::Value;

pub(crate) fn functions() -> Vec<(&'static str, Func)> {
    let mut all = strings::functions();
    all.extend(numbers::functions());
    all.extend(collections::functions());
    all.extend(data::functions());
    all.extend(encoding::functions());
    all.extend(floats::functions());
    all.extend(words::functions());
    all.extend(versions::functions());
    all.extend(url::functions());
    all.extend(dates::functions());
    all.extend(crypto::functions());
    all.extend(certs::functions());
    all
}

/// Sprig's `strval`: strings as they are, `String()` for Stringers, `%v` otherwise.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Struct(s) if s.display.is_some() => s.display.clone().unwrap_or_default(),
        other => format::value(other, false),
    }
}

/// Sprig's `strslice`: a slice's elements as strings (nil elements dropped), nil as nothing,
/// anything else as itself.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .items
            .iter()
            .filter(|v| !matches!(v, Value::Nil | Value::Missing))
            .map(strval)
            .collect(),
        Value::Nil | Value::Missing => Vec::new(),
        other => vec![strval(other)],
    }
}

/// `cast.ToInt64` as Sprig uses it (errors read as 0).
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_int(s).unwrap_or(0),
        _ => 0,
    }
}

/// `strconv.ParseInt(s, 0, 64)`.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = digits.to_ascii_lowercase();
    let value = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        i64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        if lower.is_empty() || !lower.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        lower.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// `cast.ToFloat64` as Sprig uses it.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}
