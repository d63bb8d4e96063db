#!/usr/bin/env bash
# `make demo`: set up libvirt, build the guest image and the tools, then watch
# vcpu_scheduler balance cpu-all-on-one and memory_coordinator feed
# mem-one-grows on real guests, one line per period. Leaves the plots in lab-out/.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${LAB_OUT:-$REPO/lab-out}

"$HERE/libvirt-up.sh"
"$HERE/build-image.sh" | grep -v '^kernel=\|^initrd='
make -C "$REPO" --no-print-directory
rc=0
for s in cpu-all-on-one mem-one-grows; do
	echo
	/usr/bin/python3 "$HERE/run_scenario.py" "$s" || rc=1
done
echo
echo "Plots: $OUT/cpu-all-on-one/cpu.png and $OUT/mem-one-grows/mem.png"
echo "Figures: $OUT/<scenario>/summary.json, samples: $OUT/<scenario>/samples.csv"
exit "$rc"
