//! Go's text/template lexer: text and `{{ }}` actions with `{{-`/`-}}` trim markers, comments,
//! strings (interpreted, raw, characters), numbers, fields, variables and keywords.

/// One lexed item.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Plain text outside actions.
    Text(String),
    /// `{{`.
    Left,
    /// `}}`.
    Right,
    /// White space inside an action.
    Space,
    /// A function name.
    Ident(String),
    /// `.Name` (without the dot).
    Field(String),
    /// `$name` or `$`.
    Variable(String),
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `|`.
    Pipe,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// A string constant (quotes removed, escapes applied).
    Str(String),
    /// A character constant.
    Char(char),
    /// A number as written.
    Number(String),
    /// `true` / `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// `.`.
    Dot,
    /// `,`.
    Comma,
    /// A keyword: if, else, end, range, with, define, template, block, break, continue.
    Keyword(&'static str),
    /// End of input.
    Eof,
}

/// An item with its byte offset.
#[derive(Clone, Debug)]
pub struct Item {
    /// The item.
    pub tok: Tok,
    /// Byte offset in the template.
    pub pos: usize,
}

/// A lexing error with its byte offset.
#[derive(Debug)]
pub struct LexError {
    /// The message.
    pub message: String,
    /// Byte offset.
    pub pos: usize,
}

const KEYWORDS: [&str; 10] = [
    "block", "break", "continue", "define", "else", "end", "if", "range", "template", "with",
];

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Lexes the whole template.
pub fn lex(input: &str) -> Result<Vec<Item>, LexError> {
    Lexer {
        input,
        pos: 0,
        items: Vec::new(),
    }
    .run()
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    items: Vec<Item>,
}

