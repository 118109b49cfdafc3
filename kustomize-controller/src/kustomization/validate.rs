//! Before anything is written: every object of a build is resolved to its REST resource
//! (kinds served by the cluster, or defined by a CRD of the same build) and validated with a
//! server-side dry-run; the errors of all objects are reported together.

use std::collections::BTreeSet;

use kube::api::Patch;
use serde_json::Value;

use super::apply::{Applier, Desired, api_error, params, status_of, to_value};
use super::apply_error::{ApplyError, ObjectError, is_immutable_error};
use super::cluster::{api, split_api_version};
use super::inventory::ObjectId;
use super::objects::{force_enabled, is_ignored};

impl Applier<'_> {
    pub(super) async fn resolve(&self, objects: Vec<Value>) -> Result<Vec<Desired>, ApplyError> {
        let crds: Vec<(String, String, bool)> = objects
            .iter()
            .filter(|o| o["kind"] == "CustomResourceDefinition")
            .map(|o| {
                let spec = &o["spec"];
                let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                (
                    text(&spec["group"]),
                    text(&spec["names"]["kind"]),
                    spec["scope"] == "Namespaced",
                )
            })
            .collect();
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for mut object in objects {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let (api_version, kind, name) = (
                text(&object["apiVersion"]),
                text(&object["kind"]),
                text(&object["metadata"]["name"]),
            );
            let (group, version) = split_api_version(&api_version);
            let (group, version) = (group.to_string(), version.to_string());
            let resolved = self
                .mapper
                .resolve(self.controller, &api_version, &kind)
                .await
                .map_err(|source| ObjectError::Discovery {
                    id: format!("{kind}/{name}"),
                    source,
                })?;
            let namespaced = match &resolved {
                Some(k) => k.namespaced,
                None => match crds.iter().find(|(g, k, _)| *g == group && *k == kind) {
                    Some((_, _, namespaced)) => *namespaced,
                    None => {
                        errors.push(ObjectError::NoMatch {
                            id: format!("{kind}/{name}"),
                            kind: kind.clone(),
                            api_version: api_version.clone(),
                        });
                        continue;
                    }
                },
            };
            let mut namespace = text(&object["metadata"]["namespace"]);
            if !namespaced && !namespace.is_empty() {
                if let Some(meta) = object["metadata"].as_object_mut() {
                    meta.remove("namespace");
                }
                namespace.clear();
            }
            if namespaced && namespace.is_empty() {
                errors.push(ObjectError::NoNamespace {
                    id: format!("{kind}/{name}"),
                });
                continue;
            }
            let id = ObjectId {
                namespace,
                name,
                group,
                kind,
            };
            out.push(Desired {
                object,
                id,
                version,
                kind: resolved,
                dry_run: None,
            });
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ApplyError::Refused(errors))
        }
    }

    /// Server-side dry-run of every object before anything is written. Objects whose
    /// namespace or kind arrives with this same build are validated when their stage comes.
    pub(super) async fn validate(&self, desired: &mut [Desired]) -> Result<(), ApplyError> {
        let new_namespaces: BTreeSet<String> = desired
            .iter()
            .filter(|d| d.id.kind == "Namespace" && d.id.group.is_empty())
            .map(|d| d.id.name.clone())
            .collect();
        let mut errors = Vec::new();
        for d in desired.iter_mut() {
            let Some(kind) = &d.kind else { continue };
            if is_ignored(&d.object) {
                continue;
            }
            let api = api(self.tenant, kind, &d.id.namespace);
            match api
                .patch(&d.id.name, &params(true), &Patch::Apply(&d.object))
                .await
            {
                Ok(result) => d.dry_run = Some(to_value(result)),
                Err(e) => {
                    let (code, _, message) = status_of(&e).unwrap_or_default();
                    let namespace_pending = code == 404 && new_namespaces.contains(&d.id.namespace);
                    // As Flux: a forced object is recreated when the API server refuses the
                    // change to an object that exists; a new object's refusal stays an error.
                    let recreate = is_immutable_error(code, &message)
                        && (self.force || force_enabled(&d.object))
                        && matches!(api.get_opt(&d.id.name).await, Ok(Some(_)));
                    if !(namespace_pending || recreate) {
                        errors.push(api_error(&d.id, "dry-run failed", e));
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApplyError::Refused(errors))
        }
    }
}
