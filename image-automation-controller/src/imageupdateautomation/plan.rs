//! What one automation run does, decided from the spec and its GitRepository before any Git
//! work: the checkout and push branches, the refspecs and push options, the policy selector,
//! the commit message template and Flux's event text (pure).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use rill_common::api::image_v1::{ImageUpdateAutomation, SigningKeyType};
use rill_common::api::source_v1::GitRepository;

/// A run's Git plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The branch cloned, or the tag, range, commit or ref name of a pinned checkout.
    pub checkout: String,
    /// A checkout that is not a plain branch (resolved against the remote, checked out
    /// detached, then committed on the push branch).
    pub checkout_ref: Option<rill_common::api::source_v1::GitRepositoryRef>,
    /// The branch pushed.
    pub push: String,
    /// The extra refspec pushed after the branch.
    pub refspec: Option<String>,
    /// `git push -o` options.
    pub options: Vec<String>,
    /// The commit author's name (the email when the spec gives none) and email.
    pub author: (String, String),
    /// `git.commit.messageTemplate` (empty: Flux's default message).
    pub message_template: String,
    /// `git.commit.messageTemplateValues`.
    pub message_values: Option<BTreeMap<String, String>>,
    /// The automation's namespace and name (`.AutomationObject`).
    pub automation: (String, String),
    /// `git.commit.signingKey`: the Secret (in the automation's namespace) and the key type.
    pub signing_key: Option<(String, SigningKeyType)>,
    /// `update.path` (relative to the checkout).
    pub path: String,
}

/// Why the spec cannot run (a human must change it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `spec.git` or the branches are missing.
    #[error("{0}")]
    InvalidSourceConfiguration(String),
    /// A field Rill does not implement yet.
    #[error("{0}")]
    Unsupported(String),
}

/// The plan of `auto` against `source`.
pub fn plan(auto: &ImageUpdateAutomation, source: &GitRepository) -> Result<Plan, PlanError> {
    let invalid = |m: &str| PlanError::InvalidSourceConfiguration(m.to_string());
    let git = auto
        .spec
        .git
        .as_ref()
        .ok_or_else(|| invalid("spec.git is required"))?;
    let commit = git
        .commit
        .as_ref()
        .ok_or_else(|| invalid("spec.git.commit is required"))?;
    let checkout = git
        .checkout
        .as_ref()
        .map(|c| c.reference.clone())
        .unwrap_or_else(|| source.spec.effective_ref());
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let checkout_branch = non_empty(&checkout.branch);
    // A tag, semver range, commit or ref name is checked out detached; only a branch can be
    // pushed to without naming one.
    let pinned = [
        &checkout.commit,
        &checkout.name,
        &checkout.semver,
        &checkout.tag,
    ]
    .into_iter()
    .find_map(non_empty);
    let push_spec = git.push.clone().unwrap_or_default();
    let push = non_empty(&push_spec.branch)
        .or_else(|| checkout_branch.clone())
        .ok_or_else(|| invalid("no push branch: set spec.git.push.branch or check out a branch"))?;
    let (checkout, checkout_ref) = match pinned {
        Some(label) => (label, Some(checkout)),
        None => (
            checkout_branch.unwrap_or_else(|| "master".to_string()),
            None,
        ),
    };
    let options = push_spec
        .options
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let path = auto
        .spec
        .update
        .as_ref()
        .and_then(|u| u.path.clone())
        .unwrap_or_default();
    Ok(Plan {
        checkout,
        checkout_ref,
        push,
        refspec: push_spec.refspec.filter(|r| !r.is_empty()),
        options,
        // libgit2 refuses an empty author name (go-git allows it): the email stands in.
        author: (
            commit
                .author
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| commit.author.email.clone()),
            commit.author.email.clone(),
        ),
        message_template: commit.message_template.clone().unwrap_or_default(),
        message_values: commit.message_template_values.clone(),
        signing_key: commit.signing_key.as_ref().map(|k| {
            (
                k.secret_ref.name.clone(),
                k.key_type.unwrap_or(SigningKeyType::Gpg),
            )
        }),
        automation: (
            auto.metadata.namespace.clone().unwrap_or_default(),
            auto.metadata.name.clone().unwrap_or_default(),
        ),
        path,
    })
}

/// A `policySelector` that cannot be turned into a label selector.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid policySelector operator '{0}'")]
pub struct InvalidSelector(pub String);

/// `policySelector` as a label selector string (`None`: every policy).
pub fn selector(selector: Option<&LabelSelector>) -> Result<Option<String>, InvalidSelector> {
    let Some(selector) = selector else {
        return Ok(None);
    };
    let mut terms: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        terms.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => return Err(InvalidSelector(other.to_string())),
        });
    }
    Ok(Some(terms.join(",")).filter(|s| !s.is_empty()))
}

/// Flux's event text of a push of `commit` with `message`.
pub fn pushed_message(commit: &str, plan: &Plan, message: &str) -> String {
    let short: String = commit.chars().take(7).collect();
    let refspec = plan
        .refspec
        .as_ref()
        .map(|r| format!(" and refspecs '{r}'"))
        .unwrap_or_default();
    format!(
        "pushed commit '{short}' to branch '{}'{refspec}\n{}",
        plan.push, message
    )
}

