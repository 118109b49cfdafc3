//! Health assessment: poll the objects to check with kstatus until all are Current, one
//! Failed (fail fast), or the timeout passes.

use std::time::Duration;

use kube::Client;
use rill_common::api::kustomize_v1::CustomHealthCheck;
use serde_json::Value;

use super::apply_error::{HealthError, ObjectError};
use super::cel_expr::{evaluate, fields};
use super::cluster::{RestMapper, api, split_api_version};
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
    exprs: &[CustomHealthCheck],
    timeout: Duration,
) -> Result<(), HealthError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut waiting = Vec::new();
        for entry in entries {
            let verdict = check(tenant, controller, mapper, entry, exprs).await?;
            match verdict {
                Health::Current => {}
                Health::Failed(message) => {
                    return Err(HealthError::Failed {
                        id: entry.id.display(),
                        message,
                    });
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
            return Err(HealthError::Timeout {
                after: rill_common::duration::format(timeout),
                waiting,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn check(
    tenant: &Client,
    controller: &Client,
    mapper: &RestMapper,
    entry: &Entry,
    exprs: &[CustomHealthCheck],
) -> Result<Health, ObjectError> {
    let kind = mapper
        .resolve(controller, &entry.api_version(), &entry.id.kind)
        .await
        .map_err(|source| ObjectError::Discovery {
            id: entry.id.display(),
            source,
        })?;
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
        Ok(Some(live)) => Ok(assess(
            &serde_json::to_value(live).unwrap_or_default(),
            exprs,
        )),
        // A finished Job with a TTL may already be gone.
        Ok(None) if entry.id.kind == "Job" => Ok(Health::Current),
        Ok(None) => Ok(Health::InProgress("not found".into())),
        Err(source) => Err(ObjectError::Get {
            id: entry.id.display(),
            source,
        }),
    }
}

/// The health of `object`: the `healthCheckExprs` entry for its group and kind (a kind-specific
/// entry wins over a group-wide one), evaluated inProgress, failed, then current; kstatus when
/// no entry matches.
pub fn assess(object: &Value, exprs: &[CustomHealthCheck]) -> Health {
    let (group, _) = split_api_version(object["apiVersion"].as_str().unwrap_or_default());
    let kind = object["kind"].as_str().unwrap_or_default();
    let same_group = |e: &&CustomHealthCheck| split_api_version(&e.api_version).0 == group;
    let chosen = exprs
        .iter()
        .filter(same_group)
        .find(|e| e.kind.as_deref() == Some(kind))
        .or_else(|| {
            exprs
                .iter()
                .filter(same_group)
                .find(|e| e.kind.as_deref().is_none_or(str::is_empty))
        });
    let Some(check) = chosen else {
        return compute(object);
    };
    let vars = fields(object);
    let holds = |expr: &Option<String>| {
        expr.as_deref()
            .filter(|e| !e.is_empty())
            .is_some_and(|e| evaluate(e, &vars) == Ok(true))
    };
    if holds(&check.in_progress) {
        return Health::InProgress(format!(
            "inProgress expression matched: {}",
            check.in_progress.clone().unwrap_or_default()
        ));
    }
    if holds(&check.failed) {
        return Health::Failed(format!(
            "failed expression matched: {}",
            check.failed.clone().unwrap_or_default()
        ));
    }
    match evaluate(&check.current, &vars) {
        Ok(true) => Health::Current,
        Ok(false) => Health::InProgress(format!(
            "current expression not matched yet: {}",
            check.current
        )),
        Err(e) => Health::InProgress(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(
        api_version: &str,
        kind: Option<&str>,
        current: &str,
        failed: Option<&str>,
    ) -> CustomHealthCheck {
        CustomHealthCheck {
            api_version: api_version.into(),
            kind: kind.map(Into::into),
            current: current.into(),
            in_progress: None,
            failed: failed.map(Into::into),
        }
    }

    #[test]
    fn custom_expressions_decide_for_their_group_and_kind() {
        let exprs = vec![
            check("example.com/v1", None, "status.phase == 'Up'", None),
            check(
                "example.com/v1",
                Some("Db"),
                "status.phase == 'Open'",
                Some("status.phase == 'Broken'"),
            ),
        ];
        let object = |kind: &str, phase: &str| json!({"apiVersion": "example.com/v2", "kind": kind, "status": {"phase": phase}});
        assert_eq!(assess(&object("Cache", "Up"), &exprs), Health::Current);
        assert!(matches!(
            assess(&object("Cache", "Down"), &exprs),
            Health::InProgress(_)
        ));
        assert_eq!(assess(&object("Db", "Open"), &exprs), Health::Current);
        assert!(matches!(
            assess(&object("Db", "Up"), &exprs),
            Health::InProgress(_)
        ));
        assert!(matches!(
            assess(&object("Db", "Broken"), &exprs),
            Health::Failed(_)
        ));
        let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert_eq!(
            assess(&configmap, &exprs),
            Health::Current,
            "other groups use kstatus"
        );
    }
}
