#!/usr/bin/env bash
# The checks of `make systemd-check`, run inside the container as a unit of its systemd (PID 1)
# by tests/ops/systemd-check.sh: installs the package, writes /etc/default/vmbalance, starts both
# units and checks what a real systemd makes of them, printing one line per check.
# Usage: systemd-check-inside.sh PACKAGE.deb TRANSCRIPT
set -uo pipefail

deb=$1
transcript=$2
units=(vcpu_scheduler memory_coordinator)
dir=/var/lib/prometheus/node-exporter
guest=sdcheck-guest
uri=qemu:///system
passed=0
failed=0

exec > >(tee -a "$transcript") 2>&1

say() { printf '%s\n' "$*"; }

# check NAME COMMAND...: runs COMMAND, prints NAME with PASS or FAIL (and COMMAND's output on a
# failure).
check() {
    local name=$1 output
    shift
    if output=$("$@" 2>&1); then
        say "PASS  $name${output:+: $output}"
        passed=$((passed + 1))
    else
        say "FAIL  $name${output:+: $output}"
        failed=$((failed + 1))
    fi
}

# wait_for SECONDS COMMAND...: true once COMMAND succeeds, false after SECONDS.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.5
    done
}

prop() { systemctl show -P "$2" "$1.service"; }

expect_eq() {
    if [ "$1" = "$2" ]; then echo "$1"; else
        echo "'$1', expected '$2'"
        return 1
    fi
}

is_active() { expect_eq "$(systemctl is-active "$1.service")" active; }

is_active_target() { expect_eq "$(systemctl is-active "$1.target")" active; }

# running_unchanged UNIT PID: the unit is still active in the same process, never restarted.
running_unchanged() {
    local pid
    pid=$(prop "$1" MainPID)
    is_active "$1" >/dev/null &&
        expect_eq "pid $pid, $(prop "$1" NRestarts) restarts" "pid $2, 0 restarts"
}

# client_of_libvirtd UNIT: libvirtd has a client whose process is the unit's main process.
client_of_libvirtd() {
    local pid id
    pid=$(prop "$1" MainPID)
    for id in $(virt-admin -q srv-clients-list libvirtd | awk '$1 ~ /^[0-9]+$/ { print $1 }'); do
        if virt-admin client-info libvirtd "$id" | grep -Eq "^unix_process_id *: *$pid\$"; then
            echo "client $id of libvirtd is pid $pid"
            return 0
        fi
    done
    echo "no client of libvirtd is pid $pid"
    return 1
}

# journal_has UNIT PRIORITY REGEX [SINCE]: the unit's program logged a line matching REGEX at
# PRIORITY (a journalctl -p level or range).
journal_has() {
    journalctl -q "_SYSTEMD_UNIT=$1.service" -p "$2" -o cat ${4:+--since "$4"} | grep -Em1 "$3"
}

# journal_plain UNIT: the program's lines reach the journal, none with its priority as text.
journal_plain() {
    local lines
    lines=$(journalctl -q "_SYSTEMD_UNIT=$1.service" -o cat)
    [ -n "$lines" ] || {
        echo "no line of the program in the journal"
        return 1
    }
    ! grep -E '^<[0-9]>' <<<"$lines" || return 1
    echo "$(wc -l <<<"$lines") lines"
}

# no_complaint UNIT: systemd logged no warning about the unit's file (unknown or bad settings).
no_complaint() {
    ! journalctl -q _PID=1 -p warning -o cat | grep -Fm1 "$1.service"
}

# reinstall_restarts: reinstalling the package (an upgrade to dpkg) restarts the enabled units.
reinstall_restarts() {
    local u before=() i=0
    for u in "${units[@]}"; do before+=("$(prop "$u" MainPID)"); done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "$deb" >/tmp/apt.log 2>&1 || {
        tail -5 /tmp/apt.log
        return 1
    }
    for u in "${units[@]}"; do
        [ "$(systemctl is-active "$u.service")" = active ] && [ "$(prop "$u" MainPID)" != "${before[i]}" ] || {
            echo "$u: $(systemctl is-active "$u.service"), pid ${before[i]} -> $(prop "$u" MainPID)"
            return 1
        }
        i=$((i + 1))
    done
    echo "both restarted"
}

