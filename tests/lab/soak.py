"""Long run of both tools together on real guests with churn.

Four guests (busy, half busy, growing and freeing memory, idle) run under vcpu_scheduler and
memory_coordinator at once, while every CHURN seconds one guest is destroyed and a new one
started, or one is paused and resumed later. The tools' memory (VmRSS) is sampled throughout.
Verdict: both tools stay alive, log no warning or error other than those churn legitimately
causes (ALLOWED), stop with exit 0 on SIGTERM, and their RSS at the end is within 1 MiB of
their RSS after the first minute.

    /usr/bin/python3 tests/lab/soak.py [--minutes M] [--period S] [--churn S]

It holds the lab lock while it has guests. Environment as for run_scenario.py: LAB_BIN,
LAB_TOOL_ARGS, LAB_OUT (the output is LAB_OUT/soak), LAB_DOMAIN_TYPE, LAB_CACHE, LAB_URI,
LAB_LOCK.
"""
import argparse
import json
import os
import re
import sys
import time

import libvirt

import lab
import tools

LOADS = ["cpu --duty 100", "cpu --duty 50", "mem --rate 20 --cap 600 --hold 20 --repeat", "idle"]
STOP_S = 15        # seconds a tool has to stop after SIGTERM at the end
RSS_SLACK_KIB = 1024
PROBLEM = re.compile(r": (warning|error): ")   # the tools' log lines: "NAME: LEVEL: ..."
# The warnings churn legitimately causes, each allowed only for a guest that went through
# the churn event that causes it: (label, pattern naming the guest, event). Any other
# warning or error line of either tool fails the soak.
ALLOWED = [
    # A paused guest runs no code, so its balloon driver stops refreshing the statistics
    # (last_update freezes); the coordinator must leave it alone, and says so once.
    ("stale statistics of a paused guest",
     re.compile(r": warning: memory statistics of '(?P<guest>[^']+)' stopped updating;"),
     "pause"),
    # A guest started moments ago reports only actual and rss until its balloon driver
    # sends its first statistics (seconds after boot); the initial guests are not affected,
    # since the tools start once they have booted.
    ("no statistics yet from a new guest",
     re.compile(r": warning: '(?P<guest>[^']+)' reports no memory statistics;"),
     "start"),
]


class Churn:
    """The soak's guests: four to start with, then one churn event per step()."""

    def __init__(self, lb):
        self.lb = lb
        self.serial = 0
        self.live = []
        self.paused = None
        self.events = []

    def guest(self, load):
        self.serial += 1
        return lab.Guest(name=lab.guest_name(self.serial), load=load)

    def boot(self):
        first = [self.guest(load) for load in LOADS]
        self.lb.start(first)
        self.lb.wait_booted()
        self.live = [g.name for g in first]

    def step(self, k, t):
        """Event K (1, 2, ...) at T seconds: replace a guest, pause one, resume it."""
        if k % 3 == 1:  # a guest goes, a new one comes
            victim = self.live.pop(0)
            self.lb.destroy(victim, missing_ok=False)
            g = self.guest(LOADS[self.serial % len(LOADS)])
            self.lb.start([g], reap=False)
            self.live.append(g.name)
            self.events.append([t, "replace", victim, g.name])
        elif k % 3 == 2:  # one pauses ...
            self.paused = self.live[k % len(self.live)]
            self.lb.conn.lookupByName(self.paused).suspend()
            self.events.append([t, "pause", self.paused])
        elif self.paused:  # ... and resumes
            self.lb.conn.lookupByName(self.paused).resume()
            self.events.append([t, "resume", self.paused])
            self.paused = None


