//! Reading YAML documents into JSON values the way kustomize's go-yaml v3 decode and JSON
//! round trip does: plain scalars resolved with go-yaml's rules, quoted and block scalars as
//! strings, anchors and aliases, merge keys, duplicate keys refused.

use std::collections::{HashMap, HashSet};

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

use super::resolve::plain_value;

/// A document that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(pub String);

/// One step of a path into a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Where a document spells a mapping value as `null` or `~` (rather than leaving it empty):
/// kustomize's strategic merge keeps those and clears the empty ones.
pub type ExplicitNulls = Vec<Vec<PathSeg>>;

enum Frame {
    Seq(Vec<Value>, Option<usize>),
    /// A mapping, its pending key, its anchor, and the keys written explicitly (a key that
    /// only came from a `<<` merge may be set again; go-yaml lets the explicit one win).
    Map(
        Map<String, Value>,
        Option<String>,
        Option<usize>,
        HashSet<String>,
    ),
}

/// A `!!binary` scalar as go-yaml reads it: base64 (whitespace ignored) decoded to its bytes
/// (bytes that are not UTF-8 become replacement characters; go-yaml keeps them raw).
fn binary(text: &str) -> Result<String, YamlError> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| YamlError("!!binary value contains invalid base64 data".into()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of one scalar: plain scalars resolved with go-yaml's rules, quoted, block and
/// `!!str`-tagged ones as strings, `!!binary` decoded.
fn scalar_value(
    text: &str,
    style: ScalarStyle,
    tag: Option<&granit_parser::Tag>,
) -> Result<Value, YamlError> {
    if let Some(tag) = tag {
        // `binary` is a YAML 1.1 tag (outside the 1.2 core schema) that go-yaml decodes.
        if tag.suffix_in_namespace("tag:yaml.org,2002:").as_deref() == Some("binary") {
            return Ok(Value::String(binary(text)?));
        }
        let suffix = tag.suffix();
        if tag.is_yaml_core_schema() {
            return Ok(match suffix {
                "str" => Value::String(text.to_string()),
                "null" => Value::Null,
                _ => plain_value(text).map_err(YamlError)?,
            });
        }
        return Ok(Value::String(text.to_string()));
    }
    if style == ScalarStyle::Plain {
        plain_value(text).map_err(YamlError)
    } else {
        Ok(Value::String(text.to_string()))
    }
}

/// One scalar as go-yaml reads it: [`scalar_value`], go-yaml's folding, and no final line
/// break for a block scalar that ends the file (`at_end`) without one (the parser reports the
/// clipped break anyway; go-yaml does not).
pub fn read_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&granit_parser::Tag>,
    at_end: bool,
) -> Result<Value, YamlError> {
    let mut value = scalar_value(text, style, tag)?;
    if style == ScalarStyle::Folded
        && let Value::String(s) = &mut value
    {
        *s = go_yaml_folding(s);
    }
    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
        && at_end
        && let Value::String(s) = &mut value
        && s.ends_with('\n')
        && !s.ends_with("\n\n")
    {
        s.pop();
    }
    Ok(value)
}

/// go-yaml v3 keeps one more line break than YAML 1.2 before a more-indented line of a folded
/// scalar that follows a normal line (`a\n  b` reads as `a\n\n  b`); kustomize prints what
/// go-yaml read, so the engine reads it the same way.
fn go_yaml_folding(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous_indented: Option<bool> = None;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !line.is_empty() {
            let indented = line.starts_with([' ', '\t']);
            if indented && previous_indented == Some(false) {
                out.push('\n');
            }
            previous_indented = Some(indented);
        }
        out.push_str(line);
    }
    out
}

/// A mapping key as text; a sequence or mapping used as a key is refused, as go-yaml does
/// when it decodes into a `map[string]interface{}` ("invalid map key").
fn key_text(value: &Value) -> Result<String, YamlError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok("null".to_string()),
        Value::Array(_) | Value::Object(_) => Err(YamlError(
            "invalid map key: a sequence or mapping cannot be a mapping key".into(),
        )),
        other => Ok(other.to_string()),
    }
}

/// Reads every document of `text`; empty documents are skipped, duplicate keys refused.
pub fn read_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    Ok(read(text, false, &[])?
        .into_iter()
        .map(|(doc, _)| doc)
        .collect())
}

/// Reads resources: like [`read_documents`], with each document's explicit nulls, and the
/// values of `metadata.annotations` as the text they were written with (kustomize's reader
/// rewrites a resource's annotations as strings: `true` becomes `"true"`, `1.50` stays
/// `"1.50"`, a list becomes `""`).
pub fn read_documents_with_nulls(text: &str) -> Result<Vec<(Value, ExplicitNulls)>, YamlError> {
    read(text, false, &["annotations"])
}

