//! SOPS decryption (`spec.decryption`): the keys come from the Kustomization's Secret (or the
//! `--sops-age-secret` fallback); before the build, the files kustomize reads are decrypted
//! into memory, never to disk (Secret manifests, generator `envs`/`files`, patch files); after
//! it, Secret `data` values holding a SOPS file are opened. Only Secrets are decrypted, every
//! document's MAC is verified, and no message carries a value.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Client, ResourceExt};
use kustomize::file_system::FileSystem;
use rill_common::api::kustomize_v1::Kustomization;
use rill_sops::tree::Node;
use rill_sops::{Format, Keyring};
use serde_json::Value;

use super::build::secure_join;
use crate::error::Error;

/// The annotation that turns decryption off for one object, as in Flux.
pub const DECRYPT_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// The largest file decrypted (Flux's limit).
const MAX_FILE: u64 = 5 << 20;

/// Where the keys of a Kustomization without its own Secret come from.
#[derive(Clone, Debug, Default)]
pub struct GlobalKeys {
    /// `--sops-age-secret` in the controller's namespace: (namespace, name).
    pub age_secret: Option<(String, String)>,
}

fn disabled(object: &Value) -> bool {
    object["metadata"]["annotations"][DECRYPT_ANNOTATION]
        .as_str()
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

/// The keys of `ks`: `None` without `spec.decryption`. The Kustomization's own Secret is read
/// with `client` (the tenant's identity when impersonating); the global age Secret with the
/// controller's.
pub async fn keyring(
    ks: &Kustomization,
    client: &Client,
    controller: &Client,
    global: &GlobalKeys,
) -> Result<Option<Keyring>, Error> {
    let Some(decryption) = &ks.spec.decryption else {
        return Ok(None);
    };
    let namespace = ks.namespace().unwrap_or_default();
    let mut ring = Keyring::default();
    let (client, namespace, name, age_only) = match (&decryption.secret_ref, &global.age_secret) {
        (Some(secret), _) => (client, namespace, secret.name.clone(), false),
        (None, Some((ns, name))) => (controller, ns.clone(), name.clone(), true),
        (None, None) => return Ok(Some(ring)),
    };
    let secret = Api::<Secret>::namespaced(client.clone(), &namespace)
        .get_opt(&name)
        .await
        .map_err(|e| {
            Error::Kube(format!(
                "cannot get decryption Secret '{namespace}/{name}': {e}"
            ))
        })?
        .ok_or_else(|| Error::Build(format!("decryption Secret '{namespace}/{name}' not found")))?;
    for (entry, data) in secret.data.unwrap_or_default() {
        if age_only && !entry.ends_with(".agekey") {
            continue;
        }
        ring.import(&entry, &data.0).map_err(|e| {
            Error::Build(format!(
                "failed to import keys from decryption Secret '{namespace}/{name}': {e}"
            ))
        })?;
    }
    Ok(Some(ring))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

struct Sources<'a> {
    fs: &'a dyn FileSystem,
    root: &'a Path,
    visited_dirs: HashSet<PathBuf>,
    queued: HashSet<PathBuf>,
    jobs: Vec<Job>,
}

/// One file kustomize will read, and how.
struct Job {
    file: PathBuf,
    format: Format,
    /// A manifest: only Secrets may carry a `sops` block.
    secrets_only: bool,
}

impl Job {
    /// The decrypted content of the file (keyed by its canonical path, as the engine looks it
    /// up) when it carries the SOPS marker of its format.
    fn run(
        &self,
        fs: &dyn FileSystem,
        root: &Path,
        keys: &Keyring,
    ) -> Result<Option<(PathBuf, Vec<u8>)>, Error> {
        let fail = |m: String| {
            Error::Build(format!(
                "decryption failed for '{}': {m}",
                relative(root, &self.file)
            ))
        };
        if !fs.is_file(&self.file) {
            return Ok(None); // missing or not a file: the build says so
        }
        let data = fs.read(&self.file).map_err(|e| fail(e.to_string()))?;
        if data.len() as u64 > MAX_FILE {
            return Err(fail(format!(
                "cannot decrypt a file larger than {MAX_FILE} bytes"
            )));
        }
        if !self.format.marked(&data) {
            return Ok(None);
        }
        let out = if self.secrets_only {
            decrypt_manifests(&data, keys).map_err(fail)?
        } else {
            rill_sops::decrypt(&data, self.format, self.format, keys)
                .map_err(|e| fail(e.to_string()))?
        };
        let canonical = fs
            .canonicalize(&self.file)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Some((canonical, out)))
    }
}

