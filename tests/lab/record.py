"""Recorder: what the tools read, several times a second, to a trace file.

A trace is plain text, one record a line, fields separated by single spaces, times in seconds
since the recording began (host monotonic clock):

    # vmbalance trace 1 <free text>
    C <key>=<value> ...                       constants: ncpus, memtotal_kib, hz, period, tool
    X <t> <name> <key>=<value> ...             a domain's definition, when first seen:
                                               autodeflate, free_page_reporting, hugepages (0/1)
    H <t> memavail_kib=<n> cpu<j>=<busy_ns> ...  the host: MemAvailable, per-CPU busy time
    D <t> <name> <key>=<value> ...             one domain: the bulk statistics the tools read
    E <t> <name> balloon=<kib>                 a balloon-change event (libvirt's, as it came)
    T <t> <line>                               a line the tool logged, stamped when read

D records hold libvirt's own keys (`virsh domstats` names) for the groups the tools use:
state.state, vcpu.current, vcpu.<n>.time / .wait / .delay (ns), balloon.* (KiB and counters),
block.<n>.rd.bytes / .rd.reqs; and pin.<n> (the pCPU list the vCPU may run on, as
`virsh vcpupin` prints it) and cpu.<n> (the pCPU it ran on at the sample). A D record's
time is the middle of the bulk call. The tests' replay (tests/trace.c) and the fake host's
calibration read these files; tests/traces/README.md lists the traces kept in the tree.

Standalone: /usr/bin/python3 record.py record [--hz 4] [--seconds N] [--prefix vmlab-] OUT
(run_scenario.py records every run into DIR/trace.txt when LAB_RECORD=HZ is set);
/usr/bin/python3 record.py trim SRC DST [--from S] [--to S] [--guests a,b] [--drop REGEX] [--no-log]
(the part of a trace kept in the tree).
"""
import argparse
import os
import re
import threading
import time

import libvirt

import lab
import monitor

STATS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_VCPU
         | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_BLOCK)
# The keys kept from the bulk statistics (the rest is noise for the tools).
KEEP = re.compile(r"^(state\.state|vcpu\.current|vcpu\.\d+\.(time|wait|delay)|balloon\.\w[\w-]*"
                  r"|block\.count|block\.\d+\.(name|rd\.bytes|rd\.reqs))$")
_event_loop_started = False


def start_event_loop():
    """libvirt's default event loop in a daemon thread (once per process), for the
    balloon-change events; it must run before the connection that registers them opens."""
    global _event_loop_started  # pylint: disable=global-statement
    if _event_loop_started:
        return
    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=run, daemon=True, name="libvirt-events").start()
    _event_loop_started = True


def host_busy_ns(ncpus):
    """Per-CPU busy time in ns from /proc/stat (jiffies: 10 ms steps)."""
    tick_ns = 1_000_000_000 // monitor.TICK
    return [b * tick_ns for b, _ in monitor.host_cpu_jiffies(ncpus)]


def definition(dom):
    """The facts of DOM's live definition the tools read (X record fields)."""
    try:
        xml = dom.XMLDesc(0)
    except libvirt.libvirtError:
        return "unknown=1"
    balloon = re.search(r"<memballoon[^>]*>", xml)
    tag = balloon.group(0) if balloon else ""
    facts = {"autodeflate": "autodeflate='on'" in tag,
             "free_page_reporting": "freePageReporting='on'" in tag,
             "hugepages": "<hugepages" in xml}
    return " ".join(f"{k}={int(v)}" for k, v in facts.items())