# purge_stops: purging the package stops the units, leaves no unit failed and removes the files.
purge_stops() {
    local u
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq vmbalance >/tmp/apt.log 2>&1 || {
        tail -5 /tmp/apt.log
        return 1
    }
    for u in "${units[@]}"; do
        [ "$(systemctl is-active "$u.service")" = inactive ] || {
            echo "$u: $(systemctl is-active "$u.service") after purge"
            return 1
        }
        [ ! -e "/lib/systemd/system/$u.service" ] || {
            echo "$u.service left behind"
            return 1
        }
    done
    ! systemctl --failed --no-legend | grep . || return 1
    [ ! -e /etc/default/vmbalance ] || {
        echo "/etc/default/vmbalance left behind"
        return 1
    }
    echo "both stopped, units and /etc/default/vmbalance removed"
}

# reads_host UNIT: the program sees the host: pCPU usage, or free memory (/proc/meminfo).
reads_host() {
    if [ "$1" = vcpu_scheduler ]; then
        metrics_show "$1" '^vmbalance_pcpu_usage_ratio\{pcpu="1"\}'
    else
        metrics_show "$1" '^vmbalance_host_memory_free_bytes [1-9]' &&
            ! journal_has "$1" warning "free memory is unknown"
    fi
}

metrics_file() { echo "$dir/vmbalance_$1.prom"; }

# metrics_show UNIT REGEX: the unit's metrics file exists and has a line matching REGEX.
metrics_show() { grep -Em1 "$2" "$(metrics_file "$1")"; }

# metrics_written UNIT: the file is the collector's to read (0644, root) and is rewritten.
metrics_written() {
    local f m1 m2
    f=$(metrics_file "$1")
    expect_eq "$(stat -c '%a %U' "$f")" "644 root" >/dev/null || {
        stat -c "'%a %U', expected '644 root'" "$f"
        return 1
    }
    m1=$(stat -c %Y.%y "$f")
    sleep 2.5
    m2=$(stat -c %Y.%y "$f")
    [ "$m1" != "$m2" ] || {
        echo "not rewritten in 2.5 s"
        return 1
    }
    echo "$f, mode 0644, rewritten every period"
}

# served_by_node_exporter UNIT: node_exporter's textfile collector serves the unit's metrics.
served_by_node_exporter() {
    local body
    body=$(exec 3<>/dev/tcp/127.0.0.1/9100 &&
        printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 && cat <&3)
    grep -Em1 "vmbalance_build_info\\{program=\"$1\"" <<<"$body"
}

