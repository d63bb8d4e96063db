# Helpers the integration scripts share (sourced; $work must be set): counting results and
# waiting on programs without ever hanging the run.
# shellcheck shell=bash disable=SC2154

pass=0
fail=0

ok() { pass=$((pass + 1)); }

# bad MESSAGE: counts a failure and shows what the program printed.
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
    [ -f "$work/out" ] && sed 's/^/    stdout: /' "$work/out" >&2
    [ -f "$work/err" ] && sed 's/^/    stderr: /' "$work/err" >&2
    return 0
}

# wait_for FILE REGEX N [SECONDS]: waits (up to SECONDS, default 30) until FILE has N lines
# matching REGEX.
wait_for() {
    local file=$1 re=$2 n=$3 limit=$((${4:-30} * 10)) i
    for ((i = 0; i < limit; i++)); do
        [ "$(grep -cE -- "$re" "$file")" -ge "$n" ] && return 0
        sleep 0.1
    done
    return 1
}

# wait_exit PID: waits for PID to exit, at most 30 s (then kills it: a hung program fails the
# test, not the run); returns its exit status, or 124 when it had to be killed.
wait_exit() {
    local pid=$1 i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        wait "$pid" 2>/dev/null
        return 124
    fi
    wait "$pid"
}
