//! Upstream's printers for RoleBindings, ClusterRoleBindings (role, and in wide output the
//! users, groups and service accounts bound) and Leases (holder).

use serde_json::{Value, json};

use super::{Printer, column, since};

/// `rbac.SubjectsStrings`: users, groups and `namespace/name` service accounts, each joined by
/// `, `.
fn subjects(o: &Value) -> [Value; 3] {
    let mut out: [Vec<String>; 3] = Default::default();
    for s in o["subjects"].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or_default();
        match s["kind"].as_str() {
            Some("User") => out[0].push(name.into()),
            Some("Group") => out[1].push(name.into()),
            Some("ServiceAccount") => out[2].push(format!(
                "{}/{name}",
                s["namespace"].as_str().unwrap_or_default()
            )),
            _ => {}
        }
    }
    out.map(|list| json!(list.join(", ")))
}

fn binding_cells(o: &Value) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        o["roleRef"]["kind"].as_str().unwrap_or_default(),
        o["roleRef"]["name"].as_str().unwrap_or_default()
    );
    let [users, groups, accounts] = subjects(o);
    vec![
        o["metadata"]["name"].clone(),
        json!(role),
        since(&o["metadata"]["creationTimestamp"]),
        users,
        groups,
        accounts,
    ]
}

/// The printer of a binding or a Lease.
pub(super) fn builtin(group: &str, plural: &str) -> Option<Printer> {
    let binding = || Printer {
        columns: vec![
            column("Name", "string", 0),
            column("Role", "string", 0),
            column("Age", "string", 0),
            column("Users", "string", 1),
            column("Groups", "string", 1),
            column("ServiceAccounts", "string", 1),
        ],
        cells: binding_cells,
    };
    match (group, plural) {
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => Some(binding()),
        ("coordination.k8s.io", "leases") => Some(Printer {
            columns: vec![
                column("Name", "string", 0),
                column("Holder", "string", 0),
                column("Age", "string", 0),
            ],
            cells: |o| {
                vec![
                    o["metadata"]["name"].clone(),
                    json!(o["spec"]["holderIdentity"].as_str().unwrap_or_default()),
                    since(&o["metadata"]["creationTimestamp"]),
                ]
            },
        }),
        _ => None,
    }
}
