//! Post-build variable substitution (pure): bash-like `${var}` expressions as Flux's envsubst
//! understands them, with strict mode for variables that have no value and no default.

use std::collections::BTreeMap;

/// Why a text could not be substituted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubstError {
    /// A `${` without its `}` or with an expression that does not parse.
    #[error("bad substitution: {0:?}")]
    BadSubstitution(String),
    /// Strict mode: a variable with no value and no default.
    #[error("variable not set (strict mode): {0:?}")]
    Unset(String),
    /// Nested replacements would grow a value beyond what any object can hold.
    #[error("a substitution result would exceed {MAX_VALUE} bytes")]
    TooLarge,
}

/// The largest value one replacement may produce (a Kubernetes object cannot exceed ~1.5 MiB;
/// nested `${a//x/${a//x/...}}` would otherwise grow exponentially).
pub const MAX_VALUE: usize = 2 << 20;

/// Whether `name` is a valid variable name (`^[_[:alpha:]][_[:alpha:][:digit:]]*$`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Replaces every `${...}` of `text`. `$${` is a literal `${`; `$name` is left alone.
pub fn substitute(
    text: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<String, SubstError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(body_start) = tail.strip_prefix("${") {
            let end = closing_brace(body_start)
                .ok_or_else(|| SubstError::BadSubstitution(truncate(tail)))?;
            out.push_str(&expand(&body_start[..end], vars, strict)?);
            rest = &body_start[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// The index of the `}` closing an expression body, skipping nested `${...}`.
fn closing_brace(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn expand(body: &str, vars: &BTreeMap<String, String>, strict: bool) -> Result<String, SubstError> {
    let bad = || SubstError::BadSubstitution(format!("${{{body}}}"));
    if let Some(name) = body.strip_prefix('#') {
        if !valid_name(name) {
            return Err(bad());
        }
        return Ok(lookup(name, vars, strict)?.chars().count().to_string());
    }
    let name_len = body
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(body.len(), |(i, _)| i);
    let (name, op) = body.split_at(name_len);
    if name.is_empty() {
        return Err(bad());
    }
    let value = vars.get(name);
    let default = |text: &str| substitute(text, vars, strict);
    match op {
        "" => lookup(name, vars, strict),
        _ if op.starts_with(":=") || op.starts_with(":-") => match value {
            Some(v) if !v.is_empty() => Ok(v.clone()),
            _ => default(&op[2..]),
        },
        _ if op.starts_with('=') || op.starts_with('-') => match value {
            Some(v) => Ok(v.clone()),
            None => default(&op[1..]),
        },
        "^" | "^^" | "," | ",," => {
            let v = lookup(name, vars, strict)?;
            Ok(change_case(&v, op))
        }
        _ if op.starts_with("##") || op.starts_with('#') => {
            let v = lookup(name, vars, strict)?;
            let pattern = default(op.trim_start_matches('#'))?;
            Ok(v.strip_prefix(pattern.as_str()).unwrap_or(&v).to_string())
        }
        _ if op.starts_with("%%") || op.starts_with('%') => {
            let v = lookup(name, vars, strict)?;
            let pattern = default(op.trim_start_matches('%'))?;
            Ok(v.strip_suffix(pattern.as_str()).unwrap_or(&v).to_string())
        }
        _ if op.starts_with('/') => {
            let v = lookup(name, vars, strict)?;
            replace(&v, &op[1..], &default)
        }
        _ if op.starts_with(':') => {
            let v = lookup(name, vars, strict)?;
            slice(&v, &op[1..]).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

fn lookup(name: &str, vars: &BTreeMap<String, String>, strict: bool) -> Result<String, SubstError> {
    match vars.get(name) {
        Some(v) => Ok(v.clone()),
        None if strict => Err(SubstError::Unset(name.to_string())),
        None => Ok(String::new()),
    }
}

fn change_case(value: &str, op: &str) -> String {
    let mut chars = value.chars();
    match op {
        "^^" => value.to_uppercase(),
        ",," => value.to_lowercase(),
        "^" => chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default(),
        _ => chars
            .next()
            .map(|c| c.to_lowercase().chain(chars).collect())
            .unwrap_or_default(),
    }
}

/// `/sub/rep` (first), `//sub/rep` (all), `/#sub/rep` (prefix), `/%sub/rep` (suffix).
fn replace(
    value: &str,
    spec: &str,
    expand: &dyn Fn(&str) -> Result<String, SubstError>,
) -> Result<String, SubstError> {
    let (mode, spec) = match spec.chars().next() {
        Some(c @ ('/' | '#' | '%')) => (Some(c), &spec[1..]),
        _ => (None, spec),
    };
    let (pattern, replacement) = spec.split_once('/').unwrap_or((spec, ""));
    let (pattern, replacement) = (expand(pattern)?, expand(replacement)?);
    if pattern.is_empty() {
        return Ok(value.to_string());
    }
    let matches = value.matches(pattern.as_str()).count();
    let grown = value.len() + matches.saturating_mul(replacement.len());
    if grown > MAX_VALUE {
        return Err(SubstError::TooLarge);
    }
    Ok(match mode {
        Some('/') => value.replace(&pattern, &replacement),
        Some('#') => match value.strip_prefix(pattern.as_str()) {
            Some(rest) => format!("{replacement}{rest}"),
            None => value.to_string(),
        },
        Some('%') => match value.strip_suffix(pattern.as_str()) {
            Some(rest) => format!("{rest}{replacement}"),
            None => value.to_string(),
        },
        _ => value.replacen(&pattern, &replacement, 1),
    })
}

/// `:pos` or `:pos:len` on characters; a negative position counts from the end.
fn slice(value: &str, spec: &str) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    let (pos, len) = match spec.split_once(':') {
        Some((p, l)) => (p.trim(), Some(l.trim().parse::<i64>().ok()?)),
        None => (spec.trim(), None),
    };
    let pos: i64 = pos.parse().ok()?;
    let count = i64::try_from(chars.len()).ok()?;
    let start = if pos < 0 {
        (count + pos).max(0)
    } else {
        pos.min(count)
    };
    let end = match len {
        Some(l) if l < 0 => (count + l).max(start),
        Some(l) => (start + l).min(count),
        None => count,
    };
    let (start, end) = (usize::try_from(start).ok()?, usize::try_from(end).ok()?);
    Some(chars[start..end].iter().collect())
}

/// The fuzz target's body (`fuzz/fuzz_targets/envsubst.rs`, and the regression test over
/// its findings): the text before the first NUL substituted, strict and lenient, with the
/// `name=value` lines after it.
pub fn substitute_fuzz_input(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (template, lines) = text.split_once('\0').unwrap_or((&text, "a=1\nb=${a}"));
    let vars: BTreeMap<String, String> = lines
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let _ = substitute(template, &vars, true);
    let _ = substitute(template, &vars, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("cluster", "prod-eu"),
            ("empty", ""),
            ("replicas", "3"),
            ("image", "ghcr.io/acme/app:v1.2.3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn nested_replacements_are_bounded() {
        let mut vars = vars();
        vars.insert("a".into(), "a".repeat(64));
        let mut text = String::from("x");
        for _ in 0..8 {
            text = format!("${{a//a/{text}{text}}}");
        }
        assert!(matches!(
            substitute(&text, &vars, true),
            Err(SubstError::TooLarge)
        ));
        // What a fuzzing campaign found (tests/fuzz-regressions): returns, within memory.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            substitute_fuzz_input(&std::fs::read(entry.path()).unwrap_or_default());
        }
    }

    #[test]
    fn expressions_expand_like_flux_envsubst() {
        let cases = [
            ("name: ${cluster}", "name: prod-eu"),
            ("n: ${replicas}", "n: 3"),
            ("$cluster stays", "$cluster stays"),
            ("literal $${cluster}", "literal ${cluster}"),
            ("cost: $5", "cost: $5"),
            ("${missing:=def}", "def"),
            ("${missing:-def}", "def"),
            ("${empty:=def}", "def"),
            ("${empty=def}", ""),
            ("${missing=def}", "def"),
            ("${cluster:=def}", "prod-eu"),
            ("${missing:=${cluster}-x}", "prod-eu-x"),
            ("${#cluster}", "7"),
            ("${cluster^^}", "PROD-EU"),
            ("${cluster^}", "Prod-eu"),
            ("${cluster:0:4}", "prod"),
            ("${cluster:5}", "eu"),
            ("${cluster: -2}", "eu"),
            ("${cluster/-/_}", "prod_eu"),
            ("${image//./-}", "ghcr-io/acme/app:v1-2-3"),
            ("${image#ghcr.io/}", "acme/app:v1.2.3"),
            ("${image%:v1.2.3}", "ghcr.io/acme/app"),
            ("a ${cluster} b ${replicas} c", "a prod-eu b 3 c"),
        ];
        for (input, want) in cases {
            assert_eq!(
                substitute(input, &vars(), true).as_deref(),
                Ok(want),
                "{input}"
            );
        }
    }

    #[test]
    fn strict_mode_refuses_unset_variables_and_lax_mode_empties_them() {
        assert_eq!(
            substitute("x: ${nope}", &vars(), true),
            Err(SubstError::Unset("nope".into()))
        );
        assert_eq!(
            substitute("x: ${nope}", &vars(), false).as_deref(),
            Ok("x: ")
        );
        assert_eq!(
            substitute("x: ${empty}", &vars(), true).as_deref(),
            Ok("x: ")
        );
    }

    #[test]
    fn malformed_expressions_are_errors_not_panics() {
        for input in [
            "${",
            "${cluster",
            "${}",
            "${1abc}",
            "${cluster:x}",
            "${cluster?}",
        ] {
            assert!(
                matches!(
                    substitute(input, &vars(), true),
                    Err(SubstError::BadSubstitution(_))
                ),
                "{input}"
            );
        }
    }

    #[test]
    fn names_follow_the_posix_rule() {
        for (name, ok) in [
            ("a", true),
            ("_x1", true),
            ("A_B", true),
            ("1a", false),
            ("a-b", false),
            ("", false),
        ] {
            assert_eq!(valid_name(name), ok, "{name}");
        }
    }
}
