"""The tools under test in the lab: their command lines, started with their output
in log files, stopped with SIGTERM, their memory (VmRSS) read from /proc.

Used by run_scenario.py (one tool per scenario) and soak.py (both at once).
"""
import contextlib
import os
import shlex
import signal
import subprocess
import threading

import lab

TOOLS = {"cpu": "vcpu_scheduler", "mem": "memory_coordinator"}   # scenario kind -> tool
FLOOR = 200        # MiB, --guest-floor given to the coordinator
MIN_UNUSED = 100   # MiB, --min-unused given to the coordinator
STOP_S = 10        # seconds a tool has to stop after SIGTERM


def default_reserve_mib(host_total_mib):
    """The coordinator's host reserve without --host-reserve: the larger of 200 MiB and 5 %
    of host memory (coord_reserve_kib)."""
    return max(200, host_total_mib * 5 // 100)


def path(name):
    """The tool NAME's binary: $LAB_BIN/NAME, by default the repo's bin/NAME."""
    return os.path.join(os.environ.get("LAB_BIN", os.path.join(lab.REPO, "bin")), name)


def command(name, period, reserve_mib=None, extra=()):
    """NAME's command line on the lab guests: the lab's options (coordinator: floor,
    min-unused and, if RESERVE_MIB, the host reserve), the scenario's EXTRA options,
    then $LAB_TOOL_ARGS, then PERIOD."""
    binary = path(name)
    if not os.access(binary, os.X_OK):
        raise lab.LabError(f"'{binary}' not found (run make, or set LAB_BIN).")
    cmd = [binary, "--connect", lab.URI, "--domains", f"{lab.PREFIX}*"]
    if name == TOOLS["mem"]:
        cmd += ["--guest-floor", f"{FLOOR}M", "--min-unused", f"{MIN_UNUSED}M"]
        if reserve_mib:
            cmd += ["--host-reserve", f"{reserve_mib}M"]
    cmd += list(extra) + shlex.split(os.environ.get("LAB_TOOL_ARGS", ""))
    return cmd + [f"{period:g}"]


def pump(stream, log_path, show):
    """Copy the tool's output to the file log_path, and to the screen if show."""
    with open(log_path, "w", encoding="utf-8") as log:
        for line in stream:
            log.write(line)
            log.flush()
            if show:
                print(f"      tool| {line.rstrip()}", flush=True)


def start(cmd, log_path, err_path=None, echo=False):
    """Start a tool (in the repo) with its stdout, and its stderr unless ERR_PATH is given,
    written to the file LOG_PATH; ECHO also shows LOG_PATH's lines on the screen."""
    with contextlib.ExitStack() as files:
        err = (files.enter_context(open(err_path, "w", encoding="utf-8")) if err_path
               else subprocess.STDOUT)
        if not echo:
            out = files.enter_context(open(log_path, "w", encoding="utf-8"))
            # pylint: disable-next=consider-using-with
            return subprocess.Popen(cmd, cwd=lab.REPO, stdout=out, stderr=err)
        # pylint: disable-next=consider-using-with
        proc = subprocess.Popen(cmd, cwd=lab.REPO, stdout=subprocess.PIPE, stderr=err, text=True)
    threading.Thread(target=pump, daemon=True, args=(proc.stdout, log_path, True)).start()
    return proc


def stop(proc, timeout=STOP_S):
    """SIGTERM the tool; return None if it stopped with status 0, else why not
    (a phrase to follow its name: 'exited early with status 1')."""
    if proc.poll() is not None:
        return f"exited early with status {proc.returncode}"
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return f"did not stop within {timeout:g} s of SIGTERM"
    return None if rc == 0 else f"exited with status {rc} on SIGTERM"


def rss_kib(pid):
    """The process PID's resident memory (VmRSS) in KiB, 0 if it has none or is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0
