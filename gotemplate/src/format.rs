//! Go's `fmt` for template values: `%v` printing of slices, maps and structs, `Sprint`,
//! `Sprintln`, and `Sprintf` with flags, width, precision and Go's `%!verb(type=value)` notes.

use crate::value::Value;

/// `%v` (`plus`: `%+v`, struct field names shown).
pub fn value(v: &Value, plus: bool) -> String {
    let mut out = String::new();
    write_value(&mut out, v, plus);
    out
}

fn write_value(out: &mut String, v: &Value, plus: bool) {
    match v {
        Value::Missing | Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float(*f, 'g', None)),
        Value::Str(s) => out.push_str(s),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item, plus);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.borrow().entries().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, k, plus);
                out.push(':');
                write_value(out, item, plus);
            }
            out.push(']');
        }
        Value::Struct(s) => {
            if let Some(display) = &s.display {
                out.push_str(display);
                return;
            }
            out.push('{');
            for (i, f) in s.fields.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                if plus {
                    out.push_str(&f.name);
                    out.push(':');
                }
                write_value(out, &f.value, plus);
            }
            out.push('}');
        }
    }
}

/// `fmt.Sprint`: spaces between operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&value(a, false));
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands, a newline at the end.
pub fn sprintln(args: &[Value]) -> String {
    let mut out: Vec<String> = args.iter().map(|a| value(a, false)).collect();
    let last = out.len();
    out.push(String::new());
    let mut text = out[..last].join(" ");
    text.push('\n');
    text
}

