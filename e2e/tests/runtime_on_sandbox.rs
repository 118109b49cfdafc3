//! The shared controller runtime against the sandbox: leader election on a Lease, status
//! written only when it changed, events published on a transition.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use rill_common::api::source_v1::{GitRepository, GitRepositoryStatus};
use rill_common::conditions::{self, Status, reasons, types};
use rill_common::runtime::events::{EventRecorder, ready_transition};
use rill_common::runtime::leader::{LeaderElectionConfig, start};
use rill_common::runtime::status::patch_status_if_changed;
use sandbox::{Sandbox, SandboxOptions};

fn crds() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_replica_leads_and_the_lease_names_it() {
    rill_common::runtime::install_crypto_provider();
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let client = sandbox.client().await.unwrap();
    let config = |id: &str| LeaderElectionConfig {
        lease_name: "source-controller-leader-election".into(),
        namespace: "default".into(),
        identity: id.into(),
        lease_duration: Duration::from_secs(5),
        renew_deadline: Duration::from_secs(3),
        retry_period: Duration::from_secs(1),
    };
    let mut first = start(client.clone(), &config("replica-a")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), first.wait_for(|leading| *leading))
        .await
        .unwrap()
        .unwrap();
    let mut second = start(client.clone(), &config("replica-b")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !*second.borrow_and_update(),
        "the second replica must not lead while the first holds the lease"
    );
    let lease = Api::<Lease>::namespaced(client.clone(), "default")
        .get("source-controller-leader-election")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("replica-a")
    );

    drop(first);
    tokio::time::timeout(Duration::from_secs(20), second.wait_for(|leading| *leading))
        .await
        .expect("the second replica takes over")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_written_only_when_it_changed_and_events_fire_on_transitions() {
    rill_common::runtime::install_crypto_provider();
    let sandbox = Sandbox::start(SandboxOptions {
        crd_dirs: vec![crds()],
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let client = sandbox.client().await.unwrap();
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), "default");
    let repo: GitRepository = serde_json::from_value(serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": {"name": "app"},
        "spec": {"url": "https://example.com/app.git", "interval": "1m"}
    }))
    .unwrap();
    let repo = repos.create(&PostParams::default(), &repo).await.unwrap();

    let now = Time(jiff::Timestamp::from_second(1_700_000_000).unwrap());
    let mut desired = repo.status.clone().unwrap_or_default();
    let mut conds = Vec::new();
    conditions::set(
        &mut conds,
        types::ARTIFACT_IN_STORAGE,
        Status::True,
        reasons::SUCCEEDED,
        "stored artifact for revision 'main@sha1:abc'",
        1,
        &now,
    );
    conditions::summarize_ready(&mut conds, &conditions::SOURCE_SUMMARY, 1, &now);
    desired.reconcile.conditions = Some(conds);
    desired.reconcile.observed_generation = Some(1);

    let wrote = patch_status_if_changed(
        &repos,
        "app",
        repo.status.as_ref(),
        &desired,
        "source-controller",
    )
    .await
    .unwrap();
    assert!(wrote);
    let after_first = repos.get("app").await.unwrap();
    assert_eq!(after_first.status.as_ref(), Some(&desired));
    let rv = after_first.resource_version();

    let wrote_again = patch_status_if_changed(
        &repos,
        "app",
        after_first.status.as_ref(),
        &desired,
        "source-controller",
    )
    .await
    .unwrap();
    assert!(!wrote_again);
    assert_eq!(
        repos.get("app").await.unwrap().resource_version(),
        rv,
        "an unchanged status causes no write"
    );

    let before: Vec<_> = repo
        .status
        .clone()
        .and_then(|s: GitRepositoryStatus| s.reconcile.conditions)
        .unwrap_or_default();
    let note = ready_transition(
        &before,
        desired.reconcile.conditions.as_deref().unwrap_or_default(),
    )
    .expect("Ready became True");
    EventRecorder::new(client.clone(), "source-controller")
        .publish(&after_first.object_ref(&()), &note)
        .await
        .unwrap();
    let events = Api::<Event>::namespaced(client, "default")
        .list(
            &ListParams::default()
                .fields(&format!("involvedObject.name={}", after_first.name_any())),
        )
        .await
        .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("Succeeded")
                && e.message.as_deref() == Some("stored artifact for revision 'main@sha1:abc'")),
        "{events:?}"
    );
    assert!(
        ready_transition(
            desired.reconcile.conditions.as_deref().unwrap_or_default(),
            desired.reconcile.conditions.as_deref().unwrap_or_default()
        )
        .is_none()
    );
}
