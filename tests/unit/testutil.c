/* Small helpers shared by the Check suites. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int saved_out = -1, saved_err = -1;

void quiet_begin(void)
{
    int null = open("/dev/null", O_WRONLY);

    if (null < 0)
        return;
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
}

void quiet_end(void)
{
    fflush(stdout);
    fflush(stderr);
    if (saved_out >= 0) {
        dup2(saved_out, 1);
        close(saved_out);
        saved_out = -1;
    }
    if (saved_err >= 0) {
        dup2(saved_err, 2);
        close(saved_err);
        saved_err = -1;
    }
}
