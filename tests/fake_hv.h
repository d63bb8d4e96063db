/* A deterministic simulated host behind the hv ops table: pCPUs with fair-share contention,
 * guests with scripted CPU demand and memory use, a balloon that moves over time. It models
 * what real hosts report, awkward parts included: vCPU run time in 10 ms steps, run-queue delay
 * from a run queue (wake-up latency, an uneven split of a shared pCPU), wait reported as 0 on
 * kernels without schedstats, pins refused by a cgroup. */
#ifndef VMB_FAKE_HV_H
#define VMB_FAKE_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "snapshot.h"

#define FAKE_MIB 1024ull /* KiB in a MiB */

struct fake_host;

/* A vCPU's scripted demand: ON for on_s seconds, then OFF for off_s seconds, repeating;
 * off_s == 0 means constant ON. Before change_at (when > 0) the demand is `before`. */
struct fake_cpu_load {
    double on, off;     /* demand as a fraction of one pCPU */
    double on_s, off_s; /* phase lengths in seconds */
    double change_at;   /* simulated time (s since creation) at which `on/off` start; 0: always */
    double before;      /* demand before change_at */
};

/* A guest's scripted memory use (KiB), like the lab's load generator. */
struct fake_mem_load {
    uint64_t base_kib; /* what the guest OS itself uses */
    double delay_s;    /* idle this long first */
    double rate_kib_s; /* growth rate; 0: idle */
    uint64_t cap_kib;  /* grow up to base + cap */
    double hold_s;     /* then hold this long (< 0: forever) */
    bool repeat;       /* then free all and start over (else free all and idle) */
};

/* A guest's page-cache workload, like the lab's "loadgen cache": it reads SPAN_KIB of a disk in a
 * loop at RATE_KIB_S (FAKE_READ_MAX: as fast as it can, "cache --rate max"), from DELAY_S on. The
 * page cache fills free memory up to the span; a read of what the cache no longer holds goes to the
 * disk, and with MAPPED (the data is mapped, not read) counts as a major fault (one per 64 MiB
 * missed, as measured in the lab: readahead hides the rest). */
#define FAKE_READ_MAX (-1.0)
struct fake_cache_load {
    double rate_kib_s;
    uint64_t span_kib;
    bool mapped;
    double delay_s;
};

/* Which memory statistics a guest's kernel reports. */
enum fake_stats_kind {
    FAKE_STATS_FULL,       /* usable (MemAvailable), disk caches, faults, swap (default) */
    FAKE_STATS_NO_USABLE,  /* no usable (kernels before 3.14): unused and disk caches */
    FAKE_STATS_UNUSED_ONLY /* no usable, no disk caches: unused (MemFree) alone */
};

/* Which hv call a fault is injected into. */
enum fake_op {
    FAKE_OP_SAMPLE,
    FAKE_OP_PIN,
    FAKE_OP_SETMEM,
    FAKE_OP_MEMSTATS,
    FAKE_OP_EMULATOR,
    FAKE_OP_COUNT
};

/* Called on each domain's memory sample before it is returned; may corrupt it (hostile guests). */
typedef void (*fake_stats_hook)(void *arg, int dom, double now_s, struct snap_mem *mem);

/* Creates a host with NPCPUS pCPUs and RAM_KIB of memory of which OTHER_KIB is used by the host
 * itself. Returns NULL when out of memory. Free with fake_destroy(). */
struct fake_host *fake_create(int npcpus, uint64_t ram_kib, uint64_t other_kib);

/* Frees F and its hv handle; accepts NULL. */
void fake_destroy(struct fake_host *f);

/* The hv handle of F (owned by F: do not hv_destroy it). */
struct hv *fake_hv(struct fake_host *f);

/* Adds a running domain; returns its id (>= 0) or -1. UUIDs derive from the id. */
int fake_add_domain(struct fake_host *f, const char *name, int nvcpus);

/* Removes (destroys) domain DOM. */
void fake_remove_domain(struct fake_host *f, int dom);

/* Pauses or resumes domain DOM. */
void fake_set_paused(struct fake_host *f, int dom, bool paused);

/* Changes the number of vCPUs of DOM (hot-plug); new vCPUs float and are idle. */
void fake_set_nvcpus(struct fake_host *f, int dom, int nvcpus);

/* Sets the demand script of a vCPU / of every vCPU of a domain. */
void fake_set_load(struct fake_host *f, int dom, int vcpu, const struct fake_cpu_load *load);
void fake_set_demand(struct fake_host *f, int dom, int vcpu, double demand);