impl Lexer<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            message: message.into(),
            pos: self.pos,
        })
    }

    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn emit(&mut self, tok: Tok, pos: usize) {
        self.items.push(Item { tok, pos });
    }

    fn run(mut self) -> Result<Vec<Item>, LexError> {
        let mut trim_next = false;
        loop {
            let start = self.pos;
            let found = self.rest().find("{{");
            let end = found.map_or(self.input.len(), |i| self.pos + i);
            let mut text = &self.input[start..end];
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
                trim_next = false;
            }
            let left_trim = found.is_some()
                && self.input[end + 2..].starts_with('-')
                && self
                    .input
                    .as_bytes()
                    .get(end + 3)
                    .copied()
                    .is_some_and(is_space);
            if left_trim {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                self.emit(Tok::Text(text.to_string()), start);
            }
            if found.is_none() {
                self.emit(Tok::Eof, self.input.len());
                return Ok(self.items);
            }
            self.pos = end + 2 + if left_trim { 2 } else { 0 };
            // A comment fills the whole action.
            if self.rest().starts_with("/*") {
                let Some(close) = self.rest().find("*/") else {
                    return self.err("unclosed comment");
                };
                self.pos += close + 2;
                if self.rest().starts_with("}}") {
                    self.pos += 2;
                } else if self.rest().len() > 3
                    && is_space(self.rest().as_bytes()[0])
                    && self.rest()[1..].starts_with("-}}")
                {
                    self.pos += 4;
                    trim_next = true;
                } else {
                    return self.err("comment ends before closing delimiter");
                }
                continue;
            }
            self.emit(Tok::Left, end);
            trim_next = self.inside_action()?;
        }
    }

    /// Lexes up to and including `}}`; returns whether it was ` -}}`.
    fn inside_action(&mut self) -> Result<bool, LexError> {
        let mut depth = 0usize;
        loop {
            let rest = &self.input[self.pos..];
            let start = self.pos;
            if rest.starts_with("}}") {
                if depth > 0 {
                    return self.err("unclosed left paren");
                }
                self.pos += 2;
                self.emit(Tok::Right, start);
                return Ok(false);
            }
            let Some(c) = rest.chars().next() else {
                return self.err("unclosed action");
            };
            if c.is_ascii() && is_space(c as u8) {
                if rest.len() > 1 && rest[1..].starts_with("-}}") {
                    if depth > 0 {
                        return self.err("unclosed left paren");
                    }
                    self.pos += 4;
                    self.emit(Tok::Right, start + 1);
                    return Ok(true);
                }
                let n = rest.bytes().take_while(|b| is_space(*b)).count();
                // Keep the last space for a trim marker that follows.
                let n = if rest[n..].starts_with("-}}") {
                    n - 1
                } else {
                    n
                };
                self.pos += n.max(1);
                if n > 0 {
                    self.emit(Tok::Space, start);
                }
                continue;
            }
            match c {
                ':' => {
                    if !rest.starts_with(":=") {
                        return self.err("expected :=");
                    }
                    self.pos += 2;
                    self.emit(Tok::Declare, start);
                }
                '=' => {
                    self.pos += 1;
                    self.emit(Tok::Assign, start);
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Tok::Pipe, start);
                }
                ',' => {
                    self.pos += 1;
                    self.emit(Tok::Comma, start);
                }
                '(' => {
                    depth += 1;
                    self.pos += 1;
                    self.emit(Tok::LParen, start);
                }
                ')' => {
                    if depth == 0 {
                        return self.err("unexpected right paren");
                    }
                    depth -= 1;
                    self.pos += 1;
                    self.emit(Tok::RParen, start);
                }
                '"' => {
                    let s = self.quoted()?;
                    self.emit(Tok::Str(s), start);
                }
                '`' => {
                    let Some(close) = rest[1..].find('`') else {
                        return self.err("unterminated raw quoted string");
                    };
                    let raw = rest[1..close + 1].to_string();
                    self.pos += close + 2;
                    self.emit(Tok::Str(raw), start);
                }
                '\'' => {
                    let c = self.character()?;
                    self.emit(Tok::Char(c), start);
                }
                '$' => {
                    let name: String = rest[1..].chars().take_while(|c| is_alnum(*c)).collect();
                    self.pos += 1 + name.len();
                    self.emit(Tok::Variable(format!("${name}")), start);
                }
                '.' => {
                    if rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
                        self.number()?;
                    } else {
                        let name: String = rest[1..].chars().take_while(|c| is_alnum(*c)).collect();
                        self.pos += 1 + name.len();
                        if name.is_empty() {
                            self.emit(Tok::Dot, start);
                        } else {
                            self.emit(Tok::Field(name), start);
                        }
                    }
                }
                c if c == '+' || c == '-' || c.is_ascii_digit() => self.number()?,
                c if is_alnum(c) => {
                    let word: String = rest.chars().take_while(|c| is_alnum(*c)).collect();
                    self.pos += word.len();
                    let tok = match word.as_str() {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => match KEYWORDS.iter().find(|k| **k == w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Ident(word.clone()),
                        },
                    };
                    self.emit(tok, start);
                }
                c => return self.err(format!("unrecognized character in action: {c:?}")),
            }
        }
    }

    fn number(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let text: String = self
            .rest()
            .char_indices()
            .take_while(|(i, c)| {
                c.is_ascii_alphanumeric()
                    || *c == '.'
                    || *c == '_'
                    || ((*c == '+' || *c == '-') && *i == 0)
                    || ((*c == '+' || *c == '-')
                        && self.rest()[..*i].ends_with(['e', 'E', 'p', 'P'])
                        && !self.rest().starts_with("0x"))
            })
            .map(|(_, c)| c)
            .collect();
        self.pos += text.len();
        if text == "+" || text == "-" {
            return self.err(format!("bad number syntax: {text:?}"));
        }
        self.emit(Tok::Number(text), start);
        Ok(())
    }

    fn quoted(&mut self) -> Result<String, LexError> {
        let mut out = String::new();
        let mut chars = self.rest()[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 2;
                    return Ok(out);
                }
                '\n' => break,
                '\\' => match chars.next() {
                    Some((_, e)) => match unescape(e, &mut chars) {
                        Some(c) => out.push(c),
                        None => return self.err("invalid syntax in quoted string"),
                    },
                    None => break,
                },
                c => out.push(c),
            }
        }
        self.err("unterminated quoted string")
    }

    fn character(&mut self) -> Result<char, LexError> {
        let rest = &self.rest()[1..];
        let mut chars = rest.char_indices();
        let c = match chars.next() {
            Some((_, '\\')) => match chars.next() {
                Some((_, e)) => unescape(e, &mut chars),
                None => None,
            },
            Some((_, c)) if c != '\'' && c != '\n' => Some(c),
            _ => None,
        };
        match (c, chars.next()) {
            (Some(c), Some((i, '\''))) => {
                self.pos += i + 2;
                Ok(c)
            }
            _ => self.err("unterminated character constant"),
        }
    }
}

fn unescape(e: char, chars: &mut std::str::CharIndices<'_>) -> Option<char> {
    let mut hex = |n: usize, radix: u32| {
        let digits: String = (0..n)
            .filter_map(|_| chars.next().map(|(_, c)| c))
            .collect();
        if digits.len() != n {
            return None;
        }
        u32::from_str_radix(&digits, radix)
            .ok()
            .and_then(char::from_u32)
    };
    Some(match e {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        '\\' => '\\',
        '"' => '"',
        '\'' => '\'',
        'x' => return hex(2, 16),
        'u' => return hex(4, 16),
        'U' => return hex(8, 16),
        '0'..='7' => {
            let rest: String = (0..2)
                .filter_map(|_| chars.next().map(|(_, c)| c))
                .collect();
            return u32::from_str_radix(&format!("{e}{rest}"), 8)
                .ok()
                .and_then(char::from_u32);
        }
        _ => return None,
    })
}
