/* evbridge — private to the dispatcher: target cache and transfer state. */
#ifndef EVB_SERVER_DELIVERY_DISPATCH_INT_H
#define EVB_SERVER_DELIVERY_DISPATCH_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/buf.h"
#include "server/delivery/dispatcher.h"
#include "server/delivery/request.h"
#include "server/delivery/retry.h"
#include "server/delivery/robot.h"
#include "server/routing/transform.h"
#include "server/store/store_dispatch.h"

#define ACTION_HTTP 1
#define ACTION_ROBOT 2
#define ACTION_STREAM 3

/* A token bucket: `rate` tokens a second, at most `burst`. rate 0 = unlimited. */
typedef struct bucket {
    double rate, burst, tokens;
    int64_t last_ms;
} bucket;

typedef struct action_entry {
    char *name;
    int kind;
    int disabled;
    char *disabled_reason;
    evb_http_target *http;
    evb_robot_target *robot;
    bucket robot_limit;        /* 20 messages a minute per robot */
    int consecutive_failures;  /* circuit breaker */
    int64_t open_until_ms;
    int half_open_in_flight;
} action_entry;

typedef struct conn_entry {
    char *id;
    char *action;
    action_entry *act;         /* resolved; NULL when the action is gone */
    int state;
    evb_transform *transform;  /* NULL = ORIGINAL */
    evb_retry_policy retry;
    int max_concurrency;
    int in_flight;
    int queued;                /* claimed, waiting in the dispatcher's ready queue */
    bucket rate;
    double done_per_s;         /* finished transfers a second (smoothed): sizes prefetching */
    int64_t done_since_ms;     /* start of the current counting window (monotonic) */
    int done_n;                /* finished in the current window */
} conn_entry;

typedef struct target_cache {
    uint64_t generation;
    conn_entry **conns;  /* sorted by id */
    size_t n_conns;
    action_entry **actions; /* sorted by name */
    size_t n_actions;
} target_cache;

/* Rebuilds the cache when the store's routing generation moved; keeps breaker and in-flight
 * counts of entries that survive. Returns EVB_OK or a store error (old cache kept). */
evb_err evb_targets_refresh(target_cache *c, evb_store *store);
void evb_targets_fini(target_cache *c);
conn_entry *evb_targets_conn(const target_cache *c, const char *id);

/* Token buckets. */
void evb_bucket_init(bucket *b, double rate, double burst, int64_t now_ms);
int evb_bucket_ready(bucket *b, int64_t now_ms);  /* 1 when a token is available */
void evb_bucket_take(bucket *b);

/* The claimer: one helper thread running the store's claim for the dispatcher (claimer.c),
 * so the dispatcher thread keeps driving transfers while a claim commits. One claim at a
 * time; the result is picked up with evb_claimer_take after the claimer woke `wake`. Only
 * the dispatcher thread calls these. */
typedef struct claimer claimer;
evb_err evb_claimer_start(evb_store *store, CURLM *wake, claimer **out);
/* 1 when no claim is requested or waiting to be taken. */
int evb_claimer_idle(claimer *c);
/* Requests a claim of up to `limit` rows (1..1000) skipping `skip` (copied). EVB_ERR_LIMIT
 * when a claim is already requested or untaken. */
evb_err evb_claimer_request(claimer *c, int64_t lease_ms, int limit, const char *const *skip,
                            size_t n_skip);
/* 1 when a claim finished: *cs (owned by the caller from here), *n and the store's *rc. */
int evb_claimer_take(claimer *c, evb_claim **cs, size_t *n, evb_err *rc);
/* Stops and frees the claimer (waits for a claim in progress). A finished, untaken claim
 * comes back in *cs / *n (owned by the caller: its rows are LEASED). NULL is a no-op. */
void evb_claimer_stop(claimer *c, evb_claim **cs, size_t *n);

/* One transfer in flight. */
typedef struct xfer {
    struct xfer *prev, *next; /* the dispatcher's list of transfers in flight */
    CURL *easy;
    struct curl_slist *headers;
    evb_http_request req;
    evb_claim claim;         /* owned; claim.delivery->connection_id finds the entries again
                                at completion (the cache may be rebuilt meanwhile) */
    int is_robot;
    evb_buf response;        /* capped */
    int64_t retry_after_ms;  /* -1 = none */
    int64_t start_ms;
    char blocked[96];        /* SSRF reason when the connect was refused */
    const evb_cidr_list *allow;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

#endif
