//! The builtin `IAMPolicyGenerator` plugin: a ServiceAccount bound to a cloud service account
//! through an annotation (kustomize supports GKE's Workload Identity only).

use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::kustomization::Kustomization;
use crate::resource::Resource;

/// The ServiceAccount an `IAMPolicyGenerator` config describes.
pub(super) fn generate(k: &Kustomization, config: &Value) -> Result<Resource, Error> {
    let invalid = |message: &str| Error::Kustomization {
        path: k.path.clone(),
        message: format!("IAMPolicyGenerator: {message}"),
    };
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    match config["cloud"].as_str() {
        Some("gke") => {}
        other => {
            return Err(invalid(&format!(
                "cloud {:?} is not supported (only \"gke\")",
                other.unwrap_or_default()
            )));
        }
    }
    let service = &config["kubernetesService"];
    let name =
        text(&service["name"]).ok_or_else(|| invalid("kubernetesService.name is required"))?;
    let account = &config["serviceAccount"];
    let (gsa, project) = match (text(&account["name"]), text(&account["projectId"])) {
        (Some(gsa), Some(project)) => (gsa, project),
        _ => {
            return Err(invalid(
                "serviceAccount.name and serviceAccount.projectId are required",
            ));
        }
    };
    let mut metadata = Map::new();
    metadata.insert(
        "annotations".into(),
        json!({"iam.gke.io/gcp-service-account": format!("{gsa}@{project}.iam.gserviceaccount.com")}),
    );
    metadata.insert("name".into(), Value::String(name));
    if let Some(namespace) = text(&service["namespace"]) {
        metadata.insert("namespace".into(), Value::String(namespace));
    }
    Ok(Resource::new(
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gke_service_accounts_are_annotated_and_other_clouds_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kustomization.yaml");
        std::fs::write(&path, "resources: []\n").unwrap();
        let k = Kustomization::load(&crate::file_system::Disk, &path).unwrap();
        let ok = generate(
            &k,
            &json!({"cloud": "gke", "kubernetesService": {"name": "app", "namespace": "ns"},
                "serviceAccount": {"name": "gsa", "projectId": "p"}}),
        )
        .unwrap();
        assert_eq!(
            ok.object["metadata"]["annotations"]["iam.gke.io/gcp-service-account"],
            "gsa@p.iam.gserviceaccount.com"
        );
        assert_eq!(ok.id().namespace, "ns");
        let refused = [
            json!({"cloud": "aws", "kubernetesService": {"name": "a"}, "serviceAccount": {"name": "g", "projectId": "p"}}),
            json!({"cloud": "gke", "serviceAccount": {"name": "g", "projectId": "p"}}),
            json!({"cloud": "gke", "kubernetesService": {"name": "a"}}),
        ];
        for config in refused {
            assert!(generate(&k, &config).is_err(), "{config}");
        }
    }
}
