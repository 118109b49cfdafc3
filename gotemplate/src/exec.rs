//! Runs a parsed template over a value as Go's text/template executes it: variables and their
//! scopes, field chains on structs (embedded fields promoted), maps and methods, truth,
//! `range` over slices, maps (sorted keys) and integers, `break`/`continue`, short-circuit
//! `and`/`or`, and Go's error texts.

use crate::functions::{FuncError, Functions};
use crate::parse::{BranchKind, Command, List, Node, Operand, OperandKind, Pipeline, Tree};
use crate::value::Value;

/// Nested `template` calls allowed (Go allows 100,000 on its growable stacks; ours must fit a
/// thread's fixed stack).
const MAX_DEPTH: usize = 100;
/// Output allowed, so a template cannot fill memory.
const MAX_OUTPUT: usize = 16 << 20;
/// Nodes walked and functions called in one run, so a template cannot run forever (a commit
/// message takes thousands).
const MAX_STEPS: u64 = 10_000_000;
/// Bytes of values made by functions in one run, so a template cannot fill memory by building
/// values it never prints.
const MAX_MADE: usize = 64 << 20;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'a> {
    pub(crate) tree: &'a Tree,
    pub(crate) funcs: &'a Functions,
    pub(crate) name: &'a str,
    pub(crate) text: &'a str,
    pub(crate) vars: Vec<(String, Value)>,
    pub(crate) out: String,
    pub(crate) depth: usize,
    pub(crate) steps: u64,
    pub(crate) made: usize,
}

type Result<T> = std::result::Result<T, String>;

