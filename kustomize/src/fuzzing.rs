//! Entry points for the fuzz targets in `fuzz/` (and the stable smoke test that replays them):
//! arbitrary bytes become a kustomization and a patch next to fixed resources, and the build
//! must end in `Ok` or `Err`, never in a panic.

use std::path::Path;

use serde_json::Value;

use crate::build::{Options, build};
use crate::patch::{PatchBody, parse_patch};
use crate::strategic::{MergeContext, merge_object};
use crate::yaml::ExplicitNulls;

const RESOURCES: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        ports:\n        - containerPort: 80\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n";

/// Splits `data` at the first NUL into a kustomization and a patch file.
fn split(data: &[u8]) -> (String, String) {
    let (kustomization, patch) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    (
        String::from_utf8_lossy(kustomization).into_owned(),
        String::from_utf8_lossy(patch).into_owned(),
    )
}

/// Builds `data` as a kustomization (before the first NUL) with `patch.yaml` (after it) beside
/// `resources.yaml`; returns whether the build succeeded. Panics only on engine bugs.
pub fn build_bytes(data: &[u8], scratch: &Path) -> bool {
    let (kustomization, patch) = split(data);
    let dir = scratch.join("k");
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return false;
    }
    let files = [
        ("kustomization.yaml", kustomization.as_str()),
        ("patch.yaml", patch.as_str()),
        ("resources.yaml", RESOURCES),
    ];
    for (name, text) in files {
        if std::fs::write(dir.join(name), text).is_err() {
            return false;
        }
    }
    build(&dir, &Options::default()).is_ok()
}

/// A kustomization using every patch form on the fixed resources, for seeding fuzzers.
pub const SEED: &str = "resources:\n- resources.yaml\nnamePrefix: p-\ncommonLabels:\n  team: x\npatches:\n- path: patch.yaml\n- target:\n    kind: Deployment\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\nimages:\n- name: nginx\n  newTag: \"1.28\"\n\0apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:2\n";

/// Reads `data` as YAML documents (the reader every file goes through); `Err` or `Ok`, never a
/// panic, and never more memory than the alias budget allows.
pub fn read_yaml(data: &[u8]) -> bool {
    crate::yaml::read_documents(&String::from_utf8_lossy(data)).is_ok()
}

/// The first object of the YAML `text`, if any.
fn first_object(text: &str) -> Option<Value> {
    crate::yaml::read_documents(text)
        .ok()?
        .into_iter()
        .find(Value::is_object)
}

/// Splits `data` at the first NUL into a target object and a patch, then applies the patch to
/// the target: strategic merge or JSON 6902, whichever the patch text is. Never panics.
pub fn apply_patch(data: &[u8]) -> bool {
    let (target, patch) = split(data);
    let Some(mut object) = first_object(&target) else {
        return false;
    };
    match parse_patch(&patch, Path::new("patch.yaml")) {
        Ok(PatchBody::Strategic(docs)) => {
            let nulls = ExplicitNulls::new();
            for doc in docs {
                let context = MergeContext {
                    patch_kind: doc["kind"].as_str(),
                    explicit_nulls: &nulls,
                    schema: None,
                };
                if !merge_object(&mut object, &doc, context) {
                    return true;
                }
            }
            true
        }
        Ok(PatchBody::Json6902(ops)) => crate::patch::json6902(&mut object, &ops).is_ok(),
        Err(_) => false,
    }
}

/// "Billion laughs" alias bombs of 10 levels of 10 aliases (10^10 values once expanded), in
/// about a kilobyte: `(through sequences, through `<<` merge keys)`. For the reader's tests,
/// the bench and the SOPS reader's tests.
pub fn alias_bombs() -> (String, String) {
    let mut lists = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut merges = String::from(
        "a: &a {k0: x, k1: x, k2: x, k3: x, k4: x, k5: x, k6: x, k7: x, k8: x, k9: x}\n",
    );
    let mut prev = 'a';
    for name in "bcdefghij".chars() {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        lists.push_str(&format!("{name}: &{name} [{refs}]\n"));
        let keys: Vec<String> = (0..10).map(|i| format!("{name}{i}: *{prev}")).collect();
        merges.push_str(&format!(
            "{name}: &{name} {{<<: *{prev}, {}}}\n",
            keys.join(", ")
        ));
        prev = name;
    }
    (lists, merges)
}
