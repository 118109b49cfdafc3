//! The build step: check the path inside the artifact, prepare the kustomization file, build
//! it with Rill's engine confined to the artifact, then run post-build substitution with
//! variables from the spec, ConfigMaps and Secrets.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::Api;
use kustomize::file_system::{FileSystem, Overlay};
use rill_common::api::kustomize_v1::{
    KustomizationSpec, PostBuild, SubstituteKind, SubstituteStrategy,
};
use serde_json::Value;

use super::envsubst::{substitute, valid_name};
use super::generate::prepare;
use super::objects::{SUBSTITUTE_KEY, marker};
use crate::error::Error;

/// Joins `path` to `root` without leaving it (`..` stops at the root, as Flux's secure join).
pub fn secure_join(root: &Path, path: &str) -> PathBuf {
    let mut out = root.to_path_buf();
    let mut depth = 0usize;
    for part in Path::new(path).components() {
        match part {
            Component::Normal(p) => {
                out.push(p);
                depth += 1;
            }
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            _ => {}
        }
    }
    out
}

/// Prepares and builds `spec.path` of the unpacked artifact at `root` of `files` (shared with
/// every build on the same revision, never changed: the prepared kustomization and decrypted
/// files are laid over it). With `keys` (`spec.decryption`), the files kustomize reads are
/// decrypted first and the Secrets of the result after; without, an encrypted Secret fails
/// the build.
pub fn build(
    files: Arc<dyn FileSystem>,
    root: &Path,
    spec: &KustomizationSpec,
    keys: Option<&rill_sops::Keyring>,
) -> Result<Vec<Value>, Error> {
    let path = spec.path.clone().unwrap_or_default();
    let dir = secure_join(root, &path);
    if !files.is_dir(&dir) {
        return Err(Error::Artifact {
            message: format!(
                "kustomization path not found: {path:?} is not a directory in the artifact"
            ),
            retry: None,
        });
    }
    let mut overlay = Overlay::new(files);
    prepare(&mut overlay, &dir, root, spec).map_err(|e| Error::Build(e.to_string()))?;
    if let Some(keys) = keys {
        let decrypted = super::decryption::decrypt_sources(&overlay, root, &dir, keys)?;
        overlay.extend(decrypted);
    }
    let options = kustomize::Options {
        load_restrictor: kustomize::LoadRestrictor::None,
        confine_to: Some(root.to_path_buf()),
        environment: false,
        file_system: Arc::new(overlay),
    };
    let resources = kustomize::build(&dir, &options).map_err(|e| {
        let mut text = e.to_string().replace(&format!("{}/", root.display()), "");
        // The engine quotes a nameless object whole; its data may be a decrypted Secret's.
        if let Some(at) = text.find(" in object {") {
            text.truncate(at);
            text.push_str(" in an object of the build (content not shown)");
        }
        Error::Build(format!("kustomize build failed: {text}"))
    })?;
    let mut out = Vec::with_capacity(resources.len());
    for resource in resources {
        let object = resource.object;
        let present = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
        if !(present(&object["apiVersion"])
            && present(&object["kind"])
            && present(&object["metadata"]["name"]))
        {
            // Only the identity fields are shown: the rest may be a (decrypted) Secret's data.
            let identity = serde_json::json!({
                "apiVersion": object["apiVersion"],
                "kind": object["kind"],
                "metadata": object["metadata"],
            });
            return Err(Error::Build(format!(
                "an object of the build has no apiVersion, kind or metadata.name: {}",
                serde_json::to_string(&identity).unwrap_or_default()
            )));
        }
        out.push(object);
    }
    super::decryption::decrypt_objects(&mut out, keys)?;
    Ok(out)
}

