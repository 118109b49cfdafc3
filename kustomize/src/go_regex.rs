//! Go regular expressions (RE2 syntax, as kustomize compiles them with Go's `regexp`) turned
//! into the `regex` crate's syntax where the two differ: Go takes a `{` that does not start a
//! repetition and a lone `}` as literals, takes `[`, `&&`, `--` and `~~` inside a class
//! literally, has `\Q...\E` quoting, and its `\d`, `\w`, `\s` and `\b` are ASCII-only.

/// A Go pattern the engine cannot reproduce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error parsing regexp {pattern:?}: {message}")]
pub struct GoRegexError {
    pattern: String,
    message: String,
}

/// Compiles a Go pattern, anchored (`^(?:p)$`) when `anchored`, as kustomize's selectors do.
pub fn compile(pattern: &str, anchored: bool) -> Result<regex::Regex, GoRegexError> {
    let error = |message: String| GoRegexError {
        pattern: pattern.to_string(),
        message,
    };
    let translated = translate(pattern).map_err(error)?;
    let full = if anchored {
        format!("^(?:{translated})$")
    } else {
        translated
    };
    regex::RegexBuilder::new(&full)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| error(e.to_string()))
}

/// The length of a Go repetition (`{n}`, `{n,}`, `{n,m}`, bounds <= 1000) at the start of
/// `rest`, if it is one.
fn repetition(rest: &[char]) -> Option<usize> {
    let close = rest.iter().position(|&c| c == '}')?;
    let inner: String = rest[1..close].iter().collect();
    let (min, max) = match inner.split_once(',') {
        Some((min, max)) => (min, Some(max)),
        None => (inner.as_str(), None),
    };
    let bound = |s: &str| {
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n <= 1000)
    };
    let min = bound(min)?;
    if let Some(max) = max
        && !max.is_empty()
        && bound(max)? < min
    {
        return None;
    }
    Some(close + 1)
}

fn ascii_class(c: char, in_class: bool) -> Option<&'static str> {
    Some(match (c, in_class) {
        ('d', false) => "[0-9]",
        ('d', true) => "0-9",
        ('w', false) => "[0-9A-Za-z_]",
        ('w', true) => "0-9A-Za-z_",
        ('s', false) => r"[\t\n\f\r ]",
        ('s', true) => r"\t\n\f\r ",
        ('D', false) => "[^0-9]",
        ('W', false) => "[^0-9A-Za-z_]",
        ('S', false) => r"[^\t\n\f\r ]",
        ('b', false) => r"(?-u:\b)",
        ('B', false) => r"(?-u:\B)",
        _ => return None,
    })
}

fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    // Inside a class: the index of its first member (where `]` is literal).
    let mut class_start: Option<usize> = None;
    // Go refuses a repetition of a repetition (`a**`); one `?` after it makes it lazy.
    let (mut after_repeat, mut lazy) = (false, false);
    while i < chars.len() {
        let c = chars[i];
        let repeat_here = class_start.is_none()
            && c != '\\'
            && (matches!(c, '*' | '+' | '?') || (c == '{' && repetition(&chars[i..]).is_some()));
        if repeat_here {
            if after_repeat && (c != '?' || lazy) {
                return Err("invalid nested repetition operator".into());
            }
            lazy = after_repeat;
            after_repeat = true;
        } else {
            (after_repeat, lazy) = (false, false);
        }
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                return Err("trailing backslash at end of expression".into());
            };
            if next == 'Q' && class_start.is_none() {
                let rest: String = chars[i + 2..].iter().collect();
                let (quoted, consumed) = match rest.find(r"\E") {
                    Some(end) => (&rest[..end], rest[..end].chars().count() + 2),
                    None => (rest.as_str(), rest.chars().count()),
                };
                out.push_str(&regex::escape(quoted));
                i += 2 + consumed;
                continue;
            }
            match ascii_class(next, class_start.is_some()) {
                Some(class) => out.push_str(class),
                None => {
                    out.push('\\');
                    out.push(next);
                }
            }
            i += 2;
            continue;
        }
        match class_start {
            Some(start) => {
                let at_start = i == start || (i == start + 1 && chars[start] == '^');
                match c {
                    ']' if !at_start => {
                        class_start = None;
                        out.push(']');
                    }
                    ']' => out.push_str(r"\]"),
                    '[' if chars.get(i + 1) == Some(&':') => {
                        let rest: String = chars[i..].iter().collect();
                        let end = rest.find(":]").map(|e| e + 2).unwrap_or(1);
                        out.push_str(&rest[..end]);
                        i += rest[..end].chars().count();
                        continue;
                    }
                    '[' => out.push_str(r"\["),
                    '&' | '-' | '~' if chars.get(i + 1) == Some(&c) => {
                        out.push(c);
                        out.push('\\');
                        out.push(c);
                        i += 2;
                        continue;
                    }
                    _ => out.push(c),
                }
            }
            None => match c {
                '[' => {
                    class_start = Some(i + 1);
                    out.push('[');
                }
                '{' => match repetition(&chars[i..]) {
                    Some(length) => {
                        out.extend(&chars[i..i + length]);
                        i += length;
                        continue;
                    }
                    None => out.push_str(r"\{"),
                },
                '}' => out.push_str(r"\}"),
                _ => out.push(c),
            },
        }
        i += 1;
    }
    if class_start.is_some() {
        return Err("missing closing ]".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_patterns_match_as_in_go() {
        // (pattern, anchored, text, matches) — each as Go's regexp.MatchString decides.
        let cases = [
            (
                r"\${CLUSTER_NAME}-control-plane",
                true,
                "${CLUSTER_NAME}-control-plane",
                true,
            ),
            ("(ConfigMap|Service)", true, "Service", true),
            ("(ConfigMap|Service)", true, "ServiceAccount", false),
            ("web", false, "web-sidecar", true),
            ("web", true, "web-sidecar", false),
            ("a{2}", true, "aa", true),
            ("a{2,}", true, "aaa", true),
            ("a{,2}", true, "a{,2}", true),
            ("x{}", true, "x{}", true),
            ("a}", true, "a}", true),
            (r"\d+", true, "١٢", false),
            (r"\d+", true, "12", true),
            ("[a[]+", true, "a[a", true),
            ("[]a]+", true, "]a", true),
            ("[^]a]", true, "b", true),
            ("[[:alpha:]]+", true, "abc", true),
            (r"\Qa.b\E+", true, "a.bb", true),
            (r"\Qa.b", true, "a.b", true),
            ("[a&&b]+", true, "a&b", true),
            (".*", true, "", true),
        ];
        for (pattern, anchored, text, want) in cases {
            let re = compile(pattern, anchored).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(re.is_match(text), want, "{pattern} on {text:?}");
        }
    }

    #[test]
    fn patterns_go_rejects_are_rejected() {
        for pattern in ["(a", "[a", "a\\", "*a", "a**"] {
            assert!(compile(pattern, true).is_err(), "{pattern}");
        }
    }
}
