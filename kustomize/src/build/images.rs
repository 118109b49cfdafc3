//! The `images` and `replicas` steps of a build: new names, tags and digests for container
//! images, and replica counts for scalable workloads.

use regex::Regex;
use serde_json::Value;

use crate::error::Error;
use crate::fieldspec::{BuiltinSpec, FieldSpec, REPLICAS, builtin, visit};

/// kustomize's default `images` field specs (builtinpluginconsts).
const IMAGES: &[BuiltinSpec] = &[
    BuiltinSpec {
        group: None,
        version: None,
        kind: None,
        path: "spec/containers[]/image",
        create: false,
    },
    BuiltinSpec {
        group: None,
        version: None,
        kind: None,
        path: "spec/initContainers[]/image",
        create: false,
    },
    BuiltinSpec {
        group: None,
        version: None,
        kind: None,
        path: "spec/template/spec/containers[]/image",
        create: false,
    },
    BuiltinSpec {
        group: None,
        version: None,
        kind: None,
        path: "spec/template/spec/initContainers[]/image",
        create: false,
    },
];
use crate::kustomization::Kustomization;
use crate::resource::Resource;

/// One `images` entry.
#[derive(Clone, Debug)]
pub struct ImageOverride {
    /// kustomize's matcher: the name (read as a regular expression, as kustomize does),
    /// then an optional `@sha256` and an optional `:tag`.
    pattern: Regex,
    /// Replacement name, if any.
    pub new_name: String,
    /// Replacement tag, if any.
    pub new_tag: String,
    /// Replacement digest, if any.
    pub digest: String,
    /// Appended to the (new or kept) tag.
    pub tag_suffix: String,
}

fn text(entry: &Value, field: &str) -> String {
    match entry.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(value @ (Value::Number(_) | Value::Bool(_))) => value.to_string(),
        _ => String::new(),
    }
}

/// Splits an image reference into name, tag and digest, looking for `:` only after the
/// first `/` so a registry port is not taken for a tag.
pub fn split_image(image: &str) -> (&str, &str, &str) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image, "", ""),
        (c, Some(at)) if c.is_none_or(|c| at < c) => (&image[..at], "", &image[at + 1..]),
        (Some(c), Some(at)) => (&image[..c], &image[c + 1..at], &image[at + 1..]),
        (Some(c), None) => (&image[..c], &image[c + 1..], ""),
        (None, Some(_)) => unreachable!("handled by the digest-only arm"),
    }
}

impl ImageOverride {
    /// An override for images named `name`; fails when the name is not a valid pattern.
    pub fn new(name: &str, new_name: &str, new_tag: &str, digest: &str) -> Result<Self, String> {
        let pattern = Regex::new(&format!("^{name}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?$"))
            .map_err(|e| format!("images: invalid image name {name:?}: {e}"))?;
        Ok(Self {
            pattern,
            new_name: new_name.to_string(),
            new_tag: new_tag.to_string(),
            digest: digest.to_string(),
            tag_suffix: String::new(),
        })
    }

    /// The rewritten image, or `None` when this entry does not match it.
    pub fn rewrite(&self, image: &str) -> Option<String> {
        if !self.pattern.is_match(image) {
            return None;
        }
        let (name, tag, digest) = split_image(image);
        let name = if self.new_name.is_empty() {
            name
        } else {
            &self.new_name
        };
        let (tag, digest) = match (self.new_tag.is_empty(), self.digest.is_empty()) {
            (false, false) => (self.new_tag.as_str(), self.digest.as_str()),
            (false, true) => (self.new_tag.as_str(), ""),
            (true, false) => ("", self.digest.as_str()),
            (true, true) => (tag, digest),
        };
        let tag = format!("{tag}{}", self.tag_suffix);
        let mut out = name.to_string();
        if !tag.is_empty() {
            out.push(':');
            out.push_str(&tag);
        }
        if !digest.is_empty() {
            out.push('@');
            out.push_str(digest);
        }
        Some(out)
    }
}

/// Rewrites `image` fields of every `containers` and `initContainers` list in the tree.
fn rewrite_containers(node: &mut Value, image: &ImageOverride) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "containers" || key == "initContainers" {
                    if let Value::Array(containers) = value {
                        for container in containers {
                            if let Some(Value::String(current)) = container.get_mut("image")
                                && let Some(new) = image.rewrite(current)
                            {
                                *current = new;
                            }
                        }
                    }
                } else {
                    rewrite_containers(value, image);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_containers(v, image)),
        _ => {}
    }
}

/// Applies the `replicas` entries at the built-in places and those `configurations` add.
pub(super) fn apply_replicas(
    k: &Kustomization,
    resources: &mut [Resource],
    extra: &[FieldSpec],
) -> Result<(), Error> {
    let mut specs = builtin(REPLICAS);
    specs.extend(
        extra
            .iter()
            .filter(|s| !specs.contains(s))
            .cloned()
            .collect::<Vec<_>>(),
    );
    for entry in k.list("replicas")? {
        set_replicas(k, resources, &entry, &specs)?;
    }
    Ok(())
}

