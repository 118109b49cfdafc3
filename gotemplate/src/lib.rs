//! Go's `text/template` with Sprig's hermetic functions: what Flux renders commit message
//! templates with (and what Helm charts will need). Parsing, execution, printing and error
//! texts follow Go; values are built with [`Value`] to look like the Go values they stand for.

mod exec;
pub mod format;
mod functions;
pub mod fuzzing;
mod lex;
mod parse;
pub mod sprig;
pub mod value;

pub use functions::{Func, FuncError, Functions};
pub use value::{Field, List, Map, Struct, Value};

/// Why a template could not be parsed or run (Go's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not a valid template.
    #[error("{0}")]
    Parse(String),
    /// Running it failed.
    #[error("{0}")]
    Exec(String),
}

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    name: String,
    text: String,
    tree: parse::Tree,
}

impl Template {
    /// Parses `text` as the template `name`, with the functions of `funcs`.
    pub fn parse(name: &str, text: &str, funcs: &Functions) -> Result<Template, Error> {
        let tree = parse::parse(text, &|f| funcs.contains(f)).map_err(|e| {
            let line = 1 + text[..e.pos.min(text.len())].matches('\n').count();
            Error::Parse(format!("template: {name}:{line}: {}", e.message))
        })?;
        Ok(Template {
            name: name.to_string(),
            text: text.to_string(),
            tree,
        })
    }

    /// Runs the template over `data`.
    pub fn execute(&self, data: &Value, funcs: &Functions) -> Result<String, Error> {
        let mut exec = exec::Exec {
            tree: &self.tree,
            funcs,
            name: &self.name,
            text: &self.text,
            vars: vec![("$".to_string(), data.clone())],
            out: String::new(),
            depth: 0,
            steps: 0,
            made: 0,
        };
        exec.run(&self.tree.root, data).map_err(Error::Exec)?;
        Ok(exec.out)
    }
}

/// Parses and runs `text` over `data` with Go's builtins and Sprig's hermetic functions.
pub fn render(name: &str, text: &str, data: &Value) -> Result<String, Error> {
    let funcs = Functions::hermetic();
    Template::parse(name, text, &funcs)?.execute(data, &funcs)
}
