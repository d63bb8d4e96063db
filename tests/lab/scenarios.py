"""Lab scenarios: which guests run what, and the verdict on a run's samples.

Verdicts are pure functions of the samples (rows of samples.csv) and the run's
config, so a run can be judged again offline (run_scenario.py --evaluate DIR).
A new scenario is one Scenario(...) entry in SCENARIOS: the runner and the
verdicts read its fields, never its name.
"""
import itertools
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from lab import MAX_MIB, START_MIB, Guest, guest_name
from tools import FLOOR, MIN_UNUSED, default_reserve_mib

SD_OK = 5.0        # per-pCPU usage std dev (points) counted as balanced
EVENT_GRACE = 6   # periods the tool may take to react to a guest started or destroyed
FAIR_MIN = 0.7     # floating vCPUs: least usage ratio within a demand class counted as fair
SETTLE_BY = 25     # CPU: periods allowed to reach balance
FEED_BY = 50       # memory: periods allowed to reach a target
RESERVE_SLACK = 128  # MiB the host may dip below its reserve (other host activity)
NEAR = 100         # MiB: "reached" a memory target
SHORT = 512        # MiB: memory counts as "available" above reserve + this
MEM_DELAY = 10     # s: memory workloads start this long after boot
BASELINE = 2       # memory: the first periods only observe (left out of starving counts)
LOOKAHEAD = 2      # periods of its seen growth a guest's headroom should cover (MEM_LOOKAHEAD)
GROW_SLACK = 8     # MiB: a balloon "grown" by less is rounding (the tool's smallest change)
SQUEEZE_BACK = 3   # periods: faults seen -> balloon back (2 to decide, 1 for the balloon)
SQUEEZE_WINDOW = 5  # periods before the faults whose shrinks count (the tool's 10 s at 2 s)
KEEP_THROUGHPUT = 0.9  # a hot-cache reader keeps this much of its throughput without the tool
WEIGHT_RATIO_MIN = 1.5  # weights 2:1: least service ratio (TCG splits a pCPU 1.8-2.2 to 1)


@dataclass
class Scenario:
    """A scenario: its guests, and as fields (never its name) what its verdict
    demands beyond the checks every run of its kind gets."""
    name: str
    kind: str                   # "cpu" or "mem": which tool runs, which verdict
    about: str
    periods: int
    guests: Callable[[int], list]            # function(ncpus) -> [Guest]
    expect_without_tool: str | None = None   # "pass"/"fail" when deterministic
    caps: dict = field(default_factory=dict)  # guest -> workload MiB it grows to
    # CPU. Every run: balanced within SETTLE_BY periods, and no pin change after;
    # with expect_no_changes (already balanced): no pin change at all instead.
    expect_no_changes: bool = False
    # Every CPU run: fair (below) from period fair_by on (counted from the last guest
    # started or destroyed), and no more pin changes than the bound (cpu_bound) plus one
    # per guest started or destroyed.
    fair_by: int = SETTLE_BY
    # The tool's extra options; "{last}" is the highest pCPU number.
    tool_args: tuple = ()
    # The CPU list given to --emulator-cpus: every guest's emulator threads (its QEMU
    # threads other than vCPUs, read from /proc) must stay there from period fair_by on.
    emulator_cpus: str | None = None
    # Memory. Every run: no OOM kill while memory was available, no guest below
    # FLOOR or above MAX_MIB, host free memory not below the reserve (if any).
    # host_reserve_below_now: the tool's --host-reserve is MemAvailable after boot
    # minus this many MiB (None: no reserve).
    host_reserve_below_now: int | None = None
    # feed: guests that must reach their need - NEAR within FEED_BY periods and
    # stay there (figure periods_to_feed: when the last of them got there).
    feed: tuple = ()
    # feed_if_affordable: guests whose peak must reach their need - NEAR unless
    # host free memory came near the reserve.
    feed_if_affordable: tuple = ()
    # shrink: idle guests that must be shrunk from START_MIB toward their idle target.
    shrink: tuple = ()
    # redirect (from, to): from is fed while it grows, then shrunk from its peak
    # toward its idle target; to is not starving at the end (figure moved_mib).
    redirect: tuple | None = None
    # Balloon features every guest gets (<memballoon autodeflate=... freePageReporting=...>);
    # LAB_AUTODEFLATE=off turns autodeflate off for a measurement.
    autodeflate: bool = True
    free_page_reporting: bool = True
    # no_growth: guests never grown beyond their start size (a page-cache reader).
    no_growth: tuple = ()
    # never_starve: guests with no starving sample (headroom below MIN_UNUSED) but at the
    # onset of a growth (unforeseen(): no tool could have seen it coming).
    never_starve: tuple = ()
    # no_oom: no OOM kill at all, memory available or not.
    no_oom: bool = False
    # onset: (guest, seconds after boot its surge starts): figure lowest_headroom_mib after it.
    onset: tuple | None = None
    # starving_tolerated: samples starving while memory was available the verdict accepts
    # (a sudden onset faster than one period can answer: the limit it measures).
    starving_tolerated: int = 0
    # squeeze_back: guests that must fault once shrunk below their working set, and be given
    # back their size before those shrinks within SQUEEZE_BACK periods (figure squeezes).
    squeeze_back: tuple = ()
    # The period (s) the tool runs with, unless --period or LAB_PERIOD says (None: 2 s).
    period: float | None = None
    # steady_from: the guests of `shrink` change their balloon no more from this period on
    # (figure last_change_period).
    steady_from: int | None = None
    # compare_without_tool: run the scenario without the tool first, and report what the tool
    # costs beside it (figures without_tool, work_kept); keep_throughput: guests whose read
    # throughput with the tool must be at least KEEP_THROUGHPUT of theirs without it.
    compare_without_tool: bool = False
    keep_throughput: tuple = ()
    # capped: guests with a memory limit (Guest.hard_limit_mib): they must stay up (their memory
    # cgroup never kills them) and QEMU's resident memory stay under the limit (figure
    # peak_rss_mib).
    capped: tuple = ()


def cpu_guests(ncpus, pins, duties):
    n = 2 * ncpus
    return [Guest(guest_name(i + 1), f"cpu --duty {duties(i)}", pin=pins(i)) for i in range(n)]


def three_one(ncpus):
    """Two busy guests per pCPU, but three on pCPU 0 and one on the next."""
    return cpu_guests(ncpus, lambda i: "0" if i < 3 else str((i - 2) % ncpus), lambda i: 100)


def churn_guests(ncpus):
    """A busy 2-vCPU guest and a busy guest on pCPU 0, a busy guest on the last pCPU
    destroyed after period 12, a busy unpinned guest started after period 20."""
    last = str(ncpus - 1)
    return [Guest(guest_name(1), "cpu --duty 100 --threads 2", pin="0", vcpus=2),
            Guest(guest_name(2), "cpu --duty 100", pin="0"),
            Guest(guest_name(3), "cpu --duty 100", pin=last, stop_period=12),
            Guest(guest_name(4), "cpu --duty 100", start_period=20)]


