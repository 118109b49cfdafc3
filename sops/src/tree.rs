//! The document tree SOPS works on: mappings keep their key order (the MAC is computed in
//! document order), scalars keep both what SOPS hashes and what kustomize will read. Read from
//! YAML or JSON with the engine's own scalar rules, written back as JSON (which every YAML
//! reader, kustomize's included, reads as the same document).

use std::collections::HashMap;
use std::fmt::Write as _;

use granit_parser::{Event, Parser, ScalarStyle};
use kustomize::yaml::read::{ALIAS_BUDGET, read_scalar};
use serde_json::Value;

use crate::error::SopsError;

/// One node of a document.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A mapping, in document order.
    Map(Vec<(String, Node)>),
    /// A sequence.
    Seq(Vec<Node>),
    /// A scalar (string, number, bool or null) as kustomize reads it.
    Leaf(Value),
    /// A plain scalar that go-yaml resolves to a timestamp: SOPS hashes its text, kustomize
    /// reads it as Go's RFC 3339 form.
    Timestamp {
        /// The text as written.
        text: String,
        /// What kustomize reads.
        read: String,
    },
}

impl Node {
    /// The value at `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string at `key` of a mapping, if it is one.
    pub fn str_at(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Node::Leaf(Value::String(s))) => Some(s),
            _ => None,
        }
    }

    /// Removes and returns the value at `key` of a mapping.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        match self {
            Node::Map(items) => {
                let at = items.iter().position(|(k, _)| k == key)?;
                Some(items.remove(at).1)
            }
            _ => None,
        }
    }

    /// Writes the node as compact JSON.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Node::Map(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
            Node::Seq(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out);
                }
                out.push(']');
            }
            Node::Leaf(v) => {
                let _ = write!(out, "{v}");
            }
            Node::Timestamp { read, .. } => {
                out.push_str(&Value::String(read.clone()).to_string());
            }
        }
    }

    /// The node as JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }
}

enum Frame {
    Seq(Vec<Node>, Option<usize>),
    Map(Vec<(String, Node)>, Option<String>, Option<usize>),
}

/// What `node` costs against the alias budget (as the engine's `value_size`).
fn node_size(node: &Node) -> usize {
    match node {
        Node::Map(items) => {
            1 + items
                .iter()
                .map(|(k, v)| k.len() / 8 + node_size(v))
                .sum::<usize>()
        }
        Node::Seq(items) => 1 + items.iter().map(node_size).sum::<usize>(),
        Node::Leaf(Value::String(s)) => 1 + s.len() / 8,
        Node::Timestamp { text, .. } => 1 + text.len() / 8,
        Node::Leaf(_) => 1,
    }
}

fn key_text(node: &Node) -> Result<String, SopsError> {
    match node {
        Node::Leaf(Value::String(s)) => Ok(s.clone()),
        Node::Leaf(Value::Null) => Ok("null".into()),
        Node::Leaf(other) => Ok(other.to_string()),
        Node::Timestamp { text, .. } => Ok(text.clone()),
        _ => Err(SopsError::Format(
            "a mapping key is not a scalar (SOPS supports string keys only)".into(),
        )),
    }
}

