//! Which tag or digest an OCIRepository wants: Flux's precedence digest, then semver (with
//! `semverFilter`), then tag (`latest`), and its revision strings (pure).

use rill_common::api::source_v1::OCIRepositoryRef;
use rill_common::semver_range::{Constraint, ConstraintError, highest_matching};

/// What to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// A fixed manifest digest.
    Digest(String),
    /// The highest tag in a semver range, after an optional regex filter.
    Semver {
        /// The range.
        range: String,
        /// `semverFilter`.
        filter: Option<String>,
    },
    /// A tag.
    Tag(String),
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

/// Flux's precedence: digest, semver, tag, `latest`.
pub fn wanted(reference: Option<&OCIRepositoryRef>) -> Wanted {
    let Some(r) = reference else {
        return Wanted::Tag("latest".into());
    };
    if let Some(digest) = non_empty(&r.digest) {
        return Wanted::Digest(digest);
    }
    if let Some(range) = non_empty(&r.semver) {
        return Wanted::Semver {
            range,
            filter: non_empty(&r.semver_filter),
        };
    }
    Wanted::Tag(non_empty(&r.tag).unwrap_or_else(|| "latest".into()))
}

/// Why no tag was picked.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// The range does not parse (a spec error: the object stalls).
    #[error("invalid semver range {range:?}: {source}")]
    InvalidRange {
        /// `ref.semver`.
        range: String,
        /// Why.
        #[source]
        source: ConstraintError,
    },
    /// The filter is not a regular expression (a spec error).
    #[error("invalid semverFilter {filter:?}: {source}")]
    InvalidFilter {
        /// `ref.semverFilter`.
        filter: String,
        /// Why.
        #[source]
        source: regex::Error,
    },
    /// No tag matches (yet): a new push may fix it.
    #[error("no tag matches semver range {0:?}")]
    NoMatch(String),
}

/// The tag a semver range picks among `tags`.
pub fn pick_semver(
    range: &str,
    filter: Option<&str>,
    tags: &[String],
) -> Result<String, SelectError> {
    let constraint = Constraint::parse(range).map_err(|source| SelectError::InvalidRange {
        range: range.to_string(),
        source,
    })?;
    let filter = filter
        .map(|f| {
            regex::Regex::new(f).map_err(|source| SelectError::InvalidFilter {
                filter: f.to_string(),
                source,
            })
        })
        .transpose()?;
    let candidates = tags
        .iter()
        .filter(|t| filter.as_ref().is_none_or(|r| r.is_match(t)))
        .map(String::as_str);
    highest_matching(&constraint, candidates)
        .map(str::to_string)
        .ok_or_else(|| SelectError::NoMatch(range.to_string()))
}

/// The revision string: `<tag>@sha256:<hex>`, or the bare digest for digest references.
pub fn revision(tag: Option<&str>, digest: &str) -> String {
    match tag {
        Some(tag) => format!("{tag}@{digest}"),
        None => digest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_semver_selection() {
        let r = |digest: Option<&str>, semver: Option<&str>, tag: Option<&str>| OCIRepositoryRef {
            digest: digest.map(Into::into),
            semver: semver.map(Into::into),
            semver_filter: None,
            tag: tag.map(Into::into),
        };
        assert_eq!(wanted(None), Wanted::Tag("latest".into()));
        assert_eq!(
            wanted(Some(&r(Some("sha256:a"), Some("*"), Some("v1")))),
            Wanted::Digest("sha256:a".into())
        );
        assert!(matches!(
            wanted(Some(&r(None, Some(">=1.0.0"), Some("v1")))),
            Wanted::Semver { .. }
        ));
        assert_eq!(
            wanted(Some(&r(None, None, Some("v1")))),
            Wanted::Tag("v1".into())
        );
        let tags: Vec<String> = ["1.0.0", "1.2.0", "2.0.0-rc.1", "1.3.0-dev", "latest", "1.1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let pick = |range, filter| pick_semver(range, filter, &tags).ok();
        assert_eq!(pick(">=1.0.0", None).as_deref(), Some("1.2.0"));
        assert_eq!(pick(">=1.0.0-0", None).as_deref(), Some("2.0.0-rc.1"));
        assert_eq!(
            pick(">=1.0.0-0", Some(".*-dev$")).as_deref(),
            Some("1.3.0-dev")
        );
        assert!(matches!(
            pick_semver(">=5.0.0", None, &tags),
            Err(SelectError::NoMatch(_))
        ));
        assert!(matches!(
            pick_semver("not a range", None, &tags),
            Err(SelectError::InvalidRange { .. })
        ));
        assert!(matches!(
            pick_semver("*", Some("(["), &tags),
            Err(SelectError::InvalidFilter { .. })
        ));
        assert_eq!(revision(Some("v1"), "sha256:ab"), "v1@sha256:ab");
        assert_eq!(revision(None, "sha256:ab"), "sha256:ab");
    }
}
