//! When an ImageRepository scans, and what a scan keeps: Flux's reasons to scan (first scan,
//! a new `requestedAt`, a new image name, a changed exclusion list, no tags stored, the interval
//! elapsed), the exclusion filter, the Adler-32 revision of the stored tags and the ten latest
//! tags (pure).

use std::collections::BTreeSet;
use std::time::Duration;

use regex::Regex;

/// Why a scan runs now; the text is Flux's Reconciling message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanReason {
    /// Never scanned.
    FirstScan,
    /// A new `reconcile.fluxcd.io/requestedAt` token.
    Requested,
    /// `spec.image` changed.
    NewImageName,
    /// `spec.exclusionList` changed.
    UpdatedExclusionList,
    /// The tag store has nothing for the repository (a new volume, say).
    NoTags,
    /// `interval` elapsed since the last scan.
    Interval,
}

impl ScanReason {
    /// The Reconciling message.
    pub fn message(self) -> &'static str {
        match self {
            ScanReason::FirstScan => "scanning: first scan",
            ScanReason::Requested => "scanning: reconcile requested",
            ScanReason::NewImageName => "scanning: new image name",
            ScanReason::UpdatedExclusionList => "scanning: updated exclusion list",
            ScanReason::NoTags => "scanning: no tags in database",
            ScanReason::Interval => "scanning: triggered by interval",
        }
    }
}

/// What the last scan recorded, as the decision needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastScan<'a> {
    /// Seconds since the last scan; `None` when never scanned.
    pub elapsed: Option<Duration>,
    /// `status.canonicalImageName`.
    pub canonical: Option<&'a str>,
    /// `status.observedExclusionList`.
    pub exclusions: Option<&'a [String]>,
}

/// Scan now (and why), or wait this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Scan now.
    Now(ScanReason),
    /// The next scan is this far away.
    In(Duration),
}

/// Decides whether to scan.
pub fn due(
    last: &LastScan<'_>,
    requested: bool,
    canonical: &str,
    exclusions: &[String],
    have_tags: bool,
    interval: Duration,
) -> Due {
    let Some(elapsed) = last.elapsed else {
        return Due::Now(ScanReason::FirstScan);
    };
    let set = |l: &[String]| l.iter().cloned().collect::<BTreeSet<_>>();
    if requested {
        Due::Now(ScanReason::Requested)
    } else if last.canonical != Some(canonical) {
        Due::Now(ScanReason::NewImageName)
    } else if last.exclusions.map(set) != Some(set(exclusions)) {
        Due::Now(ScanReason::UpdatedExclusionList)
    } else if !have_tags {
        Due::Now(ScanReason::NoTags)
    } else {
        let left = interval.saturating_sub(elapsed);
        if left < Duration::from_secs(1) {
            Due::Now(ScanReason::Interval)
        } else {
            Due::In(left)
        }
    }
}

/// Flux's default exclusion list: cosign signature tags.
pub const DEFAULT_EXCLUSIONS: &[&str] = &["^.*\\.sig$"];

/// The exclusion list as compiled regular expressions; the first that does not compile is
/// returned as an error.
pub fn compile(exclusions: &[String]) -> Result<Vec<Regex>, (String, regex::Error)> {
    exclusions
        .iter()
        .map(|e| Regex::new(e).map_err(|err| (e.clone(), err)))
        .collect()
}

/// The tags kept: those no exclusion matches, in the registry's order.
pub fn filter(tags: Vec<String>, exclusions: &[Regex]) -> Vec<String> {
    tags.into_iter()
        .filter(|t| !exclusions.iter().any(|r| r.is_match(t)))
        .collect()
}

/// Adler-32 of `bytes`.
fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5_552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Flux's `lastScanResult.revision`: the decimal Adler-32 of the JSON array of stored tags.
pub fn revision(tags: &[String]) -> String {
    let json = serde_json::to_string(tags).unwrap_or_default();
    adler32(json.as_bytes()).to_string()
}

