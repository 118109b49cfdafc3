//! OpenAPI v3 schemas of the built-in kinds, generated from k8s-openapi's types (themselves
//! generated from the upstream OpenAPI spec): definitions named as upstream names them
//! (`io.k8s.api.apps.v1.Deployment`, with their descriptions), each kind's schema marked with
//! `x-kubernetes-group-version-kind` as kubectl looks it up (`kubectl explain`).

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
    let definitions = generator.definitions().clone();
    (tops, definitions)
}

/// The component schemas for the built-in `kinds` of `group`/`version`: each kind's schema and
/// every definition it refers to.
pub fn builtin(group: &str, version: &str, served: &[&str]) -> Map<String, Value> {
    let kinds = kinds()
        .into_iter()
        .filter(|k| k.group == group && k.version == version && served.contains(&k.kind))
        .collect();
    let (tops, mut definitions) = generate(kinds);
    for schema in definitions.values_mut() {
        wrap_references(schema);
    }
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
/// description before the type's.
fn wrap_references(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.len() > 1
                && let Some(reference) = map.remove("$ref")
            {
                map.insert("allOf".into(), json!([{"$ref": reference}]));
            }
            for value in map.values_mut() {
                wrap_references(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(wrap_references),
        _ => {}
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
        let core = builtin("", "v1", &["ConfigMap"]);
        assert_eq!(
            core["io.k8s.api.core.v1.ConfigMap"]["x-kubernetes-group-version-kind"][0]["group"],
            ""
        );
    }
}