/// Reads `patchesStrategicMerge` documents: kustomize loads them as resources whose labels
/// and annotations are rewritten as strings.
pub fn read_patch_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    Ok(read(text, false, &["labels", "annotations"])?
        .into_iter()
        .map(|(doc, _)| doc)
        .collect())
}

/// Whether the value being read is one of `metadata.<field>` for a field in `as_text`.
fn metadata_text_value(stack: &[Frame], as_text: &[&str]) -> bool {
    matches!(
        stack,
        [
            Frame::Map(_, Some(metadata), _, _),
            Frame::Map(_, Some(field), _, _),
            Frame::Map(_, Some(_), _, _),
        ] if metadata == "metadata" && as_text.contains(&field.as_str())
    )
}

/// The path of the value being read, when it is a mapping value.
fn value_path(stack: &[Frame]) -> Option<Vec<PathSeg>> {
    if !matches!(stack.last(), Some(Frame::Map(_, Some(_), _, _))) {
        return None;
    }
    stack
        .iter()
        .map(|frame| match frame {
            Frame::Map(_, Some(key), _, _) => Some(PathSeg::Key(key.clone())),
            Frame::Map(_, None, _, _) => None,
            Frame::Seq(items, _) => Some(PathSeg::Index(items.len())),
        })
        .collect()
}

/// Reads a kustomization file the way kustomize does (go-yaml v2): a duplicated key is
/// allowed and the last value wins.
pub fn read_documents_last_key_wins(text: &str) -> Result<Vec<Value>, YamlError> {
    Ok(read(text, true, &[])?
        .into_iter()
        .map(|(doc, _)| doc)
        .collect())
}

fn read(
    text: &str,
    last_key_wins: bool,
    as_text: &[&str],
) -> Result<Vec<(Value, ExplicitNulls)>, YamlError> {
    let mut documents = Vec::new();
    let mut nulls: ExplicitNulls = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut budget = ALIAS_BUDGET + text.len();
    let mut current: Option<Value> = None;
    let text_ends_with_break = text.ends_with('\n');
    let total_chars = text.chars().count();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError(e.to_string()))?;
        let finished: Option<(Value, Option<usize>)> = match event {
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(..)
            | Event::Anchor(..) => None,
            Event::DocumentEnd => {
                if let Some(doc) = current.take()
                    && !doc.is_null()
                {
                    documents.push((doc, std::mem::take(&mut nulls)));
                }
                nulls.clear();
                anchors.clear();
                None
            }
            Event::Alias(id) => {
                let (value, size) = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| YamlError(format!("unknown anchor {id}")))?;
                budget = budget
                    .checked_sub(size)
                    .ok_or_else(|| YamlError("document contains excessive aliasing".into()))?;
                Some((value, None))
            }
            Event::UnresolvedAlias(name) => {
                return Err(YamlError(format!("unknown anchor '{name}' referenced")));
            }
            Event::Scalar(text, style, anchor, tag) => {
                let at_end = !text_ends_with_break && span.end.index() >= total_chars;
                let mut value = read_scalar(&text, style, tag.as_deref(), at_end)?;
                if !as_text.is_empty() && metadata_text_value(&stack, as_text) {
                    // An empty value comes as `~` with an empty span.
                    let empty = span.end.index() == span.start.index();
                    value = Value::String(if empty {
                        String::new()
                    } else {
                        text.to_string()
                    });
                }
                // A mapping key left empty (`: value`) is an error for go-yaml.
                if value.is_null()
                    && span.end.index() == span.start.index()
                    && matches!(stack.last(), Some(Frame::Map(_, None, _, _)))
                {
                    return Err(YamlError(format!(
                        "did not find expected key (an empty mapping key at char {})",
                        span.start.index()
                    )));
                }
                // The parser reports an empty value as `~`; its span is empty.
                if value.is_null()
                    && span.end.index() > span.start.index()
                    && let Some(path) = value_path(&stack)
                {
                    nulls.push(path);
                }
                Some((value, (anchor > 0).then_some(anchor)))
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), (anchor > 0).then_some(anchor)));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map(
                    Map::new(),
                    None,
                    (anchor > 0).then_some(anchor),
                    HashSet::new(),
                ));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => Some((Value::Array(items), anchor)),
                _ => return Err(YamlError("unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(map, _, anchor, _)) => Some((Value::Object(map), anchor)),
                _ => return Err(YamlError("unbalanced mapping".into())),
            },
            #[allow(unreachable_patterns)]
            _ => None,
        };
        // A list or map as an annotation (or patch label) value reads as empty text.
        let finished = match finished {
            Some((value, anchor))
                if (value.is_array() || value.is_object())
                    && !as_text.is_empty()
                    && metadata_text_value(&stack, as_text) =>
            {
                Some((Value::String(String::new()), anchor))
            }
            other => other,
        };
        let Some((value, anchor)) = finished else {
            continue;
        };
        if let Some(id) = anchor {
            anchors.insert(id, (value.clone(), value_size(&value)));
        }
        match stack.last_mut() {
            None => current = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, pending, _, explicit)) => match pending.take() {
                None => *pending = Some(key_text(&value)?),
                Some(key) if key == "<<" => merge_into(map, value)?,
                Some(key) => {
                    if !explicit.insert(key.clone()) && !last_key_wins {
                        return Err(YamlError(format!("mapping key \"{key}\" already defined")));
                    }
                    map.insert(key, value);
                }
            },
        }
    }
    if let Some(doc) = current.take()
        && !doc.is_null()
    {
        documents.push((doc, nulls));
    }
    Ok(documents)
}

