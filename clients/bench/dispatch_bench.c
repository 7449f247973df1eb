/* dispatch_bench — the outbox bookkeeping of delivery through the store alone: how many
 * deliveries a second the store can claim and mark delivered, by claim size, without HTTP,
 * gRPC or a dispatcher (server/store/store_dispatch.h).
 *
 * It puts --events events with one delivery each (the same ~1.2 KB std.customer /
 * std.contract payloads as store_bench and evb-bench; not measured), then, for each claim
 * size B of --claim, drains --rows of them as a dispatcher does: claim B (one writer job,
 * events read after the commit), complete each one DELIVERED without waiting (one writer
 * job each, sharing group commits), wait for those completions, claim again. Figures per
 * B: rows/s and the process CPU per row (user + system, getrusage: the steadier figure on
 * a shared machine). SQLite in a fresh temporary directory (synchronous=FULL unless --sync
 * normal), or PostgreSQL with --store URL (use an empty database). Last line: JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/id.h"
#include "common/timeutil.h"
#include "evb_bench.h"
#include "server/store/store.h"
#include "server/store/store_dispatch.h"

#define PUT_BATCH 100
#define MAX_SIZES 8

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long pending;
    long failed;
} waiter;

static waiter g_w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void done_cb(void *arg, evb_err err)
{
    (void)arg;
    pthread_mutex_lock(&g_w.mu);
    g_w.pending--;
    if (err != EVB_OK)
        g_w.failed++;
    pthread_cond_broadcast(&g_w.cv);
    pthread_mutex_unlock(&g_w.mu);
}

static void wait_all(void)
{
    pthread_mutex_lock(&g_w.mu);
    while (g_w.pending > 0)
        pthread_cond_wait(&g_w.cv, &g_w.mu);
    pthread_mutex_unlock(&g_w.mu);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Puts n events with one delivery each. */
static int preload(evb_store *s, long n, const bench_payload *pool, size_t npool)
{
    static const char *const types[2] = {"com.bench.crm.customer.changed",
                                         "com.bench.crm.contract.changed"};
    evb_put_item *items = calloc(PUT_BATCH, sizeof *items);
    evb_event *evs = calloc(PUT_BATCH, sizeof *evs);
    evb_delivery_new *dels = calloc(PUT_BATCH, sizeof *dels);
    char(*ids)[40] = calloc(PUT_BATCH, sizeof *ids);
    char(*dids)[40] = calloc(PUT_BATCH, sizeof *dids);
    char tm[40];
    int rc = items && evs && dels && ids && dids ? 0 : -1;
    for (long k = 0; rc == 0 && k < n;) {
        int64_t now = evb_now_ms();
        evb_time_format_rfc3339(now, tm, sizeof tm);
        size_t b = 0;
        for (; b < PUT_BATCH && k < n; b++, k++) {
            const bench_payload *p = &pool[(size_t)k % npool];
            evb_event *ev = &evs[b];
            memset(ev, 0, sizeof *ev);
            (void)evb_uuid7(ids[b], sizeof ids[b]);
            (void)evb_uuid7(dids[b], sizeof dids[b]);
            ev->id = ids[b];
            ev->source = "/connectors/bench-crm";
            ev->type = (char *)types[p->model];
            ev->subject = (char *)p->subject;
            ev->time = tm;
            ev->datacontenttype = "application/json";
            ev->org = "bench-org";
            ev->connector = "bench-crm";
            ev->data = (uint8_t *)p->json;
            ev->data_len = p->len;
            ev->time_ms = ev->recv_ms = now;
            memset(&dels[b], 0, sizeof dels[b]);
            dels[b].id = dids[b];
            dels[b].connection_id = "bench-connection";
            memset(&items[b], 0, sizeof items[b]);
            items[b].ev = ev;
            items[b].deliveries = &dels[b];
            items[b].n_deliveries = 1;
        }
        pthread_mutex_lock(&g_w.mu);
        g_w.pending++;
        pthread_mutex_unlock(&g_w.mu);
        if (evb_store_put_events(s, items, b, done_cb, NULL) != EVB_OK) {
            done_cb(NULL, EVB_ERR_INTERNAL);
            rc = -1;
        }
        wait_all(); /* the arrays are reused */
    }
    free(items);
    free(evs);
    free(dels);
    free(ids);
    free(dids);
    return rc == 0 && g_w.failed == 0 ? 0 : -1;
}

