//! The deployment controller's bookkeeping, simulated: each Deployment owns one ReplicaSet per
//! pod template it has had (`<name>-<pod-template-hash>`, the template's labels plus
//! `pod-template-hash`, a controller owner reference), numbered by
//! `deployment.kubernetes.io/revision`; the current template's ReplicaSet holds the replicas
//! and the others are scaled to zero; going back to an older template renumbers its ReplicaSet
//! as the newest revision. So `kubectl rollout history` and `kubectl rollout undo` work.
//! Scaling emits the `ScalingReplicaSet` Event the real controller emits.

use serde_json::{Value, json};

use crate::server::ApiServer;
use crate::server::meta::{is_deleting, new_uid, now};
use crate::store::ObjectKey;

const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

/// `rand.SafeEncodeString` of the FNV-1a hash of the template (the real controller hashes its
/// Go struct, so the values differ from a real cluster's; the form is the same).
pub fn template_hash(template: &Value) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut template = template.clone();
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    let text = without_empty(template).unwrap_or(Value::Null).to_string();
    let hash = text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// The value with Go's zero values left out (null, false, 0, "", empty objects and lists), as
/// the real controller's hash of the typed struct sees it: `creationTimestamp: null`,
/// `resources: {}` or `stdin: false` make no different template.
fn without_empty(value: Value) -> Option<Value> {
    match value {
        Value::Null | Value::Bool(false) => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(map) => {
            let kept: serde_json::Map<String, Value> = map
                .into_iter()
                .filter_map(|(k, v)| without_empty(v).map(|v| (k, v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .into_iter()
                .map(|v| without_empty(v).unwrap_or(json!({})))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other),
    }
}

fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Whether `object`'s controller owner reference names `uid`.
fn owned_by(rs: &Value, uid: &Value) -> bool {
    rs["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|o| o["controller"] == true && &o["uid"] == uid)
}

/// One pass over every Deployment.
pub fn reconcile(api: &ApiServer) {
    let (deployments, _) = api.store.list("apps", "deployments", None);
    for deployment in deployments.iter().filter(|d| !is_deleting(d)) {
        let namespace = deployment["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default();
        let (sets, _) = api.store.list("apps", "replicasets", Some(namespace));
        let uid = &deployment["metadata"]["uid"];
        let owned: Vec<&Value> = sets
            .iter()
            .map(|s| &**s)
            .filter(|s| owned_by(s, uid))
            .collect();
        let changes = plan(deployment, &owned);
        let changed = !changes.is_empty();
        for change in changes {
            apply(api, namespace, deployment, change);
        }
        if changed || deployment["metadata"]["annotations"][REVISION].is_null() {
            annotate_revision(api, namespace, deployment);
        }
    }
}

/// The Deployment carries the revision of its current ReplicaSet, as the real controller
/// writes it (`kubectl rollout undo` patches that annotation).
fn annotate_revision(api: &ApiServer, namespace: &str, deployment: &Value) {
    let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
    let hash = template_hash(&deployment["spec"]["template"]);
    let (sets, _) = api.store.list("apps", "replicasets", Some(namespace));
    let Some(current) = sets.iter().find(|s| {
        owned_by(s, &deployment["metadata"]["uid"])
            && s["metadata"]["labels"][HASH_LABEL] == hash.as_str()
    }) else {
        return;
    };
    let wanted = revision(current).to_string();
    let key = ObjectKey::new("apps", "deployments", namespace, name);
    api.store.write(|tx| {
        let Some(stored) = tx.get(&key) else { return };
        if stored["metadata"]["annotations"][REVISION] == wanted.as_str()
            || stored["metadata"]["uid"] != deployment["metadata"]["uid"]
        {
            return;
        }
        let mut updated = (*stored).clone();
        if !updated["metadata"]["annotations"].is_object() {
            updated["metadata"]["annotations"] = json!({});
        }
        updated["metadata"]["annotations"][REVISION] = json!(wanted);
        tx.put(key.clone(), updated);
    });
}

/// What to write for one Deployment.
#[derive(Debug, PartialEq)]
enum Change {
    /// A new ReplicaSet for the current template.
    Create(Value),
    /// A ReplicaSet's new replica count and revision.
    Update {
        name: String,
        replicas: i64,
        revision: i64,
    },
}

fn plan(deployment: &Value, owned: &[&Value]) -> Vec<Change> {
    let template = &deployment["spec"]["template"];
    let hash = template_hash(template);
    let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
    let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let newest = owned.iter().map(|s| revision(s)).max().unwrap_or(0);
    let current = owned
        .iter()
        .find(|s| s["metadata"]["labels"][HASH_LABEL] == hash.as_str());
    let mut changes = Vec::new();
    match current {
        None => {
            let mut labels = template["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            labels[HASH_LABEL] = json!(hash);
            let mut selector = deployment["spec"]["selector"].clone();
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let mut pod_template = template.clone();
            pod_template["metadata"]["labels"] = labels.clone();
            changes.push(Change::Create(json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": format!("{name}-{hash}"), "labels": labels,
                    "annotations": {REVISION: (newest + 1).to_string(),
                        "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                        "deployment.kubernetes.io/max-replicas": replicas.to_string()},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                        "uid": deployment["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]},
                "spec": {"replicas": replicas, "selector": selector, "template": pod_template},
            })));
        }
        Some(rs) => {
            let revision_now = revision(rs);
            let wanted_revision = if revision_now == newest {
                revision_now
            } else {
                newest + 1
            };
            if rs["spec"]["replicas"].as_i64() != Some(replicas) || wanted_revision != revision_now
            {
                changes.push(Change::Update {
                    name: rs["metadata"]["name"].as_str().unwrap_or_default().into(),
                    replicas,
                    revision: wanted_revision,
                });
            }
        }
    }
    for old in owned
        .iter()
        .filter(|s| s["metadata"]["labels"][HASH_LABEL] != hash.as_str())
        .filter(|s| s["spec"]["replicas"].as_i64().unwrap_or(1) != 0)
    {
        changes.push(Change::Update {
            name: old["metadata"]["name"].as_str().unwrap_or_default().into(),
            replicas: 0,
            revision: revision(old),
        });
    }
    changes
}

fn apply(api: &ApiServer, namespace: &str, deployment: &Value, change: Change) {
    let (name, from, to) = match change {
        Change::Create(mut rs) => {
            let name = rs["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let key = ObjectKey::new("apps", "replicasets", namespace, &name);
            let to = rs["spec"]["replicas"].as_i64().unwrap_or(1);
            rs["metadata"]["namespace"] = json!(namespace);
            rs["metadata"]["uid"] = json!(new_uid());
            rs["metadata"]["creationTimestamp"] = json!(now());
            rs["metadata"]["generation"] = json!(1);
            let created = api.store.write(|tx| {
                if tx.get(&key).is_some() {
                    return false;
                }
                tx.put(key.clone(), rs);
                true
            });
            if !created {
                return;
            }
            (name, 0, to)
        }
        Change::Update {
            name,
            replicas,
            revision,
        } => {
            let key = ObjectKey::new("apps", "replicasets", namespace, &name);
            let from = api.store.write(|tx| {
                let current = tx.get(&key)?;
                let from = current["spec"]["replicas"].as_i64().unwrap_or(1);
                let mut updated = (*current).clone();
                updated["spec"]["replicas"] = json!(replicas);
                updated["metadata"]["annotations"][REVISION] = json!(revision.to_string());
                let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
                updated["metadata"]["generation"] = json!(generation + 1);
                tx.put(key.clone(), updated);
                Some(from)
            });
            match from {
                Some(from) if from != replicas => (name, from, replicas),
                _ => return,
            }
        }
    };
    let direction = if to > from { "up" } else { "down" };
    let message = format!("Scaled {direction} replica set {name} from {from} to {to}");
    super::events::record(
        api,
        deployment,
        "Deployment",
        "deployment-controller",
        "ScalingReplicaSet",
        &message,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(image: &str, replicas: i64) -> Value {
        json!({"metadata": {"name": "web", "namespace": "a", "uid": "u1"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    fn rs(deployment: &Value, revision: i64, replicas: i64) -> Value {
        let hash = template_hash(&deployment["spec"]["template"]);
        json!({"metadata": {"name": format!("web-{hash}"), "labels": {"app": "web", HASH_LABEL: hash},
                "annotations": {REVISION: revision.to_string()},
                "ownerReferences": [{"uid": "u1", "controller": true}]},
            "spec": {"replicas": replicas}})
    }

    #[test]
    fn one_replica_set_per_template_numbered_by_revision() {
        let v1 = deployment("nginx:1", 3);
        let v2 = deployment("nginx:2", 3);
        // A new Deployment gets revision 1 with every replica.
        let changes = plan(&v1, &[]);
        let Change::Create(created) = &changes[0] else {
            panic!("{changes:?}")
        };
        assert_eq!(created["metadata"]["annotations"][REVISION], "1");
        assert_eq!(created["spec"]["replicas"], 3);
        assert_eq!(
            created["spec"]["selector"]["matchLabels"][HASH_LABEL],
            created["metadata"]["labels"][HASH_LABEL]
        );
        // Steady: nothing to do.
        let first = rs(&v1, 1, 3);
        assert!(plan(&v1, &[&first]).is_empty());
        // A new template: revision 2, and the old set goes to zero.
        let changes = plan(&v2, &[&first]);
        assert!(
            matches!(&changes[0], Change::Create(c) if c["metadata"]["annotations"][REVISION] == "2")
        );
        assert!(matches!(
            &changes[1],
            Change::Update {
                replicas: 0,
                revision: 1,
                ..
            }
        ));
        // Back to the first template (rollout undo): its set becomes revision 3 and scales up.
        let second = rs(&v2, 2, 3);
        let first_idle = rs(&v1, 1, 0);
        let changes = plan(&v1, &[&first_idle, &second]);
        assert!(
            matches!(
                &changes[0],
                Change::Update {
                    replicas: 3,
                    revision: 3,
                    ..
                }
            ),
            "{changes:?}"
        );
        assert!(
            matches!(
                &changes[1],
                Change::Update {
                    replicas: 0,
                    revision: 2,
                    ..
                }
            ),
            "{changes:?}"
        );
    }

    #[test]
    fn hashes_are_stable_and_use_the_safe_alphabet() {
        let t = deployment("nginx:1", 1)["spec"]["template"].clone();
        assert_eq!(template_hash(&t), template_hash(&t.clone()));
        assert_ne!(
            template_hash(&t),
            template_hash(&deployment("nginx:2", 1)["spec"]["template"])
        );
        assert!(
            template_hash(&t)
                .bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
        );
    }
}
