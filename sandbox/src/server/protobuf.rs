//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`, what kubectl's typed creates
//! send: `create secret`, `configmap`, `deployment`, `job`, `role`, ...) decoded into the JSON
//! the JSON path stores, for every built-in kind: the `k8s\0` envelope around
//! `runtime.Unknown`, then the object by the field tables generated from Kubernetes' own
//! `generated.proto` files (`protobuf/generate.py` -> `protobuf-schema.json`), with the JSON
//! forms of the special types (Time, Duration, IntOrString, Quantity, RawExtension, FieldsV1,
//! bytes as base64, maps, packed lists).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};

const UNKNOWN_FORMAT: &str = "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf";
/// Nesting allowed in a body (Kubernetes objects nest about 12 deep).
const MAX_DEPTH: usize = 64;

#[derive(serde::Deserialize)]
struct SchemaFile {
    messages: HashMap<String, Vec<Value>>,
    wrappers: Vec<String>,
    /// Per message, the fields Go writes to JSON only when not zero (non-pointer scalars
    /// tagged `omitempty`).
    #[serde(default)]
    omitzero: HashMap<String, Vec<String>>,
}

enum Label {
    Optional,
    Repeated,
    Map(String),
}

struct FieldDef {
    name: String,
    label: Label,
    kind: String,
    /// Go leaves the field's zero value out of JSON.
    omit_zero: bool,
}

struct Schema {
    messages: HashMap<String, HashMap<u64, FieldDef>>,
    wrappers: HashSet<String>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let file: SchemaFile = serde_json::from_str(include_str!("protobuf-schema.json"))
            .unwrap_or(SchemaFile {
                messages: HashMap::new(),
                wrappers: Vec::new(),
                omitzero: HashMap::new(),
            });
        let field = |message: &str, f: &Value| -> Option<(u64, FieldDef)> {
            let text = |i: usize| f.get(i).and_then(Value::as_str).map(str::to_string);
            let label = match text(2)?.as_str() {
                "r" => Label::Repeated,
                "m" => Label::Map(text(4)?),
                _ => Label::Optional,
            };
            Some((
                f.get(0)?.as_u64()?,
                FieldDef {
                    omit_zero: file
                        .omitzero
                        .get(message)
                        .is_some_and(|names| names.iter().any(|n| Some(n) == text(1).as_ref())),
                    name: text(1)?,
                    label,
                    kind: text(3)?,
                },
            ))
        };
        Schema {
            messages: file
                .messages
                .iter()
                .map(|(name, fields)| {
                    let defs = fields.iter().filter_map(|f| field(name, f)).collect();
                    (name.clone(), defs)
                })
                .collect(),
            wrappers: file.wrappers.iter().cloned().collect(),
        }
    })
}

/// One wire-format field.
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

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

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(bytes)
    }

    /// The next field, `None` at the end, `Some(Err)` on malformed input.
    fn field(&mut self) -> Option<Result<(u64, Wire<'a>), ()>> {
        if self.pos >= self.data.len() {
            return None;
        }
        Some(self.field_inner().ok_or(()))
    }

    fn field_inner(&mut self) -> Option<(u64, Wire<'a>)> {
        let tag = self.varint()?;
        let wire = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                Wire::Bytes(self.take(len)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            _ => return None,
        };
        Some((tag >> 3, wire))
    }
}

