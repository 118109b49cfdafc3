//! Semver constraints with Masterminds/semver v3 semantics (what Flux uses for
//! `ref.semver` and image policies), over `semver::Version`, and Flux's tag parsing (an
//! optional `v`, exactly three numeric parts).

use std::cmp::Ordering;

use semver::Version;

/// A constraint that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid semver constraint {input:?}: {problem}")]
pub struct ConstraintError {
    /// The rejected text.
    pub input: String,
    /// What is wrong.
    pub problem: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Tilde,
    Caret,
}

/// A version with possibly missing (wildcard) parts, as written in a constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: semver::Prerelease,
}

impl Partial {
    fn floor(&self) -> Version {
        let mut v = Version::new(
            self.major.unwrap_or(0),
            self.minor.unwrap_or(0),
            self.patch.unwrap_or(0),
        );
        v.pre = self.pre.clone();
        v
    }

    fn has_pre(&self) -> bool {
        !self.pre.is_empty()
    }
}

/// One comparator, normalised to a lower and/or upper bound.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Partial,
}

/// A parsed constraint: OR of AND-groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    groups: Vec<Vec<Comparator>>,
}

fn parse_partial(text: &str) -> Result<Partial, String> {
    let text = text.trim().trim_start_matches(['v', 'V']);
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) => (core, pre),
        None => (text, ""),
    };
    let core = core.split('+').next().unwrap_or(core);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{text:?} is not a version"));
    }
    let number = |p: Option<&&str>| -> Result<Option<u64>, String> {
        match p {
            None => Ok(None),
            Some(&("x" | "X" | "*")) => Ok(None),
            Some(p) => p
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{p:?} is not a number")),
        }
    };
    let major = number(parts.first())?;
    let minor = if major.is_none() {
        None
    } else {
        number(parts.get(1))?
    };
    let patch = if minor.is_none() {
        None
    } else {
        number(parts.get(2))?
    };
    let pre = if pre.is_empty() {
        semver::Prerelease::EMPTY
    } else {
        semver::Prerelease::new(pre).map_err(|e| e.to_string())?
    };
    Ok(Partial {
        major,
        minor,
        patch,
        pre,
    })
}

