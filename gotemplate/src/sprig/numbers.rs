//! Sprig's integer arithmetic, rounding and conversions (`add`, `sub`, `until`, `seq`, `int`,
//! `atoi`, `round`, ...), with Go's truncating division.

use crate::functions::{Func, FuncError, arity, at_least, int, string};
use crate::value::Value;

use super::{to_float64, to_int64};

const MAX_RANGE: i64 = 1 << 20;

fn int_list(items: Vec<i64>) -> Value {
    Value::list("[]int", items.into_iter().map(Value::Int).collect())
}

/// Sprig's `untilStep`.
fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    let mut out = Vec::new();
    if step == 0 {
        return Ok(out);
    }
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        if out.len() as i64 >= MAX_RANGE {
            return Err(FuncError::Call(format!("more than {MAX_RANGE} elements")));
        }
        out.push(i);
        i += step;
    }
    Ok(out)
}

fn checked(r: Option<i64>) -> Result<Value, FuncError> {
    r.map(Value::Int)
        .ok_or_else(|| FuncError::Call("runtime error: integer divide by zero".into()))
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("add1", |a| {
            arity(a, 1)?;
            Ok(Value::Int(to_int64(&a[0]).wrapping_add(1)))
        }),
        ("add", |a| {
            Ok(Value::Int(
                a.iter().fold(0i64, |s, v| s.wrapping_add(to_int64(v))),
            ))
        }),
        ("sub", |a| {
            arity(a, 2)?;
            Ok(Value::Int(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
        }),
        ("div", |a| {
            arity(a, 2)?;
            checked(to_int64(&a[0]).checked_div(to_int64(&a[1])))
        }),
        ("mod", |a| {
            arity(a, 2)?;
            checked(to_int64(&a[0]).checked_rem(to_int64(&a[1])))
        }),
        ("mul", |a| {
            at_least(a, 1)?;
            Ok(Value::Int(
                a.iter()
                    .skip(1)
                    .fold(to_int64(&a[0]), |s, v| s.wrapping_mul(to_int64(v))),
            ))
        }),
        ("max", max),
        ("biggest", max),
        ("min", |a| {
            at_least(a, 1)?;
            Ok(Value::Int(a.iter().map(to_int64).min().unwrap_or(0)))
        }),
        ("ceil", |a| {
            arity(a, 1)?;
            Ok(Value::Float(to_float64(&a[0]).ceil()))
        }),
        ("floor", |a| {
            arity(a, 1)?;
            Ok(Value::Float(to_float64(&a[0]).floor()))
        }),
        ("round", |a| {
            at_least(a, 2)?;
            let (value, places) = (to_float64(&a[0]), to_int64(&a[1]));
            let round_on = a.get(2).map_or(0.5, to_float64);
            let pow = 10f64.powi(places.clamp(-300, 300) as i32);
            let digit = pow * value;
            let frac = digit.fract();
            let rounded = if frac >= round_on {
                digit.ceil()
            } else {
                digit.floor()
            };
            Ok(Value::Float(rounded / pow))
        }),
        ("atoi", |a| {
            arity(a, 1)?;
            Ok(Value::Int(string(&a[0])?.parse().unwrap_or(0)))
        }),
        ("int", |a| {
            arity(a, 1)?;
            Ok(Value::Int(to_int64(&a[0])))
        }),
        ("int64", |a| {
            arity(a, 1)?;
            Ok(Value::Int(to_int64(&a[0])))
        }),
        ("float64", |a| {
            arity(a, 1)?;
            Ok(Value::Float(to_float64(&a[0])))
        }),
        ("toDecimal", |a| {
            arity(a, 1)?;
            let text = super::strval(&a[0]);
            Ok(Value::Int(i64::from_str_radix(&text, 8).unwrap_or(0)))
        }),
        ("until", |a| {
            arity(a, 1)?;
            let n = int(&a[0])?;
            Ok(int_list(until_step(0, n, if n < 0 { -1 } else { 1 })?))
        }),
        ("untilStep", |a| {
            arity(a, 3)?;
            Ok(int_list(until_step(int(&a[0])?, int(&a[1])?, int(&a[2])?)?))
        }),
        ("seq", seq),
        ("randInt", |a| {
            arity(a, 2)?;
            let (min, max) = (int(&a[0])?, int(&a[1])?);
            if max <= min {
                return Err(FuncError::Call("invalid argument to Intn".into()));
            }
            Ok(Value::Int(rand08::Rng::gen_range(
                &mut rand08::rngs::OsRng,
                min..max,
            )))
        }),
    ]
}

fn max(a: &[Value]) -> Result<Value, FuncError> {
    at_least(a, 1)?;
    Ok(Value::Int(a.iter().map(to_int64).max().unwrap_or(0)))
}

/// Sprig's `seq`: like the shell's (`seq 3`, `seq 2 5`, `seq 0 2 10`), space-separated.
fn seq(a: &[Value]) -> Result<Value, FuncError> {
    let p: Vec<i64> = a.iter().map(int).collect::<Result<_, _>>()?;
    let numbers = match p.as_slice() {
        [] => Vec::new(),
        [end] => {
            let increment = if *end < 1 { -1 } else { 1 };
            until_step(1, end + increment, increment)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(*start, end + step, step)?
        }
        [start, step, end] => {
            let increment = if end < start { -1 } else { 1 };
            if end < start && *step > 0 {
                return Ok(Value::str(""));
            }
            until_step(*start, end + increment, *step)?
        }
        _ => Vec::new(),
    };
    let text: Vec<String> = numbers.iter().map(i64::to_string).collect();
    Ok(Value::Str(text.join(" ")))
}
