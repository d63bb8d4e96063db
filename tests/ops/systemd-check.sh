#!/usr/bin/env bash
# Proves the package and its units under a real systemd: boots systemd as PID 1 in a
# systemd-nspawn container made from Debian's packages (debootstrap), with libvirtd, QEMU and
# node_exporter inside, and runs tests/ops/systemd-check-inside.sh there as a unit of that
# systemd: it installs the .deb and prints each check with its result. The container's root is
# built once and kept in $SD_CACHE (default /var/cache/vmbalance-systemd, rebuilt when the
# package list or build_root changes); each run boots it on a throw-away overlay
# (--volatile=overlay), with a network of its own (loopback only), and changes nothing in it.
# Usage: systemd-check.sh PACKAGE.deb   (as root)
#        systemd-check.sh --deps        installs what it and `make deb` need (root, Debian)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${SD_CACHE:-/var/cache/vmbalance-systemd}
mirror=${SD_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
timeout_s=${SD_TIMEOUT:-600}
out=${SD_OUT:-$PWD/build/systemd-check}
# Besides a minimal Debian with systemd: libvirtd and QEMU (the guest is emulated: TCG), and
# node_exporter, whose textfile directory the units write their metrics to.
packages=(libvirt-daemon-system libvirt-clients qemu-system-x86 prometheus-node-exporter)
# On the machine that runs the check: the container, and `make deb` without its tests.
host_packages=(debootstrap systemd-container debhelper dpkg-dev fakeroot gcc make pkg-config
    libvirt-dev)

die() {
    echo "systemd-check: $*" >&2
    exit 1
}

install_deps() {
    local p missing=()
    for p in "${host_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null ||
        die "missing packages: ${missing[*]} (apt-get install ${missing[*]})"
    echo "systemd-check: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "${1:-}" = --deps ]; then
    install_deps
    exit 0
fi
[ "$#" -eq 1 ] && [ -f "$1" ] || die "usage: systemd-check.sh PACKAGE.deb | --deps"
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ "$(id -u)" -eq 0 ] || die "it must run as root (it boots a container)."
for c in debootstrap systemd-nspawn; do
    command -v "$c" >/dev/null || die "'$c' is missing: run 'systemd-check.sh --deps'."
done

# The root is named for what goes into it: a change of the package list or of build_root makes
# a new one (and the old one is removed).
key=$( (
    echo "$suite $mirror ${packages[*]}"
    sed -n '/^build_root()/,/^}/p' "$0"
) | sha256sum | cut -c1-12)
root=$cache/root-$key

# nspawn without a systemd on the host: no machined to register with, no scope to create.
nspawn() {
    systemd-nspawn --quiet --register=no --keep-unit "$@"
}

build_root() {
    local tmp=$cache/tmp-$key
    rm -rf "$tmp"
    mkdir -p "$tmp"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus "$suite" "$tmp" "$mirror" \
        >"$cache/debootstrap.log" 2>&1 || die "debootstrap failed: see $cache/debootstrap.log"
    nspawn -D "$tmp" --setenv=DEBIAN_FRONTEND=noninteractive sh -c \
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${packages[*]} &&
         apt-get clean" >"$cache/apt.log" 2>&1 || die "apt-get in the root failed: see $cache/apt.log"
    # No NAT network for guests (no dnsmasq, no firewall in the container): the check's guest has
    # no interface.
    rm -f "$tmp/etc/libvirt/qemu/networks/autostart/default.xml"
    touch "$tmp/.vmbalance-root-complete"
    mv "$tmp" "$root"
}

start=$(date +%s)
if [ ! -e "$root/.vmbalance-root-complete" ]; then
    echo "systemd-check: building the container's root $root (debootstrap $suite; once)"
    mkdir -p "$cache"
    find "$cache" -mindepth 1 -maxdepth 1 -name 'root-*' ! -name "root-$key" -exec rm -rf {} +
    build_root
    echo "systemd-check: root built in $(($(date +%s) - start)) s"
else
    echo "systemd-check: the container's root is $root"
fi

# The check is a unit of the container's systemd, pulled in at boot; its end, success or
# failure, ends the container with its exit status.
rm -rf "$out"
mkdir -p "$out"
cat >"$out/vmbalance-systemd-check.service" <<EOF
[Unit]
Description=vmbalance: the package and its units under a real systemd
After=multi-user.target
IgnoreOnIsolate=yes
SuccessAction=exit
FailureAction=exit

[Service]
Type=oneshot
ExecStart=/bin/bash /vmb/ops/systemd-check-inside.sh /vmb/deb/$(basename "$deb") /vmb/out/transcript.txt
TimeoutStartSec=infinity
EOF
: >"$out/transcript.txt"

container=
tailer=
cleanup() {
    [ -z "$container" ] || kill "$container" 2>/dev/null || true
    [ -z "$tailer" ] || kill "$tailer" 2>/dev/null || true
}
trap cleanup EXIT

echo "systemd-check: booting systemd in a container (its console: $out/console.log)"
# The container's cgroups are the unified hierarchy (v2), as on a Debian 12 host, whatever the
# machine running the check has: libvirt cannot start a guest under nspawn's read-only v1
# controllers.
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout -k 30 "$timeout_s" systemd-nspawn --quiet \
    --register=no --keep-unit -D "$root" --volatile=overlay --private-network \
    --machine="vmb-sdcheck-$$" \
    --bind-ro="$here:/vmb/ops" --bind-ro="$(dirname "$deb"):/vmb/deb" --bind="$out:/vmb/out" \
    --bind-ro="$out/vmbalance-systemd-check.service:/etc/systemd/system/vmbalance-systemd-check.service" \
    --boot systemd.wants=vmbalance-systemd-check.service systemd.show_status=false \
    </dev/null >"$out/console.log" 2>&1 &
container=$!
tail -n +1 -f --pid="$container" "$out/transcript.txt" &
tailer=$!
status=0
wait "$container" || status=$?
container=
wait "$tailer" 2>/dev/null || true
tailer=
elapsed=$(($(date +%s) - start))
if [ "$status" -eq 0 ] && grep -q '^== [0-9]* passed, 0 failed$' "$out/transcript.txt"; then
    echo "systemd-check: OK in $elapsed s"
else
    [ "$status" -ne 0 ] || status=1
    [ "$status" -ne 124 ] || echo "systemd-check: timed out after $timeout_s s" >&2
    echo "systemd-check: FAILED in $elapsed s (container status $status); its console:" >&2
    tail -20 "$out/console.log" >&2
fi
exit "$status"
