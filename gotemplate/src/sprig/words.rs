//! Sprig's case conversions (`snakecase`, `kebabcase`, `camelcase` from xstrings) and word
//! wrapping (`wrap`, `wrapWith` from goutils), table-tested against the samples those
//! libraries document.

use crate::functions::{Func, FuncError, arity, int, string};
use crate::value::Value;

fn is_connector(c: char) -> bool {
    matches!(c, '_' | '-' | ' ' | '.')
}

/// xstrings' `ToSnakeCase`/`ToKebabCase`: words split at case changes, connectors and
/// numbers (a number followed by a capital stays with the word before it: `Bld4Floor` ->
/// `bld4_floor`; one followed by lower case starts a word: `http2xx` -> `http_2xx`).
fn lower_words(s: &str, connector: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    let flush = |current: &mut String, words: &mut Vec<String>| {
        if !current.is_empty() {
            words.push(std::mem::take(current));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if is_connector(c) {
            flush(&mut current, &mut words);
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            if chars.get(i).is_some_and(|n| n.is_lowercase()) {
                flush(&mut current, &mut words);
                current.push_str(&digits);
                while i < chars.len() && (chars[i].is_lowercase() || chars[i].is_ascii_digit()) {
                    current.push(chars[i]);
                    i += 1;
                }
                flush(&mut current, &mut words);
            } else {
                current.push_str(&digits);
                flush(&mut current, &mut words);
            }
            continue;
        }
        if c.is_uppercase() {
            let start = i;
            while i < chars.len() && chars[i].is_uppercase() {
                i += 1;
            }
            // `HTTPServer`: the last capital before lower case starts the next word.
            let mut end = i;
            if i < chars.len() && chars[i].is_lowercase() && i - start > 1 {
                end = i - 1;
            }
            flush(&mut current, &mut words);
            current.extend(chars[start..end].iter());
            if end != i {
                flush(&mut current, &mut words);
                current.push(chars[end]);
            }
            while i < chars.len() && chars[i].is_lowercase() {
                current.push(chars[i]);
                i += 1;
            }
            continue;
        }
        current.push(c);
        i += 1;
    }
    flush(&mut current, &mut words);
    words
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(&connector.to_string())
}

/// xstrings' `ToPascalCase`: words joined with their first letter upper case; connectors at
/// the ends are kept, and one of a doubled connector.
fn pascal(s: &str) -> String {
    let lead: String = s.chars().take_while(|c| *c == '_').collect();
    let rest = &s[lead.len()..];
    let trail: String = rest.chars().rev().take_while(|c| *c == '_').collect();
    let body = &rest[..rest.len() - trail.len()];
    let mut out = lead;
    let mut capital = true;
    let mut run = 0usize;
    for c in body.chars() {
        if c == '_' || c == ' ' || c == '-' {
            run += 1;
            continue;
        }
        if run > 1 {
            out.push_str(&"_".repeat(run - 1));
        }
        if run > 0 {
            capital = true;
        }
        run = 0;
        if capital {
            out.extend(c.to_uppercase());
            capital = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out.push_str(&trail);
    out
}

/// goutils' `WrapCustom` (Apache commons' `WordUtils.wrap`), byte-indexed.
pub(super) fn wrap(s: &str, width: i64, newline: &str, long_words: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let width = width.max(1) as usize;
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut offset = 0;
    let piece = |a: usize, b: usize| String::from_utf8_lossy(&bytes[a..b]).into_owned();
    while bytes.len() - offset > width {
        if bytes[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (width + offset + 1).min(bytes.len());
        match bytes[offset..end].iter().rposition(|b| *b == b' ') {
            Some(space) => {
                out.push_str(&piece(offset, offset + space));
                out.push_str(newline);
                offset += space + 1;
            }
            None if long_words => {
                out.push_str(&piece(offset, offset + width));
                out.push_str(newline);
                offset += width;
            }
            None => match bytes[offset + width..].iter().position(|b| *b == b' ') {
                None => {
                    out.push_str(&piece(offset, bytes.len()));
                    offset = bytes.len();
                }
                Some(space) => {
                    let at = offset + width + space;
                    out.push_str(&piece(offset, at));
                    out.push_str(newline);
                    offset = at + 1;
                }
            },
        }
    }
    out.push_str(&piece(offset, bytes.len()));
    out
}

fn s1(a: &[Value], f: fn(&str) -> String) -> Result<Value, FuncError> {
    arity(a, 1)?;
    Ok(Value::Str(f(string(&a[0])?)))
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("snakecase", |a| s1(a, |s| lower_words(s, '_'))),
        ("kebabcase", |a| s1(a, |s| lower_words(s, '-'))),
        ("camelcase", |a| s1(a, pascal)),
        ("shuffle", |a| {
            s1(a, |s| {
                let mut chars: Vec<char> = s.chars().collect();
                rand08::seq::SliceRandom::shuffle(chars.as_mut_slice(), &mut rand08::rngs::OsRng);
                chars.into_iter().collect()
            })
        }),
        ("wrap", |a| {
            arity(a, 2)?;
            Ok(Value::Str(wrap(string(&a[1])?, int(&a[0])?, "", false)))
        }),
        ("wrapWith", |a| {
            arity(a, 3)?;
            Ok(Value::Str(wrap(
                string(&a[2])?,
                int(&a[0])?,
                string(&a[1])?,
                true,
            )))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions_follow_xstrings_samples() {
        let snake = [
            ("FirstName", "first_name"),
            ("HTTPServer", "http_server"),
            ("NoHTTPS", "no_https"),
            ("GO_PATH", "go_path"),
            ("GO PATH", "go_path"),
            ("GO-PATH", "go_path"),
            ("http2xx", "http_2xx"),
            ("HTTP20xOK", "http_20x_ok"),
            ("Duration2m3s", "duration_2m3s"),
            ("Bld4Floor3rd", "bld4_floor_3rd"),
        ];
        for (input, want) in snake {
            assert_eq!(lower_words(input, '_'), want, "{input}");
            assert_eq!(lower_words(input, '-'), want.replace('_', "-"), "{input}");
        }
        let pascal_cases = [
            ("some_words", "SomeWords"),
            ("http_server", "HttpServer"),
            ("no_https", "NoHttps"),
            ("_complex__case_", "_Complex_Case_"),
            ("some words", "SomeWords"),
            ("GOLANG_IS_GREAT", "GolangIsGreat"),
        ];
        for (input, want) in pascal_cases {
            assert_eq!(pascal(input), want, "{input}");
        }
    }

    #[test]
    fn wrapping_follows_word_utils() {
        assert_eq!(
            wrap(
                "Here is one line of text that is going to be wrapped after 20 columns.",
                20,
                "",
                false
            ),
            "Here is one line of\ntext that is going\nto be wrapped after\n20 columns."
        );
        assert_eq!(
            wrap(
                "Click here to jump to http://commons.apache.org, now",
                20,
                "<br />",
                false
            ),
            "Click here to jump<br />to<br />http://commons.apache.org,<br />now"
        );
        assert_eq!(
            wrap(
                "Click here to jump to http://commons.apache.org, now",
                20,
                "<br />",
                true
            ),
            "Click here to jump<br />to<br />http://commons.apach<br />e.org, now"
        );
    }
}
