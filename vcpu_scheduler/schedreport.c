/* Output of the vCPU scheduler. */
#include "schedreport.h"

#include "json.h"

/* Above this many pCPUs the human line summarises usage instead of listing it. */
#define LIST_MAX 16

static void print_usage(FILE *out, const struct sched_report *rep)
{
    if (rep->npcpus <= LIST_MAX) {
        fputs("pCPU usage", out);
        for (int p = 0; p < rep->npcpus; p++)
            fprintf(out, " %.0f", rep->pcpu_usage[p] * 100);
        fputs(" %", out);
    } else {
        double lo = 1, hi = 0, sum = 0;
        for (int p = 0; p < rep->npcpus; p++) {
            double u = rep->pcpu_usage[p];
            lo = u < lo ? u : lo;
            hi = u > hi ? u : hi;
            sum += u;
        }
        fprintf(out, "pCPU usage min/avg/max %.0f/%.0f/%.0f %%", lo * 100, sum / rep->npcpus * 100,
                hi * 100);
    }
    fprintf(out, " (std dev %.1f)", rep->usage_spread * 100);
}

void schedreport_print_line(FILE *out, const struct sched_report *rep, const struct snapshot *cur,
                            bool dry_run)
{
    fprintf(out, "period %lu: ", rep->period);
    if (rep->baseline) {
        fprintf(out, "baseline of %zu vCPUs in %zu domains on %d pCPUs\n", rep->nvcpus,
                snapshot_domain_count(cur), rep->npcpus);
        fflush(out);
        return;
    }
    print_usage(out, rep);
    fprintf(out, ", %zu vCPUs: ", rep->nvcpus);
    if (rep->balanced)
        fputs("balanced, no change", out);
    else
        fprintf(out, "%s%zu pin change%s (minimum %zu), demand std dev %.1f -> %.1f",
                dry_run ? "would make " : "", rep->nmoves, rep->nmoves == 1 ? "" : "s",
                rep->lower_bound, rep->spread_before * 100, rep->spread_after * 100);
    if (rep->failed)
        fprintf(out, ", %zu failed", rep->failed);
    fputc('\n', out);
    fflush(out);
}

static void pin_value(struct json *j, int pin)
{
    if (pin >= 0)
        json_int(j, pin);
    else
        json_null(j);
}

void schedreport_print_json(FILE *out, const struct sched_report *rep, const struct snapshot *cur,
                            bool dry_run)
{
    struct json j;
    char uuid[SNAP_UUID_STRLEN];

    json_init(&j, out);
    json_object_begin(&j);
    json_key(&j, "period");
    json_uint(&j, rep->period);
    json_key(&j, "time");
    json_double(&j, (double)snapshot_time_ns(cur) / 1e9, 3);
    json_key(&j, "baseline");
    json_bool(&j, rep->baseline);
    json_key(&j, "dry_run");
    json_bool(&j, dry_run);
    json_key(&j, "usage_measured");
    json_bool(&j, rep->usage_measured);
    json_key(&j, "pcpus");
    json_array_begin(&j);
    for (int p = 0; p < rep->npcpus; p++) {
        json_object_begin(&j);
        json_key(&j, "cpu");
        json_int(&j, p);
        json_key(&j, "usage");
        json_double(&j, rep->pcpu_usage[p] * 100, 1);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "usage_spread");
    json_double(&j, rep->usage_spread * 100, 2);
    json_key(&j, "demand_spread_before");
    json_double(&j, rep->spread_before * 100, 2);
    json_key(&j, "demand_spread_after");
    json_double(&j, rep->spread_after * 100, 2);
    json_key(&j, "vcpus");
    json_array_begin(&j);
    for (size_t i = 0; i < rep->nvcpus; i++) {
        const struct sched_vcpu_info *v = &rep->vcpus[i];
        const struct snap_domain *d = snapshot_domain(cur, v->domain);
        json_object_begin(&j);
        json_key(&j, "domain");
        json_string(&j, snapshot_domain_name(cur, d));
        snapshot_uuid_format(d->uuid, uuid);
        json_key(&j, "uuid");
        json_string(&j, uuid);
        json_key(&j, "vcpu");
        json_uint(&j, v->vcpu);
        json_key(&j, "run");
        json_double(&j, v->run * 100, 1);
        json_key(&j, "wait");
        json_double(&j, v->wait * 100, 1);
        json_key(&j, "demand");
        json_double(&j, v->demand * 100, 1);
        json_key(&j, "pin");
        pin_value(&j, v->pin);
        json_key(&j, "target");
        pin_value(&j, v->target);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "moves");
    json_array_begin(&j);
    for (size_t i = 0; i < rep->nmoves; i++) {
        const struct sched_move *m = &rep->moves[i];
        json_object_begin(&j);
        json_key(&j, "domain");
        json_string(&j, snapshot_domain_name(cur, snapshot_domain(cur, m->domain)));
        json_key(&j, "vcpu");
        json_uint(&j, m->vcpu);
        json_key(&j, "from");
        pin_value(&j, m->from);
        json_key(&j, "to");
        json_int(&j, m->to);
        json_key(&j, "demand");
        json_double(&j, m->demand * 100, 1);
        json_key(&j, "result");
        json_string(&j, m->result == HV_OK     ? "ok"
                        : m->result == HV_GONE ? "domain gone"
                                               : "failed");
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "lower_bound");
    json_uint(&j, rep->lower_bound);
    json_key(&j, "balanced");
    json_bool(&j, rep->balanced);
    json_key(&j, "calls");
    json_uint(&j, rep->calls);
    json_object_end(&j);
    json_end_line(&j);
}
