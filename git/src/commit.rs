//! Changing a repository: clone one branch into a work tree, commit every change in it with
//! a given author (optionally signed), and push refspecs back, over the same transports,
//! credentials and redaction as fetches.

use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{IndexAddOption, Oid, PushOptions, Repository, Signature};

use crate::auth::Credentials;
use crate::{GitError, callbacks, classify, fetch_options, networked};

/// Who a commit is by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    /// `git.commit.author.name`.
    pub name: String,
    /// `git.commit.author.email`.
    pub email: String,
}

/// Signs a commit: takes the commit's bytes, returns the armored signature (`gpgsig`).
pub type Signer<'a> = &'a dyn Fn(&str) -> Result<String, GitError>;

/// Clones `branch` of `url` into `dir` (an empty directory) with its history and checks it
/// out as the local branch `branch`.
pub fn clone_branch(
    url: &str,
    creds: &Credentials,
    branch: &str,
    dir: &Path,
) -> Result<Repository, GitError> {
    networked(creds, || {
        let secrets = creds.secrets();
        let err = |e: git2::Error| classify(e, &secrets);
        let repo = Repository::init(dir).map_err(err)?;
        let tracking = format!("refs/remotes/origin/{branch}");
        {
            let mut remote = repo
                .remote("origin", &crate::connect_url(url)?)
                .map_err(err)?;
            let mut fo = fetch_options(creds, url);
            let refspec = format!("+refs/heads/{branch}:{tracking}");
            remote
                .fetch(&[&refspec], Some(&mut fo), None)
                .map_err(err)?;
        }
        let oid = repo
            .refname_to_id(&tracking)
            .map_err(|_| GitError::NotFound(format!("branch '{branch}' not found")))?;
        let commit = repo.find_commit(oid).map_err(err)?;
        repo.branch(branch, &commit, true).map_err(err)?;
        repo.set_head(&format!("refs/heads/{branch}"))
            .map_err(err)?;
        repo.checkout_head(Some(CheckoutBuilder::new().force()))
            .map_err(err)?;
        drop(commit);
        Ok(repo)
    })
}

/// Points the work tree's HEAD at a new local branch `branch` starting from the current
/// commit (for pushing to a branch other than the one checked out).
pub fn switch_to_new_branch(repo: &Repository, branch: &str) -> Result<(), GitError> {
    let err = |e: git2::Error| classify(e, &[]);
    let head = repo.head().map_err(err)?.peel_to_commit().map_err(err)?;
    repo.branch(branch, &head, true).map_err(err)?;
    repo.set_head(&format!("refs/heads/{branch}")).map_err(err)
}

/// Stages every change of the work tree (new, changed and deleted files) and commits it on
/// HEAD. Returns `None` when nothing changed.
pub fn commit_all(
    repo: &Repository,
    author: &Author,
    message: &str,
    signer: Option<Signer<'_>>,
) -> Result<Option<Oid>, GitError> {
    let err = |e: git2::Error| classify(e, &[]);
    let mut index = repo.index().map_err(err)?;
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .map_err(err)?;
    index.update_all(["*"], None).map_err(err)?;
    index.write().map_err(err)?;
    let tree_id = index.write_tree().map_err(err)?;
    let head = repo.head().map_err(err)?;
    let parent = head.peel_to_commit().map_err(err)?;
    if parent.tree_id() == tree_id {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id).map_err(err)?;
    let signature = Signature::now(&author.name, &author.email)
        .map_err(|e| GitError::Other(format!("invalid commit author: {}", e.message())))?;
    let oid = match signer {
        None => repo
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                message,
                &tree,
                &[&parent],
            )
            .map_err(err)?,
        Some(sign) => {
            let buffer = repo
                .commit_create_buffer(&signature, &signature, message, &tree, &[&parent])
                .map_err(err)?;
            let content = std::str::from_utf8(&buffer)
                .map_err(|_| GitError::Other("commit is not valid UTF-8".into()))?;
            let gpgsig = sign(content)?;
            let oid = repo
                .commit_signed(content, &gpgsig, Some("gpgsig"))
                .map_err(err)?;
            let name = head
                .name()
                .map_err(|_| GitError::Other("HEAD is not a branch".into()))?
                .to_string();
            repo.reference(&name, oid, true, "commit (signed)")
                .map_err(err)?;
            oid
        }
    };
    Ok(Some(oid))
}

/// Pushes `refspecs` to `url` with push `options` (`git push -o`). A reference the server
/// refuses (not a fast-forward, a hook) fails the push with the server's words.
pub fn push(
    repo: &Repository,
    url: &str,
    creds: &Credentials,
    refspecs: &[String],
    options: &[String],
) -> Result<(), GitError> {
    networked(creds, || {
        let secrets = creds.secrets();
        let err = |e: git2::Error| classify(e, &secrets);
        let mut remote = repo
            .remote_anonymous(&crate::connect_url(url)?)
            .map_err(err)?;
        let rejected = std::cell::RefCell::new(Vec::<String>::new());
        let mut cb = callbacks(creds, url);
        cb.push_update_reference(|name, status| {
            if let Some(status) = status {
                rejected.borrow_mut().push(format!("{name}: {status}"));
            }
            Ok(())
        });
        let mut po = PushOptions::new();
        po.remote_callbacks(cb);
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        if !options.is_empty() {
            po.remote_push_options(&options);
        }
        let specs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
        remote.push(&specs, Some(&mut po)).map_err(err)?;
        drop(po);
        let rejected = rejected.into_inner();
        if rejected.is_empty() {
            Ok(())
        } else {
            Err(GitError::Other(format!(
                "push rejected: {}",
                rejected.join("; ")
            )))
        }
    })
}
