"""Run one lab scenario: boot its guests, run the tool under test with the monitor
alongside, tear everything down, judge, and write samples.csv, summary.json and
plots into the output directory. While a scenario has guests it holds the lab
lock (lab.py): a second run waits.

Usage: /usr/bin/python3 run_scenario.py [--periods N] [--period S] NAME
       /usr/bin/python3 run_scenario.py --check [NAME...]    (lab-check)
       /usr/bin/python3 run_scenario.py --evaluate DIR   (judge a run again)
       /usr/bin/python3 run_scenario.py --table DIR...   (table of runs)
       /usr/bin/python3 run_scenario.py --list
Environment: LAB_TOOL=auto|none (auto: the repo's bin/), LAB_BIN, LAB_TOOL_ARGS,
LAB_PERIOD, LAB_PERIODS, LAB_OUT (parent of the per-scenario directory),
LAB_DOMAIN_TYPE=qemu|kvm, LAB_CACHE, LAB_URI, LAB_LOCK, LAB_RECORD=HZ (record a trace).
"""
import argparse
import csv
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

import libvirt

import lab
import monitor
import record
import report
import tools
from scenarios import SCENARIOS, judge

RUN_FILES = ("samples.csv", "summary.json", "tool.log", "plot.gp", "oom-events.csv",
             "cpu.png", "mem.png", "metrics.prom", "trace.txt")


def tool_command(sc, cfg):
    """The tool's command line, or None for LAB_TOOL=none (or a run without the tool)."""
    mode = os.environ.get("LAB_TOOL", "auto")
    if mode == "none" or cfg.get("without_tool_run"):
        return None
    if mode != "auto":
        raise lab.LabError(f"LAB_TOOL must be 'auto' or 'none', not '{mode}'.")
    extra = [a.replace("{last}", str(cfg["ncpus"] - 1)) for a in sc.tool_args]
    extra += ["--metrics-file", cfg["metrics"]]
    return tools.command(tools.TOOLS[sc.kind], cfg["period"], cfg.get("host_reserve_mib"), extra)


def read_rows(path):
    """samples.csv back as dicts of numbers (pin columns stay strings)."""
    rows = []
    with open(path, encoding="ascii") as f:
        for r in csv.DictReader(f):
            row = {}
            for k, v in r.items():
                try:
                    row[k] = float(v) if "." in v else int(v)
                except ValueError:
                    row[k] = v
            rows.append(row)
    return rows


