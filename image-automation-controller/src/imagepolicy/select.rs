//! Which tag an ImagePolicy picks: `filterTags` (an unanchored pattern, and an `extract`
//! template expanded like Go's `Regexp.Expand`), then the semver, alphabetical or numerical
//! policy over the extracted values, answering with the original tag (pure).

use std::collections::BTreeMap;

use regex::Regex;
use rill_common::api::image_v1::{ImagePolicyChoice, SortOrder, TagFilter};
use rill_common::semver_range::{Constraint, highest_matching};

/// A policy ready to run.
#[derive(Clone, Debug)]
pub enum Policy {
    /// The highest version in the range.
    Semver(Constraint),
    /// The greatest (`asc`) or smallest (`desc`) string.
    Alphabetical(SortOrder),
    /// The largest (`asc`) or smallest (`desc`) number.
    Numerical(SortOrder),
}

/// A compiled `filterTags`.
#[derive(Clone, Debug)]
pub struct Filter {
    pattern: Regex,
    extract: Option<String>,
}

/// Why no tag is chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// The policy or filter is wrong: a human must change the spec.
    #[error("{0}")]
    Invalid(String),
    /// Nothing qualifies (yet).
    #[error("{0}")]
    NoCandidate(String),
}

impl Policy {
    /// The policy of the spec; exactly one kind must be set.
    pub fn from_spec(choice: &ImagePolicyChoice) -> Result<Self, SelectError> {
        match (&choice.semver, &choice.alphabetical, &choice.numerical) {
            (Some(s), None, None) => Constraint::parse(&s.range)
                .map(Policy::Semver)
                .map_err(|e| {
                    SelectError::Invalid(format!("invalid semver range '{}': {e}", s.range))
                }),
            (None, Some(a), None) => Ok(Policy::Alphabetical(a.order.unwrap_or(SortOrder::Asc))),
            (None, None, Some(n)) => Ok(Policy::Numerical(n.order.unwrap_or(SortOrder::Asc))),
            _ => Err(SelectError::Invalid(
                "exactly one of spec.policy.semver, alphabetical and numerical must be set".into(),
            )),
        }
    }
}

impl Filter {
    /// The filter of the spec, if it has a pattern.
    pub fn from_spec(filter: Option<&TagFilter>) -> Result<Option<Self>, SelectError> {
        let Some(pattern) = filter.and_then(|f| f.pattern.as_deref()) else {
            return Ok(None);
        };
        let pattern = Regex::new(pattern).map_err(|e| {
            SelectError::Invalid(format!(
                "invalid regular expression pattern '{pattern}': {e}"
            ))
        })?;
        let extract = filter
            .and_then(|f| f.extract.clone())
            .filter(|e| !e.is_empty());
        Ok(Some(Self { pattern, extract }))
    }

    /// The tags that match, each mapped from the value the policy sees (the extracted one, or
    /// the tag itself). A later tag with the same value wins.
    fn apply<'a>(&self, tags: &'a [String]) -> BTreeMap<String, &'a str> {
        let mut out = BTreeMap::new();
        for tag in tags {
            let Some(captures) = self.pattern.captures(tag) else {
                continue;
            };
            let value = match &self.extract {
                Some(template) => {
                    let mut value = String::new();
                    captures.expand(template, &mut value);
                    value
                }
                None => tag.clone(),
            };
            out.insert(value, tag.as_str());
        }
        out
    }
}

/// The tag `policy` picks among `tags` after `filter`.
pub fn select(
    policy: &Policy,
    filter: Option<&Filter>,
    tags: &[String],
) -> Result<String, SelectError> {
    let candidates: BTreeMap<String, &str> = match filter {
        Some(f) => f.apply(tags),
        None => tags.iter().map(|t| (t.clone(), t.as_str())).collect(),
    };
    let none =
        || SelectError::NoCandidate("unable to determine latest version from provided list".into());
    if candidates.is_empty() {
        return Err(none());
    }
    let values = candidates.keys().map(String::as_str);
    let chosen: &str = match policy {
        Policy::Semver(constraint) => highest_matching(constraint, values).ok_or_else(none)?,
        Policy::Alphabetical(order) => {
            let pick = match order {
                SortOrder::Asc => values.max(),
                SortOrder::Desc => values.min(),
            };
            pick.ok_or_else(none)?
        }
        Policy::Numerical(order) => {
            let mut best: Option<(&str, f64)> = None;
            for value in values {
                let number: f64 = value.parse().map_err(|_| {
                    SelectError::NoCandidate(format!(
                        "failed to parse invalid numeric value '{value}'"
                    ))
                })?;
                let better = best.is_none_or(|(_, b)| match order {
                    SortOrder::Asc => number > b,
                    SortOrder::Desc => number < b,
                });
                if better {
                    best = Some((value, number));
                }
            }
            best.map(|(v, _)| v).ok_or_else(none)?
        }
    };
    Ok(candidates
        .get(chosen)
        .map_or(chosen, |original| *original)
        .to_string())
}

