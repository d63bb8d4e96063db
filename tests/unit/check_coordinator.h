/* The coordinator's Check suite, fed by one file per behaviour group (check_coordinator*.c). */
#ifndef VMB_CHECK_COORDINATOR_H
#define VMB_CHECK_COORDINATOR_H

#include <check.h>

/* Memory goes where it is needed: growth, the reserve, shares, failures and churn. */
TCase *coordinator_feeding_tcase(void);

/* Guest statistics judged before they are used: missing, stale, impossible, late, repeated,
 * partial; page cache and pressure read from them. */
TCase *coordinator_statistics_tcase(void);

/* Invariants over random scenarios with hostile guests, and a million random statistics. */
TCase *coordinator_properties_tcase(void);

#endif