/* Pins a vCPU to PCPU, or lets it float over all pCPUs (PCPU -1), without counting a call. */
void fake_pin(struct fake_host *f, int dom, int vcpu, int pcpu);

/* The run queue, calibrated on recorded hosts (tests/unit/check_cpu_trace.c holds the fake's
 * figures against them; docs/EVIDENCE.md#fake-run-queue): a vCPU waits this long per second it
 * runs to be put back on its pCPU when it wakes ... */
#define FAKE_WAKE_DELAY 0.0
/* ... and this much more per unit of the pressure of the other tasks of its pCPU (their load
 * over what they leave: others / (1 - others), counted up to 0.95) ... */
#define FAKE_QUEUE_DELAY 0.09
/* ... and vCPUs held below their demand on a saturated pCPU get shares scaled by up to
 * 1 +/- this, drawn for each vCPU every FAKE_SPLIT_HOLD_S (an uneven split that lasts). */
#define FAKE_SPLIT        0.85
#define FAKE_SPLIT_HOLD_S 2.0

/* Sets the run queue's constants (defaults FAKE_WAKE_DELAY, FAKE_QUEUE_DELAY and no split: a
 * test that wants the recorded hosts' uneven split passes FAKE_SPLIT, and then judges fairness
 * by placement or by service over many periods, never by one period's service). */
void fake_set_run_queue(struct fake_host *f, double wake, double queue, double split);

/* Whether the background is many host tasks (a parallel build) that take their load first,
 * the vCPUs sharing what they leave (default false: one task, shared max-min with them). */
void fake_set_background_first(struct fake_host *f, bool first);

/* Sets the background (non-guest) load of pCPU P. */
void fake_set_background(struct fake_host *f, int p, double load);

/* What the host reports about vCPUs waiting for a pCPU, as real kernels and libvirt do. */
enum fake_signal {
    FAKE_SIGNAL_WAIT,       /* schedstats on: vcpu.N.wait and vcpu.N.delay both real */
    FAKE_SIGNAL_WAIT_ZERO,  /* a stock kernel: wait reported but always 0, delay real (default) */
    FAKE_SIGNAL_DELAY_ONLY, /* delay real, no wait field */
    FAKE_SIGNAL_NONE,       /* neither (an old libvirt): only run time */
    FAKE_SIGNAL_COUNT
};

/* Sets what vCPU wait signals the host reports (default FAKE_SIGNAL_WAIT_ZERO). */
void fake_set_signal(struct fake_host *f, enum fake_signal mode);

/* A short name of MODE ("wait", "wait-zero", "delay-only", "none"). */
const char *fake_signal_name(enum fake_signal mode);

/* Sets pCPU P's place in the host: online or not, its NUMA node, its physical core (pCPUs of one
 * core are SMT siblings: busy together they share about 1.3 cores of throughput). By default
 * every pCPU is online, on node 0, its own core. A pin to an offline pCPU fails. */
void fake_set_pcpu(struct fake_host *f, int p, bool online, int node, int core);

/* DOM's <vcpu cpuset> (LIST as "0-3"; NULL: none): its floating vCPUs run within it. */
void fake_set_cpuset(struct fake_host *f, int dom, const char *list);

/* DOM's memory is bound to the NUMA nodes of NODES (bit n: node n; 0: none). */
void fake_set_numa(struct fake_host *f, int dom, uint64_t nodes);

/* DOM's emulator threads demand LOAD (fraction of a pCPU), on the pCPUs of LIST (NULL:
 * anywhere); they count in the domain's cpu.time and on those pCPUs. */
void fake_set_emulator(struct fake_host *f, int dom, double load, const char *list);

/* The single pCPU DOM's emulator threads are pinned to, -2 for several, -1 for anywhere. */
int fake_emulator_pin(const struct fake_host *f, int dom);

/* DOM's persistent definition pins vCPU VCPU to the pCPUs of LIST (NULL: no pin), as
 * <cputune><vcpupin> does: reported with SNAP_VCPU_DEFINED_PIN, and applied live now, as libvirt
 * does at start (a later live pin changes only the live affinity). */
void fake_define_pin(struct fake_host *f, int dom, int vcpu, const char *list);

/* DOM's <cputune>: SHARES its CPU weight (0: none declared; the host's default, 1024), and a
 * quota of QUOTA_US run time per PERIOD_US for each vCPU (0: none). Busy vCPUs sharing a pCPU get
 * time in proportion to their guests' weights (CFS; a guest's weight is not split among its
 * vCPUs here), and none beyond their quota; time throttled by the quota is reported as run-queue
 * delay, as the kernel does (docs/EVIDENCE.md#quota-shows-as-delay). */