#[cfg(test)]
mod tests {
    use rill_common::api::image_v1::{AlphabeticalPolicy, NumericalPolicy, SemVerPolicy};

    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn semver(range: &str) -> Policy {
        Policy::from_spec(&ImagePolicyChoice {
            semver: Some(SemVerPolicy {
                range: range.into(),
            }),
            ..Default::default()
        })
        .unwrap()
    }

    fn filter(pattern: &str, extract: &str) -> Filter {
        Filter::from_spec(Some(&TagFilter {
            pattern: Some(pattern.into()),
            extract: Some(extract.into()),
        }))
        .unwrap()
        .unwrap()
    }

    #[test]
    fn policies_pick_like_flux() {
        let tags = strings(&["1.0.0", "v1.2.0", "1.10.0-rc.1", "1.9.3", "latest", "2.0"]);
        let alpha = |order| Policy::Alphabetical(order);
        let num = |order| Policy::Numerical(order);
        let cases: Vec<(Policy, &[&str], Result<&str, ()>)> = vec![
            (semver(">=1.0.0"), &[], Ok("1.9.3")),
            (semver(">=1.0.0-0"), &[], Ok("1.10.0-rc.1")),
            (semver("~1.2"), &[], Ok("v1.2.0")),
            (semver(">=5.0.0"), &[], Err(())),
            (alpha(SortOrder::Asc), &["a", "c", "b"], Ok("c")),
            (alpha(SortOrder::Desc), &["a", "c", "b"], Ok("a")),
            (num(SortOrder::Asc), &["1", "10", "9", "2.5"], Ok("10")),
            (num(SortOrder::Desc), &["1", "10", "9", "2.5"], Ok("1")),
            (num(SortOrder::Asc), &["1", "latest"], Err(())),
        ];
        for (policy, own, want) in cases {
            let list = if own.is_empty() {
                tags.clone()
            } else {
                strings(own)
            };
            let got = select(&policy, None, &list).ok();
            assert_eq!(got.as_deref(), want.ok(), "{policy:?} {list:?}");
        }
    }

    #[test]
    fn filters_extract_values_and_answer_with_the_original_tag() {
        let tags = strings(&[
            "main-abc123-100",
            "main-def456-200",
            "dev-zzz-999",
            "main-x-50",
        ]);
        let ts = filter(r"^main-[a-z0-9]+-(?P<ts>\d+)$", "$ts");
        let got = select(&Policy::Numerical(SortOrder::Asc), Some(&ts), &tags).unwrap();
        assert_eq!(got, "main-def456-200");
        let braces = filter(r"^main-[a-z0-9]+-(\d+)$", "${1}");
        let got = select(&Policy::Numerical(SortOrder::Desc), Some(&braces), &tags).unwrap();
        assert_eq!(got, "main-x-50");
        let unanchored = Filter::from_spec(Some(&TagFilter {
            pattern: Some("rc".into()),
            extract: None,
        }))
        .unwrap();
        let got = select(
            &semver(">=1.0.0-0"),
            unanchored.as_ref(),
            &strings(&["1.0.0", "1.1.0-rc.1"]),
        );
        assert_eq!(got.as_deref(), Ok("1.1.0-rc.1"));
    }

    #[test]
    fn invalid_specs_are_invalid_not_empty() {
        let both = ImagePolicyChoice {
            alphabetical: Some(AlphabeticalPolicy { order: None }),
            numerical: Some(NumericalPolicy { order: None }),
            ..Default::default()
        };
        assert!(matches!(
            Policy::from_spec(&both),
            Err(SelectError::Invalid(_))
        ));
        let bad_range = ImagePolicyChoice {
            semver: Some(SemVerPolicy {
                range: "not a range".into(),
            }),
            ..Default::default()
        };
        assert!(matches!(
            Policy::from_spec(&bad_range),
            Err(SelectError::Invalid(_))
        ));
        let bad_regex = TagFilter {
            pattern: Some("([".into()),
            extract: None,
        };
        assert!(matches!(
            Filter::from_spec(Some(&bad_regex)),
            Err(SelectError::Invalid(_))
        ));
    }
}