impl Sources<'_> {
    /// Queues `file` for decryption (the first format it is read in wins).
    fn file(&mut self, file: &Path, format: Format, secrets_only: bool) {
        if self.queued.insert(file.to_path_buf()) {
            self.jobs.push(Job {
                file: file.to_path_buf(),
                format,
                secrets_only,
            });
        }
    }

    /// Visits the kustomization in `dir` and everything it refers to.
    fn dir(&mut self, dir: &Path) {
        if !self.visited_dirs.insert(dir.to_path_buf()) || !self.fs.is_dir(dir) {
            return;
        }
        let Ok(Some(path)) = kustomize::kustomization::find(self.fs, dir) else {
            return;
        };
        let Ok(k) = kustomize::kustomization::Kustomization::load(self.fs, &path) else {
            return; // the build reports the broken file
        };
        let local = |s: &str| !s.contains("://") && !s.starts_with("git@");
        let join = |s: &str| secure_join(self.root, &relative(self.root, &dir.join(s)));
        for generator in k.list("secretGenerator").unwrap_or_default() {
            for source in strings(&generator["files"]) {
                let (key, path) = source.split_once('=').unwrap_or((&source, &source));
                self.file(&join(path), Format::for_path(key), false);
            }
            for env in strings(&generator["envs"])
                .into_iter()
                .chain(strings(&generator["env"]))
            {
                let format = match Format::for_path(&env) {
                    Format::Binary => Format::Dotenv,
                    f => f,
                };
                self.file(&join(&env), format, false);
            }
        }
        let patches = k.list("patches").unwrap_or_default();
        let patch_paths = patches
            .iter()
            .filter_map(|p| p["path"].as_str().map(str::to_string))
            .chain(k.strings("patchesStrategicMerge").unwrap_or_default());
        for path in patch_paths.filter(|p| local(p) && !p.contains('\n')) {
            self.file(&join(&path), Format::for_path(&path), false);
        }
        let refs = k.strings("resources").unwrap_or_default();
        for entry in refs
            .into_iter()
            .chain(k.strings("components").unwrap_or_default())
        {
            if !local(&entry) {
                continue;
            }
            let target = join(&entry);
            if self.fs.is_dir(&target) {
                self.dir(&target);
            } else {
                let format = match Format::for_path(&entry) {
                    Format::Json => Format::Json,
                    _ => Format::Yaml,
                };
                self.file(&target, format, true);
            }
        }
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn node_disabled(doc: &Node) -> bool {
    doc.get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.str_at(DECRYPT_ANNOTATION))
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

/// Decrypts the SOPS-encrypted Secrets of a manifest file: the whole file when every document
/// carries the `sops` block (as `sops` writes a multi-document file), else document by document.
/// A document of another kind with a `sops` block is refused.
fn decrypt_manifests(data: &[u8], keys: &Keyring) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(data).map_err(|_| "the file is not UTF-8 text".to_string())?;
    let documents = rill_sops::tree::read_documents(text).map_err(|e| e.to_string())?;
    let mut encrypted = 0;
    for doc in &documents {
        if doc.get("sops").is_none() {
            continue;
        }
        encrypted += 1;
        let kind = doc.str_at("kind").unwrap_or_default();
        let api_version = doc.str_at("apiVersion").unwrap_or_default();
        if kind != "Secret" || api_version != "v1" {
            let name = doc
                .get("metadata")
                .and_then(|m| m.str_at("name"))
                .unwrap_or_default();
            return Err(format!(
                "{kind} '{name}' carries SOPS metadata; only v1 Secrets are decrypted"
            ));
        }
    }
    if documents.iter().all(node_disabled) {
        return Ok(data.to_vec());
    }
    let opened = if encrypted == documents.len() {
        rill_sops::open_documents(documents, keys).map_err(|e| e.to_string())?
    } else {
        let mut out = Vec::with_capacity(documents.len());
        for doc in documents {
            if doc.get("sops").is_some() && !node_disabled(&doc) {
                let mut one =
                    rill_sops::open_documents(vec![doc], keys).map_err(|e| e.to_string())?;
                out.append(&mut one);
            } else {
                out.push(doc);
            }
        }
        out
    };
    let mut text = String::new();
    for doc in opened {
        doc.write_json(&mut text);
        text.push_str("\n---\n");
    }
    Ok(text.into_bytes())
}