/// How many values aliases may expand a document to, beyond one per input byte (go-yaml
/// refuses "excessive aliasing" the same way): a kilobyte alias bomb stops here instead of
/// taking gigabytes.
pub const ALIAS_BUDGET: usize = 100_000;

/// What `value` costs against the alias budget: one per value, plus one per 8 bytes of its
/// strings and keys (so that aliasing a long string is bounded too).
pub fn value_size(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(value_size).sum::<usize>(),
        Value::Object(map) => {
            1 + map
                .iter()
                .map(|(k, v)| k.len() / 8 + value_size(v))
                .sum::<usize>()
        }
        Value::String(s) => 1 + s.len() / 8,
        _ => 1,
    }
}

fn merge_into(map: &mut Map<String, Value>, value: Value) -> Result<(), YamlError> {
    let sources = match value {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(m) => Ok(m),
                _ => Err(YamlError(
                    "map merge requires map or sequence of maps as the value".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(YamlError(
                "map merge requires map or sequence of maps as the value".into(),
            ));
        }
    };
    for source in sources {
        for (k, v) in source {
            map.entry(k).or_insert(v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn documents_scalars_anchors_and_merges() {
        let text = "a: 1\nb: 'x'\nc: &c {d: true}\ne: *c\nf:\n  <<: *c\n  g: 0777\n---\n---\nh: [1.5, ~]\n";
        let docs = read_documents(text).unwrap();
        assert_eq!(
            docs,
            vec![
                json!({"a": 1, "b": "x", "c": {"d": true}, "e": {"d": true}, "f": {"d": true, "g": 511}}),
                json!({"h": [1.5, null]}),
            ]
        );
    }

    #[test]
    fn alias_bombs_are_refused_also_through_merge_keys() {
        let (bomb, merge) = crate::fuzzing::alias_bombs();
        for text in [bomb, merge] {
            let error = read_documents(&text).unwrap_err().to_string();
            assert!(error.contains("excessive aliasing"), "{error}");
        }
        // Long strings count by their length.
        let mut strings = format!("a: &a '{}'\n", "x".repeat(10_000));
        let mut prev = 'a';
        for name in "bcdef".chars() {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            strings.push_str(&format!("{name}: &{name} [{refs}]\n"));
            prev = name;
        }
        let error = read_documents(&strings).unwrap_err().to_string();
        assert!(error.contains("excessive aliasing"), "{error}");
        assert!(
            read_documents("? [a, b]\n: x\n")
                .unwrap_err()
                .to_string()
                .contains("invalid map key")
        );
        // Ordinary anchors stay fine; an explicit key overrides a merged one, as in go-yaml.
        let docs =
            read_documents("a: &a {b: 1, c: 2}\nd: {<<: *a, b: 3}\ne: {b: 4, <<: *a}\n").unwrap();
        assert_eq!(docs[0]["d"], serde_json::json!({"b": 3, "c": 2}));
        assert_eq!(docs[0]["e"], serde_json::json!({"b": 4, "c": 2}));
    }

    #[test]
    fn binary_scalars_are_decoded() {
        let docs = read_documents("a: !!binary aGVsbG8=\nb: !!binary |\n  aGVs\n  bG8=\n").unwrap();
        assert_eq!(docs[0], serde_json::json!({"a": "hello", "b": "hello"}));
        assert!(read_documents("a: !!binary '%%%'\n").is_err());
    }

    #[test]
    fn duplicate_keys_and_bad_yaml_are_errors() {
        assert!(read_documents("a: 1\na: 2\n").is_err());
        assert!(read_documents("a: [1\n").is_err());
    }
}
#[cfg(test)]
mod explicit_null_tests {
    use super::*;

    #[test]
    fn explicit_nulls_are_told_from_empty_values() {
        let docs =
            read_documents_with_nulls("a: null\nb:\nc: ~\nd:\n  e:\n  f: null\ng: [x, null]\n")
                .unwrap();
        let key = |k: &str| PathSeg::Key(k.into());
        assert_eq!(
            docs[0].1,
            vec![vec![key("a")], vec![key("c")], vec![key("d"), key("f")]]
        );
    }
}
