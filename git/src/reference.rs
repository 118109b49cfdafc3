//! Which commit a GitRepository reference wants (Flux's ref precedence: commit, name, semver,
//! tag, branch, default `master`), what to fetch for it, and Flux's revision strings. Shared
//! by the source-controller and the image automation's checkout (pure).

use rill_common::api::source_v1::GitRepositoryRef;
use rill_common::semver_range::{Constraint, highest_matching};

use crate::RemoteRef;

/// The resolved target of a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Flux's revision string (`main@sha1:<hex>`, `sha1:<hex>`...).
    pub revision: String,
    /// The commit to check out.
    pub commit: String,
    /// Refspecs to fetch.
    pub refspecs: Vec<String>,
    /// Shallow depth (`None` for a full fetch).
    pub depth: Option<i32>,
}

/// A reference that cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The spec itself is wrong (needs a human).
    #[error("{0}")]
    Invalid(String),
    /// The remote has no such reference.
    #[error("{0}")]
    NotFound(String),
}

fn revision(short: &str, commit: &str) -> String {
    format!("{short}@sha1:{commit}")
}

fn find<'a>(remote: &'a [RemoteRef], name: &str) -> Option<&'a RemoteRef> {
    remote.iter().find(|r| r.name == name)
}

/// Resolves a reference against the remote's advertised references.
pub fn resolve(reference: &GitRepositoryRef, remote: &[RemoteRef]) -> Result<Target, RefError> {
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    if let Some(commit) = non_empty(&reference.commit) {
        if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RefError::Invalid(format!(
                "invalid commit '{commit}': a full 40 character SHA-1 is required"
            )));
        }
        let commit = commit.to_ascii_lowercase();
        return Ok(match non_empty(&reference.branch) {
            Some(branch) => Target {
                revision: revision(&branch, &commit),
                refspecs: vec![format!("+refs/heads/{branch}:refs/remotes/origin/{branch}")],
                commit,
                depth: None,
            },
            None => Target {
                revision: format!("sha1:{commit}"),
                refspecs: vec![
                    "+refs/heads/*:refs/remotes/origin/*".into(),
                    "+refs/tags/*:refs/tags/*".into(),
                ],
                commit,
                depth: None,
            },
        });
    }
    if let Some(name) = non_empty(&reference.name) {
        if !name.starts_with("refs/") {
            return Err(RefError::Invalid(format!(
                "invalid ref name '{name}': must start with 'refs/'"
            )));
        }
        let found = find(remote, &name).ok_or_else(|| {
            RefError::NotFound(format!(
                "unable to resolve ref '{name}' to a specific commit"
            ))
        })?;
        return Ok(Target {
            revision: revision(&name, &found.commit),
            commit: found.commit.clone(),
            refspecs: vec![format!("+{name}:refs/rill/target")],
            depth: Some(1),
        });
    }
    if let Some(range) = non_empty(&reference.semver) {
        let constraint = Constraint::parse(&range).map_err(|e| RefError::Invalid(e.to_string()))?;
        let tags = remote
            .iter()
            .filter_map(|r| r.name.strip_prefix("refs/tags/"));
        let tag = highest_matching(&constraint, tags)
            .ok_or_else(|| RefError::NotFound(format!("no match found for semver: {range}")))?;
        return tag_target(remote, tag);
    }
    if let Some(tag) = non_empty(&reference.tag) {
        return tag_target(remote, &tag);
    }
    let branch = non_empty(&reference.branch).unwrap_or_else(|| "master".to_string());
    let found = find(remote, &format!("refs/heads/{branch}")).ok_or_else(|| {
        RefError::NotFound(format!(
            "unable to clone: couldn't find remote ref 'refs/heads/{branch}'"
        ))
    })?;
    Ok(Target {
        revision: revision(&branch, &found.commit),
        commit: found.commit.clone(),
        refspecs: vec![format!("+refs/heads/{branch}:refs/remotes/origin/{branch}")],
        depth: Some(1),
    })
}

fn tag_target(remote: &[RemoteRef], tag: &str) -> Result<Target, RefError> {
    let found = find(remote, &format!("refs/tags/{tag}")).ok_or_else(|| {
        RefError::NotFound(format!(
            "unable to clone: couldn't find remote ref 'refs/tags/{tag}'"
        ))
    })?;
    Ok(Target {
        revision: revision(tag, &found.commit),
        commit: found.commit.clone(),
        refspecs: vec![format!("+refs/tags/{tag}:refs/tags/{tag}")],
        depth: Some(1),
    })
}

