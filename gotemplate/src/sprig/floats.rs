//! Sprig's float arithmetic (`addf`, `subf`, `mulf`, `divf`, `add1f` on exact decimals as
//! shopspring/decimal does them; `maxf`, `minf`) and Go durations (`duration`,
//! `durationRound`, and Go's duration text and parser the date functions share).

use crate::functions::{Func, arity, at_least};
use crate::value::Value;

use super::to_float64;

/// A decimal as shopspring/decimal holds one: `mantissa * 10^-scale`.
#[derive(Clone, Copy)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`.
    fn from_float(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        let text = format!("{f}");
        let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
        let digits = format!("{whole}{frac}");
        Some(Decimal {
            mantissa: digits.parse().ok()?,
            scale: u32::try_from(frac.len()).ok()?,
        })
    }

    fn rescale(self, scale: u32) -> Option<i128> {
        self.mantissa
            .checked_mul(10i128.checked_pow(scale.checked_sub(self.scale)?)?)
    }

    fn to_float(self) -> f64 {
        format!("{}e-{}", self.mantissa, self.scale)
            .parse()
            .unwrap_or(f64::NAN)
    }
}

#[derive(Clone, Copy)]
pub(super) enum DecimalOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// One step of Sprig's `execDecimalOp`; `None` when the exact form would overflow (the float
/// result is used then).
fn decimal_step(a: Decimal, b: Decimal, op: DecimalOp) -> Option<Decimal> {
    let scale = a.scale.max(b.scale);
    match op {
        DecimalOp::Add | DecimalOp::Sub => {
            let (x, y) = (a.rescale(scale)?, b.rescale(scale)?);
            let mantissa = match op {
                DecimalOp::Add => x.checked_add(y)?,
                _ => x.checked_sub(y)?,
            };
            Some(Decimal { mantissa, scale })
        }
        DecimalOp::Mul => Some(Decimal {
            mantissa: a.mantissa.checked_mul(b.mantissa)?,
            scale: a.scale + b.scale,
        }),
        DecimalOp::Div => {
            // decimal's Div: 16 digits after the point, rounded half away from zero.
            if b.mantissa == 0 {
                return None;
            }
            const PRECISION: u32 = 16;
            let num = a
                .mantissa
                .checked_mul(10i128.checked_pow(PRECISION + b.scale + 1)?)?;
            let den = b.mantissa.checked_mul(10i128.checked_pow(a.scale)?)?;
            let q = num / den;
            let rounded = if q.rem_euclid(10) >= 5 && q >= 0 {
                q / 10 + 1
            } else if q < 0 && (-q) % 10 >= 5 {
                q / 10 - 1
            } else {
                q / 10
            };
            Some(Decimal {
                mantissa: rounded,
                scale: PRECISION,
            })
        }
    }
}

/// Sprig's float functions: each value made a decimal from its shortest form, the exact
/// result made a float again (so `addf 0.1 0.2` is 0.3, not 0.30000000000000004).
pub(super) fn decimal_op(first: f64, rest: &[Value], op: DecimalOp) -> Value {
    let mut exact = Decimal::from_float(first);
    let mut float = first;
    for v in rest {
        let x = to_float64(v);
        float = match op {
            DecimalOp::Add => float + x,
            DecimalOp::Sub => float - x,
            DecimalOp::Mul => float * x,
            DecimalOp::Div => float / x,
        };
        exact = exact.and_then(|e| decimal_step(e, Decimal::from_float(x)?, op));
    }
    Value::Float(exact.map_or(float, Decimal::to_float))
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub(super) fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * factor;
    }
    let nanos = total.round() as i64;
    Some(if negative { -nanos } else { nanos })
}

