//! CEL validation rules of CRD schemas (`x-kubernetes-validations`), checked on create and
//! update as the API server checks them: each rule runs with `self` bound to the value of its
//! schema node; a transition rule (one that reads `oldSelf`) runs only on an update that had
//! an old value there. A rule that is false gives `<path>: Invalid value: "<type>": <message>`
//! (the `messageExpression`'s text, else `message`, else `failed rule: <rule>`), at the
//! rule's `fieldPath` below the node when it names one, worded for its `reason`.

use serde_json::Value;

use crate::error::Cause;

/// The CEL parser recurses deeply; rules run on a thread with a large stack.
const STACK: usize = 32 * 1024 * 1024;

/// Evaluates `expression` with the variables bound; `Err` carries the evaluator's words.
fn evaluate(expression: &str, this: &Value, old: Option<&Value>) -> Result<cel::Value, String> {
    let run = || -> Result<cel::Value, String> {
        let program = cel::Program::compile(expression).map_err(|e| e.to_string())?;
        let mut context = cel::Context::default();
        context
            .add_variable("self", this)
            .map_err(|e| e.to_string())?;
        if let Some(old) = old {
            context
                .add_variable("oldSelf", old)
                .map_err(|e| e.to_string())?;
        }
        program.execute(&context).map_err(|e| e.to_string())
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn_scoped(scope, run)
            .map_err(|e| e.to_string())?
            .join()
            .unwrap_or_else(|_| Err("the evaluator failed".to_string()))
    })
}

/// The message of a broken rule: `messageExpression`'s string when it gives a non-empty one,
/// else `message`, else `failed rule: <rule>` (as the API server chooses).
fn message_of(rule: &Value, text: &str, this: &Value, old: Option<&Value>) -> String {
    if let Some(expression) = rule["messageExpression"].as_str()
        && let Ok(cel::Value::String(message)) = evaluate(expression, this, old)
        && !message.trim().is_empty()
    {
        return message.to_string();
    }
    match rule["message"].as_str().filter(|m| !m.is_empty()) {
        Some(message) => message.to_string(),
        None => format!("failed rule: {text}"),
    }
}

/// `fieldPath` (`.spec.replicas`, `.labels['app']`, `.items[0]`) joined to `path`, in the
/// `field.Path` form (`spec.labels[app]`).
fn with_field_path(path: &str, field_path: &str) -> String {
    let mut out = path.to_string();
    let mut rest = field_path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&after[..end]);
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').unwrap_or(after.len());
            let key = after[..end].trim_matches(|c| c == '\'' || c == '"');
            out.push_str(&format!("[{key}]"));
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            break;
        }
    }
    out
}

