//! Sprig's path (`base`, `dir`, `clean`, `ext`, `isAbs` and their `os` forms), encoding
//! (`b64enc`/`b64dec`, `b32enc`/`b32dec`), checksum (`sha1sum`, `sha256sum`, `sha512sum`,
//! `adler32sum`) and regexp (`regexMatch`, `regexFind`, `regexReplaceAll`, `regexSplit`, ...)
//! functions, with Go's texts.

use base64::Engine;
use sha1::Digest;

use crate::functions::{Func, FuncError, arity, int, string};
use crate::value::Value;

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

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
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
    }
}
