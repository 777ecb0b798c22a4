#!/usr/bin/env bash
# After a test run: fail if a process the run started is still alive, or a temporary directory
# of the test harness is still there.
#
#   scripts/leftovers.sh MARK TMPDIR
#
# MARK is the value of OPSMCP_RUN_MARK the run was started with (every process it started
# inherits it); TMPDIR is the temporary directory the run was given. Leftover processes are
# listed and then killed by PID, so one failed run does not spoil the next.
set -euo pipefail
mark="$1"
tmp="$2"

# The harness's janitors remove their directories as the test processes end: give them a moment.
leftover_processes() {
    local pid
    for environ in /proc/[0-9]*/environ; do
        pid="${environ#/proc/}"
        pid="${pid%/environ}"
        [ "$pid" = "$$" ] && continue
        if { tr '\0' '\n' <"$environ"; } 2>/dev/null | grep -qx "OPSMCP_RUN_MARK=$mark"; then
            echo "$pid"
        fi
    done
}
leftover_dirs() {
    find "$tmp" -mindepth 1 -maxdepth 1 -name 'opsmcp-*' 2>/dev/null || true
}

for _ in $(seq 1 50); do
    if [ -z "$(leftover_processes)" ] && [ -z "$(leftover_dirs)" ]; then
        echo "leftovers: none (no process of the run alive, no harness directory in $tmp)"
        exit 0
    fi
    sleep 0.2
done

status=0
pids="$(leftover_processes)"
if [ -n "$pids" ]; then
    echo "leftovers: processes started by the test run are still alive:" >&2
    for pid in $pids; do
        echo "  $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    status=1
fi
dirs="$(leftover_dirs)"
if [ -n "$dirs" ]; then
    echo "leftovers: temporary directories of the test harness remain:" >&2
    echo "$dirs" | sed 's/^/  /' >&2
    status=1
fi
exit "$status"
