/* store_bench — the storage baseline for evb-bench: events/s through the store's real
 * group-commit path (server/store/store.h evb_store_put_events), without gRPC, parsing or
 * validation.
 *
 * T threads each keep S submissions in flight; a submission is B events (the same
 * std.customer / std.contract payloads evb-bench publishes, evb_bench_payload.c), each with
 * a fresh id, the connector's source and type, org, time, dataschema and the benchts
 * extension, plus --deliveries D deliveries (and a filter trace) per event as routing would
 * add. The writer thread batches queued submissions into one transaction and runs each
 * completion after the commit, exactly as for PutEvents. Durability is the server's default
 * (synchronous=FULL) unless --sync normal. The store lives in a fresh temporary directory
 * (or --data-dir), removed at the end unless --keep. Figures: committed events/s in the
 * measured window and submit -> completion latency. Last line: one JSON object.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/id.h"
#include "common/timeutil.h"
#include "evb_bench.h"
#include "server/store/store.h"

typedef struct sub sub;
typedef struct thr thr;

struct sub {
    thr *t;
    int busy;
    int64_t t0;
    evb_put_item *items;
    evb_event *evs;
    evb_ce_ext *ext;
    char (*ids)[40];
    char (*ts)[24];
    char tm[40]; /* RFC 3339 time of the submission's events */
    evb_delivery_new *dels;
    char (*del_ids)[40];
};

struct thr {
    pthread_t tid;
    int idx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sub *subs;
    int inflight;
    uint64_t committed, failed, limit_hits;
    int64_t last_done;
    bench_hist lat;
};

static evb_store *g_store;
static int g_batch = 10, g_inflight = 4, g_threads = 4, g_deliveries;
static int64_t g_tw, g_te;
static bench_payload *g_pool;
static size_t g_npool;
static char g_err[200];