/* Claims B at a time and completes each, until `rows` are done or nothing is due. */
static long drain(evb_store *s, int b, long rows)
{
    long done = 0;
    while (done < rows) {
        int limit = rows - done < b ? (int)(rows - done) : b;
        evb_claim *cs = NULL;
        size_t n = 0;
        if (evb_store_delivery_claim(s, evb_now_ms(), 60000, limit, NULL, 0, &cs, &n) != EVB_OK ||
            n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            evb_attempt a = {.attempt = cs[i].delivery->attempts,
                             .time_ms = evb_now_ms(),
                             .outcome = "DELIVERED",
                             .http_status = 200,
                             .latency_ms = 1};
            pthread_mutex_lock(&g_w.mu);
            g_w.pending++;
            pthread_mutex_unlock(&g_w.mu);
            evb_err rc;
            while ((rc = evb_store_delivery_complete_async(s, cs[i].delivery->id, &a,
                                                           EVB_DELIVERY_DELIVERED, 0, done_cb,
                                                           NULL)) == EVB_ERR_LIMIT)
                usleep(100);
            if (rc != EVB_OK) {
                done_cb(NULL, rc);
                break;
            }
        }
        wait_all();
        done += (long)n;
        evb_claim_array_free(cs, n);
    }
    return done;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"events", 1, 0, 'e'}, {"rows", 1, 0, 'r'},  {"claim", 1, 0, 'c'}, {"store", 1, 0, 'u'},
        {"sync", 1, 0, 's'},   {"label", 1, 0, 'l'}, {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    long events = 0, rows = 10000;
    const char *claim = "10,100,1000", *url = NULL, *sync = "full", *label = "";
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'e':
            events = atol(optarg);
            break;
        case 'r':
            rows = atol(optarg);
            break;
        case 'c':
            claim = optarg;
            break;
        case 'u':
            url = optarg;
            break;
        case 's':
            sync = optarg;
            break;
        case 'l':
            label = optarg;
            break;
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: dispatch_bench [--claim B[,B...]] [--rows N per size] [--events N]\n"
                    "       [--sync full|normal] [--store postgres://...] [--label TEXT]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    int sizes[MAX_SIZES], n_sizes = 0;
    for (const char *p = claim; *p && n_sizes < MAX_SIZES;) {
        sizes[n_sizes] = atoi(p);
        if (sizes[n_sizes] < 1 || sizes[n_sizes] > 1000 || rows < 1)
            return 2;
        n_sizes++;
        p = strchr(p, ',');
        if (p == NULL)
            break;
        p++;
    }
    if (events < rows * n_sizes)
        events = rows * n_sizes;
    char tmpl[] = "/tmp/dispatch_bench.XXXXXX";
    const char *dir = url == NULL ? mkdtemp(tmpl) : NULL;
    if (url == NULL && dir == NULL) {
        perror("mkdtemp");
        return 1;
    }
    bench_payload pool[16];
    for (size_t i = 0; i < 16; i++)
        if (bench_payload_make(i % 2 ? BENCH_CONTRACT : BENCH_CUSTOMER, (unsigned)(i / 2), 0, NULL,
                               &pool[i]) != 0)
            return 1;
    evb_store_options so = {
        .url = url, .data_dir = dir, .synchronous_normal = strcmp(sync, "normal") == 0};
    evb_error e;
    evb_error_clear(&e);
    evb_store *s = NULL;
    if (evb_store_open(&so, &s, &e) != EVB_OK) {
        fprintf(stderr, "dispatch_bench: %s\n", e.message);
        return 1;
    }
    printf("dispatch_bench: %s, synchronous=%s, %ld events with one delivery each\n",
           url ? "PostgreSQL" : dir, strcmp(sync, "normal") == 0 ? "NORMAL" : "FULL", events);
    fflush(stdout);
    int rc = preload(s, events, pool, 16) == 0 ? 0 : 1;
    double rps[MAX_SIZES] = {0}, us[MAX_SIZES] = {0};
    for (int i = 0; rc == 0 && i < n_sizes; i++) {
        double c0 = cpu_s();
        int64_t t0 = evb_mono_ns();
        long n = drain(s, sizes[i], rows);
        double secs = (double)(evb_mono_ns() - t0) / 1e9, cpu = cpu_s() - c0;
        rps[i] = (double)n / secs;
        us[i] = n ? cpu / (double)n * 1e6 : 0;
        printf("claim %4d: %ld rows in %.2f s = %.0f rows/s, %.1f us CPU per row%s\n", sizes[i], n,
               secs, rps[i], us[i], g_w.failed ? " (some completions failed)" : "");
        fflush(stdout);
        if (n < rows || g_w.failed)
            rc = 1;
    }
    evb_store_close(s);
    printf("{\"label\":\"%s\",\"store\":\"%s\",\"sync\":\"%s\",\"rows\":%ld", label,
           url ? "postgres" : "sqlite", sync, rows);
    for (int i = 0; i < n_sizes; i++)
        printf(",\"claim_%d_rows_per_sec\":%.1f,\"claim_%d_cpu_us_per_row\":%.2f", sizes[i], rps[i],
               sizes[i], us[i]);
    printf("}\n");
    for (size_t i = 0; i < 16; i++)
        bench_payload_fini(&pool[i]);
    if (dir != NULL) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "dispatch_bench: could not remove %s\n", dir);
    }
    return rc;
}