/// `lastScanResult.latestTags`: the first ten tags in descending lexical order.
pub fn latest_tags(tags: &[String]) -> Vec<String> {
    let mut sorted: Vec<&String> = tags.iter().collect();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.into_iter().take(10).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scans_happen_for_flux_reasons_in_flux_order() {
        let excl = strings(&["^.*\\.sig$"]);
        let hour = Duration::from_secs(3600);
        let seen = |millis: u64| LastScan {
            elapsed: Some(Duration::from_millis(millis)),
            canonical: Some("ghcr.io/app"),
            exclusions: Some(&excl),
        };
        let cases = [
            (
                LastScan::default(),
                false,
                "ghcr.io/app",
                true,
                Due::Now(ScanReason::FirstScan),
            ),
            (
                seen(10_000),
                true,
                "ghcr.io/app",
                true,
                Due::Now(ScanReason::Requested),
            ),
            (
                seen(10_000),
                false,
                "ghcr.io/other",
                true,
                Due::Now(ScanReason::NewImageName),
            ),
            (
                seen(10_000),
                false,
                "ghcr.io/app",
                false,
                Due::Now(ScanReason::NoTags),
            ),
            (
                seen(3_600_000),
                false,
                "ghcr.io/app",
                true,
                Due::Now(ScanReason::Interval),
            ),
            (
                seen(3_599_500),
                false,
                "ghcr.io/app",
                true,
                Due::Now(ScanReason::Interval),
            ),
            (
                seen(3_599_000),
                false,
                "ghcr.io/app",
                true,
                Due::In(Duration::from_secs(1)),
            ),
            (
                seen(600_000),
                false,
                "ghcr.io/app",
                true,
                Due::In(Duration::from_secs(3000)),
            ),
        ];
        for (last, requested, canonical, have, want) in cases {
            assert_eq!(
                due(&last, requested, canonical, &excl, have, hour),
                want,
                "{last:?}"
            );
        }
        let other = strings(&["^.*\\.att$"]);
        assert_eq!(
            due(&seen(10_000), false, "ghcr.io/app", &other, true, hour),
            Due::Now(ScanReason::UpdatedExclusionList)
        );
        // The same set in another order is not a change.
        let two = strings(&["a", "b"]);
        let last = LastScan {
            exclusions: Some(&two),
            ..seen(10_000)
        };
        assert_eq!(
            due(
                &last,
                false,
                "ghcr.io/app",
                &strings(&["b", "a"]),
                true,
                hour
            ),
            Due::In(Duration::from_secs(3590))
        );
    }

    #[test]
    fn signatures_are_dropped_and_the_rest_kept_in_order() {
        let exclusions = compile(&strings(DEFAULT_EXCLUSIONS)).unwrap();
        let kept = filter(
            strings(&["1.0.0", "sha256-ab.sig", "1.1.0", "latest"]),
            &exclusions,
        );
        assert_eq!(kept, strings(&["1.0.0", "1.1.0", "latest"]));
        assert!(compile(&strings(&["(["])).is_err());
    }

    #[test]
    fn the_revision_is_the_adler32_of_the_json_list() {
        // zlib's reference values: adler32("") = 1, adler32("Wikipedia") = 0x11E60398.
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let tags = strings(&["1.0.0", "1.1.0"]);
        let json = br#"["1.0.0","1.1.0"]"#;
        assert_eq!(revision(&tags), adler32(json).to_string());
        assert_ne!(revision(&tags), revision(&strings(&["1.0.0"])));
    }

    #[test]
    fn latest_tags_are_the_ten_greatest_strings() {
        let tags: Vec<String> = (0..15).map(|i| format!("v{i:02}")).collect();
        let latest = latest_tags(&tags);
        assert_eq!(latest.len(), 10);
        assert_eq!(latest[0], "v14");
        assert_eq!(latest[9], "v05");
        let mixed = latest_tags(&strings(&["1.0.0", "latest", "2.0.0"]));
        assert_eq!(mixed, strings(&["latest", "2.0.0", "1.0.0"]));
    }
}
