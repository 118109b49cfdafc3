//! The fuzz entry point (`fuzz/`, `cargo +nightly fuzz run render`) and its stable replay
//! (`tests/fuzz_smoke.rs`): any bytes as a template over data shaped like Flux's commit message
//! data, with every function available.

use crate::value::{Field, Struct, Value};

fn field(name: &str, value: Value) -> Field {
    Field {
        name: name.into(),
        value,
        embedded: false,
        json: None,
    }
}

/// Data with every kind of value: a Stringer, typed maps (one keyed by structs), lists,
/// embedded structs, numbers and booleans.
pub fn sample_data() -> Value {
    let key = Value::structure(Struct {
        type_name: "update.ObjectIdentifier".into(),
        fields: vec![Field {
            name: "TypeMeta".into(),
            value: Value::structure(Struct {
                type_name: "yaml.TypeMeta".into(),
                fields: vec![field("Kind", Value::str("Deployment"))],
                ..Struct::default()
            }),
            embedded: true,
            json: None,
        }],
        ..Struct::default()
    });
    let change = Value::structure(Struct {
        type_name: "update.Change".into(),
        fields: vec![
            field("OldValue", Value::str("a:1")),
            field("NewValue", Value::str("a:2")),
        ],
        ..Struct::default()
    });
    Value::structure(Struct {
        type_name: "main.Data".into(),
        fields: vec![
            field(
                "Who",
                Value::structure(Struct {
                    type_name: "types.NamespacedName".into(),
                    fields: vec![field("Name", Value::str("n"))],
                    methods: Vec::new(),
                    display: Some("ns/n".into()),
                }),
            ),
            field(
                "Objects",
                Value::map(
                    "update.ObjectChanges",
                    Value::Nil,
                    vec![(key, Value::list("[]update.Change", vec![change]))],
                ),
            ),
            field(
                "Values",
                Value::map(
                    "map[string]string",
                    Value::str(""),
                    vec![(Value::str("k"), Value::str("v"))],
                ),
            ),
            field(
                "List",
                Value::any_list(vec![
                    Value::Int(1),
                    Value::Float(2.5),
                    Value::Bool(true),
                    Value::Nil,
                ]),
            ),
        ],
        ..Struct::default()
    })
}

/// Renders `data` (as UTF-8, lossily) as a template over [`sample_data`].
pub fn render(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    crate::render("fuzz", &text, &sample_data()).ok()
}
