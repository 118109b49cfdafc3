//! The committed `crds/` folder equals what `crdgen` writes, and every CRD carries Flux's
//! group, kind, version, names, categories, printer columns and conventions.

// Test helpers may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use rill_common::api::{all_crds, crd_file_name, crd_yaml};

#[test]
fn committed_crds_match_crdgen_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let mut expected_files = Vec::new();
    for crd in all_crds() {
        let name = crd_file_name(&crd);
        let want = crd_yaml(&crd).unwrap();
        let have = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        assert!(
            have == want,
            "crds/{name} differs from the API types; regenerate with \
             `cargo run -p rill-common --bin crdgen` and commit the result"
        );
        expected_files.push(name);
    }
    let have = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap_or_default();
    assert!(
        have == rill_common::api::crds_kustomization(),
        "crds/kustomization.yaml differs; regenerate with `cargo run -p rill-common --bin crdgen`"
    );
    expected_files.push("kustomization.yaml".into());
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    expected_files.sort();
    assert_eq!(
        present, expected_files,
        "crds/ holds files crdgen does not write"
    );
}

struct Expected {
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    columns: &'static [(&'static str, &'static str)],
}

const READY: &str = r#".status.conditions[?(@.type=="Ready")].status"#;
const STATUS: &str = r#".status.conditions[?(@.type=="Ready")].message"#;
const AGE: &str = ".metadata.creationTimestamp";

const EXPECTED: &[Expected] = &[
    Expected {
        group: "source.toolkit.fluxcd.io",
        kind: "GitRepository",
        plural: "gitrepositories",
        short_names: &["gitrepo"],
        categories: &["all", "fluxcd", "fluxcd-sources"],
        columns: &[
            ("URL", ".spec.url"),
            ("Age", AGE),
            ("Ready", READY),
            ("Status", STATUS),
        ],
    },
    Expected {
        group: "source.toolkit.fluxcd.io",
        kind: "OCIRepository",
        plural: "ocirepositories",
        short_names: &["ocirepo"],
        categories: &["all", "fluxcd", "fluxcd-sources"],
        columns: &[
            ("URL", ".spec.url"),
            ("Ready", READY),
            ("Status", STATUS),
            ("Age", AGE),
        ],
    },
    Expected {
        group: "kustomize.toolkit.fluxcd.io",
        kind: "Kustomization",
        plural: "kustomizations",
        short_names: &["ks"],
        categories: &["all", "fluxcd", "fluxcd-appliers"],
        columns: &[("Age", AGE), ("Ready", READY), ("Status", STATUS)],
    },
    Expected {
        group: "image.toolkit.fluxcd.io",
        kind: "ImageRepository",
        plural: "imagerepositories",
        short_names: &["imgrepo", "imagerepo"],
        categories: &["all", "fluxcd", "fluxcd-images"],
        columns: &[
            ("Image", ".spec.image"),
            ("Tags", ".status.lastScanResult.tagCount"),
            ("Ready", READY),
            ("Status", STATUS),
            ("Last scan", ".status.lastScanResult.scanTime"),
            ("Age", AGE),
        ],
    },
    Expected {
        group: "image.toolkit.fluxcd.io",
        kind: "ImagePolicy",
        plural: "imagepolicies",
        short_names: &["imgpol", "imagepol"],
        categories: &["all", "fluxcd", "fluxcd-images"],
        columns: &[
            ("Image", ".status.latestRef.name"),
            ("Tag", ".status.latestRef.tag"),
            ("Ready", READY),
            ("Status", STATUS),
            ("Age", AGE),
        ],
    },
    Expected {
        group: "image.toolkit.fluxcd.io",
        kind: "ImageUpdateAutomation",
        plural: "imageupdateautomations",
        short_names: &["iua", "imgupd", "imgauto"],
        categories: &["all", "fluxcd", "fluxcd-images"],
        columns: &[
            ("Ready", READY),
            ("Status", STATUS),
            ("Last run", ".status.lastAutomationRunTime"),
            ("Age", AGE),
        ],
    },
    Expected {
        group: "notification.toolkit.fluxcd.io",
        kind: "Receiver",
        plural: "receivers",
        short_names: &[],
        categories: &["all", "fluxcd", "fluxcd-notifications"],
        columns: &[("Age", AGE), ("Ready", READY), ("Status", STATUS)],
    },
];

#[test]
fn crds_carry_fluxs_names_and_columns() {
    let crds = all_crds();
    assert_eq!(crds.len(), EXPECTED.len());
    for (crd, want) in crds.iter().zip(EXPECTED) {
        let names = &crd.spec.names;
        assert_eq!(crd.spec.group, want.group);
        assert_eq!(names.kind, want.kind);
        assert_eq!(names.plural, want.plural);
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(
            names.short_names.as_deref().unwrap_or_default(),
            want.short_names
        );
        assert_eq!(
            names.categories.as_deref().unwrap_or_default(),
            want.categories
        );
        assert_eq!(crd.spec.versions.len(), 1, "{}", want.kind);
        let v1 = &crd.spec.versions[0];
        assert_eq!(
            (v1.name.as_str(), v1.served, v1.storage),
            ("v1", true, true)
        );
        let columns: Vec<(&str, &str)> = v1
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(columns, want.columns, "{}", want.kind);
        // Flux's types and wide-only columns: every column is a string except Age (a date);
        // Last scan and Last run show only with `-o wide`.
        for column in v1.additional_printer_columns.iter().flatten() {
            let want_type = if column.name == "Age" {
                "date"
            } else {
                "string"
            };
            assert_eq!(column.type_, want_type, "{} {}", want.kind, column.name);
            let wide = matches!(column.name.as_str(), "Last scan" | "Last run");
            assert_eq!(
                column.priority.unwrap_or(0),
                i32::from(wide),
                "{} {}",
                want.kind,
                column.name
            );
        }
        assert!(
            v1.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{} has a status subresource",
            want.kind
        );
        let annotations = crd.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations
                .get("kustomize.toolkit.fluxcd.io/substitute")
                .map(String::as_str),
            Some("disabled")
        );
        let schema = v1
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap();
        let status = &schema.properties.as_ref().unwrap()["status"];
        assert_eq!(
            status.default.as_ref().map(|d| d.0.clone()),
            Some(serde_json::json!({"observedGeneration": -1}))
        );
    }
}

#[test]
fn durations_and_enums_are_validated_by_the_schema() {
    let crds = all_crds();
    let git = serde_json::to_value(&crds[0]).unwrap();
    let spec = &git["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(
        spec["properties"]["interval"]["pattern"],
        r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
    );
    assert_eq!(
        spec["properties"]["timeout"]["pattern"],
        r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"
    );
    assert_eq!(spec["properties"]["timeout"]["default"], "60s");
    assert_eq!(
        spec["properties"]["url"]["pattern"],
        "^(http|https|ssh)://.*$"
    );
    assert_eq!(
        spec["properties"]["provider"]["enum"],
        serde_json::json!(["generic", "aws", "azure", "github"])
    );
    let required: Vec<&str> = spec["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(required, ["interval", "url"]);

    let ks = serde_json::to_value(&crds[2]).unwrap();
    let spec = &ks["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["properties"]["targetNamespace"]["maxLength"], 63);
    assert_eq!(spec["properties"]["namePrefix"]["maxLength"], 200);
    let required: Vec<&str> = spec["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(required, ["interval", "prune", "sourceRef"]);
}
