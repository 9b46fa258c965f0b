#!/bin/sh
# Soak and faults of the allocator over kernel binder, from several client processes (bringup
# soak / kill-under-load, crates/vmtest/src/bin/bringup/soak.rs): many allocate2 calls with the
# service's RSS and fds flat and nothing left in bufinfo, then the service killed under load.
# After 30-bringup.sh (which needs the first service) and before 50-vmtest.sh (whose memory
# exhaustion would race the clients).

group_filtered_out() {
  [ -n "$VMTEST_FILTER" ] || return 1
  groups_here="soak. faults."
  for f in $(echo "$VMTEST_FILTER" | tr , " "); do
    case "$groups_here" in *"$f"*) return 1 ;; esac
  done
  return 0
}
if group_filtered_out; then
  echo "INFO soak: skipped (VMTEST_FILTER=$VMTEST_FILTER)"
  exit 0
fi

# Calls and client processes of the soak. The guest has one emulated CPU and serves about 200
# calls a second, so CI runs 10,000 (about a minute); VMTEST_SOAK_CALLS=100000 tests/vm/run soak.
# runs the full soak (raise VM_TIMEOUT and VM_SCRIPT_TIMEOUT to about 900).
SOAK_CALLS=${VMTEST_SOAK_CALLS:-10000}
SOAK_PROCS=4
LOAD_PROCS=3

failed=0
bringup soak "$ALLOCATOR_PIDFILE" "$SOAK_CALLS" "$SOAK_PROCS" || failed=1
bringup kill-under-load "$ALLOCATOR_PIDFILE" "$LOAD_PROCS" 60 || failed=1
if [ "$failed" -ne 0 ]; then
  tail -n 20 "$ALLOCATOR_LOG" | sed 's/^/INFO soak.service_log: /'
fi
exit "$failed"