fn parse_comparator(text: &str) -> Result<Comparator, String> {
    let text = text.trim();
    let ops: [(&str, Op); 11] = [
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("!=", Op::Ne),
        ("~>", Op::Tilde),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    for (prefix, op) in ops {
        if let Some(rest) = text.strip_prefix(prefix) {
            return Ok(Comparator {
                op,
                version: parse_partial(rest)?,
            });
        }
    }
    Ok(Comparator {
        op: Op::Eq,
        version: parse_partial(text)?,
    })
}

impl Constraint {
    /// Parses `>=1.0.0 <2.0.0 || ~3.1`, `1.2.x`, `^0.3`, `1.2 - 1.4.5`, commas as AND.
    pub fn parse(input: &str) -> Result<Self, ConstraintError> {
        let err = |problem: String| ConstraintError {
            input: input.to_string(),
            problem,
        };
        if input.trim().is_empty() {
            return Err(err("empty constraint".into()));
        }
        let mut groups = Vec::new();
        for group in input.split("||") {
            let group = group.trim();
            if group.is_empty() {
                return Err(err("empty alternative".into()));
            }
            let mut comparators = Vec::new();
            if let Some((low, high)) = group.split_once(" - ") {
                comparators.push(Comparator {
                    op: Op::Ge,
                    version: parse_partial(low).map_err(&err)?,
                });
                comparators.push(Comparator {
                    op: Op::Le,
                    version: parse_partial(high).map_err(&err)?,
                });
            } else {
                let normalised = group.replace(',', " ");
                let mut tokens = normalised.split_whitespace().peekable();
                while let Some(token) = tokens.next() {
                    let mut text = token.to_string();
                    let is_bare_op = token.chars().all(|c| "<>=!~^".contains(c));
                    if is_bare_op {
                        let next = tokens
                            .next()
                            .ok_or_else(|| err(format!("operator {token:?} without a version")))?;
                        text.push_str(next);
                    }
                    comparators.push(parse_comparator(&text).map_err(&err)?);
                }
            }
            groups.push(comparators);
        }
        Ok(Self { groups })
    }

    /// Whether `version` satisfies the constraint.
    pub fn matches(&self, version: &Version) -> bool {
        self.groups
            .iter()
            .any(|group| group.iter().all(|c| c.matches(version)))
    }
}

fn cmp(a: &Version, b: &Version) -> Ordering {
    a.cmp_precedence(b)
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        // Masterminds: a prerelease version only satisfies comparators that carry a prerelease.
        if !v.pre.is_empty() && !self.version.has_pre() {
            return false;
        }
        let p = &self.version;
        let floor = p.floor();
        let wildcard = p.patch.is_none();
        // The first version above the wildcard range (`1.2` -> 1.3.0, `1` -> 2.0.0).
        let ceiling = || -> Option<Version> {
            match (p.major, p.minor, p.patch) {
                (None, _, _) => None,
                (Some(m), None, _) => Some(Version::new(m + 1, 0, 0)),
                (Some(m), Some(n), None) => Some(Version::new(m, n + 1, 0)),
                (Some(_), Some(_), Some(_)) => None,
            }
        };
        let in_range = |low: &Version, high: Option<Version>| {
            cmp(v, low) != Ordering::Less && high.is_none_or(|h| cmp(v, &h) == Ordering::Less)
        };
        match self.op {
            Op::Eq if p.major.is_none() => true,
            Op::Eq if wildcard => in_range(&floor, ceiling()),
            Op::Eq => cmp(v, &floor) == Ordering::Equal,
            Op::Ne if p.major.is_none() => false,
            Op::Ne if wildcard => !in_range(&floor, ceiling()),
            Op::Ne => cmp(v, &floor) != Ordering::Equal,
            Op::Gt if p.major.is_none() => false,
            Op::Gt if wildcard => ceiling().is_some_and(|c| cmp(v, &c) != Ordering::Less),
            Op::Gt => cmp(v, &floor) == Ordering::Greater,
            Op::Ge => cmp(v, &floor) != Ordering::Less,
            Op::Lt => cmp(v, &floor) == Ordering::Less,
            Op::Le if wildcard => ceiling().is_none_or(|c| cmp(v, &c) == Ordering::Less),
            Op::Le => cmp(v, &floor) != Ordering::Greater,
            Op::Tilde => {
                let high = match (p.major, p.minor) {
                    (Some(m), None) => Some(Version::new(m + 1, 0, 0)),
                    (Some(m), Some(n)) => Some(Version::new(m, n + 1, 0)),
                    (None, _) => None,
                };
                in_range(&floor, high)
            }
            Op::Caret => {
                let high = match (p.major, p.minor, p.patch) {
                    (None, _, _) => None,
                    (Some(0), None, _) => Some(Version::new(1, 0, 0)),
                    (Some(0), Some(0), None) => Some(Version::new(0, 1, 0)),
                    (Some(0), Some(0), Some(x)) => Some(Version::new(0, 0, x + 1)),
                    (Some(0), Some(n), _) => Some(Version::new(0, n + 1, 0)),
                    (Some(m), _, _) => Some(Version::new(m + 1, 0, 0)),
                };
                in_range(&floor, high)
            }
        }
    }
}

/// Parses a tag the way Flux does: an optional leading `v`, then a semver version with
/// exactly three numeric parts (prerelease and build allowed).
pub fn parse_tag(tag: &str) -> Option<Version> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    let core = text.split(['-', '+']).next().unwrap_or(text);
    if core.split('.').count() != 3 {
        return None;
    }
    Version::parse(text).ok()
}

