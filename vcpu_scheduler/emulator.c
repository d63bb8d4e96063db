/* Emulator threads: their load measured per domain, and pinned to --emulator-cpus. */
#include "sched_state.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

int emulator_derive(struct sched *s, const struct snap *cur)
{
    s->ndomains = snap_domain_count(cur);
    if (util_grow((void **)&s->emulator, &s->cap_emulator, s->ndomains ? s->ndomains : 1,
                  sizeof(double)) < 0)
        return -1;
    for (size_t d = 0; d < s->ndomains; d++)
        s->emulator[d] = hostview_emulator(s->view, d);
    return 0;
}

/* The record of domain UUID's emulator pin, added when missing (NULL when out of memory). */
static struct emu_saved *emu_record(struct sched *s, const unsigned char *uuid)
{
    for (size_t i = 0; i < s->nemu; i++)
        if (snap_uuid_cmp(s->emu[i].uuid, uuid) == 0)
            return &s->emu[i];
    if (util_grow((void **)&s->emu, &s->cap_emu, s->nemu + 1, sizeof(*s->emu)) < 0)
        return NULL;
    memset(&s->emu[s->nemu], 0, sizeof(s->emu[s->nemu]));
    memcpy(s->emu[s->nemu].uuid, uuid, SNAP_UUID_LEN);
    return &s->emu[s->nemu++];
}

/* The --emulator-cpus map at the host's size into MAP; false when it names no online pCPU. */
static bool emulator_target(const struct sched *s, const struct snap *cur, unsigned char *map)
{
    size_t len = snap_maplen(cur);
    bool any = false;

    memset(map, 0, len);
    for (int p = 0; p < s->npcpus && (size_t)p / 8 < s->cfg.maplen; p++)
        if (s->emulator_cpus && util_bit(s->emulator_cpus, p) && snap_pcpu_online(cur, p)) {
            map[p / 8] |= (unsigned char)(1u << (p % 8));
            any = true;
        }
    return any;
}

/* Pins domain D's emulator threads to WANT (LEN bytes), remembering what they had. */
static void pin_emulator(struct sched *s, struct hv *hv, const struct snap *cur,
                         const struct snap_domain *d, const unsigned char *want)
{
    size_t len = snap_maplen(cur);
    const unsigned char *now = snap_domain_map(cur, d, SNAP_MAP_EMULATOR);
    struct emu_saved *e = emu_record(s, d->uuid);
    char list[128];
    int rc;

    if (!e || e->failed)
        return;
    if (!e->map && s->cfg.restore_pins && (e->map = calloc(len, 1))) {
        /* What it had; unknown, the online pCPUs (libvirt's default). */
        for (int p = 0; p < s->npcpus; p++)
            if (now ? util_bit(now, p) : snap_pcpu_online(cur, p))
                e->map[p / 8] |= (unsigned char)(1u << (p % 8));
    }
    rc = hv_set_emulator_affinity(hv, d->uuid, want, len);
    util_format_cpulist(want, s->npcpus, list, sizeof(list));
    if (rc == HV_OK) {
        s->emulator_pins++;
        log_info("pinned the emulator threads of '%s' to pCPUs %s", snap_domain_name(cur, d), list);
    } else if (rc == HV_FAIL) {
        e->failed = true;
        log_warning("cannot pin the emulator threads of '%s' to pCPUs %s; not trying again",
                    snap_domain_name(cur, d), list);
    }
}

void emulator_apply(struct sched *s, struct hv *hv, const struct snap *cur)
{
    size_t len = snap_maplen(cur);
    unsigned char *want = calloc(len, 1);

    if (want && emulator_target(s, cur, want)) {
        for (size_t di = 0; di < snap_domain_count(cur); di++) {
            const struct snap_domain *d = snap_domain(cur, di);
            const unsigned char *now = snap_domain_map(cur, d, SNAP_MAP_EMULATOR);
            if ((d->cfg & SNAP_CFG_KNOWN) && !(now && memcmp(now, want, len) == 0))
                pin_emulator(s, hv, cur, d, want);
        }
    }
    free(want);
}

size_t emulator_restore(struct sched *s, struct hv *hv)
{
    size_t len = hv_maplen(s->npcpus), n = 0;

    for (size_t i = 0; i < s->nemu; i++) {
        if (s->emu[i].map && !s->emu[i].failed &&
            hv_set_emulator_affinity(hv, s->emu[i].uuid, s->emu[i].map, len) == HV_OK)
            n++;
        free(s->emu[i].map);
    }
    s->nemu = 0;
    return n;
}
