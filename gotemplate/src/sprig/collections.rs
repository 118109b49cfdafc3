//! Sprig's list and dict functions (`list.go`, `dict.go`): lists are copied, dicts are shared
//! and changed in place by `set`/`unset`/`merge` as Go maps are.

use crate::functions::{Func, FuncError, arity, at_least, int, string};
use crate::value::{List, Map, Value};

use super::strval;

const DICT: &str = "map[string]interface {}";

fn list_arg<'a>(v: &'a Value, what: &str) -> Result<&'a List, FuncError> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(FuncError::Call(format!(
            "Cannot {what} on type {}",
            other.type_name()
        ))),
    }
}

fn dict_arg(v: &Value) -> Result<&std::rc::Rc<std::cell::RefCell<Map>>, FuncError> {
    match v {
        Value::Map(m) if m.borrow().type_name == DICT => Ok(m),
        other => Err(FuncError::Type {
            expected: DICT,
            got: other.type_name(),
        }),
    }
}

fn any_list(items: Vec<Value>) -> Value {
    Value::any_list(items)
}

fn empty(v: &Value) -> bool {
    !v.is_true()
}

/// mergo's `Merge` of `src` into `dst` (`overwrite`: src wins), nested dicts merged.
fn merge_into(dst: &mut Map, src: &Map, overwrite: bool) {
    for (k, v) in src.entries() {
        match (dst.get(k).cloned(), v) {
            (Some(Value::Map(d)), Value::Map(s)) if !std::rc::Rc::ptr_eq(&d, s) => {
                merge_into(&mut d.borrow_mut(), &s.borrow(), overwrite);
            }
            (Some(existing), _) if !overwrite && !empty(&existing) => {}
            (Some(_), _) if overwrite && empty(v) => {}
            _ => dst.insert(k.clone(), v.clone()),
        }
    }
}

pub(super) fn functions() -> Vec<(&'static str, Func)> {
    vec![
        ("list", |a| Ok(any_list(a.to_vec()))),
        ("tuple", |a| Ok(any_list(a.to_vec()))),
        ("append", push),
        ("push", push),
        ("mustAppend", push),
        ("mustPush", push),
        ("prepend", prepend),
        ("mustPrepend", prepend),
        ("first", first),
        ("mustFirst", first),
        ("last", last),
        ("mustLast", last),
        ("rest", rest),
        ("mustRest", rest),
        ("initial", initial),
        ("mustInitial", initial),
        ("reverse", reverse),
        ("mustReverse", reverse),
        ("uniq", uniq),
        ("mustUniq", uniq),
        ("compact", compact),
        ("mustCompact", compact),
        ("without", without),
        ("mustWithout", without),
        ("has", has),
        ("mustHas", has),
        ("slice", slice),
        ("mustSlice", slice),
        ("concat", |a| {
            let mut out = Vec::new();
            for v in a {
                out.extend(list_arg(v, "concat")?.items.iter().cloned());
            }
            Ok(any_list(out))
        }),
        ("chunk", chunk),
        ("mustChunk", chunk),
        ("dict", |a| {
            let mut entries = Vec::new();
            for pair in a.chunks(2) {
                let value = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
                entries.push((strval(&pair[0]), value));
            }
            Ok(Value::dict(entries))
        }),
        ("get", |a| {
            arity(a, 2)?;
            let (d, key) = (dict_arg(&a[0])?, string(&a[1])?);
            Ok(d.borrow()
                .get_str(key)
                .cloned()
                .unwrap_or_else(|| Value::str("")))
        }),
        ("set", |a| {
            arity(a, 3)?;
            let d = dict_arg(&a[0])?;
            d.borrow_mut()
                .insert(Value::str(string(&a[1])?), a[2].clone());
            Ok(a[0].clone())
        }),
        ("unset", |a| {
            arity(a, 2)?;
            let d = dict_arg(&a[0])?;
            d.borrow_mut().remove(&Value::str(string(&a[1])?));
            Ok(a[0].clone())
        }),
        ("hasKey", |a| {
            arity(a, 2)?;
            let (d, key) = (dict_arg(&a[0])?, string(&a[1])?);
            Ok(Value::Bool(d.borrow().get_str(key).is_some()))
        }),
        ("pluck", |a| {
            at_least(a, 1)?;
            let key = string(&a[0])?;
            let mut out = Vec::new();
            for d in &a[1..] {
                if let Some(v) = dict_arg(d)?.borrow().get_str(key) {
                    out.push(v.clone());
                }
            }
            Ok(any_list(out))
        }),
        ("keys", |a| {
            let mut out = Vec::new();
            for d in a {
                out.extend(
                    dict_arg(d)?
                        .borrow()
                        .entries()
                        .iter()
                        .map(|(k, _)| k.clone()),
                );
            }
            Ok(Value::list("[]string", out))
        }),
        ("values", |a| {
            arity(a, 1)?;
            let d = dict_arg(&a[0])?.borrow();
            Ok(any_list(
                d.entries().iter().map(|(_, v)| v.clone()).collect(),
            ))
        }),
        ("pick", |a| pick_or_omit(a, true)),
        ("omit", |a| pick_or_omit(a, false)),
        ("merge", |a| merge(a, false)),
        ("mustMerge", |a| merge(a, false)),
        ("mergeOverwrite", |a| merge(a, true)),
        ("mustMergeOverwrite", |a| merge(a, true)),
        ("dig", |a| {
            at_least(a, 3)?;
            let dict = &a[a.len() - 1];
            let default = &a[a.len() - 2];
            let mut current = dict_arg(dict)?.clone();
            let keys = &a[..a.len() - 2];
            for (i, key) in keys.iter().enumerate() {
                let key = string(key)?;
                let next = current.borrow().get_str(key).cloned();
                match next {
                    None => return Ok(default.clone()),
                    Some(v) if i + 1 == keys.len() => return Ok(v),
                    Some(Value::Map(m)) if m.borrow().type_name == DICT => current = m,
                    Some(other) => {
                        return Err(FuncError::Call(format!(
                            "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                            other.type_name()
                        )));
                    }
                }
            }
            Ok(default.clone())
        }),
    ]
}

