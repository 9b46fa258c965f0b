//! `gralloc probe [--json] [--overlay FILE]`: the running kernel's devices as a profile.

use crate::args::Args;
use central_gralloc_probe::{apply_overlay, probe, Probe};
use serde_json::{json, Value};
use std::path::Path;

/// The probe as JSON: every section with its values and their sources, and the skipped nodes.
fn probe_json(p: &Probe, profile: Result<String, String>) -> Value {
    let sections: Vec<Value> = p
        .sections
        .iter()
        .map(|s| {
            let values: Vec<Value> = s
                .entries
                .iter()
                .map(|e| json!({"key": e.key, "value": e.value, "source": e.source}))
                .collect();
            json!({"kind": s.kind, "name": s.name, "node": s.node, "about": s.about, "values": values})
        })
        .collect();
    let skipped: Vec<Value> = p
        .skipped
        .iter()
        .map(|s| json!({"node": s.node, "reason": s.reason}))
        .collect();
    let (profile, error) = match profile {
        Ok(text) => (Value::String(text), Value::Null),
        Err(e) => (Value::Null, Value::String(e)),
    };
    json!({
        "kernel": p.kernel,
        "arch": p.arch,
        "sections": sections,
        "skipped": skipped,
        "profile": profile,
        "error": error,
    })
}

/// `gralloc probe`.
pub fn run(rest: &[String]) -> u8 {
    let mut args = Args::new(rest);
    let json = args.switch("--json");
    let overlay = match args.value("--overlay") {
        Ok(v) => v,
        Err(e) => {
            eprintln!("gralloc probe: {e}");
            return 2;
        }
    };
    if let Err(e) = args.finish() {
        eprintln!("gralloc probe: {e}");
        return 2;
    }
    let found = probe();
    // The text is the profile; with an overlay the merged profile follows as a second document,
    // since merging keeps values but not their comments.
    let merged = found
        .profile()
        .map_err(|e| format!("the probed profile does not parse: {e}"))
        .and_then(|p| apply_overlay(&p, overlay.as_deref().map(Path::new)));
    let code = u8::from(merged.is_err());
    if json {
        println!("{}", probe_json(&found, merged.map(|p| p.to_string())));
        return code;
    }
    match (merged, &overlay) {
        (Ok(_), None) => print!("{}", found.text()),
        (Ok(p), Some(file)) => {
            for line in found.text().lines() {
                println!("# {line}");
            }
            println!("\n# The probed profile above with the overlay {file} applied:\n{p}");
        }
        (Err(e), _) => {
            print!("{}", found.text());
            eprintln!("gralloc probe: {e}");
        }
    }
    code
}
