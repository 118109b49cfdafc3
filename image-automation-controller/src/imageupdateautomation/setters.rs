//! Flux's setter markers applied to one file, changing only the bytes of the values it sets:
//! comments, quoting style, indentation, flow mappings and every other line stay as they were
//! (Flux re-serialises the whole file; Rill does not). A marker is a comment
//! `# {"$imagepolicy": "<namespace>:<policy>[:tag|:name|:digest]"}` on the same line as a
//! scalar value (`key: value` or `- value`), or on the line above a sequence item (pure).

use std::collections::BTreeMap;

use rill_common::api::image_v1::ImageRef;

/// The 14 bytes a file must contain to be looked at.
pub const TOKEN: &str = "\"$imagepolicy\"";

/// One value set in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineChange {
    /// 0-based line.
    pub line: usize,
    /// The value before (unquoted).
    pub old: String,
    /// The value after (unquoted).
    pub new: String,
    /// The marker's policy reference (`namespace:name[:field]`).
    pub setter: String,
}

/// Whether `path` is a file the setters look at (by name).
pub fn considered(file_name: &str) -> bool {
    file_name.ends_with(".yaml") || file_name.ends_with(".yml") || file_name == "Kustomization"
}

/// The setter reference of a marker comment (the text after `#`), if it is one.
fn marker(comment: &str) -> Option<String> {
    let text = comment.trim();
    if !text.starts_with('{') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object.get("$imagepolicy")?.as_str().map(str::to_string)
}

/// The value a setter reference writes, for the selected `policies` (`namespace:name` ->
/// latest ref); `None` for a policy that is not selected or a malformed reference.
fn value_for(setter: &str, policies: &BTreeMap<String, ImageRef>) -> Option<String> {
    let mut parts = setter.splitn(3, ':');
    let (namespace, name) = (parts.next()?, parts.next()?);
    let latest = policies.get(&format!("{namespace}:{name}"))?;
    match parts.next() {
        None => Some(match &latest.digest {
            Some(d) if !d.is_empty() => format!("{}:{}@{d}", latest.name, latest.tag),
            _ => format!("{}:{}", latest.name, latest.tag),
        }),
        Some("tag") => Some(latest.tag.clone()),
        Some("name") => Some(latest.name.clone()),
        Some("digest") => Some(latest.digest.clone().unwrap_or_default()),
        Some(_) => None,
    }
}

/// Where a line's comment starts (the `#` after whitespace, outside quotes), if it has one.
fn comment_start(line: &str) -> Option<usize> {
    let (mut single, mut double, mut escaped) = (false, false, false);
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if double => escaped = true,
            '"' if !single => double = !double,
            '\'' if !double => single = !single,
            '#' if !single && !double && previous.is_whitespace() => return Some(i),
            _ => {}
        }
        previous = c;
    }
    None
}

/// The byte range of the scalar value on a line (`key: value` or `- value`), before `end`.
fn value_span(line: &str, end: usize) -> Option<(usize, usize)> {
    let content = &line[..end];
    let trimmed_end = content.trim_end().len();
    let indent = content.len() - content.trim_start().len();
    let mut start = indent;
    while content[start..].starts_with("- ") {
        start += 2;
        start += content[start..].len() - content[start..].trim_start().len();
    }
    if let Some(colon) = key_separator(&content[start..trimmed_end]) {
        start += colon + 1;
        start += content[start..].len() - content[start..].trim_start().len();
    }
    if start >= trimmed_end {
        return None;
    }
    let first = content[start..].chars().next()?;
    if "{[|>&*!".contains(first) {
        return None;
    }
    Some((start, trimmed_end))
}

/// The offset of the `:` ending a mapping key (plain or quoted) at the start of `text`.
fn key_separator(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    if let Some(&q) = bytes.first().filter(|b| **b == b'"' || **b == b'\'') {
        i = 1 + text[1..].find(q as char)? + 1;
    }
    while i < bytes.len() {
        if bytes[i] == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ') {
            return Some(i);
        }
        if matches!(bytes[i], b'"' | b'\'') && i > 0 {
            return None;
        }
        i += 1;
    }
    None
}

