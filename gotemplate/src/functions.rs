//! The function table (Go's builtins plus Sprig's hermetic functions), the argument helpers
//! every function uses, and Go's own builtins: `not`, `len`, `index`, `slice`, `print*`,
//! comparisons, and the `html`/`js`/`urlquery` escapers.

use std::collections::HashMap;

use crate::format;
use crate::value::Value;

/// Why a function call failed.
#[derive(Debug, PartialEq)]
pub enum FuncError {
    /// Wrong number of arguments.
    Arity {
        /// What the function takes.
        want: String,
        /// What it was given.
        got: usize,
    },
    /// An argument of the wrong type.
    Type {
        /// The Go type wanted.
        expected: &'static str,
        /// The Go type given.
        got: String,
    },
    /// The function itself failed.
    Call(String),
}

/// A template function.
pub type Func = fn(&[Value]) -> Result<Value, FuncError>;

/// The functions a template may call.
pub struct Functions {
    table: HashMap<&'static str, Func>,
}

impl Functions {
    /// Go's builtins and Sprig's hermetic functions (as Flux's `sprig.HermeticTxtFuncMap()`).
    pub fn hermetic() -> Functions {
        let mut table: HashMap<&'static str, Func> = HashMap::new();
        for (name, f) in builtins() {
            table.insert(name, f);
        }
        for (name, f) in crate::sprig::functions() {
            table.insert(name, f);
        }
        Functions { table }
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<Func> {
        self.table.get(name).copied()
    }

    /// Whether `name` is defined (`and` and `or` are evaluated by the executor).
    pub fn contains(&self, name: &str) -> bool {
        name == "and" || name == "or" || self.table.contains_key(name)
    }
}

/// Extra steps a call costs (out of a run's 10 million): key generation and password hashing
/// are slow by design, so a template can make only a few of them.
pub fn cost(name: &str) -> u64 {
    match name {
        "genPrivateKey" | "genCA" | "genSelfSignedCert" | "genSignedCert" => 2_000_000,
        "derivePassword" | "bcrypt" | "htpasswd" => 200_000,
        _ => 0,
    }
}

/// Exactly `n` arguments.
pub fn arity(args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() != n {
        return Err(FuncError::Arity {
            want: n.to_string(),
            got: args.len(),
        });
    }
    Ok(())
}

/// At least `n` arguments.
pub fn at_least(args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() < n {
        return Err(FuncError::Arity {
            want: format!("at least {n}"),
            got: args.len(),
        });
    }
    Ok(())
}

/// A `string` parameter.
pub fn string(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(FuncError::Type {
            expected: "string",
            got: other.type_name(),
        }),
    }
}

/// An `int` parameter.
pub fn int(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(FuncError::Type {
            expected: "int",
            got: other.type_name(),
        }),
    }
}

/// The largest string a function builds (16 MiB).
pub const MAX_STRING: usize = 16 << 20;

/// Refuses to build a string of `len` bytes over [`MAX_STRING`].
pub fn fits(len: usize) -> Result<(), FuncError> {
    if len > MAX_STRING {
        return Err(FuncError::Call(format!(
            "result of {len} bytes is larger than {MAX_STRING}"
        )));
    }
    Ok(())
}

/// A `bool` parameter.
pub fn boolean(v: &Value) -> Result<bool, FuncError> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(FuncError::Type {
            expected: "bool",
            got: other.type_name(),
        }),
    }
}

fn builtins() -> Vec<(&'static str, Func)> {
    vec![
        ("not", |a| {
            arity(a, 1)?;
            Ok(Value::Bool(!a[0].is_true()))
        }),
        ("len", |a| {
            arity(a, 1)?;
            Ok(Value::Int(match &a[0] {
                Value::Str(s) => s.len(),
                Value::List(l) => l.items.len(),
                Value::Map(m) => m.borrow().len(),
                other => {
                    return Err(FuncError::Call(format!(
                        "len of type {}",
                        other.type_name()
                    )));
                }
            } as i64))
        }),
        ("index", index),
        ("slice", slice),
        ("print", |a| Ok(Value::Str(format::sprint(a)))),
        ("println", |a| Ok(Value::Str(format::sprintln(a)))),
        ("printf", |a| {
            at_least(a, 1)?;
            Ok(Value::Str(format::sprintf(string(&a[0])?, &a[1..])))
        }),
        ("eq", eq),
        ("ne", |a| {
            arity(a, 2)?;
            Ok(Value::Bool(!equal(&a[0], &a[1])?))
        }),
        ("lt", |a| compare(a, |o| o.is_lt())),
        ("le", |a| compare(a, |o| o.is_le())),
        ("gt", |a| compare(a, |o| o.is_gt())),
        ("ge", |a| compare(a, |o| o.is_ge())),
        ("html", |a| Ok(Value::Str(html(&format::sprint(a))))),
        ("js", |a| Ok(Value::Str(js(&format::sprint(a))))),
        ("urlquery", |a| {
            Ok(Value::Str(query_escape(&format::sprint(a))))
        }),
        ("call", |_| {
            Err(FuncError::Call("call of non-function".into()))
        }),
    ]
}

