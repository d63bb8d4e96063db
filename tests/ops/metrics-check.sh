#!/usr/bin/env bash
# promtool on vmbalance's metrics: the FILEs given (e.g. the lab's), or else both programs'
# metrics written against libvirt's test driver (--once --metrics-file, three hosts) and the
# example alert rules (docs/alerts.yml, with their unit tests). promtool comes with Debian's
# `prometheus` package. Any finding fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BINDIR=${BINDIR:-$root/bin}

if ! command -v promtool >/dev/null; then
    echo "metrics-check: promtool is not installed (apt-get install prometheus)" >&2
    exit 1
fi

# check_metrics FILE: promtool's lint must pass and say nothing.
check_metrics() {
    local out
    if ! out=$(promtool check metrics <"$1" 2>&1) || [ -n "$out" ]; then
        echo "metrics-check: $1:" >&2
        echo "$out" >&2
        return 1
    fi
    echo "metrics-check: $1: $(grep -c '^# TYPE' "$1") families, $(grep -vc '^#' "$1") samples: OK"
}

if [ $# -gt 0 ]; then
    for f in "$@"; do check_metrics "$f"; done
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset LIBVIRT_DEFAULT_URI
for prog in vcpu_scheduler memory_coordinator; do
    # test:///default, and the integration tests' nodes of 4 and 16 pCPUs
    for host in /default "$root/tests/integration/nodes/host4.xml" \
        "$root/tests/integration/nodes/host16.xml"; do
        out="$work/${prog}_$(basename "$host" .xml).prom"
        "$BINDIR/$prog" -c "test://$host" -q --once --metrics-file "$out" 0.2
        check_metrics "$out"
    done
done
promtool check rules "$root/docs/alerts.yml"
promtool test rules "$root/docs/alerts_test.yml"