def alone_guests(ncpus):
    """A busy guest alone on pCPU 0, a 50 % busy guest alone on the last pCPU, two idle
    guests unpinned: a busy vCPU's delay on a pCPU it has to itself, a duty cycle's."""
    last = str(ncpus - 1)
    return [Guest(guest_name(1), "cpu --duty 100", pin="0"),
            Guest(guest_name(2), "cpu --duty 50", pin=last),
            Guest(guest_name(3), "idle"), Guest(guest_name(4), "idle")]


def cpuset_guests(ncpus):
    """Guest 1 may only run on the last pCPU (<vcpu cpuset>); two more busy guests are
    pinned there, one on pCPU 0: the tool must move one of the two, never guest 1."""
    last = str(ncpus - 1)
    return [Guest(guest_name(1), "cpu --duty 100", cpuset=last),
            Guest(guest_name(2), "cpu --duty 100", pin=last),
            Guest(guest_name(3), "cpu --duty 100", pin=last),
            Guest(guest_name(4), "cpu --duty 100", pin="0")]


def dedicated_guests(ncpus):
    """The persistent definitions of guests 1 and 2 pin their vCPUs to the last pCPU (as
    dedicated-CPU policies write it); every other busy guest is live-pinned there too: they
    must make room, guests 1 and 2 must never move. (A tool blind to definitions moves two of
    the four on two pCPUs, a dedicated one in 5 runs of 6.)"""
    last = str(ncpus - 1)
    return [Guest(guest_name(i + 1), "cpu --duty 100", defined_pin=last) for i in range(2)] + \
        [Guest(guest_name(i + 3), "cpu --duty 100", pin=last) for i in range(2 * ncpus - 2)]


