//! `generate-openapi [--check] [DIR]`: writes `openapi.json`,
//! `apigateway.json`, `schema.graphql` and `graphql-allowlist.json` into DIR
//! (default `openapi/`), or with `--check`
//! fails if the committed files differ from what the code says.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let dir = args.iter().find(|a| !a.starts_with("--")).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("openapi"));
    let mut stale = Vec::new();
    for (name, content) in openapi_doc::rendered() {
        let path = dir.join(name);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == content {
            continue;
        }
        if check {
            stale.push(path.display().to_string());
        } else if let Err(e) = std::fs::write(&path, content) {
            eprintln!("generate-openapi: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("generate-openapi: out of date: {} (run `make openapi`)", stale.join(", "));
        ExitCode::FAILURE
    }
}
