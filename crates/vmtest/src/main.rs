//! Kernel-tier test runner: runs inside the VM started by `tests/vm/run`.
//!
//! Usage: `central-gralloc-vmtest [--list] [FILTER...]`. Runs every test case whose name contains
//! one of the filters (all of them without filters) and prints one protocol line per case (see
//! `harness`). Exits 1 if any case failed. To add cases, write a module with a `TESTS` table and
//! append it to `SUITES`.

#![deny(clippy::undocumented_unsafe_blocks)]

mod harness;
mod kernel_facts;
mod mapper_cases;
mod mapper_client;
mod media_sys;
mod memory_cases;
mod probe_cases;
mod sys;

use harness::TestCase;

/// Every group of test cases, in the order they run.
const SUITES: &[&[TestCase]] = &[
    kernel_facts::TESTS,
    memory_cases::TESTS,
    mapper_cases::TESTS,
    probe_cases::TESTS,
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for case in SUITES.iter().flat_map(|s| s.iter()) {
            println!("{}", case.name);
        }
        return;
    }
    // Tests that exhaust memory make their own child the OOM killer's victim; the harness itself
    // must never be the one chosen (this needs root, which the VM's init is).
    if let Err(e) = std::fs::write("/proc/self/oom_score_adj", "-1000") {
        println!("INFO harness: cannot set oom_score_adj -1000: {e}");
    }
    let failed = harness::run_all(SUITES.iter().flat_map(|s| s.iter()), &args);
    std::process::exit(i32::from(failed > 0));
}
