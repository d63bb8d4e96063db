#!/usr/bin/env bash
# Build the lab guest: a Debian cloud kernel and a busybox initramfs with the
# virtio balloon and block drivers and loadgen. Output in $LAB_CACHE (default
# /var/cache/vmbalance-lab), rebuilt only when an input changes.
#
# The guest's workload comes from the kernel command line:
#   lab.load=ARGS   loadgen arguments with commas for spaces, e.g.
#                   lab.load=cpu,--duty,100  or  lab.load=mem,--rate,20,--cap,1500
#   lab.delay=S     start the workload S seconds after boot
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${LAB_CACHE:-/var/cache/vmbalance-lab}
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon
	virtio_blk)

die() { echo "build-image: $*" >&2; exit 1; }

for c in apt-get dpkg gcc gzip sha256sum busybox; do
	command -v "$c" >/dev/null || die "'$c' is missing (run tests/lab/libvirt-up.sh)."
done
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
	die "busybox-static is not installed (run tests/lab/libvirt-up.sh)."

kernel_pkg() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-.*-cloud-amd64$/ { print $2; exit }'
}

# The guest's PID 1. It must never die: an OOM kill of PID 1 panics the guest.
write_init() {
	cat >"$1" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in MODULES; do
	insmod "/lib/modules/$m.ko" || echo "lab: insmod $m failed"
done
load=idle delay=0
for w in $(cat /proc/cmdline); do
	case "$w" in
	lab.load=*) load=${w#lab.load=} ;;
	lab.delay=*) delay=${w#lab.delay=} ;;
	esac
done
# Let the balloon reach the size the host asked for before loading the guest:
# inflating is slow when the vCPU is busy (TCG). It shrinks MemTotal, or with
# autodeflate (whose balloon pages count as used) MemFree: wait for both to
# stay put for a second.
prev=0
while :; do
	total=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
	free=$(awk '/^MemFree:/ { print int($2 / 4096) }' /proc/meminfo)
	[ "$total/$free" = "$prev" ] && break
	prev=$total/$free
	sleep 1
done
args=$(echo "$load" | tr , ' ')
echo "lab: ready, MemTotal $((total / 1024)) MiB, load '$args', delay $delay s"
# shellcheck disable=SC2086
/bin/loadgen --delay "$delay" $args &
wait $!
echo "lab: loadgen ended with status $?"
while :; do sleep 3600; done
EOF
	sed -i "s/MODULES/${loadable[*]}/" "$1"
	chmod 755 "$1"
}

pkg=$(kernel_pkg)
if [[ -z $pkg ]]; then
	apt-get update -qq
	pkg=$(kernel_pkg)
fi
[[ -n $pkg ]] || die "cannot find the kernel package behind linux-image-cloud-amd64."
kver=${pkg#linux-image-}

inputs_key() { { cat "$HERE/loadgen.c" "${BASH_SOURCE[0]}"; echo "$pkg"; } | sha256sum | cut -d' ' -f1; }
if [[ -f $CACHE/stamp && $(cat "$CACHE/stamp") == "$(inputs_key)" &&
	-f $CACHE/vmlinuz && -f $CACHE/initrd.gz ]]; then
	echo "build-image: up to date ($kver)."
	echo "kernel=$CACHE/vmlinuz"
	echo "initrd=$CACHE/initrd.gz"
	exit 0
fi

echo "build-image: building for $kver in $CACHE"
mkdir -p "$CACHE"
chmod 755 "$CACHE"
work=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

deb=$(find "$CACHE" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
if [[ -z $deb ]]; then
	# apt-get download as root into a directory _apt may write to.
	chown _apt "$work" 2>/dev/null || true
	# Stale package lists name a version the archive no longer has: update once.
	(cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		{ apt-get update -qq && pkg=$(kernel_pkg) && kver=${pkg#linux-image-} &&
			(cd "$work" && apt-get download -q "$pkg" >/dev/null); } ||
		die "cannot download '$pkg'."
	find "$CACHE" -maxdepth 1 -name 'linux-image-*.deb' -delete
	mv "$work/${pkg}"_*.deb "$CACHE/"
	deb=$(find "$CACHE" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
fi
dpkg -x "$deb" "$work/kernel"

root=$work/root
mkdir -p "$root/bin" "$root/lib/modules" "$root/dev" "$root/proc" "$root/sys"
moddir=$work/kernel/lib/modules/$kver
loadable=()
for m in "${MODULES[@]}"; do
	f=$(find "$moddir" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \) | head -n1)
	case "$f" in
	*.ko*) loadable+=("$m") ;;&
	*.ko) cp "$f" "$root/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
	*)
		grep -q "/$m.ko$" "$moddir/modules.builtin" ||
			die "module '$m' is neither a module nor built in."
		echo "build-image: $m is built in"
		;;
	esac
done
cp /bin/busybox "$root/bin/busybox"
gcc -static -O2 -std=c11 -Wall -Wextra -Werror -pthread \
	-o "$root/bin/loadgen" "$HERE/loadgen.c"
write_init "$root/init"

(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -9 >"$work/initrd.gz"
install -m 644 "$work/kernel/boot/vmlinuz-$kver" "$CACHE/vmlinuz"
install -m 644 "$work/initrd.gz" "$CACHE/initrd.gz"
inputs_key >"$CACHE/stamp"
echo "kernel=$CACHE/vmlinuz"
echo "initrd=$CACHE/initrd.gz"