/// The commit hash of a Flux revision string (`main@sha1:abc` -> `abc`, legacy `main/abc`).
pub fn commit_of(revision: &str) -> &str {
    revision
        .rsplit_once("@sha1:")
        .map(|(_, c)| c)
        .or_else(|| revision.strip_prefix("sha1:"))
        .unwrap_or(revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

    fn remote() -> Vec<RemoteRef> {
        let r = |name: &str, commit: &str| RemoteRef {
            name: name.into(),
            commit: commit.into(),
        };
        vec![
            r("HEAD", A),
            r("refs/heads/master", A),
            r("refs/heads/main", B),
            r("refs/heads/feature/x", C),
            r("refs/tags/v1.0.0", A),
            r("refs/tags/v1.2.0", B),
            r("refs/tags/v2.0.0-rc.1", C),
            r("refs/pull/420/head", C),
        ]
    }

    fn reference(f: impl FnOnce(&mut GitRepositoryRef)) -> GitRepositoryRef {
        let mut r = GitRepositoryRef::default();
        f(&mut r);
        r
    }

    #[test]
    fn precedence_and_revision_strings_follow_flux() {
        let cases: Vec<(GitRepositoryRef, &str)> = vec![
            (
                reference(|_| {}),
                "master@sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ),
            (
                reference(|r| r.branch = Some("main".into())),
                "main@sha1:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            ),
            (
                reference(|r| r.branch = Some("feature/x".into())),
                "feature/x@sha1:cccccccccccccccccccccccccccccccccccccccc",
            ),
            (
                reference(|r| {
                    r.branch = Some("main".into());
                    r.tag = Some("v1.0.0".into())
                }),
                "v1.0.0@sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ),
            (
                reference(|r| {
                    r.tag = Some("v1.0.0".into());
                    r.semver = Some(">=1.0.0".into())
                }),
                "v1.2.0@sha1:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            ),
            (
                reference(|r| r.semver = Some(">=1.0.0-0".into())),
                "v2.0.0-rc.1@sha1:cccccccccccccccccccccccccccccccccccccccc",
            ),
            (
                reference(|r| {
                    r.semver = Some("*".into());
                    r.name = Some("refs/pull/420/head".into())
                }),
                "refs/pull/420/head@sha1:cccccccccccccccccccccccccccccccccccccccc",
            ),
            (
                reference(|r| {
                    r.name = Some("refs/pull/420/head".into());
                    r.commit = Some(B.into())
                }),
                "sha1:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            ),
            (
                reference(|r| {
                    r.branch = Some("main".into());
                    r.commit = Some(A.into())
                }),
                "main@sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(resolve(&r, &remote()).unwrap().revision, want, "{r:?}");
        }
    }

    #[test]
    fn shallow_fetches_except_for_commits() {
        assert_eq!(
            resolve(&reference(|r| r.branch = Some("main".into())), &remote())
                .unwrap()
                .depth,
            Some(1)
        );
        let by_commit = resolve(&reference(|r| r.commit = Some(A.into())), &remote()).unwrap();
        assert_eq!(by_commit.depth, None);
        assert_eq!(by_commit.commit, A);
    }

    #[test]
    fn missing_and_invalid_references_are_errors() {
        let cases = [
            (reference(|r| r.branch = Some("nope".into())), false),
            (reference(|r| r.tag = Some("v9".into())), false),
            (reference(|r| r.semver = Some(">=5.0.0".into())), false),
            (reference(|r| r.semver = Some("not a range".into())), true),
            (reference(|r| r.commit = Some("abc".into())), true),
            (reference(|r| r.name = Some("main".into())), true),
        ];
        for (r, invalid) in cases {
            let err = resolve(&r, &remote()).unwrap_err();
            assert_eq!(matches!(err, RefError::Invalid(_)), invalid, "{r:?}: {err}");
        }
    }

    #[test]
    fn commits_come_out_of_revisions() {
        assert_eq!(commit_of("main@sha1:abc"), "abc");
        assert_eq!(commit_of("sha1:abc"), "abc");
        assert_eq!(commit_of("feature/x@sha1:abc"), "abc");
    }
}