def finish(outdir, sc, cfg):
    """Judge the run in outdir, write summary.json and the plot; return the summary."""
    rows = read_rows(os.path.join(outdir, "samples.csv"))
    verdict, reasons, figures = judge(sc, rows, cfg)
    summary = {"scenario": sc.name, "about": sc.about, "verdict": verdict, "reasons": reasons,
               "figures": figures, "periods": len(rows),
               "boot_s": cfg.get("boot_s"), "run_s": cfg.get("run_s"), "config": cfg}
    png = report.plot(outdir, sc, rows, cfg, summary)
    summary["plot"] = png
    with open(os.path.join(outdir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return summary


def clear(outdir):
    """Create outdir, or remove the files of the run it holds."""
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(outdir):
        if f in RUN_FILES or f.endswith(".console.log"):
            os.unlink(os.path.join(outdir, f))


def check_metrics(path):
    """promtool's lint of the tool's last metrics file: None when clean (or when promtool,
    from Debian's prometheus package, is not installed: said once here), else why not."""
    if not shutil.which("promtool"):
        print("   metrics not checked: promtool is not installed (apt-get install prometheus)")
        return None
    if not os.path.exists(path):
        return f"no metrics file '{path}'"
    with open(path, "rb") as f:
        res = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True,
                             text=True, check=False)
    out = (res.stdout + res.stderr).strip()
    if res.returncode != 0 or out:
        return f"promtool check metrics: {out.splitlines()[0] if out else res.returncode}"
    return None


def start_recorder(sc, cfg, outdir):
    """With LAB_RECORD=HZ: a recorder of the guests' statistics, HZ samples a second, into
    DIR/trace.txt (record.py), else None."""
    hz = float(os.environ.get("LAB_RECORD", "0") or 0)
    if hz <= 0:
        return None
    note = f"scenario {sc.name}, {cfg['tool_name']}, period {cfg['period']:g} s"
    cfg["trace"] = os.path.join(outdir, "trace.txt")
    return record.Recorder(cfg["trace"], hz, tool_log=os.path.join(outdir, "tool.log"),
                           note=note, period=cfg["period"], tool=cfg["tool_name"]).start()


def churn(L, guests, period):
    """After monitor period PERIOD: destroy the guests that stop then, start those that
    start then (without reaping: the run's own guests would look left over)."""
    for g in guests:
        if g.stop_period == period:
            print(f"   destroying {g.name}", flush=True)
            L.destroy(g.name)
    late = [g for g in guests if g.start_period == period]
    if late:
        print(f"   starting {', '.join(g.name for g in late)}", flush=True)
        L.start(late, reap=False)


def run(sc, args, base=None):
    """Runs SC once; BASE: the summary of the same scenario run without the tool first
    (compare_without_tool), or "none" to make this that run."""
    outdir = lab.out_dir(sc.name + (".without-tool" if base == "none" else ""))
    conn = libvirt.open(lab.URI)
    ncpus = conn.getCPUMap()[0]
    guests = sc.guests(ncpus)
    for g in guests:
        g.autodeflate = (g.autodeflate and sc.autodeflate
                         and os.environ.get("LAB_AUTODEFLATE", "on") != "off")
        g.free_page_reporting = sc.free_page_reporting
    cfg = {"scenario": sc.name, "period": args.period, "ncpus": ncpus,
           "guests": [g.name for g in guests], "csv": os.path.join(outdir, "samples.csv"),
           "domain_type": lab.domain_type(), "metrics": os.path.join(outdir, "metrics.prom"),
           "duty": {g.name: g.duty for g in guests}, "vcpus": {g.name: g.vcpus for g in guests},
           "cpusets": {g.name: g.cpuset for g in guests if g.cpuset},
           "defined_pins": {g.name: g.defined_pin for g in guests if g.defined_pin},
           "shares": {g.name: g.shares for g in guests if g.shares},
           "hard_limits": {g.name: g.hard_limit_mib for g in guests if g.hard_limit_mib},
           "events": {g.name: [g.start_period, g.stop_period] for g in guests
                      if g.start_period or g.stop_period is not None},
           "emulator_cpus": sc.emulator_cpus,
           "loads": {g.name: g.load for g in guests}, "pins": {g.name: g.pin for g in guests},
           "host_total_mib": monitor.host_meminfo_mib("MemTotal"),
           "without_tool_run": base == "none",
           "without_tool": base.get("figures") if isinstance(base, dict) else None,
           "balloon": {g.name: {"autodeflate": g.autodeflate,
                                "free_page_reporting": g.free_page_reporting,
                                "disk_mib": g.disk_mib} for g in guests}}
    tool_cmd = tool_command(sc, cfg)   # fail early if the tool is missing
    cfg["tool_name"] = tools.TOOLS[sc.kind] if tool_cmd else "no tool"
    print(f"== {sc.name}: {sc.about}; {len(guests)} guests, {cfg['tool_name']},"
          f" {args.periods} periods of {args.period:g} s -> {outdir}", flush=True)
    proc = rec = None
    with lab.Lab(outdir, conn) as L:   # waits for the lab lock
        clear(outdir)
        t0 = time.monotonic()
        try:
            L.start([g for g in guests if not g.start_period])
            cfg["boot_s"] = round(L.wait_booted(), 1)
            print(f"   guests booted in {cfg['boot_s']} s", flush=True)
            if sc.host_reserve_below_now is not None:
                below = sc.host_reserve_below_now
                cfg["host_reserve_mib"] = monitor.host_mem_available_mib() - below
                print(f"   host reserve {cfg['host_reserve_mib']} MiB"
                      f" (MemAvailable now - {below} MiB)")
            tool_cmd = tool_command(sc, cfg)
            rec = start_recorder(sc, cfg, outdir)
            mon = monitor.Monitor(conn, cfg["guests"], outdir, cfg["vcpus"])
            log = monitor.CsvLog(cfg["csv"], mon.columns())
            if tool_cmd:
                cfg["tool_cmd"] = tool_cmd
                print(f"   {' '.join(shlex.quote(c) for c in tool_cmd)}", flush=True)
                proc = tools.start(tool_cmd, os.path.join(outdir, "tool.log"),
                                   echo=not args.quiet_tool)
            legend = ("pCPU usage %, std dev, pin changes | guest: vCPU usage @ pin"
                      if sc.kind == "cpu"
                      else "host free | guest: actual/unused/usable MiB [OOM kills]")
            print(f"   per period: {legend}")
            t_run = time.monotonic()
            deadline = t_run
            for _ in range(args.periods):
                deadline += args.period
                monitor.sleep_until(deadline)
                row = mon.sample()
                log.write(row)
                print("   " + mon.line(row, sc.kind), flush=True)
                churn(L, guests, row["period"])
                if proc and proc.poll() is not None:
                    break
            log.close()
            if rec:
                rec.stop()
                rec = None
            cfg["run_s"] = round(time.monotonic() - t_run, 1)
            if proc:
                err = tools.stop(proc)
                cfg["tool_error"] = f"tool {err}" if err else None
                cfg["metrics_error"] = check_metrics(cfg["metrics"])
                proc = None
        finally:
            if proc:
                tools.stop(proc)
            if rec:
                rec.stop()
    print(f"   guests destroyed; {time.monotonic() - t0:.0f} s in all", flush=True)
    summary = finish(outdir, sc, cfg)
    print(f"== {sc.name}: {summary['verdict'].upper()}"
          + "".join(f"\n   - {r}" for r in summary["reasons"]))
    if summary.get("plot"):
        print(f"   plot: {summary['plot']}")
    return summary


def main():
    ap = argparse.ArgumentParser(description="Run one lab scenario.")
    ap.add_argument("name", nargs="*")
    ap.add_argument("--period", type=float, default=float(os.environ.get("LAB_PERIOD", "0")),
                    help="seconds (default: the scenario's, else 2)")
    ap.add_argument("--periods", type=int, default=int(os.environ.get("LAB_PERIODS", "0")),
                    help="periods to run (default: the scenario's)")
    ap.add_argument("--quiet-tool", action="store_true", help="do not echo the tool's output")
    ap.add_argument("--evaluate", action="store_true", help="judge the run in DIR again")
    ap.add_argument("--table", action="store_true", help="print a table of runs in DIR...")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("--check", action="store_true",
                    help="run NAMEs (default: all), print a table, fail on a failed verdict")
    args = ap.parse_args()
    if args.list:
        for s in SCENARIOS.values():
            print(f"{s.name:15} {s.kind}  {s.periods} periods  {s.about}")
        return 0
    if args.table:
        report.table_main([os.path.join(d, "summary.json") for d in args.name])
        return 0
    if args.evaluate:
        out = []
        for d in args.name:
            with open(os.path.join(d, "summary.json"), encoding="utf-8") as f:
                cfg = json.load(f)["config"]
            out.append(finish(d, SCENARIOS[cfg["scenario"]], cfg))
        report.print_table(out)
        return 0
    names = list(SCENARIOS) if args.check and not args.name else args.name
    bad = [n for n in names if n not in SCENARIOS]
    if not names or bad or (len(names) > 1 and not args.check):
        raise lab.LabError(f"usage: run-scenario.sh NAME, NAME one of: {', '.join(SCENARIOS)}.")
    lab.catch_signals()
    summaries = []
    periods, period = args.periods, args.period
    for n in names:
        args.periods = periods or SCENARIOS[n].periods
        args.period = period or SCENARIOS[n].period or 2.0
        summaries.append(run_checked(SCENARIOS[n], args))
    if not args.check:
        return 0 if summaries[0]["verdict"] == "pass" else 1
    return check_report(summaries)


def run_compared(sc, args):
    """run(); for a scenario that compares, a run without the tool first (DIR.without-tool),
    whose figures the run with the tool is judged against."""
    if not sc.compare_without_tool or os.environ.get("LAB_TOOL") == "none":
        return run(sc, args)
    print(f"== {sc.name}: first without the tool, to compare", flush=True)
    return run(sc, args, base=run(sc, args, base="none"))


def run_checked(sc, args):
    """run_compared(), and under --check with the tool, once more after a failed verdict
    (LAB_RETRIES, default 1): TCG guests on a shared 2-core host miss a boundary now and
    then. The failed attempt stays in DIR.attempt1 and its reasons in the summary
    (`earlier_attempts`); the table names every scenario that needed a second attempt."""
    s = run_compared(sc, args)
    retries = int(os.environ.get("LAB_RETRIES", "1"))
    earlier = []
    while (args.check and os.environ.get("LAB_TOOL") != "none" and s["verdict"] != "pass"
           and len(earlier) < retries):
        outdir = lab.out_dir(sc.name)
        keep = f"{outdir}.attempt{len(earlier) + 1}"
        shutil.rmtree(keep, ignore_errors=True)
        os.rename(outdir, keep)
        earlier.append({"dir": keep, "verdict": s["verdict"], "reasons": s["reasons"]})
        print(f"== {sc.name}: {s['verdict'].upper()} on attempt {len(earlier)}"
              f" ({'; '.join(s['reasons'])}); kept in {keep}; running it again", flush=True)
        s = run_compared(sc, args)
    s["earlier_attempts"] = earlier
    return s


def check_report(summaries):
    """lab-check: table, then pass/fail. Without a tool, each verdict must be
    the one the scenario gives without a tool (the lab sees what it must)."""
    print()
    report.print_table(summaries)
    baseline = os.environ.get("LAB_TOOL") == "none"
    wrong = []
    for s in summaries:
        want = SCENARIOS[s["scenario"]].expect_without_tool if baseline else "pass"
        if want and s["verdict"] != want:
            wrong.append(f"{s['scenario']} ({s['verdict']}, expected {want})")
    print()
    if baseline:
        print("Without a tool: each verdict compared with the one expected without a tool.")
    again = [f"{s['scenario']} (attempt 1: {'; '.join(a['reasons'])})"
             for s in summaries for a in s.get("earlier_attempts", [])[:1]]
    if again:
        print(f"Failed once, then judged again on a second run: {', '.join(again)}")
    if wrong:
        print(f"Failed: {', '.join(wrong)}")
    print(f"lab-check: {len(summaries) - len(wrong)} passed, {len(wrong)} failed")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(lab.run_entry(main))
