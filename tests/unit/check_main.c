/* Runs every Check suite; exits non-zero when any test fails. */
#include <stdlib.h>

#include "log.h"
#include "suites.h"

typedef Suite *(*suite_fn)(void);

static const suite_fn suites[] = {
        cli_suite,         json_suite,      carry_suite,       snapshot_suite,  usage_suite,
        hv_suite,          signals_suite,   runner_suite,      fake_hv_suite,   placement_suite,
        scheduler_suite,   mempolicy_suite, coordinator_suite, oracle_suite,    xmlscan_suite,
        util_suite,        topology_suite,  log_suite,         metrics_suite,   shortfall_suite,
        schedreport_suite, memreport_suite, trace_suite,       cpu_trace_suite, share_suite,
};

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    int failed;

    /* Policies log their decisions; keep test output to Check's summary. */
    log_set_level(LOG_ERROR);
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
