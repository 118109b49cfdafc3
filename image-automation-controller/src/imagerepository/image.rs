//! `spec.image` of an ImageRepository: refused with a scheme, a tag or a digest, and made
//! canonical as Flux does (`alpine` -> `index.docker.io/library/alpine`) (pure).

/// Docker Hub's registry host in canonical names.
pub const DOCKER_HUB: &str = "index.docker.io";

/// A parsed, canonical image repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageName {
    /// `host[:port]`.
    pub host: String,
    /// The repository path on the host.
    pub repository: String,
}

impl ImageName {
    /// `host/repository`, Flux's `status.canonicalImageName`.
    pub fn canonical(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }
}

/// Why `spec.image` cannot be used (a human must change it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// `https://...`.
    #[error(".spec.image value should not start with URL scheme")]
    Scheme,
    /// `app:1.0` or `app@sha256:...`.
    #[error(".spec.image value should not contain a tag")]
    Tag,
    /// Empty components, upper case or other characters a repository name cannot have.
    #[error("could not parse reference: {0}")]
    Invalid(String),
}

/// Parses and canonicalises `image`.
pub fn parse(image: &str) -> Result<ImageName, ImageError> {
    if image.contains("://") {
        return Err(ImageError::Scheme);
    }
    let (first, rest) = match image.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (image, None),
    };
    let is_host = |c: &str| c.contains('.') || c.contains(':') || c == "localhost";
    let (host, path) = match rest {
        Some(rest) if is_host(first) => (first.to_string(), rest.to_string()),
        Some(_) => (DOCKER_HUB.to_string(), image.to_string()),
        None => (DOCKER_HUB.to_string(), format!("library/{image}")),
    };
    let host = if host == "docker.io" {
        DOCKER_HUB.to_string()
    } else {
        host
    };
    let path = if host == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    if path.contains('@') || path.rsplit('/').next().is_some_and(|l| l.contains(':')) {
        return Err(ImageError::Tag);
    }
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
    if path.is_empty() || path.split('/').any(str::is_empty) || !path.chars().all(valid) {
        return Err(ImageError::Invalid(image.to_string()));
    }
    Ok(ImageName {
        host,
        repository: path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_canonical_like_flux() {
        let cases = [
            ("alpine", Ok("index.docker.io/library/alpine")),
            ("docker.io/alpine", Ok("index.docker.io/library/alpine")),
            ("fluxcd/flux", Ok("index.docker.io/fluxcd/flux")),
            ("ghcr.io/fluxcd/podinfo", Ok("ghcr.io/fluxcd/podinfo")),
            ("localhost:5000/apps/web", Ok("localhost:5000/apps/web")),
            ("localhost/web", Ok("localhost/web")),
            ("https://ghcr.io/app", Err(ImageError::Scheme)),
            ("ghcr.io/app:1.0", Err(ImageError::Tag)),
            ("alpine:3", Err(ImageError::Tag)),
            ("ghcr.io/app@sha256:00", Err(ImageError::Tag)),
            (
                "ghcr.io/App",
                Err(ImageError::Invalid("ghcr.io/App".into())),
            ),
            (
                "ghcr.io//app",
                Err(ImageError::Invalid("ghcr.io//app".into())),
            ),
        ];
        for (image, want) in cases {
            assert_eq!(
                parse(image).map(|n| n.canonical()),
                want.map(str::to_string),
                "{image}"
            );
        }
    }
}