void fake_set_cputune(struct fake_host *f, int dom, uint32_t shares, uint64_t quota_us,
                      uint64_t period_us);

/* DOM's <memtune> (KiB; 0: not declared): reported in samples, not enforced here. */
void fake_set_memtune(struct fake_host *f, int dom, uint64_t hard_kib, uint64_t soft_kib,
                      uint64_t swap_kib);

/* Plugs vCPU VCPU of DOM in or out (an unplugged vCPU runs nowhere and is reported offline). */
void fake_set_vcpu_online(struct fake_host *f, int dom, int vcpu, bool online);

/* The kernel keeps vCPU VCPU of DOM on pCPU PCPU while it floats (-1: balances it again), as
 * a balancer that lags does for a while (cache-hot tasks, wake-affine placement): vCPUs of one
 * demand the kernel places can then be served unequally for some periods. */
void fake_set_held(struct fake_host *f, int dom, int vcpu, int pcpu);

/* The kernel leaves vCPU VCPU of DOM runnable but not run at all for the next SECONDS (whole
 * advances), as a loaded host does to a TCG guest's vCPU now and then: its run time and delay
 * stand still, and the wait is accounted whole when it runs again, as the kernel accounts a wait
 * when it ends (docs/EVIDENCE.md#late-waits). */
void fake_set_starved(struct fake_host *f, int dom, int vcpu, double seconds);

/* Whether the kernel balances floating vCPUs (default true: each goes to the least loaded pCPU
 * of its affinity). Off, a floating vCPU runs on the first pCPU of its affinity, as on CPUs the
 * kernel does not balance (isolcpus). */
void fake_set_balancer(struct fake_host *f, bool on);

/* Makes the host refuse pins whose map includes pCPU P (REFUSE true), as a cgroup cpuset that
 * excludes P does: the call fails. */
void fake_refuse_pcpu(struct fake_host *f, int p, bool refuse);

/* Adds deterministic noise of +/- AMPLITUDE to every demand (seeded). */
void fake_set_noise(struct fake_host *f, double amplitude, uint64_t seed);

/* Memory: maximum and current (balloon) size of DOM, its load script, and whether the guest
 * already reports balloon statistics (else only after hv_enable_memstats()). */
void fake_set_memory(struct fake_host *f, int dom, uint64_t max_kib, uint64_t current_kib);
void fake_set_mem_load(struct fake_host *f, int dom, const struct fake_mem_load *load);
void fake_set_stats(struct fake_host *f, int dom, bool enabled);

/* DOM's page-cache workload (reads its disk in a loop). */
void fake_set_cache_load(struct fake_host *f, int dom, const struct fake_cache_load *load);

/* DOM's swap space in KiB (default 0): with swap, a balloon squeezing its working set pushes it
 * to swap, and the workload touching it again reads it back (swap-ins). */
void fake_set_swap(struct fake_host *f, int dom, uint64_t swap_kib);

/* DOM's balloon features (default both off, as libvirt's): AUTODEFLATE deflates the balloon
 * when the guest would OOM-kill (it then stays deflated until a new target is set);
 * FREE_PAGE_REPORTING returns what the guest frees to the host at once. */
void fake_set_balloon_features(struct fake_host *f, int dom, bool autodeflate,
                               bool free_page_reporting);

/* DOM's memory is backed by huge pages: from a pool the host set aside (count it in the host's
 * OTHER_KIB), not in its resident size, and ballooning returns nothing to the host. */
void fake_set_hugepages(struct fake_host *f, int dom, bool on);

/* Which statistics DOM's kernel reports (default FAKE_STATS_FULL). */
void fake_set_stats_kind(struct fake_host *f, int dom, enum fake_stats_kind kind);

/* DOM's guest reports its statistics at most every SECONDS, whatever period it is asked for
 * (0, the default: as asked): its figures then lag its balloon by up to that long. */
void fake_set_stats_every(struct fake_host *f, int dom, double seconds);

/* NUMA node NODE holds RAM_KIB of the host's memory (set every node, summing to the host's RAM,
 * or none). Memory of a guest bound to nodes (fake_set_numa) comes from its first node; the
 * host's own and other guests' fill the nodes in order. Samples then report each node's free
 * memory. */
void fake_set_node_ram(struct fake_host *f, int node, uint64_t ram_kib);

