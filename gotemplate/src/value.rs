//! The values a template works on, shaped like the Go values they stand for: typed maps with
//! ordered keys (struct keys included), structs with embedded fields and zero-argument methods,
//! and Go's truth, ordering and equality rules.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

/// A Go value as a template sees it.
#[derive(Clone, Debug)]
pub enum Value {
    /// Go's invalid `reflect.Value` (a missing map key): printed as `<no value>`.
    Missing,
    /// A nil interface, pointer, map or slice.
    Nil,
    /// `bool`.
    Bool(bool),
    /// Any Go integer.
    Int(i64),
    /// `float64`.
    Float(f64),
    /// `string`.
    Str(String),
    /// A slice.
    List(Rc<List>),
    /// A map (shared, as Go maps are: Sprig's `set` changes it in place).
    Map(Rc<RefCell<Map>>),
    /// A struct.
    Struct(Rc<Struct>),
}

/// A slice with its Go type.
#[derive(Clone, Debug)]
pub struct List {
    /// Go's type name, e.g. `[]interface {}`.
    pub type_name: String,
    /// The elements.
    pub items: Vec<Value>,
}

/// A map with its Go type; entries are kept in Go's sorted printing order.
#[derive(Clone, Debug)]
pub struct Map {
    /// Go's type name, e.g. `map[string]string`.
    pub type_name: String,
    /// What `index` gives for a missing key (the element type's zero value).
    pub zero: Value,
    entries: Vec<(Value, Value)>,
}

/// One struct field.
#[derive(Clone, Debug)]
pub struct Field {
    /// The Go field name.
    pub name: String,
    /// The value.
    pub value: Value,
    /// An embedded struct: its fields are promoted.
    pub embedded: bool,
    /// The JSON name and `omitempty` (`None`: the Go name, kept when empty).
    pub json: Option<(String, bool)>,
}

/// A struct with its Go type.
#[derive(Clone, Debug, Default)]
pub struct Struct {
    /// Go's type name, e.g. `update.Change`.
    pub type_name: String,
    /// The fields, in declaration order.
    pub fields: Vec<Field>,
    /// Zero-argument methods, evaluated in advance.
    pub methods: Vec<(String, Value)>,
    /// What its `String()` method returns, when it has one.
    pub display: Option<String>,
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A slice of `type_name`.
    pub fn list(type_name: &str, items: Vec<Value>) -> Value {
        Value::List(Rc::new(List {
            type_name: type_name.to_string(),
            items,
        }))
    }

    /// A `[]interface {}`.
    pub fn any_list(items: Vec<Value>) -> Value {
        Value::list("[]interface {}", items)
    }

    /// A map of `type_name` whose missing keys read as `zero`.
    pub fn map(type_name: &str, zero: Value, entries: Vec<(Value, Value)>) -> Value {
        let mut map = Map {
            type_name: type_name.to_string(),
            zero,
            entries: Vec::with_capacity(entries.len()),
        };
        for (k, v) in entries {
            map.insert(k, v);
        }
        Value::Map(Rc::new(RefCell::new(map)))
    }

    /// A `map[string]interface {}`.
    pub fn dict(entries: Vec<(String, Value)>) -> Value {
        Value::map(
            "map[string]interface {}",
            Value::Missing,
            entries
                .into_iter()
                .map(|(k, v)| (Value::Str(k), v))
                .collect(),
        )
    }

    /// A struct.
    pub fn structure(s: Struct) -> Value {
        Value::Struct(Rc::new(s))
    }

    /// Go's `%T`.
    pub fn type_name(&self) -> String {
        match self {
            Value::Missing | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(l) => l.type_name.clone(),
            Value::Map(m) => m.borrow().type_name.clone(),
            Value::Struct(s) => s.type_name.clone(),
        }
    }