def weight_guests(ncpus):
    """As many busy guests of CPU shares 2048 as pCPUs, two per pCPU on the first half, and as
    many of 1024 on the second half: balanced and fair by count, but every pCPU of heavy
    guests serves them no better than the light ones get. Paired, heavy with light, each heavy
    guest gets twice a light one's time."""
    return [Guest(guest_name(i + 1), "cpu --duty 100", pin=str(i // 2), shares=2048)
            for i in range(ncpus)] + \
        [Guest(guest_name(ncpus + i + 1), "cpu --duty 100", pin=str((ncpus + i) // 2),
               shares=1024) for i in range(ncpus)]


def emulator_guests(ncpus):
    """cpu-balanced, guest 1 also printing 2000 console lines a second."""
    gs = cpu_guests(ncpus, lambda i: str(i // 2), lambda i: 100)
    gs[0].load += " --chatter 2000"
    return gs


def capped_guests(n):
    """Guest 1 grows to 1700 MiB under a memory limit of 1100 MiB (<memtune> hard limit, set
    live), its balloon without autodeflate (which would deflate it past the limit by itself);
    three idle guests."""
    gs = mem_guests({1: "mem --rate 25 --cap 1700"})
    gs[0].hard_limit_mib = 1100
    gs[0].autodeflate = False
    return gs


def mem_guests(loads, disks=None, delay=MEM_DELAY):
    """Four guests; workloads start DELAY s after boot (MEM_DELAY: the first periods
    show every guest idle, the baseline of what a guest uses); DISKS: guest number ->
    MiB of its sparse virtio disk."""
    disks = disks or {}
    return [Guest(guest_name(i + 1), loads.get(i + 1, "idle"), delay=delay,
                  disk_mib=disks.get(i + 1, 0)) for i in range(4)]


G1, G2, G3, G4 = (guest_name(k) for k in range(1, 5))
ONSET_S = 100      # s after boot the fast-onset guest surges (booting 4 guests takes <= 50 s)
ONSET_RATE = float(os.environ.get("LAB_ONSET_RATE", "80"))  # MiB/s; other rates: measurements
SCENARIOS = {s.name: s for s in [
    Scenario("cpu-balanced", "cpu", "2 busy guests pinned per pCPU: nothing to do", 40,
             lambda n: cpu_guests(n, lambda i: str(i // 2), lambda i: 100), "pass",
             expect_no_changes=True),
    Scenario("cpu-all-on-one", "cpu", "all busy guests pinned to pCPU 0", 40,
             lambda n: cpu_guests(n, lambda i: "0", lambda i: 100), "fail"),
    Scenario("cpu-mixed", "cpu", "unpinned guests, alternately 100 % and 50 % busy", 40,
             lambda n: cpu_guests(n, lambda i: None, lambda i: 100 if i % 2 == 0 else 50),
             expect_no_changes=True),
    Scenario("cpu-three-one", "cpu", "busy guests 3 on pCPU 0, 1 on pCPU 1: fair at once", 30,
             three_one, "fail", fair_by=3),
    Scenario("cpu-churn", "cpu", "a 2-vCPU guest; guest 3 destroyed, guest 4 started", 50,
             churn_guests),
    Scenario("cpu-alone", "cpu", "a busy and a 50 % guest each alone on a pCPU, two idle", 30,
             alone_guests, "pass", expect_no_changes=True),
    Scenario("cpu-cpuset", "cpu", "guest 1 restricted to the last pCPU, 3 busy there", 30,
             cpuset_guests, "fail"),
    Scenario("cpu-emulator", "cpu", "--emulator-cpus 0; guest 1 prints to its console", 30,
             emulator_guests, "fail", tool_args=("--emulator-cpus", "0", "--cpus", "0-{last}"),
             emulator_cpus="0", fair_by=3),
    Scenario("cpu-dedicated", "cpu",
             "guests 1 and 2's definitions pin them to the last pCPU, the other busy guests"
             " are pinned there live", 30, dedicated_guests, "fail"),
    Scenario("cpu-weights", "cpu",
             "busy guests of CPU shares 2048 share pCPUs, those of 1024 others: pair them", 30,
             weight_guests, "fail"),
    Scenario("mem-one-grows", "mem", "guest 1 grows to 1700 MiB, the others idle", 60,
             lambda n: mem_guests({1: "mem --rate 25 --cap 1700"}), "fail",
             {G1: 1700}, feed=(G1,), shrink=(G2, G3, G4)),
    Scenario("mem-all-grow", "mem", "all four grow to 1700 MiB; host reserve binds", 60,
             lambda n: mem_guests({i: "mem --rate 25 --cap 1700" for i in range(1, 5)}), "fail",
             {g: 1700 for g in (G1, G2, G3, G4)},
             host_reserve_below_now=3072, feed_if_affordable=(G1, G2, G3, G4),
             # A balloon that deflates on OOM takes its guest's memory past the host reserve:
             # this scenario is about the reserve binding, so its balloons do not.
             autodeflate=False),
    Scenario("mem-redirect", "mem", "guest 1 grows to 1200 MiB and frees it, guest 2 grows",
             60, lambda n: mem_guests({1: "mem --rate 25 --cap 1200 --hold 10",
                                       2: "mem --rate 8 --cap 1700"}), "fail",
             {G1: 1200, G2: 1700}, redirect=(G1, G2)),
    Scenario("mem-page-cache", "mem",
             "guest 1 reads its 2 GiB disk in a loop (page cache), guest 2 grows to 1200 MiB",
             60, lambda n: mem_guests({1: "cache --rate 40", 2: "mem --rate 25 --cap 1200"},
                                      disks={1: 2048}),
             None, {G2: 1200}, feed=(G2,), shrink=(G1, G3, G4), no_growth=(G1,),
             never_starve=(G2,)),
    Scenario("mem-squeeze", "mem",
             "guest 1 touches 300 MiB of mapped disk data in a loop: its cache looks like"
             " headroom until a shrink squeezes it", 60,
             lambda n: mem_guests({1: "cache --rate 40 --span 300 --mmap"}, disks={1: 1024}),
             None, shrink=(G2, G3, G4), squeeze_back=(G1,)),
    Scenario("mem-idle-p1", "mem", "four idle guests, PERIOD 1: shrunk once, then left alone",
             60, lambda n: mem_guests({}), "fail", shrink=(G1, G2, G3, G4), period=1,
             steady_from=30),
    Scenario("mem-capped", "mem",
             "guest 1 grows to 1700 MiB under a memory limit of 1100 MiB (<memtune>), the"
             " others idle", 60, capped_guests, None, capped=(G1,), shrink=(G2, G3, G4)),
    Scenario("mem-hot-cache", "mem",
             "guest 1 re-reads its 320 MiB disk as fast as it can (its cache holds it at 512 MiB),"
             " the others idle: compared with a run without the tool", 60,
             lambda n: mem_guests({1: "cache --rate max"}, disks={1: 320}), None,
             shrink=(G2, G3, G4), compare_without_tool=True, keep_throughput=(G1,)),
    Scenario("mem-fast-onset", "mem",
             f"guest 1 idles (shrunk), then grows at {ONSET_RATE:g} MiB/s to 1200 MiB;"
             " autodeflate on", 75,
             lambda n: mem_guests({1: f"mem --rate {ONSET_RATE:g} --cap 1200"}, delay=ONSET_S),
             None, {G1: 1200}, no_oom=True, onset=(G1, ONSET_S),
             starving_tolerated=3),
]}


def col(name, what):
    return f"{name.replace('-', '_')}_{what}"


def settle_period(rows, balanced):
    """First period k balanced (BALANCED: per row) there and in at least 90 % of the
    periods from k to the end (a blip from other host activity is tolerated), else None."""
    for i, r in enumerate(rows):
        if balanced[i] and sum(balanced[i:]) >= 0.9 * len(balanced[i:]):
            return r["period"]
    return None


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else 0.0


def cpus_of(text, ncpus):
    """A CPU list ('0-1,3') as a set; '' or None: every pCPU."""
    if text is None or text == "":
        return set(range(ncpus))
    out = set()
    for part in str(text).split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def busy_vcpus(cfg, at_boot=False):
    """[(guest, vCPU index, demand class = duty)] of the guests with a CPU duty."""
    return [(n, i, cfg["duty"].get(n, 0)) for n in cfg["guests"] if cfg["duty"].get(n)
            for i in range(cfg.get("vcpus", {}).get(n, 1))
            if not (at_boot and cfg.get("events", {}).get(n, [0])[0])]


def class_fair(counts):
    """counts: demand class -> [vCPUs per pCPU]: True if, in every class, the counts
    differ by at most one."""
    return all(max(c) - min(c) <= 1 for c in counts.values())


def weight_fair(weights, lightest):
    """weights: per pCPU, the CPU shares of the busy vCPUs pinned there: True if they differ by
    at most the LIGHTEST busy vCPU's (CFS then serves every busy vCPU in proportion to its
    weight, as far as whole vCPUs allow; with equal weights, class_fair's rule)."""
    return max(weights) - min(weights) <= lightest


def shares_of(cfg, name):
    """Guest NAME's CPU shares: declared, or the host's default (1024 with cgroup v1)."""
    return cfg.get("shares", {}).get(name) or 1024


def weighted_demand(cfg):
    """Per busy vCPU (guest, index): what balancing counts for it, in points of a pCPU: its
    duty, or where the scenario declares shares its fair share of the host (the pCPUs' time
    shared in proportion to shares, none getting more than its duty: weighted water-filling,
    computed here independently of the tool's share.c)."""
    vs = busy_vcpus(cfg)
    if not cfg.get("shares"):
        return {(n, i): d for n, i, d in vs}
    left, todo, out = 100.0 * cfg["ncpus"], sorted(vs, key=lambda v: v[2] / shares_of(cfg, v[0])), {}
    wleft = sum(shares_of(cfg, n) for n, _, _ in vs)
    for k, (n, i, d) in enumerate(todo):
        w = shares_of(cfg, n)
        if d / w > left / wleft:
            level = left / wleft
            out.update({(m, j): min(e, level * shares_of(cfg, m)) for m, j, e in todo[k:]})
            return out
        out[(n, i)] = d
        left, wleft = left - d, wleft - w
    return out


def fair_placement(cfg, counts, weights):
    """The fairness of one placement: weighted where the scenario declares shares."""
    if cfg.get("shares"):
        vs = busy_vcpus(cfg)
        return weight_fair(weights, min(shares_of(cfg, n) for n, _, _ in vs))
    return class_fair(counts)


def cpu_bound(cfg, limit=200000):
    """The fewest pin changes from the boot pins to a placement that is fair (class_fair)
    and, among fair ones, has the smallest spread of demand per pCPU; computed by
    exhaustion, independently of the tool. 0 when every busy vCPU floats (the kernel
    balances them; the tool must not pin them); None when only some float or the search
    is too large."""
    ncpus = cfg["ncpus"]
    vs = busy_vcpus(cfg, at_boot=True)
    defined = cfg.get("defined_pins", {})
    pins = [cfg["pins"].get(n) or defined.get(n) or cfg.get("cpusets", {}).get(n)
            for n, _, _ in vs]
    if all(p is None for p in pins):
        return 0
    if any(p is None or not str(p).isdigit() for p in pins):
        return None
    allowed = [sorted(cpus_of(defined.get(n) or cfg.get("cpusets", {}).get(n), ncpus))
               for n, _, _ in vs]
    size = 1
    for a in allowed:
        size *= len(a)
    if size > limit:
        return None
    classes = sorted({d for _, _, d in vs})
    share = weighted_demand(cfg)
    best = None   # (spread, moves)
    for place in itertools.product(*allowed):
        counts = {d: [0] * ncpus for d in classes}
        load, weights = [0] * ncpus, [0] * ncpus
        for (n, i, d), j in zip(vs, place):
            counts[d][j] += 1
            load[j] += share.get((n, i), d)
            weights[j] += shares_of(cfg, n)
        if not fair_placement(cfg, counts, weights):
            continue
        cand = (max(load) - min(load), sum(int(p) != j for p, j in zip(pins, place)))
        best = cand if best is None else min(best, cand)
    return None if best is None else best[1]


def pinned_rows(rows, cfg):
    """Per row, where every busy vCPU up is pinned to one pCPU: (busy vCPUs per pCPU of each
    demand class, demand per pCPU (weighted_demand), busy CPU shares per pCPU); None where some
    float (the kernel places them)."""
    ncpus, vs = cfg["ncpus"], busy_vcpus(cfg)
    share = weighted_demand(cfg)
    out = []
    for r in rows:
        counts, load, weights = {}, [0] * ncpus, [0] * ncpus
        for n, i, d in vs:
            if not r.get(col(n, "up")):
                continue
            pin = str(r.get(col(n, f"pin{i}"), ""))
            if not pin.isdigit() or int(pin) >= ncpus:
                counts = None
                break
            counts.setdefault(d, [0] * ncpus)[int(pin)] += 1
            load[int(pin)] += share.get((n, i), d)
            weights[int(pin)] += shares_of(cfg, n)
        out.append(None if counts is None else (counts, load, weights))
    return out


def balanced_rows(rows, cfg):
    """Per row: balanced? Where every busy vCPU is pinned, by its placement (std dev of the
    demand per pCPU): measured usage there moves with unrelated host load, which the tool
    cannot change. Where some float, by the host's own per-CPU busy time (/proc/stat): the
    monitor can only put a floating vCPU's period on the pCPU it ran on at the sample."""
    def host_sd(r):
        return statistics.pstdev(r[f"host_cpu{j}"] for j in range(cfg["ncpus"]))
    return [host_sd(r) <= SD_OK if p is None else statistics.pstdev(p[1]) <= SD_OK
            for r, p in zip(rows, pinned_rows(rows, cfg))]


def usage_fairness(tail, cfg):
    """Least ratio of mean usage within a demand class over TAIL (floating vCPUs)."""
    groups = {}
    for n, i, d in busy_vcpus(cfg):
        u = [r[col(n, f"vcpu{i}")] for r in tail if r.get(col(n, "up"))
             and col(n, f"vcpu{i}") in r and r[col(n, f"vcpu{i}")] != ""]
        if u:
            groups.setdefault(d, []).append(mean(u))
    return min((min(u) / max(u) if max(u) > 0 else 1.0) for u in groups.values()) \
        if groups else 1.0


def delay_figures(rows, cfg):
    """Per-vCPU delay % (waiting for a pCPU), min, max and mean over busy vCPUs, in period 1
    (the tool's first decision comes at its end: the placement at boot) and the last 10."""
    def over(part):
        per = []
        for n, i, _ in busy_vcpus(cfg):
            d = [r[col(n, f"delay{i}")] for r in part
                 if isinstance(r.get(col(n, f"delay{i}")), (int, float))]
            if d:
                per.append(mean(d))
        return ({"min": round(min(per), 1), "max": round(max(per), 1),
                 "mean": round(mean(per), 1)} if per else None)
    return {"period1": over(rows[:1]), "last10": over(rows[-10:])}


def last_event(cfg):
    """The last period after which a guest was started or destroyed (0: none)."""
    ev = [p for se in cfg.get("events", {}).values() for p in se if p]
    return max(ev, default=0)


def judge_emulator(sc, rows, cfg, reasons, figures):
    want = cpus_of(sc.emulator_cpus, cfg["ncpus"])
    bad = [(r["period"], n) for r in rows if r["period"] >= sc.fair_by for n in cfg["guests"]
           if r.get(col(n, "up")) and r.get(col(n, "emu")) != ""
           and not cpus_of(r.get(col(n, "emu")), cfg["ncpus"]) <= want]
    figures["emulator_outside"] = len(bad)
    figures["emulator_pct"] = {n: round(mean(r[col(n, "emu_pct")] for r in rows
                                             if isinstance(r.get(col(n, "emu_pct")), float)
                                             or isinstance(r.get(col(n, "emu_pct")), int)), 1)
                               for n in cfg["guests"]}
    if bad:
        p, n = bad[0]
        reasons.append(f"{len(bad)} sample(s) with emulator threads outside pCPU(s)"
                       f" {sc.emulator_cpus} (first: {n} at period {p})")


def judge_cpuset(rows, cfg, reasons, figures):
    broken = []
    for n, cs in cfg.get("cpusets", {}).items():
        allowed = cpus_of(cs, cfg["ncpus"])
        nv = cfg.get("vcpus", {}).get(n, 1)
        broken += [(r["period"], n) for r in rows for i in range(nv)
                   if r.get(col(n, "up")) and r.get(col(n, f"pin{i}")) not in (None, "")
                   and not cpus_of(r[col(n, f"pin{i}")], cfg["ncpus"]) <= allowed]
    figures["cpuset_broken"] = len(broken)
    if broken:
        p, n = broken[0]
        reasons.append(f"{n}'s <vcpu cpuset> broken in {len(broken)} sample(s)"
                       f" (first at period {p})")


def judge_fair(sc, rows, cfg, reasons, figures, t0):
    """Fair from period t0 + fair_by on: structurally (busy vCPUs per pCPU) where every
    busy vCPU is pinned, else by usage within each demand class over the last 10."""
    fr = [None if p is None else fair_placement(cfg, p[0], p[2]) for p in pinned_rows(rows, cfg)]
    since = None
    for r, f in zip(rows, fr):
        since = (since or r["period"]) if f else None
    final = fr[-1]
    if final is None:
        ratio = usage_fairness(rows[-10:], cfg)
        figures["fairness"] = round(ratio, 2)
        figures["fair_by"] = "usage"
        if ratio < FAIR_MIN:
            reasons.append(f"unfair: vCPUs of one demand class (some floating) got {ratio:.2f}"
                           f" of each other's service (< {FAIR_MIN})")
        return
    figures["fairness"] = "busy/pCPU"
    figures["fair_from"] = since
    if since is None:
        reasons.append("unfair at the end: busy CPU shares per pCPU differ by more than the"
                       " lightest guest's" if cfg.get("shares") else
                       "unfair at the end: busy vCPUs of one demand class differ by more"
                       " than one per pCPU")
    elif since > t0 + sc.fair_by:
        reasons.append(f"fair only from period {since} (> {t0 + sc.fair_by})")


def where_busy(r, cfg):
    """Per busy vCPU up in row r: (guest, vCPU index, the pCPU it is pinned to, else the one
    it ran on at the sample, or None)."""
    out = []
    for n, i, _ in busy_vcpus(cfg):
        if not r.get(col(n, "up")):
            continue
        pin, cur = str(r.get(col(n, f"pin{i}"), "")), str(r.get(col(n, f"cur{i}"), ""))
        p = int(pin) if pin.isdigit() else int(cur) if cur.isdigit() else None
        out.append((n, i, p if p is not None and p < cfg["ncpus"] else None))
    return out


def stacked_rows(rows, cfg, since):
    """[(period, guest)] from period SINCE on where two busy vCPUs of one guest are pinned to
    one pCPU while another pCPU holds fewer busy vCPUs (pinned there, or floating and running
    there at the sample): issue 17's "never stacked while another usable pCPU holds fewer"."""
    out = []
    for r in rows:
        if r["period"] < since:
            continue
        where = where_busy(r, cfg)
        count = [sum(1 for _, _, p in where if p == j) for j in range(cfg["ncpus"])]
        pinned = {}
        for n, i, _ in where:
            pin = str(r.get(col(n, f"pin{i}"), ""))
            if pin.isdigit():
                pinned.setdefault((n, int(pin)), []).append(i)
        for (n, p), vs in sorted(pinned.items()):
            if len(vs) >= 2 and p < len(count) and min(count) < count[p]:
                out.append((r["period"], n))
                break
    return out


def judge_stacked(sc, rows, cfg, t0, reasons, figures):
    since = t0 + EVENT_GRACE if t0 else sc.fair_by
    bad = stacked_rows(rows, cfg, since)
    figures["stacked_samples"] = len(bad)
    if bad:
        p, n = bad[0]
        reasons.append(f"{len(bad)} sample(s) with a guest's busy vCPUs pinned to one pCPU while"
                       f" another held fewer busy vCPUs (first: {n} at period {p})")


def judge_defined(rows, cfg, reasons, figures):
    """Closing note: the samples in which a vCPU its guest's definition pins ran elsewhere."""
    moved = []
    for n, where in cfg.get("defined_pins", {}).items():
        allowed = cpus_of(where, cfg["ncpus"])
        moved += [(r["period"], n, i) for r in rows for i in range(cfg.get("vcpus", {}).get(n, 1))
                  if r.get(col(n, "up")) and r.get(col(n, f"pin{i}")) not in (None, "")
                  and cpus_of(r[col(n, f"pin{i}")], cfg["ncpus"]) != allowed]
    figures["defined_pin_moved"] = len(moved)
    if moved:
        p, n, i = moved[0]
        reasons.append(f"{len(moved)} sample(s) with a vCPU pinned in its definition elsewhere"
                       f" (first: {n} vCPU {i} at period {p})")


def judge_weights(rows, cfg, reasons, figures):
    """Closing note: the service ratio of the heavier guests' busy vCPUs to the lighter ones'
    over the last 10 periods; the heavier must get WEIGHT_RATIO_MIN times as much, each of
    them at least as much as any lighter one."""
    tail = rows[-10:]
    per = {}
    for n, i, _ in busy_vcpus(cfg):
        u = [r[col(n, f"vcpu{i}")] for r in tail if r.get(col(n, "up"))
             and isinstance(r.get(col(n, f"vcpu{i}")), (int, float))]
        if u:
            per.setdefault(shares_of(cfg, n), []).append(mean(u))
    if len(per) < 2:
        return
    heavy, light = per[max(per)], per[min(per)]
    ratio = mean(heavy) / mean(light) if mean(light) > 0 else float("inf")
    figures["weight_service_ratio"] = round(ratio, 2)
    figures["weight_service_pct"] = {w: [round(x, 1) for x in u] for w, u in per.items()}
    if ratio < WEIGHT_RATIO_MIN:
        reasons.append(f"guests of {max(per)} shares got {ratio:.2f} times the service of those"
                       f" of {min(per)} (< {WEIGHT_RATIO_MIN})")
    if min(heavy) < max(light):
        reasons.append(f"a guest of {max(per)} shares got less ({min(heavy):.0f} %) than one of"
                       f" {min(per)} ({max(light):.0f} %)")


def judge_cpu(sc, rows, cfg):
    reasons = []
    t0 = last_event(cfg)
    tail = [r for r in rows if r["period"] > t0]
    settle = settle_period(tail, balanced_rows(tail, cfg))
    changes = sum(r["pin_changes"] for r in rows)
    # Once balanced, no vCPU may move between pCPUs. Pinning a floating vCPU is not a move:
    # the kernel may balance floating vCPUs before the first decision, which pins them all.
    # After a guest event the tool may take EVENT_GRACE periods to react (a new guest is
    # measured first) even where the kernel has balanced it meanwhile.
    quiet_from = max(settle or 0, t0 + EVENT_GRACE if t0 else 0)
    after = sum(r.get("repins", r["pin_changes"]) for r in rows
                if settle and r["period"] > quiet_from)
    bound = cpu_bound(cfg)
    events = sum((se[0] > 0) + (se[1] is not None) for se in cfg.get("events", {}).values())
    usage = {f"{n}/{i}": round(mean(r.get(col(n, f"vcpu{i}"), 0) or 0 for r in rows[-10:]), 1)
             for n in cfg["guests"] for i in range(cfg.get("vcpus", {}).get(n, 1))}
    figures = {
        "periods_to_balance": settle,
        "pin_changes_total": changes,
        "pin_changes_after_balance": after,
        "pin_change_bound": bound,
        "guest_events": events,
        "final_sd": round(mean(r["pcpu_sd"] for r in rows[-5:]), 2),
        "delay_pct": delay_figures(rows, cfg),
        "host_cpu_not_in_vcpus": round(mean(
            sum(r[f"host_cpu{j}"] - r[f"pcpu{j}"] for j in range(cfg["ncpus"])) for r in rows), 1),
        "vcpu_usage_last10": usage,
    }
    judge_fair(sc, rows, cfg, reasons, figures, t0)
    if any(cfg.get("vcpus", {}).get(n, 1) > 1 for n in cfg["guests"]):
        judge_stacked(sc, rows, cfg, t0, reasons, figures)
    if sc.expect_no_changes:
        if changes:
            reasons.append(f"{changes} pin change(s) where none was needed")
    else:
        if settle is None:
            reasons.append(f"not balanced at the end (usage std dev {rows[-1]['pcpu_sd']})")
        elif settle > t0 + SETTLE_BY:
            reasons.append(f"balanced only from period {settle} (> {t0 + SETTLE_BY})")
        if after:
            reasons.append(f"{after} pin change(s) after balance")
        if bound is not None and changes > bound + events:
            reasons.append(f"{changes} pin changes where {bound} suffice"
                           + (f" (+{events} for guests started or destroyed)" if events else ""))
    if cfg.get("cpusets"):
        judge_cpuset(rows, cfg, reasons, figures)
    if cfg.get("defined_pins"):
        judge_defined(rows, cfg, reasons, figures)
    if cfg.get("shares"):
        judge_weights(rows, cfg, reasons, figures)
    if sc.emulator_cpus:
        judge_emulator(sc, rows, cfg, reasons, figures)
    return reasons, figures


def headroom(r, n):
    """What guest n can use at once at sample r: the headroom of docs/METRICS.md (its
    MemAvailable, balloon.usable, with what its balloon grew by since the sample before
    where add_headroom() saw it)."""
    return r.get(col(n, "headroom"), r[col(n, "usable")])


def add_headroom(rows, names):
    """Sets each row's headroom: balloon.usable, plus what the balloon grew by since the
    sample before. The guest reports usable once per statistics period (1 s), while the
    balloon size is live: a report up to a period old does not hold memory given since
    (seen in the lab: a grower given 53 MiB showed usable 92 MiB at the new size, its
    report from before the deflate)."""
    for prev, r in zip([None] + rows, rows):
        for n in names:
            if not r.get(col(n, "up")) or not r.get(col(n, "actual")):
                continue
            grew = 0
            if prev is not None and prev.get(col(n, "up")) and prev.get(col(n, "actual")):
                grew = max(0, r[col(n, "actual")] - prev[col(n, "actual")])
            r[col(n, "headroom")] = min(r[col(n, "actual")], r[col(n, "usable")] + grew)


def overheads(rows, names):
    """Per guest, the hypervisor's own resident memory, bounded as the coordinator bounds
    it: the smallest rss - (actual - unused) seen (never below 0)."""
    out = {}
    for n in names:
        seen = [r[col(n, "rss")] - (r[col(n, "actual")] - r[col(n, "unused")])
                for r in rows if r.get(col(n, "up")) and r.get(col(n, "rss"))]
        out[n] = max(0, min(seen)) if seen else 0
    return out


def unforeseen(before, prev, n):
    """Whether guest N's starving in the sample after PREV began after PREV (docs/METRICS.md):
    PREV showed it at its idle headroom (1.5 x MIN_UNUSED, less the smallest change), or with
    room for MIN_UNUSED plus LOOKAHEAD periods of the growth seen from BEFORE to PREV. Either
    way its headroom then covered what any tool could have seen coming."""
    seen = max(0.0, headroom(before, n) - headroom(prev, n)) if before.get(col(n, "up")) else 0.0
    return (headroom(prev, n) >= 1.5 * MIN_UNUSED - GROW_SLACK or
            headroom(prev, n) >= MIN_UNUSED + LOOKAHEAD * seen)


def within_limit(r, n, mib, limits, over=None):
    """Whether guest N could have held MIB more at sample R under its memory limit (LIMITS: name
    -> MiB of its <memtune> hard limit): what its QEMU holds once the guest uses what its
    balloon already gives it (the larger of its resident memory and its balloon plus OVER, the
    hypervisor's own memory; a starving guest is using its headroom), plus MIB plus NEAR, below
    it (docs/METRICS.md)."""
    if n not in limits:
        return True
    held = max(r.get(col(n, "rss"), 0), r.get(col(n, "actual"), 0) + (over or {}).get(n, 0))
    return held + mib + NEAR <= limits[n]


def starving_while_available(rows, names, reserve, limits=None):
    """docs/METRICS.md, as tests/measure.c computes it: per sample (after the BASELINE
    periods), the guests with headroom below MIN_UNUSED; they count as starving while
    memory was available when host free >= reserve + all guests' unbacked memory + all
    starving guests' shortfalls, and the guest could have grown by its shortfall.
    Returns (starving samples, starving-while-available samples per guest, those of them
    excused per guest: at the onset of a growth (see unforeseen()), or with the memory only
    there since the sample before: docs/METRICS.md)."""
    over = overheads(rows, names)

    def unbacked(r, up):
        return sum(max(0, r[col(n, "actual")] - max(0, r[col(n, "rss")] - over[n]))
                   for n in up)

    def up_in(r):
        return [n for n in names if r.get(col(n, "up")) and r.get(col(n, "actual"))]

    starving, avail, excused = 0, {n: 0 for n in names}, {n: 0 for n in names}
    for before, prev, r in zip(rows[BASELINE - 2:], rows[BASELINE - 1:], rows[BASELINE:]):
        up = up_in(r)
        short = {n: MIN_UNUSED - headroom(r, n) for n in up if headroom(r, n) < MIN_UNUSED}
        starving += len(short)
        if r["host_avail_mib"] >= reserve + unbacked(r, up) + sum(short.values()):
            # arrived late: the sample before, the host did not have what they lack now
            late = prev["host_avail_mib"] < (reserve + unbacked(prev, up_in(prev))
                                             + sum(short.values()))
            for n, s in short.items():
                if r[col(n, "actual")] + s <= MAX_MIB and within_limit(r, n, s, limits or {},
                                                                      over):
                    avail[n] += 1
                    excused[n] += late or unforeseen(before, prev, n)
    return starving, avail, excused


def steady_load(load):
    """True for a workload that never needs more memory: idle, or reading files with read() at
    a fixed rate (page cache is not need: docs/METRICS.md). A reader of a hot cache (`--rate
    max`, its whole disk in its cache) needs it: its cache is its work."""
    words = (load or "idle").split()
    return words[0] == "idle" or (words[0] == "cache" and "--mmap" not in words
                                  and "max" not in words)


def idle_grown(rows, cfg):
    """docs/METRICS.md "Idle guests grown": per guest whose workload never needs more memory
    (steady_load), the samples after the first BASELINE in which its balloon is bigger than
    at the sample before by more than GROW_SLACK."""
    out = {}
    for n in cfg["guests"]:
        if not steady_load(cfg.get("loads", {}).get(n)):
            continue
        out[n] = sum(1 for prev, r in zip(rows[BASELINE - 1:], rows[BASELINE:])
                     if r.get(col(n, "up")) and prev.get(col(n, "up"))
                     and r[col(n, "actual")] > prev[col(n, "actual")] + GROW_SLACK)
    return out


def balloon_changes(rows, n):
    """The periods at which guest N's balloon changed by more than GROW_SLACK."""
    return [r["period"] for prev, r in zip(rows, rows[1:])
            if r.get(col(n, "up")) and prev.get(col(n, "up"))
            and abs(r[col(n, "actual")] - prev[col(n, "actual")]) > GROW_SLACK]


def memory_returned(rows, cfg):
    """What reclaim gave the host: MiB·s below the boot size summed over guests and samples
    (each sample standing for one period), and MiB below it at the end."""
    period = cfg.get("period", 2)
    below = [sum(max(0, START_MIB - r[col(n, "actual")]) for n in cfg["guests"]
                 if r.get(col(n, "up")) and r.get(col(n, "actual"))) for r in rows]
    return round(sum(below) * period), below[-1] if below else 0


def work_figures(rows, cfg):
    """The work each guest did: a hot-cache reader's mean read throughput (MiB/s, after the
    first BASELINE periods) and a grower's achieved rate (MiB/s its use grew from its start to
    95 % of its peak)."""
    thr, rate = {}, {}
    period = cfg.get("period", 2)
    for n in cfg["guests"]:
        t = [r[col(n, "read_mibs")] for r in rows[BASELINE:]
             if isinstance(r.get(col(n, "read_mibs")), (int, float))]
        if t:
            thr[n] = round(mean(t))
        used = [r[col(n, "actual")] - r[col(n, "usable")] for r in rows
                if r.get(col(n, "up")) and r.get(col(n, "actual"))]
        if not used or max(used) - used[0] < 200:
            continue
        start = next(i for i, u in enumerate(used) if u > used[0] + 20)
        end = next(i for i, u in enumerate(used) if u >= used[0] + 0.95 * (max(used) - used[0]))
        if end > start:
            rate[n] = round((used[end] - used[start]) / ((end - start) * period), 1)
    return thr, rate


def used_at_end(rows, n):
    """What guest N uses at the end (actual - headroom; the median of the last five samples
    it is up in): its working set, with the part of a full page cache its kernel does not
    count as available (up to its low watermark: about 48 MiB on the lab's reader)."""
    used = sorted(r[col(n, "actual")] - headroom(r, n) for r in rows[-5:]
                  if r.get(col(n, "up")) and r.get(col(n, "actual")))
    return used[len(used) // 2] if used else 0


def judge_mem(sc, rows, cfg):
    names = cfg["guests"]
    reserve = cfg.get("host_reserve_mib") or 0
    reserve_tool = reserve or default_reserve_mib(cfg.get("host_total_mib", 0))
    reasons = []
    add_headroom(rows, names)
    first = rows[0]
    used0 = {n: first[col(n, "actual")] - headroom(first, n) for n in names}
    target_idle = {n: max(FLOOR, used_at_end(rows, n) + 1.5 * MIN_UNUSED) for n in names}
    need = {n: min(MAX_MIB, sc.caps.get(n, 0) + used0[n] + MIN_UNUSED) for n in names}
    limits = cfg.get("hard_limits", {})
    starving, avail, excused = starving_while_available(rows, names, reserve_tool, limits)
    starving_avail = sum(avail.values())
    starving_foreseen = starving_avail - sum(excused.values())
    oom_total = sum(rows[-1].get(col(n, "oom"), 0) for n in names)
    # An OOM kill counts as "while memory was available" when the host had SHORT MiB above
    # the reserve at the sample before the kill and at the one before that: memory that
    # arrived in between (freed by OOM kills elsewhere) cannot reach a guest in time.
    oom_avail, over = 0, overheads(rows, names)
    for before, prev, r in zip(rows, rows[1:], rows[2:]):
        for n in names:
            if (r.get(col(n, "oom"), 0) > prev.get(col(n, "oom"), 0)
                    and min(before["host_avail_mib"], prev["host_avail_mib"]) > reserve + SHORT
                    and prev[col(n, "actual")] < MAX_MIB - NEAR
                    and within_limit(prev, n, NEAR, limits, over)):
                oom_avail += 1
    actual = {n: [r[col(n, "actual")] for r in rows if r.get(col(n, "actual"))] for n in names}
    final = {n: a[-1] for n, a in actual.items()}
    low_host = min(r["host_avail_mib"] for r in rows)
    figures = {
        "starving_periods": starving,
        "starving_while_available": starving_avail,
        "starving_while_available_by_guest": avail,
        "starving_unforeseen": sum(excused.values()),
        "oom_kills": oom_total,
        "oom_kills_while_available": oom_avail,
        "lowest_host_free_mib": low_host,
        "host_reserve_mib": reserve or None,
        "tool_reserve_mib": reserve_tool,
        "max_actual_mib": {n: max(a) for n, a in actual.items()},
        "min_actual_mib": {n: min(a) for n, a in actual.items()},
        "final_actual_mib": final,
        "final_unused_mib": {n: rows[-1].get(col(n, "unused")) for n in names},
        "final_headroom_mib": {n: headroom(rows[-1], n) for n in names},
        "max_disk_caches_mib": {n: max(r.get(col(n, "disk_caches"), 0) for r in rows)
                                for n in names},
        "major_faults": {n: rows[-1].get(col(n, "major_fault"), 0)
                         - rows[0].get(col(n, "major_fault"), 0) for n in names},
        "need_mib": {n: need[n] for n in sc.caps},
        "hard_limits": limits,
        "idle_target_mib": target_idle,
        "idle_grown_by_guest": idle_grown(rows, cfg),
        "balloon_changes": {n: len(balloon_changes(rows, n)) for n in names},
    }
    figures["idle_grown"] = sum(figures["idle_grown_by_guest"].values())
    figures["returned_mib_s"], figures["returned_end_mib"] = memory_returned(rows, cfg)
    figures["read_mibs"], figures["growth_mibs"] = work_figures(rows, cfg)
    if sc.keep_throughput and cfg.get("without_tool"):
        judge_throughput(sc, figures, cfg["without_tool"], reasons)
    if figures["idle_grown"]:
        reasons.append(f"{figures['idle_grown']} sample(s) with an idle guest grown ("
                       + ", ".join(f"{n}: {k}" for n, k in figures["idle_grown_by_guest"].items()
                                   if k) + ")")
    if oom_avail:
        reasons.append(f"{oom_avail} OOM kill(s) while memory was available")
    if starving_foreseen > sc.starving_tolerated:
        reasons.append(f"{starving_foreseen} sample(s) starving while memory was available,"
                       f" not at the onset of a growth nor as memory arrived"
                       f" ({', '.join(f'{n}: {avail[n] - excused[n]}' for n in names if avail[n] - excused[n])})")
    if sc.no_oom and oom_total:
        reasons.append(f"{oom_total} OOM kill(s)")
    for n in names:
        if min(actual[n]) < FLOOR - 2:
            reasons.append(f"{n} went below the floor ({min(actual[n])} < {FLOOR} MiB)")
        if max(actual[n]) > MAX_MIB:
            reasons.append(f"{n} went above its maximum ({max(actual[n])} MiB)")
    if reserve and low_host < reserve - RESERVE_SLACK:
        reasons.append(f"host free memory fell to {low_host} MiB, below the reserve"
                       f" {reserve} MiB")
    judge_mem_fields(sc, rows, figures, reasons, (actual, final, need, target_idle, low_host,
                                                   reserve))
    return reasons, figures


def judge_throughput(sc, figures, base, reasons):
    """The keep_throughput guests' read throughput against theirs without the tool (BASE: the
    figures of that run): figure work_kept, a failure under KEEP_THROUGHPUT."""
    kept = {}
    for n in sc.keep_throughput:
        with_tool = figures["read_mibs"].get(n)
        without = base.get("read_mibs", {}).get(n)
        if not with_tool or not without:
            reasons.append(f"{n}'s read throughput not measured (with the tool {with_tool},"
                           f" without {without})")
            continue
        kept[n] = round(with_tool / without, 3)
        if kept[n] < KEEP_THROUGHPUT:
            reasons.append(f"{n} read {with_tool} MiB/s with the tool, {without} without:"
                           f" {kept[n]:.2f} of it (< {KEEP_THROUGHPUT})")
    figures["work_kept"] = kept


def judge_mem_fields(sc, rows, figures, reasons, facts):
    """The checks a memory scenario's fields ask for."""
    actual, final, need, target_idle, low_host, reserve = facts

    def reached(n, level, by):
        """Period from which n's actual stays >= level, if by period `by`."""
        p = None
        for r in rows:
            ok = r.get(col(n, "actual"), 0) >= level
            p = (p or r["period"]) if ok else None
        return p if p is not None and p <= by else None

    def shrunk(n, start):
        limit = target_idle[n] + 0.25 * (start - target_idle[n])
        if final[n] > limit:
            reasons.append(f"{n} not shrunk toward {target_idle[n]:.0f} MiB"
                           f" (ends at {final[n]} > {limit:.0f} MiB)")

    if sc.feed:
        fed = [reached(n, need[n] - NEAR, FEED_BY) for n in sc.feed]
        figures["periods_to_feed"] = None if None in fed else max(fed)
        for n, p in zip(sc.feed, fed):
            if p is None:
                reasons.append(f"{n} not fed to {need[n] - NEAR} MiB within {FEED_BY} periods"
                               f" (ends at {final[n]} MiB)")
    if sc.feed_if_affordable:
        fed = all(max(actual[n]) >= need[n] - NEAR for n in sc.feed_if_affordable)
        if not fed and low_host > reserve + 2 * SHORT:
            reasons.append(f"guests not fed while the host could afford it (host free"
                           f" never below {low_host} MiB, reserve {reserve} MiB)")
    if sc.redirect:
        g1, g2 = sc.redirect
        peak = max(actual[g1])
        if peak < need[g1] - NEAR:
            reasons.append(f"{g1} not fed while growing (peak {peak} < {need[g1] - NEAR} MiB)")
        shrunk(g1, peak)
        if headroom(rows[-1], g2) < MIN_UNUSED / 2:
            reasons.append(f"{g2} starving at the end ({headroom(rows[-1], g2)} MiB usable)")
        figures["moved_mib"] = {g1: final[g1] - peak, g2: final[g2] - actual[g2][0]}
    for n in sc.shrink:
        shrunk(n, START_MIB)
    if sc.steady_from is not None:
        last = {n: max(balloon_changes(rows, n), default=0) for n in sc.shrink}
        figures["last_change_period"] = last
        late = {n: p for n, p in last.items() if p >= sc.steady_from}
        if late:
            reasons.append(f"balloons still changing from period {sc.steady_from} on ("
                           + ", ".join(f"{n} at {p}" for n, p in late.items()) + ")")
    for n in sc.no_growth:
        if max(actual[n]) > START_MIB + GROW_SLACK:
            reasons.append(f"{n} grown beyond its start size ({max(actual[n])} > {START_MIB} MiB)")
    for n in sc.never_starve:
        low = min(headroom(r, n) for r in rows[BASELINE:])
        figures.setdefault("lowest_headroom_mib", {})[n] = low
        starved = [r for before, prev, r in zip(rows[BASELINE - 2:], rows[BASELINE - 1:],
                                                 rows[BASELINE:])
                   if headroom(r, n) < MIN_UNUSED and not unforeseen(before, prev, n)]
        if starved:
            low = min(headroom(r, n) for r in starved)
            reasons.append(f"{n} starved (headroom {low} < {MIN_UNUSED} MiB, not at the onset"
                           f" of its growth)")
    for n in sc.squeeze_back:
        squeeze_back(rows, n, figures, reasons)
    for n in sc.capped:
        judge_capped(rows, n, figures, reasons)
    if sc.onset:
        n = sc.onset[0]  # idle (above MIN_UNUSED) until its surge: the lowest is at the onset
        low = min(headroom(r, n) for r in rows[BASELINE:] if r.get(col(n, "up")))
        figures.setdefault("lowest_headroom_mib", {})[n] = low


def judge_capped(rows, n, figures, reasons):
    """Guest N, under a memory limit, stays up to the end, and QEMU's resident memory stays under
    its limit (figure peak_rss_mib)."""
    limit = figures.get("hard_limits", {}).get(n)
    up = [r.get(col(n, "up")) for r in rows]
    peak = max((r.get(col(n, "rss"), 0) or 0) for r in rows)
    figures.setdefault("peak_rss_mib", {})[n] = peak
    if not all(up[1:]):
        reasons.append(f"{n} went down (killed by its memory cgroup?) at period"
                       f" {rows[up.index(0, 1)]['period'] if 0 in up[1:] else '?'}")
    if limit and peak >= limit:
        reasons.append(f"{n}'s QEMU reached {peak} MiB resident, at or above its limit {limit} MiB")


def squeeze_back(rows, n, figures, reasons):
    """Guest n faults within SQUEEZE_WINDOW periods of a shrink: it must be back at its size
    before that shrink within SQUEEZE_BACK periods, each time."""
    act = [r[col(n, "actual")] for r in rows]
    mf = [r[col(n, "major_fault")] for r in rows]
    events = []
    k = 1
    while k < len(rows):
        lo = max(1, k - SQUEEZE_WINDOW)
        shrinks = [i for i in range(lo, k + 1) if act[i] < act[i - 1] - GROW_SLACK]
        if mf[k] > mf[k - 1] and shrinks:
            before = max(act[max(0, shrinks[0] - 1):shrinks[0]])
            back = next((j for j in range(k, len(rows)) if act[j] >= before - GROW_SLACK), None)
            events.append({"period": rows[k]["period"], "before_mib": before,
                           "back_after_periods": None if back is None else back - k})
            if back is None or back - k > SQUEEZE_BACK:
                reasons.append(f"{n} faulted at period {rows[k]['period']} but was not given back"
                               f" {before} MiB within {SQUEEZE_BACK} periods")
            k = (back if back is not None else len(rows)) + SQUEEZE_WINDOW
        k += 1
    figures.setdefault("squeezes", {})[n] = events
    if not events:
        reasons.append(f"{n} never faulted after a shrink (not squeezed: nothing was tested)")


def judge(sc, rows, cfg):
    """Return (verdict, reasons, figures) for a run."""
    if not rows:
        return "fail", ["no samples"], {}
    reasons, figures = (judge_cpu if sc.kind == "cpu" else judge_mem)(sc, rows, cfg)
    if cfg.get("tool_error"):
        reasons.insert(0, cfg["tool_error"])
    if cfg.get("metrics_error"):
        reasons.append(cfg["metrics_error"])
    return ("fail" if reasons else "pass"), reasons, figures