/// Reads the variables of `postBuild` (ConfigMaps and Secrets with the controller's identity,
/// then the inline ones on top); newlines are removed from every value.
pub async fn variables(
    client: &Client,
    namespace: &str,
    post: &PostBuild,
) -> Result<BTreeMap<String, String>, Error> {
    let mut vars = BTreeMap::new();
    for source in post.substitute_from.iter().flatten() {
        let optional = source.optional == Some(true);
        let data: Option<BTreeMap<String, String>> = match source.kind {
            SubstituteKind::ConfigMap => Api::<ConfigMap>::namespaced(client.clone(), namespace)
                .get_opt(&source.name)
                .await
                .map(|o| o.map(|c| c.data.unwrap_or_default())),
            SubstituteKind::Secret => Api::<Secret>::namespaced(client.clone(), namespace)
                .get_opt(&source.name)
                .await
                .map(|o| {
                    o.map(|s| {
                        s.data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                            .collect()
                    })
                }),
        }
        .map_err(|e| {
            Error::Kube(format!(
                "cannot read {:?} '{}': {e}",
                source.kind, source.name
            ))
        })?;
        match data {
            Some(data) => vars.extend(data),
            None if optional => {}
            None => {
                return Err(Error::Build(format!(
                    "substitute from '{:?}/{}' failed: not found",
                    source.kind, source.name
                )));
            }
        }
    }
    vars.extend(post.substitute.clone().unwrap_or_default());
    for (name, value) in vars.iter_mut() {
        if !valid_name(name) {
            return Err(Error::Build(format!(
                "substitute variable name {name:?} is invalid: it must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$"
            )));
        }
        value.retain(|c| c != '\n' && c != '\r');
    }
    Ok(vars)
}

/// Runs substitution on each object that does not opt out; values never reach the error text.
pub fn substitute_all(
    objects: &mut [Value],
    vars: &BTreeMap<String, String>,
    post: &PostBuild,
    strict: bool,
) -> Result<(), Error> {
    if vars.is_empty() && post.substitute_strategy != Some(SubstituteStrategy::Always) {
        return Ok(());
    }
    for object in objects.iter_mut() {
        if marker(object, SUBSTITUTE_KEY).is_some_and(|v| v.eq_ignore_ascii_case("disabled")) {
            continue;
        }
        let id = format!(
            "{}/{}",
            object["kind"].as_str().unwrap_or_default(),
            object["metadata"]["name"].as_str().unwrap_or_default()
        );
        let text = kustomize::yaml::to_yaml(object);
        let replaced = substitute(&text, vars, strict)
            .map_err(|e| Error::Build(format!("post build substitution failed for '{id}': {e}")))?;
        if replaced == text {
            continue;
        }
        let mut docs = kustomize::yaml::read_documents(&replaced).map_err(|e| {
            Error::Build(format!(
                "post build substitution made '{id}' invalid YAML: {e}"
            ))
        })?;
        if docs.len() != 1 {
            return Err(Error::Build(format!(
                "post build substitution made '{id}' more than one document"
            )));
        }
        *object = docs.remove(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secure_join_never_leaves_the_root() {
        let root = Path::new("/art");
        let cases = [
            ("", "/art"),
            ("./apps/prod", "/art/apps/prod"),
            ("../../etc", "/art/etc"),
            ("apps/../../x", "/art/x"),
            ("/abs/path", "/art/abs/path"),
        ];
        for (path, want) in cases {
            assert_eq!(secure_join(root, path), PathBuf::from(want), "{path}");
        }
    }

    #[test]
    fn substitution_skips_opted_out_objects_and_retypes_values() {
        let vars = BTreeMap::from([("replicas".to_string(), "3".to_string())]);
        let post = PostBuild::default();
        let mut objects = vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": "${replicas}"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "annotations": {SUBSTITUTE_KEY: "disabled"}}, "data": {"x": "${replicas}"}}),
        ];
        substitute_all(&mut objects, &vars, &post, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(objects[0]["spec"]["replicas"], json!(3));
        assert_eq!(objects[1]["data"]["x"], json!("${replicas}"));
        let mut unset = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "${nope}"}}),
        ];
        let err = substitute_all(&mut unset, &vars, &post, true)
            .map(|_| ())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("variable not set (strict mode): \"nope\""),
            "{err}"
        );
        let no_vars = BTreeMap::new();
        substitute_all(&mut unset, &no_vars, &post, true).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn an_unnamed_object_is_reported_without_its_data() {
        let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  labels: {a: b}\nstringData:\n  token: s3cret\n";
        let mut tree = kustomize::file_system::MemoryTree::new("/artifact");
        tree.insert_file(Path::new("secret.yaml"), secret.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let spec: KustomizationSpec = serde_json::from_value(serde_json::json!({
            "interval": "1m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "x"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let error = build(Arc::new(tree), Path::new("/artifact"), &spec, None)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(error.contains("missing metadata.name"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }
}