/// Go's `time.Duration.String()`.
pub(super) fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let decimal = |n: u64, div: u64| {
        let (whole, frac) = (n / div, n % div);
        if frac == 0 {
            return whole.to_string();
        }
        let width = div.to_string().len() - 1;
        format!(
            "{whole}.{}",
            format!("{frac:0width$}").trim_end_matches('0')
        )
    };
    if n < 1_000_000_000 {
        let (unit, div) = match n {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{sign}{}{unit}", decimal(n, div));
    }
    let (h, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (m, s) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = format!("{}s", decimal(s, 1_000_000_000));
    match (h, m) {
        (0, 0) => format!("{sign}{seconds}"),
        (0, m) => format!("{sign}{m}m{seconds}"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}"),
    }
}

/// Sprig's `durationRound`: the largest whole unit (`y`, `mo`, `d`, `h`, `m`, `s`).
fn duration_round(nanos: i64) -> String {
    let u = nanos.unsigned_abs();
    let second = 1_000_000_000u64;
    let units = [
        (second * 3600 * 24 * 365, "y"),
        (second * 3600 * 24 * 30, "mo"),
        (second * 3600 * 24, "d"),
        (second * 3600, "h"),
        (second * 60, "m"),
        (second, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("addf", |a| Ok(decimal_op(0.0, a, DecimalOp::Add))),
        ("add1f", |a| {
            arity(a, 1)?;
            Ok(decimal_op(
                to_float64(&a[0]),
                &[Value::Int(1)],
                DecimalOp::Add,
            ))
        }),
        ("subf", |a| {
            at_least(a, 1)?;
            Ok(decimal_op(to_float64(&a[0]), &a[1..], DecimalOp::Sub))
        }),
        ("mulf", |a| {
            at_least(a, 1)?;
            Ok(decimal_op(to_float64(&a[0]), &a[1..], DecimalOp::Mul))
        }),
        ("divf", |a| {
            at_least(a, 1)?;
            Ok(decimal_op(to_float64(&a[0]), &a[1..], DecimalOp::Div))
        }),
        ("maxf", |a| {
            at_least(a, 1)?;
            Ok(Value::Float(
                a.iter().map(to_float64).fold(f64::NEG_INFINITY, f64::max),
            ))
        }),
        ("minf", |a| {
            at_least(a, 1)?;
            Ok(Value::Float(
                a.iter().map(to_float64).fold(f64::INFINITY, f64::min),
            ))
        }),
        ("duration", |a| {
            arity(a, 1)?;
            let seconds = match &a[0] {
                Value::Str(s) => s.parse::<i64>().unwrap_or(0),
                Value::Int(i) => *i,
                _ => 0,
            };
            Ok(Value::Str(go_duration(
                seconds.saturating_mul(1_000_000_000),
            )))
        }),
        ("durationRound", |a| {
            arity(a, 1)?;
            let nanos = match &a[0] {
                Value::Str(s) => parse_go_duration(s).unwrap_or(0),
                Value::Int(i) => *i,
                _ => 0,
            };
            Ok(Value::Str(duration_round(nanos)))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_functions_use_exact_decimals() {
        let f = |v: Value| match v {
            Value::Float(f) => f,
            _ => f64::NAN,
        };
        assert_eq!(
            f(decimal_op(
                0.0,
                &[Value::Float(0.1), Value::Float(0.2)],
                DecimalOp::Add
            )),
            0.3
        );
        assert_eq!(
            f(decimal_op(1.1, &[Value::Float(2.2)], DecimalOp::Mul)),
            2.42
        );
        assert_eq!(
            f(decimal_op(10.0, &[Value::Int(3)], DecimalOp::Div)),
            3.3333333333333335
        );
        assert_eq!(
            f(decimal_op(1.0, &[Value::Float(0.9)], DecimalOp::Sub)),
            0.1
        );
    }

    #[test]
    fn durations_print_as_go() {
        assert_eq!(go_duration(95 * 1_000_000_000), "1m35s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("3x"), None);
        assert_eq!(
            duration_round(parse_go_duration("2h10m").unwrap_or(0)),
            "2h"
        );
        assert_eq!(duration_round(400 * 24 * 3_600_000_000_000), "1y");
        assert_eq!(duration_round(45 * 24 * 3_600_000_000_000), "1mo");
    }
}
