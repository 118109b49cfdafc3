//! Writing JSON values as YAML byte-for-byte like kustomize (go-yaml v3, two-space indent,
//! compact sequences): go-yaml's key order, its scalar style choice (plain, single-quoted,
//! double-quoted, literal) and libyaml's line folding near 80 columns.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::resolve::{go_json_float, needs_quotes};

const BEST_WIDTH: usize = 80;
const INDENT: usize = 2;

/// go-yaml v3's map key order: letters by code point, digit runs by numeric value.
pub fn key_order(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut digits = false;
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            digits = ar[i].is_numeric();
            i += 1;
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            let a_first = if digits { al } else { bl };
            return if a_first {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

fn is_printable(c: char) -> bool {
    let c = c as u32;
    c == 0x0A
        || (0x20..=0x7E).contains(&c)
        || c == 0x85
        || (0xA0..=0xD7FF).contains(&c)
        || ((0xE000..=0xFFFD).contains(&c) && c != 0xFEFF)
        || (0x10000..=0x10FFFF).contains(&c)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: Option<char>) -> bool {
    matches!(c, None | Some(' ') | Some('\t')) || c.is_some_and(is_break)
}

/// What libyaml allows for a scalar.
struct Analysis {
    multiline: bool,
    block_plain: bool,
    single_quoted: bool,
    block: bool,
}

fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            block_plain: true,
            single_quoted: true,
            block: false,
        };
    }
    let chars: Vec<char> = value.chars().collect();
    let (mut block_indicators, mut flow_indicators) = (false, false);
    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) =
        (false, false, false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_whitespace = is_blank(next);
        let (first, last) = (i == 0, i + 1 == chars.len());
        if first {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_indicators = true;
                block_indicators = true;
            }
            if c == '?' || c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_indicators = true;
            }
            if c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if !is_printable(c) || c == '\u{FEFF}' {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if first {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if first {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(Some(c));
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain: true,
        single_quoted: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single_quoted = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single_quoted = false;
        a.block = false;
    }
    if line_breaks {
        a.block_plain = false;
    }
    let _ = flow_indicators;
    if block_indicators {
        a.block_plain = false;
    }
    a
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn choose_style(value: &str, simple_key: bool) -> Style {
    let requested = if value.contains('\n') {
        Style::Literal
    } else if needs_quotes(value) {
        Style::Double
    } else {
        Style::Plain
    };
    let a = analyze(value);
    let mut style = requested;
    if style == Style::Plain
        && (!a.block_plain || (value.is_empty() && simple_key) || (simple_key && a.multiline))
    {
        style = Style::Single;
    }
    if style == Style::Literal && (!a.block || simple_key) {
        style = Style::Double;
    }
    if style == Style::Single && !a.single_quoted {
        style = Style::Double;
    }
    style
}

struct Writer {
    out: String,
    column: usize,
}

impl Writer {
    fn push(&mut self, s: &str) {
        for c in s.chars() {
            self.out.push(c);
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
    }

    fn newline_indent(&mut self, indent: usize) {
        self.push("\n");
        self.push(&" ".repeat(indent));
    }

    fn plain(&mut self, value: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.newline_indent(indent);
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                let mut buf = [0u8; 4];
                self.push(c.encode_utf8(&mut buf));
                spaces = false;
            }
        }
    }

    fn single(&mut self, value: &str, indent: usize, allow_breaks: bool) {
        self.push("'");
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                    && !next_is_space
                {
                    self.newline_indent(indent);
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.push("''");
                } else {
                    let mut buf = [0u8; 4];
                    self.push(c.encode_utf8(&mut buf));
                }
                spaces = false;
            }
        }
        self.push("'");
    }

    fn double(&mut self, value: &str, indent: usize, allow_breaks: bool) {
        self.push("\"");
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                let escaped = match c {
                    '\0' => "\\0".to_string(),
                    '\u{07}' => "\\a".to_string(),
                    '\u{08}' => "\\b".to_string(),
                    '\t' => "\\t".to_string(),
                    '\n' => "\\n".to_string(),
                    '\u{0B}' => "\\v".to_string(),
                    '\u{0C}' => "\\f".to_string(),
                    '\r' => "\\r".to_string(),
                    '\u{1B}' => "\\e".to_string(),
                    '"' => "\\\"".to_string(),
                    '\\' => "\\\\".to_string(),
                    '\u{85}' => "\\N".to_string(),
                    '\u{A0}' => "\\_".to_string(),
                    '\u{2028}' => "\\L".to_string(),
                    '\u{2029}' => "\\P".to_string(),
                    c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.push(&escaped);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                {
                    self.newline_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.push("\\");
                    }
                } else {
                    self.push(" ");
                }
                spaces = true;
            } else {
                let mut buf = [0u8; 4];
                self.push(c.encode_utf8(&mut buf));
                spaces = false;
            }
            i += 1;
        }
        self.push("\"");
    }

    fn literal(&mut self, value: &str, indent: usize) {
        self.push("|");
        let first = value.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.push(&INDENT.to_string());
        }
        let chars: Vec<char> = value.chars().collect();
        let last = chars.last().copied();
        if !last.is_some_and(is_break) {
            self.push("-");
        } else if chars.len() == 1
            || chars
                .get(chars.len().wrapping_sub(2))
                .is_some_and(|c| is_break(*c))
        {
            self.push("+");
        }
        self.push("\n");
        let content = value.strip_suffix('\n').unwrap_or(value);
        for line in content.split('\n') {
            if !line.is_empty() {
                self.push(&" ".repeat(indent));
                self.push(line);
            }
            self.push("\n");
        }
    }

    /// A scalar at the current position. `indent` is where continuation lines go.
    fn scalar(&mut self, value: &Value, indent: usize, simple_key: bool) {
        match value {
            Value::Null => self.push("null"),
            Value::Bool(b) => self.push(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let text = if n.is_f64() {
                    n.as_f64().map(go_json_float).unwrap_or_default()
                } else {
                    n.to_string()
                };
                self.push(&text);
            }
            Value::String(s) => match choose_style(s, simple_key) {
                Style::Plain => self.plain(s, indent, !simple_key),
                Style::Single => self.single(s, indent, !simple_key),
                Style::Double => self.double(s, indent, !simple_key),
                Style::Literal => self.literal(s, indent),
            },
            Value::Array(_) | Value::Object(_) => {}
        }
    }

    fn ends_with_newline(&self) -> bool {
        self.out.ends_with('\n')
    }

    fn map(&mut self, map: &Map<String, Value>, indent: usize, first_inline: bool) {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by(|a, b| key_order(a, b));
        for (i, key) in keys.into_iter().enumerate() {
            if !(first_inline && i == 0) {
                self.push(&" ".repeat(indent));
            }
            self.scalar(&Value::String(key.clone()), indent, true);
            self.push(":");
            self.value_after_key(&map[key], indent);
        }
    }

    fn value_after_key(&mut self, value: &Value, indent: usize) {
        match value {
            Value::Object(m) if m.is_empty() => self.push(" {}\n"),
            Value::Array(a) if a.is_empty() => self.push(" []\n"),
            Value::Object(m) => {
                self.push("\n");
                self.map(m, indent + INDENT, false);
            }
            Value::Array(items) => {
                self.push("\n");
                self.seq(items, indent, false);
            }
            scalar => {
                self.push(" ");
                self.scalar(scalar, indent + INDENT, false);
                if !self.ends_with_newline() {
                    self.push("\n");
                }
            }
        }
    }

    fn seq(&mut self, items: &[Value], indent: usize, first_inline: bool) {
        for (i, item) in items.iter().enumerate() {
            if !(first_inline && i == 0) {
                self.push(&" ".repeat(indent));
            }
            self.push("-");
            match item {
                Value::Object(m) if m.is_empty() => self.push(" {}\n"),
                Value::Array(a) if a.is_empty() => self.push(" []\n"),
                Value::Object(m) => {
                    self.push(" ");
                    self.map(m, indent + INDENT, true);
                }
                Value::Array(inner) => {
                    self.push(" ");
                    self.seq(inner, indent + INDENT, true);
                }
                scalar => {
                    self.push(" ");
                    self.scalar(scalar, indent + INDENT, false);
                    if !self.ends_with_newline() {
                        self.push("\n");
                    }
                }
            }
        }
    }
}

