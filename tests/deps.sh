#!/usr/bin/env bash
# Makes sure what `make check` needs is installed. On Debian, as root, installs what is missing
# (apt-get); otherwise says what to install. Quiet when everything is there.
set -euo pipefail

pkgs=(gcc make pkg-config libvirt-dev libvirt-daemon libvirt-clients check python3)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "deps: missing packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
fi
