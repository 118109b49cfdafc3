//! Which files of a checkout go into the artifact: Flux's VCS exclusions (always), its default
//! exclusions (only when no `.sourceignore` or `spec.ignore` pattern exists), `.sourceignore`
//! files scoped to their directory, and `spec.ignore` last so it can re-include with `!`.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Always excluded.
pub const VCS_PATTERNS: &[&str] = &[".git/", ".gitignore", ".gitmodules", ".gitattributes"];

/// Excluded unless the user gave patterns of their own.
pub const DEFAULT_PATTERNS: &[&str] = &[
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// A `.sourceignore` or `spec.ignore` pattern that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid ignore pattern in {source_name}: {message}")]
pub struct IgnoreError {
    /// Where the pattern came from.
    pub source_name: String,
    /// The parser's message.
    pub message: String,
}

/// The ignore rules of one checkout.
pub struct IgnoreRules {
    root: PathBuf,
    /// Matchers in evaluation order; later ones override earlier ones.
    matchers: Vec<Gitignore>,
}

fn patterns(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect()
}

fn build(root: &Path, lines: &[&str], source_name: &str) -> Result<Gitignore, IgnoreError> {
    let mut builder = GitignoreBuilder::new(root);
    for line in lines {
        builder.add_line(None, line).map_err(|e| IgnoreError {
            source_name: source_name.into(),
            message: e.to_string(),
        })?;
    }
    builder.build().map_err(|e| IgnoreError {
        source_name: source_name.into(),
        message: e.to_string(),
    })
}

impl IgnoreRules {
    /// Loads the rules of the checkout at `root`.
    pub fn load(root: &Path, spec_ignore: Option<&str>) -> Result<Self, IgnoreError> {
        let mut sourceignores: Vec<(PathBuf, String)> = Vec::new();
        for entry in walkdir(root) {
            if entry.file_name().is_some_and(|n| n == ".sourceignore") {
                let text = std::fs::read_to_string(&entry).map_err(|e| IgnoreError {
                    source_name: entry.display().to_string(),
                    message: e.to_string(),
                })?;
                sourceignores.push((entry.parent().unwrap_or(root).to_path_buf(), text));
            }
        }
        Self::from_sources(root, sourceignores, spec_ignore)
    }

    /// The rules of a tree rooted at `root` (which need not exist on disk) given its
    /// `.sourceignore` files as (directory, content) pairs, in walk order.
    pub fn from_sources(
        root: &Path,
        sourceignores: Vec<(PathBuf, String)>,
        spec_ignore: Option<&str>,
    ) -> Result<Self, IgnoreError> {
        let spec_lines = spec_ignore.map(patterns).unwrap_or_default();
        let user_patterns =
            !spec_lines.is_empty() || sourceignores.iter().any(|(_, t)| !patterns(t).is_empty());
        let mut base: Vec<&str> = VCS_PATTERNS.to_vec();
        if !user_patterns {
            base.extend_from_slice(DEFAULT_PATTERNS);
        }
        let mut matchers = vec![build(root, &base, "default exclusions")?];
        for (dir, text) in &sourceignores {
            matchers.push(build(
                dir,
                &patterns(text),
                &dir.join(".sourceignore").display().to_string(),
            )?);
        }
        if !spec_lines.is_empty() {
            matchers.push(build(root, &spec_lines, "spec.ignore")?);
        }
        Ok(Self {
            root: root.to_path_buf(),
            matchers,
        })
    }

    /// Whether a path relative to the checkout root is excluded.
    pub fn excluded(&self, relative: &Path, is_dir: bool) -> bool {
        let full = self.root.join(relative);
        let mut excluded = false;
        for matcher in &self.matchers {
            if !full.starts_with(matcher.path()) {
                continue;
            }
            match matcher.matched_path_or_any_parents(&full, is_dir) {
                Match::Ignore(_) => excluded = true,
                Match::Whitelist(_) => excluded = false,
                Match::None => {}
            }
        }
        excluded
    }
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && entry.file_name() != ".git" {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        dir
    }

    fn excluded(rules: &IgnoreRules, path: &str) -> bool {
        rules.excluded(Path::new(path), false)
    }

    #[test]
    fn defaults_apply_only_without_user_patterns() {
        let dir = tree(&[("deploy/app.yaml", ""), ("logo.png", "")]);
        let rules = IgnoreRules::load(dir.path(), None).unwrap();
        let cases = [
            ("logo.png", true),
            (".github/workflows/ci.yaml", true),
            ("deploy/app.yaml", false),
            (".gitignore", true),
            ("deploy/.sops.yaml", true),
        ];
        for (path, want) in cases {
            assert_eq!(excluded(&rules, path), want, "{path}");
        }
        let rules = IgnoreRules::load(dir.path(), Some("*.md\n")).unwrap();
        assert!(
            !excluded(&rules, "logo.png"),
            "a spec.ignore replaces the defaults"
        );
        assert!(excluded(&rules, "README.md"));
        assert!(
            excluded(&rules, ".gitmodules"),
            "VCS files are always excluded"
        );
    }

    #[test]
    fn spec_ignore_can_reinclude_and_anchor() {
        let dir = tree(&[("deploy/app.yaml", ""), ("src/main.go", "")]);
        let rules = IgnoreRules::load(
            dir.path(),
            Some("# exclude all\n/*\n# include deploy dir\n!/deploy\n"),
        )
        .unwrap();
        assert!(excluded(&rules, "src/main.go"));
        assert!(!excluded(&rules, "deploy/app.yaml"));
    }

    #[test]
    fn sourceignore_files_are_scoped_to_their_directory() {
        let dir = tree(&[
            (".sourceignore", "*.txt\n!keep.txt\n"),
            ("apps/.sourceignore", "secret.yaml\n"),
            ("apps/secret.yaml", ""),
            ("secret.yaml", ""),
        ]);
        let rules = IgnoreRules::load(dir.path(), None).unwrap();
        let cases = [
            ("notes.txt", true),
            ("keep.txt", false),
            ("apps/secret.yaml", true),
            ("secret.yaml", false),
            ("logo.png", false),
        ];
        for (path, want) in cases {
            assert_eq!(excluded(&rules, path), want, "{path}");
        }
    }
}
