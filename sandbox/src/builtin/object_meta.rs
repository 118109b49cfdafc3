//! `ValidateObjectMeta` for every kind (built-in and custom): label keys and values, annotation
//! keys and their total size, finalizer names, and no new finalizers on an object being
//! deleted, with upstream's messages (`k8s.io/apimachinery/pkg/util/validation`).

use serde_json::{Value, json};

use super::field_errors::FieldErrors;

const QUALIFIED_NAME_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
/// `TotalAnnotationSizeLimitB`.
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn is_name_part(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `IsDNS1123Subdomain`'s messages.
fn subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 253 {
        errors.push("must be no more than 253 characters".to_string());
    }
    if !crate::server::meta::has_dns_subdomain_form(value) {
        errors.push(SUBDOMAIN_MESSAGE.to_string());
    }
    errors
}

/// `IsQualifiedName`: an optional DNS subdomain prefix and `/`, then a name part of at most 63
/// characters.
pub fn qualified_name_errors(value: &str) -> Vec<String> {
    let parts: Vec<&str> = value.split('/').collect();
    let mut errors = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(
                    subdomain_errors(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_string());
    }
    if !is_name_part(name) {
        errors.push(format!("name part {QUALIFIED_NAME_MESSAGE}"));
    }
    errors
}

/// `IsValidLabelValue`.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_name_part(value) {
        errors.push(LABEL_VALUE_MESSAGE.to_string());
    }
    errors
}

/// Validates `new`'s metadata (and, on updates, against `old`'s).
pub fn validate_object_meta(new: &Value, old: Option<&Value>, errors: &mut FieldErrors) {
    let meta = &new["metadata"];
    for (key, value) in meta["labels"].as_object().into_iter().flatten() {
        for message in qualified_name_errors(key) {
            errors.invalid("metadata.labels", &json!(key), &message);
        }
        let text = value.as_str().unwrap_or_default();
        for message in label_value_errors(text) {
            errors.invalid("metadata.labels", value, &message);
        }
    }
    let annotations = meta["annotations"].as_object();
    let mut size = 0;
    for (key, value) in annotations.into_iter().flatten() {
        // Case does not matter in annotation keys.
        for message in qualified_name_errors(&key.to_lowercase()) {
            errors.invalid("metadata.annotations", &json!(key), &message);
        }
        size += key.len() + value.as_str().map_or(0, str::len);
    }
    if size > ANNOTATIONS_LIMIT {
        errors.too_long("metadata.annotations", ANNOTATIONS_LIMIT);
    }
    let finalizers: Vec<&str> = meta["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for finalizer in &finalizers {
        for message in qualified_name_errors(finalizer) {
            errors.invalid("metadata.finalizers", &json!(finalizer), &message);
        }
    }
    if finalizers.contains(&"orphan") && finalizers.contains(&"foregroundDeletion") {
        errors.invalid(
            "metadata.finalizers",
            &meta["finalizers"],
            "finalizer orphan and foregroundDeletion cannot be both set",
        );
    }
    if let Some(old) = old.filter(|o| !o["metadata"]["deletionTimestamp"].is_null()) {
        let before = &old["metadata"]["finalizers"];
        let mut added: Vec<&str> = finalizers
            .iter()
            .filter(|f| !before.as_array().is_some_and(|b| b.contains(&json!(f))))
            .copied()
            .collect();
        added.sort_unstable();
        added.dedup();
        if !added.is_empty() {
            let listed: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
            errors.forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    listed.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(new: Value, old: Option<Value>) -> Vec<String> {
        let mut errors = FieldErrors::default();
        validate_object_meta(&new, old.as_ref(), &mut errors);
        errors.lines()
    }

    #[test]
    fn metadata_is_validated_as_upstream_words_it() {
        let long = "a".repeat(64);
        let table: Vec<(Value, Vec<String>)> = vec![
            (
                json!({"labels": {"app": "web", "example.com/tier": "", "A_b.c": "x-Y_z.1"}}),
                vec![],
            ),
            (
                json!({"labels": {"app": "bad value!"}}),
                vec![format!("metadata.labels: Invalid value: \"bad value!\": {LABEL_VALUE_MESSAGE}")],
            ),
            (
                json!({"labels": {"app": long}}),
                vec![format!("metadata.labels: Invalid value: \"{long}\": must be no more than 63 characters")],
            ),
            (
                json!({"labels": {"-app": "x"}}),
                vec![format!("metadata.labels: Invalid value: \"-app\": name part {QUALIFIED_NAME_MESSAGE}")],
            ),
            (
                json!({"labels": {"Example.com/app": "x"}}),
                vec![format!("metadata.labels: Invalid value: \"Example.com/app\": prefix part {SUBDOMAIN_MESSAGE}")],
            ),
            (
                json!({"labels": {"/app": "x"}}),
                vec!["metadata.labels: Invalid value: \"/app\": prefix part must be non-empty".to_string()],
            ),
            (
                json!({"labels": {"a/b/c": "x"}}),
                vec![format!("metadata.labels: Invalid value: \"a/b/c\": a qualified name {QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")],
            ),
            (
                json!({"annotations": {"Example.COM/Note": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}"}}),
                vec![],
            ),
            (
                json!({"annotations": {"bad key": "x"}}),
                vec![format!("metadata.annotations: Invalid value: \"bad key\": name part {QUALIFIED_NAME_MESSAGE}")],
            ),
            (
                json!({"annotations": {"big": "x".repeat(ANNOTATIONS_LIMIT)}}),
                vec!["metadata.annotations: Too long: may not be more than 262144 bytes".to_string()],
            ),
            (
                json!({"finalizers": ["finalizers.fluxcd.io", "kubernetes.io/pvc-protection"]}),
                vec![],
            ),
            (
                json!({"finalizers": ["a/b/c"]}),
                vec![format!("metadata.finalizers: Invalid value: \"a/b/c\": a qualified name {QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")],
            ),
            (
                json!({"finalizers": ["orphan", "foregroundDeletion"]}),
                vec!["metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set".to_string()],
            ),
        ];
        for (meta, expected) in table {
            assert_eq!(lines(json!({"metadata": meta}), None), expected, "{meta}");
        }
    }

    #[test]
    fn no_new_finalizers_once_deleting() {
        let old = json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a.io/x"]}});
        let kept = json!({"metadata": {"finalizers": ["a.io/x"]}});
        assert!(lines(kept, Some(old.clone())).is_empty());
        let removed = json!({"metadata": {"finalizers": []}});
        assert!(lines(removed, Some(old.clone())).is_empty());
        let added = json!({"metadata": {"finalizers": ["a.io/x", "b.io/y"]}});
        assert_eq!(
            lines(added.clone(), Some(old)),
            [
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"b.io/y\"}"
            ]
        );
        let live = json!({"metadata": {"finalizers": ["a.io/x"]}});
        assert!(lines(added, Some(live)).is_empty());
    }
}
