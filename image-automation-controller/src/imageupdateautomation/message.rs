//! The commit message: Flux's template data (`AutomationObject`, `Changed` with `FileChanges`
//! and its `Changes`/`Objects` methods, `Values`) built as the Go values Flux's templates see,
//! rendered with Go's text/template and Sprig's hermetic functions (pure).

use std::collections::BTreeMap;

use gotemplate::{Field, Struct, Value};

/// Flux's commit message when no template is set.
pub const DEFAULT_MESSAGE: &str = "Update from image update automation";

const HELP: &str =
    "See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template";

/// The object a change was made in (kyaml's resource identifier of its YAML document).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectId {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// One value a setter changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The file, relative to `update.path`.
    pub file: String,
    /// The object in that file.
    pub object: ObjectId,
    /// The value before.
    pub old: String,
    /// The value after.
    pub new: String,
    /// The marker's policy reference.
    pub setter: String,
}

/// Why no message could be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The template uses a field Flux removed (`.Updated`, `.Changed.ImageResult`).
    #[error("{0}")]
    RemovedField(String),
    /// The template does not parse or fails to run.
    #[error("{0}")]
    Template(String),
}

fn field(name: &str, value: Value) -> Field {
    Field {
        name: name.into(),
        value,
        embedded: false,
        json: None,
    }
}

fn json_field(name: &str, json: &str, value: &str) -> Field {
    Field {
        name: name.into(),
        value: Value::str(value),
        embedded: false,
        json: Some((json.into(), true)),
    }
}

fn embedded(name: &str, value: Struct) -> Field {
    Field {
        name: name.into(),
        value: Value::structure(value),
        embedded: true,
        json: None,
    }
}

/// `update.ObjectIdentifier{yaml.ResourceIdentifier{TypeMeta, NameMeta}}`.
fn object_value(id: &ObjectId) -> Value {
    let type_meta = Struct {
        type_name: "yaml.TypeMeta".into(),
        fields: vec![
            json_field("APIVersion", "apiVersion", &id.api_version),
            json_field("Kind", "kind", &id.kind),
        ],
        ..Struct::default()
    };
    let name_meta = Struct {
        type_name: "yaml.NameMeta".into(),
        fields: vec![
            json_field("Name", "name", &id.name),
            json_field("Namespace", "namespace", &id.namespace),
        ],
        ..Struct::default()
    };
    let identifier = Struct {
        type_name: "yaml.ResourceIdentifier".into(),
        fields: vec![
            embedded("TypeMeta", type_meta),
            embedded("NameMeta", name_meta),
        ],
        ..Struct::default()
    };
    Value::structure(Struct {
        type_name: "update.ObjectIdentifier".into(),
        fields: vec![embedded("ResourceIdentifier", identifier)],
        ..Struct::default()
    })
}

fn change_value(c: &Change) -> Value {
    Value::structure(Struct {
        type_name: "update.Change".into(),
        fields: vec![
            field("OldValue", Value::str(&c.old)),
            field("NewValue", Value::str(&c.new)),
            field("Setter", Value::str(&c.setter)),
        ],
        ..Struct::default()
    })
}

fn object_changes(by_object: &BTreeMap<ObjectId, Vec<&Change>>) -> Value {
    Value::map(
        "update.ObjectChanges",
        Value::Nil,
        by_object
            .iter()
            .map(|(id, changes)| {
                let list = changes.iter().map(|c| change_value(c)).collect();
                (object_value(id), Value::list("[]update.Change", list))
            })
            .collect(),
    )
}

/// Flux's `TemplateData` for `changes` made by the automation `namespace/name`.
pub fn template_data(
    namespace: &str,
    name: &str,
    changes: &[Change],
    values: Option<&BTreeMap<String, String>>,
) -> Value {
    let mut files: BTreeMap<&str, BTreeMap<ObjectId, Vec<&Change>>> = BTreeMap::new();
    let mut objects: BTreeMap<ObjectId, Vec<&Change>> = BTreeMap::new();
    let mut unique: Vec<&Change> = Vec::new();
    for c in changes {
        files
            .entry(&c.file)
            .or_default()
            .entry(c.object.clone())
            .or_default()
            .push(c);
        objects.entry(c.object.clone()).or_default().push(c);
        if !unique
            .iter()
            .any(|u| (&u.old, &u.new, &u.setter) == (&c.old, &c.new, &c.setter))
        {
            unique.push(c);
        }
    }
    let file_changes = Value::map(
        "map[string]update.ObjectChanges",
        Value::Nil,
        files
            .iter()
            .map(|(file, by_object)| (Value::str(*file), object_changes(by_object)))
            .collect(),
    );
    let result = Struct {
        type_name: "update.Result".into(),
        fields: vec![field("FileChanges", file_changes)],
        methods: vec![
            (
                "Changes".into(),
                Value::list(
                    "[]update.Change",
                    unique.iter().map(|c| change_value(c)).collect(),
                ),
            ),
            ("Objects".into(), object_changes(&objects)),
        ],
        display: None,
    };
    let automation = Struct {
        type_name: "types.NamespacedName".into(),
        fields: vec![
            field("Namespace", Value::str(namespace)),
            field("Name", Value::str(name)),
        ],
        methods: Vec::new(),
        display: Some(format!("{namespace}/{name}")),
    };
    let values = Value::map(
        "map[string]string",
        Value::str(""),
        values
            .into_iter()
            .flatten()
            .map(|(k, v)| (Value::str(k), Value::str(v)))
            .collect(),
    );
    Value::structure(Struct {
        type_name: "source.TemplateData".into(),
        fields: vec![
            field("AutomationObject", Value::structure(automation)),
            field("Changed", Value::structure(result)),
            field("Values", values),
        ],
        ..Struct::default()
    })
}