def soak(args, cmds, outdir, summary):
    """Boot the guests, run the tools and the churn for args.minutes, stop the tools;
    add reasons to SUMMARY; return each tool's RSS samples [(seconds, KiB)]."""
    rss = {name: [] for name in cmds}
    with lab.Lab(outdir) as lb:   # waits for the lab lock
        churn = Churn(lb)
        churn.boot()
        procs = {name: tools.start(cmd, os.path.join(outdir, f"{name}.out"),
                                   os.path.join(outdir, f"{name}.log"))
                 for name, cmd in cmds.items()}
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        next_churn, step = t0 + args.churn, 0
        try:
            while time.monotonic() < end:
                now = time.monotonic()
                if any(p.poll() is not None for p in procs.values()):
                    break  # tools.stop says which and how
                for name, proc in procs.items():
                    rss[name].append((round(now - t0), tools.rss_kib(proc.pid)))
                if now >= next_churn:
                    next_churn += args.churn
                    step += 1
                    churn.step(step, round(now - t0))
                time.sleep(min(5.0, max(0.1, end - time.monotonic())))
        except libvirt.libvirtError as e:
            summary["reasons"].append(f"lab: {e}")
        finally:
            summary["events"] = churn.events
            for name, proc in procs.items():
                err = tools.stop(proc, STOP_S)
                if err:
                    summary["reasons"].append(f"{name} {err}")
    return rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--period", type=float, default=2)
    ap.add_argument("--churn", type=float, default=20)
    args = ap.parse_args()
    outdir = lab.out_dir("soak")
    os.makedirs(outdir, exist_ok=True)
    cmds = {name: tools.command(name, args.period) for name in tools.TOOLS.values()}
    lab.catch_signals()
    summary = {"minutes": args.minutes, "period": args.period, "churn_s": args.churn,
               "events": [], "verdict": "fail", "reasons": []}
    rss = soak(args, cmds, outdir, summary)
    events_of = churned(summary["events"])
    for name in cmds:
        f = summary[name] = figures(name, rss[name], outdir, args.period, events_of)
        if f["unexpected"]:
            summary["reasons"].append(f"{name} logged {len(f['unexpected'])} unexpected"
                                      " warning(s) or error(s)")
        if f["rss_first_kib"] and f["rss_last_kib"] - f["rss_first_kib"] > RSS_SLACK_KIB:
            summary["reasons"].append(f"{name} RSS grew {f['rss_first_kib']} -> "
                                      f"{f['rss_last_kib']} KiB")
    summary["verdict"] = "fail" if summary["reasons"] else "pass"
    with open(os.path.join(outdir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    print_summary(summary, cmds)
    return 0 if summary["verdict"] == "pass" else 1


def print_summary(summary, names):
    for name in names:
        f = summary[name]
        print(f"soak: {name}: {f['periods']} periods, {f['changes']} changes, RSS "
              f"{f['rss_first_kib']} KiB after 1 min, {f['rss_last_kib']} KiB at the end, "
              f"peak {f['rss_peak_kib']} KiB, {len(f['unexpected'])} unexpected and "
              f"{sum(f['allowed'].values())} allowed warnings/errors")
        for line in f["unexpected"][:10]:
            print(f"soak:   unexpected: {line}")
        if len(f["unexpected"]) > 10:
            print(f"soak:   ... {len(f['unexpected']) - 10} more in summary.json")
    print(f"soak: {len(summary['events'])} churn events; verdict {summary['verdict']}"
          + (": " + "; ".join(summary["reasons"]) if summary["reasons"] else ""))


def churned(events):
    """{guest: the churn events it went through ('start', 'pause', 'resume')}."""
    out = {}
    for e in events:
        if e[1] == "replace":
            out.setdefault(e[3], set()).add("start")
        else:
            out.setdefault(e[2], set()).add(e[1])
    return out


def allowed_as(line, events_of):
    """The ALLOWED label that covers this log line, or None."""
    for label, pattern, event in ALLOWED:
        m = pattern.search(line)
        if m and event in events_of.get(m.group("guest"), ()):
            return label
    return None


def triage(lines, events_of):
    """The warning and error lines: (unexpected lines, {ALLOWED label: count})."""
    unexpected, allowed = [], {}
    for line in lines:
        if not PROBLEM.search(line):
            continue
        label = allowed_as(line, events_of)
        if label is None:
            unexpected.append(line)
        else:
            allowed[label] = allowed.get(label, 0) + 1
    return unexpected, allowed


def figures(name, samples, outdir, period, events_of):
    with open(os.path.join(outdir, f"{name}.out"), encoding="utf-8") as f:
        out = f.read().splitlines()
    with open(os.path.join(outdir, f"{name}.log"), encoding="utf-8") as f:
        log = f.read().splitlines()
    changes = sum(1 for line in log if ": pinned '" in line or "info: grow '" in line
                  or "info: shrink '" in line)
    unexpected, allowed = triage(out + log, events_of)
    after = [kib for t, kib in samples if t >= max(60, 30 * period)] or [k for _, k in samples]
    return {"periods": sum(1 for line in out if line.startswith("period")), "changes": changes,
            "unexpected": unexpected, "allowed": allowed,
            "rss_first_kib": after[0] if after else 0,
            "rss_last_kib": after[-1] if after else 0,
            "rss_peak_kib": max((k for _, k in samples), default=0)}


if __name__ == "__main__":
    sys.exit(lab.run_entry(main))
