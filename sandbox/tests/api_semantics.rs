//! API semantics seen by a kube-rs client: watches (history, 410, bookmarks, selectors),
//! pagination, metadata-only lists, CRD validation errors, RBAC with impersonated service
//! accounts, dry-run, and restart with a data dir.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::{Client, ResourceExt};
use sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

async fn start() -> (Sandbox, Client) {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let client = sandbox.client().await.unwrap();
    (sandbox, client)
}

fn configmap(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": name}})).unwrap()
}

/// Creates namespace `name` and waits for its `kube-root-ca.crt`, which the sandbox (as a
/// real cluster's controller) adds right after, so tests start from a settled namespace.
async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), name);
    for _ in 0..100 {
        if cms.get_opt("kube-root-ca.crt").await.unwrap().is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("namespace {name} got no kube-root-ca.crt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_replay_history_and_report_expired_versions_in_stream() {
    let (sandbox, client) = start().await;
    namespace(&client, "w").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "w");
    let list = cms.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.clone().unwrap();
    cms.create(
        &PostParams::default(),
        &configmap("one", json!({"app": "a"})),
    )
    .await
    .unwrap();
    cms.create(
        &PostParams::default(),
        &configmap("two", json!({"app": "b"})),
    )
    .await
    .unwrap();

    let params = WatchParams::default().timeout(2).labels("app=a");
    let events: Vec<WatchEvent<ConfigMap>> = cms
        .watch(&params, &rv)
        .await
        .unwrap()
        .take(1)
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&events[0], WatchEvent::Added(cm) if cm.name_any() == "one"),
        "{events:?}"
    );

    sandbox.compact_history();
    let expired: Vec<WatchEvent<ConfigMap>> = cms
        .watch(&WatchParams::default().timeout(2), &rv)
        .await
        .unwrap()
        .take(1)
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&expired[0], WatchEvent::Error(e) if e.code == 410),
        "{expired:?}"
    );

    let bookmarks = WatchParams::default().timeout(3);
    let current = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let first = cms
        .watch(&bookmarks, &current)
        .await
        .unwrap()
        .take(1)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert!(
        matches!(&first[0], WatchEvent::Bookmark(b) if !b.metadata.resource_version.is_empty()),
        "{first:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_transitions_look_like_adds_and_deletes() {
    let (_sandbox, client) = start().await;
    namespace(&client, "s").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "s");
    cms.create(
        &PostParams::default(),
        &configmap("c", json!({"tier": "x"})),
    )
    .await
    .unwrap();
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let stream = cms
        .watch(&WatchParams::default().labels("tier=y").timeout(3), &rv)
        .await
        .unwrap();
    let relabel = |tier: &'static str| {
        let cms = cms.clone();
        async move {
            cms.patch(
                "c",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"tier": tier}}})),
            )
            .await
            .unwrap()
        }
    };
    relabel("y").await;
    relabel("x").await;
    let events: Vec<WatchEvent<ConfigMap>> = stream.take(2).try_collect().await.unwrap();
    assert!(matches!(events[0], WatchEvent::Added(_)), "{events:?}");
    assert!(matches!(events[1], WatchEvent::Deleted(_)), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_paginate_and_serve_metadata_only() {
    let (_sandbox, client) = start().await;
    namespace(&client, "p").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "p");
    for i in 0..7 {
        cms.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i}"), json!({})),
        )
        .await
        .unwrap();
    }
    let first = cms.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let token = first.metadata.continue_.clone().unwrap();
    let second = cms
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .unwrap();
    let third = cms
        .list(
            &ListParams::default()
                .limit(3)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    let names: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .chain(&third.items)
        .map(|c| c.name_any())
        .collect();
    // Seven of ours and the namespace's kube-root-ca.crt, in name order.
    let mut expected: Vec<String> = (0..7).map(|i| format!("cm-{i}")).collect();
    expected.push("kube-root-ca.crt".into());
    assert_eq!(names, expected);
    assert!(third.metadata.continue_.is_none_or(|c| c.is_empty()));

    let meta: kube::core::ObjectList<PartialObjectMeta<ConfigMap>> =
        cms.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(meta.items.len(), 8);
    assert_eq!(meta.items[0].metadata.name.as_deref(), Some("cm-0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_validation_errors_match_kubernetes() {
    let crds = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let sandbox = Sandbox::start(SandboxOptions {
        crd_dirs: vec![crds],
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let client = sandbox.client().await.unwrap();
    namespace(&client, "v").await;
    let gvk =
        kube::core::GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");
    let ar = kube::core::ApiResource::from_gvk_with_plural(&gvk, "kustomizations");
    let api: Api<kube::core::DynamicObject> = Api::namespaced_with(client.clone(), "v", &ar);
    let cases = [
        (
            json!({"sourceRef": {"kind": "GitRepository", "name": "x"}, "interval": "1m"}),
            "spec.prune",
            "FieldValueRequired",
        ),
        (
            json!({"sourceRef": {"kind": "Helm", "name": "x"}, "interval": "1m", "prune": true}),
            "spec.sourceRef.kind",
            "FieldValueNotSupported",
        ),
        (
            json!({"sourceRef": {"kind": "GitRepository", "name": "x"}, "interval": "often", "prune": true}),
            "spec.interval",
            "FieldValueInvalid",
        ),
        (
            json!({"sourceRef": {"kind": "GitRepository", "name": "x"}, "interval": "1m", "prune": "yes"}),
            "spec.prune",
            "FieldValueInvalid",
        ),
        (
            json!({"sourceRef": {"kind": "GitRepository", "name": "x"}, "interval": "1m", "prune": true, "targetNamespace": "a".repeat(64)}),
            "spec.targetNamespace",
            "FieldValueTooLong",
        ),
    ];
    for (spec, field, reason) in cases {
        let body: kube::core::DynamicObject = serde_json::from_value(json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "bad"}, "spec": spec})).unwrap();
        let err = api.create(&PostParams::default(), &body).await.unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (status.code, status.reason.as_str()),
            (422, "Invalid"),
            "{field}"
        );
        assert!(
            status
                .message
                .starts_with("Kustomization.kustomize.toolkit.fluxcd.io \"bad\" is invalid: "),
            "{}",
            status.message
        );
        let causes = status.details.unwrap().causes;
        assert!(
            causes
                .iter()
                .any(|c| c.field == field && c.reason == reason),
            "{field}: {causes:?}"
        );
    }
    let good: kube::core::DynamicObject = serde_json::from_value(json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "good"},
        "spec": {"sourceRef": {"kind": "GitRepository", "name": "x"}, "interval": "1m", "prune": true, "unknownField": 1}})).unwrap();
    let created = api.create(&PostParams::default(), &good).await.unwrap();
    assert!(
        created.data["spec"].get("unknownField").is_none(),
        "unknown fields are pruned"
    );
    assert_eq!(
        created.data["spec"]["force"],
        json!(false),
        "defaults are applied"
    );
    assert_eq!(created.data["status"]["observedGeneration"], json!(-1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonated_service_accounts_get_exactly_their_bindings() {
    let (sandbox, admin) = start().await;
    namespace(&admin, "team-a").await;
    namespace(&admin, "team-b").await;
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "edit", "namespace": "team-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": "team-a"}]});
    let rbs: Api<kube::core::DynamicObject> = Api::namespaced_with(
        admin.clone(),
        "team-a",
        &kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("rbac.authorization.k8s.io", "v1", "RoleBinding"),
            "rolebindings",
        ),
    );
    rbs.patch("edit", &PatchParams::apply("test"), &Patch::Apply(&binding))
        .await
        .unwrap();

    let mut config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig()).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    config.auth_info.impersonate = Some("system:serviceaccount:team-a:tenant".into());
    let tenant = Client::try_from(config).unwrap();
    let cm = configmap("t", json!({}));
    let cases: Vec<(&str, bool)> = vec![("team-a", true), ("team-b", false)];
    for (ns, allowed) in cases {
        let result = Api::<ConfigMap>::namespaced(tenant.clone(), ns)
            .create(&PostParams::default(), &cm)
            .await;
        assert_eq!(result.is_ok(), allowed, "create in {ns}: {result:?}");
        if let Err(kube::Error::Api(status)) = result {
            assert_eq!(status.code, 403);
            assert!(status.message.contains("User \"system:serviceaccount:team-a:tenant\" cannot create resource \"configmaps\""), "{}", status.message);
        }
    }
    let cluster_scoped = Api::<Namespace>::all(tenant.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "sneaky"}})).unwrap(),
        )
        .await;
    assert!(
        matches!(cluster_scoped, Err(kube::Error::Api(ref s)) if s.code == 403 && s.message.contains("at the cluster scope")),
        "{cluster_scoped:?}"
    );
    let secrets_other =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(tenant.clone(), "team-b")
            .list(&ListParams::default())
            .await;
    assert!(secrets_other.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let (_sandbox, client) = start().await;
    namespace(&client, "d").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "d");
    let before = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    let pp = PatchParams::apply("flux").force().dry_run();
    let would_be = cms.patch("x", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}}))).await.unwrap();
    assert_eq!(would_be.data.unwrap()["a"], "1");
    assert!(cms.get_opt("x").await.unwrap().is_none());
    assert_eq!(
        cms.list(&ListParams::default())
            .await
            .unwrap()
            .metadata
            .resource_version,
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sandbox_keeps_objects_and_resource_versions_grow() {
    let dir = tempfile::tempdir().unwrap();
    let options = || SandboxOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(options()).await.unwrap();
    let client = sandbox.client().await.unwrap();
    namespace(&client, "keep").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "keep");
    let created = cms
        .create(&PostParams::default(), &configmap("kept", json!({})))
        .await
        .unwrap();
    let old_rv: u64 = created.resource_version().unwrap().parse().unwrap();
    drop(client);
    sandbox.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let sandbox = Sandbox::start(options()).await.unwrap();
    let client = sandbox.client().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "keep");
    let kept = cms.get("kept").await.unwrap();
    assert_eq!(kept.uid(), created.uid());
    let updated = cms
        .patch(
            "kept",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "v2"}})),
        )
        .await
        .unwrap();
    assert!(updated.resource_version().unwrap().parse::<u64>().unwrap() > old_rv);
    // A watch from the last resourceVersion seen before the restart resumes where it left off.
    let resumed: Vec<WatchEvent<ConfigMap>> = cms
        .watch(&WatchParams::default().timeout(2), &old_rv.to_string())
        .await
        .unwrap()
        .take(1)
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&resumed[0], WatchEvent::Modified(cm) if cm.data.as_ref().unwrap()["k"] == "v2"),
        "{resumed:?}"
    );
    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(
        namespaces
            .items
            .iter()
            .filter(|n| n.name_any() == "default")
            .count(),
        1,
        "bootstrap objects are not seeded twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_follows_the_propagation_policy() {
    use kube::api::{DeleteParams, PropagationPolicy};
    let (_sandbox, client) = start().await;
    namespace(&client, "gc").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "gc");
    for policy in [
        PropagationPolicy::Background,
        PropagationPolicy::Foreground,
        PropagationPolicy::Orphan,
    ] {
        let owner = cms
            .create(&PostParams::default(), &configmap("owner", json!({})))
            .await
            .unwrap();
        let reference = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.uid().unwrap(), "blockOwnerDeletion": true}]);
        let dependent: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "dependent", "ownerReferences": reference}}),
        )
        .unwrap();
        cms.create(&PostParams::default(), &dependent)
            .await
            .unwrap();
        let params = DeleteParams {
            propagation_policy: Some(policy.clone()),
            ..DeleteParams::default()
        };
        cms.delete("owner", &params).await.unwrap();
        let settled = async {
            loop {
                let owner_gone = cms.get_opt("owner").await.unwrap().is_none();
                let dependent = cms.get_opt("dependent").await.unwrap();
                if owner_gone {
                    return dependent;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let dependent = tokio::time::timeout(Duration::from_secs(10), settled)
            .await
            .unwrap();
        match policy {
            PropagationPolicy::Orphan => {
                let kept = dependent.expect("orphaned dependents stay");
                assert!(
                    kept.owner_references().is_empty(),
                    "the reference to the deleted owner is removed"
                );
                cms.delete("dependent", &DeleteParams::default())
                    .await
                    .unwrap();
            }
            PropagationPolicy::Foreground => assert!(
                dependent.is_none(),
                "foreground deletes dependents before the owner"
            ),
            _ => {
                let gone = async {
                    while cms.get_opt("dependent").await.unwrap().is_some() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                };
                tokio::time::timeout(Duration::from_secs(10), gone)
                    .await
                    .expect("background deletes dependents");
            }
        }
        while cms.get_opt("dependent").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_access_reviews_answer_for_other_users() {
    let (_sandbox, client) = start().await;
    let ar = kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("authorization.k8s.io", "v1", "SubjectAccessReview"),
        "subjectaccessreviews",
    );
    let api: Api<kube::core::DynamicObject> = Api::all_with(client.clone(), &ar);
    let review = |user: &str, groups: Vec<&str>| -> kube::core::DynamicObject {
        serde_json::from_value(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
            "spec": {"user": user, "groups": groups, "resourceAttributes": {"verb": "delete", "resource": "namespaces", "name": "default"}}})).unwrap()
    };
    let admin = api
        .create(
            &PostParams::default(),
            &review("root", vec!["system:masters"]),
        )
        .await
        .unwrap();
    assert_eq!(admin.data["status"]["allowed"], json!(true));
    let nobody = api
        .create(
            &PostParams::default(),
            &review("nobody", vec!["system:authenticated"]),
        )
        .await
        .unwrap();
    assert_eq!(nobody.data["status"]["allowed"], json!(false));
}
