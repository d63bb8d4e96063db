#!/usr/bin/env bash
# Run one lab scenario (see run_scenario.py): sets up libvirt and the guest
# image first. Usage: tests/lab/run-scenario.sh [--periods N] [--period S] NAME
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case " $* " in
*" --list "* | *" --table "* | *" --evaluate "* | *" -h "* | *" --help "*) ;;
*)
	"$HERE/libvirt-up.sh"
	"$HERE/build-image.sh" | grep -v '^kernel=\|^initrd='
	;;
esac
# Debian's python3: it has the libvirt module (a pyenv python3 may not).
exec /usr/bin/python3 "$HERE/run_scenario.py" "$@"
