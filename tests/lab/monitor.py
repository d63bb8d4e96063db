"""Lab monitor: per-period samples of lab guests over the libvirt API, to CSV.

Per pCPU usage is the vCPU run time (vcpu.N.time) of the period attributed to
the pCPU the vCPU is pinned to. A vCPU allowed on several pCPUs (unpinned) is
attributed to the pCPU it is running on at the end of the period (vcpus()):
a point sample, exact once every vCPU is pinned to one pCPU. The host's own
per-CPU busy time (/proc/stat) is recorded beside it as host_cpuN.

Per vCPU delay % is the share of the period it waited runnable for a pCPU
(vcpu.N.delay, the guest's steal time; "CPU ready"). A guest's emulator threads
(its QEMU threads other than "CPU n/...") are read from /proc: the pCPUs they
may run on (emu, from Cpus_allowed_list) and the CPU they used (emu_pct).

Host free memory is MemAvailable (/proc/meminfo); libvirt's node figure
(free + buffers + cached, virNodeGetMemoryStats) is recorded beside it: it is
~200 MiB higher on an idle host, and the gap grows with guest memory.

Standalone: /usr/bin/python3 monitor.py [--period S] [--count N] [--csv FILE]
            [--console-dir DIR] [--prefix vmlab-] [--uri URI]
"""
import argparse
import csv
import os
import re
import statistics
import sys
import time

import libvirt

import lab

OOM_KILLED = re.compile(r"Out of memory: Killed process")
OOM_KILL = re.compile(r"oom-kill:")
PUFF = re.compile(r"Out of puff")
THROUGHPUT = re.compile(r"loadgen: cache throughput (\d+) MiB/s")
# Per-guest memory columns: balloon.* fields in MiB, and counters as they are.
MEM_KIB = ("current", "unused", "available", "usable", "disk_caches", "rss", "swap_in")
MEM_COUNT = ("major_fault",)
STATS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_VCPU
         | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_BLOCK)


def cpulist(bits):
    """(True, False, True) -> '0,2'; contiguous runs as 'a-b'."""
    cpus = [i for i, b in enumerate(bits) if b]
    out, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)


def host_meminfo_mib(field):
    """A /proc/meminfo field (MemAvailable, MemTotal, ...) in MiB, 0 if absent."""
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) // 1024
    return 0


def host_mem_available_mib():
    return host_meminfo_mib("MemAvailable")


def host_cpu_jiffies(ncpus):
    """Per-CPU (busy, total) jiffies from /proc/stat."""
    out = [(0, 0)] * ncpus
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m and int(m.group(1)) < ncpus:
                v = [int(x) for x in m.group(2).split()]
                idle = v[3] + v[4]
                out[int(m.group(1))] = (sum(v[:8]) - idle, sum(v[:8]))
    return out


TICK = os.sysconf("SC_CLK_TCK")


