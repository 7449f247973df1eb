/* evbridge — evbridged's metric families (catalog.h). The names, help texts and labels here
 * are the contract docs/operations.md documents; change both together.
 */
#include "server/metrics/catalog.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "common/timeutil.h"

static evb_metrics *reg;
static int per_org;

static evb_metric *rpc_handled, *rpc_seconds;
static evb_metric *ev_received, *ev_published, *ev_dedup, *ev_rejected, *validation_seconds;
static evb_metric *commit_seconds, *commit_batch, *commits;
static evb_metric *deliveries, *attempts, *retries, *dead_letters, *redrives;
static evb_metric *delivery_latency, *attempt_seconds;
static evb_metric *outbox_pending, *outbox_held, *outbox_in_flight, *outbox_dead, *oldest_due;
static evb_metric *stream_subs, *stream_in_flight;
static evb_metric *p_rss, *p_vsize, *p_cpu, *p_start, *p_threads, *p_fds, *p_max_fds;
static evb_metric *ready, *build_info;

static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double delivery_buckets[] = {0.01, 0.05, 0.1,  0.25, 0.5,  1,     2.5,  5,
                                          10,   30,   60,   300,  900,  3600,  21600, 86400};
static const double batch_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

#define NB(a) (sizeof(a) / sizeof((a)[0]))

static evb_metric *counter(const char *name, const char *help, const char *const *labels,
                           size_t max)
{
    return evb_metrics_add(reg, EVB_METRIC_COUNTER, name, help, labels, NULL, 0, max);
}

static evb_metric *gauge(const char *name, const char *help, const char *const *labels)
{
    return evb_metrics_add(reg, EVB_METRIC_GAUGE, name, help, labels, NULL, 0, 0);
}

static evb_metric *histogram(const char *name, const char *help, const char *const *labels,
                             const double *b, size_t nb, size_t max)
{
    return evb_metrics_add(reg, EVB_METRIC_HISTOGRAM, name, help, labels, b, nb, max);
}

