//! An unpacked artifact held in memory under a virtual root: directories, files, symbolic
//! links (followed as Linux follows them) and special files that exist but cannot be read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::ops::Bound;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::{EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, EntryKind, FileSystem, os_error};

/// One entry of a [`MemoryTree`].
#[derive(Clone)]
enum Node {
    File(Arc<[u8]>),
    Dir,
    /// The link's target as written.
    Link(PathBuf),
    Special,
}

/// A file tree held in memory under a virtual absolute root. Entries are added with paths
/// relative to the root; nothing outside the root exists.
#[derive(Clone)]
pub struct MemoryTree {
    root: PathBuf,
    nodes: BTreeMap<PathBuf, Node>,
    bytes: usize,
}

impl fmt::Debug for MemoryTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTree")
            .field("root", &self.root)
            .field("entries", &self.nodes.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// How many links one resolution may follow (Linux's limit).
const MAX_LINKS: usize = 40;

impl MemoryTree {
    /// An empty tree rooted at the absolute virtual path `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let mut nodes = BTreeMap::new();
        let mut at = PathBuf::new();
        for component in root.components() {
            at.push(component);
            if matches!(component, Component::Normal(_)) {
                nodes.insert(at.clone(), Node::Dir);
            }
        }
        Self {
            root,
            nodes,
            bytes: 0,
        }
    }

    /// The tree's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bytes of every file (the size a cache charges for the tree).
    pub fn size(&self) -> usize {
        self.bytes + self.nodes.len() * 64
    }

    /// Adds a directory and its parents.
    pub fn insert_dir(&mut self, relative: &Path) -> io::Result<()> {
        let path = self.within(relative)?;
        self.parents(&path)?;
        match self.nodes.get(&path) {
            Some(Node::Dir) => Ok(()),
            Some(_) => Err(os_error(ENOTDIR)),
            None => {
                self.nodes.insert(path, Node::Dir);
                Ok(())
            }
        }
    }

    /// Adds (or replaces) a regular file.
    pub fn insert_file(&mut self, relative: &Path, bytes: impl Into<Arc<[u8]>>) -> io::Result<()> {
        self.insert(relative, Node::File(bytes.into()))
    }

    /// Adds (or replaces) a symbolic link to `target` (as written in the link).
    pub fn insert_symlink(
        &mut self,
        relative: &Path,
        target: impl Into<PathBuf>,
    ) -> io::Result<()> {
        self.insert(relative, Node::Link(target.into()))
    }

    /// Adds a named pipe, socket or device: it exists, and reading it fails.
    pub fn insert_special(&mut self, relative: &Path) -> io::Result<()> {
        self.insert(relative, Node::Special)
    }

    fn insert(&mut self, relative: &Path, node: Node) -> io::Result<()> {
        let path = self.within(relative)?;
        self.parents(&path)?;
        if let Some(Node::Dir) = self.nodes.get(&path) {
            return Err(os_error(EISDIR));
        }
        if let Node::File(bytes) = &node {
            self.bytes += bytes.len();
        }
        if let Some(Node::File(old)) = self.nodes.insert(path, node) {
            self.bytes -= old.len();
        }
        Ok(())
    }

    /// The absolute path of a relative one that only descends.
    fn within(&self, relative: &Path) -> io::Result<PathBuf> {
        let mut out = self.root.clone();
        for component in relative.components() {
            match component {
                Component::Normal(part) => out.push(part),
                Component::CurDir => {}
                _ => return Err(os_error(EINVAL)),
            }
        }
        if out == self.root {
            return Err(os_error(EINVAL));
        }
        Ok(out)
    }

    /// Makes every parent of `path` below the root a directory.
    fn parents(&mut self, path: &Path) -> io::Result<()> {
        let mut parents: Vec<&Path> = path
            .ancestors()
            .skip(1)
            .take_while(|p| p.starts_with(&self.root) && *p != self.root)
            .collect();
        parents.reverse();
        for parent in parents {
            match self.nodes.get(parent) {
                Some(Node::Dir) => {}
                Some(_) => return Err(os_error(ENOTDIR)),
                None => {
                    self.nodes.insert(parent.to_path_buf(), Node::Dir);
                }
            }
        }
        Ok(())
    }

    /// Reads the directory `dir` of the disk into a tree rooted at `root`: files, links (as
    /// written) and special files (which stay unreadable), without following links.
    pub fn load(dir: &Path, root: impl Into<PathBuf>) -> io::Result<Self> {
        let mut tree = Self::new(root);
        let mut pending = vec![PathBuf::new()];
        while let Some(relative) = pending.pop() {
            for entry in std::fs::read_dir(dir.join(&relative))? {
                let entry = entry?;
                let name = relative.join(entry.file_name());
                let kind = entry.file_type()?;
                if kind.is_symlink() {
                    tree.insert_symlink(&name, std::fs::read_link(entry.path())?)?;
                } else if kind.is_dir() {
                    tree.insert_dir(&name)?;
                    pending.push(name);
                } else if kind.is_file() {
                    tree.insert_file(&name, std::fs::read(entry.path())?)?;
                } else {
                    tree.insert_special(&name)?;
                }
            }
        }
        Ok(tree)
    }

    /// Resolves `path` as Linux does, following every link: the resolved path and its node
    /// (`None` for a directory above the tree's entries, the root included). A relative path
    /// starts at the tree's root.
    fn resolve(&self, path: &Path) -> io::Result<(PathBuf, Option<&Node>)> {
        let mut pending = Vec::new();
        push_components(&mut pending, path);
        let mut out = if path.is_absolute() {
            PathBuf::from("/")
        } else {
            self.root.clone()
        };
        let mut node: Option<&Node> = None;
        let mut links = 0usize;
        while let Some(part) = pending.pop() {
            if matches!(node, Some(Node::File(_) | Node::Special)) {
                return Err(os_error(ENOTDIR));
            }
            if part == "/" {
                out = PathBuf::from("/");
                node = None;
            } else if part == ".." {
                out.pop();
                node = None;
            } else if part != "." {
                out.push(&part);
                match self.nodes.get(&out) {
                    None => return Err(os_error(ENOENT)),
                    Some(Node::Link(target)) => {
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(os_error(ELOOP));
                        }
                        out.pop();
                        node = None;
                        push_components(&mut pending, target);
                    }
                    Some(found) => node = Some(found),
                }
            }
        }
        Ok((out, node))
    }
}

