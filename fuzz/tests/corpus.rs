//! Runs every fuzz target over its committed corpus (`fuzz/corpus/TARGET`), once per input, with
//! the plain build of the target (libFuzzer's driver, no instrumentation): the seeds and every
//! finding's regression input are checked by `cargo test --workspace`, with or without
//! cargo-fuzz.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Each target with its binary.
const TARGETS: &[(&str, &str)] = &[
    ("handle_decode", env!("CARGO_BIN_EXE_handle_decode")),
    ("metadata_region", env!("CARGO_BIN_EXE_metadata_region")),
    ("mapper_metadata", env!("CARGO_BIN_EXE_mapper_metadata")),
    ("profile_parse", env!("CARGO_BIN_EXE_profile_parse")),
    ("trace_parse", env!("CARGO_BIN_EXE_trace_parse")),
    ("descriptor_solve", env!("CARGO_BIN_EXE_descriptor_solve")),
    ("service_request", env!("CARGO_BIN_EXE_service_request")),
];

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_runs_its_whole_corpus() {
    let mut failures = Vec::new();
    for (target, binary) in TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "{target} has no seed corpus");
        let output = Command::new(binary)
            .args(&files)
            .env("CENTRAL_GRALLOC_LOG", "off")
            .output()
            .unwrap_or_else(|e| panic!("run {binary}: {e}"));
        let log = String::from_utf8_lossy(&output.stderr);
        let executed = log.lines().filter(|l| l.starts_with("Executed ")).count();
        if !output.status.success() || executed != files.len() {
            failures.push(format!(
                "{target}: {} ({executed} of {} inputs executed)\n{}",
                output.status,
                files.len(),
                log.lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_target_binary_is_listed() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("read fuzz/Cargo.toml");
    let bins = manifest.matches("[[bin]]").count();
    assert_eq!(
        bins,
        TARGETS.len(),
        "a fuzz target is not run over its corpus here"
    );
    let sources = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz_targets"))
        .expect("fuzz_targets/")
        .count();
    assert_eq!(sources, TARGETS.len());
}
