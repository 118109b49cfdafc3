//! Field errors worded as `k8s.io/apimachinery/pkg/util/validation/field` words them.

use serde_json::Value;

use crate::error::Cause;

/// The field errors found while validating one object.
#[derive(Debug, Default)]
pub struct FieldErrors(pub Vec<Cause>);

/// How `field.Error` prints a value: strings quoted, numbers and booleans as they are, lists
/// and objects as JSON.
pub fn render(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

impl FieldErrors {
    /// `<field>: <message>` per error, as the API server joins them (table tests read these).
    #[cfg(test)]
    pub fn lines(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    fn push(&mut self, reason: &'static str, field: &str, message: String) {
        self.0.push(Cause {
            reason,
            message,
            field: field.to_string(),
        });
    }

    /// `Required value`, with an optional detail.
    pub fn required(&mut self, field: &str, detail: &str) {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        self.push("FieldValueRequired", field, message);
    }

    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(&mut self, field: &str, value: &Value, detail: &str) {
        self.push(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {}: {detail}", render(value)),
        );
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(&mut self, field: &str, value: &Value, supported: &[&str]) {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        self.push(
            "FieldValueNotSupported",
            field,
            format!(
                "Unsupported value: {}: supported values: {}",
                render(value),
                list.join(", ")
            ),
        );
    }

    /// `Duplicate value: "x"`.
    pub fn duplicate(&mut self, field: &str, value: &Value) {
        self.push(
            "FieldValueDuplicate",
            field,
            format!("Duplicate value: {}", render(value)),
        );
    }

    /// `Too long: may not be more than <limit> bytes` (the value is omitted).
    pub fn too_long(&mut self, field: &str, limit: usize) {
        self.push(
            "FieldValueTooLong",
            field,
            format!("Too long: may not be more than {limit} bytes"),
        );
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(&mut self, field: &str, detail: &str) {
        self.push("FieldValueForbidden", field, format!("Forbidden: {detail}"));
    }

    /// `ValidateImmutableField`: `Invalid value: <new>: field is immutable` when it changed.
    pub fn immutable(&mut self, field: &str, new: &Value, old: &Value) {
        if new != old {
            self.invalid(field, new, "field is immutable");
        }
    }

    /// A value that must be one of `supported` when present.
    pub fn one_of(&mut self, field: &str, value: &Value, supported: &[&str]) {
        if let Some(s) = value.as_str()
            && !supported.contains(&s)
        {
            self.not_supported(field, value, supported);
        }
    }

    /// `ValidateNonnegativeField`.
    pub fn non_negative(&mut self, field: &str, value: &Value) {
        if value.as_i64().is_some_and(|n| n < 0) {
            self.invalid(field, value, "must be greater than or equal to 0");
        }
    }

    /// A port number in 1..=65535 (`ports[0].port`), required unless `optional` (then 0, Go's
    /// zero value, means unset).
    pub fn port_number(&mut self, field: &str, value: &Value, optional: bool) {
        match value.as_i64() {
            None if value.is_null() && optional => {}
            Some(0) if optional => {}
            None if value.is_null() => self.required(field, ""),
            Some(n) if (1..=65535).contains(&n) => {}
            _ => self.invalid(field, value, "must be between 1 and 65535, inclusive"),
        }
    }
}

/// The message `IsDNS1123Label` gives for a name that is not one.
pub const DNS1123_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn messages_are_worded_as_apimachinery_words_them() {
        let mut errors = FieldErrors::default();
        errors.required("spec.selector", "");
        errors.invalid(
            "spec.replicas",
            &json!(-1),
            "must be greater than or equal to 0",
        );
        errors.not_supported("spec.type", &json!("Foo"), &["ClusterIP", "NodePort"]);
        errors.duplicate("spec.ports[1].name", &json!("http"));
        errors.forbidden("data", "field is immutable when `immutable` is set");
        errors.immutable(
            "spec.clusterIPs[0]",
            &json!(["None"]),
            &json!(["10.96.0.5"]),
        );
        errors.immutable("spec.selector", &json!({"a": "b"}), &json!({"a": "b"}));
        assert_eq!(
            errors.lines(),
            [
                "spec.selector: Required value",
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"NodePort\"",
                "spec.ports[1].name: Duplicate value: \"http\"",
                "data: Forbidden: field is immutable when `immutable` is set",
                "spec.clusterIPs[0]: Invalid value: [\"None\"]: field is immutable",
            ]
        );
    }
}
