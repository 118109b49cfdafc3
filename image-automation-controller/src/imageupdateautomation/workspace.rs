//! The Git side of a run, blocking (run it on the blocking pool): clone the checkout branch,
//! move to the push branch, apply the setters to every considered file under `update.path`,
//! commit and push (then push the extra refspec with the push options).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use rill_common::api::image_v1::ImageRef;
use rill_git::GitError;
use rill_git::auth::Credentials;
use rill_git::commit::{Author, clone_branch, commit_all, push, switch_to_new_branch};
use rill_git::sign::CommitSigner;

use super::message::{self, MessageError, ObjectId};
use super::plan::Plan;
use super::setters;

/// One file's changes (paths relative to `update.path`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    /// The file.
    pub file: String,
    /// The values set.
    pub changes: Vec<setters::LineChange>,
    /// The object each value was set in (parallel to `changes`).
    pub objects: Vec<ObjectId>,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to change; the checkout was at `commit`.
    UpToDate {
        /// The checked-out commit (hex).
        commit: String,
    },
    /// A commit was pushed.
    Pushed {
        /// The pushed commit (hex).
        commit: String,
        /// The files changed.
        files: Vec<FileChange>,
        /// The commit message.
        message: String,
    },
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// Git failed (clone, commit or push); credentials already redacted.
    #[error("{0}")]
    Git(#[from] GitError),
    /// `update.path` leaves the repository or does not exist.
    #[error("{0}")]
    Path(String),
    /// Reading or writing the work tree failed.
    #[error("{0}")]
    Io(String),
    /// The signing key cannot be used.
    #[error("{0}")]
    Signer(String),
    /// The commit message template failed.
    #[error(transparent)]
    Message(#[from] MessageError),
}

fn join_inside(root: &Path, relative: &str) -> Result<PathBuf, WorkspaceError> {
    let mut out = root.to_path_buf();
    for part in Path::new(relative).components() {
        match part {
            Component::Normal(c) => out.push(c),
            Component::CurDir | Component::RootDir => {}
            _ => {
                return Err(WorkspaceError::Path(format!(
                    "update.path '{relative}' leaves the repository"
                )));
            }
        }
    }
    Ok(out)
}

/// Applies the setters to every considered file under `root` (links are not followed).
fn apply_setters(
    root: &Path,
    policies: &BTreeMap<String, ImageRef>,
) -> Result<Vec<FileChange>, WorkspaceError> {
    let mut changed = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git");
    for entry in walker {
        let entry = entry.map_err(|e| WorkspaceError::Io(e.to_string()))?;
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || !setters::considered(&name) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if !text.contains(setters::TOKEN) || kustomize::yaml::read_documents(&text).is_err() {
            continue;
        }
        if let Some((updated, changes)) = setters::apply(&text, policies) {
            std::fs::write(entry.path(), updated).map_err(|e| WorkspaceError::Io(e.to_string()))?;
            let file = entry
                .path()
                .strip_prefix(root)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .into_owned();
            let documents = message::objects_by_line(&text);
            let objects = changes
                .iter()
                .map(|c| {
                    documents
                        .iter()
                        .find(|(first, last, _)| (*first..=*last).contains(&c.line))
                        .map(|(_, _, id)| id.clone())
                        .unwrap_or_default()
                })
                .collect();
            changed.push(FileChange {
                file,
                changes,
                objects,
            });
        }
    }
    Ok(changed)
}

/// Checks out the commit a tag, semver range, commit or ref name resolves to (with its
/// history, so a branch can be pushed from it).
fn checkout_pinned(
    url: &str,
    creds: &Credentials,
    reference: &rill_common::api::source_v1::GitRepositoryRef,
    dir: &Path,
) -> Result<git2::Repository, WorkspaceError> {
    let scratch = tempfile::tempdir().map_err(|e| WorkspaceError::Io(e.to_string()))?;
    let remote = rill_git::ls_remote(url, creds, scratch.path())?;
    let target = rill_git::reference::resolve(reference, &remote).map_err(|e| match e {
        rill_git::reference::RefError::Invalid(m) => WorkspaceError::Path(m),
        rill_git::reference::RefError::NotFound(m) => WorkspaceError::Git(GitError::NotFound(m)),
    })?;
    let plan = rill_git::FetchPlan {
        refspecs: target.refspecs,
        depth: None,
        commit: target.commit,
        sparse: Vec::new(),
        submodules: false,
    };
    rill_git::checkout(url, creds, &plan, dir)?;
    git2::Repository::open(dir).map_err(|e| WorkspaceError::Io(e.message().to_string()))
}

/// Runs the plan against `url` in the empty directory `dir`, signing the commit with `signer`.
pub fn run(
    url: &str,
    creds: &Credentials,
    plan: &Plan,
    policies: &BTreeMap<String, ImageRef>,
    signer: Option<&CommitSigner>,
    dir: &Path,
) -> Result<Outcome, WorkspaceError> {
    let repo = match &plan.checkout_ref {
        None => clone_branch(url, creds, &plan.checkout, dir)?,
        Some(reference) => checkout_pinned(url, creds, reference, dir)?,
    };
    if plan.push != plan.checkout || plan.checkout_ref.is_some() {
        switch_to_new_branch(&repo, &plan.push)?;
    }
    let head = |repo: &git2::Repository| {
        repo.head()
            .ok()
            .and_then(|h| h.target())
            .map(|oid| oid.to_string())
            .unwrap_or_default()
    };
    let root = join_inside(dir, &plan.path)?;
    if !root.is_dir() {
        return Err(WorkspaceError::Path(format!(
            "update.path '{}' does not exist in the repository",
            plan.path
        )));
    }
    let files = apply_setters(&root, policies)?;
    let author = Author {
        name: plan.author.0.clone(),
        email: plan.author.1.clone(),
    };
    let text = if files.is_empty() {
        String::new()
    } else {
        let changes: Vec<message::Change> = files
            .iter()
            .flat_map(|f| {
                f.changes
                    .iter()
                    .zip(&f.objects)
                    .map(|(c, object)| message::Change {
                        file: f.file.clone(),
                        object: object.clone(),
                        old: c.old.clone(),
                        new: c.new.clone(),
                        setter: c.setter.clone(),
                    })
            })
            .collect();
        let (namespace, name) = &plan.automation;
        let data = message::template_data(namespace, name, &changes, plan.message_values.as_ref());
        message::render(&plan.message_template, &data)?
    };
    let Some(commit) = (if files.is_empty() {
        None
    } else {
        let sign = |content: &str| signer.map_or(Ok(String::new()), |s| s.sign(content));
        commit_all(&repo, &author, &text, signer.map(|_| &sign as _))?
    }) else {
        return Ok(Outcome::UpToDate {
            commit: head(&repo),
        });
    };
    // A branch other than the checkout is the automation's own: it is force-pushed, as Flux does.
    let force = if plan.push == plan.checkout { "" } else { "+" };
    let branch = format!("{force}refs/heads/{0}:refs/heads/{0}", plan.push);
    push(&repo, url, creds, &[branch], &plan.options)?;
    if let Some(refspec) = &plan.refspec {
        push(
            &repo,
            url,
            creds,
            std::slice::from_ref(refspec),
            &plan.options,
        )?;
    }
    Ok(Outcome::Pushed {
        commit: commit.to_string(),
        files,
        message: text,
    })
}
