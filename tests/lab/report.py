"""Lab report: gnuplot figures of a run, and the one-line-per-scenario table."""
import json
import os
import subprocess

from lab import MAX_MIB
from scenarios import SD_OK, col
from tools import FLOOR

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
           "#e377c2", "#17becf"]


def _events(rows, names, what):
    """Periods where a per-guest counter (oom) rose: CSV lines 'period,actual,name'."""
    out = []
    for prev, r in zip(rows, rows[1:]):
        for n in names:
            if r.get(col(n, what), 0) > prev.get(col(n, what), 0):
                out.append(f"{r['period']},{prev.get(col(n, 'actual'), 0)},{n}")
    return out


def plot(outdir, sc, rows, cfg, summary):
    """Write plot.gp and render <kind>.png into outdir; return the PNG path."""
    names = cfg["guests"]
    title = (f"{sc.name}: {cfg['tool_name']} (period {cfg['period']:g} s,"
             f" {summary['verdict']})")
    png = os.path.join(outdir, f"{sc.kind}.png")
    gp = [
        f"set terminal pngcairo size 1100,{1000 if sc.kind == 'cpu' else 760} font ',10'"
        " noenhanced",
        f"set output '{png}'",
        "set datafile separator comma",
        "set key outside right top",
        "set grid",
        "set xlabel 'period'",
        "set ytics nomirror",
        f"set title \"{title}\"",
    ]
    if sc.kind == "cpu":
        ncpus = cfg["ncpus"]
        maxchg = max([r["pin_changes"] for r in rows] + [1])
        settle = summary["figures"].get("periods_to_balance")
        gp += [
            "set multiplot layout 3,1",
            "set ylabel 'pCPU usage (%)'",
            "set yrange [0:*]",
            "set y2label 'pin changes'",
            f"set y2range [0:{maxchg * 2}]",
            "set y2tics 1",
            f"set arrow from graph 0, first {SD_OK} to graph 1, first {SD_OK} nohead dt 3"
            " lc 'gray'",
        ]
        if settle:
            gp.append(f"set arrow from {settle}, graph 0 to {settle}, graph 1 nohead"
                      " lc 'dark-green' lw 2 dt 4 front")
            gp.append(f"set label 'balanced' at {settle}, graph 0.95 offset 0.5,0 tc 'dark-green'")
        parts = [f"'{cfg['csv']}' using 'period':'pcpu{j}' with lines lw 2 lc '{PALETTE[j % 8]}'"
                 f" title 'pCPU {j}'" for j in range(ncpus)]
        parts.append("'' using 'period':'pcpu_sd' with lines dt 2 lw 2 lc 'black' title 'std dev'")
        parts.append("'' using 'period':'pin_changes' axes x1y2 with impulses lw 4 lc 'red'"
                     " title 'pin changes'")
        gp.append("plot " + ", \\\n  ".join(parts))
        gp += ["unset arrow", "unset label", "unset y2label", "unset y2tics", "set title ''",
               "set ylabel 'vCPU usage (%)'"]
        vcpus = [(n, i, k) for k, n in enumerate(names)
                 for i in range(cfg.get("vcpus", {}).get(n, 1))]
        parts = [f"'{cfg['csv']}' using 'period':'{col(n, f'vcpu{i}')}' with lines lw 1.5"
                 f" lc '{PALETTE[k % 8]}' dt {i + 1} title '{n}/{i} (duty {cfg['duty'][n]})'"
                 for n, i, k in vcpus]
        gp.append("plot " + ", \\\n  ".join(parts))
        if any(f"{col(n, f'delay{i}')}" in rows[0] for n, i, _ in vcpus):
            gp += ["set ylabel 'vCPU delay (% of the period waiting for a pCPU)'",
                   "set arrow from graph 0, first 10 to graph 1, first 10 nohead dt 3"
                   " lc 'gray'"]
            parts = [f"'{cfg['csv']}' using 'period':'{col(n, f'delay{i}')}' with lines"
                     f" lw 1.5 lc '{PALETTE[k % 8]}' dt {i + 1} title '{n}/{i}'"
                     for n, i, k in vcpus]
            gp.append("plot " + ", \\\n  ".join(parts))
        gp.append("unset multiplot")
    else:
        ev = _events(rows, names, "oom")
        evfile = os.path.join(outdir, "oom-events.csv")
        with open(evfile, "w", encoding="ascii") as f:
            f.write("period,actual,guest\n" + "".join(e + "\n" for e in ev))
        reserve = cfg.get("host_reserve_mib")
        host = [r["host_avail_mib"] for r in rows] + ([reserve] if reserve else [])
        host += [r["host_free_libvirt_mib"] for r in rows if r.get("host_free_libvirt_mib")]
        gp += [
            "set ylabel 'guest memory (MiB): actual solid, usable dashed'",
            f"set yrange [0:{MAX_MIB + 200}]",
            "set y2label 'host free memory (MiB): MemAvailable'",
            "set y2tics",
            f"set y2range [{max(0, min(host) - 1024)}:{max(host) + 256}]",
            f"set arrow from graph 0, first {FLOOR} to graph 1, first {FLOOR} nohead dt 3"
            " lc 'gray'",
            f"set arrow from graph 0, first {MAX_MIB} to graph 1, first {MAX_MIB} nohead dt 3"
            " lc 'gray'",
        ]
        if reserve:
            gp.append(f"set arrow from graph 0, second {reserve} to graph 1, second {reserve}"
                      " nohead dt 4 lw 2 lc 'black'")
            gp.append(f"set label 'host reserve' at graph 0.01, second {reserve} offset 0,0.7")
        parts = []
        for i, n in enumerate(names):
            c = PALETTE[i % 8]
            parts.append(f"'{cfg['csv']}' using 'period':'{col(n, 'actual')}' with lines lw 2"
                         f" lc '{c}' title '{n} actual'")
            parts.append(f"'' using 'period':'{col(n, 'usable')}' with lines dt 2 lc '{c}'"
                         f" title '{n} usable (headroom)'")
        parts.append("'' using 'period':'host_avail_mib' axes x1y2 with lines lw 2 lc 'black'"
                     " title 'host free'")
        parts.append("'' using 'period':'host_free_libvirt_mib' axes x1y2 with lines lw 1"
                     " dt 3 lc 'gray40' title 'host free (libvirt)'")
        if ev:
            parts.append(f"'{evfile}' using 'period':'actual' with points pt 7 ps 2 lc 'red'"
                         " title 'OOM kill'")
        gp.append("plot " + ", \\\n  ".join(parts))
    script = os.path.join(outdir, "plot.gp")
    with open(script, "w", encoding="ascii") as f:
        f.write("\n".join(gp) + "\n")
    res = subprocess.run(["gnuplot", script], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        print(f"lab: gnuplot failed: {res.stderr.strip()}")
        return None
    return png


COLUMNS = [("scenario", 15), ("verdict", 7), ("boot s", 6), ("run s", 6), ("settle", 6),
           ("chg/bnd/aft", 11), ("final sd", 8), ("fair", 9), ("delay%", 11),
           ("declared", 10), ("OOM/avail", 9), ("starve/avail/exc", 16), ("idle grown", 10),
           ("returned", 8), ("kept", 5), ("low host", 8), ("other cpu", 9)]


def table_row(s):
    f = s.get("figures", {})

    def g(k, fmt="{}"):
        v = f.get(k)
        return "-" if v is None else fmt.format(v)
    chg = "-" if "pin_changes_total" not in f else \
        f"{f['pin_changes_total']}/{g('pin_change_bound')}/{f['pin_changes_after_balance']}"
    fair = "-" if "fairness" not in f else (
        f"from {g('fair_from')}" if f["fairness"] == "busy/pCPU" else f"{f['fairness']}")
    d = f.get("delay_pct") or {}
    delay = "-" if not d.get("period1") or not d.get("last10") else \
        f"{d['period1'].get('min', 0):.0f}-{d['period1']['max']:.0f}>" \
        f"{d['last10'].get('min', 0):.0f}-{d['last10']['max']:.0f}"
    declared = "-"
    if "defined_pin_moved" in f:
        declared = f"moved {f['defined_pin_moved']}"
    if "weight_service_ratio" in f:
        declared = f"ratio {f['weight_service_ratio']}"
    oom = "-" if "oom_kills" not in f else f"{f['oom_kills']}/{f['oom_kills_while_available']}"
    starve = "-" if "starving_periods" not in f else \
        f"{f['starving_periods']}/{f['starving_while_available']}/{g('starving_unforeseen')}"
    vals = [s["scenario"], s["verdict"], f"{s.get('boot_s', 0):.0f}", f"{s.get('run_s', 0):.0f}",
            g("periods_to_balance"), chg, g("final_sd"), fair, delay, declared, oom,
            starve, g("idle_grown"), g("returned_end_mib"),
            "-" if not f.get("work_kept") else f"{min(f['work_kept'].values()):.2f}",
            g("lowest_host_free_mib"), g("host_cpu_not_in_vcpus")]
    return "  ".join(v.ljust(w) for v, (_, w) in zip(vals, COLUMNS))


def service_line(s):
    """The vCPUs' service at the end (docs/METRICS.md): for a CPU run with guest events or a
    guest of several vCPUs, else None."""
    cfg, use = s.get("config", {}), s.get("figures", {}).get("vcpu_usage_last10")
    if not use or not (cfg.get("events") or any(v > 1 for v in cfg.get("vcpus", {}).values())):
        return None
    return "service, last 10 periods (%): " + ", ".join(f"{k} {v:.0f}" for k, v in use.items())


def print_table(summaries):
    print("  ".join(h.ljust(w) for h, w in COLUMNS))
    for s in summaries:
        print(table_row(s))
        line = service_line(s)
        if line:
            print(f"    {line}")
        for r in s.get("reasons", []):
            print(f"    - {r}")


def table_main(paths):
    """`report.py table SUMMARY.json...`: print the table of these runs."""
    out = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            out.append(json.load(f))
    print_table(out)
