//! CEL expressions of `healthCheckExprs` and `dependsOn[].readyExpr`: compiled and run on a
//! thread with a large stack (the CEL parser recurses deeply), with objects as variables.

use serde_json::Value;

/// Why an expression could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CelError {
    /// The expression does not parse.
    #[error("invalid CEL expression {expr:?}: {message}")]
    Compile {
        /// The expression.
        expr: String,
        /// The parser's message.
        message: String,
    },
    /// Evaluation failed (a missing field, a type error) or did not give a boolean.
    #[error("evaluating {expr:?} failed: {message}")]
    Eval {
        /// The expression.
        expr: String,
        /// What went wrong.
        message: String,
    },
}

const STACK: usize = 32 * 1024 * 1024;

fn on_big_stack<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn_scoped(scope, work)
            .ok()?
            .join()
            .ok()
    })
}

/// Checks that `expr` compiles.
pub fn check(expr: &str) -> Result<(), CelError> {
    let compile = || {
        cel::Program::compile(expr)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    match on_big_stack(compile) {
        Some(Ok(())) => Ok(()),
        Some(Err(message)) => Err(CelError::Compile {
            expr: expr.into(),
            message,
        }),
        None => Err(CelError::Compile {
            expr: expr.into(),
            message: "the parser failed".into(),
        }),
    }
}

/// Evaluates `expr` to a boolean with `vars` bound by name.
pub fn evaluate(expr: &str, vars: &[(&str, &Value)]) -> Result<bool, CelError> {
    let run = || -> Result<bool, CelError> {
        let program = cel::Program::compile(expr).map_err(|e| CelError::Compile {
            expr: expr.into(),
            message: e.to_string(),
        })?;
        let eval = |message: String| CelError::Eval {
            expr: expr.into(),
            message,
        };
        let mut context = cel::Context::default();
        for (name, value) in vars {
            context
                .add_variable(*name, *value)
                .map_err(|e| eval(e.to_string()))?;
        }
        match program.execute(&context).map_err(|e| eval(e.to_string()))? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(eval(format!("the result is not a boolean: {other:?}"))),
        }
    };
    on_big_stack(run).unwrap_or_else(|| {
        Err(CelError::Eval {
            expr: expr.into(),
            message: "the evaluator failed".into(),
        })
    })
}

/// The top-level fields of an object as variables (`status`, `spec`, `metadata`...), as
/// Flux's health expressions use them.
pub fn fields(object: &Value) -> Vec<(&str, &Value)> {
    object
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expressions_see_object_fields() {
        let object = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}], "phase": "Running"}});
        let cases = [
            (
                "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
                Ok(true),
            ),
            ("status.phase == 'Failed'", Ok(false)),
        ];
        for (expr, want) in cases {
            assert_eq!(evaluate(expr, &fields(&object)), want, "{expr}");
        }
        assert!(matches!(
            evaluate("status.missing == 1", &fields(&object)),
            Err(CelError::Eval { .. })
        ));
        assert!(matches!(
            evaluate("'text'", &fields(&object)),
            Err(CelError::Eval { .. })
        ));
    }

    #[test]
    fn bad_syntax_is_a_compile_error() {
        assert!(check("self.status.x ==").is_err());
        assert!(check("dep.status.ready && self.metadata.name != ''").is_ok());
    }
}
