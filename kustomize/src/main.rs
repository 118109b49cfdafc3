//! `rill-kustomize build DIR [--load-restrictor ...]`: prints what `kubectl kustomize DIR`
//! prints, or fails with a message naming the file and the problem.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write;

use kustomize::{LoadRestrictor, Options, build, render};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn usage() -> ExitCode {
    eprintln!(
        "usage: rill-kustomize build DIR [--load-restrictor LoadRestrictionsRootOnly|LoadRestrictionsNone]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("build") {
        return usage();
    }
    let mut dir = None;
    // Like `kustomize build`, the CLI lets env files pull values from its environment.
    let mut options = Options {
        environment: true,
        ..Options::default()
    };
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let value = if let Some(v) = arg.strip_prefix("--load-restrictor=") {
            Some(v.to_string())
        } else if arg == "--load-restrictor" {
            rest.next().cloned()
        } else {
            if dir.is_some() {
                return usage();
            }
            dir = Some(PathBuf::from(arg));
            continue;
        };
        options.load_restrictor = match value.as_deref() {
            Some("LoadRestrictionsRootOnly") => LoadRestrictor::RootOnly,
            Some("LoadRestrictionsNone") => LoadRestrictor::None,
            _ => return usage(),
        };
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    match build(&dir, &options) {
        Ok(resources) => {
            let yaml = render(&resources);
            let mut out = std::io::stdout().lock();
            if out
                .write_all(yaml.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            // The process ends here: returning would spend time freeing every resource.
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