/// The commit message for `template` (empty: Flux's default) over `data`.
pub fn render(template: &str, data: &Value) -> Result<String, MessageError> {
    if template.is_empty() {
        return Ok(DEFAULT_MESSAGE.to_string());
    }
    let funcs = gotemplate::Functions::hermetic();
    let parsed = gotemplate::Template::parse("commit message", template, &funcs).map_err(|e| {
        MessageError::Template(format!(
            "unable to create commit message template from spec: {e}"
        ))
    })?;
    parsed.execute(data, &funcs).map_err(|e| {
        let text = e.to_string();
        if text.contains("can't evaluate field Updated in type source.TemplateData") {
            MessageError::RemovedField(format!(
                "template uses removed '.Updated' field. Please use '.Changed' instead. {HELP}"
            ))
        } else if text.contains("can't evaluate field ImageResult in type update.Result") {
            MessageError::RemovedField(format!(
                "template uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' or '.Changed.Objects' instead. {HELP}"
            ))
        } else {
            MessageError::Template(format!("failed to run template from spec: {text}"))
        }
    })
}

/// The object of each YAML document of `text`, by the document's first and last line.
pub fn objects_by_line(text: &str) -> Vec<(usize, usize, ObjectId)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..=lines.len() {
        let separator = lines
            .get(i)
            .is_some_and(|l| l.starts_with("---") && l[3..].trim_start().is_empty_or_comment());
        if i == lines.len() || separator {
            if i > start {
                let document: String = lines[start..i].concat();
                let id = kustomize::yaml::read_documents(&document)
                    .ok()
                    .and_then(|docs| docs.into_iter().next())
                    .map(|doc| {
                        let s = |v: Option<&serde_json::Value>| {
                            v.and_then(|v| v.as_str()).unwrap_or_default().to_string()
                        };
                        ObjectId {
                            api_version: s(doc.get("apiVersion")),
                            kind: s(doc.get("kind")),
                            name: s(doc.pointer("/metadata/name")),
                            namespace: s(doc.pointer("/metadata/namespace")),
                        }
                    })
                    .unwrap_or_default();
                out.push((start, i.saturating_sub(1), id));
            }
            start = i + 1;
        }
    }
    out
}

trait EmptyOrComment {
    fn is_empty_or_comment(&self) -> bool;
}

impl EmptyOrComment for str {
    fn is_empty_or_comment(&self) -> bool {
        self.is_empty() || self.starts_with('#')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, name: &str) -> ObjectId {
        ObjectId {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            namespace: "default".into(),
        }
    }

    fn changes() -> Vec<Change> {
        let c = |file: &str, object: ObjectId, old: &str, new: &str, setter: &str| Change {
            file: file.into(),
            object,
            old: old.into(),
            new: new.into(),
            setter: setter.into(),
        };
        vec![
            c(
                "base/deployment.yaml",
                id("Deployment", "podinfo"),
                "podinfo:v1.0.0",
                "podinfo:v1.0.1",
                "flux-system:podinfo",
            ),
            c(
                "overlays/prod/deployment.yaml",
                id("Deployment", "podinfo"),
                "1",
                "2",
                "flux-system:replicas",
            ),
        ]
    }

