#!/usr/bin/env bash
# Make qemu:///system answer on a Debian 12 machine without systemd (as root):
# install the packages the lab needs, create what libvirtd expects, start
# virtlogd and libvirtd if they are not answering. Idempotent.
set -euo pipefail

URI=qemu:///system
PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	qemu-system-x86 python3 python3-libvirt gnuplot-nox busybox-static
	gcc libc6-dev xz-utils zstd adduser procps
	make pkg-config libvirt-dev) # the last three build the tools (demo.sh)

die() { echo "libvirt-up: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root."

answers() { virsh -c "$URI" list >/dev/null 2>&1; }

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	echo "libvirt-up: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What the libvirt-daemon-system package would have created (we do not
# install it: it wants systemd or sysv services, polkit and a firewall).
create_users_and_dirs() {
	local g
	for g in kvm libvirt libvirt-qemu; do
		getent group "$g" >/dev/null || addgroup --quiet --system "$g"
	done
	if ! getent passwd libvirt-qemu >/dev/null; then
		adduser --quiet --system --ingroup kvm --disabled-login \
			--disabled-password --home /var/lib/libvirt --no-create-home \
			--gecos "Libvirt Qemu" libvirt-qemu
	fi
	id -nG libvirt-qemu | grep -qw libvirt-qemu || adduser --quiet libvirt-qemu libvirt-qemu
	mkdir -p /var/log/libvirt/qemu /var/run/libvirt /var/lib/libvirt/qemu \
		/var/cache/libvirt/qemu /etc/libvirt/qemu
	chown libvirt-qemu:libvirt-qemu /var/lib/libvirt/qemu
	chmod 0750 /var/lib/libvirt/qemu
	# What udev does on a normal Debian host. Without it libvirt's capability
	# probe (run as root) sees KVM while its access check as libvirt-qemu does
	# not, so it re-probes QEMU on every call: 'virsh create' takes ~45 s.
	if [[ -c /dev/kvm ]]; then
		chgrp kvm /dev/kvm
		chmod 0660 /dev/kvm
	fi
}

# The system daemons, found by their pid files: a libvirtd of some other user
# (a session daemon, the fault tests' private one) must not count.
running() { # PIDFILE
	local pid
	[[ -r $1 ]] && pid=$(<"$1") && [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

start_daemons() {
	if ! running /run/virtlogd.pid; then
		virtlogd -d || die "virtlogd failed to start."
	fi
	if ! running /run/libvirtd.pid; then
		libvirtd -d || die "libvirtd failed to start."
	fi
}

install_packages
create_users_and_dirs
answers && exit 0
start_daemons
for _ in $(seq 1 60); do
	if answers; then
		echo "libvirt-up: $URI answers."
		exit 0
	fi
	sleep 0.5
done
die "$URI does not answer after 30 s (see /var/log/libvirt/)."
