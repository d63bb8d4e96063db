/* The Check suites, one per module; check_main.c runs them all. */
#ifndef VMB_SUITES_H
#define VMB_SUITES_H

#include <check.h>

Suite *cli_suite(void);
Suite *json_suite(void);
Suite *snapshot_suite(void);
Suite *usage_suite(void);
Suite *carry_suite(void);
Suite *hv_suite(void);
Suite *signals_suite(void);
Suite *runner_suite(void);
Suite *fake_hv_suite(void);
Suite *placement_suite(void);
Suite *scheduler_suite(void);
Suite *mempolicy_suite(void);
Suite *coordinator_suite(void);
Suite *oracle_suite(void);
Suite *xmlscan_suite(void);
Suite *util_suite(void);
Suite *topology_suite(void);
Suite *log_suite(void);
Suite *metrics_suite(void);
Suite *shortfall_suite(void);
Suite *schedreport_suite(void);
Suite *memreport_suite(void);
Suite *trace_suite(void);
Suite *cpu_trace_suite(void);
Suite *share_suite(void);

#endif
