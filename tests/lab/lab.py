"""Lab guests: generate domain XML, start guests, wait for boot, tear down.

Guests are transient, except a guest whose definition pins its vCPUs (Guest.defined_pin):
that one is defined (persistent, as dedicated-CPU policies make them), started, and undefined
at teardown. Every guest is named vmlab-N and carries its owner's PID in <description>, so a
guest left behind by a killed run is recognised (its owner is gone) and destroyed (and
undefined), while a guest of a live run, or any other domain, is never touched.
A Lab holds the exclusive lab lock (LOCK) for as long as it has guests, so runs
of several people on one libvirtd wait for each other instead of colliding.

Library code raises LabError; only the entry points (run_entry) print it and exit.
"""
import fcntl
import os
import re
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from xml.sax.saxutils import escape

import libvirt

libvirt.registerErrorHandler(lambda *_: None, None)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
URI = os.environ.get("LAB_URI", "qemu:///system")
PREFIX = "vmlab-"          # every lab guest's name: PREFIX + a number (guest_name)
CACHE = os.environ.get("LAB_CACHE", "/var/cache/vmbalance-lab")
LOCK = os.environ.get("LAB_LOCK", "/run/vmbalance-lab.lock")
OWNER_RE = re.compile(r"vmbalance lab, owner pid (\d+)")
MAX_MIB = 2048             # every guest's <memory> (its balloon's maximum)
START_MIB = 512            # every guest's <currentMemory> (its balloon at boot)


class LabError(Exception):
    """A lab failure, explained in one sentence; run_entry prints it as 'lab: ...'."""


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived (after catch_signals); the value is its name."""


def guest_name(k):
    """The name of lab guest number K (1, 2, ...)."""
    return f"{PREFIX}{k}"


def out_dir(name):
    """The output directory of run NAME: $LAB_OUT/NAME, by default lab-out/NAME in the repo."""
    return os.path.join(os.environ.get("LAB_OUT", os.path.join(REPO, "lab-out")), name)


@dataclass
class Guest:
    """One lab guest: its workload (loadgen arguments) and placement."""
    name: str
    load: str = "idle"          # loadgen arguments, e.g. "cpu --duty 100"
    delay: float = 0            # seconds before the workload starts
    pin: str | None = None      # initial pinning of every vCPU (a CPU list), None = unpinned
    memory_mib: int = MAX_MIB   # maximum
    current_mib: int = START_MIB  # balloon size at start
    vcpus: int = 1
    cpuset: str | None = None   # <vcpu cpuset=...>: where its vCPUs may ever run
    start_period: int = 0       # started at boot (0), or after this monitor period
    stop_period: int | None = None  # destroyed after this monitor period
    disk_mib: int = 0           # a sparse virtio disk (/dev/vda in the guest) of this size; 0: none
    autodeflate: bool = True    # <memballoon autodeflate='on'>: deflates rather than OOM-kill
    free_page_reporting: bool = True  # <memballoon freePageReporting='on'>
    # The pCPUs its persistent definition pins every vCPU to (<cputune><vcpupin>, a CPU list):
    # the guest is defined, not created (None: transient; `pin` is then a live pin).
    defined_pin: str | None = None
    shares: int | None = None   # <cputune><shares>: its CPU weight (None: the host's default)
    # <memtune><hard_limit> in MiB, set live once started (in the XML at start libvirt raises
    # RLIMIT_MEMLOCK to it, which this container refuses); None: no limit.
    hard_limit_mib: int | None = None

    @property
    def duty(self):
        """The busy percentage of each of its vCPUs: loadgen's --duty, 0 unless 'cpu'."""
        words = self.load.split()
        if not words or words[0] != "cpu" or "--duty" not in words:
            return 0
        return int(words[words.index("--duty") + 1])


def disk_path(name):
    """Where guest NAME's disk image lives (a sparse file made at start)."""
    return os.path.join(CACHE, "disks", f"{name}.img")


