//! Object metadata helpers: names, uids, timestamps and the comparisons write paths need.

use serde_json::Value;

/// The current time as Kubernetes writes it (RFC 3339, seconds, `Z`).
pub fn now() -> String {
    time(jiff::Timestamp::now())
}

/// `t` as a `metav1.Time` (RFC 3339, seconds, `Z`).
pub fn time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `t` as a `metav1.MicroTime` (RFC 3339, microseconds, `Z`).
pub fn micro_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

/// A random UUID (version 4).
pub fn new_uid() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut b = bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Five characters for `generateName`, from Kubernetes' alphabet.
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether `name` is a DNS-1123 subdomain (most kinds).
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && has_dns_subdomain_form(name)
}

/// Whether `name` matches the DNS-1123 subdomain pattern, whatever its length.
pub fn has_dns_subdomain_form(name: &str) -> bool {
    name.split('.')
        .all(|part| is_dns_label_loose(part, usize::MAX))
}

/// Whether `name` is a DNS-1123 label (namespaces).
pub fn is_dns_label(name: &str) -> bool {
    is_dns_label_loose(name, 63)
}

fn is_dns_label_loose(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// Whether RBAC-style names (which may contain `:`) are acceptable path segments.
pub fn is_path_segment_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('%')
}

/// The object without the fields that change on every write (resourceVersion and managed
/// field times), for no-op detection.
pub fn comparable(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        if let Some(Value::Array(entries)) = meta.get_mut("managedFields") {
            for entry in entries {
                if let Some(e) = entry.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    copy
}

/// The object without `metadata` and `status` (what changes the generation).
pub fn spec_part(object: &Value, status_is_subresource: bool) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("apiVersion");
        map.remove("kind");
        if status_is_subresource {
            map.remove("status");
        }
    }
    copy
}

/// The finalizers of an object.
pub fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the object is being deleted.
pub fn is_deleting(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

/// `ObjectMeta`'s maps and lists are `omitempty`: once decoded, an empty or null `labels`,
/// `annotations`, `finalizers` or `ownerReferences` is not there at all (a client-side apply
/// patch of `annotations: {}` leaves no trace). `managedFields` is left to the field manager,
/// for which an empty list means "reset".
pub fn drop_empty_fields(metadata: &mut Value) {
    if let Some(map) = metadata.as_object_mut() {
        map.retain(|field, value| {
            let list_or_map = matches!(
                field.as_str(),
                "labels" | "annotations" | "finalizers" | "ownerReferences"
            );
            !list_or_map
                || !(value.is_null()
                    || value.as_object().is_some_and(|m| m.is_empty())
                    || value.as_array().is_some_and(|a| a.is_empty()))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_as_is_dns1123_label() {
        for (name, ok) in [
            ("web", true),
            ("a-1", true),
            ("", false),
            ("Web", false),
            ("-a", false),
            ("a_b", false),
        ] {
            assert_eq!(is_dns_label(name), ok, "{name}");
        }
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(has_dns_subdomain_form(&"a".repeat(300)));
        assert!(!is_dns_subdomain(&"a".repeat(300)));
    }

    #[test]
    fn names_follow_dns_rules() {
        assert!(is_dns_subdomain("podinfo.flux-system"));
        assert!(is_dns_label("team-a"));
        for bad in ["", "Team", "-a", "a-", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        assert!(!is_dns_subdomain("a..b"));
        assert_eq!(new_uid().len(), 36);
        assert_eq!(name_suffix().len(), 5);
    }
}
