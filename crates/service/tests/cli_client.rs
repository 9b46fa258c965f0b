//! `gralloc alloc`, `supported` and `dump` as a user runs them: the real binary against the real
//! service, and against sockets where no IAllocator answers.

mod common;

use central_gralloc_service::child::unique_socket;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn gralloc(args: &[&str], socket: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gralloc"))
        .args(&args[..1])
        .arg("--socket")
        .arg(socket)
        .args(&args[1..])
        .output()
        .expect("run gralloc");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const RGBA_64: [&str; 8] = [
    "--width",
    "64",
    "--height",
    "64",
    "--format",
    "RGBA_8888",
    "--usage",
    "CPU_READ_OFTEN|CPU_WRITE_OFTEN",
];

fn alloc_json(socket: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["alloc", "--json"];
    args.extend_from_slice(&RGBA_64);
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = gralloc(&args, socket);
    let value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}\n{stderr}"));
    (code, value, stderr)
}

#[test]
fn alloc_json_has_the_documented_shape() {
    let service = common::start("cli", &[]);
    let (code, v, stderr) = alloc_json(service.socket(), &["--count", "2"]);
    assert_eq!(code, 0, "{v} {stderr}");
    assert!(v["stride"].as_i64().is_some_and(|s| s >= 64), "{v}");
    let buffers = v["buffers"].as_array().expect("buffers");
    assert_eq!(buffers.len(), 2);
    for b in buffers {
        assert!(b["size"].as_u64().is_some_and(|s| s >= 64 * 64 * 4), "{b}");
        assert_eq!(b["planes"].as_array().map(Vec::len), Some(1), "{b}");
    }
    let (code, v, _) = alloc_json(service.socket(), &["--count", "0"]);
    assert_eq!(
        (code, v),
        (1, serde_json::json!({"error": "BAD_DESCRIPTOR"}))
    );
}

#[test]
fn a_transport_failure_is_not_reported_as_an_allocation_error() {
    let service = common::start("cli-transport", &[]);
    // The debug socket's root object is not an IAllocator: every call fails in the transport.
    let debug = central_gralloc_service::rpc::debug_socket_path(service.socket());
    let (code, v, stderr) = alloc_json(&debug, &[]);
    assert_eq!(code, 1, "{v} {stderr}");
    let name = v["error"].as_str().expect("an error name");
    assert!(
        !["BAD_DESCRIPTOR", "NO_RESOURCES", "UNSUPPORTED"].contains(&name),
        "the service never answered, yet the CLI says {name}"
    );
}

#[test]
fn a_missing_socket_is_a_clean_error() {
    let missing = unique_socket("cli-missing");
    for command in ["alloc", "supported", "dump"] {
        let mut args = vec![command];
        if command != "dump" {
            args.extend_from_slice(&RGBA_64);
        }
        let (code, stdout, stderr) = gralloc(&args, &missing);
        assert_ne!(code, 0, "{command}");
        assert!(stdout.is_empty(), "{command}: {stdout}");
        assert!(
            stderr.contains("no service socket") && stderr.contains(&*missing.to_string_lossy()),
            "{command}: {stderr}"
        );
    }
    // A path that exists but where nothing listens.
    let stale = unique_socket("cli-stale");
    std::fs::write(&stale, b"").expect("create a plain file");
    let (code, _, stderr) = gralloc(&["dump"], &stale);
    let _ = std::fs::remove_file(&stale);
    assert_ne!(code, 0);
    assert!(stderr.contains("not a socket"), "{stderr}");
}
