//! Sprig's defaults, JSON, reflection, encoding, checksum, path and regexp functions, with
//! Go's `encoding/json` output (sorted keys, HTML escaping, Go float text).

use base64::Engine;
use sha1::Digest;

use crate::functions::{Func, FuncError, arity, at_least, boolean, int, string};
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

/// Go's `path.Clean`.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

fn dir(path: &str) -> String {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..cut])
}

fn ext(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rfind('.')
        .map(|i| name[i..].to_string())
        .unwrap_or_default()
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for byte in chunk {
            a += u32::from(*byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(BASE32[((bits >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(text: &str) -> Result<Vec<u8>, String> {
    let trimmed = text.trim_end_matches('=');
    if !text.len().is_multiple_of(8) {
        return Err(format!(
            "illegal base32 data at input byte {}",
            text.len() / 8 * 8
        ));
    }
    let mut out = Vec::new();
    let (mut bits, mut count) = (0u64, 0u32);
    for (i, c) in trimmed.bytes().enumerate() {
        let v = BASE32
            .iter()
            .position(|b| *b == c)
            .ok_or_else(|| format!("illegal base32 data at input byte {i}"))?;
        bits = (bits << 5) | v as u64;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Ok(out)
}

fn regex(pattern: &str) -> Result<regex::Regex, FuncError> {
    regex::Regex::new(pattern).map_err(|e| FuncError::Call(format!("error parsing regexp: {e}")))
}

fn s1(a: &[Value], f: fn(&str) -> String) -> Result<Value, FuncError> {
    arity(a, 1)?;
    Ok(Value::Str(f(string(&a[0])?)))
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
        ("base", |a| s1(a, base)),
        ("dir", |a| s1(a, dir)),
        ("clean", |a| s1(a, clean)),
        ("ext", |a| s1(a, ext)),
        ("isAbs", |a| {
            arity(a, 1)?;
            Ok(Value::Bool(string(&a[0])?.starts_with('/')))
        }),
        ("osBase", |a| s1(a, base)),
        ("osDir", |a| s1(a, dir)),
        ("osClean", |a| s1(a, clean)),
        ("osExt", |a| s1(a, ext)),
        ("osIsAbs", |a| {
            arity(a, 1)?;
            Ok(Value::Bool(string(&a[0])?.starts_with('/')))
        }),
        ("b64enc", |a| {
            s1(a, |s| base64::engine::general_purpose::STANDARD.encode(s))
        }),
        ("b64dec", |a| {
            s1(a, |s| {
                match base64::engine::general_purpose::STANDARD.decode(s) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(e) => go_base64_error(&e),
                }
            })
        }),
        ("b32enc", |a| s1(a, |s| base32_encode(s.as_bytes()))),
        ("b32dec", |a| {
            s1(a, |s| match base32_decode(s) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => e,
            })
        }),
        ("sha1sum", |a| {
            s1(a, |s| hex::encode(sha1::Sha1::digest(s.as_bytes())))
        }),
        ("sha256sum", |a| {
            s1(a, |s| hex::encode(sha2::Sha256::digest(s.as_bytes())))
        }),
        ("sha512sum", |a| {
            s1(a, |s| hex::encode(sha2::Sha512::digest(s.as_bytes())))
        }),
        ("adler32sum", |a| {
            s1(a, |s| adler32(s.as_bytes()).to_string())
        }),
        ("regexMatch", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(regex(string(&a[0])?).is_ok_and(|r| {
                a[1].as_str().is_some_and(|s| r.is_match(s))
            })))
        }),
        ("mustRegexMatch", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(regex(string(&a[0])?)?.is_match(string(&a[1])?)))
        }),
        ("regexFind", regex_find),
        ("mustRegexFind", regex_find),
        ("regexFindAll", regex_find_all),
        ("mustRegexFindAll", regex_find_all),
        ("regexReplaceAll", |a| regex_replace(a, false)),
        ("mustRegexReplaceAll", |a| regex_replace(a, false)),
        ("regexReplaceAllLiteral", |a| regex_replace(a, true)),
        ("mustRegexReplaceAllLiteral", |a| regex_replace(a, true)),
        ("regexSplit", regex_split),
        ("mustRegexSplit", regex_split),
        ("regexQuoteMeta", |a| s1(a, regex::escape)),
    ]
}

fn go_base64_error(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => {
            format!("illegal base64 data at input byte {i}")
        }
        _ => "illegal base64 data at input byte 0".into(),
    }
}

fn regex_find(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let r = regex(string(&a[0])?)?;
    Ok(Value::str(
        r.find(string(&a[1])?).map_or("", |m| m.as_str()),
    ))
}

fn regex_find_all(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 3)?;
    let r = regex(string(&a[0])?)?;
    let (s, n) = (string(&a[1])?, int(&a[2])?);
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let found: Vec<Value> = r
        .find_iter(s)
        .take(limit)
        .map(|m| Value::str(m.as_str()))
        .collect();
    Ok(Value::list("[]string", found))
}

fn regex_replace(a: &[Value], literal: bool) -> Result<Value, FuncError> {
    arity(a, 3)?;
    let r = regex(string(&a[0])?)?;
    let (s, replacement) = (string(&a[1])?, string(&a[2])?);
    Ok(Value::Str(if literal {
        r.replace_all(s, regex::NoExpand(replacement)).into_owned()
    } else {
        r.replace_all(s, replacement).into_owned()
    }))
}

fn regex_split(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 3)?;
    let r = regex(string(&a[0])?)?;
    let (s, n) = (string(&a[1])?, int(&a[2])?);
    let parts: Vec<Value> = match n {
        0 => Vec::new(),
        n if n < 0 => r.split(s).map(Value::str).collect(),
        n => r.splitn(s, n as usize).map(Value::str).collect(),
    };
    Ok(Value::list("[]string", parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encodings_and_sums_match_go() {
        assert_eq!(clean("a//b/../c/."), "a/c");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(dir("a/b/c.yaml"), "a/b");
        assert_eq!(dir("c.yaml"), ".");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI======");
        assert_eq!(
            base32_decode("MZXW6YTBOI======").ok(),
            Some(b"foobar".to_vec())
        );
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
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
