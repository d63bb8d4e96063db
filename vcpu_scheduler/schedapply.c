/* Applying the plan: the planned pin changes (and emulator pins) made through the hypervisor,
 * each logged. */
#include "sched_state.h"

#include "log.h"

/* Logs pin change M as made ("pinned") or, in a dry run, as planned ("would pin"); a floating
 * vCPU comes from "floating", and the NUMA nodes are said when it crosses to another. */
static void log_move(const struct sched *s, const struct snap *cur, const struct sched_move *m)
{
    const char *name = snap_domain_name(cur, snap_domain(cur, m->domain));
    double pct = m->demand * 100;
    bool dry = s->cfg.dry_run;

    if (m->from < 0 && dry)
        log_info("would pin '%s' vCPU %u: floating -> pCPU %d (demand %.0f%%)", name, m->vcpu,
                 m->to, pct);
    else if (m->from < 0)
        log_info("pinned '%s' vCPU %u: floating -> pCPU %d (demand %.0f%%)", name, m->vcpu, m->to,
                 pct);
    else if (m->node_from >= 0 && m->node_from != m->node_to && dry)
        log_info("would pin '%s' vCPU %u: pCPU %d -> pCPU %d (node %d -> %d, demand %.0f%%)", name,
                 m->vcpu, m->from, m->to, m->node_from, m->node_to, pct);
    else if (m->node_from >= 0 && m->node_from != m->node_to)
        log_info("pinned '%s' vCPU %u: pCPU %d -> pCPU %d (node %d -> %d, demand %.0f%%)", name,
                 m->vcpu, m->from, m->to, m->node_from, m->node_to, pct);
    else if (dry)
        log_info("would pin '%s' vCPU %u: pCPU %d -> pCPU %d (demand %.0f%%)", name, m->vcpu,
                 m->from, m->to, pct);
    else
        log_info("pinned '%s' vCPU %u: pCPU %d -> pCPU %d (demand %.0f%%)", name, m->vcpu, m->from,
                 m->to, pct);
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