    /// `reflect.Kind` as Sprig's `kindOf` names it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Missing | Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Struct(_) => "struct",
        }
    }

    /// text/template's truth: false, 0, nil, and empty strings, slices and maps are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Struct(_) => true,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether two values are equal as Go's `==` on interfaces compares them.
    pub fn go_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Missing | Value::Nil, Value::Missing | Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Struct(a), Value::Struct(b)) => {
                a.type_name == b.type_name
                    && a.fields.len() == b.fields.len()
                    && a.fields
                        .iter()
                        .zip(&b.fields)
                        .all(|(x, y)| x.value.go_equal(&y.value))
            }
            (Value::Map(a), Value::Map(b)) => Rc::ptr_eq(a, b),
            (Value::List(a), Value::List(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Deep equality (`reflect.DeepEqual`).
    pub fn deep_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::List(a), Value::List(b)) => {
                a.type_name == b.type_name
                    && a.items.len() == b.items.len()
                    && a.items.iter().zip(&b.items).all(|(x, y)| x.deep_equal(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                let (a, b) = (a.borrow(), b.borrow());
                a.type_name == b.type_name
                    && a.entries.len() == b.entries.len()
                    && a.entries
                        .iter()
                        .zip(&b.entries)
                        .all(|((k1, v1), (k2, v2))| k1.go_equal(k2) && v1.deep_equal(v2))
            }
            (Value::Struct(a), Value::Struct(b)) => {
                a.type_name == b.type_name
                    && a.fields.len() == b.fields.len()
                    && a.fields
                        .iter()
                        .zip(&b.fields)
                        .all(|(x, y)| x.value.deep_equal(&y.value))
            }
            (Value::Missing | Value::Nil, Value::Missing | Value::Nil) => {
                std::mem::discriminant(self) == std::mem::discriminant(other)
            }
            _ => self.go_equal(other),
        }
    }

    /// A copy that shares nothing with this value (maps are copied).
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::Map(m) => {
                let m = m.borrow();
                Value::Map(Rc::new(RefCell::new(Map {
                    type_name: m.type_name.clone(),
                    zero: m.zero.clone(),
                    entries: m
                        .entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.deep_copy()))
                        .collect(),
                })))
            }
            Value::List(l) => {
                Value::list(&l.type_name, l.items.iter().map(Value::deep_copy).collect())
            }
            other => other.clone(),
        }
    }
}

/// Go's `internal/fmtsort` order: nil first, numbers and strings by value, booleans false
/// first, structs field by field.
pub fn sort_order(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Missing | Value::Nil => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Str(_) => 3,
            Value::Struct(_) => 4,
            Value::List(_) => 5,
            Value::Map(_) => 6,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)).unwrap_or(Ordering::Equal),
        (Value::Str(x), Value::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Struct(x), Value::Struct(y)) => x
            .fields
            .iter()
            .zip(&y.fields)
            .map(|(f, g)| sort_order(&f.value, &g.value))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
        _ => rank(a).cmp(&rank(b)),
    }
}

impl Map {
    /// Sets `key` (keeping the sorted order).
    pub fn insert(&mut self, key: Value, value: Value) {
        match self.entries.binary_search_by(|(k, _)| sort_order(k, &key)) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (key, value)),
        }
    }

    /// The value at `key`.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.entries
            .binary_search_by(|(k, _)| sort_order(k, key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// The value at a string key.
    pub fn get_str(&self, key: &str) -> Option<&Value> {
        self.get(&Value::Str(key.to_string()))
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &Value) {
        if let Ok(i) = self.entries.binary_search_by(|(k, _)| sort_order(k, key)) {
            self.entries.remove(i);
        }
    }

    /// Entries in Go's printing order.
    pub fn entries(&self) -> &[(Value, Value)] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether keys are strings (so `.key` reads them).
    pub fn string_keyed(&self) -> bool {
        self.type_name.starts_with("map[string]")
    }
}

impl Struct {
    /// A field (promoted through embedded structs) or zero-argument method.
    pub fn member(&self, name: &str) -> Option<Value> {
        if let Some((_, v)) = self.methods.iter().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        if let Some(f) = self.fields.iter().find(|f| f.name == name) {
            return Some(f.value.clone());
        }
        self.fields
            .iter()
            .filter(|f| f.embedded)
            .find_map(|f| match &f.value {
                Value::Struct(inner) => inner.member(name),
                _ => None,
            })
    }
}
