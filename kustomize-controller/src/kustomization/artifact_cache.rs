//! Unpacked artifacts kept in memory, keyed by digest and shared by every Kustomization on
//! that revision: one download, one verification and one unpack per revision, however many
//! Kustomizations build from it, and no disk write on the way to a build. Bounded by a size
//! budget; the least recently used trees leave first.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use kustomize::file_system::MemoryTree;
use rill_common::api::meta::Artifact;
use rill_common::artifact::{FetchError, Fetcher, UnpackedTree};
use tokio::sync::OnceCell;

/// Where every cached artifact is mounted for the engine (a virtual path, never the disk).
pub const ARTIFACT_ROOT: &str = "/artifact";

/// What the cache did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Artifacts downloaded, verified and unpacked.
    pub unpacked: u64,
    /// Builds served a tree already in memory (or being unpacked for another build).
    pub hits: u64,
    /// Trees dropped to stay within the budget.
    pub evicted: u64,
    /// Trees held now.
    pub entries: usize,
    /// Their size, in bytes.
    pub bytes: usize,
}

struct Slot {
    tree: Arc<OnceCell<Arc<MemoryTree>>>,
    last_used: u64,
}

#[derive(Default)]
struct Slots {
    by_digest: HashMap<String, Slot>,
    clock: u64,
    stats: CacheStats,
}

/// Unpacked artifacts by digest, within `budget` bytes.
pub struct ArtifactCache {
    fetcher: Fetcher,
    budget: usize,
    slots: Mutex<Slots>,
}

impl ArtifactCache {
    /// An empty cache downloading with `fetcher`, holding at most `budget` bytes of trees.
    pub fn new(fetcher: Fetcher, budget: usize) -> Self {
        Self {
            fetcher,
            budget,
            slots: Mutex::new(Slots::default()),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the cache did so far.
    pub fn stats(&self) -> CacheStats {
        self.slots().stats
    }

    /// The artifact's files, downloaded, verified and unpacked once per digest; builds asking
    /// while another unpacks it wait for that one.
    pub async fn get(&self, artifact: &Artifact) -> Result<Arc<MemoryTree>, FetchError> {
        let digest = artifact.digest.clone().ok_or(FetchError::MissingDigest)?;
        let cell = {
            let mut slots = self.slots();
            slots.clock += 1;
            let now = slots.clock;
            let slot = slots
                .by_digest
                .entry(digest.clone())
                .or_insert_with(|| Slot {
                    tree: Arc::new(OnceCell::new()),
                    last_used: now,
                });
            slot.last_used = now;
            slot.tree.clone()
        };
        let fresh = AtomicBool::new(false);
        let tree = cell
            .get_or_try_init(|| async {
                fresh.store(true, Ordering::Relaxed);
                let unpacked = self.fetcher.fetch_to_memory(artifact).await?;
                tree_of(unpacked).map(Arc::new)
            })
            .await;
        let mut slots = self.slots();
        match tree {
            Ok(tree) => {
                if fresh.load(Ordering::Relaxed) {
                    slots.stats.unpacked += 1;
                    self.evict(&mut slots, &digest);
                } else {
                    slots.stats.hits += 1;
                }
                Ok(tree.clone())
            }
            Err(e) => {
                // A failed download leaves nothing behind; the next build tries again.
                if slots
                    .by_digest
                    .get(&digest)
                    .is_some_and(|s| !s.tree.initialized())
                {
                    slots.by_digest.remove(&digest);
                }
                Err(e)
            }
        }
    }

    /// Drops the least recently used trees until the rest fit the budget; a tree larger than
    /// the whole budget is used once and not kept.
    fn evict(&self, slots: &mut Slots, fresh: &str) {
        let oversized = slots
            .by_digest
            .get(fresh)
            .and_then(|s| s.tree.get())
            .is_some_and(|t| t.size() > self.budget);
        if oversized {
            slots.by_digest.remove(fresh);
            slots.stats.evicted += 1;
        }
        loop {
            let sized: Vec<(&String, u64, usize)> = slots
                .by_digest
                .iter()
                .filter_map(|(d, s)| s.tree.get().map(|t| (d, s.last_used, t.size())))
                .collect();
            let used: usize = sized.iter().map(|(_, _, size)| size).sum();
            slots.stats.entries = sized.len();
            slots.stats.bytes = used;
            if used <= self.budget {
                return;
            }
            let oldest = sized
                .iter()
                .filter(|(d, _, _)| d.as_str() != fresh)
                .min_by_key(|(_, used, _)| *used)
                .map(|(d, _, _)| (*d).clone());
            let Some(oldest) = oldest else {
                return;
            };
            slots.by_digest.remove(&oldest);
            slots.stats.evicted += 1;
        }
    }
}

/// The engine's tree of an unpacked artifact, mounted at [`ARTIFACT_ROOT`].
fn tree_of(unpacked: UnpackedTree) -> Result<MemoryTree, FetchError> {
    let mut tree = MemoryTree::new(ARTIFACT_ROOT);
    let fail = |path: &Path, e: std::io::Error| {
        FetchError::Io(std::io::Error::new(
            e.kind(),
            format!("cannot hold {} in memory: {e}", path.display()),
        ))
    };
    for dir in &unpacked.dirs {
        tree.insert_dir(dir).map_err(|e| fail(dir, e))?;
    }
    for (path, bytes) in unpacked.files {
        tree.insert_file(&path, bytes).map_err(|e| fail(&path, e))?;
    }
    for (path, target) in unpacked.symlinks {
        tree.insert_symlink(&path, target)
            .map_err(|e| fail(&path, e))?;
    }
    Ok(tree)
}
