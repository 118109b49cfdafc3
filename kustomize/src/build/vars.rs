//! `vars` (kustomize's reflection feature): each var names an object and a field; after the
//! whole build (names fixed, hashes added) every `$(VAR)` in the fields of the varReference
//! specs (built-in table plus `configurations`) is replaced by that field's value.

use serde_json::Value;

use crate::error::Error;
use crate::fieldspec::{FieldSpec, visit};
use crate::kustomization::Kustomization;
use crate::resource::Resource;

/// A declared var.
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    name: String,
    kind: String,
    object: String,
    api_version: Option<String>,
    namespace: Option<String>,
    field_path: String,
    /// The resource the var was bound to where it was declared (its serial).
    target: Option<u64>,
}

/// Reads the `vars` of a kustomization.
pub(super) fn declared(k: &Kustomization) -> Result<Vec<Var>, Error> {
    let invalid = |message: String| Error::Kustomization {
        path: k.path.clone(),
        message,
    };
    let mut out = Vec::new();
    for entry in k.list("vars")? {
        // Go's JSON decoding matches field names case-insensitively (`fieldpath`, `fieldPath`).
        let field = |v: &Value, key: &str| -> Value {
            v.as_object()
                .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null)
        };
        let text = |v: Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let name =
            text(field(&entry, "name")).ok_or_else(|| invalid("a var needs a name".into()))?;
        let objref = field(&entry, "objref");
        let kind = text(field(&objref, "kind"))
            .ok_or_else(|| invalid(format!("var '{name}' needs objref.kind")))?;
        let object = text(field(&objref, "name"))
            .ok_or_else(|| invalid(format!("var '{name}' needs objref.name")))?;
        let api_version = text(field(&objref, "apiVersion")).or_else(|| {
            let version = text(field(&objref, "version"))?;
            Some(match text(field(&objref, "group")) {
                Some(group) => format!("{group}/{version}"),
                None => version,
            })
        });
        out.push(Var {
            name,
            kind,
            object,
            api_version,
            namespace: text(field(&objref, "namespace")),
            field_path: text(field(&field(&entry, "fieldref"), "fieldPath"))
                .unwrap_or_else(|| "metadata.name".into()),
            target: None,
        });
    }
    Ok(out)
}

/// Binds the vars declared by a kustomization to the one resource of its build they name
/// (by current or previous name), then adds them to `vars`, refusing a name declared twice.
pub(super) fn merge(
    vars: &mut Vec<Var>,
    new: Vec<Var>,
    resources: &[Resource],
) -> Result<(), Error> {
    for mut var in new {
        let matched: Vec<&Resource> = resources.iter().filter(|r| names(&var, r)).collect();
        match matched.as_slice() {
            [one] => var.target = Some(one.serial),
            [] => {}
            several => {
                return Err(Error::Resource(format!(
                    "found {} resId matches for var '{}' (unable to disambiguate)",
                    several.len(),
                    var.name
                )));
            }
        }
        if vars.iter().any(|v| v.name == var.name) {
            return Err(Error::Resource(format!(
                "var '{}' already encountered",
                var.name
            )));
        }
        vars.push(var);
    }
    Ok(())
}

fn names(var: &Var, resource: &Resource) -> bool {
    let id = resource.id();
    id.kind == var.kind
        && resource.all_names().any(|n| n == var.object)
        && var.api_version.as_ref().is_none_or(|a| {
            let (group, version) = a.rsplit_once('/').unwrap_or(("", a));
            id.group == group && id.version == version
        })
        && var.namespace.as_ref().is_none_or(|ns| *ns == id.namespace)
}

