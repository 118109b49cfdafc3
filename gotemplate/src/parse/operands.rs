//! The operand half of the parser: pipelines with their declarations, commands, and operands
//! (fields, variables, functions, constants, parenthesised pipelines), with Go's checks.

use super::{Command, Operand, OperandKind, ParseError, Parser, Pipeline};
use crate::lex::Tok;

impl Parser<'_> {
    pub(super) fn pipeline(&mut self, context: &str, range: bool) -> Result<Pipeline, ParseError> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipeline {
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
            pos,
        };
        // Declarations: `$x :=`, `$x =`, `$i, $e :=` (range only).
        let start = self.next;
        if let Tok::Variable(name) = self.peek_non_space().tok.clone() {
            self.advance();
            let after = self.peek_non_space().tok.clone();
            match after {
                Tok::Declare | Tok::Assign => {
                    self.advance();
                    pipe.is_assign = after == Tok::Assign;
                    if pipe.is_assign && !self.vars.contains(&name) {
                        return self.fail(format!("undefined variable {name:?}"));
                    }
                    pipe.decl.push(name);
                }
                Tok::Comma if range => {
                    self.advance();
                    let Tok::Variable(second) = self.next_non_space().tok else {
                        return self.fail("range can only initialize variables".into());
                    };
                    let op = self.next_non_space().tok;
                    if op != Tok::Declare && op != Tok::Assign {
                        return self.fail("range can only initialize variables".into());
                    }
                    pipe.is_assign = op == Tok::Assign;
                    pipe.decl = vec![name, second];
                }
                _ => self.next = start,
            }
        }
        loop {
            let item = self.peek_non_space().clone();
            match item.tok {
                Tok::Right => {
                    self.advance();
                    break;
                }
                Tok::RParen if context == "parenthesized pipeline" => {
                    self.advance();
                    break;
                }
                Tok::Eof => return self.unexpected(&item, context),
                _ => {
                    let cmd = self.command()?;
                    if !pipe.cmds.is_empty()
                        && !matches!(
                            cmd.args[0].kind,
                            OperandKind::Function(_)
                                | OperandKind::Field(_)
                                | OperandKind::Variable(..)
                                | OperandKind::Chain(..)
                        )
                    {
                        return self.fail(format!(
                            "non executable command in pipeline stage {}",
                            pipe.cmds.len() + 1
                        ));
                    }
                    pipe.cmds.push(cmd);
                }
            }
        }
        if pipe.cmds.is_empty() {
            return self.fail(format!("missing value for {context}"));
        }
        if !pipe.is_assign {
            for name in &pipe.decl {
                self.vars.push(name.clone());
            }
        }
        Ok(pipe)
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            args.push(self.operand()?);
            let item = self.peek().clone();
            match item.tok {
                Tok::Space => {
                    self.advance();
                    let next = self.peek_non_space().tok.clone();
                    match next {
                        Tok::Right | Tok::RParen => break,
                        Tok::Pipe => {
                            self.advance();
                            break;
                        }
                        _ => continue,
                    }
                }
                Tok::Right | Tok::RParen => break,
                Tok::Pipe => {
                    self.advance();
                    break;
                }
                _ => return self.unexpected(&item, "operand"),
            }
        }
        Ok(Command { args })
    }

    fn fields(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Tok::Field(name) = &self.peek().tok {
            out.push(name.clone());
            self.advance();
        }
        out
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let item = self.advance();
        let pos = item.pos;
        let kind = match item.tok {
            Tok::Dot => OperandKind::Dot,
            Tok::Nil => OperandKind::Nil,
            Tok::Bool(b) => OperandKind::Bool(b),
            Tok::Str(s) => OperandKind::Str(s),
            Tok::Char(c) => OperandKind::Int(c as i64),
            Tok::Number(n) => number(&n).ok_or_else(|| ParseError {
                message: format!("bad number syntax: {n:?}"),
                pos,
            })?,
            Tok::Ident(name) => {
                if !(self.is_function)(&name) {
                    return Err(ParseError {
                        message: format!("function {name:?} not defined"),
                        pos,
                    });
                }
                OperandKind::Function(name)
            }
            Tok::Field(first) => {
                let mut path = vec![first];
                path.extend(self.fields());
                OperandKind::Field(path)
            }
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err(ParseError {
                        message: format!("undefined variable {name:?}"),
                        pos,
                    });
                }
                OperandKind::Variable(name, self.fields())
            }
            Tok::LParen => {
                self.nest()?;
                let pipe = self.pipeline("parenthesized pipeline", false)?;
                self.depth -= 1;
                OperandKind::Chain(Box::new(pipe), self.fields())
            }
            _ => return self.unexpected(&item, "operand"),
        };
        if matches!(self.peek().tok, Tok::Field(_))
            && !matches!(kind, OperandKind::Field(_) | OperandKind::Variable(..))
        {
            return self.fail("unexpected . after term".into());
        }
        let end = self.peek().pos;
        Ok(Operand {
            kind,
            pos,
            text: self.text[pos..end.max(pos)].trim_end().to_string(),
        })
    }
}

/// A number constant as Go reads it.
fn number(text: &str) -> Option<OperandKind> {
    let clean = text.replace('_', "");
    let (negative, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let lower = digits.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(OperandKind::Int(if negative { -i } else { i }));
    }
    if lower.starts_with("0x") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    Some(OperandKind::Float(if negative { -f } else { f }))
}