impl Exec<'_> {
    fn error<T>(&self, pos: usize, context: &str, message: impl std::fmt::Display) -> Result<T> {
        let before = &self.text[..pos.min(self.text.len())];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |i| pos - i - 1);
        Err(format!(
            "template: {0}:{line}:{col}: executing {0:?} at <{context}>: {message}",
            self.name
        ))
    }

    pub(crate) fn run(&mut self, list: &List, dot: &Value) -> Result<()> {
        match self.walk(list, dot)? {
            Flow::Normal => Ok(()),
            _ => Err("break or continue outside range".into()),
        }
    }

    fn walk(&mut self, list: &List, dot: &Value) -> Result<Flow> {
        for node in list {
            self.step(1)?;
            if self.out.len() > MAX_OUTPUT {
                return Err(format!(
                    "template: {}: output larger than {MAX_OUTPUT} bytes",
                    self.name
                ));
            }
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.print(&v);
                    }
                }
                Node::Branch {
                    kind,
                    pipe,
                    list,
                    else_list,
                } => {
                    let mark = self.vars.len();
                    let flow = match kind {
                        BranchKind::If | BranchKind::With => {
                            let v = self.pipeline(dot, pipe)?;
                            if v.is_true() {
                                let dot = if *kind == BranchKind::With { &v } else { dot };
                                self.walk(list, dot)?
                            } else {
                                self.walk(else_list, dot)?
                            }
                        }
                        BranchKind::Range => self.range(dot, pipe, list, else_list)?,
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Template { name, pipe, pos } => {
                    let Some(body) = self.tree.defines.get(name) else {
                        return self.error(
                            *pos,
                            &format!("{{{{template {name:?}}}}}"),
                            format!("template {name:?} not defined"),
                        );
                    };
                    let new_dot = match pipe {
                        Some(p) => self.pipeline(dot, p)?,
                        None => Value::Nil,
                    };
                    if self.depth >= MAX_DEPTH {
                        return self.error(*pos, name, "exceeded maximum template depth");
                    }
                    let saved =
                        std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
                    self.depth += 1;
                    let result = self.run(body, &new_dot);
                    self.depth -= 1;
                    self.vars = saved;
                    result?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn step(&mut self, n: u64) -> Result<()> {
        self.steps += n;
        if self.steps > MAX_STEPS {
            return Err(format!(
                "template: {}: more than {MAX_STEPS} steps",
                self.name
            ));
        }
        Ok(())
    }

    fn print(&mut self, v: &Value) {
        match v {
            Value::Missing | Value::Nil => self.out.push_str("<no value>"),
            v => self.out.push_str(&crate::format::value(v, false)),
        }
    }

    fn range(
        &mut self,
        dot: &Value,
        pipe: &Pipeline,
        list: &List,
        else_list: &List,
    ) -> Result<Flow> {
        let mut bare = pipe.clone();
        bare.decl.clear();
        let value = self.pipeline(dot, &bare)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::List(l) => l
                .items
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v.clone()))
                .collect(),
            Value::Map(m) => m.borrow().entries().to_vec(),
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Missing | Value::Nil => Vec::new(),
            other => {
                return self.error(
                    pipe.pos,
                    &pipe_text(pipe),
                    format!(
                        "range can't iterate over {}",
                        crate::format::value(other, false)
                    ),
                );
            }
        };
        if items.is_empty() {
            return self.walk(else_list, dot);
        }
        self.step(items.len() as u64)?;
        let mark = self.vars.len();
        for (key, item) in items {
            match pipe.decl.as_slice() {
                [] => {}
                [one] => self.declare(one, item.clone(), pipe.is_assign),
                [k, v, ..] => {
                    self.declare(k, key, pipe.is_assign);
                    self.declare(v, item.clone(), pipe.is_assign);
                }
            }
            let flow = self.walk(list, &item)?;
            self.vars.truncate(mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn declare(&mut self, name: &str, value: Value, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = value;
            }
        } else {
            self.vars.push((name.to_string(), value));
        }
    }

    fn pipeline(&mut self, dot: &Value, pipe: &Pipeline) -> Result<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Missing);
        for name in &pipe.decl {
            self.declare(name, value.clone(), pipe.is_assign);
        }
        Ok(value)
    }

    fn command(&mut self, dot: &Value, cmd: &Command, last: Option<Value>) -> Result<Value> {
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match &first.kind {
            OperandKind::Function(name) => self.call(dot, first, name, rest, last),
            OperandKind::Field(path) => self.chain(
                dot,
                dot.clone(),
                path,
                first,
                !rest.is_empty() || last.is_some(),
            ),
            OperandKind::Variable(name, path) => {
                let v = self.variable(name);
                if path.is_empty() {
                    self.no_args(first, rest, &last)?;
                    return Ok(v);
                }
                self.chain(dot, v, path, first, !rest.is_empty() || last.is_some())
            }
            OperandKind::Chain(pipe, path) => {
                self.no_args(first, rest, &last)?;
                let v = self.pipeline(dot, pipe)?;
                self.chain(dot, v, path, first, false)
            }
            OperandKind::Nil => self.error(first.pos, &first.text, "nil is not a command"),
            _ => {
                self.no_args(first, rest, &last)?;
                self.operand(dot, first)
            }
        }
    }

    fn no_args(&self, op: &Operand, rest: &[Operand], last: &Option<Value>) -> Result<()> {
        if !rest.is_empty() || last.is_some() {
            return self.error(
                op.pos,
                &op.text,
                format!("can't give argument to non-function {}", op.text),
            );
        }
        Ok(())
    }

    fn variable(&self, name: &str) -> Value {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Missing)
    }

    /// `receiver.A.B...`; `has_args`: the last element was given arguments.
    fn chain(
        &self,
        _dot: &Value,
        receiver: Value,
        path: &[String],
        op: &Operand,
        has_args: bool,
    ) -> Result<Value> {
        let mut v = receiver;
        for (i, name) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            v = self.field(v, name, op, has_args && last)?;
        }
        Ok(v)
    }

    fn field(&self, receiver: Value, name: &str, op: &Operand, has_args: bool) -> Result<Value> {
        match &receiver {
            Value::Missing => Ok(Value::Missing),
            Value::Nil => self.error(
                op.pos,
                &op.text,
                format!("nil pointer evaluating interface {{}}.{name}"),
            ),
            Value::Struct(s) => match s.member(name) {
                Some(_) if has_args => self.error(
                    op.pos,
                    &op.text,
                    format!("{name} has arguments but cannot be invoked as function"),
                ),
                Some(v) => Ok(v),
                None => self.error(
                    op.pos,
                    &op.text,
                    format!("can't evaluate field {name} in type {}", s.type_name),
                ),
            },
            Value::Map(m) if m.borrow().string_keyed() => {
                if has_args {
                    return self.error(
                        op.pos,
                        &op.text,
                        format!("{name} is not a method but has arguments"),
                    );
                }
                Ok(m.borrow().get_str(name).cloned().unwrap_or(Value::Missing))
            }
            other => self.error(
                op.pos,
                &op.text,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            ),
        }
    }

    fn operand(&mut self, dot: &Value, op: &Operand) -> Result<Value> {
        Ok(match &op.kind {
            OperandKind::Dot => dot.clone(),
            OperandKind::Nil => Value::Nil,
            OperandKind::Bool(b) => Value::Bool(*b),
            OperandKind::Int(i) => Value::Int(*i),
            OperandKind::Float(f) => Value::Float(*f),
            OperandKind::Str(s) => Value::Str(s.clone()),
            OperandKind::Function(name) => return self.call(dot, op, name, &[], None),
            OperandKind::Field(path) => self.chain(dot, dot.clone(), path, op, false)?,
            OperandKind::Variable(name, path) => {
                let v = self.variable(name);
                self.chain(dot, v, path, op, false)?
            }
            OperandKind::Chain(pipe, path) => {
                let v = self.pipeline(dot, pipe)?;
                self.chain(dot, v, path, op, false)?
            }
        })
    }

    fn call(
        &mut self,
        dot: &Value,
        op: &Operand,
        name: &str,
        args: &[Operand],
        last: Option<Value>,
    ) -> Result<Value> {
        // `and` and `or` stop at the first argument that decides.
        if name == "and" || name == "or" {
            let total = args.len() + usize::from(last.is_some());
            if total == 0 {
                return self.error(
                    op.pos,
                    &op.text,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                );
            }
            let mut v = Value::Missing;
            for a in args {
                v = self.operand(dot, a)?;
                if v.is_true() == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(l) = last {
                v = l;
            }
            return Ok(v);
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for a in args {
            values.push(self.operand(dot, a)?);
        }
        values.extend(last);
        // A missing value passed to a function is a nil interface.
        for v in &mut values {
            if matches!(v, Value::Missing) {
                *v = Value::Nil;
            }
        }
        let Some(f) = self.funcs.get(name) else {
            return self.error(
                op.pos,
                &op.text,
                format!("{name:?} is not a defined function"),
            );
        };
        self.step(1 + values.len() as u64 + crate::functions::cost(name))?;
        let result = f(&values);
        if let Ok(v) = &result {
            self.made += shallow_size(v);
            if self.made > MAX_MADE {
                return self.error(
                    op.pos,
                    &op.text,
                    format!("values made larger than {MAX_MADE} bytes"),
                );
            }
        }
        result.or_else(|e| {
            // Go names the argument of the wrong type; the first of that type stands in for it.
            let at = match &e {
                FuncError::Type { got, .. } => args
                    .iter()
                    .zip(&values)
                    .find(|(_, v)| &v.type_name() == got)
                    .map_or(op, |(a, _)| a),
                _ => op,
            };
            let text = match e {
                FuncError::Arity { want, got } => {
                    format!("wrong number of args for {name}: want {want} got {got}")
                }
                FuncError::Type { expected, got } => {
                    format!("wrong type for value; expected {expected}; got {got}")
                }
                FuncError::Call(m) => format!("error calling {name}: {m}"),
            };
            self.error(at.pos, &at.text, text)
        })
    }
}

fn pipe_text(pipe: &Pipeline) -> String {
    pipe.cmds
        .iter()
        .map(|c| {
            c.args
                .iter()
                .map(|a| a.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The bytes a function result adds (its own string or elements, not what it shares).
fn shallow_size(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.items.len() * std::mem::size_of::<Value>(),
        Value::Map(m) => m.borrow().len() * 2 * std::mem::size_of::<Value>(),
        _ => 0,
    }
}