# restarted_after_kill UNIT: a killed program is started again (Restart=on-failure, RestartSec=).
restarted_after_kill() {
    local before n
    before=$(prop "$1" MainPID)
    n=$(($(prop "$1" NRestarts) + 1))
    systemctl kill -s KILL "$1.service"
    wait_for 15 sh -c "[ \"\$(systemctl show -P NRestarts $1.service)\" = $n ] &&
        [ \"\$(systemctl is-active $1.service)\" = active ]" || {
        echo "$(systemctl is-active "$1.service"), $(prop "$1" NRestarts) restarts"
        return 1
    }
    echo "pid $before killed, pid $(prop "$1" MainPID) started after $(prop "$1" RestartUSec)"
}

# started_after_libvirtd UNIT: in the last start transaction, the unit's program started after
# libvirtd was ready.
started_after_libvirtd() {
    local ready started
    ready=$(systemctl show -P ActiveEnterTimestampMonotonic libvirtd.service)
    started=$(prop "$1" ExecMainStartTimestampMonotonic)
    [ "$started" -gt "$ready" ] || {
        echo "started at ${started} us, libvirtd ready at ${ready} us"
        return 1
    }
    echo "started $(((started - ready) / 1000)) ms after libvirtd was ready"
}

# isolate TARGET: systemctl isolate TARGET (this check's unit ignores it).
isolate() {
    systemctl isolate "$1.target" && expect_eq "$(systemctl is-active "$1.target")" active
}

# with_remote_dropin UNIT: with the package's remote-uri.conf drop-in, the unit runs and connects;
# its exposure is printed (at most 2.0). The drop-in is removed again.
with_remote_dropin() {
    local d=/etc/systemd/system/$1.service.d e rc=0
    install -D -m 0644 /usr/share/doc/vmbalance/examples/remote-uri.conf "$d/remote-uri.conf"
    systemctl daemon-reload && systemctl restart "$1.service" &&
        wait_for 10 client_of_libvirtd "$1" && is_active "$1" >/dev/null || rc=1
    e=$(exposure "$1")
    rm -rf "$d"
    systemctl daemon-reload && systemctl restart "$1.service" || rc=1
    [ "$rc" -eq 0 ] && awk -v e="$e" 'BEGIN { exit !(e != "" && e <= 2.0) }' || {
        echo "$(systemctl is-active "$1.service"), exposure '$e'"
        return 1
    }
    echo "active, connected, exposure $e"
}

# stops_cleanly UNIT: systemctl stop ends it within its stop timeout, status 0.
stops_cleanly() {
    local t0 t1 limit
    limit=$(prop "$1" TimeoutStopUSec)
    t0=$(date +%s.%N)
    systemctl stop "$1.service" || return 1
    t1=$(date +%s.%N)
    expect_eq "$(systemctl is-active "$1.service"), result $(prop "$1" Result), status $(prop "$1" ExecMainStatus)" \
        "inactive, result success, status 0" >/dev/null || {
        echo "$(systemctl is-active "$1.service"), result $(prop "$1" Result), status $(prop "$1" ExecMainStatus)"
        return 1
    }
    awk -v a="$t0" -v b="$t1" -v l="$limit" 'BEGIN { printf "stopped in %.2f s (timeout %s), status 0\n", b - a, l }'
}

# exposure UNIT [FILE]: the overall exposure systemd-analyze security gives the unit (running) or
# FILE (--offline).
exposure() {
    if [ -n "${2:-}" ]; then
        systemd-analyze security --offline=true "$2"
    else
        systemd-analyze security "$1.service"
    fi 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}

same_exposure() {
    local online offline
    online=$(exposure "$1")
    offline=$(exposure "$1" "/lib/systemd/system/$1.service")
    [ -n "$online" ] && expect_eq "running $online, offline $offline" "running $offline, offline $offline"
}

define_guest() {
    cat >/tmp/$guest.xml <<XML
<domain type='qemu'>
  <name>$guest</name>
  <memory unit='MiB'>192</memory>
  <currentMemory unit='MiB'>160</currentMemory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><tcg><tb-cache unit='MiB'>16</tb-cache></tcg></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memballoon model='virtio'><stats period='1'/></memballoon>
  </devices>
</domain>
XML
    virsh -q -c "$uri" define /tmp/$guest.xml && virsh -q -c "$uri" start "$guest"
}

write_options() {
    cat >/etc/default/vmbalance <<EOF
# Written by systemd-check: PERIOD 1, only the check's guest (a pattern, unquoted), metrics for
# node_exporter.
VCPU_SCHEDULER_OPTS="--domains sdcheck-* --metrics-file $(metrics_file vcpu_scheduler) 1"
MEMORY_COORDINATOR_OPTS="--domains sdcheck-* --metrics-file $(metrics_file memory_coordinator) 1"
EOF
    echo "/etc/default/vmbalance: $(grep -c _OPTS= /etc/default/vmbalance) options lines"
}

say "== systemd $(systemctl --version | head -1 | cut -d' ' -f2) as PID 1 in $(systemd-detect-virt -c) ($(stat -fc %T /sys/fs/cgroup)), Debian $(cat /etc/debian_version)"
check "multi-user.target reached" is_active_target multi-user
check "libvirtd answers on $uri" wait_for 60 virsh -c "$uri" uri
say "      $(virsh -c "$uri" version --daemon | grep -E 'daemon|hypervisor' | tr -s ' ' | paste -sd ';' | sed 's/;/; /')"
check "apt-get install ./$(basename "$deb")" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends '$deb' >/tmp/apt.log 2>&1 || { tail -5 /tmp/apt.log; exit 1; }"
for u in "${units[@]}"; do
    check "$u installed disabled and stopped" expect_eq \
        "$(systemctl is-enabled "$u.service") $(systemctl is-active "$u.service")" "disabled inactive"
done
check "write /etc/default/vmbalance" write_options
for u in "${units[@]}"; do
    check "$u: no complaint of systemd about the unit" no_complaint "$u"
    # No man-db in the container: the man pages are verified by make units-check on the host.
    check "systemd-analyze verify --man=no $u.service" systemd-analyze verify --man=no \
        "/lib/systemd/system/$u.service"
done

say "== enable and start, no domain yet"
check "systemctl enable --now ${units[*]}" systemctl enable --quiet --now "${units[@]/%/.service}"
declare -A pid
for u in "${units[@]}"; do
    check "$u is-active" is_active "$u"
    pid[$u]=$(prop "$u" MainPID)
done
sleep 3
for u in "${units[@]}"; do
    check "$u still running after 3 s" running_unchanged "$u" "${pid[$u]}"
    check "$u is a client of libvirtd ($uri)" client_of_libvirtd "$u"
    check "$u waits for a domain (journal, priority info)" journal_has "$u" info..info "no active managed domain; waiting"
    check "$u metrics file in $dir" metrics_show "$u" "^vmbalance_managed_domains\\{program=\"$u\"\\} 0"
done

say "== a domain defined and started after them"
check "define and start $guest (TCG, no disk, virtio balloon)" define_guest
t0=$(date +%s.%N)
check "vcpu_scheduler sees $guest (metrics)" wait_for 15 metrics_show vcpu_scheduler "^vmbalance_vcpu_usage_ratio\\{domain=\"$guest\""
check "memory_coordinator sees $guest (metrics)" wait_for 15 metrics_show memory_coordinator "\\{domain=\"$guest\""
say "      both saw it $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after virsh start"
for u in "${units[@]}"; do
    check "$u sees the host (pCPU usage, free memory)" reads_host "$u"
    check "$u metrics written under the sandbox" metrics_written "$u"
    check "$u metrics served by node_exporter" wait_for 20 served_by_node_exporter "$u"
done

say "== warnings reach the journal at warning priority"
check "memory_coordinator warns of $guest's missing statistics (-p warning)" \
    wait_for 30 journal_has memory_coordinator warning "'$guest' reports no memory statistics"
since=$(date '+%Y-%m-%d %H:%M:%S')
check "systemctl restart libvirtd (provokes a lost connection)" systemctl restart libvirtd.service
for u in "${units[@]}"; do
    check "$u warns of the lost connection (-p warning)" \
        wait_for 20 journal_has "$u" warning "lost the connection to the hypervisor" "$since"
    check "$u reconnected, same process" running_unchanged "$u" "${pid[$u]}"
    check "$u lines in the journal, no priority shown as text" journal_plain "$u"
    check "$u no error in the journal (-p err)" sh -c \
        "! journalctl -q _SYSTEMD_UNIT=$u.service -p err -o cat | grep ."
done

say "== boot order: isolate rescue.target, then multi-user.target"
virsh -q -c "$uri" destroy "$guest" >/dev/null # libvirt-guests would wait for its shutdown
check "systemctl isolate rescue.target" isolate rescue
for u in "${units[@]}"; do
    check "$u stopped with libvirtd" expect_eq \
        "$(systemctl is-active "$u.service") $(systemctl is-active libvirtd.service)" "inactive inactive"
done
rm -f "$dir"/vmbalance_*.prom # what they write after the start is seen, not what was left
check "systemctl isolate multi-user.target" isolate multi-user
for u in "${units[@]}"; do
    check "$u is-active" is_active "$u"
    check "$u started after libvirtd" started_after_libvirtd "$u"
    check "$u is a client of libvirtd ($uri)" wait_for 10 client_of_libvirtd "$u"
done
check "start $guest again" virsh -q -c "$uri" start "$guest"
for u in "${units[@]}"; do
    check "$u sees $guest (metrics)" wait_for 15 metrics_show "$u" "^vmbalance_managed_domains\\{program=\"$u\"\\} 1"
done

say "== the remote-URI drop-in (remote-uri.conf from the package's examples)"
for u in "${units[@]}"; do
    check "$u with remote-uri.conf" with_remote_dropin "$u"
done

say "== restart, security, stop"
for u in "${units[@]}"; do
    check "systemctl restart $u" systemctl restart "$u.service"
    rm -f "$(metrics_file "$u")"
    check "$u active again in a new process" sh -c \
        "[ \"\$(systemctl is-active $u.service)\" = active ] && [ \"\$(systemctl show -P MainPID $u.service)\" != ${pid[$u]} ]"
    check "$u sees $guest again (metrics)" wait_for 15 metrics_show "$u" "^vmbalance_managed_domains\\{program=\"$u\"\\} 1"
    check "$u exposure, running = offline" same_exposure "$u"
    check "systemctl kill -s KILL $u: started again" restarted_after_kill "$u"
    check "systemctl stop $u" stops_cleanly "$u"
done
check "no unit failed" sh -c "systemctl --failed --no-legend | grep . && exit 1; true"

say "== the package: upgrade and purge with the units running"
check "systemctl start ${units[*]}" systemctl start "${units[@]/%/.service}"
check "apt-get install --reinstall restarts the units" reinstall_restarts
check "apt-get purge vmbalance" purge_stops
virsh -q -c "$uri" destroy "$guest" >/dev/null 2>&1

journalctl -b -o short-monotonic >"$(dirname "$transcript")/journal.txt" 2>&1
say "== $passed passed, $failed failed"
[ "$failed" -eq 0 ]
