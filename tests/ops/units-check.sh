#!/usr/bin/env bash
# Checks systemd units: `systemd-analyze verify` (when the program a unit starts is installed:
# verify needs it, and the man page its Documentation= names) and the sandbox's overall
# exposure from `systemd-analyze security --offline=true`, which must be at most MAX_EXPOSURE
# (default 2.0). Usage: units-check.sh UNIT-FILE...
set -euo pipefail

max=${MAX_EXPOSURE:-2.0}
status=0
for unit in "$@"; do
    exec_path=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
    if [ -x "$exec_path" ]; then
        if systemd-analyze verify "$unit"; then
            echo "units-check: $unit: verify OK"
        else
            status=1
        fi
    else
        echo "units-check: $unit: verify skipped ($exec_path is not installed)"
    fi
    line=$(systemd-analyze security --offline=true "$unit" | grep 'Overall exposure level')
    exposure=$(echo "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
    if [ -n "$exposure" ] && awk -v e="$exposure" -v m="$max" 'BEGIN { exit !(e <= m) }'; then
        echo "units-check: $unit: exposure $exposure (at most $max): OK"
    else
        echo "units-check: $unit: exposure '${exposure:-?}' above $max: $line" >&2
        status=1
    fi
done
exit $status