/// Reads every document of a YAML (or JSON) text, in order; empty documents are skipped.
pub fn read_documents(text: &str) -> Result<Vec<Node>, SopsError> {
    let bad = |m: String| SopsError::Format(format!("cannot read the document: {m}"));
    let mut budget = ALIAS_BUDGET + text.len();
    let mut documents = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut current: Option<Node> = None;
    let text_ends_with_break = text.ends_with('\n');
    let total_chars = text.chars().count();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| bad(e.to_string()))?;
        let finished: Option<(Node, Option<usize>)> = match event {
            Event::DocumentEnd => {
                if let Some(doc) = current.take()
                    && doc != Node::Leaf(Value::Null)
                {
                    documents.push(doc);
                }
                anchors.clear();
                None
            }
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| bad(format!("unknown anchor {id}")))?;
                let size = node_size(&node);
                budget = budget.checked_sub(size).ok_or_else(|| {
                    bad("excessive aliasing (aliases expand beyond the node budget)".into())
                })?;
                Some((node, None))
            }
            Event::UnresolvedAlias(name) => return Err(bad(format!("unknown anchor '{name}'"))),
            Event::Scalar(text, style, anchor, tag) => {
                let at_end = !text_ends_with_break && span.end.index() >= total_chars;
                let value = read_scalar(&text, style, tag.as_deref(), at_end)
                    .map_err(|e| bad(e.to_string()))?;
                let is_timestamp = style == ScalarStyle::Plain
                    && tag.is_none()
                    && matches!(
                        kustomize::yaml::resolve::resolve(&text),
                        kustomize::yaml::resolve::Resolved::Timestamp(_)
                    );
                let node = match value {
                    Value::String(read) if is_timestamp => Node::Timestamp {
                        text: text.to_string(),
                        read,
                    },
                    v => Node::Leaf(v),
                };
                Some((node, (anchor > 0).then_some(anchor)))
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), (anchor > 0).then_some(anchor)));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, (anchor > 0).then_some(anchor)));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => Some((Node::Seq(items), anchor)),
                _ => return Err(bad("unbalanced sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(items, _, anchor)) => Some((Node::Map(items), anchor)),
                _ => return Err(bad("unbalanced mapping".into())),
            },
            _ => None,
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if let Some(id) = anchor {
            anchors.insert(id, node.clone());
        }
        match stack.last_mut() {
            None => current = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(items, pending, _)) => match pending.take() {
                None => *pending = Some(key_text(&node)?),
                Some(key) => {
                    if items.iter().any(|(k, _)| *k == key) {
                        return Err(bad(format!("mapping key \"{key}\" already defined")));
                    }
                    items.push((key, node));
                }
            },
        }
    }
    if let Some(doc) = current.take()
        && doc != Node::Leaf(Value::Null)
    {
        documents.push(doc);
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn order_types_and_timestamps_are_kept() {
        let docs = read_documents("b: 1\na: 'x'\nc: [true, 1.5, ~]\nd: 2024-01-02\n").unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0].to_json(),
            r#"{"b":1,"a":"x","c":[true,1.5,null],"d":"2024-01-02T00:00:00Z"}"#
        );
        assert!(
            matches!(docs[0].get("d"), Some(Node::Timestamp { text, .. }) if text == "2024-01-02")
        );
        assert_eq!(docs[0].get("a"), Some(&Node::Leaf(json!("x"))));
    }

    #[test]
    fn block_scalars_read_as_go_yaml_reads_them() {
        let docs = read_documents("a: |\n  x\nb: >\n  y\n  z\nc: |\n  last").unwrap();
        assert_eq!(docs[0].to_json(), r#"{"a":"x\n","b":"y z\n","c":"last"}"#);
    }

    #[test]
    fn json_documents_and_multiple_documents() {
        let docs = read_documents("{\"z\": {\"y\": 2}, \"a\": \"\\u00e9\"}").unwrap();
        assert_eq!(docs[0].to_json(), r#"{"z":{"y":2},"a":"é"}"#);
        assert_eq!(read_documents("a: 1\n---\n---\nb: 2\n").unwrap().len(), 2);
    }

    #[test]
    fn alias_bombs_and_bad_yaml_are_refused() {
        let (bomb, _) = kustomize::fuzzing::alias_bombs();
        let error = read_documents(&bomb).unwrap_err().to_string();
        assert!(error.contains("excessive aliasing"), "{error}");
        assert!(read_documents("a: 1\na: 2\n").is_err());
        assert!(read_documents("a: [1\n").is_err());
        assert!(read_documents("? [a]\n: 1\n").is_err());
    }
}
