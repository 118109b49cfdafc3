//! Flux's inventory format (pure): object ids `<namespace>_<name>_<group>_<kind>` with the API
//! version beside them, parsing them back, and the stale set left after a new apply.

use std::collections::BTreeSet;

use rill_common::api::kustomize_v1::{ResourceInventory, ResourceRef};

/// The identity of an applied object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// Namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// API group (`""` for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

impl ObjectId {
    /// Flux's id string. RBAC objects may have `:` in their names; it is written `__`.
    pub fn encode(&self) -> String {
        let name = if self.group == RBAC_GROUP {
            self.name.replace(':', "__")
        } else {
            self.name.clone()
        };
        format!("{}_{}_{}_{}", self.namespace, name, self.group, self.kind)
    }

    /// Parses an id string: the first `_` ends the namespace, the last two delimit the group
    /// and the kind.
    pub fn parse(id: &str) -> Option<Self> {
        let (namespace, rest) = id.split_once('_')?;
        let (rest, kind) = rest.rsplit_once('_')?;
        let (name, group) = rest.rsplit_once('_')?;
        if name.is_empty() || kind.is_empty() {
            return None;
        }
        let name = if group == RBAC_GROUP {
            name.replace("__", ":")
        } else {
            name.to_string()
        };
        Some(Self {
            namespace: namespace.to_string(),
            name,
            group: group.to_string(),
            kind: kind.to_string(),
        })
    }

    /// `Kind/namespace/name` (or `Kind/name`), as Flux writes objects in change logs.
    pub fn display(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One inventory entry: an id and the API version it was applied with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The object.
    pub id: ObjectId,
    /// The API version (`v1`, `v2`...), without the group.
    pub version: String,
}

impl Entry {
    /// The `group/version` (or `version`) to address the object with.
    pub fn api_version(&self) -> String {
        if self.id.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.id.group, self.version)
        }
    }
}

/// Writes entries in Flux's format, sorted by id as Flux does.
pub fn to_status(entries: &[Entry]) -> ResourceInventory {
    let mut refs: Vec<ResourceRef> = entries
        .iter()
        .map(|e| ResourceRef {
            id: e.id.encode(),
            v: e.version.clone(),
        })
        .collect();
    refs.sort_by(|a, b| a.id.cmp(&b.id));
    refs.dedup_by(|a, b| a.id == b.id);
    ResourceInventory { entries: refs }
}

/// Reads the entries of a status inventory, skipping ids that do not parse.
pub fn from_status(inventory: Option<&ResourceInventory>) -> Vec<Entry> {
    inventory
        .map(|i| {
            i.entries
                .iter()
                .filter_map(|r| {
                    Some(Entry {
                        id: ObjectId::parse(&r.id)?,
                        version: r.v.clone(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Entries of `old` whose object is not in `new` (versions are ignored), in reverse apply
/// order so that dependents go before what they depend on.
pub fn stale(old: &[Entry], new: &[Entry]) -> Vec<Entry> {
    let current: BTreeSet<&ObjectId> = new.iter().map(|e| &e.id).collect();
    let mut out: Vec<Entry> = old
        .iter()
        .filter(|e| !current.contains(&e.id))
        .cloned()
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ns: &str, name: &str, group: &str, kind: &str) -> ObjectId {
        ObjectId {
            namespace: ns.into(),
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn ids_encode_and_parse_as_flux_writes_them() {
        let cases = [
            (
                id("default", "podinfo", "", "Service"),
                "default_podinfo__Service",
            ),
            (
                id("default", "podinfo", "apps", "Deployment"),
                "default_podinfo_apps_Deployment",
            ),
            (id("", "my-ns", "", "Namespace"), "_my-ns__Namespace"),
            (
                id("", "system:controller:foo", RBAC_GROUP, "ClusterRole"),
                "_system__controller__foo_rbac.authorization.k8s.io_ClusterRole",
            ),
            (
                id("apps", "a_b", "example.com", "Widget"),
                "apps_a_b_example.com_Widget",
            ),
        ];
        for (object, text) in cases {
            assert_eq!(object.encode(), text);
            assert_eq!(ObjectId::parse(text), Some(object), "{text}");
        }
        for bad in ["", "nounderscore", "ns_", "ns__group_"] {
            assert_eq!(ObjectId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn stale_entries_ignore_versions_and_come_in_reverse_order() {
        let e = |name: &str, v: &str| Entry {
            id: id("default", name, "apps", "Deployment"),
            version: v.into(),
        };
        let old = vec![e("a", "v1"), e("b", "v1"), e("c", "v1")];
        let new = vec![e("a", "v2")];
        assert_eq!(stale(&old, &new), vec![e("c", "v1"), e("b", "v1")]);
        assert!(stale(&new, &old).is_empty());
    }

    #[test]
    fn status_round_trip_sorts_and_dedups() {
        let entries = vec![
            Entry {
                id: id("default", "b", "", "ConfigMap"),
                version: "v1".into(),
            },
            Entry {
                id: id("default", "a", "", "ConfigMap"),
                version: "v1".into(),
            },
        ];
        let status = to_status(&entries);
        assert_eq!(status.entries[0].id, "default_a__ConfigMap");
        let back = from_status(Some(&status));
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].api_version(), "v1");
    }
}