/// One document as YAML (no `---`).
pub fn to_yaml(value: &Value) -> String {
    let mut w = Writer {
        out: String::new(),
        column: 0,
    };
    match value {
        Value::Object(m) if !m.is_empty() => w.map(m, 0, false),
        Value::Array(a) if !a.is_empty() => w.seq(a, 0, false),
        Value::Object(_) => w.push("{}\n"),
        Value::Array(_) => w.push("[]\n"),
        scalar => {
            w.scalar(scalar, 0, false);
            if !w.ends_with_newline() {
                w.push("\n");
            }
        }
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_naturally() {
        let mut keys = vec!["b10", "b2", "a", "A", "1", "10", "2", "a1b", "a01"];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(keys, ["1", "2", "10", "A", "a", "a1b", "a01", "b2", "b10"]);
    }

    #[test]
    fn scalar_styles_match_go_yaml() {
        let doc = serde_json::json!({
            "colon": "x:", "e": "", "hash": "#x", "lead": " leading", "num": "123", "on": "on",
            "special": "a: b", "star": "*x", "t": "true", "tab": "a\tb", "unicode": "héllo", "yes": "yes",
            "multi": "line one\nline two\n", "strip": "a\nb", "keep": "a\nb\n\n", "q": "it's", "dash": "- x",
            "f": 1.0, "big": 123456789012u64, "n": null,
        });
        let want = "big: 123456789012\ncolon: 'x:'\ndash: '- x'\ne: \"\"\nf: 1\nhash: '#x'\nkeep: |+\n  a\n  b\n\nlead: ' leading'\nmulti: |\n  line one\n  line two\n\"n\": null\nnum: \"123\"\n\"on\": \"on\"\nq: it's\nspecial: 'a: b'\nstar: '*x'\nstrip: |-\n  a\n  b\nt: \"true\"\ntab: \"a\\tb\"\nunicode: héllo\n\"yes\": \"yes\"\n";
        assert_eq!(to_yaml(&doc), want);
    }

    #[test]
    fn collections_are_compact_and_long_plain_strings_fold() {
        let doc = serde_json::json!({"data": {
            "long": "this is a very long string that should probably be folded by the go yaml emitter when it goes beyond eighty columns wide",
            "nested": [{"name": "a", "values": [1, 2]}, ["x", "y"]],
            "empty_list": [], "emptymap": {},
        }});
        let want = "data:\n  empty_list: []\n  emptymap: {}\n  long: this is a very long string that should probably be folded by the go yaml emitter\n    when it goes beyond eighty columns wide\n  nested:\n  - name: a\n    values:\n    - 1\n    - 2\n  - - x\n    - \"y\"\n";
        assert_eq!(to_yaml(&doc), want);
    }
}
