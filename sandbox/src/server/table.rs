//! `Table` responses for `kubectl get`: CRD printer columns evaluated with a JSONPath subset,
//! a few built-in printers (more in `printers.rs`), and the generic Name/Age fallback.

use serde_json::{Value, json};

use super::respond::partial_metadata;
use crate::resources::{PrinterColumn, ResourceType};

/// Evaluates the JSONPath subset printer columns use: `.a.b`, `[n]`, `[*]`,
/// `[?(@.k=="v")]`; returns every match.
pub fn json_path<'v>(object: &'v Value, path: &str) -> Vec<&'v Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut current = vec![object];
    let mut rest = path.trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            current = current.into_iter().filter_map(|v| v.get(name)).collect();
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = find_bracket_end(after) else {
                return Vec::new();
            };
            let inner = &after[..end];
            rest = &after[end + 1..];
            current = current.into_iter().flat_map(|v| index(v, inner)).collect();
        } else {
            return Vec::new();
        }
    }
    current
}

fn find_bracket_end(text: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('(', None) => depth += 1,
            (')', None) => depth -= 1,
            (']', None) if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

fn index<'v>(value: &'v Value, inner: &str) -> Vec<&'v Value> {
    let Some(items) = value.as_array() else {
        return Vec::new();
    };
    if inner == "*" {
        return items.iter().collect();
    }
    if let Ok(i) = inner.parse::<usize>() {
        return items.get(i).into_iter().collect();
    }
    let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) else {
        return Vec::new();
    };
    let Some((lhs, rhs)) = filter.split_once("==") else {
        return Vec::new();
    };
    let field = lhs.trim().trim_start_matches('@');
    let expected = rhs.trim().trim_matches('"').trim_matches('\'');
    items
        .iter()
        .filter(|item| {
            json_path(item, field)
                .first()
                .is_some_and(|v| v.as_str() == Some(expected) || *v == expected)
        })
        .collect()
}

/// A human age since an RFC 3339 time (`5s`, `3m`, `2h`, `4d`).
pub fn age(timestamp: &str) -> String {
    let Ok(then) = timestamp.parse::<jiff::Timestamp>() else {
        return "<invalid>".into();
    };
    human_duration(jiff::Timestamp::now().as_second() - then.as_second())
}

/// apimachinery's `duration.HumanDuration` of a number of seconds: two or three significant
/// figures (`90s`, `5m30s`, `3h20m`, `4d2h`, `2y5d`).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    let days = hours / 24;
    match hours {
        h if h < 8 => match minutes % 60 {
            0 => format!("{h}h"),
            m => format!("{h}h{m}m"),
        },
        h if h < 48 => format!("{h}h"),
        h if h < 24 * 8 => match h % 24 {
            0 => format!("{days}d"),
            rest => format!("{days}d{rest}h"),
        },
        h if h < 24 * 365 * 2 => format!("{days}d"),
        h if h < 24 * 365 * 8 => match days % 365 {
            0 => format!("{}y", days / 365),
            d => format!("{}y{d}d", days / 365),
        },
        _ => format!("{}y", days / 365),
    }
}

fn column(name: &str, type_: &str, priority: i64, description: &str) -> Value {
    json!({"name": name, "type": type_, "format": if name == "Name" { "name" } else { "" }, "description": description, "priority": priority})
}

fn columns(rt: &ResourceType) -> Vec<PrinterColumn> {
    let col = |name: &str, type_: &str, path: &str| PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        json_path: path.into(),
        priority: 0,
        description: String::new(),
        format: String::new(),
    };
    if !rt.printer_columns.is_empty() {
        return rt.printer_columns.clone();
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => vec![
            col("Status", "string", ".status.phase"),
            col("Age", "date", ".metadata.creationTimestamp"),
        ],
        ("apps", "deployments") => vec![
            col("Ready", "string", "READY"),
            col("Up-to-date", "integer", ".status.updatedReplicas"),
            col("Available", "integer", ".status.availableReplicas"),
            col("Age", "date", ".metadata.creationTimestamp"),
        ],
        // Upstream's default table convertor (CRDs) and its Role printers: the creation time
        // itself, in RFC 3339, not an age.
        ("apiextensions.k8s.io", "customresourcedefinitions")
        | ("rbac.authorization.k8s.io", "roles" | "clusterroles") => {
            vec![col("Created At", "date", ".metadata.creationTimestamp")]
        }
        _ => vec![col("Age", "date", ".metadata.creationTimestamp")],
    }
}

fn cell(object: &Value, column: &PrinterColumn) -> Value {
    if column.json_path == "READY" {
        let ready = object["status"]["readyReplicas"].as_i64().unwrap_or(0);
        let want = object["spec"]["replicas"].as_i64().unwrap_or(1);
        return json!(format!("{ready}/{want}"));
    }
    let found = json_path(object, &column.json_path);
    let Some(first) = found.first() else {
        return Value::Null;
    };
    match column.type_.as_str() {
        "date" if column.name == "Created At" => (*first).clone(),
        "date" => first.as_str().map(|t| json!(age(t))).unwrap_or(Value::Null),
        "integer" | "number" | "boolean" => (*first).clone(),
        _ => match first {
            Value::String(s) => json!(s),
            Value::Null => Value::Null,
            other => json!(other.to_string()),
        },
    }
}

/// A Table of `objects`.
pub fn table(
    rt: &ResourceType,
    objects: &[&Value],
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    let mut metadata = json!({"resourceVersion": resource_version});
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    if rt.printer_columns.is_empty()
        && let Some(printer) = super::printers::builtin(&rt.group, &rt.plural)
    {
        let rows: Vec<Value> = objects
            .iter()
            .map(|object| json!({"cells": (printer.cells)(object), "object": partial_metadata(object)}))
            .collect();
        return json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": printer.columns, "rows": rows});
    }
    let cols = columns(rt);
    let mut definitions = vec![column(
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    )];
    definitions.extend(
        cols.iter()
            .map(|c| column(&c.name, &c.type_, c.priority, &c.description)),
    );
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = vec![object["metadata"]["name"].clone()];
            cells.extend(cols.iter().map(|c| cell(object, c)));
            json!({"cells": cells, "object": partial_metadata(object)})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": definitions, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_follow_apimachinerys_human_duration() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (45, "45s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 20 * 60, "3h20m"),
            (30 * 3600, "30h"),
            (4 * 86400 + 2 * 3600, "4d2h"),
            (30 * 86400, "30d"),
            (800 * 86400, "2y70d"),
            (3000 * 86400, "8y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human_duration(seconds), want, "{seconds}");
        }
    }

    #[test]
    fn printer_column_paths_evaluate() {
        let obj = json!({"spec": {"url": "https://x", "items": [{"n": 1}, {"n": 2}]}, "status": {"conditions": [
            {"type": "Reconciling", "status": "True"}, {"type": "Ready", "status": "False", "message": "bad"}
        ]}});
        let cases = [
            (".spec.url", json!("https://x")),
            (
                r#".status.conditions[?(@.type=="Ready")].status"#,
                json!("False"),
            ),
            (
                r#"{.status.conditions[?(@.type=="Ready")].message}"#,
                json!("bad"),
            ),
            (".spec.items[1].n", json!(2)),
        ];
        for (path, want) in cases {
            assert_eq!(
                json_path(&obj, path).first().copied(),
                Some(&want),
                "{path}"
            );
        }
        assert!(json_path(&obj, ".status.missing").is_empty());
    }
}
