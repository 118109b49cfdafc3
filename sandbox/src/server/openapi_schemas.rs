//! OpenAPI v3 schemas of the built-in kinds, generated from k8s-openapi's types (themselves
//! generated from the upstream OpenAPI spec): definitions named as upstream names them
//! (`io.k8s.api.apps.v1.Deployment`, with their descriptions), each kind's schema marked with
//! `x-kubernetes-group-version-kind` as kubectl looks it up (`kubectl explain`), and the fields
//! carrying upstream's patch and list extensions (`openapi-extensions.json`, generated from the
//! Go types by `protobuf/generate.py`), which kubectl reads to compute strategic merge patches.

use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, coordination, core, discovery, events,
    networking, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

/// One kind: its group, version, name and how to add its schema to a generator.
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    add: fn(&mut SchemaGenerator) -> Schema,
}

fn kind<T: JsonSchema + k8s_openapi::Resource>() -> Kind {
    Kind {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        add: |generator| generator.subschema_for::<T>(),
    }
}

/// The built-in kinds with a schema.
fn kinds() -> Vec<Kind> {
    vec![
        kind::<core::v1::ConfigMap>(),
        kind::<core::v1::Endpoints>(),
        kind::<core::v1::Event>(),
        kind::<core::v1::LimitRange>(),
        kind::<core::v1::Namespace>(),
        kind::<core::v1::Node>(),
        kind::<core::v1::PersistentVolume>(),
        kind::<core::v1::PersistentVolumeClaim>(),
        kind::<core::v1::Pod>(),
        kind::<core::v1::Node>(),
        kind::<core::v1::PodTemplate>(),
        kind::<core::v1::ReplicationController>(),
        kind::<core::v1::ResourceQuota>(),
        kind::<core::v1::Secret>(),
        kind::<core::v1::Service>(),
        kind::<core::v1::ServiceAccount>(),
        kind::<apps::v1::ControllerRevision>(),
        kind::<apps::v1::DaemonSet>(),
        kind::<apps::v1::Deployment>(),
        kind::<apps::v1::ReplicaSet>(),
        kind::<apps::v1::StatefulSet>(),
        kind::<batch::v1::CronJob>(),
        kind::<batch::v1::Job>(),
        kind::<autoscaling::v1::HorizontalPodAutoscaler>(),
        kind::<autoscaling::v2::HorizontalPodAutoscaler>(),
        kind::<rbac::v1::ClusterRole>(),
        kind::<rbac::v1::ClusterRoleBinding>(),
        kind::<rbac::v1::Role>(),
        kind::<rbac::v1::RoleBinding>(),
        kind::<networking::v1::Ingress>(),
        kind::<networking::v1::IngressClass>(),
        kind::<networking::v1::NetworkPolicy>(),
        kind::<coordination::v1::Lease>(),
        kind::<policy::v1::PodDisruptionBudget>(),
        kind::<scheduling::v1::PriorityClass>(),
        kind::<storage::v1::StorageClass>(),
        kind::<discovery::v1::EndpointSlice>(),
        kind::<events::v1::Event>(),
        kind::<admissionregistration::v1::MutatingWebhookConfiguration>(),
        kind::<admissionregistration::v1::ValidatingWebhookConfiguration>(),
        kind::<apiextensions::v1::CustomResourceDefinition>(),
    ]
}

/// Generates the schemas of `kinds`: each kind with its definition's name, and every
/// definition they refer to.
fn generate(kinds: Vec<Kind>) -> (Vec<(Kind, String)>, Map<String, Value>) {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut tops = Vec::new();
    for k in kinds {
        let reference = (k.add)(&mut generator);
        if let Some(name) = reference
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
        {
            tops.push((k, name.to_string()));
        }
    }
    let mut definitions = generator.definitions().clone();
    add_extensions(&mut definitions);
    (tops, definitions)
}

/// Upstream's extensions per definition and field (`""`: the definition itself).
fn extensions() -> &'static Map<String, Value> {
    static TABLE: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("openapi-extensions.json")).unwrap_or_default()
    })
}

