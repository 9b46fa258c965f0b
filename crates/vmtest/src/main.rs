//! Kernel-tier test runner: runs inside the VM started by `tests/vm/run`.
fn main() {}
