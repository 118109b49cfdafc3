//! Sprig's `semver` (a parsed version with Masterminds' fields) and `semverCompare` (a
//! Masterminds constraint checked against a version), over the `semver-range` crate Flux's
//! ref and policy ranges use.

use semver_range::{Constraint, parse_lenient};

use crate::functions::{Func, FuncError, arity, string};
use crate::value::{Struct, Value};

fn version(text: &str) -> Result<semver::Version, FuncError> {
    parse_lenient(text).ok_or_else(|| FuncError::Call("Invalid Semantic Version".into()))
}

/// A `*semver.Version`: `.Major`, `.Minor`, `.Patch`, `.Prerelease`, `.Metadata`,
/// `.Original`, printed as the normalised version.
fn version_value(text: &str, v: &semver::Version) -> Value {
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    Value::structure(Struct {
        type_name: "*semver.Version".into(),
        fields: Vec::new(),
        methods: vec![
            ("Major".into(), int(v.major)),
            ("Minor".into(), int(v.minor)),
            ("Patch".into(), int(v.patch)),
            ("Prerelease".into(), Value::str(v.pre.as_str())),
            ("Metadata".into(), Value::str(v.build.as_str())),
            ("Original".into(), Value::str(text)),
            ("String".into(), Value::str(v.to_string())),
        ],
        display: Some(v.to_string()),
    })
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("semver", |a| {
            arity(a, 1)?;
            let text = string(&a[0])?;
            Ok(version_value(text, &version(text)?))
        }),
        ("semverCompare", |a| {
            arity(a, 2)?;
            let constraint =
                Constraint::parse(string(&a[0])?).map_err(|e| FuncError::Call(e.to_string()))?;
            Ok(Value::Bool(constraint.matches(&version(string(&a[1])?)?)))
        }),
    ]
}