/// Pushes the components of `path` onto `pending`, the first one last (popped first).
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    for component in path.components().rev() {
        pending.push(match component {
            Component::RootDir => OsString::from("/"),
            Component::ParentDir => OsString::from(".."),
            Component::CurDir => OsString::from("."),
            Component::Normal(part) => part.to_os_string(),
            Component::Prefix(prefix) => prefix.as_os_str().to_os_string(),
        });
    }
}

impl FileSystem for MemoryTree {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.resolve(path).map(|(path, _)| path)
    }

    fn kind(&self, path: &Path) -> Option<EntryKind> {
        match self.resolve(path).ok()?.1 {
            None | Some(Node::Dir) => Some(EntryKind::Dir),
            Some(Node::File(_)) => Some(EntryKind::File),
            Some(Node::Special | Node::Link(_)) => Some(EntryKind::Special),
        }
    }

    fn read(&self, path: &Path) -> io::Result<Cow<'_, [u8]>> {
        match self.resolve(path)?.1 {
            Some(Node::File(bytes)) => Ok(Cow::Borrowed(bytes)),
            None | Some(Node::Dir) => Err(os_error(EISDIR)),
            Some(Node::Special | Node::Link(_)) => Err(os_error(EINVAL)),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let (dir, node) = self.resolve(path)?;
        if !matches!(node, None | Some(Node::Dir)) {
            return Err(os_error(ENOTDIR));
        }
        let depth = dir.components().count() + 1;
        Ok(self
            .nodes
            .range::<Path, _>((Bound::Excluded(dir.as_path()), Bound::Unbounded))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(&dir))
            .filter(|p| p.components().count() == depth)
            .filter_map(|p| p.file_name().map(|name| path.join(name)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_system::{EISDIR, ELOOP, ENOENT, ENOTDIR};

    fn tree() -> MemoryTree {
        let mut tree = MemoryTree::new("/r");
        tree.insert_file(Path::new("a/f.yaml"), b"f".as_slice())
            .unwrap_or_else(|e| panic!("{e}"));
        tree.insert_symlink(Path::new("a/to-f"), "f.yaml")
            .unwrap_or_else(|e| panic!("{e}"));
        tree.insert_symlink(Path::new("b"), "a")
            .unwrap_or_else(|e| panic!("{e}"));
        tree.insert_symlink(Path::new("up"), "../..")
            .unwrap_or_else(|e| panic!("{e}"));
        tree.insert_symlink(Path::new("loop"), "loop")
            .unwrap_or_else(|e| panic!("{e}"));
        tree.insert_special(Path::new("pipe"))
            .unwrap_or_else(|e| panic!("{e}"));
        tree
    }

    #[test]
    fn paths_resolve_as_linux_resolves_them() {
        let tree = tree();
        let cases: [(&str, Result<&str, i32>); 11] = [
            ("/r/a/f.yaml", Ok("/r/a/f.yaml")),
            ("/r/a/../a/./f.yaml", Ok("/r/a/f.yaml")),
            ("/r/b/to-f", Ok("/r/a/f.yaml")),
            ("/r/b/../a", Ok("/r/a")),
            ("a/f.yaml", Ok("/r/a/f.yaml")),
            ("/r/up", Ok("/")),
            ("/r/../etc/passwd", Err(ENOENT)),
            ("/r/up/etc", Err(ENOENT)),
            ("/r/a/f.yaml/..", Err(ENOTDIR)),
            ("/r/loop", Err(ELOOP)),
            ("/r/missing", Err(ENOENT)),
        ];
        for (path, want) in cases {
            let got = tree
                .canonicalize(Path::new(path))
                .map_err(|e| e.raw_os_error().unwrap_or(0));
            assert_eq!(got, want.map(PathBuf::from), "{path}");
        }
    }

    #[test]
    fn only_regular_files_read_and_directories_list_their_entries() {
        let tree = tree();
        assert_eq!(
            tree.read(Path::new("/r/b/to-f")).ok().as_deref(),
            Some(b"f".as_slice())
        );
        assert_eq!(tree.kind(Path::new("/r/pipe")), Some(EntryKind::Special));
        assert!(tree.read(Path::new("/r/pipe")).is_err());
        assert_eq!(
            tree.read(Path::new("/r/a"))
                .map_err(|e| e.raw_os_error())
                .err(),
            Some(Some(EISDIR))
        );
        assert_eq!(tree.kind(Path::new("/r/b")), Some(EntryKind::Dir));
        assert_eq!(
            tree.read_dir(Path::new("/r/b")).ok(),
            Some(vec![
                PathBuf::from("/r/b/f.yaml"),
                PathBuf::from("/r/b/to-f")
            ])
        );
        assert!(
            tree.clone()
                .insert_file(Path::new("../x"), b"".as_slice())
                .is_err()
        );
        assert!(
            tree.clone()
                .insert_file(Path::new("a/f.yaml/x"), b"".as_slice())
                .is_err()
        );
        assert_eq!(tree.size(), 1 + tree.nodes.len() * 64);
    }
}
