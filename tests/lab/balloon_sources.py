"""Which libvirt calls give a balloon's size as it is, and which as it was at the last
balloon-change event: one lab guest, `setmem` 512 -> 384 -> 700 MiB, four sources read every
0.1 s (bulk statistics balloon.current, virDomainMemoryStats actual, virDomainGetInfo memory,
QEMU's query-balloon), one line per read. docs/EVIDENCE.md#balloon-size-sources.

Usage: /usr/bin/python3 balloon_sources.py OUT.txt   (as root; holds the lab lock)
"""
import json
import sys
import time

import libvirt
import libvirt_qemu

import lab


def sample(out, conn, dom, t0, tag=""):
    t = time.monotonic() - t0
    bulk = dict(conn.domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_BALLOON)[0][1])
    ms = dom.memoryStats()
    q = json.loads(libvirt_qemu.qemuMonitorCommand(dom, '{"execute":"query-balloon"}', 0))
    out.write(f"{t:.2f} bulk={bulk.get('balloon.current')} memstats_actual={ms.get('actual')}"
              f" info={dom.info()[2]} qmp={q['return']['actual'] // 1024}"
              f" usable={bulk.get('balloon.usable')} last_update={bulk.get('balloon.last-update')}"
              f" {tag}\n")


def main():
    if len(sys.argv) != 2:
        raise lab.LabError("usage: balloon_sources.py OUT.txt")
    conn = libvirt.open(lab.URI)
    g = lab.Guest(lab.guest_name(1))
    with open(sys.argv[1], "w", encoding="ascii") as out, lab.Lab(lab.out_dir("balloon-sources"),
                                                                   conn) as L:
        L.start([g])
        L.wait_booted()
        dom = conn.lookupByName(g.name)
        t0 = time.monotonic()
        for size, n in ((None, 20), (384, 60), (700, 40)):
            if size:
                dom.setMemoryFlags(size * 1024, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            for k in range(n):
                sample(out, conn, dom, t0, f"set {size}" if size and k == 0 else "")
                time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(lab.run_entry(main))
