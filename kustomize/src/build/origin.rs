//! `buildMetadata: [originAnnotations]`: each resource records the file it was read from, or
//! the kustomization whose generator made it, in `config.kubernetes.io/origin`, with paths
//! relative to the kustomization being built.

use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

use crate::error::Error;
use crate::kustomization::{Kustomization, find};
use crate::resource::{Origin, Resource};

const ANNOTATION: &str = "config.kubernetes.io/origin";

/// `target` relative to `base` (both absolute), with `..` where needed.
fn relative(target: &Path, base: &Path) -> String {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for part in &t[common..] {
        out.push(part.as_os_str());
    }
    out.to_string_lossy().into_owned()
}

/// Which build metadata the top kustomization asks for; unknown or unsupported options fail.
fn wants_origin(dir: &Path) -> Result<bool, Error> {
    let Some(path) = find(dir)? else {
        return Ok(false);
    };
    let k = Kustomization::load(&path)?;
    let mut origin = false;
    for option in k.strings("buildMetadata")? {
        match option.as_str() {
            "originAnnotations" => origin = true,
            other => {
                return Err(Error::Unsupported(format!(
                    "{}: buildMetadata '{other}' is not supported by Rill's kustomize engine yet",
                    path.display()
                )));
            }
        }
    }
    Ok(origin)
}

/// Adds the origin annotation when the kustomization in `dir` asks for it.
pub(super) fn annotate(dir: &Path, resources: &mut [Resource]) -> Result<(), Error> {
    if !wants_origin(dir)? {
        return Ok(());
    }
    let base = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    for resource in resources.iter_mut() {
        let text = match &resource.origin {
            Some(Origin::File(path)) => format!("path: {}\n", relative(path, &base)),
            Some(Origin::Generator {
                kustomization,
                kind,
            }) => format!(
                "configuredIn: {}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {kind}\n",
                relative(kustomization, &base)
            ),
            None => continue,
        };
        let meta = &mut resource.object["metadata"];
        if !meta["annotations"].is_object() {
            meta["annotations"] = json!({});
        }
        meta["annotations"][ANNOTATION] = Value::String(text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_with_dots() {
        assert_eq!(
            relative(Path::new("/a/base/x.yaml"), Path::new("/a/prod")),
            "../base/x.yaml"
        );
        assert_eq!(
            relative(Path::new("/a/prod/x.yaml"), Path::new("/a/prod")),
            "x.yaml"
        );
        assert_eq!(
            relative(Path::new("/a/prod/k.yaml"), Path::new("/a/prod/sub")),
            "../k.yaml"
        );
    }
}