fn fields(data: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, ApiError> {
    let mut reader = Reader { data, pos: 0 };
    std::iter::from_fn(|| reader.field())
        .collect::<Result<_, _>>()
        .map_err(|_| malformed())
}

fn malformed() -> ApiError {
    ApiError::bad_request("the protobuf body could not be decoded")
}

/// A scalar of protobuf type `kind` from one wire value.
fn scalar(kind: &str, wire: &Wire<'_>) -> Result<Value, ApiError> {
    Ok(match (kind, wire) {
        ("string", Wire::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        ("bytes", Wire::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        ("bool", Wire::Varint(v)) => Value::Bool(*v != 0),
        ("int32", Wire::Varint(v)) => json!(*v as i64 as i32),
        ("int64", Wire::Varint(v)) => json!(*v as i64),
        ("uint32" | "uint64", Wire::Varint(v)) => json!(*v),
        ("sint32" | "sint64", Wire::Varint(v)) => json!((*v >> 1) as i64 ^ -((*v & 1) as i64)),
        ("double", Wire::Fixed64(v)) => json!(f64::from_bits(*v)),
        ("fixed64", Wire::Fixed64(v)) => json!(*v),
        ("sfixed64", Wire::Fixed64(v)) => json!(*v as i64),
        ("float", Wire::Fixed32(v)) => json!(f32::from_bits(*v)),
        ("fixed32", Wire::Fixed32(v)) => json!(*v),
        ("sfixed32", Wire::Fixed32(v)) => json!(*v as i32),
        _ => return Err(malformed()),
    })
}

fn is_scalar(kind: &str) -> bool {
    !kind.contains('.')
}

/// Go's `time.Duration.String()` of `nanos`.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, div) = match n {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{sign}{}{unit}", decimal(n, div));
    }
    let (h, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (m, s) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = format!("{}s", decimal(s, 1_000_000_000));
    match (h, m) {
        (0, 0) => format!("{sign}{seconds}"),
        (0, m) => format!("{sign}{m}m{seconds}"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}"),
    }
}

fn decimal(n: u64, div: u64) -> String {
    let (whole, frac) = (n / div, n % div);
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The JSON of a message of type `kind` (special types in their JSON form); `None` for a
/// value JSON leaves out (a zero Time).
fn message(kind: &str, data: &[u8], depth: usize) -> Result<Option<Value>, ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::bad_request("the protobuf body nests too deep"));
    }
    let wires = fields(data)?;
    let number = |n: u64| {
        wires.iter().find_map(|(m, w)| match (m == &n, w) {
            (true, Wire::Varint(v)) => Some(*v),
            _ => None,
        })
    };
    let bytes = |n: u64| {
        wires.iter().find_map(|(m, w)| match (m == &n, w) {
            (true, Wire::Bytes(b)) => Some(*b),
            _ => None,
        })
    };
    match kind.strip_prefix("k8s.io.apimachinery.pkg.") {
        Some("apis.meta.v1.Time" | "apis.meta.v1.MicroTime") => {
            let seconds = number(1).unwrap_or(0) as i64;
            let nanos = number(2).unwrap_or(0) as i64 as i32;
            if seconds == 0 && nanos == 0 {
                return Ok(None);
            }
            let Ok(t) = jiff::Timestamp::new(seconds, nanos) else {
                return Err(malformed());
            };
            let text = if kind.ends_with("MicroTime") {
                super::meta::micro_time(t)
            } else {
                super::meta::time(t)
            };
            return Ok(Some(Value::String(text)));
        }
        Some("apis.meta.v1.Duration") => {
            return Ok(Some(Value::String(go_duration(
                number(1).unwrap_or(0) as i64
            ))));
        }
        Some("util.intstr.IntOrString") => {
            return Ok(Some(match number(1).unwrap_or(0) {
                0 => json!(number(2).unwrap_or(0) as i64 as i32),
                _ => Value::String(
                    String::from_utf8_lossy(bytes(3).unwrap_or_default()).into_owned(),
                ),
            }));
        }
        Some("api.resource.Quantity") => {
            return Ok(Some(Value::String(
                String::from_utf8_lossy(bytes(1).unwrap_or_default()).into_owned(),
            )));
        }
        Some("runtime.RawExtension" | "apis.meta.v1.FieldsV1") => {
            let raw = bytes(1).unwrap_or_default();
            return Ok(Some(serde_json::from_slice(raw).map_err(|_| malformed())?));
        }
        _ => {}
    }
    let schema = schema();
    let Some(defs) = schema.messages.get(kind) else {
        return Err(ApiError::unsupported_media_type(UNKNOWN_FORMAT));
    };
    if schema.wrappers.contains(kind) {
        let item = defs.get(&1).map(|d| d.kind.as_str()).unwrap_or("string");
        let mut items = Vec::new();
        for (_, w) in &wires {
            items.push(scalar(item, w)?);
        }
        return Ok(Some(Value::Array(items)));
    }
    let mut out = Map::new();
    for (n, wire) in &wires {
        let Some(def) = defs.get(n) else { continue };
        let value = match (&def.label, wire) {
            (Label::Map(value_kind), Wire::Bytes(entry)) => {
                let (mut key, mut value) = (String::new(), Value::Null);
                for (m, w) in fields(entry)? {
                    match m {
                        1 => {
                            key = match scalar(&def.kind, &w)? {
                                Value::String(s) => s,
                                other => other.to_string(),
                            }
                        }
                        2 => value = element(value_kind, &w, depth)?.unwrap_or(Value::Null),
                        _ => {}
                    }
                }
                if value.is_null() && is_scalar(value_kind) {
                    value = if value_kind == "string" || value_kind == "bytes" {
                        Value::String(String::new())
                    } else {
                        json!(0)
                    };
                }
                let map = out
                    .entry(def.name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(key, value);
                }
                continue;
            }
            (Label::Repeated, Wire::Bytes(packed))
                if is_scalar(&def.kind) && def.kind != "string" && def.kind != "bytes" =>
            {
                let list = out.entry(def.name.clone()).or_insert_with(|| json!([]));
                let mut reader = Reader {
                    data: packed,
                    pos: 0,
                };
                while reader.pos < packed.len() {
                    let w = match def.kind.as_str() {
                        "double" | "fixed64" | "sfixed64" => Wire::Fixed64(u64::from_le_bytes(
                            reader
                                .take(8)
                                .and_then(|b| b.try_into().ok())
                                .ok_or_else(malformed)?,
                        )),
                        "float" | "fixed32" | "sfixed32" => Wire::Fixed32(u32::from_le_bytes(
                            reader
                                .take(4)
                                .and_then(|b| b.try_into().ok())
                                .ok_or_else(malformed)?,
                        )),
                        _ => Wire::Varint(reader.varint().ok_or_else(malformed)?),
                    };
                    if let Value::Array(items) = list {
                        items.push(scalar(&def.kind, &w)?);
                    }
                }
                continue;
            }
            (Label::Repeated, w) => {
                let item = element(&def.kind, w, depth)?.unwrap_or(Value::Null);
                if let Value::Array(items) =
                    out.entry(def.name.clone()).or_insert_with(|| json!([]))
                {
                    items.push(item);
                }
                continue;
            }
            (_, w) => element(&def.kind, w, depth)?,
        };
        match value {
            // Go writes its non-pointer strings even when empty; JSON leaves them out.
            Some(Value::String(s)) if s.is_empty() && def.kind == "string" => {
                out.remove(&def.name);
            }
            // So do the zero numbers and `false` of non-pointer `omitempty` fields.
            Some(Value::Bool(false)) if def.omit_zero => {
                out.remove(&def.name);
            }
            Some(Value::Number(n)) if def.omit_zero && n.as_f64() == Some(0.0) => {
                out.remove(&def.name);
            }
            Some(v) => {
                out.insert(def.name.clone(), v);
            }
            None => {
                out.remove(&def.name);
            }
        }
    }
    Ok(Some(Value::Object(out)))
}

