//! Decoding the few protobuf request bodies kubectl sends (`create namespace`,
//! `auth can-i`): the `k8s\0` envelope around `runtime.Unknown`, then Namespace or
//! SelfSubjectAccessReview into JSON.

use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.pos)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// The next field: (number, wire type, bytes for length-delimited or varint value).
    fn field(&mut self) -> Option<(u64, Field<'a>)> {
        if self.pos >= self.data.len() {
            return None;
        }
        let tag = self.varint()?;
        let (number, wire) = (tag >> 3, tag & 7);
        let field = match wire {
            0 => {
                self.varint()?;
                Field::Varint
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let bytes = self.data.get(self.pos..self.pos.checked_add(len)?)?;
                self.pos += len;
                Field::Bytes(bytes)
            }
            1 => {
                self.pos += 8;
                Field::Other
            }
            5 => {
                self.pos += 4;
                Field::Other
            }
            _ => return None,
        };
        Some((number, field))
    }
}

enum Field<'a> {
    Varint,
    Bytes(&'a [u8]),
    Other,
}

fn fields(data: &[u8]) -> Vec<(u64, Field<'_>)> {
    let mut reader = Reader { data, pos: 0 };
    std::iter::from_fn(|| reader.field()).collect()
}

fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

fn string_map(entries: &[&[u8]]) -> Value {
    let mut map = Map::new();
    for entry in entries {
        let mut key = String::new();
        let mut value = Value::String(String::new());
        for (n, f) in fields(entry) {
            if let Field::Bytes(b) = f {
                match n {
                    1 => key = String::from_utf8_lossy(b).into_owned(),
                    2 => value = text(b),
                    _ => {}
                }
            }
        }
        map.insert(key, value);
    }
    Value::Object(map)
}

fn object_meta(data: &[u8]) -> Value {
    let mut meta = Map::new();
    let (mut labels, mut annotations, mut finalizers) = (Vec::new(), Vec::new(), Vec::new());
    for (n, f) in fields(data) {
        match (n, f) {
            (1, Field::Bytes(b)) => {
                meta.insert("name".into(), text(b));
            }
            (2, Field::Bytes(b)) => {
                meta.insert("generateName".into(), text(b));
            }
            (3, Field::Bytes(b)) => {
                meta.insert("namespace".into(), text(b));
            }
            (11, Field::Bytes(b)) => labels.push(b),
            (12, Field::Bytes(b)) => annotations.push(b),
            (14, Field::Bytes(b)) => finalizers.push(text(b)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), string_map(&labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), string_map(&annotations));
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Value::Object(meta)
}

fn attributes(data: &[u8], names: &[&str]) -> Value {
    let mut map = Map::new();
    for (n, f) in fields(data) {
        if let (Some(name), Field::Bytes(b)) = (
            names.get(usize::try_from(n).unwrap_or(0).wrapping_sub(1)),
            f,
        ) {
            map.insert(name.to_string(), text(b));
        }
    }
    Value::Object(map)
}

/// Decodes a protobuf request body into the equivalent JSON object.
pub fn decode(body: &[u8]) -> ApiResult<Value> {
    let unsupported = || {
        ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
        )
    };
    let payload = body.strip_prefix(b"k8s\0").ok_or_else(unsupported)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(payload) {
        match (n, f) {
            (1, Field::Bytes(type_meta)) => {
                for (m, g) in fields(type_meta) {
                    match (m, g) {
                        (1, Field::Bytes(b)) => {
                            api_version = String::from_utf8_lossy(b).into_owned()
                        }
                        (2, Field::Bytes(b)) => kind = String::from_utf8_lossy(b).into_owned(),
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut object = json!({"apiVersion": api_version, "kind": kind, "metadata": {}});
    match kind.as_str() {
        "Namespace" => {
            for (n, f) in fields(raw) {
                match (n, f) {
                    (1, Field::Bytes(b)) => object["metadata"] = object_meta(b),
                    (2, Field::Bytes(spec)) => {
                        let finalizers: Vec<Value> = fields(spec)
                            .into_iter()
                            .filter_map(|(m, g)| match (m, g) {
                                (1, Field::Bytes(b)) => Some(text(b)),
                                _ => None,
                            })
                            .collect();
                        if !finalizers.is_empty() {
                            object["spec"] = json!({"finalizers": finalizers});
                        }
                    }
                    _ => {}
                }
            }
        }
        "SelfSubjectAccessReview" => {
            let mut spec = Map::new();
            for (n, f) in fields(raw) {
                match (n, f) {
                    (1, Field::Bytes(b)) => object["metadata"] = object_meta(b),
                    (2, Field::Bytes(s)) => {
                        for (m, g) in fields(s) {
                            match (m, g) {
                                (1, Field::Bytes(b)) => {
                                    spec.insert(
                                        "resourceAttributes".into(),
                                        attributes(
                                            b,
                                            &[
                                                "namespace",
                                                "verb",
                                                "group",
                                                "version",
                                                "resource",
                                                "subresource",
                                                "name",
                                            ],
                                        ),
                                    );
                                }
                                (2, Field::Bytes(b)) => {
                                    spec.insert(
                                        "nonResourceAttributes".into(),
                                        attributes(b, &["path", "verb"]),
                                    );
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            object["spec"] = Value::Object(spec);
        }
        _ => return Err(unsupported()),
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(n: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3 | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn kubectl_create_namespace_body_decodes() {
        let meta = ld(1, b"team-a");
        let ns = ld(1, &meta);
        let type_meta = [ld(1, b"v1"), ld(2, b"Namespace")].concat();
        let body = [b"k8s\0".to_vec(), ld(1, &type_meta), ld(2, &ns)].concat();
        assert_eq!(
            decode(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
        );
    }

    #[test]
    fn access_review_body_decodes() {
        let attrs = [ld(1, b"team-a"), ld(2, b"create"), ld(5, b"configmaps")].concat();
        let spec = ld(1, &attrs);
        let review = [ld(1, &[]), ld(2, &spec)].concat();
        let type_meta = [
            ld(1, b"authorization.k8s.io/v1"),
            ld(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let body = [b"k8s\0".to_vec(), ld(1, &type_meta), ld(2, &review)].concat();
        let decoded = decode(&body).unwrap();
        assert_eq!(
            decoded["spec"]["resourceAttributes"],
            json!({"namespace": "team-a", "verb": "create", "resource": "configmaps"})
        );
        assert!(decode(b"not protobuf").is_err());
    }
}