/// Decrypts the files of the artifact at `root` that the kustomization in `dir` reads, into
/// memory, keyed by canonical path (laid over the artifact for the engine; the plaintext is
/// never written). The files are opened on every core (key unwrapping dominates); the first
/// failure in reading order is reported.
pub fn decrypt_sources(
    fs: &dyn FileSystem,
    root: &Path,
    dir: &Path,
    keys: &Keyring,
) -> Result<HashMap<PathBuf, Vec<u8>>, Error> {
    let mut sources = Sources {
        fs,
        root,
        visited_dirs: HashSet::new(),
        queued: HashSet::new(),
        jobs: Vec::new(),
    };
    sources.dir(dir);
    let jobs = sources.jobs;
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 8)
        .min(jobs.len().max(1));
    let chunk = jobs.len().div_ceil(workers).max(1);
    type Opened = Vec<(PathBuf, Vec<u8>)>;
    let results: Vec<Result<Opened, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|job| job.run(fs, root, keys).transpose())
                        .collect::<Result<Opened, Error>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Build("a decryption worker failed".into())))
            })
            .collect()
    });
    let mut contents = HashMap::new();
    for part in results {
        contents.extend(part?);
    }
    Ok(contents)
}

/// After the build: opens Secret `data` values that hold a SOPS file (by their marker, in the
/// format of the key's name) and refuses any object still carrying a `sops` block.
pub fn decrypt_objects(objects: &mut [Value], keys: Option<&Keyring>) -> Result<(), Error> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    for object in objects.iter_mut() {
        if disabled(object) {
            continue;
        }
        let id = format!(
            "{}/{}",
            object["kind"].as_str().unwrap_or_default(),
            object["metadata"]["name"].as_str().unwrap_or_default()
        );
        if object.get("sops").is_some_and(|s| s.get("mac").is_some()) {
            return Err(Error::Build(match keys {
                None => format!(
                    "{id} is SOPS encrypted, configuring decryption is required for this secret to be reconciled"
                ),
                Some(_) => format!(
                    "{id} is SOPS encrypted and was not read from a file of the artifact, so it cannot be verified and decrypted"
                ),
            }));
        }
        let (Some(keys), true) = (keys, object["kind"] == "Secret") else {
            continue;
        };
        let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) else {
            continue;
        };
        for (key, value) in data.iter_mut() {
            let Some(bytes) = value.as_str().and_then(|v| STANDARD.decode(v).ok()) else {
                continue;
            };
            let Some(input) = Format::detect(&bytes) else {
                continue;
            };
            let out =
                rill_sops::decrypt(&bytes, input, Format::for_path(key), keys).map_err(|e| {
                    Error::Build(format!("decryption failed for {id} field '{key}': {e}"))
                })?;
            *value = Value::String(STANDARD.encode(out));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vector(path: &str) -> Option<String> {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/sops-testdata/controller");
        std::fs::read_to_string(dir.join(path)).ok()
    }

    #[test]
    fn objects_left_encrypted_are_refused_unless_disabled() {
        let sealed = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "sops": {"mac": "ENC[x]"}});
        let mut disabled = sealed.clone();
        disabled["metadata"]["annotations"] = json!({DECRYPT_ANNOTATION: "Disabled"});
        let cases = [
            (
                sealed.clone(),
                false,
                Some("configuring decryption is required"),
            ),
            (
                sealed,
                true,
                Some("was not read from a file of the artifact"),
            ),
            (disabled, false, None),
            (
                json!({"kind": "Secret", "metadata": {"name": "p"}, "data": {"a": "eA=="}}),
                true,
                None,
            ),
        ];
        for (object, with_keys, want) in cases {
            let ring = Keyring::default();
            let result = decrypt_objects(&mut [object], with_keys.then_some(&ring));
            match want {
                None => assert!(result.is_ok(), "{result:?}"),
                Some(text) => assert!(
                    result.as_ref().is_err_and(|e| e.to_string().contains(text)),
                    "{result:?}"
                ),
            }
        }
    }

    #[test]
    fn a_manifest_file_mixing_clear_and_encrypted_documents_opens_per_document() {
        let (Some(secret), Some(key)) = (vector("algorithms/age.yaml"), vector("keys/age.txt"))
        else {
            return;
        };
        let mut ring = Keyring::default();
        ring.import("age.agekey", key.as_bytes()).unwrap();
        let file = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n{secret}");
        let out = String::from_utf8(decrypt_manifests(file.as_bytes(), &ring).unwrap()).unwrap();
        let docs = kustomize::yaml::read_documents(&out).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["metadata"]["name"], "c");
        assert_eq!(docs[1]["stringData"]["key"], "value");
        assert!(docs[1].get("sops").is_none());
        let configmap = secret.replace("kind: Secret", "kind: ConfigMap");
        let error = decrypt_manifests(configmap.as_bytes(), &ring).unwrap_err();
        assert!(error.contains("only v1 Secrets"), "{error}");
    }
}
