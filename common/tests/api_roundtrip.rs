//! Real Flux YAML for every kind survives a typed round trip: nothing is dropped, renamed or
//! re-typed, and the kind's group/version/kind match Flux's.

// Test helpers may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use kube::Resource;
use rill_common::api::{image_v1, kustomize_v1, source_v1};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn yaml_value(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn assert_round_trip<K>(sample: &str)
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
{
    let original = yaml_value(sample);
    let typed: K = serde_json::from_value(original.clone())
        .unwrap_or_else(|e| panic!("{sample} does not deserialize: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(back, original, "{sample} changed in the round trip");
    assert_eq!(original["apiVersion"], K::api_version(&()).as_ref());
    assert_eq!(original["kind"], K::kind(&()).as_ref());
}

#[test]
fn gitrepository_round_trips() {
    assert_round_trip::<source_v1::GitRepository>("gitrepository.yaml");
}

#[test]
fn ocirepository_round_trips() {
    assert_round_trip::<source_v1::OCIRepository>("ocirepository.yaml");
}

#[test]
fn kustomization_round_trips() {
    assert_round_trip::<kustomize_v1::Kustomization>("kustomization.yaml");
}

#[test]
fn imagerepository_round_trips() {
    assert_round_trip::<image_v1::ImageRepository>("imagerepository.yaml");
}

#[test]
fn imagepolicy_round_trips() {
    assert_round_trip::<image_v1::ImagePolicy>("imagepolicy.yaml");
    assert_round_trip::<image_v1::ImagePolicy>("imagepolicy-alphabetical.yaml");
}

#[test]
fn imageupdateautomation_round_trips() {
    assert_round_trip::<image_v1::ImageUpdateAutomation>("imageupdateautomation.yaml");
}

#[test]
fn unknown_enum_values_are_rejected() {
    let mut ks = yaml_value("kustomization.yaml");
    ks["spec"]["deletionPolicy"] = Value::from("Sometimes");
    assert!(serde_json::from_value::<kustomize_v1::Kustomization>(ks).is_err());
}

#[test]
fn gitrepository_without_ref_checks_out_master() {
    let repo: source_v1::GitRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "app"},
        "spec": {"url": "https://example.com/app.git", "interval": "1m"}
    }))
    .unwrap();
    assert_eq!(repo.spec.effective_ref().branch.as_deref(), Some("master"));
}
