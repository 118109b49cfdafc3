//! The protobuf encoding of an OpenAPI v2 document as gnostic's `openapi_v2.Document` (what
//! kubectl asks `/openapi/v2` for: `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`),
//! from its JSON form. Field numbers are those of gnostic's `OpenAPIv2.proto`. Vendor extensions,
//! defaults, enums and examples are gnostic `Any`s carrying YAML (JSON is YAML), as kube-openapi
//! reads them.

use serde_json::{Map, Value};

/// A protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn tag(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.tag(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, value: Option<&Value>) {
        if let Some(text) = value.and_then(Value::as_str) {
            self.bytes(field, text.as_bytes());
        }
    }

    fn strings(&mut self, field: u32, value: Option<&Value>) {
        for text in value.and_then(Value::as_array).into_iter().flatten() {
            self.string(field, Some(text));
        }
    }

    fn boolean(&mut self, field: u32, value: Option<&Value>) {
        if value.and_then(Value::as_bool) == Some(true) {
            self.tag(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, value: Option<&Value>) {
        if let Some(number) = value.and_then(Value::as_i64) {
            self.tag(field, 0);
            self.varint(number as u64);
        }
    }

    fn double(&mut self, field: u32, value: Option<&Value>) {
        if let Some(number) = value.and_then(Value::as_f64) {
            self.tag(field, 1);
            self.0.extend_from_slice(&number.to_le_bytes());
        }
    }

    fn message(&mut self, field: u32, message: Message) {
        self.bytes(field, &message.0);
    }

    /// gnostic's `Any`: `yaml` (2) holds the value.
    fn any(&mut self, field: u32, value: &Value) {
        let mut any = Message::default();
        any.bytes(2, value.to_string().as_bytes());
        self.message(field, any);
    }

    /// `repeated NamedAny vendor_extension`: the `x-` keys of `map`.
    fn vendor_extensions(&mut self, field: u32, map: &Map<String, Value>) {
        for (name, value) in map.iter().filter(|(name, _)| name.starts_with("x-")) {
            let mut named = Message::default();
            named.bytes(1, name.as_bytes());
            named.any(2, value);
            self.message(field, named);
        }
    }
}

/// One `NamedSchema` (`name` 1, `value` 2): an entry of `Definitions` or `Properties`.
fn named_schema(name: &str, schema: &Value) -> Message {
    let mut named = Message::default();
    named.bytes(1, name.as_bytes());
    named.message(2, encode_schema(schema));
    named
}

/// gnostic's `Schema` message.
fn encode_schema(schema: &Value) -> Message {
    let mut out = Message::default();
    let Some(map) = schema.as_object() else {
        return out;
    };
    out.string(1, map.get("$ref"));
    out.string(2, map.get("format"));
    out.string(3, map.get("title"));
    out.string(4, map.get("description"));
    if let Some(default) = map.get("default") {
        out.any(5, default);
    }
    out.double(6, map.get("multipleOf"));
    out.double(7, map.get("maximum"));
    out.boolean(8, map.get("exclusiveMaximum"));
    out.double(9, map.get("minimum"));
    out.boolean(10, map.get("exclusiveMinimum"));
    out.int64(11, map.get("maxLength"));
    out.int64(12, map.get("minLength"));
    out.string(13, map.get("pattern"));
    out.int64(14, map.get("maxItems"));
    out.int64(15, map.get("minItems"));
    out.boolean(16, map.get("uniqueItems"));
    out.int64(17, map.get("maxProperties"));
    out.int64(18, map.get("minProperties"));
    out.strings(19, map.get("required"));
    for value in map
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.any(20, value);
    }
    match map.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            let mut item = Message::default();
            item.tag(2, 0);
            item.varint(u64::from(*allowed));
            out.message(21, item);
        }
        Some(sub @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, encode_schema(sub));
            out.message(21, item);
        }
        _ => {}
    }
    if let Some(kind) = map.get("type") {
        let mut item = Message::default();
        match kind {
            Value::Array(_) => item.strings(1, Some(kind)),
            _ => item.string(1, Some(kind)),
        }
        out.message(22, item);
    }
    if let Some(items) = map.get("items") {
        let mut item = Message::default();
        match items {
            Value::Array(list) => list.iter().for_each(|s| item.message(1, encode_schema(s))),
            single => item.message(1, encode_schema(single)),
        }
        out.message(23, item);
    }
    for sub in map
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.message(24, encode_schema(sub));
    }
    if let Some(Value::Object(properties)) = map.get("properties") {
        let mut item = Message::default();
        for (name, sub) in properties {
            item.message(1, named_schema(name, sub));
        }
        out.message(25, item);
    }
    out.string(26, map.get("discriminator"));
    out.boolean(27, map.get("readOnly"));
    if let Some(example) = map.get("example") {
        out.any(30, example);
    }
    out.vendor_extensions(31, map);
    out
}

