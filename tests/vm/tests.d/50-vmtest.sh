#!/bin/sh
# The Rust test cases (crates/vmtest); VMTEST_FILTER comes from `tests/vm/run FILTER...`.
exec central-gralloc-vmtest $(echo "$VMTEST_FILTER" | tr , " ")