def cpus_allowed(text):
    """A /proc status Cpus_allowed_list ('0-1,4') as a set of ints."""
    out = set()
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def emulator_threads(name):
    """(pCPUs the guest's emulator threads may run on, their CPU seconds), from /proc;
    (None, 0) when the QEMU process is not readable."""
    try:
        with open(f"/run/libvirt/qemu/{name}.pid", encoding="ascii") as f:
            pid = int(f.read().strip())
        tids = os.listdir(f"/proc/{pid}/task")
    except (OSError, ValueError):
        return None, 0.0
    allowed, secs = set(), 0.0
    for tid in tids:
        base = f"/proc/{pid}/task/{tid}"
        try:
            with open(f"{base}/comm", encoding="utf-8", errors="replace") as f:
                if f.read().startswith("CPU "):
                    continue   # a vCPU thread ("CPU 0/TCG", "CPU 1/KVM")
            with open(f"{base}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"{base}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("Cpus_allowed_list:"):
                        allowed |= cpus_allowed(line.split(":", 1)[1])
        except OSError:
            continue   # the thread ended
        secs += (int(fields[11]) + int(fields[12])) / TICK   # utime + stime
    return allowed, secs


class Console:
    """Counts OOM kills and balloon 'Out of puff' lines in a guest console log, and gathers the
    read throughput a `loadgen cache --rate max` prints every second."""

    def __init__(self, path):
        self.path, self.pos, self.buf = path, 0, ""
        self.killed = self.oomkill = self.puff = 0
        self.throughput = []   # MiB/s lines since take_throughput()

    def poll(self):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return
        lines = (self.buf + data).split("\n")
        self.buf = lines.pop()
        for line in lines:
            self.killed += bool(OOM_KILLED.search(line))
            self.oomkill += bool(OOM_KILL.search(line))
            self.puff += bool(PUFF.search(line))
            m = THROUGHPUT.search(line)
            if m:
                self.throughput.append(int(m.group(1)))

    def take_throughput(self):
        """The mean read throughput (MiB/s) printed since the last call, or None."""
        t, self.throughput = self.throughput, []
        return round(sum(t) / len(t)) if t else None

    @property
    def ooms(self):
        return max(self.killed, self.oomkill)


class Monitor:
    """Samples the named guests; each sample() returns one CSV row (a dict)."""

    def __init__(self, conn, names, console_dir=None, nvcpus=None):
        """NVCPUS: name -> vCPU count of guests not running yet (default: as running, or 1)."""
        self.conn, self.names = conn, list(names)
        self.ncpus = conn.getCPUMap()[0]
        self.consoles = {n: Console(os.path.join(console_dir, f"{n}.console.log"))
                         for n in self.names} if console_dir else {}
        self.prev = None
        self.t0 = time.monotonic()
        self.period = 0
        first = self.raw()
        self.nvcpus = dict(nvcpus or {})
        self.nvcpus.update({n: len(g["time"]) for n, g in first["guests"].items()})
        self.prev = first

    def raw(self):
        """One raw snapshot: cumulative times, pins, balloon, host."""
        t = time.monotonic()
        stats = self.conn.getAllDomainStats(STATS)
        # vCPU times are read during the call: stamp its midpoint.
        node = self.conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
        snap = {"t": (t + time.monotonic()) / 2 - self.t0, "guests": {},
                "host_avail": host_mem_available_mib(),
                "host_free_libvirt": sum(node.get(k, 0) for k in ("free", "buffers", "cached"))
                // 1024,
                "host_cpu": host_cpu_jiffies(self.ncpus)}
        for dom, st in stats:
            name = dom.name()
            if name not in self.names:
                continue
            g = {"state": st.get("state.state", 0), "time": [], "pin": [], "cur": [],
                 "delay": []}
            for i in range(st.get("vcpu.current", 0)):
                g["time"].append(st.get(f"vcpu.{i}.time", 0))
                g["delay"].append(st.get(f"vcpu.{i}.delay"))
            emu, g["emu_s"] = emulator_threads(name)
            g["emu"] = "" if emu is None else cpulist([j in emu for j in range(self.ncpus)])
            try:
                pins = dom.vcpuPinInfo(libvirt.VIR_DOMAIN_AFFECT_LIVE)
                info, _ = dom.vcpus()
            except libvirt.libvirtError:
                continue  # vanished between the calls
            g["pin"] = [cpulist(p[:self.ncpus]) for p in pins]
            g["cur"] = [v[3] for v in info]
            for k in MEM_KIB:
                g[k] = st.get(f"balloon.{k}", 0) // 1024
            for k in MEM_COUNT:
                g[k] = st.get(f"balloon.{k}", 0)
            g["disk_read"] = sum(st.get(f"block.{i}.rd.bytes", 0)
                                 for i in range(st.get("block.count", 0)))
            snap["guests"][name] = g
        for c in self.consoles.values():
            c.poll()
        return snap

    def columns(self):
        cols = ["period", "t", "host_avail_mib", "host_free_libvirt_mib"]
        cols += [f"pcpu{j}" for j in range(self.ncpus)] + ["pcpu_sd"]
        cols += [f"host_cpu{j}" for j in range(self.ncpus)] + ["pin_changes", "repins"]
        for n in self.names:
            p = n.replace("-", "_")
            for i in range(self.nvcpus.get(n, 1)):
                cols += [f"{p}_vcpu{i}", f"{p}_pin{i}", f"{p}_cur{i}", f"{p}_delay{i}"]
            cols += [f"{p}_emu", f"{p}_emu_pct"]
            cols += [f"{p}_{k}" for k in ("actual", "unused", "available", "usable",
                                          "disk_caches", "rss", "major_fault", "swap_in",
                                          "oom", "puff", "up", "read_mibs", "disk_read_mibs")]
        return cols

    def sample(self):
        """Take a snapshot and derive this period's row against the previous one."""
        prev, now = self.prev, self.raw()
        self.prev = now
        self.period += 1
        dt = max(now["t"] - prev["t"], 1e-6)
        row = {"period": self.period, "t": round(now["t"], 2),
               "host_avail_mib": now["host_avail"],
               "host_free_libvirt_mib": now["host_free_libvirt"]}
        pcpu = [0.0] * self.ncpus
        changes = repins = 0
        for n in self.names:
            p = n.replace("-", "_")
            g, pg = now["guests"].get(n), prev["guests"].get(n)
            row[f"{p}_up"] = int(g is not None)
            if g is None:
                continue
            for i, tm in enumerate(g["time"]):
                old = pg["time"][i] if pg and i < len(pg["time"]) else tm
                use = max(tm - old, 0) / 1e9 / dt * 100
                pin = g["pin"][i] if i < len(g["pin"]) else ""
                cur = g["cur"][i] if i < len(g["cur"]) else 0
                if pg and i < len(pg["pin"]) and pg["pin"][i] != pin:
                    changes += 1
                    # a move between pCPUs, not the first pin of a floating vCPU
                    repins += pg["pin"][i].isdigit()
                cpus = pin.split(",") if pin else []
                target = int(pin) if pin.isdigit() else cur
                if 0 <= target < self.ncpus and cpus:
                    pcpu[target] += use
                row.update({f"{p}_vcpu{i}": round(use, 1), f"{p}_pin{i}": pin,
                            f"{p}_cur{i}": cur})
                d, od = g["delay"][i], (pg["delay"][i] if pg and i < len(pg["delay"]) else None)
                if d is not None and od is not None:
                    row[f"{p}_delay{i}"] = round(max(d - od, 0) / 1e9 / dt * 100, 1)
            row[f"{p}_emu"] = g["emu"]
            if pg:
                row[f"{p}_emu_pct"] = round(max(g["emu_s"] - pg["emu_s"], 0) / dt * 100, 1)
            row.update({f"{p}_actual": g["current"], f"{p}_unused": g["unused"],
                        f"{p}_available": g["available"], f"{p}_usable": g["usable"],
                        f"{p}_disk_caches": g["disk_caches"], f"{p}_rss": g["rss"],
                        f"{p}_major_fault": g["major_fault"], f"{p}_swap_in": g["swap_in"]})
            c = self.consoles.get(n)
            row.update({f"{p}_oom": c.ooms if c else 0, f"{p}_puff": c.puff if c else 0})
            thr = c.take_throughput() if c else None
            if thr is not None:
                row[f"{p}_read_mibs"] = thr
            if pg:
                row[f"{p}_disk_read_mibs"] = round(max(g["disk_read"] - pg["disk_read"], 0)
                                                   / 2**20 / dt, 1)
        for j in range(self.ncpus):
            row[f"pcpu{j}"] = round(pcpu[j], 1)
            (b1, t1), (b0, t0) = now["host_cpu"][j], prev["host_cpu"][j]
            row[f"host_cpu{j}"] = round(100 * (b1 - b0) / max(t1 - t0, 1), 1)
        row["pcpu_sd"] = round(statistics.pstdev(pcpu), 2)
        row["pin_changes"] = changes
        row["repins"] = repins
        return row

    def line(self, row, kind="all"):
        """One human line per period: kind 'cpu' (usage@pin per guest), 'mem'
        (actual/unused MiB per guest) or 'all'."""
        out = [f"p{row['period']:3d} {row['t']:6.1f}s"]
        if kind != "mem":
            pc = " ".join(f"{row[f'pcpu{j}']:5.1f}" for j in range(self.ncpus))
            out.append(f"pCPU% {pc} sd {row['pcpu_sd']:5.1f} chg {row['pin_changes']}")
        if kind != "cpu":
            out.append(f"host {row['host_avail_mib']} MiB")
        out.append("|")
        for n in self.names:
            p = n.replace("-", "_")
            short = n[len(lab.PREFIX):] if n.startswith(lab.PREFIX) else n
            if not row.get(f"{p}_up"):
                out.append(f"{short}:down")
                continue
            v = []
            if kind != "mem":
                v.append("/".join(f"{row.get(f'{p}_vcpu{i}', 0):.0f}%@{row.get(f'{p}_pin{i}', '')}"
                                  + (f"~{row[f'{p}_delay{i}']:.0f}"
                                     if row.get(f"{p}_delay{i}") is not None else "")
                                  for i in range(self.nvcpus.get(n, 1))))
            if kind != "cpu":
                v.append(f"{row[f'{p}_actual']}/{row[f'{p}_unused']}/{row[f'{p}_usable']}")
                if row[f"{p}_oom"]:
                    v.append(f"OOM{row[f'{p}_oom']}")
            out.append(f"{short}:{' '.join(v)}")
        return " ".join(out)


class CsvLog:
    """Writes rows to a CSV file, flushed after every row."""

    def __init__(self, path, columns):
        # pylint: disable-next=consider-using-with
        self.f = open(path, "w", newline="", encoding="ascii")
        self.w = csv.DictWriter(self.f, fieldnames=columns, restval="")
        self.w.writeheader()

    def write(self, row):
        self.w.writerow(row)
        self.f.flush()

    def close(self):
        self.f.close()


def sleep_until(deadline):
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def main():
    ap = argparse.ArgumentParser(description="Sample lab guests every PERIOD seconds.")
    ap.add_argument("--period", type=float, default=2.0)
    ap.add_argument("--count", type=int, default=0, help="periods to sample (0: until Ctrl-C)")
    ap.add_argument("--csv", help="write every sample to this CSV file")
    ap.add_argument("--console-dir", help="directory of the guests' NAME.console.log")
    ap.add_argument("--prefix", default=lab.PREFIX)
    ap.add_argument("--uri", default=lab.URI)
    a = ap.parse_args()
    conn = libvirt.open(a.uri)
    names = sorted((d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
                    if d.name().startswith(a.prefix)), key=lambda s: (len(s), s))
    if not names:
        sys.exit(f"monitor: no active domain named '{a.prefix}*'.")
    mon = Monitor(conn, names, a.console_dir)
    log = CsvLog(a.csv, mon.columns()) if a.csv else None
    deadline = time.monotonic()
    try:
        while a.count <= 0 or mon.period < a.count:
            deadline += a.period
            sleep_until(deadline)
            row = mon.sample()
            print(mon.line(row), flush=True)
            if log:
                log.write(row)
    except KeyboardInterrupt:
        pass
    finally:
        if log:
            log.close()


if __name__ == "__main__":
    main()