/// The commit a run compares the remote branch with instead of cloning (Flux's "last observed
/// commit"): only when nothing but a new commit could change the outcome: the same policies,
/// the same spec generation, pushing to the checked-out branch without a refspec.
pub fn last_observed(
    plan: &Plan,
    auto: &ImageUpdateAutomation,
    observed: &Observed,
) -> Option<String> {
    let status = auto.status.as_ref()?;
    let same_spec = auto.metadata.generation.is_some()
        && auto.metadata.generation == status.reconcile.observed_generation;
    if plan.push != plan.checkout
        || plan.checkout_ref.is_some()
        || plan.refspec.is_some()
        || !same_spec
        || status.observed_policies.as_ref() != Some(observed)
    {
        return None;
    }
    let revision = status.observed_source_revision.as_deref()?;
    revision
        .strip_prefix(&format!("{}@sha1:", plan.checkout))
        .map(str::to_string)
}

/// `observedPolicies` keys are policy names.
pub type Observed = BTreeMap<String, rill_common::api::image_v1::ImageRef>;

#[cfg(test)]
mod tests {
    use super::super::message::DEFAULT_MESSAGE;
    use super::*;

    fn auto(git: serde_json::Value) -> ImageUpdateAutomation {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "a", "namespace": "apps"},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "app"}, "interval": "5m",
                     "git": git, "update": {"strategy": "Setters", "path": "./deploy"}}
        }))
        .unwrap()
    }

    fn source(reference: serde_json::Value) -> GitRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": "apps"},
            "spec": {"url": "https://example.invalid/app.git", "interval": "1m", "ref": reference}
        }))
        .unwrap()
    }

    #[test]
    fn branches_come_from_the_spec_then_the_source() {
        let author = serde_json::json!({"author": {"name": "bot", "email": "bot@x"}});
        let main = source(serde_json::json!({"branch": "main"}));
        let p = plan(&auto(serde_json::json!({"commit": author})), &main).unwrap();
        assert_eq!((p.checkout.as_str(), p.push.as_str()), ("main", "main"));
        assert_eq!(p.path, "./deploy");
        assert_eq!(p.message_template, "");
        assert_eq!(p.signing_key, None);
        assert_eq!(p.automation, ("apps".to_string(), "a".to_string()));
        let other = auto(
            serde_json::json!({"commit": author, "checkout": {"ref": {"branch": "dev"}},
            "push": {"branch": "auto", "refspec": "refs/heads/auto:refs/heads/review", "options": {"ci.skip": "", "merge_request.target": "main"}}}),
        );
        let p = plan(&other, &main).unwrap();
        assert_eq!((p.checkout.as_str(), p.push.as_str()), ("dev", "auto"));
        assert_eq!(
            p.options,
            vec!["ci.skip".to_string(), "merge_request.target=main".into()]
        );
        assert_eq!(
            pushed_message("0123456789abcdef", &p, DEFAULT_MESSAGE),
            format!(
                "pushed commit '0123456' to branch 'auto' and refspecs 'refs/heads/auto:refs/heads/review'\n{DEFAULT_MESSAGE}"
            )
        );
    }

    #[test]
    fn what_cannot_run_is_named() {
        let main = source(serde_json::json!({"branch": "main"}));
        let tag = source(serde_json::json!({"tag": "v1"}));
        let author = serde_json::json!({"author": {"email": "bot@x"}});
        let cases = [
            (auto(serde_json::Value::Null), &main, "spec.git is required"),
            (
                auto(serde_json::json!({"commit": author})),
                &tag,
                "no push branch",
            ),
        ];
        for (a, s, want) in cases {
            let err = plan(&a, s).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn only_a_new_remote_commit_can_change_an_unchanged_automation() {
        let main = source(serde_json::json!({"branch": "main"}));
        let author = serde_json::json!({"author": {"email": "bot@x"}});
        let policies: Observed = BTreeMap::from([(
            "web".to_string(),
            rill_common::api::image_v1::ImageRef {
                name: "r/web".into(),
                tag: "1.0".into(),
                digest: None,
            },
        )]);
        let with_status = |git: serde_json::Value, generation: i64, observed: &Observed| {
            let mut a = auto(git);
            a.metadata.generation = Some(2);
            a.status = Some(
                serde_json::from_value(serde_json::json!({
                    "observedGeneration": generation,
                    "observedPolicies": observed,
                    "observedSourceRevision": "main@sha1:abc123"
                }))
                .unwrap(),
            );
            a
        };
        let plain = serde_json::json!({"commit": author});
        let a = with_status(plain.clone(), 2, &policies);
        let p = plan(&a, &main).unwrap();
        assert_eq!(last_observed(&p, &a, &policies), Some("abc123".into()));
        // New policies, a new spec, another push branch or a refspec: a full run.
        assert_eq!(last_observed(&p, &a, &Observed::new()), None);
        let a = with_status(plain, 1, &policies);
        assert_eq!(last_observed(&p, &a, &policies), None);
        let other = serde_json::json!({"commit": author, "push": {"branch": "auto"}});
        let a = with_status(other, 2, &policies);
        assert_eq!(
            last_observed(&plan(&a, &main).unwrap(), &a, &policies),
            None
        );
        let refspec = serde_json::json!({"commit": author, "push": {"refspec": "refs/heads/main:refs/heads/x"}});
        let a = with_status(refspec, 2, &policies);
        assert_eq!(
            last_observed(&plan(&a, &main).unwrap(), &a, &policies),
            None
        );
        // Never reconciled: a full run.
        assert_eq!(
            last_observed(&p, &auto(serde_json::json!({"commit": author})), &policies),
            None
        );
    }

    #[test]
    fn selectors_become_label_selector_strings() {
        assert_eq!(selector(None), Ok(None));
        let s: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                 {"key": "skip", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        assert_eq!(
            selector(Some(&s)),
            Ok(Some("app=web,tier in (a,b),!skip".into()))
        );
    }
}