def make_disk(g):
    """Create G's sparse disk image (its holes read as zeros), if it has one."""
    if not g.disk_mib:
        return
    path = disk_path(g.name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(g.disk_mib * 1024 * 1024)


def devices_memory_xml(g):
    """The guest's disk (if any) and balloon device, with the balloon features it asks for."""
    disk = (f"""<disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='{escape(disk_path(g.name))}'/><target dev='vda' bus='virtio'/><readonly/>
    </disk>""" if g.disk_mib else "")
    onoff = {True: "on", False: "off"}
    return (f"{disk}\n    <memballoon model='virtio' autodeflate='{onoff[g.autodeflate]}'"
            f" freePageReporting='{onoff[g.free_page_reporting]}'><stats period='1'/>"
            f"</memballoon>")


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def catch_signals():
    """Make SIGINT, SIGTERM and SIGHUP raise Interrupted, so that the normal unwinding
    (Lab.__exit__) destroys the guests; run_entry reports it."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)


def run_entry(main):
    """Run an entry point's MAIN and return its exit status: a LabError becomes the one
    line 'lab: ...' and status 1, an interruption 'lab: interrupted ...' and 130."""
    try:
        return main()
    except LabError as e:
        print(f"lab: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(f"lab: interrupted by {e}; guests destroyed.", file=sys.stderr)
        return 130


def take_lock():
    """Take the exclusive lab lock, waiting (with a line saying so) while another run
    holds it; return its file descriptor (closing it releases the lock)."""
    try:
        fd = os.open(LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as e:
        raise LabError(f"cannot open the lab lock '{LOCK}': {e.strerror}.") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"lab: waiting for another lab run to finish (it holds '{LOCK}')", flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def domain_type():
    t = os.environ.get("LAB_DOMAIN_TYPE", "qemu")
    if t not in ("qemu", "kvm"):
        raise LabError(f"LAB_DOMAIN_TYPE must be 'qemu' or 'kvm', not '{t}'.")
    return t


def domain_xml(g, console_log, dtype="qemu"):
    kernel, initrd = os.path.join(CACHE, "vmlinuz"), os.path.join(CACHE, "initrd.gz")
    cmdline = (f"console=ttyS0 quiet panic=-1 lab.load={','.join(g.load.split())}"
               f" lab.delay={g.delay:g}")
    if g.pin and g.defined_pin:
        raise LabError(f"guest '{g.name}' has both a live pin and a defined pin.")
    where = g.defined_pin or g.pin
    tune = f"<shares>{g.shares}</shares>" if g.shares else ""
    tune += "".join(f"<vcpupin vcpu='{i}' cpuset='{where}'/>" for i in range(g.vcpus) if where)
    pin = f"<cputune>{tune}</cputune>" if tune else ""
    cpuset = f" cpuset='{g.cpuset}'" if g.cpuset else ""
    tcg = "<tcg><tb-cache unit='MiB'>32</tb-cache></tcg>" if dtype == "qemu" else ""
    return f"""<domain type='{dtype}'>
  <name>{g.name}</name>
  <description>vmbalance lab, owner pid {os.getpid()}</description>
  <memory unit='MiB'>{g.memory_mib}</memory>
  <currentMemory unit='MiB'>{g.current_mib}</currentMemory>
  <vcpu{cpuset}>{g.vcpus}</vcpu>
  {pin}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(kernel)}</kernel>
    <initrd>{escape(initrd)}</initrd>
    <cmdline>{escape(cmdline)}</cmdline>
  </os>
  <features><acpi/>{tcg}</features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
    <serial type='file'><source path='{escape(console_log)}'/><target port='0'/></serial>
    <console type='file'><source path='{escape(console_log)}'/>
      <target type='serial' port='0'/></console>
    {devices_memory_xml(g)}
  </devices>