/* Hypervisor memory of each guest beyond guest memory, in its RSS and off host free (default 0,
 * about 150 MiB for QEMU with TCG), and FAKE_OVERHEAD_PER_GIB_KIB more per GiB of guest memory it
 * backs when set. A domain with a <memtune> hard limit is killed, whole, once its resident size
 * (guest memory it backs and this) passes the limit (fake_vm_kills). */
#define FAKE_OVERHEAD_PER_GIB_KIB (8 * FAKE_MIB)
void fake_set_overhead(struct fake_host *f, uint64_t kib);

/* The balloon's speeds in KiB per second, inflating (memory taken from the guest) and
 * deflating; the defaults are those measured on the lab's guests (tests/traces/,
 * check_fake_hv's calibration test holds them). */
#define FAKE_INFLATE_KIB_S (40.0 * FAKE_MIB)
#define FAKE_DEFLATE_KIB_S (150.0 * FAKE_MIB)
void fake_set_balloon_rates(struct fake_host *f, double inflate_kib_s, double deflate_kib_s);
/* Both speeds at once. */
void fake_set_balloon_rate(struct fake_host *f, double kib_s);

/* DOM's next statistics report comes PHASE_S from now, then one every statistics period. */
void fake_set_stats_phase(struct fake_host *f, int dom, double phase_s);

/* Installs a hook that may rewrite every memory sample (NULL removes it). */
void fake_set_stats_hook(struct fake_host *f, fake_stats_hook hook, void *arg);

/* Simulates SECONDS of time. */
void fake_advance(struct fake_host *f, double seconds);

/* Makes the next N calls of OP (for domain DOM, or any domain when -1) return STATUS. */
void fake_inject(struct fake_host *f, enum fake_op op, int dom, int status, int n);

/* Takes the hypervisor connection down (calls return HV_CONN) or back up. */
void fake_set_down(struct fake_host *f, bool down);

/* Observations. */
double fake_now(const struct fake_host *f);
int fake_npcpus(const struct fake_host *f);
int fake_vcpu_pin(const struct fake_host *f, int dom, int vcpu);
int fake_vcpu_placed(const struct fake_host *f, int dom, int vcpu);    /* ran on, last advance */
double fake_vcpu_run(const struct fake_host *f, int dom, int vcpu);    /* last advance */
double fake_vcpu_demand(const struct fake_host *f, int dom, int vcpu); /* last advance */
double fake_pcpu_busy(const struct fake_host *f, int p);               /* last advance */
double fake_usage_spread(const struct fake_host *f); /* std dev of pCPU busy, points */
unsigned long fake_calls(const struct fake_host *f, enum fake_op op);
uint64_t fake_actual_kib(const struct fake_host *f, int dom); /* the balloon's own size */
uint64_t fake_shown_kib(const struct fake_host *f, int dom);  /* ... the size the host reports */
uint64_t fake_target_kib(const struct fake_host *f, int dom);
uint64_t fake_used_kib(const struct fake_host *f, int dom);
uint64_t fake_touched_kib(const struct fake_host *f, int dom); /* host-resident part */
uint64_t fake_max_kib(const struct fake_host *f, int dom);
uint64_t fake_host_free_kib(const struct fake_host *f);
uint64_t fake_host_ram_kib(const struct fake_host *f);
unsigned fake_oom_kills(const struct fake_host *f, int dom);
unsigned fake_deflations(const struct fake_host *f, int dom); /* balloon deflated on OOM */
uint64_t fake_usable_kib(const struct fake_host *f, int dom); /* its MemAvailable now */
uint64_t fake_cache_kib(const struct fake_host *f, int dom);
uint64_t fake_swapped_kib(const struct fake_host *f, int dom);
double fake_major_faults(const struct fake_host *f, int dom);   /* cumulative */
double fake_swap_ins_kib(const struct fake_host *f, int dom);   /* cumulative */
double fake_read_kib(const struct fake_host *f, int dom);       /* its reader's work, cumulative */
unsigned fake_vm_kills(const struct fake_host *f);              /* by their memory cgroups */
uint64_t fake_resident_kib(const struct fake_host *f, int dom); /* its process's resident size */
/* DOM's balloon ignores its targets (no driver, a stuck driver): it stays where it is. */
void fake_set_balloon_stuck(struct fake_host *f, int dom, bool stuck);
double fake_disk_read_kib(const struct fake_host *f, int dom); /* ... of it from the disk */
uint64_t fake_node_free_kib(const struct fake_host *f, int node);
bool fake_wants_more(const struct fake_host *f, int dom); /* its workload is short of memory */

#endif
