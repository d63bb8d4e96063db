#!/usr/bin/env bash
# The real binaries at scale: libvirt's test driver with a generated node of DOMAINS domains on
# PCPUS pCPUs. Prints, per program, the wall time of --once, and over PERIODS periods the
# hypervisor calls per period, RSS at the 10th period and at the end, and the peak RSS.
#   tests/bench/real_scale.sh [DOMAINS [PCPUS [PERIODS]]]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BINDIR=${BINDIR:-$here/../../bin}
BINDIR=$(cd "$BINDIR" && pwd)
domains=${1:-1000}
pcpus=${2:-64}
periods=${3:-100}
work=$(mktemp -d)
trap 'kill -9 ${pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

node=$work/node.xml
{
    echo "<node><cpu><mhz>2400</mhz><model>x86_64</model><active>$pcpus</active><nodes>1</nodes>"
    echo "<sockets>1</sockets><cores>$pcpus</cores><threads>1</threads></cpu>"
    echo "<memory>$((domains * 2 * 1048576))</memory>"
    for ((i = 0; i < domains; i++)); do
        printf '<domain type="test"><name>vm%d</name><uuid>%08x-0000-4000-8000-%012x</uuid>' "$i" "$i" "$i"
        printf '<memory unit="MiB">2048</memory><currentMemory unit="MiB">%d</currentMemory>' $((512 + i % 512))
        printf '<vcpu>%d</vcpu><os><type>hvm</type></os>' $((1 + i % 2))
        printf '<devices><memballoon model="virtio"><stats period="1"/></memballoon></devices></domain>\n'
    done
    echo "</node>"
} >"$node"
uri="test://$node"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

floor=$("$BINDIR/rss_probe" "$uri")
echo "A process that only opens this connection and lists its domains peaks at $floor KiB"
echo "(libvirt, libxml2, GLib and, with test:///, the test driver's $domains domains in-process)."
echo
echo "| program | domains | pCPUs | --once wall s | calls per period | RSS at period 10 KiB | RSS at period $periods KiB | peak RSS KiB | peak above the bare connection KiB | wall s per period |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for prog in vcpu_scheduler memory_coordinator; do
    t0=$(date +%s.%N)
    "$BINDIR/$prog" -c "$uri" --once -q 0.1 2>/dev/null
    t1=$(date +%s.%N)
    once=$(echo "$t1 - $t0" | bc -l)

    "$BINDIR/$prog" -c "$uri" --json 0.1 >"$work/out" 2>/dev/null &
    pid=$!
    rss10=
    t0=$(date +%s.%N)
    while :; do
        n=$(wc -l <"$work/out")
        if [ -z "$rss10" ] && [ "$n" -ge 10 ]; then rss10=$(rss "$pid"); fi
        [ "$n" -ge "$periods" ] && break
        sleep 0.05
    done
    t1=$(date +%s.%N)
    rss_end=$(rss "$pid")
    peak=$(hwm "$pid")
    kill -TERM "$pid"
    wait "$pid"
    pid=
    calls=$(tail -n 1 "$work/out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"])')
    per=$(echo "($t1 - $t0) / $periods" | bc -l)
    printf '| %s | %d | %d | %.2f | %s | %s | %s | %s | %s | %.3f |\n' "$prog" "$domains" "$pcpus" \
        "$once" "$calls" "$rss10" "$rss_end" "$peak" $((peak - floor)) "$per"
done
