/* Small helpers shared by the Check suites. */
#ifndef VMB_TESTUTIL_H
#define VMB_TESTUTIL_H

/* Sends stdout and stderr to /dev/null until quiet_end(); nestable once. */
void quiet_begin(void);
void quiet_end(void);

#include <stdbool.h>
#include <stddef.h>

/* Checks TEXT against the Prometheus text format as a strict reader would: HELP and TYPE lines
 * before each family's samples, a family given once, samples named after their family,
 * counters named *_total, label values quoted with only \\, \" and \n escaped, numbers that
 * parse. Returns true, or false with the reason and the line in WHY. */
bool testutil_valid_exposition(const char *text, char *why, size_t size);

#endif
