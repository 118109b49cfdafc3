//! Whether an ImagePolicy may read an ImageRepository's tags: always in its own namespace;
//! from another namespace only when the repository's `accessFrom` selects the policy's
//! namespace by its labels (an empty `matchLabels` selects every namespace), and never under
//! `--no-cross-namespace-refs` (pure).

use std::collections::BTreeMap;

use rill_common::api::meta::AccessFrom;

/// Why a policy may not read a repository's tags (Flux's wording).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// `--no-cross-namespace-refs` forbids every cross-namespace read.
    #[error(
        "cannot access '{repository}' from '{policy}': cross-namespace references are not allowed"
    )]
    CrossNamespace {
        /// The policy's namespace.
        policy: String,
        /// The repository's namespace.
        repository: String,
    },
    /// The repository's `accessFrom` does not select the policy's namespace.
    #[error(
        "cannot access '{repository}' from '{policy}': the ImageRepository's accessFrom does not grant it"
    )]
    NotGranted {
        /// The policy's namespace.
        policy: String,
        /// The repository's namespace.
        repository: String,
    },
}

/// The verdict, with Flux's wording when refused.
pub fn allowed(
    policy_namespace: &str,
    repository_namespace: &str,
    access_from: Option<&AccessFrom>,
    namespace_labels: &BTreeMap<String, String>,
    no_cross_namespace_refs: bool,
) -> Result<(), AccessDenied> {
    if policy_namespace == repository_namespace {
        return Ok(());
    }
    if no_cross_namespace_refs {
        return Err(AccessDenied::CrossNamespace {
            policy: policy_namespace.into(),
            repository: repository_namespace.into(),
        });
    }
    let selected = access_from.is_some_and(|acl| {
        acl.namespace_selectors.iter().any(|selector| {
            selector
                .match_labels
                .iter()
                .flatten()
                .all(|(k, v)| namespace_labels.get(k) == Some(v))
        })
    });
    if selected {
        Ok(())
    } else {
        Err(AccessDenied::NotGranted {
            policy: policy_namespace.into(),
            repository: repository_namespace.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use rill_common::api::meta::NamespaceSelector;

    use super::*;

    fn acl(labels: &[(&str, &str)]) -> AccessFrom {
        AccessFrom {
            namespace_selectors: vec![NamespaceSelector {
                match_labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }],
        }
    }

    #[test]
    fn cross_namespace_reads_need_an_acl_that_selects_the_namespace() {
        let team: BTreeMap<String, String> = [("team".to_string(), "a".to_string())].into();
        let none = BTreeMap::new();
        let cases = [
            ("apps", "apps", None, &none, false, true),
            ("apps", "apps", None, &none, true, true),
            ("team-a", "images", None, &team, false, false),
            ("team-a", "images", Some(acl(&[])), &none, false, true),
            (
                "team-a",
                "images",
                Some(acl(&[("team", "a")])),
                &team,
                false,
                true,
            ),
            (
                "team-b",
                "images",
                Some(acl(&[("team", "a")])),
                &none,
                false,
                false,
            ),
            ("team-a", "images", Some(acl(&[])), &team, true, false),
        ];
        for (policy, repo, access, labels, lockdown, want) in cases {
            let got = allowed(policy, repo, access.as_ref(), labels, lockdown);
            assert_eq!(
                got.is_ok(),
                want,
                "{policy} -> {repo} {access:?} {lockdown}"
            );
        }
    }
}
