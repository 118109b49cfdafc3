//! OCI repository URLs (`oci://host[:port]/path`), parsed and checked (pure).

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
}