static void committed(void *arg, evb_err err)
{
    sub *s = arg;
    thr *t = s->t;
    int64_t now = bench_now_ns();
    pthread_mutex_lock(&t->mu);
    if (err != EVB_OK) {
        t->failed++;
        if (g_err[0] == 0)
            snprintf(g_err, sizeof g_err, "commit failed: %s", evb_strerror(err));
    } else if (now >= g_tw && now <= g_te) {
        for (int i = 0; i < g_batch; i++)
            t->committed += s->items[i].status == EVB_PUT_PUBLISHED;
        bench_hist_add(&t->lat, now - s->t0);
    }
    t->last_done = now;
    s->busy = 0;
    t->inflight--;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void fill(sub *s, uint64_t *k, int64_t now_ms)
{
    static const char *const types[2] = {"com.bench.crm.customer.changed",
                                         "com.bench.crm.contract.changed"};
    static const char *const schemas[2] = {"evb://registry/models/std.customer",
                                           "evb://registry/models/std.contract"};
    evb_time_format_rfc3339(now_ms, s->tm, sizeof s->tm);
    for (int i = 0; i < g_batch; i++) {
        const bench_payload *p = &g_pool[(*k) % g_npool];
        evb_event *ev = &s->evs[i];
        (void)evb_uuid7(s->ids[i], sizeof s->ids[i]);
        snprintf(s->ts[i], sizeof s->ts[i], "%016lld", (long long)(bench_now_ns() / 1000));
        memset(ev, 0, sizeof *ev);
        ev->id = s->ids[i];
        ev->source = "/connectors/bench-crm";
        ev->type = (char *)types[p->model];
        ev->subject = (char *)p->subject;
        ev->time = s->tm;
        ev->datacontenttype = "application/json";
        ev->dataschema = (char *)schemas[p->model];
        ev->org = "bench-org";
        ev->connector = "bench-crm";
        s->ext[i].name = "benchts";
        s->ext[i].value = s->ts[i];
        ev->ext = &s->ext[i];
        ev->n_ext = 1;
        ev->data = (uint8_t *)p->json;
        ev->data_len = p->len;
        ev->time_ms = now_ms;
        ev->recv_ms = now_ms;
        memset(&s->items[i], 0, sizeof s->items[i]);
        s->items[i].ev = ev;
        if (g_deliveries > 0) {
            for (int d = 0; d < g_deliveries; d++) {
                evb_delivery_new *dn = &s->dels[i * g_deliveries + d];
                (void)evb_uuid7(s->del_ids[i * g_deliveries + d], 40);
                memset(dn, 0, sizeof *dn);
                dn->id = s->del_ids[i * g_deliveries + d];
                dn->connection_id = d == 0 ? "bench-connection-0" : "bench-connection-1";
            }
            s->items[i].deliveries = &s->dels[i * g_deliveries];
            s->items[i].n_deliveries = (size_t)g_deliveries;
            s->items[i].filter_trace = "{\"matched\":[\"bench-connection-0\"],\"unmatched\":[]}";
        }
        (*k)++;
    }
}

static void *thr_main(void *arg)
{
    thr *t = arg;
    uint64_t k = (uint64_t)t->idx * 7;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        int64_t now = bench_now_ns();
        if (now >= g_te)
            break;
        sub *free_sub = NULL;
        for (int i = 0; i < g_inflight && free_sub == NULL; i++)
            if (!t->subs[i].busy)
                free_sub = &t->subs[i];
        if (free_sub == NULL) {
            pthread_cond_wait(&t->cv, &t->mu);
            continue;
        }
        free_sub->busy = 1;
        t->inflight++;
        pthread_mutex_unlock(&t->mu);
        fill(free_sub, &k, evb_now_ms());
        free_sub->t0 = bench_now_ns();
        evb_err rc = evb_store_put_events(g_store, free_sub->items, (size_t)g_batch, committed,
                                          free_sub);
        pthread_mutex_lock(&t->mu);
        if (rc != EVB_OK) {
            free_sub->busy = 0;
            t->inflight--;
            if (rc == EVB_ERR_LIMIT) {
                t->limit_hits++;
                pthread_mutex_unlock(&t->mu);
                usleep(200);
                pthread_mutex_lock(&t->mu);
            } else {
                t->failed++;
                if (g_err[0] == 0)
                    snprintf(g_err, sizeof g_err, "put_events: %s", evb_strerror(rc));
                break;
            }
        }
    }
    while (t->inflight > 0)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static int alloc_subs(thr *t)
{
    t->subs = calloc((size_t)g_inflight, sizeof *t->subs);
    if (t->subs == NULL)
        return -1;
    size_t b = (size_t)g_batch, nd = b * (size_t)(g_deliveries > 0 ? g_deliveries : 1);
    for (int i = 0; i < g_inflight; i++) {
        sub *s = &t->subs[i];
        s->t = t;
        s->items = calloc(b, sizeof *s->items);
        s->evs = calloc(b, sizeof *s->evs);
        s->ext = calloc(b, sizeof *s->ext);
        s->ids = calloc(b, sizeof *s->ids);
        s->ts = calloc(b, sizeof *s->ts);
        s->dels = calloc(nd, sizeof *s->dels);
        s->del_ids = calloc(nd, sizeof *s->del_ids);
        if (!s->items || !s->evs || !s->ext || !s->ids || !s->ts || !s->dels || !s->del_ids)
            return -1;
    }
    return 0;
}

static void free_subs(thr *t)
{
    for (int i = 0; t->subs && i < g_inflight; i++) {
        sub *s = &t->subs[i];
        free(s->items);
        free(s->evs);
        free(s->ext);
        free(s->ids);
        free(s->ts);
        free(s->dels);
        free(s->del_ids);
    }
    free(t->subs);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'w'},     {"batch", 1, 0, 'b'},
        {"threads", 1, 0, 't'},  {"inflight", 1, 0, 'i'},   {"deliveries", 1, 0, 'D'},
        {"sync", 1, 0, 's'},     {"data-dir", 1, 0, 'r'},   {"keep", 0, 0, 'k'},
        {"size", 1, 0, 'z'},     {"max-batch", 1, 0, 'm'},  {"label", 1, 0, 'l'},
        {"help", 0, 0, 'h'},     {0, 0, 0, 0}};
    double duration = 5, warmup = 1;
    const char *sync = "full", *dir = NULL, *label = "";
    int keep = 0, big = 0, max_batch = 0, c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'b': g_batch = atoi(optarg); break;
        case 't': g_threads = atoi(optarg); break;
        case 'i': g_inflight = atoi(optarg); break;
        case 'D': g_deliveries = atoi(optarg); break;
        case 's': sync = optarg; break;
        case 'r': dir = optarg; break;
        case 'k': keep = 1; break;
        case 'z': big = strcmp(optarg, "16k") == 0; break;
        case 'm': max_batch = atoi(optarg); break;
        case 'l': label = optarg; break;
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: store_bench [--duration S] [--warmup S] [--batch B] [--threads T]\n"
                    "       [--inflight S per thread] [--deliveries D per event]\n"
                    "       [--sync full|normal] [--size 1k|16k] [--max-batch JOBS]\n"
                    "       [--data-dir DIR] [--keep] [--label TEXT]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (g_batch < 1 || g_batch > 1000 || g_threads < 1 || g_inflight < 1 || g_deliveries < 0 ||
        g_deliveries > 2 || duration <= 0)
        return 2;
    char tmpl[] = "/tmp/store_bench.XXXXXX";
    if (dir == NULL) {
        dir = mkdtemp(tmpl);
        if (dir == NULL) {
            perror("mkdtemp");
            return 1;
        }
    }
    g_npool = big ? 8 : 64;
    g_pool = calloc(g_npool, sizeof *g_pool);
    size_t bytes = 0;
    for (size_t i = 0; g_pool && i < g_npool; i++) {
        bench_model m = big || i % 2 ? BENCH_CONTRACT : BENCH_CUSTOMER;
        if (bench_payload_make(m, (unsigned)(big ? i : i / 2), big, NULL, &g_pool[i]) != 0)
            return 1;
        bytes += g_pool[i].len;
    }
    evb_store_options so = {.data_dir = dir,
                            .synchronous_normal = strcmp(sync, "normal") == 0,
                            .max_batch = max_batch};
    evb_error e;
    evb_error_clear(&e);
    if (evb_store_open(&so, &g_store, &e) != EVB_OK) {
        fprintf(stderr, "store_bench: %s\n", e.message);
        return 1;
    }
    thr *ts = calloc((size_t)g_threads, sizeof *ts);
    int64_t t_begin = bench_now_ns();
    g_tw = t_begin + (int64_t)(warmup * 1e9);
    g_te = g_tw + (int64_t)(duration * 1e9);
    printf("store_bench: %s, synchronous=%s, batch %d, %d thread(s) x %d submission(s) in "
           "flight, %d deliveries/event, payload mean %zu bytes\n",
           dir, strcmp(sync, "normal") == 0 ? "NORMAL" : "FULL", g_batch, g_threads, g_inflight,
           g_deliveries, bytes / g_npool);
    for (int i = 0; ts && i < g_threads; i++) {
        ts[i].idx = i;
        pthread_mutex_init(&ts[i].mu, NULL);
        pthread_cond_init(&ts[i].cv, NULL);
        if (alloc_subs(&ts[i]) != 0)
            return 1;
    }
    for (int i = 0; i < g_threads; i++)
        pthread_create(&ts[i].tid, NULL, thr_main, &ts[i]);
    uint64_t total = 0, failed = 0, limit = 0;
    bench_hist lat;
    memset(&lat, 0, sizeof lat);
    for (int i = 0; i < g_threads; i++) {
        pthread_join(ts[i].tid, NULL);
        total += ts[i].committed;
        failed += ts[i].failed;
        limit += ts[i].limit_hits;
        bench_hist_merge(&lat, &ts[i].lat);
    }
    evb_store_close(g_store);
    double eps = (double)total / duration;
    printf("committed: %llu events in %.2f s = %.0f events/s (%.0f submissions/s); failed %llu, "
           "queue-full retries %llu%s%s\n",
           (unsigned long long)total, duration, eps, (double)lat.count / duration,
           (unsigned long long)failed, (unsigned long long)limit, g_err[0] ? "; " : "", g_err);
    printf("submit -> commit ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
           bench_hist_quantile_ms(&lat, 0.5), bench_hist_quantile_ms(&lat, 0.99),
           bench_hist_quantile_ms(&lat, 0.999), (double)lat.max_ns / 1e6);
    printf("{\"label\":\"%s\",\"batch\":%d,\"threads\":%d,\"inflight\":%d,\"deliveries\":%d,"
           "\"sync\":\"%s\",\"size\":\"%s\",\"events\":%llu,\"events_per_sec\":%.1f,"
           "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"failed\":%llu}\n",
           label, g_batch, g_threads, g_inflight, g_deliveries, sync, big ? "16k" : "1k",
           (unsigned long long)total, eps, bench_hist_quantile_ms(&lat, 0.5),
           bench_hist_quantile_ms(&lat, 0.99), bench_hist_quantile_ms(&lat, 0.999),
           (unsigned long long)failed);
    for (int i = 0; ts && i < g_threads; i++)
        free_subs(&ts[i]);
    free(ts);
    for (size_t i = 0; i < g_npool; i++)
        bench_payload_fini(&g_pool[i]);
    free(g_pool);
    if (!keep && dir == tmpl) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
        if (system(cmd) != 0)
            fprintf(stderr, "store_bench: could not remove %s\n", tmpl);
    }
    return total > 0 && failed == 0 ? 0 : 1;
}