/// The encoded entries of a `Definitions` message (`additional_properties` 1, repeated):
/// entries encoded apart may be concatenated, as repeated fields are.
pub fn definitions(definitions: &Map<String, Value>) -> Vec<u8> {
    let mut out = Message::default();
    for (name, schema) in definitions {
        out.message(1, named_schema(name, schema));
    }
    out.0
}

/// `openapi_v2.Document{swagger (1), info (2), paths (8), definitions (9)}` with already encoded
/// definition entries.
pub fn document(title: &str, version: &str, definitions: &[u8]) -> Vec<u8> {
    let mut info = Message::default();
    info.bytes(1, title.as_bytes());
    info.bytes(2, version.as_bytes());
    let mut out = Message::default();
    out.bytes(1, b"2.0");
    out.message(2, info);
    out.bytes(8, &[]);
    out.bytes(9, definitions);
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads one length-delimited or varint field list back (enough to check the layout).
    fn fields(mut bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
        fn varint(bytes: &mut &[u8]) -> u64 {
            let mut value = 0u64;
            let mut shift = 0;
            loop {
                let byte = bytes[0];
                *bytes = &bytes[1..];
                value |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    return value;
                }
            }
        }
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let key = varint(&mut bytes);
            let payload = match key & 7 {
                0 => varint(&mut bytes).to_le_bytes().to_vec(),
                1 => {
                    let (head, rest) = bytes.split_at(8);
                    bytes = rest;
                    head.to_vec()
                }
                _ => {
                    let len = varint(&mut bytes) as usize;
                    let (head, rest) = bytes.split_at(len);
                    bytes = rest;
                    head.to_vec()
                }
            };
            out.push((key >> 3, payload));
        }
        out
    }

    #[test]
    fn schemas_use_gnostic_field_numbers() {
        let schema = json!({
            "description": "d",
            "type": "array",
            "items": {"$ref": "#/definitions/x"},
            "required": ["a", "b"],
            "maxItems": 3,
            "x-kubernetes-patch-merge-key": "name",
        });
        let encoded = encode_schema(&schema).0;
        let got = fields(&encoded);
        let numbers: Vec<u64> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [4, 14, 19, 19, 22, 23, 31]);
        assert_eq!(got[0].1, b"d");
        assert_eq!(got[1].1[0], 3);
        assert_eq!(fields(&got[4].1), [(1, b"array".to_vec())]);
        let items = fields(&got[5].1);
        assert_eq!(fields(&items[0].1), [(1, b"#/definitions/x".to_vec())]);
        let extension = fields(&got[6].1);
        assert_eq!(extension[0], (1, b"x-kubernetes-patch-merge-key".to_vec()));
        assert_eq!(fields(&extension[1].1), [(2, b"\"name\"".to_vec())]);
    }

    #[test]
    fn documents_carry_version_info_paths_and_definitions() {
        let defs = definitions(
            &json!({"a": {"type": "string"}})
                .as_object()
                .cloned()
                .unwrap(),
        );
        let doc = document("Kubernetes", "v1.32.0", &defs);
        let got = fields(&doc);
        let numbers: Vec<u64> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 2, 8, 9]);
        assert_eq!(got[0].1, b"2.0");
        assert!(got[2].1.is_empty());
        let entry = fields(&got[3].1);
        assert_eq!(fields(&entry[0].1)[0], (1, b"a".to_vec()));
    }

    #[test]
    fn additional_properties_keep_false_and_true() {
        for (value, expected) in [(false, 0u8), (true, 1)] {
            let encoded = encode_schema(&json!({"additionalProperties": value})).0;
            let got = fields(&encoded);
            assert_eq!(got[0].0, 21);
            assert_eq!(fields(&got[0].1)[0].0, 2);
            assert_eq!(fields(&got[0].1)[0].1[0], expected);
        }
    }
}
