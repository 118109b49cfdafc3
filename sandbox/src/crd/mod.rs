//! CustomResourceDefinitions: checking a definition (names, scope, versions, structural
//! schemas) and setting its accepted names, stored versions and Established conditions.
//! Custom resources themselves go through [`schema::admit`].

mod cel_rules;
pub mod schema;

use serde_json::{Map, Value, json};

pub use schema::admit;

use crate::error::{ApiError, ApiResult, Cause};
use crate::store::Tx;

const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn structural_problems(schema: &Value, path: &str, root: bool, causes: &mut Vec<Cause>) {
    let special = schema.get("x-kubernetes-int-or-string") == Some(&json!(true))
        || schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    let ty = schema.get("type").and_then(Value::as_str);
    if ty.is_none() && !special {
        causes.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value: must not be empty for specified object fields".into(),
            field: format!("{path}.type"),
        });
    }
    if root && ty.is_some_and(|t| t != "object") {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            message: "Invalid value: must be object at the root".into(),
            field: format!("{path}.type"),
        });
    }
    if schema.get("properties").is_some()
        && schema
            .get("additionalProperties")
            .is_some_and(|a| a.is_object())
    {
        causes.push(Cause {
            reason: "FieldValueForbidden",
            message: "Forbidden: additionalProperties and properties are mutually exclusive".into(),
            field: format!("{path}.additionalProperties"),
        });
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            if !(root && k == "metadata") {
                structural_problems(v, &format!("{path}.properties[{k}]"), false, causes);
            }
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        structural_problems(items, &format!("{path}.items"), false, causes);
    }
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        structural_problems(
            additional,
            &format!("{path}.additionalProperties"),
            false,
            causes,
        );
    }
}

/// Checks a CRD and sets its accepted names, stored versions and conditions.
pub fn admit_definition(
    tx: &Tx<'_>,
    crd: &mut Value,
    old: Option<&Value>,
    now: &str,
) -> ApiResult<()> {
    let name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let spec = crd["spec"].clone();
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    let kind = spec["names"]["kind"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    let mut cause = |reason: &'static str, message: &str, field: &str| {
        causes.push(Cause {
            reason,
            message: message.into(),
            field: field.into(),
        })
    };
    if name != format!("{plural}.{group}") {
        cause(
            "FieldValueInvalid",
            &format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            "metadata.name",
        );
    }
    if !group.contains('.') {
        cause(
            "FieldValueInvalid",
            &format!("Invalid value: \"{group}\": should be a domain with at least one dot"),
            "spec.group",
        );
    }
    if plural.is_empty() || plural.chars().any(|c| c.is_ascii_uppercase()) {
        cause(
            "FieldValueInvalid",
            "Invalid value: plural must be a lowercase DNS label",
            "spec.names.plural",
        );
    }
    if kind.is_empty() {
        cause("FieldValueRequired", "Required value", "spec.names.kind");
    }
    if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
        cause(
            "FieldValueNotSupported",
            "Unsupported value: supported values: \"Cluster\", \"Namespaced\"",
            "spec.scope",
        );
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        cause(
            "FieldValueRequired",
            "Required value: must have exactly one version marked as storage version",
            "spec.versions",
        );
    }
    if versions
        .iter()
        .filter(|v| v["storage"] == json!(true))
        .count()
        != 1
        && !versions.is_empty()
    {
        cause(
            "FieldValueInvalid",
            "Invalid value: must have exactly one version marked as storage version",
            "spec.versions",
        );
    }
    for (i, v) in versions.iter().enumerate() {
        match v["schema"].get("openAPIV3Schema") {
            Some(schema) => structural_problems(
                schema,
                &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                true,
                &mut causes,
            ),
            None => causes.push(Cause {
                reason: "FieldValueRequired",
                message: "Required value: schemas are required".into(),
                field: format!("spec.versions[{i}].schema.openAPIV3Schema"),
            }),
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(
            "CustomResourceDefinition.apiextensions.k8s.io",
            &name,
            causes,
        ));
    }
    let conflict = tx
        .list("apiextensions.k8s.io", "customresourcedefinitions", None)
        .iter()
        .any(|other| {
            other["metadata"]["name"].as_str() != Some(name.as_str())
                && other["spec"]["group"] == spec["group"]
                && other["spec"]["names"]["kind"] == spec["names"]["kind"]
        });
    let names = &spec["names"];
    let mut accepted = json!({
        "plural": plural, "kind": kind,
        "singular": names["singular"].as_str().map(str::to_string).unwrap_or_else(|| kind.to_lowercase()),
        "listKind": names["listKind"].as_str().map(str::to_string).unwrap_or_else(|| format!("{kind}List")),
    });
    for field in ["shortNames", "categories"] {
        if names[field].is_array() {
            accepted[field] = names[field].clone();
        }
    }
    let mut stored: Vec<Value> = old
        .and_then(|o| o["status"]["storedVersions"].as_array().cloned())
        .unwrap_or_default();
    if let Some(storage) = versions
        .iter()
        .find(|v| v["storage"] == json!(true))
        .map(|v| v["name"].clone())
        && !stored.contains(&storage)
    {
        stored.push(storage);
    }
    let previous = |t: &str| {
        old.and_then(|o| {
            o["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == t)
                .cloned()
        })
    };
    let condition = |t: &str, status: &str, reason: &str, message: &str| {
        let time = previous(t)
            .filter(|c| c["status"] == status)
            .map(|c| c["lastTransitionTime"].clone())
            .unwrap_or(json!(now));
        json!({"type": t, "status": status, "reason": reason, "message": message, "lastTransitionTime": time})
    };
    let conditions = if conflict {
        vec![
            condition(
                "NamesAccepted",
                "False",
                "KindConflict",
                &format!("\"{kind}\" is already in use"),
            ),
            condition(
                "Established",
                "False",
                "NotAccepted",
                "not all names are accepted",
            ),
        ]
    } else {
        vec![
            condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
            condition(
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
            ),
        ]
    };
    let mut status = Map::new();
    status.insert("acceptedNames".into(), accepted);
    status.insert("storedVersions".into(), Value::Array(stored));
    status.insert("conditions".into(), Value::Array(conditions));
    crd["status"] = Value::Object(status);
    if old.is_none() {
        crd["metadata"]["finalizers"] = json!([CLEANUP_FINALIZER]);
    }
    Ok(())
}

/// The finalizer a CRD carries until its custom resources are gone.
pub fn cleanup_finalizer() -> &'static str {
    CLEANUP_FINALIZER
}
