/* Small helpers shared by the Check suites. */
#ifndef VMB_TESTUTIL_H
#define VMB_TESTUTIL_H

/* Sends stdout and stderr to /dev/null until quiet_end(); nestable once. */
void quiet_begin(void);
void quiet_end(void);

#endif