evb_err evb_mx_init(int with_org)
{
    if (reg != NULL)
        return EVB_OK;
    if (evb_metrics_new(&reg) != EVB_OK)
        return EVB_ERR_NOMEM;
    per_org = with_org != 0;
    static const char *const l_method_code[] = {"method", "code", NULL};
    static const char *const l_method[] = {"method", NULL};
    static const char *const l_conn[] = {"connector*", NULL};
    static const char *const l_conn_org[] = {"connector*", "org*", NULL};
    static const char *const l_conn_reason[] = {"connector*", "reason", NULL};
    static const char *const l_conn_org_reason[] = {"connector*", "org*", "reason", NULL};
    static const char *const l_kind_outcome[] = {"kind", "outcome", NULL};
    static const char *const l_kind[] = {"kind", NULL};
    static const char *const l_outcome[] = {"outcome", NULL};
    static const char *const l_version[] = {"version", NULL};
    const char *const *lc = per_org ? l_conn_org : l_conn;
    const char *const *lcr = per_org ? l_conn_org_reason : l_conn_reason;
    size_t cmax = per_org ? EVB_MX_MAX_ORG_SERIES : EVB_MX_MAX_CONNECTORS;

    build_info = gauge("evb_build_info", "evbridged version (always 1)", l_version);
    ready = gauge("evb_ready", "1 while the store is open and the server is not shutting down",
                  NULL);
    rpc_handled = counter("evb_rpc_handled_total",
                          "gRPC calls completed, by full method name and status code",
                          l_method_code, 2000);
    rpc_seconds = histogram("evb_rpc_handling_seconds",
                            "gRPC call duration from request to status, by method", l_method,
                            latency_buckets, NB(latency_buckets), 200);
    ev_received = counter("evb_events_received_total",
                          "PutEvents/PublishStream entries received in decodable requests",
                          lc, cmax);
    ev_published = counter("evb_events_published_total",
                           "entries committed as new events (result PUBLISHED)", lc, cmax);
    ev_dedup = counter("evb_events_deduplicated_total",
                       "entries answered DEDUPLICATED (same connector, org and id seen before)",
                       lc, cmax);
    ev_rejected = counter("evb_events_rejected_total",
                          "entries rejected, by error code or whole-request status", lcr,
                          per_org ? EVB_MX_MAX_ORG_SERIES : 4 * EVB_MX_MAX_CONNECTORS);
    validation_seconds = histogram("evb_validation_seconds",
                                   "time to validate one entry's data against its data model",
                                   NULL, latency_buckets, NB(latency_buckets), 0);
    commit_seconds = histogram("evb_store_commit_seconds",
                               "group commit duration (BEGIN to COMMIT) of the store writer",
                               NULL, latency_buckets, NB(latency_buckets), 0);
    commit_batch = histogram("evb_store_commit_batch_size", "write jobs per group commit", NULL,
                             batch_buckets, NB(batch_buckets), 0);
    commits = counter("evb_store_commits_total", "group commits, by outcome (ok, failed)",
                      l_outcome, 0);
    attempts = counter("evb_delivery_attempts_total",
                       "delivery attempts recorded, by action kind and attempt outcome",
                       l_kind_outcome, 0);
    deliveries = counter("evb_deliveries_total",
                         "deliveries that reached a final state (delivered, dead), by action kind",
                         l_kind_outcome, 0);
    retries = counter("evb_delivery_retries_total",
                      "attempts after which the delivery was scheduled again (counted failures)",
                      l_kind, 0);
    dead_letters = counter("evb_dead_letters_total", "deliveries dead-lettered, by action kind",
                           l_kind, 0);
    redrives = counter("evb_redrives_total", "dead letters made pending again by a redrive",
                       NULL, 0);
    delivery_latency = histogram("evb_delivery_latency_seconds",
                                 "time from receipt (publish) to successful delivery",
                                 l_kind, delivery_buckets, NB(delivery_buckets), 0);
    attempt_seconds = histogram("evb_delivery_attempt_seconds",
                                "duration of one delivery attempt (HTTP transfer, stream ack)",
                                l_kind, delivery_buckets, NB(delivery_buckets), 0);
    outbox_pending = gauge("evb_deliveries_pending",
                           "deliveries waiting to be sent (PENDING, due or scheduled)", NULL);
    outbox_held = gauge("evb_deliveries_held", "deliveries held (paused connections)", NULL);
    outbox_in_flight = gauge("evb_deliveries_in_flight",
                             "deliveries leased to a transfer or a subscriber", NULL);
    outbox_dead = gauge("evb_deliveries_dead", "dead letters currently stored", NULL);
    oldest_due = gauge("evb_delivery_oldest_due_age_seconds",
                       "how long the oldest due PENDING delivery has been due (0: none)", NULL);
    stream_subs = gauge("evb_stream_subscribers", "Subscribe streams joined to a connection",
                        NULL);
    stream_in_flight = gauge("evb_stream_in_flight",
                             "deliveries handed to subscribers and not yet acked or returned",
                             NULL);
    p_rss = gauge("process_resident_memory_bytes", "resident memory size in bytes", NULL);
    p_vsize = gauge("process_virtual_memory_bytes", "virtual memory size in bytes", NULL);
    p_cpu = counter("process_cpu_seconds_total", "user and system CPU time in seconds", NULL,
                    0);
    p_start = gauge("process_start_time_seconds", "start time since the Unix epoch, seconds",
                    NULL);
    p_threads = gauge("process_threads", "operating-system threads of the process", NULL);
    p_fds = gauge("process_open_fds", "open file descriptors", NULL);
    p_max_fds = gauge("process_max_fds", "maximum number of open file descriptors", NULL);

    evb_metric *all[] = {build_info, ready, rpc_handled, rpc_seconds, ev_received,
                         ev_published, ev_dedup, ev_rejected, validation_seconds,
                         commit_seconds, commit_batch, commits, attempts, deliveries, retries,
                         dead_letters, redrives, delivery_latency, attempt_seconds,
                         outbox_pending, outbox_held, outbox_in_flight, outbox_dead, oldest_due,
                         stream_subs, stream_in_flight, p_rss, p_vsize, p_cpu, p_start,
                         p_threads, p_fds, p_max_fds};
    for (size_t i = 0; i < NB(all); i++) {
        if (all[i] == NULL) {
            evb_mx_fini();
            return EVB_ERR_NOMEM;
        }
    }
    const char *v[] = {EVB_VERSION};
    evb_metric_set(build_info, v, 1);
    return EVB_OK;
}