/// kustomize's built-in varReference field specs.
pub(super) fn builtin_references() -> Vec<FieldSpec> {
    const WORKLOAD_PATHS: [&str; 9] = [
        "containers/args",
        "containers/command",
        "containers/env/value",
        "containers/volumeMounts/mountPath",
        "initContainers/args",
        "initContainers/command",
        "initContainers/env/value",
        "initContainers/volumeMounts/mountPath",
        "volumes/nfs/server",
    ];
    let mut specs = Vec::new();
    let mut add = |kind: Option<&str>, path: String| {
        specs.push(FieldSpec {
            group: None,
            version: None,
            kind: kind.map(str::to_string),
            path,
            create: false,
        });
    };
    for (kind, prefix) in [
        ("CronJob", "spec/jobTemplate/spec/template/spec/"),
        ("DaemonSet", "spec/template/spec/"),
        ("Deployment", "spec/template/spec/"),
        ("Job", "spec/template/spec/"),
        ("Pod", "spec/"),
        ("ReplicaSet", "spec/template/spec/"),
        ("StatefulSet", "spec/template/spec/"),
    ] {
        for path in WORKLOAD_PATHS {
            add(Some(kind), format!("{prefix}{path}"));
        }
    }
    for path in ["spec/rules/host", "spec/tls/hosts", "spec/tls/secretName"] {
        add(Some("Ingress"), path.into());
    }
    for path in ["spec/ports/port", "spec/ports/targetPort"] {
        add(Some("Service"), path.into());
    }
    add(Some("PersistentVolume"), "spec/nfs/server".into());
    // kustomize's table has this CronJob path without the pod `spec` level.
    add(
        Some("CronJob"),
        "spec/jobTemplate/spec/template/volumes/nfs/server".into(),
    );
    add(
        Some("StatefulSet"),
        "spec/volumeClaimTemplates/spec/nfs/server".into(),
    );
    add(None, "metadata/labels".into());
    add(None, "metadata/annotations".into());
    specs
}

/// The value at a dotted field path (`spec.ports[0].port`).
fn field_at<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = object;
    for segment in path.split('.') {
        let (name, indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(i)?;
        }
    }
    Some(current)
}

fn resolve(var: &Var, resources: &[Resource]) -> Result<Value, Error> {
    let target = var
        .target
        .and_then(|serial| resources.iter().find(|r| r.serial == serial))
        .ok_or_else(|| {
            Error::Resource(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                var.name
            ))
        })?;
    field_at(&target.object, &var.field_path)
        .cloned()
        .ok_or_else(|| {
            Error::Resource(format!(
                "field specified in var '{}' ('{}') not found in the target",
                var.name, var.field_path
            ))
        })
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Kubernetes' `$(VAR)` expansion: `$$` is a literal `$`, unknown vars stay as written, and a
/// string that is exactly one reference takes the value's own type.
fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<Value>) -> Value {
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                    continue;
                }
                b'(' => {
                    if let Some(end) = input[i + 2..].find(')') {
                        let name = &input[i + 2..i + 2 + end];
                        match lookup(name) {
                            Some(value) if input.len() == name.len() + 3 => return value,
                            Some(value) => out.push_str(&plain(&value)),
                            None => out.push_str(&input[i..i + 3 + end]),
                        }
                        i += end + 3;
                        continue;
                    }
                }
                _ => {}
            }
        }
        let ch = input[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8();
    }
    Value::String(out)
}

fn replace_in(value: &mut Value, lookup: &dyn Fn(&str) -> Option<Value>) {
    match value {
        Value::String(s) => *value = expand(s, lookup),
        Value::Array(items) => {
            for item in items.iter_mut().filter(|i| i.is_string()) {
                replace_in(item, lookup);
            }
        }
        Value::Object(map) => {
            for item in map.values_mut().filter(|i| i.is_string()) {
                replace_in(item, lookup);
            }
        }
        _ => {}
    }
}

/// Resolves every var and replaces its references in the varReference fields.
pub(super) fn apply(
    resources: &mut [Resource],
    vars: &[Var],
    specs: &[FieldSpec],
) -> Result<(), Error> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values = Vec::new();
    for var in vars {
        values.push((var.name.clone(), resolve(var, resources)?));
    }
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    for resource in resources.iter_mut() {
        visit(resource, specs, &mut |parent, field, _| {
            if let Some(value) = parent.get_mut(field) {
                replace_in(value, &lookup);
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expansion_follows_kubernetes_rules() {
        let lookup = |name: &str| match name {
            "SVC" => Some(json!("web")),
            "PORT" => Some(json!(8080)),
            _ => None,
        };
        let cases = [
            ("http://$(SVC):80", json!("http://web:80")),
            ("$(PORT)", json!(8080)),
            ("port $(PORT)", json!("port 8080")),
            ("$$(SVC)", json!("$(SVC)")),
            ("$(UNKNOWN) x", json!("$(UNKNOWN) x")),
            ("$(unclosed", json!("$(unclosed")),
            ("cost $5 é", json!("cost $5 é")),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &lookup), want, "{input}");
        }
    }

    #[test]
    fn field_paths_reach_into_lists() {
        let object =
            json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}, "metadata": {"name": "a"}});
        assert_eq!(field_at(&object, "spec.ports[1].port"), Some(&json!(443)));
        assert_eq!(field_at(&object, "metadata.name"), Some(&json!("a")));
        assert_eq!(field_at(&object, "spec.missing"), None);
    }
}
