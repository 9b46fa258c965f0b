# shellcheck shell=sh
# Starts the allocator service the way init would: the command line comes from the installed .rc
# (rc-exec-line), rc-identity applies the .rc's user, groups and capabilities before the exec,
# and a supervisor restarts the service whenever it exits, as init does for a service that is
# not `oneshot`.
#
# Exports ALLOCATOR_PIDFILE (the running service's pid; rewritten on every start), ALLOCATOR_LOG
# and ALLOCATOR_SUPERVISOR_LOG for tests.d/30-bringup.sh.

export ALLOCATOR_RC=/vendor/etc/init/android.hardware.graphics.allocator-service.central.rc
export ALLOCATOR_SERVICE=vendor.graphics.allocator
export ALLOCATOR_PIDFILE=/run/$ALLOCATOR_SERVICE.pid
export ALLOCATOR_LOG=/tmp/$ALLOCATOR_SERVICE.log
export ALLOCATOR_SUPERVISOR_LOG=/tmp/$ALLOCATOR_SERVICE.supervisor.log

# Runs the .rc's command line (the arguments) until the VM powers off, restarting it when it
# exits, no sooner than 5 s after its last start (init's default restart_period).
allocator_supervise() { # program args...
  while :; do
    started=$(date +%s)
    rc-identity "$ALLOCATOR_RC" "$ALLOCATOR_SERVICE" -- "$@" >> "$ALLOCATOR_LOG" 2>&1 < /dev/null &
    pid=$! # rc-identity execs the service: this is its pid
    echo "$pid" > "$ALLOCATOR_PIDFILE.new" && mv "$ALLOCATOR_PIDFILE.new" "$ALLOCATOR_PIDFILE"
    echo "$(date +%T) started $ALLOCATOR_SERVICE as pid $pid"
    wait "$pid"
    status=$?
    delay=$((started + 5 - $(date +%s)))
    [ "$delay" -gt 0 ] || delay=0
    echo "$(date +%T) pid $pid exited with status $status; restarting in ${delay} s"
    [ -n "$allocator_onrestart" ] && echo "  onrestart $allocator_onrestart: no such service in the VM"
    sleep "$delay"
  done
}

# shellcheck disable=SC2120 # "$@" is the .rc's command line, set by eval below
allocator_setup() {
  command=$(rc-exec-line "$ALLOCATOR_RC" "$ALLOCATOR_SERVICE") || return 1
  allocator_onrestart=$(bringup rc-option "$ALLOCATOR_RC" "$ALLOCATOR_SERVICE" onrestart) ||
    allocator_onrestart=
  echo "$(date +%T) $ALLOCATOR_RC: service $ALLOCATOR_SERVICE: $command" > "$ALLOCATOR_SUPERVISOR_LOG"
  eval "set -- $command"
  allocator_supervise "$@" >> "$ALLOCATOR_SUPERVISOR_LOG" 2>&1 < /dev/null &
}

allocator_setup