    /// Flux's own test template (`testCommitTemplateResultV2`) and the documented examples.
    #[test]
    fn flux_templates_render_as_flux_renders_them() {
        let data = template_data("flux-system", "podinfo", &changes(), None);
        let v2 = "Commit summary with ResultV2\n\nAutomation: {{ .AutomationObject }}\n\n{{ range $filename, $objchange := .Changed.FileChanges -}}\n- File: {{ $filename }}\n{{- range $obj, $changes := $objchange }}\n  - Object: {{ $obj.Kind }}/{{ $obj.Namespace }}/{{ $obj.Name }}\n    Changes:\n{{- range $_ , $change := $changes }}\n    - {{ $change.OldValue }} -> {{ $change.NewValue }}\n{{ end -}}\n{{ end -}}\n{{ end -}}\n";
        assert_eq!(
            render(v2, &data).unwrap(),
            "Commit summary with ResultV2\n\nAutomation: flux-system/podinfo\n\n- File: base/deployment.yaml\n  - Object: Deployment/default/podinfo\n    Changes:\n    - podinfo:v1.0.0 -> podinfo:v1.0.1\n- File: overlays/prod/deployment.yaml\n  - Object: Deployment/default/podinfo\n    Changes:\n    - 1 -> 2\n"
        );
        let documented = "Automated image update\n\nAutomation name: {{ .AutomationObject }}\n\nFiles:\n{{ range $filename, $_ := .Changed.FileChanges -}}\n- {{ $filename }}\n{{ end -}}\n\nObjects:\n{{ range $resource, $changes := .Changed.Objects -}}\n- {{ $resource.Kind | lower }} {{ $resource.Name | lower }}\n  Changes:\n{{- range $_, $change := $changes }}\n    - {{ $change.OldValue }} -> {{ $change.NewValue }}\n{{ end -}}\n{{ end -}}\n";
        assert_eq!(
            render(documented, &data).unwrap(),
            "Automated image update\n\nAutomation name: flux-system/podinfo\n\nFiles:\n- base/deployment.yaml\n- overlays/prod/deployment.yaml\nObjects:\n- deployment podinfo\n  Changes:\n    - podinfo:v1.0.0 -> podinfo:v1.0.1\n\n    - 1 -> 2\n"
        );
        let changes =
            "{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}";
        assert_eq!(
            render(changes, &data).unwrap(),
            "podinfo:v1.0.0 -> podinfo:v1.0.1\n1 -> 2\n"
        );
        let values = template_data(
            "flux-system",
            "podinfo",
            &[],
            Some(&BTreeMap::from([(
                "cluster".to_string(),
                "prod".to_string(),
            )])),
        );
        assert_eq!(
            render(
                "Cluster: {{ index .Values \"cluster\" }}\nTesting: {{ .Values.testing }}",
                &values
            )
            .unwrap(),
            "Cluster: prod\nTesting: <no value>"
        );
        assert_eq!(render("", &values).unwrap(), DEFAULT_MESSAGE);
        // Gerrit's Change-Id example: deterministic for the same changes.
        let gerrit = "{{- $ChangeId := .AutomationObject -}}\n{{- $ChangeId = printf \"%s%s\" $ChangeId ( .Changed.FileChanges | toString ) -}}\nChange-Id: {{ printf \"I%s\" ( sha256sum $ChangeId | trunc 40 ) }}";
        let first = render(gerrit, &data).unwrap();
        assert!(
            first.starts_with("Change-Id: I") && first.len() == "Change-Id: I".len() + 40,
            "{first}"
        );
        assert_eq!(render(gerrit, &data).unwrap(), first);
    }

    #[test]
    fn removed_fields_and_broken_templates_are_named() {
        let data = template_data("ns", "a", &changes(), None);
        let cases = [
            ("{{ range .Updated.Files }}{{ end }}", "removed '.Updated'"),
            (
                "{{ .Changed.ImageResult.Files }}",
                "removed '.Changed.ImageResult'",
            ),
            (
                "{{ .Nope }}",
                "failed to run template from spec: template: commit message:1:3: executing \"commit message\" at <.Nope>: can't evaluate field Nope in type source.TemplateData",
            ),
            (
                "{{ if }}",
                "unable to create commit message template from spec: template: commit message:1: missing value for if",
            ),
        ];
        for (template, want) in cases {
            let err = render(template, &data).unwrap_err().to_string();
            assert!(err.contains(want), "{template}: {err}");
        }
        assert!(matches!(
            render("{{ .Updated }}", &data),
            Err(MessageError::RemovedField(_))
        ));
    }

    #[test]
    fn objects_are_found_per_document() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\n---\n# second\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n";
        let objects = objects_by_line(text);
        assert_eq!(objects.len(), 2);
        assert_eq!(
            (
                objects[0].0,
                objects[0].1,
                objects[0].2.kind.as_str(),
                objects[0].2.namespace.as_str()
            ),
            (0, 4, "Deployment", "apps")
        );
        assert_eq!((objects[1].0, objects[1].2.name.as_str()), (6, "svc"));
    }
}
