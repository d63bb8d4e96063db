"""Long run of both tools together on real guests with churn.

Four guests (busy, half busy, growing and freeing memory, idle) run under vcpu_scheduler and
memory_coordinator at once, while every CHURN seconds one guest is destroyed and a new one
started, or one is paused and resumed later. The tools' memory (VmRSS) is sampled throughout.
Verdict: both tools stay alive and silent of errors, stop with exit 0 on SIGTERM, and their RSS
at the end is within 1 MiB of their RSS after the first minute.

    /usr/bin/python3 tests/lab/soak.py [--minutes M] [--period S] [--churn S]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

import libvirt

import lab

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LOADS = ["cpu --duty 100", "cpu --duty 50", "mem --rate 20 --cap 600 --hold 20 --repeat", "idle"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_tool(name, args, outdir):
    binary = os.path.join(os.environ.get("LAB_BIN", os.path.join(REPO, "bin")), name)
    out = open(os.path.join(outdir, f"{name}.out"), "w", encoding="utf-8")
    err = open(os.path.join(outdir, f"{name}.log"), "w", encoding="utf-8")
    return subprocess.Popen([binary, "--connect", lab.URI, "--domains", "vmlab-*"] + args,
                            stdout=out, stderr=err)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--period", type=float, default=2)
    ap.add_argument("--churn", type=float, default=20)
    args = ap.parse_args()
    outdir = os.path.join(os.environ.get("LAB_OUT", os.path.join(REPO, "lab-out")), "soak")
    os.makedirs(outdir, exist_ok=True)
    lab.catch_signals()

    serial = 0
    live = []

    def guest(load):
        nonlocal serial
        serial += 1
        return lab.Guest(name=f"vmlab-{serial}", load=load)

    summary = {"minutes": args.minutes, "period": args.period, "churn_s": args.churn,
               "events": [], "verdict": "fail", "reasons": []}
    tools = {}
    with lab.Lab(outdir) as lb:
        first = [guest(load) for load in LOADS]
        lb.start(first)
        lb.wait_booted()
        live = [g.name for g in first]
        pstr = f"{args.period:g}"
        tools["vcpu_scheduler"] = start_tool("vcpu_scheduler", [pstr], outdir)
        tools["memory_coordinator"] = start_tool(
            "memory_coordinator", ["--guest-floor", "200M", "--min-unused", "100M", pstr], outdir)
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        next_churn = t0 + args.churn
        rss = {name: [] for name in tools}
        paused = None
        step = 0
        try:
            while time.monotonic() < end:
                now = time.monotonic()
                for name, proc in tools.items():
                    if proc.poll() is not None:
                        summary["reasons"].append(f"{name} exited ({proc.returncode})")
                        raise RuntimeError
                    rss[name].append((round(now - t0), rss_kib(proc.pid)))
                if now >= next_churn:
                    next_churn += args.churn
                    step += 1
                    if step % 3 == 1:  # a guest goes, a new one comes
                        victim = live.pop(0)
                        lb.conn.lookupByName(victim).destroy()
                        lb.started.remove(victim)
                        g = guest(LOADS[serial % len(LOADS)])
                        lb.start([g], reap=False)
                        live.append(g.name)
                        summary["events"].append([round(now - t0), "replace", victim, g.name])
                    elif step % 3 == 2:  # one pauses ...
                        paused = live[step % len(live)]
                        lb.conn.lookupByName(paused).suspend()
                        summary["events"].append([round(now - t0), "pause", paused])
                    elif paused:  # ... and resumes
                        lb.conn.lookupByName(paused).resume()
                        summary["events"].append([round(now - t0), "resume", paused])
                        paused = None
                time.sleep(min(5.0, max(0.1, end - time.monotonic())))
        except (RuntimeError, libvirt.libvirtError) as e:
            if str(e):
                summary["reasons"].append(f"lab: {e}")
        finally:
            for name, proc in tools.items():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        code = proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        code = "hung"
                    if code != 0:
                        summary["reasons"].append(f"{name} exit status {code} after SIGTERM")
                summary[name] = figures(name, rss[name], outdir, args.period)
    for name in tools:
        f = summary[name]
        if f["errors"]:
            summary["reasons"].append(f"{name} logged {f['errors']} error(s)")
        if f["rss_first_kib"] and f["rss_last_kib"] - f["rss_first_kib"] > 1024:
            summary["reasons"].append(f"{name} RSS grew {f['rss_first_kib']} -> "
                                      f"{f['rss_last_kib']} KiB")
    summary["verdict"] = "fail" if summary["reasons"] else "pass"
    with open(os.path.join(outdir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    for name in tools:
        f = summary[name]
        print(f"soak: {name}: {f['periods']} periods, {f['changes']} changes, RSS "
              f"{f['rss_first_kib']} KiB after 1 min, {f['rss_last_kib']} KiB at the end, "
              f"peak {f['rss_peak_kib']} KiB, {f['errors']} errors")
    print(f"soak: {len(summary['events'])} churn events; verdict {summary['verdict']}"
          + (": " + "; ".join(summary["reasons"]) if summary["reasons"] else ""))
    return 0 if summary["verdict"] == "pass" else 1


def figures(name, samples, outdir, period):
    with open(os.path.join(outdir, f"{name}.out"), encoding="utf-8") as f:
        periods = sum(1 for line in f if line.startswith("period"))
    with open(os.path.join(outdir, f"{name}.log"), encoding="utf-8") as f:
        log = f.read().splitlines()
    changes = sum(1 for line in log if ": pinned '" in line or "info: grow '" in line
                  or "info: shrink '" in line)
    after = [kib for t, kib in samples if t >= max(60, 30 * period)] or [k for _, k in samples]
    return {"periods": periods, "changes": changes,
            "errors": sum(1 for line in log if ": error: " in line),
            "rss_first_kib": after[0] if after else 0,
            "rss_last_kib": after[-1] if after else 0,
            "rss_peak_kib": max((k for _, k in samples), default=0)}


if __name__ == "__main__":
    sys.exit(lab.run_entry(main))
