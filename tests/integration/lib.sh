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

# daemon_setup: prepares a private libvirtd serving libvirt's test driver on a socket in
# $work/d (its URI in $URI; the test driver's state is shared by all its clients). It runs as
# an unprivileged user so that it never touches the host's own libvirt. Then start_daemon and
# stop_daemon SIG; $daemon_pid is its pid while it runs.
daemon_setup() {
    run_as=()
    if [ "$(id -u)" -eq 0 ]; then
        run_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    fi
    mkdir -p "$work/d"
    if [ "$(id -u)" -eq 0 ]; then
        chown nobody "$work/d"
    fi
    cat >"$work/d/libvirtd.conf" <<CONF
unix_sock_dir = "$work/d"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0777"
auth_unix_ro = "none"
auth_unix_rw = "none"
CONF
    URI="test+unix:///default?socket=$work/d/libvirt-sock"
    daemon_pid=
}

start_daemon() {
    local i
    rm -f "$work/d/libvirt-sock"
    (cd "$work/d" && exec "${run_as[@]}" env HOME="$work/d" XDG_RUNTIME_DIR="$work/d" \
        XDG_CONFIG_HOME="$work/d" XDG_CACHE_HOME="$work/d" \
        libvirtd --config "$work/d/libvirtd.conf" --timeout 0 >>"$work/daemon.log" 2>&1) &
    daemon_pid=$!
    for ((i = 0; i < 100; i++)); do
        virsh -q -c "$URI" list >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$(basename "$0"): the test libvirtd did not start" >&2
    cat "$work/daemon.log" >&2
    exit 1
}

stop_daemon() { # SIG
    kill -s "$1" "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
    daemon_pid=
}