/// Checks the rules of `schema` and of its nested schemas against `value` (and the value it
/// replaces, for transition rules), adding a cause per broken rule.
pub fn check(
    value: &Value,
    old: Option<&Value>,
    schema: &Value,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(text) = rule["rule"].as_str() else {
            continue;
        };
        let transition = text.contains("oldSelf");
        if transition && old.is_none() {
            continue;
        }
        let type_ = schema["type"].as_str().unwrap_or("object");
        let detail = match evaluate(text, value, old) {
            Ok(cel::Value::Bool(true)) => continue,
            Ok(cel::Value::Bool(false)) => message_of(rule, text, value, old),
            Ok(other) => format!(
                "rule {text:?} could not be evaluated: the rule gave {other:?}, not a boolean"
            ),
            Err(e) => format!("rule {text:?} could not be evaluated: {e}"),
        };
        let field = match rule["fieldPath"].as_str() {
            Some(field_path) if !field_path.is_empty() => with_field_path(path, field_path),
            _ => path.to_string(),
        };
        let (reason, message) = match rule["reason"].as_str().unwrap_or("FieldValueInvalid") {
            "FieldValueRequired" => ("FieldValueRequired", format!("Required value: {detail}")),
            "FieldValueForbidden" => ("FieldValueForbidden", format!("Forbidden: {detail}")),
            "FieldValueDuplicate" => (
                "FieldValueDuplicate",
                format!("Duplicate value: \"{type_}\""),
            ),
            _ => (
                "FieldValueInvalid",
                format!("Invalid value: \"{type_}\": {detail}"),
            ),
        };
        causes.push(Cause {
            reason,
            message,
            field,
        });
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_schema = schema["properties"]
                    .get(key)
                    .or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
                if let Some(child_schema) = child_schema {
                    let child_old = old.and_then(|o| o.get(key));
                    let child_path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    check(child, child_old, child_schema, &child_path, causes);
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (i, item) in items.iter().enumerate() {
                // Upstream pairs old and new list items by map keys or position; position here.
                let item_old = old.and_then(|o| o.get(i));
                check(
                    item,
                    item_old,
                    &schema["items"],
                    &format!("{path}[{i}]"),
                    causes,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy_schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [
                {"rule": "!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')",
                 "message": "spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'"},
                {"rule": "has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'",
                 "message": "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'"}],
            "properties": {"interval": {"type": "string"}, "digestReflectionPolicy": {"type": "string"},
                "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}]}}}}})
    }

    fn messages(object: Value, old: Option<Value>) -> Vec<String> {
        let mut causes = Vec::new();
        check(&object, old.as_ref(), &policy_schema(), "", &mut causes);
        causes
            .into_iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn rules_run_on_their_node_and_transition_rules_only_on_update() {
        let cases: Vec<(Value, Option<Value>, Vec<&str>)> = vec![
            (json!({"spec": {}}), None, vec![]),
            (
                json!({"spec": {"interval": "5m", "digestReflectionPolicy": "Always"}}),
                None,
                vec![],
            ),
            (
                json!({"spec": {"interval": "5m"}}),
                None,
                vec![
                    "spec: Invalid value: \"object\": spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'",
                ],
            ),
            (
                json!({"spec": {"digestReflectionPolicy": "Always"}}),
                None,
                vec![
                    "spec: Invalid value: \"object\": spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'",
                ],
            ),
            (json!({"spec": {"name": "a"}}), None, vec![]),
            (
                json!({"spec": {"name": "a"}}),
                Some(json!({"spec": {"name": "a"}})),
                vec![],
            ),
            (
                json!({"spec": {"name": "b"}}),
                Some(json!({"spec": {"name": "a"}})),
                vec!["spec.name: Invalid value: \"string\": name is immutable"],
            ),
        ];
        for (object, old, want) in cases {
            assert_eq!(messages(object.clone(), old), want, "{object}");
        }
    }

    #[test]
    fn message_expressions_field_paths_and_reasons() {
        let schema = json!({"type": "object", "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.max", "messageExpression": "'replicas ' + string(self.replicas) + ' over ' + string(self.max)",
             "fieldPath": ".replicas"},
            {"rule": "has(self.owner)", "message": "an owner is needed", "reason": "FieldValueRequired", "fieldPath": ".labels['owner']"},
            {"rule": "self.max < 100", "messageExpression": "self.nope", "message": "max too high", "reason": "FieldValueForbidden"}],
            "properties": {"replicas": {"type": "integer"}, "max": {"type": "integer"}}});
        let mut causes = Vec::new();
        check(
            &json!({"replicas": 5, "max": 200}),
            None,
            &schema,
            "spec",
            &mut causes,
        );
        let got: Vec<String> = causes
            .into_iter()
            .map(|c| format!("{} {}: {}", c.reason, c.field, c.message))
            .collect();
        assert_eq!(
            got,
            [
                "FieldValueRequired spec.labels[owner]: Required value: an owner is needed",
                "FieldValueForbidden spec: Forbidden: max too high",
            ]
        );
        let mut causes = Vec::new();
        check(
            &json!({"replicas": 5, "max": 2, "owner": "x"}),
            None,
            &schema,
            "spec",
            &mut causes,
        );
        assert_eq!(causes[0].field, "spec.replicas");
        assert_eq!(
            causes[0].message,
            "Invalid value: \"object\": replicas 5 over 2"
        );
    }
}