</domain>
"""


def owner_alive(dom):
    """True if dom is a lab guest whose owner process still runs (or unknown)."""
    try:
        m = OWNER_RE.search(dom.XMLDesc(0))
    except libvirt.libvirtError:
        return False
    if not m:
        return True  # not made by this lab version: leave it alone
    pid = int(m.group(1))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove(dom):
    """Destroy DOM, and undefine it if it is persistent; quietly if it is gone already."""
    for step in (dom.destroy, dom.undefine):
        try:
            if step == dom.destroy and not dom.isActive():
                continue
            if step == dom.undefine and not dom.isPersistent():
                continue
            step()
        except libvirt.libvirtError:
            pass


def reap_stale(conn, quiet=False):
    """Destroy (and undefine) lab guests left behind by runs that no longer exist."""
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(PREFIX) and not owner_alive(dom):
            if not quiet:
                print(f"lab: destroying '{dom.name()}' left by an earlier run")
            remove(dom)


class Lab:
    """Starts guests and guarantees they are destroyed; use as a context manager, which
    holds the lab lock from entry until the guests are destroyed."""

    def __init__(self, rundir, conn=None):
        self.rundir = rundir
        self.conn = conn or libvirt.open(URI)
        self.started = []
        self.start_kib = {}  # guest -> its <currentMemory>, which its balloon must reach
        self.dtype = domain_type()
        self.lock_fd = None

    def console_log(self, name):
        return os.path.join(self.rundir, f"{name}.console.log")

    def start(self, guests, reap=True):
        """Start GUESTS; first destroy lab guests left by dead runs (REAP; a run that adds
        guests later must not reap: its own guests would look left over)."""
        if self.lock_fd is None:
            raise LabError("guests are started only inside 'with Lab(...)' (the lab lock).")
        if reap:
            reap_stale(self.conn)
        for dom in self.conn.listAllDomains(0):
            if dom.name() in {g.name for g in guests}:
                raise LabError(f"domain '{dom.name()}' already exists (another lab run?).")
        for f in ("vmlinuz", "initrd.gz"):
            if not os.path.exists(os.path.join(CACHE, f)):
                raise LabError(f"'{CACHE}/{f}' is missing (run tests/lab/build-image.sh).")
        os.makedirs(self.rundir, exist_ok=True)
        for g in guests:
            log = self.console_log(g.name)
            if os.path.exists(log):
                os.unlink(log)
            make_disk(g)
            xml = domain_xml(g, log, self.dtype)
            if g.defined_pin:
                self.started.append(g.name)  # from here on teardown undefines it
                self.conn.defineXML(xml).create()
            else:
                self.conn.createXML(xml, 0)
                self.started.append(g.name)
            if g.hard_limit_mib:
                self.conn.lookupByName(g.name).setMemoryParameters(
                    {"hard_limit": g.hard_limit_mib * 1024}, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            self.start_kib[g.name] = g.current_mib * 1024

    def ready(self, name):
        """True once the guest's init printed its ready line (balloon settled)."""
        try:
            with open(self.console_log(name), encoding="utf-8", errors="replace") as f:
                return "lab: ready" in f.read()
        except FileNotFoundError:
            return False

    def settled(self, name, st):
        """True once guest NAME reports balloon.unused and its balloon has reached its start
        size (with autodeflate the guest's MemTotal does not show it: ask the host)."""
        cur = st.get("balloon.current", 0)
        return ("balloon.unused" in st and self.ready(name)
                and cur <= self.start_kib.get(name, cur) + 16 * 1024)

    def wait_booted(self, timeout=180):
        """Wait until every guest is ready, reports balloon.unused and has its balloon at
        its start size; return seconds."""
        t0 = time.monotonic()
        pending = set(self.started)
        while pending:
            for dom, st in self.conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BALLOON):
                if dom.name() in pending and self.settled(dom.name(), st):
                    pending.discard(dom.name())
            alive = {d.name() for d in self.conn.listAllDomains(
                libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
            if pending - alive:
                raise LabError(f"guest(s) {', '.join(sorted(pending - alive))} died while"
                               f" booting (see {self.rundir}).")
            if time.monotonic() - t0 > timeout:
                raise LabError(f"guest(s) {', '.join(sorted(pending))} not booted after"
                               f" {timeout} s (see {self.rundir}).")
            if pending:
                time.sleep(0.5)
        return time.monotonic() - t0

    def destroy(self, name, missing_ok=True):
        """Destroy the guest NAME this Lab started (and undefine it if it is persistent); if
        it is gone already, quietly if MISSING_OK, else raise libvirt's error."""
        try:
            dom = self.conn.lookupByName(name)
            if not missing_ok:
                dom.destroy()
            remove(dom)
        except libvirt.libvirtError:
            if not missing_ok:
                raise
        if name in self.started:
            self.started.remove(name)

    def teardown(self):
        """Destroy every guest this Lab started (in parallel: each takes ~1.5 s)."""
        stop = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # a 2nd Ctrl-C must not leak guests
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(self.destroy, list(self.started)))
            self.started = []
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stop)

    def __enter__(self):
        self.lock_fd = take_lock()
        return self

    def __exit__(self, *exc):
        try:
            self.teardown()
        finally:
            os.close(self.lock_fd)  # releases the lock
            self.lock_fd = None
        return False


def cleanup_main():
    """`python3 lab.py cleanup`: destroy lab guests whose owner is gone."""
    if sys.argv[1:] != ["cleanup"]:
        raise LabError("usage: lab.py cleanup")
    reap_stale(libvirt.open(URI))
    return 0


if __name__ == "__main__":
    sys.exit(run_entry(cleanup_main))
