//! SOPS's dotenv format: `key=value` lines (`\n` escaped in values, `#` comments), with the
//! metadata flattened into `sops_`-prefixed keys (`sops_age__list_0__map_enc`).

use serde_json::Value;

use crate::error::SopsError;
use crate::tree::Node;

const PREFIX: &str = "sops_";

/// Reads a dotenv document into its values (in order) and its unflattened `sops` block.
pub fn read(text: &str) -> Result<(Node, Node), SopsError> {
    let mut values = Vec::new();
    let mut metadata = Node::Map(Vec::new());
    for (number, line) in text.split('\n').enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| {
            SopsError::Format(format!("invalid dotenv line {}: no '='", number + 1))
        })?;
        let value = Node::Leaf(Value::String(value.replace("\\n", "\n")));
        match key.strip_prefix(PREFIX) {
            Some(path) => place(&mut metadata, &tokens(path), value)?,
            None => values.push((key.to_string(), value)),
        }
    }
    Ok((Node::Map(values), metadata))
}

/// Writes decrypted values back as dotenv lines.
pub fn write(values: &Node) -> Result<String, SopsError> {
    let Node::Map(items) = values else {
        return Err(SopsError::Format(
            "a dotenv document is a flat list of values".into(),
        ));
    };
    let mut out = String::new();
    for (key, value) in items {
        let text = match value {
            Node::Leaf(Value::String(s)) => s.replace('\n', "\\n"),
            Node::Leaf(other) => other.to_string(),
            _ => {
                return Err(SopsError::Format(format!(
                    "cannot write a complex value in a dotenv file (key {key})"
                )));
            }
        };
        out.push_str(key);
        out.push('=');
        out.push_str(&text);
        out.push('\n');
    }
    Ok(out)
}

enum Token {
    Key(String),
    Index(usize),
}

fn tokens(path: &str) -> Vec<Token> {
    const MAP: &str = "__map_";
    const LIST: &str = "__list_";
    let mut out = Vec::new();
    let mut rest = path;
    let mut kind = None::<bool>;
    loop {
        let next = [rest.find(MAP), rest.find(LIST)]
            .into_iter()
            .flatten()
            .min();
        let (head, tail) = match next {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        out.push(match kind {
            Some(true) => Token::Index(head.parse().unwrap_or(0)),
            _ => Token::Key(head.to_string()),
        });
        if tail.is_empty() {
            return out;
        }
        let is_list = tail.starts_with(LIST);
        rest = &tail[if is_list { LIST.len() } else { MAP.len() }..];
        kind = Some(is_list);
    }
}

fn place(root: &mut Node, path: &[Token], value: Node) -> Result<(), SopsError> {
    let mismatch = || SopsError::Metadata("the flattened sops keys do not fit together".into());
    let Some((first, rest)) = path.split_first() else {
        return Err(mismatch());
    };
    let slot = match (first, root) {
        (Token::Key(key), Node::Map(items)) => {
            if !items.iter().any(|(k, _)| k == key) {
                let empty = match rest.first() {
                    Some(Token::Index(_)) => Node::Seq(Vec::new()),
                    Some(Token::Key(_)) => Node::Map(Vec::new()),
                    None => Node::Leaf(Value::Null),
                };
                items.push((key.clone(), empty));
            }
            items
                .iter_mut()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .ok_or_else(mismatch)?
        }
        (Token::Index(index), Node::Seq(items)) => {
            if *index > 1_000 {
                return Err(mismatch());
            }
            while items.len() <= *index {
                items.push(match rest.first() {
                    Some(Token::Index(_)) => Node::Seq(Vec::new()),
                    _ => Node::Map(Vec::new()),
                });
            }
            &mut items[*index]
        }
        _ => return Err(mismatch()),
    };
    if rest.is_empty() {
        *slot = value;
        Ok(())
    } else {
        place(slot, rest, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_flattened_metadata() {
        let text = "# a comment\nkey=a\\nb\nother=x=y\nsops_age__list_0__map_enc=E\\n\nsops_age__list_0__map_recipient=R\nsops_mac=M\n";
        let (values, metadata) = read(text).unwrap();
        assert_eq!(values.to_json(), r#"{"key":"a\nb","other":"x=y"}"#);
        assert_eq!(
            metadata.to_json(),
            r#"{"age":[{"enc":"E\n","recipient":"R"}],"mac":"M"}"#
        );
        assert_eq!(write(&values).unwrap(), "key=a\\nb\nother=x=y\n");
        assert!(read("novalue\n").is_err());
        assert!(read("sops_mac=1\nsops_mac__map_x=2\n").is_err());
    }
}
