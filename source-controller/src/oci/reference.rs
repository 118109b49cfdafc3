//! OCI repository URLs (`oci://host[:port]/path`) and which tag or digest an OCIRepository
//! wants: Flux's precedence digest, then semver (with `semverFilter`), then tag (`latest`), and
//! its revision strings (pure).

use rill_common::api::source_v1::OCIRepositoryRef;
use rill_common::semver_range::{Constraint, highest_matching};

/// A parsed `oci://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciUrl {
    /// `host[:port]`.
    pub host: String,
    /// The repository path.
    pub repository: String,
    /// Plain HTTP (`spec.insecure`).
    pub insecure: bool,
}

/// Why a URL or reference cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The URL is malformed.
    #[error("{0}")]
    Invalid(String),
}

impl OciUrl {
    /// Parses `oci://host[:port]/repo/path`; tags and digests are refused.
    pub fn parse(url: &str, insecure: bool) -> Result<Self, UrlError> {
        let rest = url
            .strip_prefix("oci://")
            .ok_or_else(|| UrlError::Invalid(format!("URL {url:?} must start with oci://")))?;
        let (host, repository) = rest
            .split_once('/')
            .filter(|(h, r)| !h.is_empty() && !r.is_empty())
            .ok_or_else(|| {
                UrlError::Invalid(format!("URL {url:?} must name a host and a repository"))
            })?;
        let last = repository.rsplit('/').next().unwrap_or(repository);
        if repository.contains('@') {
            return Err(UrlError::Invalid("URL must not contain a digest".into()));
        }
        if last.contains(':') {
            return Err(UrlError::Invalid("URL must not contain a tag".into()));
        }
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
        if !repository.chars().all(valid) {
            return Err(UrlError::Invalid(format!(
                "repository name {repository:?} is invalid"
            )));
        }
        Ok(Self {
            host: host.to_string(),
            repository: repository.to_string(),
            insecure,
        })
    }

    /// `https://host` (or `http://` when insecure).
    pub fn base(&self) -> String {
        format!(
            "{}://{}",
            if self.insecure { "http" } else { "https" },
            self.host
        )
    }

    /// `oci://host/repo`, for messages.
    pub fn display(&self) -> String {
        format!("oci://{}/{}", self.host, self.repository)
    }
}

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

/// The tag a semver range picks among `tags`.
pub fn pick_semver(range: &str, filter: Option<&str>, tags: &[String]) -> Result<String, String> {
    let constraint =
        Constraint::parse(range).map_err(|e| format!("invalid semver range {range:?}: {e}"))?;
    let filter = filter
        .map(|f| regex::Regex::new(f).map_err(|e| format!("invalid semverFilter {f:?}: {e}")))
        .transpose()?;
    let candidates = tags
        .iter()
        .filter(|t| filter.as_ref().is_none_or(|r| r.is_match(t)))
        .map(String::as_str);
    highest_matching(&constraint, candidates)
        .map(str::to_string)
        .ok_or_else(|| format!("no tag matches semver range {range:?}"))
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
    fn urls_parse_like_flux() {
        let ok = OciUrl::parse("oci://localhost:5000/apps/podinfo", true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.base(), "http://localhost:5000");
        assert_eq!(ok.repository, "apps/podinfo");
        for (url, message) in [
            ("https://x/y", "oci://"),
            ("oci://host", "host and a repository"),
            ("oci://host/app:v1", "must not contain a tag"),
            ("oci://host/app@sha256:00", "must not contain a digest"),
            ("oci://host/App", "invalid"),
        ] {
            let err = OciUrl::parse(url, false).map(|_| ()).unwrap_err();
            assert!(err.to_string().contains(message), "{url}: {err}");
        }
    }

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
        assert_eq!(pick_semver(">=1.0.0", None, &tags).as_deref(), Ok("1.2.0"));
        assert_eq!(
            pick_semver(">=1.0.0-0", None, &tags).as_deref(),
            Ok("2.0.0-rc.1")
        );
        assert_eq!(
            pick_semver(">=1.0.0-0", Some(".*-dev$"), &tags).as_deref(),
            Ok("1.3.0-dev")
        );
        assert!(pick_semver(">=5.0.0", None, &tags).is_err());
        assert!(pick_semver("not a range", None, &tags).is_err());
        assert_eq!(revision(Some("v1"), "sha256:ab"), "v1@sha256:ab");
        assert_eq!(revision(None, "sha256:ab"), "sha256:ab");
    }
}