/// Parses a version the way Masterminds' `NewVersion` does: an optional `v`, one to three
/// numeric parts (missing ones are 0), then optional prerelease and build metadata.
pub fn parse_lenient(text: &str) -> Option<Version> {
    let body = text.strip_prefix('v').unwrap_or(text);
    let end = body.find(['-', '+']).unwrap_or(body.len());
    let (core, rest) = body.split_at(end);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut numbers: Vec<u64> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    numbers.resize(3, 0);
    Version::parse(&format!(
        "{}.{}.{}{rest}",
        numbers[0], numbers[1], numbers[2]
    ))
    .ok()
}

/// The highest tag satisfying the constraint, by semver precedence (build metadata ignored;
/// ties keep the first tag seen).
pub fn highest_matching<'a>(
    constraint: &Constraint,
    tags: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(&str, Version)> = None;
    for tag in tags {
        let Some(version) = parse_tag(tag) else {
            continue;
        };
        if !constraint.matches(&version) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(_, b)| cmp(&version, b) == Ordering::Greater)
        {
            best = Some((tag, version));
        }
    }
    best.map(|(tag, _)| tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_versions_are_padded_as_masterminds_does() {
        let v = |t: &str| parse_lenient(t).map(|v| v.to_string());
        assert_eq!(v("1.2"), Some("1.2.0".into()));
        assert_eq!(v("v3"), Some("3.0.0".into()));
        assert_eq!(v("1.2.3-beta.1+b5"), Some("1.2.3-beta.1+b5".into()));
        assert_eq!(v("1.2.3.4"), None);
        assert_eq!(v("x1"), None);
    }

    fn check(constraint: &str, version: &str) -> bool {
        Constraint::parse(constraint)
            .unwrap()
            .matches(&parse_tag(version).unwrap())
    }

    #[test]
    fn masterminds_table() {
        let cases = [
            (">=1.0.0 <2.0.0", "1.9.9", true),
            (">=1.0.0 <2.0.0", "2.0.0", false),
            (">=1.0.0, <2.0.0", "1.0.0", true),
            ("1.2", "1.2.9", true),
            ("1.2", "1.3.0", false),
            ("1.2.x", "1.2.0", true),
            ("*", "4.5.6", true),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1", "1.9.0", true),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            (">11", "11.9.0", false),
            (">11", "12.0.0", true),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("<1.0.0 || >=3.0.0", "3.1.0", true),
            ("<1.0.0 || >=3.0.0", "2.0.0", false),
            ("!=1.2.3", "1.2.3", false),
            ("=> 1.0.0", "1.0.0", true),
            ("~> 1.2", "1.2.5", true),
            (">=1.0.0", "1.5.0-rc.1", false),
            (">=1.0.0-0", "1.5.0-rc.1", true),
            ("5.0.x", "5.0.3", true),
        ];
        for (constraint, version, want) in cases {
            assert_eq!(
                check(constraint, version),
                want,
                "{constraint} vs {version}"
            );
        }
    }

    #[test]
    fn tags_need_three_parts() {
        assert!(parse_tag("v1.2.3").is_some());
        assert!(parse_tag("1.2.3-rc.1+build.5").is_some());
        for bad in ["1.2", "v1", "latest", "1.2.3.4", "x1.2.3"] {
            assert!(parse_tag(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn highest_match_wins_and_prereleases_need_asking() {
        let tags = [
            "v1.0.0",
            "v1.2.0",
            "v2.0.0-rc.1",
            "v1.10.0",
            "latest",
            "v3.0",
        ];
        let c = Constraint::parse(">=1.0.0").unwrap();
        assert_eq!(highest_matching(&c, tags), Some("v1.10.0"));
        let pre = Constraint::parse(">=1.0.0-0").unwrap();
        assert_eq!(highest_matching(&pre, tags), Some("v2.0.0-rc.1"));
        assert!(Constraint::parse("").is_err());
        assert!(Constraint::parse(">= ").is_err());
        assert!(Constraint::parse("not.a.version").is_err());
    }
}
