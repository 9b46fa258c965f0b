#!/bin/sh
# The Rust test cases (crates/vmtest); VMTEST_FILTER comes from `tests/vm/run FILTER...`.
# shellcheck disable=SC2046 # one argument per comma-separated filter
exec central-gralloc-vmtest $(echo "$VMTEST_FILTER" | tr , " ")