class Recorder:
    """Writes a trace of the guests whose name starts with PREFIX to PATH, HZ samples a
    second, from start() until stop(); TOOL_LOG (optional) is tailed into T records."""

    def __init__(self, path, hz=4.0, prefix=lab.PREFIX, tool_log=None, note="", period=None,
                 tool=None):
        start_event_loop()
        self.conn = libvirt.open(lab.URI)
        self.ncpus = self.conn.getCPUMap()[0]
        self.path, self.hz, self.prefix, self.tool_log = path, hz, prefix, tool_log
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.f = open(path, "w", encoding="utf-8")  # pylint: disable=consider-using-with
        self.f.write(f"# vmbalance trace 1 {note}\n")
        consts = {"ncpus": self.ncpus, "memtotal_kib": monitor.host_meminfo_mib("MemTotal") * 1024,
                  "hz": f"{hz:g}"}
        if period:
            consts["period"] = f"{period:g}"
        if tool:
            consts["tool"] = tool
        self.f.write("C " + " ".join(f"{k}={v}" for k, v in consts.items()) + "\n")
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True, name="recorder")
        self.log_pos = 0
        self.seen = set()
        self.cb = self.conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, self.on_balloon, None)

    def now(self):
        return time.monotonic() - self.t0

    def write(self, line):
        with self.lock:
            self.f.write(line + "\n")

    def on_balloon(self, _conn, dom, actual, _opaque):
        if dom.name().startswith(self.prefix):
            self.write(f"E {self.now():.3f} {dom.name()} balloon={actual}")

    def sample(self):
        t1 = self.now()
        stats = self.conn.getAllDomainStats(STATS)
        t = (t1 + self.now()) / 2
        lines = []
        for dom, st in stats:
            name = dom.name()
            if not name.startswith(self.prefix):
                continue
            kv = [f"{k}={v}" for k, v in sorted(st.items())
                  if KEEP.match(k) and " " not in str(v)]
            try:
                pins = dom.vcpuPinInfo(libvirt.VIR_DOMAIN_AFFECT_LIVE)
                info, _ = dom.vcpus()
            except libvirt.libvirtError:
                continue  # gone between the calls
            kv += [f"pin.{i}={monitor.cpulist(p[:self.ncpus]) or '-'}" for i, p in enumerate(pins)]
            kv += [f"cpu.{v[0]}={v[3]}" for v in info]
            if name not in self.seen:
                self.seen.add(name)
                lines.append(f"X {t:.3f} {name} " + definition(dom))
            lines.append(f"D {t:.3f} {name} " + " ".join(kv))
        busy = host_busy_ns(self.ncpus)
        lines.insert(0, f"H {t:.3f} memavail_kib={monitor.host_meminfo_mib('MemAvailable') * 1024}"
                     + "".join(f" cpu{j}={b}" for j, b in enumerate(busy)))
        lines += self.tool_lines()
        self.write("\n".join(lines))

    def tool_lines(self):
        """New lines of the tool's log, stamped now."""
        if not self.tool_log:
            return []
        try:
            with open(self.tool_log, encoding="utf-8", errors="replace") as f:
                f.seek(self.log_pos)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind("\n") + 1
        self.log_pos += len(data[:end].encode("utf-8"))
        t = self.now()
        return [f"T {t:.3f} {line}" for line in data[:end].splitlines() if line.strip()]

    def run(self):
        deadline = time.monotonic()
        while not self.stopping.is_set():
            try:
                self.sample()
            except libvirt.libvirtError as e:
                self.write(f"# {self.now():.3f} sample failed: {e}")
            deadline += 1.0 / self.hz
            delay = deadline - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)
            else:
                deadline = time.monotonic()

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join()
        try:
            self.conn.domainEventDeregisterAny(self.cb)
        except libvirt.libvirtError:
            pass
        with self.lock:
            for line in self.tool_lines():
                self.f.write(line + "\n")
            self.f.close()
        self.conn.close()


def trim(src, dst, start=None, end=None, guests=None, drop=None, no_log=False):
    """Copies the trace SRC to DST keeping records from START to END s (None: all), of the
    GUESTS (None: all), without the keys matching the regular expression DROP, and without the
    tool's log lines when NO_LOG (a trace kept in the tree keeps what its tests read)."""
    drop_re = re.compile(drop) if drop else None
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            w = line.rstrip("\n").split(" ")
            if w[0] in ("#", "C") or len(w) < 2:
                out.write(line)
                continue
            t = float(w[1])
            if w[0] == "T" and no_log:
                continue
            if (start is not None and t < start) or (end is not None and t > end):
                continue
            if w[0] in ("D", "X", "E") and guests and w[2] not in guests:
                continue
            if w[0] == "D" and drop_re:
                w = w[:3] + [kv for kv in w[3:] if not drop_re.match(kv.split("=", 1)[0])]
            out.write(" ".join(w) + "\n")


def main():
    ap = argparse.ArgumentParser(description="Record lab guests' statistics to a trace file,"
                                 " or trim a trace.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="record the guests for --seconds into OUT")
    rec.add_argument("out")
    rec.add_argument("--hz", type=float, default=4.0)
    rec.add_argument("--seconds", type=float, default=60.0)
    rec.add_argument("--prefix", default=lab.PREFIX)
    rec.add_argument("--tool-log", help="a tool's log file to stamp into the trace")
    tr = sub.add_parser("trim", help="copy part of a trace")
    tr.add_argument("src")
    tr.add_argument("dst")
    tr.add_argument("--from", dest="start", type=float)
    tr.add_argument("--to", dest="end", type=float)
    tr.add_argument("--guests", help="comma-separated names to keep (default all)")
    tr.add_argument("--drop", help="regular expression of keys to drop from D records")
    tr.add_argument("--no-log", action="store_true", help="drop the tool's log lines")
    a = ap.parse_args()
    if a.cmd == "trim":
        trim(a.src, a.dst, a.start, a.end, a.guests.split(",") if a.guests else None, a.drop,
             a.no_log)
        return 0
    rec = Recorder(a.out, a.hz, a.prefix, a.tool_log, note="standalone").start()
    try:
        time.sleep(a.seconds)
    except KeyboardInterrupt:
        pass
    rec.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