/// Puts upstream's patch, list and map extensions on the definitions and fields they belong to.
fn add_extensions(definitions: &mut Map<String, Value>) {
    for (name, fields) in extensions() {
        let (Some(definition), Some(fields)) = (definitions.get_mut(name), fields.as_object())
        else {
            continue;
        };
        for (field, found) in fields {
            let target = if field.is_empty() {
                Some(&mut *definition)
            } else {
                definition
                    .get_mut("properties")
                    .and_then(|p| p.get_mut(field))
            };
            if let (Some(Value::Object(target)), Some(found)) = (target, found.as_object()) {
                target.extend(found.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
}

/// The component schemas for the built-in `kinds` of `group`/`version`: each kind's schema and
/// every definition it refers to.
pub fn builtin(group: &str, version: &str, served: &[&str]) -> Map<String, Value> {
    let mut definitions =
        marked(|k| k.group == group && k.version == version && served.contains(&k.kind));
    for schema in definitions.values_mut() {
        wrap_references(schema);
    }
    definitions
}

/// The definitions of every served built-in kind (`(group, version, kind)`) and of the types
/// they refer to, references as generated (`#/components/schemas/...`, not wrapped): the body
/// of the OpenAPI v2 document.
pub fn builtin_unwrapped(served: &[(String, String, String)]) -> Map<String, Value> {
    marked(|k| {
        served
            .iter()
            .any(|(g, v, kind)| k.group == g && k.version == v && k.kind == kind)
    })
}

/// The definitions of the kinds `keep` selects, each kind's own marked with its
/// group-version-kind.
fn marked(keep: impl Fn(&Kind) -> bool) -> Map<String, Value> {
    let (tops, mut definitions) = generate(kinds().into_iter().filter(|k| keep(k)).collect());
    for (k, name) in tops {
        if let Some(schema) = definitions.get_mut(&name) {
            schema["x-kubernetes-group-version-kind"] =
                json!([{"group": k.group, "version": k.version, "kind": k.kind}]);
        }
    }
    definitions
}

/// A built-in kind's group, version, kind and definition name.
pub type KindDefinition = (String, String, String, String);

/// Every built-in kind's definition name and all the definitions they refer to, unwrapped
/// (for the type check of written objects).
pub fn all_kinds() -> (Vec<KindDefinition>, Map<String, Value>) {
    let (tops, definitions) = generate(kinds());
    let tops = tops
        .into_iter()
        .map(|(k, name)| (k.group.into(), k.version.into(), k.kind.into(), name))
        .collect();
    (tops, definitions)
}

/// Upstream's v3 documents wrap a reference that has its own description in `allOf` (a
/// `$ref`'s siblings are ignored in OpenAPI 3.0); kubectl explain then prints the field's
/// description before the type's. Walks schemas only: a `properties` map is a map of names (the
/// `$ref` property of `JSONSchemaProps` is a field, not a reference).
fn wrap_references(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if map.len() > 1
        && let Some(reference) = map.remove("$ref")
    {
        map.insert("allOf".into(), json!([{"$ref": reference}]));
    }
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties", Value::Object(fields)) => fields.values_mut().for_each(wrap_references),
            ("items" | "additionalProperties" | "not", value) => wrap_references(value),
            ("allOf" | "anyOf" | "oneOf", Value::Array(items)) => {
                items.iter_mut().for_each(wrap_references)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_carry_their_group_version_kind_and_upstream_names() {
        let schemas = builtin("apps", "v1", &["Deployment", "StatefulSet"]);
        let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
        );
        assert!(
            deployment["description"]
                .as_str()
                .is_some_and(|d| d.contains("declarative updates"))
        );
        assert!(schemas.contains_key("io.k8s.api.apps.v1.DeploymentSpec"));
        assert!(schemas.contains_key("io.k8s.api.core.v1.PodSpec"));
        assert!(schemas.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        assert!(schemas.contains_key("io.k8s.api.apps.v1.StatefulSet"));
        assert!(
            !schemas.contains_key("io.k8s.api.apps.v1.DaemonSet"),
            "not asked for"
        );
        let spec = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"];
        assert_eq!(spec["containers"]["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(spec["containers"]["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(
            spec["volumes"]["x-kubernetes-patch-strategy"],
            "merge,retainKeys"
        );
        assert_eq!(spec["tolerations"]["x-kubernetes-list-type"], "atomic");
        let strategy = &schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
        assert_eq!(
            strategy["allOf"],
            json!([{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}])
        );
        assert_eq!(
            schemas["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"],
            "atomic"
        );
        let core = builtin("", "v1", &["ConfigMap"]);
        assert_eq!(
            core["io.k8s.api.core.v1.ConfigMap"]["x-kubernetes-group-version-kind"][0]["group"],
            ""
        );
    }

    #[test]
    fn a_property_named_ref_is_not_a_reference() {
        let schemas = builtin("apiextensions.k8s.io", "v1", &["CustomResourceDefinition"]);
        let props = &schemas["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"]
            ["properties"];
        assert_eq!(props["$ref"], json!({"type": "string"}));
        assert!(
            props
                .get("allOf")
                .is_some_and(|all_of| all_of["type"] == "array")
        );
    }
}