void evb_mx_fini(void)
{
    evb_metrics_free(reg);
    reg = NULL;
    evb_metric **all[] = {&rpc_handled, &rpc_seconds, &ev_received, &ev_published, &ev_dedup,
                          &ev_rejected, &validation_seconds, &commit_seconds, &commit_batch,
                          &commits, &deliveries, &attempts, &retries, &dead_letters, &redrives,
                          &delivery_latency, &attempt_seconds, &outbox_pending, &outbox_held,
                          &outbox_in_flight, &outbox_dead, &oldest_due, &stream_subs,
                          &stream_in_flight, &p_rss, &p_vsize, &p_cpu, &p_start, &p_threads,
                          &p_fds, &p_max_fds, &ready, &build_info};
    for (size_t i = 0; i < NB(all); i++)
        *all[i] = NULL;
}

evb_metrics *evb_mx_registry(void)
{
    return reg;
}

/* ---- RPC ---- */

static const char *const code_names[] = {
    "OK",           "CANCELLED",        "UNKNOWN",          "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED", "NOT_FOUND",   "ALREADY_EXISTS",   "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",        "UNAVAILABLE",      "DATA_LOSS",
    "UNAUTHENTICATED"};

void evb_mx_rpc(const char *method, int code, double seconds)
{
    if (reg == NULL)
        return;
    const char *m = method != NULL ? method : "unknown";
    const char *c = code >= 0 && code < (int)NB(code_names) ? code_names[code] : "UNKNOWN";
    const char *v[] = {m, c};
    evb_metric_add(rpc_handled, v, 1);
    evb_metric_observe(rpc_seconds, v, seconds);
}

/* ---- ingest ---- */

static void event_count(evb_metric *m, const char *connector, const char *org,
                        const char *reason)
{
    if (reg == NULL)
        return;
    const char *c = connector != NULL && connector[0] ? connector : EVB_MX_UNKNOWN;
    const char *o = org != NULL && org[0] ? org : EVB_MX_UNKNOWN;
    const char *v[3] = {c, per_org ? o : reason, per_org ? reason : NULL};
    evb_metric_add(m, v, 1);
}

void evb_mx_event_received(const char *connector, const char *org)
{
    event_count(ev_received, connector, org, NULL);
}

void evb_mx_event_published(const char *connector, const char *org)
{
    event_count(ev_published, connector, org, NULL);
}

void evb_mx_event_deduplicated(const char *connector, const char *org)
{
    event_count(ev_dedup, connector, org, NULL);
}

void evb_mx_event_rejected(const char *connector, const char *org, const char *reason)
{
    /* reasons are the ingest error codes and status names: a closed set of upper-case
     * words; anything else is folded so the label stays bounded */
    int ok = reason != NULL && reason[0] != '\0' && strlen(reason) <= 40;
    for (const char *p = reason; ok && *p; p++)
        ok = isupper((unsigned char)*p) || *p == '_';
    event_count(ev_rejected, connector, org, ok ? reason : "OTHER");
}

