//! Tables for the kustomization generator: listing, sub-kustomizations, placeholders and the
//! merge of spec overrides.

use super::*;
use rill_common::api::kustomize_v1::Patch;

fn spec(extra: Value) -> KustomizationSpec {
    let mut base = json!({"interval": "1m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "s"}});
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    serde_json::from_value(base).unwrap_or_else(|e| panic!("{e}"))
}

/// An artifact at `/a` holding `files`, ready for `prepare`.
fn artifact(files: &[(&str, &str)]) -> Overlay {
    let mut tree = kustomize::file_system::MemoryTree::new("/a");
    for (path, text) in files {
        tree.insert_file(Path::new(path), text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    Overlay::new(std::sync::Arc::new(tree))
}

fn root() -> &'static Path {
    Path::new("/a")
}

fn read(files: &Overlay) -> Value {
    let text =
        read_text(files, &root().join("kustomization.yaml")).unwrap_or_else(|e| panic!("{e}"));
    kustomize::yaml::read_documents(&text)
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0)
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";

#[test]
fn generated_kustomizations_list_manifests_and_stop_at_sub_kustomizations() {
    let mut tmp = artifact(&[
        ("b.yaml", CM),
        ("a.yml", CM),
        ("notes.txt", "x"),
        ("deep/c.yaml", CM),
        ("app/kustomization.yaml", "resources: [x.yaml]\n"),
        ("app/x.yaml", CM),
    ]);
    prepare(&mut tmp, root(), root(), &spec(json!({}))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        read(&tmp)["resources"],
        json!(["a.yml", "app", "b.yaml", "deep/c.yaml"])
    );
}

#[test]
fn empty_folders_get_the_placeholder_namespace_and_non_manifests_fail() {
    let mut tmp = artifact(&[]);
    prepare(&mut tmp, root(), root(), &spec(json!({}))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read(&tmp)["namespace"], json!("_placeholder"));
    let mut bad = artifact(&[("values.yaml", "replicas: 3\n")]);
    let err = prepare(&mut bad, root(), root(), &spec(json!({})))
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("values.yaml: not a Kubernetes manifest"),
        "{err}"
    );
}

#[test]
fn spec_overrides_merge_into_an_existing_kustomization() {
    let mut tmp = artifact(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\nnamespace: old\nimages:\n- name: app\n  newTag: v1\n  digest: sha256:aa\n",
        ),
        ("cm.yaml", CM),
        ("comp/kustomization.yaml", "kind: Component\n"),
    ]);
    let mut s = spec(json!({
        "targetNamespace": "new",
        "namePrefix": "p-",
        "components": ["comp", "missing"],
        "ignoreMissingComponents": true,
        "images": [{"name": "app", "newTag": "v2"}, {"name": "db", "newName": "pg"}],
        "buildMetadata": ["originAnnotations"],
    }));
    s.patches = Some(vec![Patch {
        patch: "- op: remove\n  path: /data\n".into(),
        target: Some(Selector {
            kind: Some("ConfigMap".into()),
            ..Default::default()
        }),
    }]);
    prepare(&mut tmp, root(), root(), &s).unwrap_or_else(|e| panic!("{e}"));
    let doc = read(&tmp);
    assert_eq!(doc["namespace"], json!("new"));
    assert_eq!(doc["namePrefix"], json!("p-"));
    assert_eq!(doc["components"], json!(["comp"]));
    assert_eq!(
        doc["images"],
        json!([{"name": "app", "newTag": "v2"}, {"name": "db", "newName": "pg"}])
    );
    assert_eq!(doc["patches"][0]["target"], json!({"kind": "ConfigMap"}));
    assert_eq!(doc["buildMetadata"], json!(["originAnnotations"]));
}

#[test]
fn remote_components_are_refused() {
    let mut tmp = artifact(&[]);
    let s = spec(json!({"components": ["https://github.com/acme/c"]}));
    let err = prepare(&mut tmp, root(), root(), &s)
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("remote"), "{err}");
}
