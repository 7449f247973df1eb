/* evb-bench — shared declarations of the evbridged load generator (clients/bench/evb_bench*.c).
 *
 * Modules: evb_bench_main.c (flags, set-up, the run, the JSON summary), evb_bench_rpc.c
 * (channels, blocking set-up calls: keys, schemas, connector, action, connection),
 * evb_bench_load.c (publishers: N unary calls or M streams in flight on one completion queue
 * per thread), evb_bench_payload.c (std.customer / std.contract change events, pre-encoded
 * PutEventsRequests patched in place per call), evb_bench_sink.c (an epoll HTTP/1.1
 * keep-alive receiver that measures publish -> receiver latency), evb_bench_hist.c
 * (latency histograms). store_bench.c reuses the payload and histogram modules.
 */
#ifndef EVB_CLIENTS_BENCH_H
#define EVB_CLIENTS_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- clock ---- */

/* CLOCK_MONOTONIC in nanoseconds (one clock for every process on the machine, so the sink
 * and the publisher, or two processes, can compare values). */
int64_t bench_now_ns(void);

/* ---- histogram: log-linear buckets of microseconds, <= 3 % error, up to ~38 h ---- */

#define BENCH_HIST_SUB 64
#define BENCH_HIST_EXP 32
typedef struct bench_hist {
    uint64_t count;
    uint64_t b[BENCH_HIST_EXP][BENCH_HIST_SUB];
    int64_t max_ns;
    double sum_ns;
} bench_hist;

void bench_hist_add(bench_hist *h, int64_t ns);
void bench_hist_merge(bench_hist *into, const bench_hist *from);
/* The value (ms) under which fraction q of the samples lie; 0 when empty. */
double bench_hist_quantile_ms(const bench_hist *h, double q);
double bench_hist_mean_ms(const bench_hist *h);

/* ---- payloads ---- */

typedef enum bench_model { BENCH_CUSTOMER = 0, BENCH_CONTRACT = 1 } bench_model;

typedef struct bench_payload {
    bench_model model;
    char *json; /* compact JSON, malloc'd */
    size_t len;
    char subject[48]; /* the record id, used as CloudEvents subject */
} bench_payload;

/* Allowed enum values read from the registry's schema (GetSchema); NULL lists = built-in. */
typedef struct bench_model_hints {
    const char *status[BENCH_CONTRACT + 1][16];
    size_t n_status[BENCH_CONTRACT + 1];
} bench_model_hints;

/* Generates one realistic change event of `model`: `variant` picks names, counts of contacts,
 * lines and tags, so sizes vary around 1 KiB (0.9..1.55 KB, mean ~1.2 KB); big = a contract of ~16 KiB
 * (many lines). Deterministic for (model, variant, big). 0 or -1 (out of memory). */
int bench_payload_make(bench_model model, unsigned variant, int big, const bench_model_hints *hints,
                       bench_payload *out);
void bench_payload_fini(bench_payload *p);

/* ---- pre-encoded requests ---- */

#define BENCH_ID_DIGITS 16 /* patched fields are this many hex/decimal characters */

/* One encoded PutEventsRequest of `n` entries whose entry ids ("b-<16 hex>") and bench
 * timestamp extensions ("benchts": 16 decimal digits of bench_now_ns()/1000) are patched in
 * place before each send, so no per-call encoding happens. */
typedef struct bench_req {
    uint8_t *buf;
    size_t len;
    size_t n;            /* entries */
    size_t *id_off;      /* n offsets of the id placeholders in buf */
    size_t *ts_off;      /* n offsets of the timestamp placeholders */
    size_t payload_bytes; /* sum of data sizes */
} bench_req;

typedef struct bench_req_spec {
    const char *connector;
    const char *org;
    const char *type_customer;
    const char *type_contract;
    const bench_payload *payloads; /* pool to draw from, round-robin from `first` */
    size_t n_payloads;
    size_t first;
    size_t batch;
} bench_req_spec;

int bench_req_build(const bench_req_spec *spec, bench_req *out);
/* Writes fresh ids (from *next_id, incremented per entry) and the timestamp `ts_us`. */
void bench_req_patch(bench_req *r, uint64_t *next_id, int64_t ts_us);
void bench_req_fini(bench_req *r);

/* ---- HTTP sink ---- */

typedef struct bench_sink bench_sink;

/* Starts a receiver on 127.0.0.1 (port 0 = any) with one thread. 0 or -1. */
int bench_sink_start(int port, bench_sink **out, int *port_out);
/* Starts (or restarts) the measurement window: counts and latencies before it are dropped. */
void bench_sink_window_open(bench_sink *s);
void bench_sink_window_close(bench_sink *s);
/* Requests received since start (any window). */
uint64_t bench_sink_total(bench_sink *s);
/* Deliveries and e2e latency inside the window; the window's length in s. */
void bench_sink_report(bench_sink *s, uint64_t *delivered, double *window_s, bench_hist *e2e,
                       uint64_t *no_ts);
void bench_sink_stop(bench_sink *s);

/* ---- publishers ---- */

typedef struct bench_load_opts {
    const char *addr;       /* host:port */
    const char *auth;       /* "Bearer <key>" or NULL */
    const char *method;     /* full method name */
    int stream;             /* 1 = bidi streams, 0 = unary calls */
    int echo;               /* 1 = the echo service: responses are not PutEventsResponses */
    int threads;            /* worker threads, each with its own completion queue */
    int connections;        /* distinct TCP connections (channels) */
    int concurrency;        /* unary: calls in flight in all; stream: streams */
    int window;             /* stream: requests in flight per stream */
    double rate;            /* offered events/s in all; 0 = as fast as possible */
    double warmup_s;
    double duration_s;      /* measured time (when count is 0) */
    uint64_t count;         /* events to publish in the measured part; 0 = by duration */
    int deadline_ms;
    bench_req **reqs;       /* per thread: n_reqs encoded requests */
    size_t n_reqs;
    /* called when the measured part starts / ends (delivery window), may be NULL */
    void (*on_window)(void *arg, int open);
    void *on_window_arg;
} bench_load_opts;

typedef struct bench_load_result {
    uint64_t events_ok;      /* entries PUBLISHED (or echoed) inside the window */
    uint64_t events_dedup;
    uint64_t events_rejected;
    uint64_t calls_ok;       /* RPCs (unary) or replies (stream) inside the window */
    uint64_t calls_failed;   /* non-OK status or broken stream, whole run */
    uint64_t events_sent;    /* whole run, including warm-up and drain */
    uint64_t events_acked;   /* whole run: PUBLISHED + DEDUPLICATED */
    double window_s;
    uint64_t bytes_sent;     /* request bytes inside the window */
    bench_hist lat;          /* publish latency (send -> reply), inside the window */
    char first_error[256];
} bench_load_result;

int bench_load_run(const bench_load_opts *o, bench_load_result *res);

/* ---- set-up calls (blocking) ---- */

typedef struct bench_rpc bench_rpc; /* one channel + metadata for blocking calls */

bench_rpc *bench_rpc_open(const char *addr, const char *key);
void bench_rpc_close(bench_rpc *r);
/* Calls `method` with the packed request; on OK *resp/resp_len are malloc'd. Returns the
 * gRPC status (0 = OK); msg (may be NULL) receives the status details. */
int bench_rpc_call(bench_rpc *r, const char *method, const uint8_t *req, size_t len,
                   uint8_t **resp, size_t *resp_len, char *msg, size_t msg_cap);

#endif
