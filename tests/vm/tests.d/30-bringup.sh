#!/bin/sh
# Virtual-device bring-up over kernel binder: the allocator that setup.d/50-allocator.sh started
# from its .rc registers with the service manager, passes the conformance cases from this second
# process with buffers from /dev/dma_heap/system, dumps, and comes back after kill -9.
# Runs before 50-vmtest.sh, whose memory exhaustion would otherwise race the service.

group_filtered_out() {
  [ -n "$VMTEST_FILTER" ] || return 1
  groups_here="bringup. conformance."
  for f in $(echo "$VMTEST_FILTER" | tr , " "); do
    case "$groups_here" in *"$f"*) return 1 ;; esac
  done
  return 0
}
if group_filtered_out; then
  echo "INFO bringup: skipped (VMTEST_FILTER=$VMTEST_FILTER)"
  exit 0
fi

failed=0
note_failure() { failed=1; }

# The .rc's user, groups and capabilities (SYS_NICE, bit 23), as /proc shows them for the
# running service, and the SCHED_FIFO priority 2 the service sets with that capability on its
# main thread only: SCHED_RESET_ON_FORK leaves every other thread (the binder pool) at
# SCHED_OTHER, as minigbm's allocator does.
credentials() {
  pid=$(cat "$ALLOCATOR_PIDFILE" 2> /dev/null)
  status=/proc/$pid/status
  [ -n "$pid" ] && [ -r "$status" ] || { echo "FAIL bringup.service_runs_as_rc_credentials: no process ${pid:-(no pidfile)}"; return 1; }
  uid=$(awk '/^Uid:/ {print $2}' "$status")
  gid=$(awk '/^Gid:/ {print $2}' "$status")
  groups=$(awk '/^Groups:/ {$1 = ""; sub(/^ +/, ""); sub(/ +$/, ""); print}' "$status")
  capeff=$(awk '/^CapEff:/ {print $2}' "$status")
  # policy and rt_priority: fields 41 and 40 of stat, counted after the `(comm)` field.
  sched=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print "policy " $39 " rt_priority " $38}')
  echo "INFO bringup.service_runs_as_rc_credentials: pid $pid uid $uid gid $gid groups $groups CapEff $capeff $sched"
  nice_bit=$(( (0x$capeff >> 23) & 1 ))
  if [ "$uid" = 1000 ] && [ "$gid" = 1003 ] && [ "$groups" = 1026 ] && [ "$nice_bit" = 1 ]; then
    echo "PASS bringup.service_runs_as_rc_credentials"
  else
    echo "FAIL bringup.service_runs_as_rc_credentials: want uid 1000 (system), gid 1003 (graphics), groups 1026 (drmrpc), CAP_SYS_NICE"
    return 1
  fi
  if [ "$sched" = "policy 1 rt_priority 2" ]; then
    echo "PASS bringup.service_sched_fifo_2"
  else
    echo "FAIL bringup.service_sched_fifo_2: $sched (want policy 1 = SCHED_FIFO, rt_priority 2)"
    return 1
  fi
  threads=0
  realtime=""
  for stat in /proc/"$pid"/task/*/stat; do
    tid=${stat%/stat}; tid=${tid##*/}
    [ "$tid" = "$pid" ] && continue
    threads=$((threads + 1))
    policy=$(sed 's/.*) //' "$stat" | awk '{print $39}')
    [ "$policy" = 0 ] || realtime="$realtime $tid:$policy"
  done
  if [ "$threads" -gt 0 ] && [ -z "$realtime" ]; then
    echo "PASS bringup.service_pool_threads_not_realtime: $threads other threads at SCHED_OTHER"
  else
    echo "FAIL bringup.service_pool_threads_not_realtime: $threads other threads, real-time:${realtime:- none}"
    return 1
  fi
}

# Conformance case lines become conformance.<case>; a run that fails without a FAIL line is one.
conformance_cases() {
  out=$(conformance --binder /dev/binder 2>&1)
  status=$?
  echo "$out" | sed -n -e 's/^PASS /PASS conformance./p' -e 's/^FAIL /FAIL conformance./p' \
    -e 's/^SKIP \([^:]*\): /INFO conformance.\1: skipped: /p' \
    -e 's/^\([0-9]* of [0-9]* cases passed\)$/INFO conformance: \1/p'
  if [ "$status" -ne 0 ] && ! echo "$out" | grep -q '^FAIL '; then
    echo "FAIL conformance.run: exit status $status: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
  fi
  [ "$status" -eq 0 ]
}

profile=$(awk '$1 == "profile" {print $2; exit}' /vendor/etc/gralloc/central/profile.conf)

if bringup registered 30; then
  credentials || note_failure
  bringup dma-heap system || note_failure
  bringup mapper-pattern || note_failure
  conformance_cases || note_failure
  bringup dump "$profile" || note_failure
  bringup restart "$ALLOCATOR_PIDFILE" 30 || note_failure
  credentials > /dev/null || { echo "FAIL bringup.restarted_credentials: the restarted service lost the .rc credentials"; note_failure; }
else
  note_failure
fi

sed 's/^/INFO bringup.supervisor: /' "$ALLOCATOR_SUPERVISOR_LOG"
if [ "$failed" -ne 0 ]; then
  tail -n 20 "$ALLOCATOR_LOG" | sed 's/^/INFO bringup.service_log: /'
  tail -n 10 /tmp/rsb_hub.log | sed 's/^/INFO bringup.rsb_hub_log: /'
fi
exit "$failed"
