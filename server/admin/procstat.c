/* evbridge — process figures from /proc/self (procstat.h).
 *
 * /proc/self/stat gives CPU ticks, threads, start time (ticks after boot), virtual and
 * resident size (pages); /proc/stat's btime turns the start into epoch seconds; open file
 * descriptors are the entries of /proc/self/fd and the limit is RLIMIT_NOFILE. The names
 * follow the Prometheus client conventions (process_*).
 * Spec: proc(5); https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics
 */
#include "server/admin/procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static double boot_time_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    char line[256];
    double bt = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "btime ", 6) == 0) {
            bt = strtod(line + 6, NULL);
            break;
        }
    }
    fclose(f);
    return bt;
}

static void read_stat(evb_mx_process *out)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL)
        return;
    /* fields from 3 (state) on, separated by single spaces */
    char *save = NULL;
    char *tok = strtok_r(p + 1, " ", &save);
    double ticks = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    for (int field = 3; tok != NULL; field++, tok = strtok_r(NULL, " ", &save)) {
        double v = strtod(tok, NULL);
        switch (field) {
        case 14: /* utime */
        case 15: /* stime */
            out->cpu_seconds += ticks > 0 ? v / ticks : 0;
            break;
        case 20:
            out->threads = v;
            break;
        case 22:
            out->start_time_s = boot_time_s() + (ticks > 0 ? v / ticks : 0);
            break;
        case 23:
            out->vsize_bytes = v;
            break;
        case 24:
            out->rss_bytes = v * page;
            break;
        default:
            break;
        }
        if (field >= 24)
            break;
    }
}

static double count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the directory stream's own descriptor */
}

void evb_procstat_read(evb_mx_process *out)
{
    memset(out, 0, sizeof *out);
    read_stat(out);
    out->open_fds = count_fds();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : (double)rl.rlim_cur;
}
