//! Health assessment: poll the objects to check with kstatus until all are Current, one
//! Failed (fail fast), or the timeout passes.

use std::time::Duration;

use kube::Client;

use super::cluster::{RestMapper, api};
use super::inventory::Entry;
use super::kstatus::{Health, compute};

/// How often objects are polled.
const POLL: Duration = Duration::from_secs(1);

/// Waits until every entry is Current; the error names what failed or was still waiting.
pub async fn wait_healthy(
    tenant: &Client,
    controller: &Client,
    mapper: &RestMapper,
    entries: &[Entry],
    timeout: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut waiting = Vec::new();
        for entry in entries {
            let verdict = check(tenant, controller, mapper, entry).await?;
            match verdict {
                Health::Current => {}
                Health::Failed(message) => {
                    return Err(format!(
                        "{} status: 'Failed': {message}",
                        entry.id.display()
                    ));
                }
                Health::InProgress(message) => {
                    waiting.push(format!(
                        "{} status: 'InProgress': {message}",
                        entry.id.display()
                    ));
                }
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "health check failed after {}: timeout waiting for: [{}]",
                rill_common::duration::format(timeout),
                waiting.join(", ")
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn check(
    tenant: &Client,
    controller: &Client,
    mapper: &RestMapper,
    entry: &Entry,
) -> Result<Health, String> {
    let kind = mapper
        .resolve(controller, &entry.api_version(), &entry.id.kind)
        .await
        .map_err(|e| format!("{}: discovery failed: {e}", entry.id.display()))?;
    let Some(kind) = kind else {
        return Ok(Health::InProgress(format!(
            "kind {} is not served",
            entry.id.kind
        )));
    };
    match api(tenant, &kind, &entry.id.namespace)
        .get_opt(&entry.id.name)
        .await
    {
        Ok(Some(live)) => Ok(compute(&serde_json::to_value(live).unwrap_or_default())),
        // A finished Job with a TTL may already be gone.
        Ok(None) if entry.id.kind == "Job" => Ok(Health::Current),
        Ok(None) => Ok(Health::InProgress("not found".into())),
        Err(e) => Err(format!("{} get failed: {e}", entry.id.display())),
    }
}