fn index(a: &[Value]) -> Result<Value, FuncError> {
    at_least(a, 1)?;
    let mut v = a[0].clone();
    for key in &a[1..] {
        v = match &v {
            Value::List(l) => {
                let i = int(key)?;
                let item = usize::try_from(i).ok().and_then(|i| l.items.get(i));
                item.cloned()
                    .ok_or_else(|| FuncError::Call(format!("index out of range: {i}")))?
            }
            Value::Str(s) => {
                let i = int(key)?;
                let b = usize::try_from(i).ok().and_then(|i| s.as_bytes().get(i));
                Value::Int(i64::from(*b.ok_or_else(|| {
                    FuncError::Call(format!("index out of range: {i}"))
                })?))
            }
            Value::Map(m) => {
                let m = m.borrow();
                m.get(key).cloned().unwrap_or_else(|| m.zero.clone())
            }
            Value::Missing | Value::Nil => {
                return Err(FuncError::Call("index of untyped nil".into()));
            }
            other => {
                return Err(FuncError::Call(format!(
                    "can't index item of type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(v)
}

fn slice(a: &[Value]) -> Result<Value, FuncError> {
    at_least(a, 1)?;
    let bounds: Vec<i64> = a[1..].iter().map(int).collect::<Result<_, _>>()?;
    let len = match &a[0] {
        Value::Str(s) => s.len(),
        Value::List(l) => l.items.len(),
        other => {
            return Err(FuncError::Call(format!(
                "can't slice item of type {}",
                other.type_name()
            )));
        }
    } as i64;
    let start = bounds.first().copied().unwrap_or(0);
    let end = bounds.get(1).copied().unwrap_or(len);
    if bounds.len() > 3 || start < 0 || end < start || end > len {
        return Err(FuncError::Call(format!("index out of range: {end}")));
    }
    let (start, end) = (start as usize, end as usize);
    Ok(match &a[0] {
        Value::Str(s) => Value::Str(
            s.get(start..end)
                .ok_or_else(|| FuncError::Call("slice splits a character".into()))?
                .to_string(),
        ),
        Value::List(l) => Value::list(&l.type_name, l.items[start..end].to_vec()),
        _ => Value::Nil,
    })
}

/// Go's `eq` on two values (basic kinds compared by value; mixing kinds is an error).
fn equal(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let basic = |v: &Value| {
        matches!(
            v,
            Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_)
        )
    };
    if basic(a) && basic(b) && std::mem::discriminant(a) != std::mem::discriminant(b) {
        return Err(FuncError::Call("incompatible types for comparison".into()));
    }
    if matches!(a, Value::List(_) | Value::Map(_)) || matches!(b, Value::List(_) | Value::Map(_)) {
        if matches!(a, Value::Nil | Value::Missing) || matches!(b, Value::Nil | Value::Missing) {
            return Ok(false);
        }
        return Err(FuncError::Call(format!(
            "non-comparable type {}: {}",
            a.type_name(),
            format::value(a, false)
        )));
    }
    Ok(a.go_equal(b))
}

fn eq(a: &[Value]) -> Result<Value, FuncError> {
    at_least(a, 2)?;
    for other in &a[1..] {
        if equal(&a[0], other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn compare(a: &[Value], want: fn(std::cmp::Ordering) -> bool) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let ordering = match (&a[0], &a[1]) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal),
        (Value::Str(x), Value::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (x, y) if std::mem::discriminant(x) == std::mem::discriminant(y) => {
            return Err(FuncError::Call("invalid type for comparison".to_string()));
        }
        _ => return Err(FuncError::Call("incompatible types for comparison".into())),
    };
    Ok(Value::Bool(want(ordering)))
}

/// `template.HTMLEscapeString`.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `template.JSEscapeString`.
pub fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