/// Sets the replica count of one `{name, count}` entry where the specs say.
pub(super) fn set_replicas(
    k: &Kustomization,
    resources: &mut [Resource],
    entry: &Value,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    let name = text(entry, "name");
    let count = entry.get("count").cloned().unwrap_or(Value::Null);
    if !count.is_i64() {
        return Err(Error::Kustomization {
            path: k.path.clone(),
            message: format!("replicas: count of {name:?} must be an integer, got {count}"),
        });
    }
    let mut found = false;
    for resource in resources.iter_mut() {
        if resource.all_names().any(|n| n == name) {
            found |= specs.iter().any(|s| s.applies_to(resource));
            visit(resource, specs, &mut |parent, field, _| {
                parent.insert(field.to_string(), count.clone());
            });
        }
    }
    if !found {
        let kinds: Vec<&str> = specs.iter().filter_map(|s| s.kind.as_deref()).collect();
        return Err(Error::Resource(format!(
            "resource with name {name} does not match a config with the following kinds {kinds:?}"
        )));
    }
    Ok(())
}

/// Applies the `images` entries to every container and to the image fields `configurations`
/// add.
pub(super) fn apply_images(
    k: &Kustomization,
    resources: &mut [Resource],
    extra: &[FieldSpec],
) -> Result<(), Error> {
    for entry in k.list("images")? {
        set_image(k, resources, &entry, extra)?;
    }
    Ok(())
}

/// Applies one `{name, newName, newTag, digest}` entry to every container, and to the
/// extra image fields the specs name.
pub(super) fn set_image(
    k: &Kustomization,
    resources: &mut [Resource],
    entry: &Value,
    specs: &[FieldSpec],
) -> Result<(), Error> {
    let mut image = ImageOverride::new(
        &text(entry, "name"),
        &text(entry, "newName"),
        &text(entry, "newTag"),
        &text(entry, "digest"),
    )
    .map_err(|message| Error::Kustomization {
        path: k.path.clone(),
        message,
    })?;
    image.tag_suffix = text(entry, "tagSuffix");
    // kustomize runs its legacy pass over every container list, then its field specs (the
    // pod template ones by default): an image both reach is rewritten twice, which shows
    // with `tagSuffix`.
    let mut all_specs = builtin(IMAGES);
    all_specs.extend(specs.iter().cloned());
    for resource in resources.iter_mut() {
        rewrite_containers(&mut resource.object, &image);
        visit(resource, &all_specs, &mut |parent, field, _| {
            if let Some(Value::String(current)) = parent.get_mut(field)
                && let Some(new) = image.rewrite(current)
            {
                *current = new;
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_images_like_kustomize() {
        for (image, want) in [
            ("nginx", ("nginx", "", "")),
            ("nginx:1.2", ("nginx", "1.2", "")),
            ("reg:5000/app", ("reg:5000/app", "", "")),
            ("reg:5000/app:v1", ("reg:5000/app", "v1", "")),
            ("app@sha256:ab", ("app", "", "sha256:ab")),
            ("app:v1@sha256:ab", ("app", "v1", "sha256:ab")),
        ] {
            assert_eq!(split_image(image), want, "{image}");
        }
    }

    #[test]
    fn rewrites_matching_images_only() {
        let o = |new_name: &str, new_tag: &str, digest: &str| {
            ImageOverride::new("nginx", new_name, new_tag, digest).expect("valid pattern")
        };
        for (rule, image, want) in [
            (o("", "1.25", ""), "nginx:1.0", Some("nginx:1.25")),
            (o("my/nginx", "", ""), "nginx:1.0", Some("my/nginx:1.0")),
            (o("", "", "sha256:ff"), "nginx:1.0", Some("nginx@sha256:ff")),
            (o("", "2", "sha256:ff"), "nginx", Some("nginx:2@sha256:ff")),
            (o("", "1.25", ""), "nginx-extra:1.0", None),
            (o("", "1.25", ""), "other/nginx", None),
            (o("", "1.25", ""), "nginx@sha256:aa", Some("nginx:1.25")),
        ] {
            assert_eq!(rule.rewrite(image).as_deref(), want, "{rule:?} on {image}");
        }
        assert!(ImageOverride::new("[", "", "v2", "").is_err());
        let mut suffixed = o("", "", "");
        suffixed.tag_suffix = "-rc".into();
        assert_eq!(
            suffixed.rewrite("nginx:1.0").as_deref(),
            Some("nginx:1.0-rc")
        );
        suffixed.new_tag = "2".into();
        assert_eq!(suffixed.rewrite("nginx:1.0").as_deref(), Some("nginx:2-rc"));
    }
}
