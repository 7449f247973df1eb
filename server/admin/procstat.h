/* evbridge — process figures from /proc/self (Linux), for the admin listener's /metrics.
 * Private to server/admin/. */
#ifndef EVB_SERVER_ADMIN_PROCSTAT_H
#define EVB_SERVER_ADMIN_PROCSTAT_H

#include "server/metrics/catalog.h"

/* Fills *out; figures that cannot be read are left at 0. Thread-safe. */
void evb_procstat_read(evb_mx_process *out);

#endif
