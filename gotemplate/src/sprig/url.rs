//! Sprig's `urlParse` and `urlJoin`: Go's `net/url` split of a URL into scheme, user info,
//! host, path, query, opaque part and fragment, and back.

use crate::functions::{Func, FuncError, arity, string};
use crate::value::Value;

fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn escape(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.as_bytes().contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Parts {
    scheme: String,
    opaque: String,
    userinfo: String,
    host: String,
    path: String,
    query: String,
    fragment: String,
}

/// Go's `url.Parse`, enough for Sprig's fields.
fn parse(text: &str) -> Result<Parts, FuncError> {
    let (rest, fragment) = match text.split_once('#') {
        Some((r, f)) => (r, unescape(f)),
        None => (text, String::new()),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q.to_string()),
        None => (rest, String::new()),
    };
    let mut scheme = String::new();
    let mut rest = rest;
    if let Some(colon) = rest.find(':') {
        let candidate = &rest[..colon];
        let valid = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if valid {
            scheme = candidate.to_ascii_lowercase();
            rest = &rest[colon + 1..];
        } else if colon == 0 {
            return Err(FuncError::Call(format!(
                "unable to parse url: parse {text:?}: missing protocol scheme"
            )));
        }
    }
    let mut parts = Parts {
        scheme,
        opaque: String::new(),
        userinfo: String::new(),
        host: String::new(),
        path: String::new(),
        query,
        fragment,
    };
    if !parts.scheme.is_empty() && !rest.starts_with('/') {
        parts.opaque = rest.to_string();
        return Ok(parts);
    }
    if let Some(authority_and_path) = rest.strip_prefix("//") {
        let end = authority_and_path
            .find('/')
            .unwrap_or(authority_and_path.len());
        let authority = &authority_and_path[..end];
        rest = &authority_and_path[end..];
        match authority.rsplit_once('@') {
            Some((user, host)) => {
                parts.userinfo = user.to_string();
                parts.host = host.to_string();
            }
            None => parts.host = authority.to_string(),
        }
    }
    parts.path = unescape(rest);
    Ok(parts)
}

fn hostname(host: &str) -> String {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default().to_string();
    }
    host.rsplit_once(':')
        .map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
        .to_string()
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("urlParse", |a| {
            arity(a, 1)?;
            let p = parse(string(&a[0])?)?;
            Ok(Value::dict(vec![
                ("scheme".into(), Value::Str(p.scheme)),
                ("host".into(), Value::str(&p.host)),
                ("hostname".into(), Value::Str(hostname(&p.host))),
                ("path".into(), Value::Str(p.path)),
                ("query".into(), Value::Str(p.query)),
                ("opaque".into(), Value::Str(p.opaque)),
                ("fragment".into(), Value::Str(p.fragment)),
                ("userinfo".into(), Value::Str(p.userinfo)),
            ]))
        }),
        ("urlJoin", |a| {
            arity(a, 1)?;
            let Value::Map(m) = &a[0] else {
                return Err(FuncError::Type {
                    expected: "map[string]interface {}",
                    got: a[0].type_name(),
                });
            };
            let m = m.borrow();
            let get = |k: &str| {
                m.get_str(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let mut out = String::new();
            if !get("scheme").is_empty() {
                out.push_str(&get("scheme"));
                out.push(':');
            }
            if !get("opaque").is_empty() {
                out.push_str(&get("opaque"));
            } else {
                let (user, host, path) = (get("userinfo"), get("host"), get("path"));
                if !get("scheme").is_empty() || !host.is_empty() || !user.is_empty() {
                    if !host.is_empty() || !path.is_empty() || !user.is_empty() {
                        out.push_str("//");
                    }
                    if !user.is_empty() {
                        out.push_str(&user);
                        out.push('@');
                    }
                    out.push_str(&host);
                }
                if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
                    out.push('/');
                }
                out.push_str(&escape(&path, "/:@!$&'()*+,;="));
            }
            if !get("query").is_empty() {
                out.push('?');
                out.push_str(&get("query"));
            }
            if !get("fragment").is_empty() {
                out.push('#');
                out.push_str(&escape(&get("fragment"), "/:@!$&'()*+,;=?"));
            }
            Ok(Value::Str(out))
        }),
    ]
}