/// The unquoted text of a scalar and its quote character.
fn unquote(raw: &str) -> (String, Option<char>) {
    let quoted = |q: char| raw.len() >= 2 && raw.starts_with(q) && raw.ends_with(q);
    if quoted('"') {
        let inner = &raw[1..raw.len() - 1];
        (inner.replace("\\\"", "\"").replace("\\\\", "\\"), Some('"'))
    } else if quoted('\'') {
        (raw[1..raw.len() - 1].replace("''", "'"), Some('\''))
    } else {
        (raw.to_string(), None)
    }
}

/// `value` written in the style of the scalar it replaces.
fn render(value: &str, quote: Option<char>) -> String {
    let double = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    match quote {
        Some('\'') => format!("'{}'", value.replace('\'', "''")),
        Some(_) => double(value),
        None => {
            let special = value.is_empty()
                || value.contains(": ")
                || value.contains(" #")
                || value.ends_with(':')
                || value.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c))
                || kustomize::yaml::resolve::needs_quotes(value);
            if special {
                double(value)
            } else {
                value.to_string()
            }
        }
    }
}

/// Applies the markers of `text` for the selected `policies`; returns the new text and what
/// changed, or `None` when nothing did.
pub fn apply(
    text: &str,
    policies: &BTreeMap<String, ImageRef>,
) -> Option<(String, Vec<LineChange>)> {
    let mut out = String::with_capacity(text.len());
    let mut changes = Vec::new();
    let mut head: Option<String> = None;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let comment = comment_start(body);
        let own = comment.and_then(|c| marker(&body[c + 1..]));
        let whole_comment = body.trim_start().starts_with('#');
        let setter = match (&own, whole_comment) {
            (_, true) => {
                head = marker(&body.trim_start()[1..]);
                out.push_str(line);
                continue;
            }
            (Some(s), false) => Some(s.clone()),
            (None, false) if body.trim_start().starts_with("- ") => head.take(),
            _ => None,
        };
        head = None;
        let replaced = setter.as_ref().and_then(|setter| {
            let new = value_for(setter, policies)?;
            let (start, end) = value_span(body, comment.unwrap_or(body.len()))?;
            let (old, quote) = unquote(&body[start..end]);
            (old != new).then(|| {
                let rendered = format!("{}{}{}", &body[..start], render(&new, quote), &body[end..]);
                (
                    rendered,
                    LineChange {
                        line: number,
                        old,
                        new,
                        setter: setter.clone(),
                    },
                )
            })
        });
        match replaced {
            Some((rendered, change)) => {
                out.push_str(&rendered);
                out.push_str(ending);
                changes.push(change);
            }
            None => out.push_str(line),
        }
    }
    (!changes.is_empty()).then_some((out, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies() -> BTreeMap<String, ImageRef> {
        let r = |name: &str, tag: &str, digest: Option<&str>| ImageRef {
            name: name.into(),
            tag: tag.into(),
            digest: digest.map(Into::into),
        };
        [
            ("apps:web".to_string(), r("ghcr.io/acme/web", "1.4.2", None)),
            ("apps:num".to_string(), r("ghcr.io/acme/num", "1.10", None)),
            (
                "apps:pinned".to_string(),
                r("ghcr.io/acme/pinned", "2.0.0", Some("sha256:abc")),
            ),
        ]
        .into()
    }

    #[test]
    fn only_the_marked_values_change_byte_for_byte() {
        let cases: &[(&str, &str)] = &[
            // the full image with the documented marker, trailing spaces kept
            (
                "      image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"apps:web\"}\n",
                "      image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"apps:web\"}\n",
            ),
            // :tag and :name markers, a kustomization images entry
            (
                "- name: ghcr.io/acme/web\n  newTag: 1.0.0 # {\"$imagepolicy\": \"apps:web:tag\"}\n",
                "- name: ghcr.io/acme/web\n  newTag: 1.4.2 # {\"$imagepolicy\": \"apps:web:tag\"}\n",
            ),
            (
                "  newName: old/name # {\"$imagepolicy\": \"apps:web:name\"}\n",
                "  newName: ghcr.io/acme/web # {\"$imagepolicy\": \"apps:web:name\"}\n",
            ),
            // quoting style kept; a plain value that would read as a number gets quoted
            (
                "tag: '1.0' # {\"$imagepolicy\": \"apps:num:tag\"}\n",
                "tag: '1.10' # {\"$imagepolicy\": \"apps:num:tag\"}\n",
            ),
            (
                "tag: \"1.0\" # {\"$imagepolicy\": \"apps:num:tag\"}\n",
                "tag: \"1.10\" # {\"$imagepolicy\": \"apps:num:tag\"}\n",
            ),
            (
                "tag: v1 # {\"$imagepolicy\": \"apps:num:tag\"}\n",
                "tag: \"1.10\" # {\"$imagepolicy\": \"apps:num:tag\"}\n",
            ),
            // digests
            (
                "image: x # {\"$imagepolicy\": \"apps:pinned\"}\n",
                "image: ghcr.io/acme/pinned:2.0.0@sha256:abc # {\"$imagepolicy\": \"apps:pinned\"}\n",
            ),
            (
                "digest: none # {\"$imagepolicy\": \"apps:pinned:digest\"}\n",
                "digest: sha256:abc # {\"$imagepolicy\": \"apps:pinned:digest\"}\n",
            ),
            // a head comment above a sequence item
            (
                "args:\n  # {\"$imagepolicy\": \"apps:web:tag\"}\n  - 1.0.0\n  - keep\n",
                "args:\n  # {\"$imagepolicy\": \"apps:web:tag\"}\n  - 1.4.2\n  - keep\n",
            ),
            // CRLF line endings kept
            (
                "a: 1\r\nimage: x:1 # {\"$imagepolicy\": \"apps:web\"}\r\n",
                "a: 1\r\nimage: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"apps:web\"}\r\n",
            ),
        ];
        for (before, after) in cases {
            let (text, changes) = apply(before, &policies()).expect(before);
            assert_eq!(&text, after);
            assert_eq!(changes.len(), 1, "{before}");
        }
    }

    #[test]
    fn unmarked_unselected_and_current_values_are_left_alone() {
        let untouched = [
            // no marker; a marker of a policy not selected; a malformed marker
            "image: ghcr.io/acme/web:1.0.0\n",
            "image: x # {\"$imagepolicy\": \"other:web\"}\n",
            "image: x # {\"$imagepolicy\": \"apps:web:bogus\"}\n",
            "image: x # {\"$imagepolicy\": \"apps:web\", \"extra\": 1}\n",
            // already current
            "image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"apps:web\"}\n",
            // a head comment above a mapping key attaches to the key
            "# {\"$imagepolicy\": \"apps:web\"}\nimage: x\n",
            // keys, flow collections and block scalars are never rewritten
            "image: {a: b} # {\"$imagepolicy\": \"apps:web\"}\n",
            "image: | # {\"$imagepolicy\": \"apps:web\"}\n  x\n",
            // a # inside quotes is not a comment
            "image: \"a # {\\\"$imagepolicy\\\": \\\"apps:web\\\"}\"\n",
        ];
        for text in untouched {
            assert_eq!(apply(text, &policies()), None, "{text}");
        }
    }

    #[test]
    fn file_names_follow_flux() {
        for (name, want) in [
            ("deploy.yaml", true),
            ("values.yml", true),
            ("Kustomization", true),
            ("kustomization.json", false),
            ("README.md", false),
        ] {
            assert_eq!(considered(name), want, "{name}");
        }
    }
}
