//! Sprig's defaults, JSON, reflection, encoding, checksum, path and regexp functions, with
//! Go's `encoding/json` output (sorted keys, HTML escaping, Go float text).

use crate::functions::{Func, FuncError, arity, at_least, boolean, string};
use crate::value::Value;

use super::strval;

fn empty(v: &Value) -> bool {
    !v.is_true()
}

/// Go's `encoding/json` text of `v` (`indent`: MarshalIndent with two spaces).
pub fn to_json(v: &Value, escape_html: bool, indent: bool) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v, escape_html, indent, 0)?;
    Ok(out)
}

fn json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            crate::format::float(f, 'g', None)
        ));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        // Go writes e-07 as e-7 and e+21 as e+21.
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        return Ok(format!("{m}e{}{}", if e < 0 { "-" } else { "+" }, e.abs()));
    }
    Ok(format!("{f}"))
}

fn write_json(
    out: &mut String,
    v: &Value,
    escape_html: bool,
    indent: bool,
    depth: usize,
) -> Result<(), String> {
    if depth > 1000 {
        return Err("json: nesting too deep".into());
    }
    let newline = |out: &mut String, depth: usize| {
        if indent {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    };
    let colon = if indent { ": " } else { ":" };
    match v {
        Value::Missing | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Str(s) => json_string(out, s, escape_html),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(out, item, escape_html, indent, depth + 1)?;
            }
            if !l.items.is_empty() {
                newline(out, depth);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let m = m.borrow();
            if !m.string_keyed() && !m.is_empty() {
                return Err(format!("json: unsupported type: {}", m.type_name));
            }
            out.push('{');
            for (i, (k, item)) in m.entries().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                json_string(out, &strval(k), escape_html);
                out.push_str(colon);
                write_json(out, item, escape_html, indent, depth + 1)?;
            }
            if !m.is_empty() {
                newline(out, depth);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            let mut fields = Vec::new();
            flatten_fields(s, &mut fields);
            out.push('{');
            let mut first = true;
            for (name, value, omit_empty) in fields {
                if omit_empty && empty(&value) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                newline(out, depth + 1);
                json_string(out, &name, escape_html);
                out.push_str(colon);
                write_json(out, &value, escape_html, indent, depth + 1)?;
            }
            if !first {
                newline(out, depth);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A struct's JSON fields, embedded structs inlined.
fn flatten_fields(s: &crate::value::Struct, out: &mut Vec<(String, Value, bool)>) {
    for f in &s.fields {
        match (&f.value, f.embedded, &f.json) {
            (Value::Struct(inner), true, None) => flatten_fields(inner, out),
            (_, _, Some((name, omit))) => out.push((name.clone(), f.value.clone(), *omit)),
            _ => out.push((f.name.clone(), f.value.clone(), false)),
        }
    }
}

/// Parsed JSON as Go's `interface{}` holds it (numbers as float64).
pub fn from_json(text: &str) -> Result<Value, String> {
    let parsed: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    fn convert(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(a) => Value::any_list(a.into_iter().map(convert).collect()),
            serde_json::Value::Object(o) => {
                Value::dict(o.into_iter().map(|(k, v)| (k, convert(v))).collect())
            }
        }
    }
    Ok(convert(parsed))
}

fn json_fn(a: &[Value], escape: bool, indent: bool, must: bool) -> Result<Value, FuncError> {
    arity(a, 1)?;
    match to_json(&a[0], escape, indent) {
        Ok(s) => Ok(Value::Str(s)),
        Err(e) if must || !escape => Err(FuncError::Call(e)),
        Err(_) => Ok(Value::str("")),
    }
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("default", |a| {
            at_least(a, 1)?;
            match a.get(1) {
                Some(given) if !empty(given) => Ok(given.clone()),
                _ => Ok(a[0].clone()),
            }
        }),
        ("empty", |a| {
            arity(a, 1)?;
            Ok(Value::Bool(empty(&a[0])))
        }),
        ("coalesce", |a| {
            Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))
        }),
        ("all", |a| Ok(Value::Bool(a.iter().all(|v| !empty(v))))),
        ("any", |a| Ok(Value::Bool(a.iter().any(|v| !empty(v))))),
        ("ternary", |a| {
            arity(a, 3)?;
            Ok(if boolean(&a[2])? {
                a[0].clone()
            } else {
                a[1].clone()
            })
        }),
        ("fail", |a| {
            arity(a, 1)?;
            Err(FuncError::Call(string(&a[0])?.to_string()))
        }),
        ("deepCopy", |a| {
            arity(a, 1)?;
            Ok(a[0].deep_copy())
        }),
        ("mustDeepCopy", |a| {
            arity(a, 1)?;
            Ok(a[0].deep_copy())
        }),
        ("toJson", |a| json_fn(a, true, false, false)),
        ("mustToJson", |a| json_fn(a, true, false, true)),
        ("toPrettyJson", |a| json_fn(a, true, true, false)),
        ("mustToPrettyJson", |a| json_fn(a, true, true, true)),
        ("toRawJson", |a| json_fn(a, false, false, false)),
        ("mustToRawJson", |a| json_fn(a, false, false, true)),
        ("fromJson", |a| {
            arity(a, 1)?;
            Ok(from_json(string(&a[0])?).unwrap_or(Value::Nil))
        }),
        ("mustFromJson", |a| {
            arity(a, 1)?;
            from_json(string(&a[0])?).map_err(FuncError::Call)
        }),
        ("typeOf", |a| {
            arity(a, 1)?;
            Ok(Value::Str(a[0].type_name()))
        }),
        ("typeIs", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(string(&a[0])? == a[1].type_name()))
        }),
        ("typeIsLike", |a| {
            arity(a, 2)?;
            let (target, t) = (string(&a[0])?, a[1].type_name());
            Ok(Value::Bool(target == t || target == format!("*{t}")))
        }),
        ("kindOf", |a| {
            arity(a, 1)?;
            Ok(Value::str(a[0].kind_name()))
        }),
        ("kindIs", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(string(&a[0])? == a[1].kind_name()))
        }),
        ("deepEqual", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(a[0].deep_equal(&a[1])))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_floats_print_as_go() {
        assert_eq!(json_float(1e21).ok().as_deref(), Some("1e+21"));
        assert_eq!(json_float(0.0000001).ok().as_deref(), Some("1e-7"));
        assert_eq!(json_float(2.5).ok().as_deref(), Some("2.5"));
        assert_eq!(json_float(3.0).ok().as_deref(), Some("3"));
    }

    #[test]
    fn json_escapes_html_unless_raw() {
        let v = Value::dict(vec![
            ("b".into(), Value::str("<x>")),
            ("a".into(), Value::Int(1)),
        ]);
        assert_eq!(
            to_json(&v, true, false).ok().as_deref(),
            Some(r#"{"a":1,"b":"\u003cx\u003e"}"#)
        );
        assert_eq!(
            to_json(&v, false, false).ok().as_deref(),
            Some(r#"{"a":1,"b":"<x>"}"#)
        );
        assert_eq!(
            to_json(&v, true, true).ok().as_deref(),
            Some("{\n  \"a\": 1,\n  \"b\": \"\\u003cx\\u003e\"\n}")
        );
    }
}
