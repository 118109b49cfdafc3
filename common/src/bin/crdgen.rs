//! `crdgen`: writes one YAML file per Rill CRD into a folder (default `crds/`).

use std::path::PathBuf;

use rill_common::api::{all_crds, crd_file_name};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "crds".to_string()),
    );
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for crd in all_crds() {
        let path = dir.join(crd_file_name(&crd));
        let yaml = rill_common::api::crd_yaml(&crd)?;
        std::fs::write(&path, yaml).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let path = dir.join("kustomization.yaml");
    std::fs::write(&path, rill_common::api::crds_kustomization())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
