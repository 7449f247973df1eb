/* evbridge — the catalogue of evbridged's metrics: every family, its labels and buckets, in
 * one place (docs/operations.md lists the same), and one small recording call per fact.
 *
 * The families live in one process-wide registry created by evb_mx_init() in main before
 * any thread starts; like the logger's configuration this is deliberate process-wide
 * state, so that the RPC runtime, the store's writer and the dispatcher can count without
 * a registry pointer threaded through every options struct. Before evb_mx_init (unit tests,
 * tools) every recording call is a cheap no-op. After it, every function is thread-safe
 * and lock-free (see common/metrics.h).
 *
 * Label sets are bounded: method names are registered up front, codes and kinds are
 * enumerations, connector names are capped (EVB_MX_MAX_CONNECTORS distinct values, then
 * "_other"), org ids appear only with --metrics-per-org (capped too). Labels for "no
 * connector" use "_unknown" ('_' is not allowed in connector names, so it never collides).
 */
#ifndef EVB_SERVER_METRICS_CATALOG_H
#define EVB_SERVER_METRICS_CATALOG_H

#include <stdint.h>

#include "common/metrics.h"

#define EVB_MX_MAX_CONNECTORS 1000
#define EVB_MX_MAX_ORG_SERIES 10000
#define EVB_MX_UNKNOWN "_unknown"

/* Creates the registry and its families. per_org adds an `org` label to the event
 * counters. Call once, before threads start. EVB_ERR_NOMEM. */
evb_err evb_mx_init(int per_org);
/* Frees the registry (after every thread that counts has stopped). */
void evb_mx_fini(void);
/* The registry (NULL before evb_mx_init), for the exposition writer. */
evb_metrics *evb_mx_registry(void);

/* ---- RPC ---- */
/* One finished call: full method name ("/evbridge.v1.EventService/PutEvents"; NULL for
 * unknown methods), gRPC status code, seconds from request to status. */
void evb_mx_rpc(const char *method, int code, double seconds);

/* ---- ingest ---- */
/* Entries of a decoded PutEvents/PublishStream request, before any check. connector is
 * NULL when the request named no known connector. org may be NULL. */
void evb_mx_event_received(const char *connector, const char *org);
void evb_mx_event_published(const char *connector, const char *org);
void evb_mx_event_deduplicated(const char *connector, const char *org);
/* reason: the entry's error code (e.g. SCHEMA_VIOLATION) or the request's status name. */
void evb_mx_event_rejected(const char *connector, const char *org, const char *reason);
/* Seconds spent validating one entry's data against its data model. */
void evb_mx_validation(double seconds);

/* ---- store ---- */
/* One group commit: seconds from BEGIN to COMMIT returned, jobs in it, outcome. */
void evb_mx_store_commit(double seconds, int jobs, int ok);

/* ---- delivery ---- */
/* kind: "http", "robot", "stream" (else "unknown"). outcome: the attempt's recorded outcome
 * (DELIVERED, RETRY, DEAD, NACK, ACK_TIMEOUT, DISCONNECTED, RETURNED; lower-cased in the
 * label). final_state: 0 still pending (a retry follows), 1 delivered, 2 dead.
 * publish_ms: the event's receipt time (wall clock) for the publish-to-success latency.
 * attempt_ms: how long the attempt took (negative: unknown). counted: 0 for attempts that
 * do not count against the retry policy (a subscriber went away). */
void evb_mx_delivery(const char *kind, const char *outcome, int final_state, int counted,
                     int64_t publish_ms, int64_t attempt_ms);
/* n dead letters made pending again. */
void evb_mx_redrive(int64_t n);
/* Subscribe streams joined (+1) / left (-1); deliveries handed to subscribers (+n) and
 * settled or returned (-n). */
void evb_mx_stream_subscribers(int delta);
void evb_mx_stream_in_flight(int delta);

/* ---- gauges set at scrape time (admin listener) ---- */
typedef struct evb_mx_outbox {
    int64_t pending, held, in_flight, dead;
    double oldest_due_age_s; /* 0 when nothing is due */
} evb_mx_outbox;
void evb_mx_set_outbox(const evb_mx_outbox *o);
/* Process figures from /proc/self (the admin listener reads them). */
typedef struct evb_mx_process {
    double rss_bytes, vsize_bytes, cpu_seconds, start_time_s, threads, open_fds, max_fds;
} evb_mx_process;
void evb_mx_set_process(const evb_mx_process *p);
/* 1 when serving (store open, not shutting down), else 0. */
void evb_mx_set_ready(int ready);

#endif
