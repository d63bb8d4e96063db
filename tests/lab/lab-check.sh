#!/usr/bin/env bash
# Run every lab scenario (or those named) against the tools in the repo's bin/,
# print a table of figures, and exit non-zero on any failed verdict.
# LAB_TOOL=none runs the scenarios without a tool and checks the lab itself:
# each verdict must be the one expected without a tool.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$HERE/libvirt-up.sh"
"$HERE/build-image.sh" | grep -v '^kernel=\|^initrd='
exec /usr/bin/python3 "$HERE/run_scenario.py" --check --quiet-tool "$@"