/// `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A float as Go's `strconv.FormatFloat(f, kind, prec, 64)` writes it (`kind` e, f or g;
/// `None`: the shortest representation).
pub fn float(f: f64, kind: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    match kind {
        'f' => match prec {
            Some(p) => format!("{f:.p$}"),
            None => {
                let s = format!("{f}");
                s
            }
        },
        'e' => {
            let s = match prec {
                Some(p) => format!("{f:.p$e}"),
                None => format!("{f:e}"),
            };
            go_exponent(&s)
        }
        _ => {
            // %g: %e when the exponent is < -4 or >= the precision (6 for the shortest form).
            let digits_form = match prec {
                Some(p) => format!("{:.*e}", p.max(1) - 1, f),
                None => format!("{f:e}"),
            };
            let (mantissa, exp) = digits_form.split_once('e').unwrap_or((&digits_form, "0"));
            let exp: i32 = exp.parse().unwrap_or(0);
            let eprec = prec.map(|p| p.max(1) as i32).unwrap_or(6);
            if exp < -4 || exp >= eprec {
                let mantissa = if prec.is_some() {
                    trim_zeros(mantissa)
                } else {
                    mantissa.to_string()
                };
                go_exponent(&format!("{mantissa}e{exp}"))
            } else {
                let digits: usize = mantissa.chars().filter(char::is_ascii_digit).count();
                let decimals = (digits as i32 - 1 - exp).max(0) as usize;
                let s = format!("{f:.decimals$}");
                if prec.is_some() { trim_zeros(&s) } else { s }
            }
        }
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Rust's `1.5e6` as Go's `1.5e+06`.
fn go_exponent(s: &str) -> String {
    let Some((mantissa, exp)) = s.split_once('e') else {
        return s.to_string();
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(s: String, spec: &Spec, numeric: bool) -> String {
    let Some(width) = spec.width else {
        return s;
    };
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let fill = width - len;
    if spec.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, rest) = match s.strip_prefix(['-', '+']) {
            Some(rest) => (&s[..1], rest),
            None => ("", s.as_str()),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn bad_verb(verb: char, v: &Value) -> String {
    match v {
        Value::Missing | Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", v.type_name(), value(v, false)),
    }
}

fn signed(i: i64, spec: &Spec, body: String) -> String {
    if i >= 0 && spec.plus {
        format!("+{body}")
    } else if i >= 0 && spec.space {
        format!(" {body}")
    } else {
        body
    }
}

fn integer(i: i64, verb: char, spec: &Spec) -> Option<String> {
    let magnitude = i.unsigned_abs();
    let sign = if i < 0 { "-" } else { "" };
    let body = match verb {
        'd' | 'v' => magnitude.to_string(),
        'x' => format!("{}{magnitude:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{magnitude:X}", if spec.sharp { "0X" } else { "" }),
        'o' => format!("{}{magnitude:o}", if spec.sharp { "0" } else { "" }),
        'O' => format!("0o{magnitude:o}"),
        'b' => format!("{magnitude:b}"),
        'c' => return char::from_u32(i as u32).map(String::from),
        'q' => return char::from_u32(i as u32).map(|c| format!("'{c}'")),
        'U' => return Some(format!("U+{:04X}", i)),
        _ => return None,
    };
    let body = match spec.prec {
        Some(p) if body.len() < p => format!("{}{body}", "0".repeat(p - body.len())),
        _ => body,
    };
    Some(signed(i, spec, format!("{sign}{body}")))
}

fn one(verb: char, v: &Value, spec: &Spec) -> String {
    let text = match (verb, v) {
        ('v', Value::Float(f)) => Some(float(*f, 'g', spec.prec)),
        ('v', _) => Some(value(v, spec.plus)),
        ('T', _) => Some(v.type_name()),
        ('t', Value::Bool(b)) => Some(b.to_string()),
        ('s', Value::Str(s)) => Some(match spec.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        }),
        ('s', Value::Struct(s)) if s.display.is_some() => s.display.clone(),
        ('s', Value::List(_) | Value::Map(_) | Value::Struct(_)) => Some(value(v, false)),
        ('q', Value::Str(s)) => Some(quote(s)),
        ('x', Value::Str(s)) => Some(hex::encode(s)),
        ('X', Value::Str(s)) => Some(hex::encode_upper(s)),
        (_, Value::Int(i)) => integer(*i, verb, spec),
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Value::Float(f)) => {
            let kind = verb.to_ascii_lowercase();
            let prec = match kind {
                'g' => spec.prec,
                _ => Some(spec.prec.unwrap_or(6)),
            };
            let s = float(*f, kind, prec);
            let s = if verb.is_ascii_uppercase() {
                s.to_uppercase()
            } else {
                s
            };
            Some(if *f >= 0.0 && spec.plus {
                format!("+{s}")
            } else if *f >= 0.0 && spec.space {
                format!(" {s}")
            } else {
                s
            })
        }
        _ => None,
    };
    let numeric = matches!(v, Value::Int(_) | Value::Float(_));
    match text {
        Some(t) => pad(t, spec, numeric),
        None => bad_verb(verb, v),
    }
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec {
            minus: false,
            plus: false,
            sharp: false,
            space: false,
            zero: false,
            width: None,
            prec: None,
        };
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, next: &mut usize| {
            if chars.peek() == Some(&'*') {
                chars.next();
                let n = match args.get(*next) {
                    Some(Value::Int(i)) => usize::try_from(*i).ok().filter(|n| *n <= 1_000_000),
                    _ => None,
                };
                *next += 1;
                return n;
            }
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
                chars.next();
            }
            // Go ignores a width or precision over a million.
            n.filter(|n| *n <= 1_000_000)
        };
        spec.width = number(&mut chars, &mut next);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars, &mut next).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(v) => out.push_str(&one(verb, v, &spec)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| match a {
                Value::Missing | Value::Nil => "<nil>".to_string(),
                a => format!("{}={}", a.type_name(), value(a, false)),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprintf_follows_go() {
        let s = Value::str;
        let cases: &[(&str, Vec<Value>, &str)] = &[
            ("%s-%d", vec![s("a"), Value::Int(7)], "a-7"),
            ("%5s|%-5s|", vec![s("ab"), s("cd")], "   ab|cd   |"),
            (
                "%05d %x %X %o %b",
                vec![
                    Value::Int(-42),
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5),
                ],
                "-0042 ff FF 10 101",
            ),
            ("%q", vec![s("a\"b\n")], "\"a\\\"b\\n\""),
            (
                "%v %v",
                vec![Value::Float(1e6), Value::Float(0.5)],
                "1e+06 0.5",
            ),
            (
                "%.2f %e %g",
                vec![
                    Value::Float(1.23456),
                    Value::Float(1234.5),
                    Value::Float(0.00001),
                ],
                "1.23 1.234500e+03 1e-05",
            ),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%s %s", vec![s("x")], "x %!s(MISSING)"),
            ("%s", vec![s("x"), Value::Int(1)], "x%!(EXTRA int=1)"),
            ("100%%", vec![], "100%"),
            ("%T %T", vec![s("x"), Value::Int(1)], "string int"),
            ("%.3s", vec![s("abcdef")], "abc"),
            ("%+d", vec![Value::Int(3)], "+3"),
            (
                "%v",
                vec![Value::any_list(vec![s("a"), Value::Int(1)])],
                "[a 1]",
            ),
            ("%v", vec![Value::Nil], "<nil>"),
            ("%x", vec![s("hi")], "6869"),
        ];
        for (format, args, want) in cases {
            assert_eq!(&sprintf(format, args), want, "{format}");
        }
    }

    #[test]
    fn floats_print_as_go() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.25, "-2.25"),
            (1e21, "1e+21"),
        ];
        for (f, want) in cases {
            assert_eq!(float(f, 'g', None), want, "{f}");
        }
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        let args = [Value::Int(1), Value::Int(2), Value::str("a"), Value::Int(3)];
        assert_eq!(sprint(&args), "1 2a3");
        assert_eq!(sprintln(&args), "1 2 a 3\n");
    }
}
