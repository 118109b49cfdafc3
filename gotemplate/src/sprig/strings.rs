//! Sprig's string functions (`strings.go` and the goutils helpers it calls), with Go's byte
//! indexing where Sprig slices bytes.

use crate::format;
use crate::functions::{Func, FuncError, arity, fits, int, string};
use crate::value::Value;

use super::{strslice, strval};

fn s1(a: &[Value], f: fn(&str) -> String) -> Result<Value, FuncError> {
    arity(a, 1)?;
    Ok(Value::Str(f(string(&a[0])?)))
}

/// Byte slicing as Go does it, failing (instead of panicking) off a character boundary.
fn bytes(s: &str, start: usize, end: usize) -> Result<String, FuncError> {
    s.get(start..end)
        .map(str::to_string)
        .ok_or_else(|| FuncError::Call(format!("slice bounds out of range [{start}:{end}]")))
}

/// goutils' `AbbreviateFull`.
fn abbreviate(s: &str, offset: usize, width: usize) -> Result<String, FuncError> {
    if s.is_empty() || s.len() <= width {
        return Ok(s.to_string());
    }
    let mut offset = offset.min(s.len());
    if s.len() - offset < width - 3 {
        offset = s.len() - (width - 3);
    }
    if offset <= 4 {
        return Ok(bytes(s, 0, width - 3)? + "...");
    }
    if offset + width - 3 < s.len() {
        let tail = abbreviate(&bytes(s, offset, s.len())?, 0, width - 3)?;
        return Ok(format!("...{tail}"));
    }
    Ok(format!("...{}", bytes(s, s.len() - (width - 3), s.len())?))
}

/// Go's `strings.Title` separators.
fn separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    !(c.is_alphabetic() || c.is_numeric()) && c.is_whitespace()
}

fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if separator(prev) {
                c.to_uppercase().collect::<String>()
            } else {
                c.to_string()
            };
            prev = c;
            out
        })
        .collect()
}

