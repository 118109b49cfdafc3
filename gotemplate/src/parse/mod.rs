//! Go's text/template parser: the item stream becomes a tree of text, actions, `if`/`range`/
//! `with` (with `else if` and `else with`), `define`/`template`/`block`, `break`/`continue`,
//! pipelines with declarations, and operands; functions and variables are checked at parse
//! time as Go does.

use std::collections::HashMap;

use crate::lex::{Item, Tok, lex};

mod operands;

/// A list of nodes.
pub type List = Vec<Node>;

/// A node of the tree.
#[derive(Clone, Debug)]
pub enum Node {
    /// Text copied to the output.
    Text(String),
    /// `{{pipeline}}`.
    Action(Pipeline),
    /// `{{if}}`, `{{range}}` or `{{with}}`.
    Branch {
        /// Which one.
        kind: BranchKind,
        /// The condition or the ranged value.
        pipe: Pipeline,
        /// The body.
        list: List,
        /// The `else` body.
        else_list: List,
    },
    /// `{{template "name" pipeline}}`.
    Template {
        /// The template called.
        name: String,
        /// Its dot.
        pipe: Option<Pipeline>,
        /// Byte offset.
        pos: usize,
    },
    /// `{{break}}`.
    Break,
    /// `{{continue}}`.
    Continue,
}

/// The three branching actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchKind {
    /// `if`.
    If,
    /// `range`.
    Range,
    /// `with`.
    With,
}

/// A pipeline: optional declarations and commands joined by `|`.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// Declared or assigned variables.
    pub decl: Vec<String>,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// The commands.
    pub cmds: Vec<Command>,
    /// Byte offset.
    pub pos: usize,
}

/// One command: its operands (the first may be a function).
#[derive(Clone, Debug)]
pub struct Command {
    /// The operands.
    pub args: Vec<Operand>,
}

/// An operand with its source text and position (for error messages).
#[derive(Clone, Debug)]
pub struct Operand {
    /// The operand.
    pub kind: OperandKind,
    /// Byte offset.
    pub pos: usize,
    /// The text Go shows in errors.
    pub text: String,
}

/// What an operand is.
#[derive(Clone, Debug)]
pub enum OperandKind {
    /// `.`.
    Dot,
    /// `nil`.
    Nil,
    /// A boolean constant.
    Bool(bool),
    /// An integer constant.
    Int(i64),
    /// A float constant.
    Float(f64),
    /// A string constant.
    Str(String),
    /// A function name.
    Function(String),
    /// `.A.B`.
    Field(Vec<String>),
    /// `$x.A.B`.
    Variable(String, Vec<String>),
    /// `(pipeline).A.B`.
    Chain(Box<Pipeline>, Vec<String>),
}

/// A parse error.
#[derive(Debug)]
pub struct ParseError {
    /// The message.
    pub message: String,
    /// Byte offset.
    pub pos: usize,
}

/// The parsed templates: the main one and every `define`.
#[derive(Debug, Default)]
pub struct Tree {
    /// The main template.
    pub root: List,
    /// Named templates.
    pub defines: HashMap<String, List>,
}

/// Nesting allowed (branches, defines, parentheses): deeper templates are refused rather than
/// exhausting the stack.
const MAX_NESTING: usize = 200;

/// What ends a list.
#[derive(PartialEq)]
enum Stop {
    End,
    Else,
    Eof,
}

/// Parses `text`; `is_function` says whether a name is a known function.
pub fn parse(text: &str, is_function: &dyn Fn(&str) -> bool) -> Result<Tree, ParseError> {
    let items = lex(text).map_err(|e| ParseError {
        message: e.message,
        pos: e.pos,
    })?;
    let mut p = Parser {
        items,
        next: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        depth: 0,
        is_function,
        tree: Tree::default(),
        text,
    };
    let (root, stop) = p.list()?;
    if stop != Stop::Eof {
        return p.fail(format!(
            "unexpected {{{{{}}}}}",
            if stop == Stop::End { "end" } else { "else" }
        ));
    }
    p.tree.root = root;
    Ok(p.tree)
}

pub(super) struct Parser<'a> {
    pub(super) items: Vec<Item>,
    pub(super) next: usize,
    pub(super) vars: Vec<String>,
    pub(super) range_depth: usize,
    pub(super) depth: usize,
    pub(super) is_function: &'a dyn Fn(&str) -> bool,
    pub(super) tree: Tree,
    pub(super) text: &'a str,
}

