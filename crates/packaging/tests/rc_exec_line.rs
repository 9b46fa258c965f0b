//! Checks the `rc-exec-line` tool the VM tier runs: it prints the service's command line, shell-quoted, and fails loudly otherwise.

mod common;

use common::{repo_root, INSTALL_PATH, RC_PATH};
use std::process::Command;

fn rc_exec_line(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rc-exec-line"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run rc-exec-line")
}

#[test]
fn prints_the_allocator_command_line() {
    for args in [vec![RC_PATH], vec![RC_PATH, "vendor.graphics.allocator"]] {
        let out = rc_exec_line(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{INSTALL_PATH}\n")
        );
    }
}

#[test]
fn unknown_service_missing_file_and_bad_usage_fail() {
    let out = rc_exec_line(&[RC_PATH, "surfaceflinger"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("vendor.graphics.allocator"));
    assert_eq!(
        rc_exec_line(&["init/does-not-exist.rc"]).status.code(),
        Some(1)
    );
    assert_eq!(rc_exec_line(&[]).status.code(), Some(2));
}