fn push(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let mut items = list_arg(&a[0], "push")?.items.clone();
    items.push(a[1].clone());
    Ok(any_list(items))
}

fn prepend(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let mut items = vec![a[1].clone()];
    items.extend(list_arg(&a[0], "prepend")?.items.iter().cloned());
    Ok(any_list(items))
}

fn first(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    Ok(list_arg(&a[0], "find first")?
        .items
        .first()
        .cloned()
        .unwrap_or(Value::Nil))
}

fn last(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    Ok(list_arg(&a[0], "find last")?
        .items
        .last()
        .cloned()
        .unwrap_or(Value::Nil))
}

fn rest(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let items = &list_arg(&a[0], "find rest")?.items;
    if items.is_empty() {
        return Ok(Value::Nil);
    }
    Ok(any_list(items[1..].to_vec()))
}

fn initial(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let items = &list_arg(&a[0], "find initial")?.items;
    if items.is_empty() {
        return Ok(Value::Nil);
    }
    Ok(any_list(items[..items.len() - 1].to_vec()))
}

fn reverse(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let mut items = list_arg(&a[0], "find reverse")?.items.clone();
    items.reverse();
    Ok(any_list(items))
}

fn uniq(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let mut out: Vec<Value> = Vec::new();
    for v in &list_arg(&a[0], "find uniq")?.items {
        if !out.iter().any(|o| o.deep_equal(v)) {
            out.push(v.clone());
        }
    }
    Ok(any_list(out))
}

fn compact(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let items = &list_arg(&a[0], "compact")?.items;
    Ok(any_list(
        items.iter().filter(|v| !empty(v)).cloned().collect(),
    ))
}

fn without(a: &[Value]) -> Result<Value, FuncError> {
    at_least(a, 1)?;
    let items = &list_arg(&a[0], "find without")?.items;
    let omit = &a[1..];
    Ok(any_list(
        items
            .iter()
            .filter(|v| !omit.iter().any(|o| o.deep_equal(v)))
            .cloned()
            .collect(),
    ))
}

fn has(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    if matches!(a[1], Value::Nil) {
        return Ok(Value::Bool(false));
    }
    let items = &list_arg(&a[1], "find has")?.items;
    Ok(Value::Bool(items.iter().any(|v| v.deep_equal(&a[0]))))
}

fn slice(a: &[Value]) -> Result<Value, FuncError> {
    at_least(a, 1)?;
    let Value::List(list) = &a[0] else {
        return Err(FuncError::Call(format!(
            "list should be type of slice or array but {}",
            a[0].kind_name()
        )));
    };
    let items = &list.items;
    if items.is_empty() {
        return Ok(Value::Nil);
    }
    let len = items.len() as i64;
    let start = a.get(1).map_or(0, super::to_int64);
    let end = a.get(2).map_or(len, super::to_int64);
    if start < 0 || end < start || end > len {
        return Err(FuncError::Call(format!(
            "reflect: slice index out of range [{start}:{end}]"
        )));
    }
    Ok(Value::list(
        &list.type_name,
        items[start as usize..end as usize].to_vec(),
    ))
}

fn chunk(a: &[Value]) -> Result<Value, FuncError> {
    arity(a, 2)?;
    let size = int(&a[0])?;
    let items = &list_arg(&a[1], "chunk")?.items;
    if size <= 0 {
        return Err(FuncError::Call("chunk size must be positive".into()));
    }
    Ok(Value::list(
        "[][]interface {}",
        items
            .chunks(size as usize)
            .map(|c| any_list(c.to_vec()))
            .collect(),
    ))
}

fn pick_or_omit(a: &[Value], keep: bool) -> Result<Value, FuncError> {
    at_least(a, 1)?;
    let d = dict_arg(&a[0])?.borrow();
    let names: Vec<&str> = a[1..].iter().map(string).collect::<Result<_, _>>()?;
    let entries = d
        .entries()
        .iter()
        .filter(|(k, _)| names.contains(&k.as_str().unwrap_or_default()) == keep)
        .map(|(k, v)| (strval(k), v.clone()))
        .collect();
    Ok(Value::dict(entries))
}

fn merge(a: &[Value], overwrite: bool) -> Result<Value, FuncError> {
    at_least(a, 1)?;
    let dst = dict_arg(&a[0])?;
    for src in &a[1..] {
        let src = dict_arg(src)?;
        if std::rc::Rc::ptr_eq(dst, src) {
            continue;
        }
        merge_into(&mut dst.borrow_mut(), &src.borrow(), overwrite);
    }
    Ok(a[0].clone())
}
