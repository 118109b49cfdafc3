//! A kube-rs `Controller` with `.owns()`, the finalizer helper, an event recorder and status
//! patches runs to completion against the in-process sandbox.

// Test code may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::wait::{await_condition, conditions};
use kube::{CustomResource, CustomResourceExt, Resource, ResourceExt};
use sandbox::{Sandbox, SandboxOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "demo.example.com",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    shortname = "wd"
)]
pub struct WidgetSpec {
    pub size: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    pub observed_generation: Option<i64>,
    pub ready: bool,
}

struct Ctx {
    client: kube::Client,
    recorder: Recorder,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

async fn apply(widget: Arc<Widget>, ctx: &Ctx) -> Result<Action, Error> {
    let ns = widget.namespace().unwrap();
    let owner = widget.controller_owner_ref(&()).unwrap();
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{}-cm", widget.name_any()), "ownerReferences": [owner]},
        "data": {"size": widget.spec.size.to_string()},
    });
    let pp = PatchParams::apply("widget-ctrl").force();
    Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns)
        .patch(
            &format!("{}-cm", widget.name_any()),
            &pp,
            &Patch::Apply(&cm),
        )
        .await?;
    let status = json!({"apiVersion": "demo.example.com/v1", "kind": "Widget", "status": {"observedGeneration": widget.metadata.generation, "ready": true}});
    Api::<Widget>::namespaced(ctx.client.clone(), &ns)
        .patch_status(&widget.name_any(), &pp, &Patch::Apply(&status))
        .await?;
    let event = Event {
        type_: EventType::Normal,
        reason: "Reconciled".into(),
        note: Some("ok".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    ctx.recorder
        .publish(&event, &widget.object_ref(&()))
        .await?;
    Ok(Action::await_change())
}

async fn reconcile(
    widget: Arc<Widget>,
    ctx: Arc<Ctx>,
) -> Result<Action, kube::runtime::finalizer::Error<Error>> {
    let api = Api::<Widget>::namespaced(ctx.client.clone(), &widget.namespace().unwrap());
    finalizer(&api, "demo.example.com/cleanup", widget, |event| async {
        match event {
            Finalizer::Apply(w) => apply(w, &ctx).await,
            Finalizer::Cleanup(_) => Ok::<_, Error>(Action::await_change()),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_rs_controller_runs_to_completion() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let client = sandbox.client().await.unwrap();

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let pp = PatchParams::apply("probe").force();
    crds.patch(
        "widgets.demo.example.com",
        &pp,
        &Patch::Apply(Widget::crd()),
    )
    .await
    .unwrap();
    let established = await_condition(
        crds.clone(),
        "widgets.demo.example.com",
        conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(10), established)
        .await
        .unwrap()
        .unwrap();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            "team-a",
            &pp,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
            ),
        )
        .await
        .unwrap();

    let ctx = Arc::new(Ctx {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "widget-ctrl".into(),
                instance: None,
            },
        ),
    });
    let controller = Controller::new(Api::<Widget>::all(client.clone()), Default::default())
        .owns(Api::<ConfigMap>::all(client.clone()), Default::default())
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_secs(1)),
            ctx,
        )
        .for_each(|_| async {});
    let controller = tokio::spawn(controller);

    let widgets: Api<Widget> = Api::namespaced(client.clone(), "team-a");
    let w1 = json!({"apiVersion": "demo.example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}});
    widgets
        .patch("w1", &PatchParams::apply("driver"), &Patch::Apply(&w1))
        .await
        .unwrap();

    let ready = await_condition(widgets.clone(), "w1", |w: Option<&Widget>| {
        w.and_then(|w| w.status.as_ref()).is_some_and(|s| s.ready)
    });
    tokio::time::timeout(Duration::from_secs(15), ready)
        .await
        .expect("widget becomes ready")
        .unwrap();

    let w = widgets.get("w1").await.unwrap();
    assert_eq!(w.finalizers(), ["demo.example.com/cleanup"]);
    assert_eq!(
        w.status.as_ref().and_then(|s| s.observed_generation),
        Some(1)
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let cm = cms.get("w1-cm").await.unwrap();
    assert_eq!(cm.owner_references()[0].uid, w.uid().unwrap());
    assert_eq!(cm.data.unwrap()["size"], "3");

    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "team-a");
    let selector = format!(
        "involvedObject.uid={},involvedObject.kind=Widget",
        w.uid().unwrap()
    );
    // The controller publishes its event after the status write the wait above saw.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let found = loop {
        let found = events
            .list(&ListParams::default().fields(&selector))
            .await
            .unwrap();
        let reconciled = found
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("Reconciled"));
        if reconciled || std::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        found
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("Reconciled")),
        "{found:?}"
    );

    let duplicate: Widget = serde_json::from_value(w1.clone()).unwrap();
    let err = widgets
        .create(&PostParams::default(), &duplicate)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );

    widgets
        .delete("w1", &DeleteParams::default())
        .await
        .unwrap();
    let uid = w.uid().unwrap();
    let gone = await_condition(widgets.clone(), "w1", conditions::is_deleted(&uid));
    tokio::time::timeout(Duration::from_secs(15), gone)
        .await
        .expect("widget is deleted after its finalizer ran")
        .unwrap();
    let collected = async {
        while cms.get_opt("w1-cm").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), collected)
        .await
        .expect("owned ConfigMap is garbage-collected");
    controller.abort();
}