fn untitle(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn swapcase(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut whitespace = true;
    for c in s.chars() {
        if c.is_uppercase() {
            out.extend(c.to_lowercase());
            whitespace = false;
        } else if c.is_lowercase() {
            if whitespace {
                out.extend(c.to_uppercase());
                whitespace = false;
            } else {
                out.extend(c.to_uppercase());
            }
        } else {
            whitespace = c.is_whitespace();
            out.push(c);
        }
    }
    out
}

fn indent(spaces: i64, s: &str) -> Result<String, FuncError> {
    let spaces = usize::try_from(spaces).unwrap_or(0);
    let lines = s.matches('\n').count() + 1;
    fits(spaces.saturating_mul(lines).saturating_add(s.len()))?;
    let pad = " ".repeat(spaces);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

fn index_map(parts: Vec<&str>) -> Value {
    Value::map(
        "map[string]string",
        Value::str(""),
        parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| (Value::Str(format!("_{i}")), Value::str(p)))
            .collect(),
    )
}

fn strings_list(items: Vec<String>) -> Value {
    Value::list("[]string", items.into_iter().map(Value::Str).collect())
}

/// Go's `strings.SplitN` (n < 0: all).
fn split_n<'a>(s: &'a str, sep: &str, n: i64) -> Vec<&'a str> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let mut parts: Vec<&str> = s
            .char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect();
        if n > 0 && parts.len() > n as usize {
            let cut: usize = parts[..n as usize - 1].iter().map(|p| p.len()).sum();
            parts.truncate(n as usize - 1);
            parts.push(&s[cut..]);
        }
        return parts;
    }
    if n < 0 {
        s.split(sep).collect()
    } else {
        s.splitn(n as usize, sep).collect()
    }
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("hello", |a| {
            arity(a, 0)?;
            Ok(Value::str("Hello!"))
        }),
        ("abbrev", |a| {
            arity(a, 2)?;
            let (width, s) = (int(&a[0])?, string(&a[1])?);
            if width < 4 {
                return Ok(Value::str(s));
            }
            Ok(Value::Str(abbreviate(s, 0, width as usize)?))
        }),
        ("abbrevboth", |a| {
            arity(a, 3)?;
            let (left, right, s) = (int(&a[0])?, int(&a[1])?, string(&a[2])?);
            if right < 4 || (left > 0 && right < 7) {
                return Ok(Value::str(s));
            }
            Ok(Value::Str(abbreviate(
                s,
                left.max(0) as usize,
                right as usize,
            )?))
        }),
        ("trunc", |a| {
            arity(a, 2)?;
            let (c, s) = (int(&a[0])?, string(&a[1])?);
            let len = s.len() as i64;
            Ok(Value::Str(if c < 0 && len + c > 0 {
                bytes(s, (len + c) as usize, s.len())?
            } else if c >= 0 && len > c {
                bytes(s, 0, c as usize)?
            } else {
                s.to_string()
            }))
        }),
        ("trim", |a| s1(a, |s| s.trim().to_string())),
        ("upper", |a| s1(a, str::to_uppercase)),
        ("lower", |a| s1(a, str::to_lowercase)),
        ("title", |a| s1(a, title)),
        ("untitle", |a| s1(a, untitle)),
        ("substr", |a| {
            arity(a, 3)?;
            let (start, end, s) = (int(&a[0])?, int(&a[1])?, string(&a[2])?);
            let len = s.len() as i64;
            let out = if start < 0 {
                bytes(s, 0, end.clamp(0, len) as usize)
            } else if end < 0 || end > len {
                bytes(s, start.min(len) as usize, s.len())
            } else if start > end {
                Err(FuncError::Call(format!(
                    "slice bounds out of range [{start}:{end}]"
                )))
            } else {
                bytes(s, start as usize, end as usize)
            };
            Ok(Value::Str(out?))
        }),
        ("repeat", |a| {
            arity(a, 2)?;
            let (count, s) = (int(&a[0])?, string(&a[1])?);
            if count < 0 {
                return Err(FuncError::Call("strings: negative Repeat count".into()));
            }
            if (count as usize).saturating_mul(s.len()) > 1 << 24 {
                return Err(FuncError::Call(
                    "strings: Repeat output length overflow".into(),
                ));
            }
            Ok(Value::Str(s.repeat(count as usize)))
        }),
        ("trimall", trim_all),
        ("trimAll", trim_all),
        ("trimSuffix", |a| {
            arity(a, 2)?;
            let (suffix, s) = (string(&a[0])?, string(&a[1])?);
            Ok(Value::str(s.strip_suffix(suffix).unwrap_or(s)))
        }),
        ("trimPrefix", |a| {
            arity(a, 2)?;
            let (prefix, s) = (string(&a[0])?, string(&a[1])?);
            Ok(Value::str(s.strip_prefix(prefix).unwrap_or(s)))
        }),
        ("nospace", |a| {
            s1(a, |s| s.chars().filter(|c| !c.is_whitespace()).collect())
        }),
        ("initials", |a| {
            s1(a, |s| {
                s.split_whitespace()
                    .filter_map(|w| w.chars().next())
                    .collect()
            })
        }),
        ("swapcase", |a| s1(a, swapcase)),
        ("contains", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(string(&a[1])?.contains(string(&a[0])?)))
        }),
        ("hasPrefix", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(string(&a[1])?.starts_with(string(&a[0])?)))
        }),
        ("hasSuffix", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(string(&a[1])?.ends_with(string(&a[0])?)))
        }),
        ("quote", |a| {
            let out: Vec<String> = a
                .iter()
                .filter(|v| !matches!(v, Value::Nil))
                .map(|v| format::quote(&strval(v)))
                .collect();
            Ok(Value::Str(out.join(" ")))
        }),
        ("squote", |a| {
            let out: Vec<String> = a
                .iter()
                .filter(|v| !matches!(v, Value::Nil))
                .map(|v| format!("'{}'", format::value(v, false)))
                .collect();
            Ok(Value::Str(out.join(" ")))
        }),
        ("cat", |a| {
            let out: Vec<String> = a
                .iter()
                .filter(|v| !matches!(v, Value::Nil))
                .map(|v| format::value(v, false))
                .collect();
            Ok(Value::Str(out.join(" ")))
        }),
        ("indent", |a| {
            arity(a, 2)?;
            Ok(Value::Str(indent(int(&a[0])?, string(&a[1])?)?))
        }),
        ("nindent", |a| {
            arity(a, 2)?;
            Ok(Value::Str(format!(
                "\n{}",
                indent(int(&a[0])?, string(&a[1])?)?
            )))
        }),
        ("replace", |a| {
            arity(a, 3)?;
            let (old, new, s) = (string(&a[0])?, string(&a[1])?, string(&a[2])?);
            let hits = if old.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(old).count()
            };
            fits(s.len().saturating_add(hits.saturating_mul(new.len())))?;
            if old.is_empty() {
                // Go inserts `new` around every character.
                let mut out = String::from(new);
                for c in s.chars() {
                    out.push(c);
                    out.push_str(new);
                }
                return Ok(Value::Str(out));
            }
            Ok(Value::Str(s.replace(old, new)))
        }),
        ("plural", |a| {
            arity(a, 3)?;
            let (one, many, count) = (string(&a[0])?, string(&a[1])?, int(&a[2])?);
            Ok(Value::str(if count == 1 { one } else { many }))
        }),
        ("toString", |a| {
            arity(a, 1)?;
            Ok(Value::Str(strval(&a[0])))
        }),
        ("toStrings", |a| {
            arity(a, 1)?;
            Ok(strings_list(strslice(&a[0])))
        }),
        ("join", |a| {
            arity(a, 2)?;
            let sep = string(&a[0])?;
            let items = strslice(&a[1]);
            let len = items.iter().map(|i| i.len() + sep.len()).sum();
            fits(len)?;
            Ok(Value::Str(items.join(sep)))
        }),
        ("sortAlpha", |a| {
            arity(a, 1)?;
            let mut items = match &a[0] {
                Value::List(_) => strslice(&a[0]),
                other => vec![strval(other)],
            };
            items.sort();
            Ok(strings_list(items))
        }),
        ("split", |a| {
            arity(a, 2)?;
            let (sep, s) = (string(&a[0])?, string(&a[1])?);
            Ok(index_map(split_n(s, sep, -1)))
        }),
        ("splitList", |a| {
            arity(a, 2)?;
            let (sep, s) = (string(&a[0])?, string(&a[1])?);
            Ok(strings_list(
                split_n(s, sep, -1)
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            ))
        }),
        ("splitn", |a| {
            arity(a, 3)?;
            let (sep, n, s) = (string(&a[0])?, int(&a[1])?, string(&a[2])?);
            Ok(index_map(split_n(s, sep, n)))
        }),
    ]
}

fn trim_all(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let (cutset, s) = (string(&a[0])?, string(&a[1])?);
    Ok(Value::str(s.trim_matches(|c| cutset.contains(c))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_and_abbreviations_follow_go() {
        assert_eq!(title("hello wide-world_x"), "Hello Wide-World_x");
        assert_eq!(untitle("Hello World"), "hello World");
        assert_eq!(swapcase("This Is A.Test"), "tHIS iS a.tEST");
        assert_eq!(
            abbreviate("hello world", 0, 5).ok().as_deref(),
            Some("he...")
        );
        assert_eq!(
            abbreviate("1234567890", 5, 7).ok().as_deref(),
            Some("...6...")
        );
        assert_eq!(indent(2, "a\nb").ok().as_deref(), Some("  a\n  b"));
        assert_eq!(split_n("a,b,c", ",", 2), vec!["a", "b,c"]);
    }
}
