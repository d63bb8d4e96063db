/* Applying the plan: the planned pin changes (and emulator pins) made through the hypervisor,
 * each logged. */
#include "sched_state.h"

#include <stdio.h>

#include "log.h"

static void log_move(const struct sched *s, const struct snap *cur, const struct sched_move *m)
{
    const char *name = snap_domain_name(cur, snap_domain(cur, m->domain));
    char from[16];

    if (m->from >= 0)
        snprintf(from, sizeof(from), "pCPU %d", m->from);
    else
        snprintf(from, sizeof(from), "floating");
    if (m->node_from >= 0 && m->node_from != m->node_to)
        log_info("%s '%s' vCPU %u: %s -> pCPU %d (node %d -> %d, demand %.0f%%)",
                 s->cfg.dry_run ? "would pin" : "pinned", name, m->vcpu, from, m->to, m->node_from,
                 m->node_to, m->demand * 100);
    else
        log_info("%s '%s' vCPU %u: %s -> pCPU %d (demand %.0f%%)",
                 s->cfg.dry_run ? "would pin" : "pinned", name, m->vcpu, from, m->to,
                 m->demand * 100);
}

/* Pins one planned move through HV and records its result. */
static void apply_move(struct sched *s, struct hv *hv, const struct snap *cur, struct sched_move *m)
{
    struct vstate *st = (struct vstate *)s->state.cur + m->index;
    const struct snap_domain *dom = snap_domain(cur, m->domain);

    if (s->cfg.restore_pins && !st->remembered) {
        pins_remember(s, hv, dom->uuid, m->vcpu, s->npcpus);
        st->remembered = true;
    }
    m->result = hv_pin_vcpu(hv, dom->uuid, m->vcpu, m->to, s->npcpus);
    if (m->result == HV_OK) {
        st->moved_at = s->last_move = s->period;
        /* A vCPU known to be bursty when moved stays longer where it goes. */
        st->cooldown = st->swing > SCHED_BURSTY ? SCHED_COOLDOWN_BURSTY : SCHED_COOLDOWN;
    } else if (m->result == HV_GONE) {
        log_debug("'%s' vanished before its vCPU %u could be pinned", snap_domain_name(cur, dom),
                  m->vcpu);
    } else {
        s->failed++;
        if (m->result == HV_FAIL) {
            /* The host refuses it (a cgroup cpuset): learned, not retried every period. */
            hostview_refuse(s->view, dom->uuid, m->vcpu, m->to);
            log_warning("the host refused pCPU %d to '%s' vCPU %u; not trying it again", m->to,
                        snap_domain_name(cur, dom), m->vcpu);
        }
    }
}

void schedapply_run(struct sched *s, struct hv *hv, const struct snap *cur)
{
    s->emulator_pins = 0;
    if (!s->cfg.dry_run && s->emulator_cpus)
        emulator_apply(s, hv, cur);
    for (size_t i = 0; i < s->nmoves; i++) {
        struct sched_move *m = &s->moves[i];

        if (!s->cfg.dry_run)
            apply_move(s, hv, cur, m);
        if (m->result == HV_OK)
            log_move(s, cur, m);
    }
}