fn element(kind: &str, wire: &Wire<'_>, depth: usize) -> Result<Option<Value>, ApiError> {
    if is_scalar(kind) {
        return scalar(kind, wire).map(Some);
    }
    match wire {
        Wire::Bytes(b) => message(kind, b, depth + 1),
        _ => Err(malformed()),
    }
}

/// The protobuf package of an API group and version (`apps/v1` -> `k8s.io.api.apps.v1`).
fn package(api_version: &str) -> String {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let name = match group {
        "" => "core",
        "internal.apiserver.k8s.io" => "apiserverinternal",
        g => g.split('.').next().unwrap_or(g),
    };
    format!("k8s.io.api.{name}.{version}")
}

/// Decodes a Kubernetes protobuf request body into its JSON object.
pub fn decode(body: &[u8]) -> ApiResult<Value> {
    let payload = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| ApiError::unsupported_media_type(UNKNOWN_FORMAT))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, w) in fields(payload)? {
        match (n, w) {
            (1, Wire::Bytes(type_meta)) => {
                for (m, g) in fields(type_meta)? {
                    match (m, g) {
                        (1, Wire::Bytes(b)) => {
                            api_version = String::from_utf8_lossy(b).into_owned()
                        }
                        (2, Wire::Bytes(b)) => kind = String::from_utf8_lossy(b).into_owned(),
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let type_name = format!("{}.{kind}", package(&api_version));
    let mut object = match message(&type_name, raw, 0)? {
        Some(Value::Object(map)) => map,
        _ => return Err(malformed()),
    };
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(api_version));
    out.insert("kind".into(), Value::String(kind));
    out.insert(
        "metadata".into(),
        object.remove("metadata").unwrap_or_else(|| json!({})),
    );
    out.extend(object);
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn bytes_field(n: u64, b: &[u8], out: &mut Vec<u8>) {
        varint(n << 3 | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    fn varint_field(n: u64, v: u64, out: &mut Vec<u8>) {
        varint(n << 3, out);
        varint(v, out);
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut type_meta = Vec::new();
        bytes_field(1, api_version.as_bytes(), &mut type_meta);
        bytes_field(2, kind.as_bytes(), &mut type_meta);
        let mut unknown = Vec::new();
        bytes_field(1, &type_meta, &mut unknown);
        bytes_field(2, raw, &mut unknown);
        let mut body = b"k8s\0".to_vec();
        body.extend(unknown);
        body
    }

    #[test]
    fn a_secret_decodes_to_the_json_kubectl_would_send() {
        let mut meta = Vec::new();
        bytes_field(1, b"creds", &mut meta);
        bytes_field(2, b"", &mut meta);
        bytes_field(3, b"flux-system", &mut meta);
        let mut creation = Vec::new();
        varint_field(1, 0, &mut creation);
        bytes_field(8, &creation, &mut meta);
        let mut entry = Vec::new();
        bytes_field(1, b"password", &mut entry);
        bytes_field(2, b"s3cr\xffet", &mut entry);
        let mut secret = Vec::new();
        bytes_field(1, &meta, &mut secret);
        bytes_field(2, &entry, &mut secret);
        bytes_field(3, b"Opaque", &mut secret);
        let decoded = decode(&envelope("v1", "Secret", &secret)).unwrap();
        assert_eq!(
            decoded,
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "creds", "namespace": "flux-system"},
                   "data": {"password": "czNjcv9ldA=="}, "type": "Opaque"})
        );
    }

    #[test]
    fn special_types_take_their_json_forms() {
        // A Deployment with replicas 0, an int-or-string maxSurge, a container port list and
        // a creation time.
        let mut surge = Vec::new();
        varint_field(1, 1, &mut surge);
        bytes_field(3, b"25%", &mut surge);
        let mut rolling = Vec::new();
        bytes_field(2, &surge, &mut rolling);
        let mut strategy = Vec::new();
        bytes_field(1, b"RollingUpdate", &mut strategy);
        bytes_field(2, &rolling, &mut strategy);
        let mut spec = Vec::new();
        varint_field(1, 0, &mut spec);
        bytes_field(4, &strategy, &mut spec);
        let mut time = Vec::new();
        varint_field(1, 1_700_000_000, &mut time);
        let mut meta = Vec::new();
        bytes_field(1, b"web", &mut meta);
        bytes_field(8, &time, &mut meta);
        let mut deployment = Vec::new();
        bytes_field(1, &meta, &mut deployment);
        bytes_field(2, &spec, &mut deployment);
        let decoded = decode(&envelope("apps/v1", "Deployment", &deployment)).unwrap();
        assert_eq!(
            decoded["metadata"]["creationTimestamp"],
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(decoded["spec"]["replicas"], 0);
        assert_eq!(
            decoded["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
            "25%"
        );
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
    }

    #[test]
    fn hostile_bodies_are_refused_not_panicked_on() {
        let mut deep = Vec::new();
        for _ in 0..200 {
            let mut outer = Vec::new();
            bytes_field(1, &deep, &mut outer);
            deep = outer;
        }
        for body in [
            b"k8s\0\x0a\xff\xff\xff\xff\x0f".to_vec(),
            b"k8s\0\x0f".to_vec(),
            envelope("v1", "NoSuchKind", b""),
            envelope("v1", "Secret", b"\x0a\x05ab"),
            b"not protobuf".to_vec(),
        ] {
            assert!(decode(&body).is_err());
        }
        // Nesting follows the types (none of the built-ins is recursive): a deep body is read
        // as the string its inner field is.
        assert!(decode(&envelope("v1", "Secret", &deep)).is_ok());
    }
}
