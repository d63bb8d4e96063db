/* Weighted fair shares (pure): what each vCPU would get if the pCPUs' time were shared in
 * proportion to the vCPUs' weights (their guests' CPU shares), none getting more than it
 * demands: weighted water-filling, as CFS shares one pCPU among tasks of different weights. */
#ifndef VMB_SHARE_H
#define VMB_SHARE_H

#include <stddef.h>

/* The level L at which N vCPUs of DEMAND and WEIGHT (> 0) fill CAPACITY pCPUs: vCPU i gets
 * min(DEMAND[i], L * WEIGHT[i]). INFINITY when the demands fit; -1 when out of memory. */
double share_level(const double *demand, const double *weight, size_t n, double capacity);

#endif
