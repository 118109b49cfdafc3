//! The tags of every ImageRepository on disk under `--storage-path`
//! (`imagerepository/<namespace>/<name>/tags.txt`, one tag per line, written atomically), so a
//! restart keeps them and the controller does not hold every tag of every repository in memory.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The tag database of one controller.
#[derive(Clone, Debug)]
pub struct TagStore {
    root: PathBuf,
}

fn safe(component: &str) -> bool {
    !component.is_empty() && component != "." && component != ".." && !component.contains('/')
}

impl TagStore {
    /// A store under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn file(&self, namespace: &str, name: &str) -> io::Result<PathBuf> {
        if !(safe(namespace) && safe(name)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid object name",
            ));
        }
        Ok(self
            .root
            .join("imagerepository")
            .join(namespace)
            .join(name)
            .join("tags.txt"))
    }

    /// Replaces the tags of `namespace/name` (atomically: a reader sees the old or the new list).
    pub fn write(&self, namespace: &str, name: &str, tags: &[String]) -> io::Result<()> {
        let file = self.file(namespace, name)?;
        let dir = file.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut out = io::BufWriter::new(tmp.as_file_mut());
            for tag in tags {
                out.write_all(tag.as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        tmp.persist(&file).map_err(|e| e.error)?;
        Ok(())
    }

    /// Whether tags of `namespace/name` are stored (without reading them).
    pub fn contains(&self, namespace: &str, name: &str) -> io::Result<bool> {
        self.file(namespace, name)?.try_exists()
    }

    /// The tags of `namespace/name`, or `None` when none were ever stored.
    pub fn read(&self, namespace: &str, name: &str) -> io::Result<Option<Vec<String>>> {
        match fs::read_to_string(self.file(namespace, name)?) {
            Ok(text) => Ok(Some(text.lines().map(str::to_string).collect())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Forgets `namespace/name` (its object was deleted).
    pub fn remove(&self, namespace: &str, name: &str) -> io::Result<()> {
        let file = self.file(namespace, name)?;
        match file.parent().map(fs::remove_dir_all) {
            Some(Err(e)) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_survive_a_new_store_and_removal_forgets_them() {
        let dir = tempfile::tempdir().unwrap();
        let tags: Vec<String> = vec!["1.0.0".into(), "1.1.0".into()];
        TagStore::new(dir.path())
            .write("apps", "web", &tags)
            .unwrap();
        let again = TagStore::new(dir.path());
        assert_eq!(again.read("apps", "web").unwrap(), Some(tags));
        assert_eq!(again.read("apps", "other").unwrap(), None);
        assert!(again.contains("apps", "web").unwrap());
        assert!(!again.contains("apps", "other").unwrap());
        again.remove("apps", "web").unwrap();
        assert_eq!(again.read("apps", "web").unwrap(), None);
        assert!(again.write("..", "web", &[]).is_err());
    }
}
