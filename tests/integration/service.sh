#!/usr/bin/env bash
# Service mode against a private libvirtd serving the test driver: with --keep-running the
# programs keep running with no domain, see a domain defined and started after them at once
# (libvirt lifecycle events, not the next period), also after libvirtd restarts, and write
# their metrics file every period. Without it they exit when no domain is left. On the
# journal (JOURNAL_STREAM names stderr) every line carries its priority.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BINDIR=${BINDIR:-$here/../../bin}
BINDIR=$(cd "$BINDIR" && pwd)
# The unit tests' strict reader of the Prometheus text format (make builds it beside the programs).
EXPOSITION_CHECK=${EXPOSITION_CHECK:-$BINDIR/exposition_check}
work=$(mktemp -d /tmp/vmb-service.XXXXXX)
chmod 0755 "$work"
daemon_pid=
tool_pid=
holder_pid=

cleanup() {
    [ -n "$tool_pid" ] && kill -9 "$tool_pid" 2>/dev/null
    [ -n "$holder_pid" ] && kill -9 "$holder_pid" 2>/dev/null
    [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

for cmd in libvirtd virsh; do
    if ! command -v "$cmd" >/dev/null; then
        echo "service: $cmd is not installed (apt-get install libvirt-daemon libvirt-clients)" >&2
        exit 1
    fi
done
if [ ! -x "$EXPOSITION_CHECK" ]; then
    echo "service: no metrics checker '$EXPOSITION_CHECK' (make build/release/exposition_check)" >&2
    exit 1
fi
if ! command -v promtool >/dev/null; then
    echo "service: promtool is not installed: metrics checked by exposition_check alone"
fi

# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
daemon_setup

# define_and_start NAME: defines a domain of the test driver with a balloon, and starts it.
define_and_start() {
    cat >"$work/$1.xml" <<XML
<domain type='test'>
  <name>$1</name>
  <memory unit='MiB'>1024</memory>
  <currentMemory unit='MiB'>768</currentMemory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices><memballoon model='virtio'><stats period='1'/></memballoon></devices>
</domain>
XML
    virsh -q -c "$URI" define "$work/$1.xml" >/dev/null && virsh -q -c "$URI" start "$1" >/dev/null
}

# start_tool PROG ARGS...: runs PROG against the test daemon in the background.
start_tool() {
    : >"$work/out"
    : >"$work/err"
    "$BINDIR/$1" -c "$URI" "${@:2}" >"$work/out" 2>"$work/err" &
    tool_pid=$!
}

stop_tool() {
    kill -TERM "$tool_pid"
    wait_exit "$tool_pid"
    local st=$?
    tool_pid=
    return "$st"
}

# ms_since START_NS: milliseconds elapsed.
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# metrics_check FILE: FILE is valid Prometheus text; promtool's lint finds nothing in it too
# when promtool is installed.
metrics_check() {
    local out
    if out=$("$EXPOSITION_CHECK" "$1" 2>&1); then ok; else bad "$out"; fi
    command -v promtool >/dev/null || return 0
    if out=$(promtool check metrics <"$1" 2>&1) && [ -z "$out" ]; then ok; else
        bad "promtool check metrics $1: $out"
    fi
}

start_daemon
# libvirtd's test driver forgets its state when its last client leaves: a program that manages
# nothing holds a connection for the whole test.
"$BINDIR/vcpu_scheduler" -c "$URI" --keep-running -q --domains 'none' \
    --metrics-file "$work/holder.prom" 60 >/dev/null 2>&1 &
holder_pid=$!
for ((i = 0; i < 100; i++)); do
    [ -s "$work/holder.prom" ] && break # connected: its first period is done
    sleep 0.1
done
virsh -q -c "$URI" destroy test >/dev/null # the test driver's own domain: none runs now

echo "== without --keep-running: no domain, done =="
for prog in vcpu_scheduler memory_coordinator; do
    : >"$work/err"
    JOURNAL_STREAM=$(stat -c '%d:%i' "$work/err") timeout 30 "$BINDIR/$prog" -c "$URI" 0.2 \
        >"$work/out" 2>>"$work/err"
    st=$?
    if [ "$st" -eq 0 ]; then ok; else bad "$prog with no domain: exit $st"; fi
    # stderr is "the journal": lines start with their priority, <6> for info.
    if grep -q "^<6>$prog: info: no active managed domain left; exiting$" "$work/err"; then ok; else
        bad "$prog: no journal priority prefix"
    fi
done
# A JOURNAL_STREAM inherited by a program whose stderr goes elsewhere is ignored.
JOURNAL_STREAM=1:1 timeout 30 "$BINDIR/vcpu_scheduler" -c "$URI" 0.2 >"$work/out" 2>"$work/err"
if grep -q "^vcpu_scheduler: info: " "$work/err"; then ok; else bad "prefix without the journal"; fi

echo "== --keep-running: waits, and sees a new domain at once =="
n=0
for prog in vcpu_scheduler memory_coordinator; do
    n=$((n + 1))
    # PERIOD 30: a domain seen within 5 s was seen through its start event, not by polling.
    start_tool "$prog" --keep-running --json -v --domains 'svc-*' \
        --metrics-file "$work/$prog.prom" 30
    if wait_for "$work/err" 'no active managed domain; waiting for one' 1; then ok; else
        bad "$prog: did not say it waits"
    fi
    if wait_for "$work/out" '"period": ?1,' 1; then ok; else bad "$prog: no first period"; fi
    if grep -q "^vmbalance_managed_domains{program=\"$prog\"} 0$" "$work/$prog.prom"; then ok; else
        bad "$prog: metrics do not say 0 domains"
    fi
    metrics_check "$work/$prog.prom"
    # A domain the program does not manage wakes nothing.
    define_and_start "other-$n"
    sleep 2
    if [ "$(wc -l <"$work/out")" -eq 1 ]; then ok; else bad "$prog: woke for an unmanaged domain"; fi
    t0=$(date +%s%N)
    define_and_start "svc-$n"
    if wait_for "$work/out" "svc-$n" 1 5; then ok; else bad "$prog: svc-$n not seen within 5 s"; fi
    echo "service: $prog saw svc-$n $(ms_since "$t0") ms after 'virsh start'"
    if grep -q "debug: domain 'svc-$n' started" "$work/err"; then ok; else
        bad "$prog: no start event logged"
    fi
    if kill -0 "$tool_pid" 2>/dev/null; then ok; else bad "$prog exited"; fi
    stop_tool
    st=$?
    if [ "$st" -eq 0 ]; then ok; else bad "$prog: exit $st after SIGTERM"; fi
    virsh -q -c "$URI" destroy "svc-$n" >/dev/null
done

echo "== --keep-running: the last domain leaves, the program stays =="
define_and_start "svc-last"
virsh -q -c "$URI" destroy svc-last >/dev/null
for prog in vcpu_scheduler memory_coordinator; do
    virsh -q -c "$URI" start svc-last >/dev/null
    start_tool "$prog" --keep-running --domains 'svc-*' --metrics-file "$work/$prog.prom" 0.2
    if wait_for "$work/out" '^period' 3; then ok; else bad "$prog: no periods"; fi
    if grep -q 'waiting for one' "$work/err"; then bad "$prog: did not see svc-last"; else ok; fi
    virsh -q -c "$URI" destroy svc-last >/dev/null
    if wait_for "$work/err" 'no active managed domain; waiting for one' 1; then ok; else
        bad "$prog: did not notice the last domain leave"
    fi
    lines=$(wc -l <"$work/out")
    if wait_for "$work/out" '^period' $((lines + 5)); then ok; else bad "$prog: stopped its periods"; fi
    if kill -0 "$tool_pid" 2>/dev/null; then ok; else bad "$prog exited with no domain"; fi
    if grep -q "^vmbalance_managed_domains{program=\"$prog\"} 0$" "$work/$prog.prom"; then ok; else
        bad "$prog: metrics still show a domain"
    fi
    metrics_check "$work/$prog.prom"
    virsh -q -c "$URI" start svc-last >/dev/null
    if wait_for "$work/err" '1 active managed domain$' 1; then ok; else bad "$prog: no word on its return"; fi
    stop_tool
    st=$?
    if [ "$st" -eq 0 ]; then ok; else bad "$prog: exit $st after SIGTERM"; fi
    virsh -q -c "$URI" destroy svc-last >/dev/null
done

echo "== --keep-running: events again after libvirtd restarts =="
start_tool vcpu_scheduler --keep-running -v --domains 'svc-*' 0.5
if wait_for "$work/err" 'waiting for one' 1; then ok; else bad "no wait"; fi
stop_daemon KILL
start_daemon # the test driver starts afresh: its 'test' domain runs, and it is not managed
if wait_for "$work/err" 'reconnected' 1; then ok; else bad "did not reconnect"; fi
define_and_start "svc-after"
if wait_for "$work/err" "debug: domain 'svc-after' started" 1 5; then ok; else
    bad "no start event after reconnecting"
fi
if wait_for "$work/out" "vCPUs in 1 domains|2 vCPUs" 1 5; then ok; else bad "svc-after not sampled"; fi
stop_tool
st=$?
if [ "$st" -eq 0 ]; then ok; else bad "exit $st after SIGTERM"; fi
kill -TERM "$holder_pid"
wait_exit "$holder_pid"
holder_pid=
stop_daemon TERM

echo "service: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
