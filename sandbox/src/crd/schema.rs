//! The write pipeline of custom resources: prune unknown fields, apply defaults, validate
//! against the structural schema with Kubernetes' field paths and messages.

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, Cause};
use crate::resources::ResourceType;

fn display(value: &Value) -> String {
    value.to_string()
}

fn is_type(value: &Value, ty: &str, int_or_string: bool) -> bool {
    if int_or_string && (value.is_string() || value.is_i64() || value.is_u64()) {
        return true;
    }
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value
                    .as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && value.is_number())
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

/// Prunes, defaults and validates a custom resource.
pub fn admit(
    object: &mut Value,
    old: Option<&Value>,
    schema: &Value,
    rt: &ResourceType,
    strict: bool,
) -> ApiResult<()> {
    let mut unknown = Vec::new();
    if let Value::Object(map) = object {
        for (key, value) in map.iter_mut() {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(child) = schema.get("properties").and_then(|p| p.get(key)) {
                prune(value, child, key, &mut unknown);
            }
        }
        let declared = |k: &str| {
            matches!(k, "apiVersion" | "kind" | "metadata")
                || schema.get("properties").and_then(|p| p.get(k)).is_some()
                || schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true))
        };
        let dropped: Vec<String> = map.keys().filter(|k| !declared(k)).cloned().collect();
        for key in dropped {
            map.remove(&key);
            unknown.push(key);
        }
    }
    if strict && !unknown.is_empty() {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            fields.join(", ")
        )));
    }
    apply_defaults(object, schema);
    let mut causes = Vec::new();
    if let Value::Object(map) = &*object {
        for (key, value) in map {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(child) = schema.get("properties").and_then(|p| p.get(key)) {
                validate(value, child, key, &mut causes);
            }
        }
        // CEL rules only on values of the right shape, as the API server orders its checks.
        if causes.is_empty() {
            for (key, value) in map {
                if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(child) = schema.get("properties").and_then(|p| p.get(key)) {
                    let old_value = old.and_then(|o| o.get(key));
                    super::cel_rules::check(value, old_value, child, key, &mut causes);
                }
            }
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(required) {
                causes.push(Cause {
                    reason: "FieldValueRequired",
                    message: "Required value".into(),
                    field: required.into(),
                });
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Err(ApiError::invalid(&rt.kind_group(), &name, causes))
    }
}

fn prune(value: &mut Value, schema: &Value, path: &str, unknown: &mut Vec<String>) {
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let child_path = format!("{path}.{key}");
                let child_schema = properties.and_then(|p| p.get(&key)).or(additional);
                match child_schema {
                    Some(child) => {
                        let nullable = child.get("nullable") == Some(&json!(true));
                        if map.get(&key).is_some_and(Value::is_null) && !nullable {
                            map.remove(&key);
                            continue;
                        }
                        if let Some(v) = map.get_mut(&key) {
                            prune(v, child, &child_path, unknown);
                        }
                    }
                    None if preserve
                        || schema.get("x-kubernetes-embedded-resource") == Some(&json!(true)) => {}
                    None if properties.is_none()
                        && additional.is_none()
                        && schema.get("type").is_none() => {}
                    None => {
                        map.remove(&key);
                        unknown.push(child_path);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(item, item_schema, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

fn apply_defaults(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (key, child) in properties {
                    if !map.contains_key(key)
                        && let Some(default) = child.get("default")
                    {
                        map.insert(key.clone(), default.clone());
                    }
                    if let Some(v) = map.get_mut(key) {
                        apply_defaults(v, child);
                    }
                }
            } else if let Some(additional) =
                schema.get("additionalProperties").filter(|a| a.is_object())
            {
                for v in map.values_mut() {
                    apply_defaults(v, additional);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

fn invalid(field: &str, value: &Value, why: String) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        message: format!("Invalid value: {}: {why}", display(value)),
        field: field.into(),
    }
}

fn validate(value: &Value, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        if schema.get("nullable") != Some(&json!(true)) {
            causes.push(invalid(
                path,
                value,
                format!(
                    "{path} in body must be of type {}: \"null\"",
                    schema["type"].as_str().unwrap_or("object")
                ),
            ));
        }
        return;
    }
    let int_or_string = schema.get("x-kubernetes-int-or-string") == Some(&json!(true));
    if let Some(ty) = schema.get("type").and_then(Value::as_str)
        && !is_type(value, ty, int_or_string)
    {
        let actual = match value {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Null => "null",
        };
        causes.push(invalid(
            path,
            value,
            format!("{path} in body must be of type {ty}: \"{actual}\""),
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(display).collect();
        causes.push(Cause {
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: {}: supported values: {}",
                display(value),
                list.join(", ")
            ),
            field: path.into(),
        });
    }
    match value {
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && len > max
            {
                causes.push(Cause {
                    reason: "FieldValueTooLong",
                    message: format!("Too long: may not be more than {max} bytes"),
                    field: path.into(),
                });
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && len < min
            {
                causes.push(invalid(
                    path,
                    value,
                    format!("{path} in body should be at least {min} chars long"),
                ));
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(s))
            {
                causes.push(invalid(
                    path,
                    value,
                    format!("{path} in body should match '{pattern}'"),
                ));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && x > max
            {
                causes.push(invalid(
                    path,
                    value,
                    format!("{path} in body should be less than or equal to {max}"),
                ));
            }
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && x < min
            {
                causes.push(invalid(
                    path,
                    value,
                    format!("{path} in body should be greater than or equal to {min}"),
                ));
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && items.len() as u64 > max
            {
                causes.push(Cause {
                    reason: "FieldValueTooMany",
                    message: format!("Too many: {}: must have at most {max} items", items.len()),
                    field: path.into(),
                });
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                causes.push(invalid(
                    path,
                    value,
                    format!("{path} in body should have at least {min} items"),
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(item, item_schema, &format!("{path}[{i}]"), causes);
                }
            }
        }
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for (key, child) in map {
                let child_schema = properties
                    .and_then(|p| p.get(key))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                if let Some(child_schema) = child_schema {
                    validate(child, child_schema, &format!("{path}.{key}"), causes);
                }
            }
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(required) {
                    causes.push(Cause {
                        reason: "FieldValueRequired",
                        message: "Required value".into(),
                        field: format!("{path}.{required}"),
                    });
                }
            }
        }
        _ => {}
    }
}