impl Parser<'_> {
    pub(super) fn peek(&self) -> &Item {
        &self.items[self.next.min(self.items.len() - 1)]
    }

    pub(super) fn advance(&mut self) -> Item {
        let item = self.peek().clone();
        if self.next < self.items.len() {
            self.next += 1;
        }
        item
    }

    pub(super) fn peek_non_space(&mut self) -> &Item {
        while self.peek().tok == Tok::Space {
            self.next += 1;
        }
        self.peek()
    }

    pub(super) fn next_non_space(&mut self) -> Item {
        self.peek_non_space();
        self.advance()
    }

    pub(super) fn fail<T>(&self, message: String) -> Result<T, ParseError> {
        Err(ParseError {
            message,
            pos: self.peek().pos,
        })
    }

    pub(super) fn unexpected<T>(&self, item: &Item, context: &str) -> Result<T, ParseError> {
        let shown = match &item.tok {
            Tok::Eof => "EOF".to_string(),
            Tok::Right => "\"}}\"".to_string(),
            _ => format!("{:?}", self.item_text(item)),
        };
        Err(ParseError {
            message: format!("unexpected {shown} in {context}"),
            pos: item.pos,
        })
    }

    fn item_text(&self, item: &Item) -> String {
        let end = self
            .items
            .iter()
            .find(|i| i.pos > item.pos)
            .map_or(self.text.len(), |i| i.pos);
        self.text[item.pos..end].trim_end().to_string()
    }

    fn expect_right(&mut self, context: &str) -> Result<(), ParseError> {
        let item = self.next_non_space();
        if item.tok != Tok::Right {
            return self.unexpected(&item, context);
        }
        Ok(())
    }

    /// Nodes up to `{{end}}`, `{{else}}` or the end of input.
    fn list(&mut self) -> Result<(List, Stop), ParseError> {
        let mut list = List::new();
        loop {
            let item = self.advance();
            match item.tok {
                Tok::Eof => return Ok((list, Stop::Eof)),
                Tok::Text(t) => list.push(Node::Text(t)),
                Tok::Left => {
                    let next = self.peek_non_space().clone();
                    match next.tok {
                        Tok::Keyword("end") => {
                            self.advance();
                            self.expect_right("end")?;
                            return Ok((list, Stop::End));
                        }
                        Tok::Keyword("else") => {
                            self.advance();
                            return Ok((list, Stop::Else));
                        }
                        _ => {
                            if let Some(node) = self.action()? {
                                list.push(node);
                            }
                        }
                    }
                }
                _ => return self.unexpected(&item, "input"),
            }
        }
    }

    fn action(&mut self) -> Result<Option<Node>, ParseError> {
        let item = self.peek_non_space().clone();
        let Tok::Keyword(k) = item.tok else {
            let pipe = self.pipeline("command", false)?;
            return Ok(Some(Node::Action(pipe)));
        };
        self.advance();
        Ok(Some(match k {
            "if" => self.branch(BranchKind::If)?,
            "range" => self.branch(BranchKind::Range)?,
            "with" => self.branch(BranchKind::With)?,
            "break" | "continue" => {
                if self.range_depth == 0 {
                    return self.fail(format!("{{{{{k}}}}} outside {{{{range}}}}"));
                }
                self.expect_right(k)?;
                if k == "break" {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
            "template" => {
                let pos = self.peek_non_space().pos;
                let (name, pipe) = self.template_call("template")?;
                Node::Template { name, pipe, pos }
            }
            "define" => {
                let name = self.template_name("define")?;
                self.expect_right("define clause")?;
                self.define(name)?;
                return Ok(None);
            }
            "block" => {
                let (name, pipe) = self.template_call("block")?;
                self.define(name.clone())?;
                Node::Template {
                    name,
                    pipe,
                    pos: item.pos,
                }
            }
            other => return self.fail(format!("unexpected <{other}> in command")),
        }))
    }

    fn define(&mut self, name: String) -> Result<(), ParseError> {
        self.nest()?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (body, stop) = self.list()?;
        self.vars = saved;
        self.depth -= 1;
        if stop != Stop::End {
            return self.fail("unexpected EOF".into());
        }
        self.tree.defines.insert(name, body);
        Ok(())
    }

    fn template_name(&mut self, context: &str) -> Result<String, ParseError> {
        let item = self.next_non_space();
        match item.tok {
            Tok::Str(s) => Ok(s),
            _ => self.unexpected(&item, &format!("{context} clause")),
        }
    }

    fn template_call(&mut self, context: &str) -> Result<(String, Option<Pipeline>), ParseError> {
        let name = self.template_name(context)?;
        if self.peek_non_space().tok == Tok::Right {
            self.advance();
            return Ok((name, None));
        }
        Ok((name, Some(self.pipeline(context, false)?)))
    }

    pub(super) fn nest(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.fail(format!("max depth of nesting ({MAX_NESTING}) exceeded"));
        }
        Ok(())
    }

    fn branch(&mut self, kind: BranchKind) -> Result<Node, ParseError> {
        self.nest()?;
        let node = self.branch_body(kind);
        self.depth -= 1;
        node
    }

    fn branch_body(&mut self, kind: BranchKind) -> Result<Node, ParseError> {
        let mark = self.vars.len();
        let context = match kind {
            BranchKind::If => "if",
            BranchKind::Range => "range",
            BranchKind::With => "with",
        };
        let pipe = self.pipeline(context, kind == BranchKind::Range)?;
        if kind == BranchKind::Range {
            self.range_depth += 1;
        }
        let body = self.list();
        if kind == BranchKind::Range {
            self.range_depth -= 1;
        }
        let (list, stop) = body?;
        let else_list = match stop {
            Stop::Eof => return self.fail("unexpected EOF".into()),
            Stop::End => List::new(),
            Stop::Else => {
                // `{{else if ...}}` and `{{else with ...}}` nest a branch that shares the end.
                let next = self.peek_non_space().clone();
                match next.tok {
                    Tok::Keyword("if") if kind == BranchKind::If => {
                        self.advance();
                        vec![self.branch(BranchKind::If)?]
                    }
                    Tok::Keyword("with") if kind == BranchKind::With => {
                        self.advance();
                        vec![self.branch(BranchKind::With)?]
                    }
                    _ => {
                        self.expect_right("else")?;
                        let (else_list, stop) = self.list()?;
                        match stop {
                            Stop::End => else_list,
                            Stop::Else => return self.fail("expected end; found {{else}}".into()),
                            Stop::Eof => return self.fail("unexpected EOF".into()),
                        }
                    }
                }
            }
        };
        self.vars.truncate(mark);
        Ok(Node::Branch {
            kind,
            pipe,
            list,
            else_list,
        })
    }
}