void evb_mx_validation(double seconds)
{
    evb_metric_observe(validation_seconds, NULL, seconds);
}

/* ---- store ---- */

void evb_mx_store_commit(double seconds, int jobs, int ok)
{
    if (reg == NULL)
        return;
    const char *v[] = {ok ? "ok" : "failed"};
    evb_metric_add(commits, v, 1);
    if (ok) {
        evb_metric_observe(commit_seconds, NULL, seconds);
        evb_metric_observe(commit_batch, NULL, jobs);
    }
}

/* ---- delivery ---- */

static const char *kind_label(const char *kind)
{
    if (kind != NULL && (strcmp(kind, "http") == 0 || strcmp(kind, "robot") == 0 ||
                         strcmp(kind, "stream") == 0))
        return kind;
    return "unknown";
}

static const char *outcome_label(const char *o)
{
    static const char *const known[][2] = {
        {"DELIVERED", "delivered"},   {"RETRY", "retry"},
        {"DEAD", "dead"},             {"NACK", "nack"},
        {"ACK_TIMEOUT", "ack_timeout"}, {"DISCONNECTED", "disconnected"},
        {"RETURNED", "returned"}};
    for (size_t i = 0; o != NULL && i < NB(known); i++)
        if (strcmp(o, known[i][0]) == 0)
            return known[i][1];
    return "other";
}

void evb_mx_delivery(const char *kind, const char *outcome, int final_state, int counted,
                     int64_t publish_ms, int64_t attempt_ms)
{
    if (reg == NULL)
        return;
    const char *k = kind_label(kind);
    const char *v[] = {k, outcome_label(outcome)};
    evb_metric_add(attempts, v, 1);
    if (attempt_ms >= 0)
        evb_metric_observe(attempt_seconds, v, (double)attempt_ms / 1000.0);
    if (final_state == 0) {
        if (counted)
            evb_metric_add(retries, v, 1);
        return;
    }
    const char *f[] = {k, final_state == 1 ? "delivered" : "dead"};
    evb_metric_add(deliveries, f, 1);
    if (final_state == 2) {
        evb_metric_add(dead_letters, v, 1);
    } else if (publish_ms > 0) {
        int64_t ms = evb_now_ms() - publish_ms;
        evb_metric_observe(delivery_latency, v, ms > 0 ? (double)ms / 1000.0 : 0.0);
    }
}

void evb_mx_redrive(int64_t n)
{
    if (n > 0)
        evb_metric_add(redrives, NULL, (double)n);
}

void evb_mx_stream_subscribers(int delta)
{
    evb_metric_add(stream_subs, NULL, delta);
}

void evb_mx_stream_in_flight(int delta)
{
    evb_metric_add(stream_in_flight, NULL, delta);
}

/* ---- scrape-time gauges ---- */

void evb_mx_set_outbox(const evb_mx_outbox *o)
{
    evb_metric_set(outbox_pending, NULL, (double)o->pending);
    evb_metric_set(outbox_held, NULL, (double)o->held);
    evb_metric_set(outbox_in_flight, NULL, (double)o->in_flight);
    evb_metric_set(outbox_dead, NULL, (double)o->dead);
    evb_metric_set(oldest_due, NULL, o->oldest_due_age_s);
}

void evb_mx_set_process(const evb_mx_process *p)
{
    evb_metric_set(p_rss, NULL, p->rss_bytes);
    evb_metric_set(p_vsize, NULL, p->vsize_bytes);
    evb_metric_set(p_cpu, NULL, p->cpu_seconds);
    evb_metric_set(p_start, NULL, p->start_time_s);
    evb_metric_set(p_threads, NULL, p->threads);
    evb_metric_set(p_fds, NULL, p->open_fds);
    evb_metric_set(p_max_fds, NULL, p->max_fds);
}

void evb_mx_set_ready(int is_ready)
{
    evb_metric_set(ready, NULL, is_ready ? 1 : 0);
}
