/* evbridge — durable storage: SQLite (embedded, the default) or PostgreSQL (several nodes).
 *
 * Nothing outside server/store/ sees SQL or knows which backend runs: evb_store_open picks
 * it from the options (url) and every function below behaves the same on both, except
 * where a contract says otherwise.
 *
 * SQLite: the store owns one database in the data directory (WAL mode, numbered
 * migrations recorded in a schema-version table) and ONE writer thread: every write is a
 * job on a bounded queue; the writer takes as many queued jobs as are waiting (up to a
 * batch cap) and runs them in one transaction — group commit — then calls each job's
 * completion. Event ingestion is asynchronous (the publisher is acknowledged from the
 * completion, after the commit); metadata writes are synchronous wrappers over the same
 * queue. Reads use their own connections and never wait for the writer (WAL). One process
 * per data directory.
 *
 * PostgreSQL: any number of evbridged processes ("nodes") share one database. Event
 * ingestion keeps the same group commit (per node); dedup keys are unique rows, so the
 * window holds across nodes; dispatchers claim with row locks (FOR UPDATE SKIP LOCKED) and
 * leases; configuration changes and new deliveries are announced with LISTEN/NOTIFY.
 *
 * All functions are thread-safe unless stated otherwise.
 */
#ifndef EVB_SERVER_STORE_H
#define EVB_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/cloudevents/event.h"
#include "server/store/records.h"

typedef struct evb_store evb_store;

typedef struct evb_store_options {
    const char *url;         /* NULL, "" or "sqlite" = SQLite in data_dir; "postgres://..." or
                                "postgresql://..." = PostgreSQL (a libpq connection URI) */
    const char *data_dir;    /* SQLite: created (0700) if missing; the database is
                                <dir>/evbridge.db. PostgreSQL: not used by the store */
    int64_t dedup_window_ms; /* 0 = 24 h */
    size_t queue_cap;        /* max queued write jobs; 0 = 4096; beyond it: EVB_ERR_LIMIT */
    size_t queue_max_bytes;  /* max bytes of events in event puts queued or being written
                                (store_put_bytes); 0 = 32 MiB; a put that would pass it gets
                                EVB_ERR_LIMIT unless nothing else is queued (so one put of
                                any size can pass) */
    int max_batch;           /* max jobs per transaction; 0 = 256 */
    int64_t retention_ms;    /* events older than this (receive time) are deleted with their
                                deliveries, attempts and traces once none of their deliveries
                                is pending, held or leased (dead letters go too); 0 = 7 days,
                                < 0 = keep forever. Pruned in small batches in the background */
    int synchronous_normal;  /* 0 (default) = PRAGMA synchronous=FULL: an acknowledged event
                                survives power loss; 1 = NORMAL: survives a process crash only */
} evb_store_options;

/* Opens (creating and migrating as needed) and starts the writer thread. PostgreSQL: on
 * error err names the server but never the password; EVB_ERR_UNAVAILABLE when the server
 * cannot be reached or refuses the login, EVB_ERR_PRECONDITION for a newer schema,
 * EVB_ERR_INVALID for a URL that is neither sqlite nor postgres. SQLite: on error fills
 * err (may be NULL) with a message naming the path: EVB_ERR_IO (data directory missing and
 * not creatable, not a directory, not writable), EVB_ERR_UNAVAILABLE (database read-only,
 * locked, corrupt, or the data directory already in use by another open store — a lock file
 * <dir>/evbridge.lock keeps one process per directory), EVB_ERR_PRECONDITION (the database
 * was migrated by a newer evbridged), EVB_ERR_INVALID (bad options). */
evb_err evb_store_open(const evb_store_options *opt, evb_store **out, evb_error *err);
/* Stops accepting writes, commits every job already queued (their completions run),
 * stops the writer and closes. NULL is a no-op. Not concurrent with other calls. */
void evb_store_close(evb_store *s);
/* 1 while the store is open and the last commit did not fail. The store keeps accepting
 * writes while not ready, so it recovers by itself once the fault clears. */
int evb_store_ready(const evb_store *s);

/* A counter bumped after every committed configuration change — connectors, API keys,
 * schemas, subject configuration, actions, connections — made through this store, and
 * (PostgreSQL) within about a second of one committed by another node. Caches compare it
 * to the value they were built at (read the generation first, then the records). */
uint64_t evb_store_config_generation(evb_store *s);

/* Called (from a store thread; must not block) when another node committed new deliveries
 * or released held ones, so local dispatchers and stream subscribers look again. It may
 * also follow this node's own commits (an extra look is harmless). SQLite: never called
 * (one process: the caller wakes its own). One callback per store; fn NULL removes it. */
typedef void (*evb_store_wake_fn)(void *arg);
void evb_store_set_remote_wake(evb_store *s, evb_store_wake_fn fn, void *arg);

/* ---- events (group commit) ---- */

typedef enum evb_put_status {
    EVB_PUT_PENDING = 0,
    EVB_PUT_PUBLISHED = 1,    /* stored */
    EVB_PUT_DEDUPLICATED = 2, /* (connector, org, id) seen within the window; nothing stored */
} evb_put_status;

/* A delivery to create with a published event (routing at ingest), in the same
 * transaction. Nothing is created for a DEDUPLICATED item. It starts with 0 attempts, due
 * at the event's recv_ms (now when recv_ms is 0), as PENDING or HELD (store_routing.h). */
typedef struct evb_delivery_new {
    const char *id;            /* stable delivery id (UUIDv7), made by the caller; unique */
    const char *connection_id; /* required */
    int held;                  /* 1 = the connection is paused (in the caller's routing
                                  snapshot): HELD until resumed. When the connection exists
                                  in the store, its state at this commit wins (PAUSED ->
                                  HELD, else PENDING), so a pause or resume committed since
                                  the snapshot is never missed. */
    const char *ordering_key;  /* NULL or "" = none (stored as "") */
    int strict;                /* 1 = fault tolerance NONE: once DEAD, this delivery blocks the
                                  later deliveries of its (connection, ordering key) until it
                                  is redriven (store_dispatch.h); 0 = a DEAD one lets the next
                                  go. Meaningless without an ordering key. */
} evb_delivery_new;

typedef struct evb_put_item {
    evb_event *ev; /* borrowed until the completion has run; the store sets ev->seq */
    const evb_delivery_new *deliveries; /* borrowed; may be NULL when n_deliveries is 0 */
    size_t n_deliveries;
    const char *filter_trace; /* JSON text recorded for TraceEvent's Filter step (PUBLISHED
                                 items only); NULL = none */
    evb_put_status status;    /* out */
    char first_id[129];       /* out, DEDUPLICATED: the id of the first event (same as ev->id) */
} evb_put_item;

/* Completion: runs on the writer thread after the transaction holding the items committed
 * (err == EVB_OK; every item has its status) or failed (err != EVB_OK: nothing of this
 * submission was stored). Must not block for long; must not call back into the store
 * synchronously except evb_store_put_events. */
typedef void (*evb_store_put_cb)(void *arg, evb_err err);

/* Queues the items for the next group commit. Within one submission and across
 * submissions, items are applied in queue order, so a repeated (connector, org, id) later
 * in the same batch is DEDUPLICATED against the earlier one (NULL org/connector count as
 * ""). On EVB_OK the completion runs exactly once; on error it never runs and the items are
 * untouched: EVB_ERR_LIMIT (queue full: back-pressure), EVB_ERR_UNAVAILABLE (closing),
 * EVB_ERR_INVALID (n == 0, an event without id/source/type, an extension without name or
 * value or not UTF-8, deliveries NULL with n_deliveries > 0, a delivery without id or
 * connection_id), EVB_ERR_NOMEM. The completion's err is EVB_ERR_UNAVAILABLE when the
 * database could not commit (disk full, I/O error, read-only), or EVB_ERR_INVALID when a
 * delivery id is already taken: then nothing of the submission was stored and every item
 * is back to EVB_PUT_PENDING. The deliveries and filter trace of a PUBLISHED item commit
 * in the same transaction as its event. cb may be NULL. */
evb_err evb_store_put_events(evb_store *s, evb_put_item *items, size_t n, evb_store_put_cb cb,
                             void *arg);

/* The newest event with this id, optionally narrowed to org and/or connector (NULL = any).
 * *out is malloc'd (evb_event_free). EVB_ERR_NOT_FOUND when none. */
evb_err evb_store_get_event(evb_store *s, const char *id, const char *org, const char *connector,
                            evb_event **out);

typedef struct evb_event_query {
    const char *org;       /* NULL = any */
    const char *connector; /* NULL = any */
    const char *type;      /* NULL = any */
    int64_t start_ms;      /* on the event time, inclusive; INT64_MIN = unbounded */
    int64_t end_ms;        /* exclusive; INT64_MAX = unbounded */
    int64_t after_seq;     /* paging: only events with seq > after_seq; 0 = from the start */
    int limit;             /* 1..1000 */
} evb_event_query;

/* Events matching q in store order (seq ascending). *out is a malloc'd array of *n_out
 * events (evb_event_array_free; NULL when none). *next_after_seq is the seq to continue
 * from, or 0 when there are no more. EVB_ERR_INVALID when limit is out of range. */
evb_err evb_store_list_events(evb_store *s, const evb_event_query *q, evb_event ***out,
                              size_t *n_out, int64_t *next_after_seq);

/* Counts stored events (tests and metrics). */
evb_err evb_store_count_events(evb_store *s, int64_t *out);

/* ---- connectors ----
 * Writes are synchronous: they queue a job for the writer (waiting for room when the queue
 * is full) and wait for its commit, so they must not be called from a put completion
 * (EVB_ERR_INTERNAL). EVB_ERR_UNAVAILABLE when closing or the commit failed; EVB_ERR_INVALID
 * for a NULL name or an event type without a type name. Lists are sorted by name. */

/* Create fails with EVB_ERR_EXISTS when the name is taken. Sets create/update times. */
evb_err evb_store_connector_create(evb_store *s, const evb_connector *c);
/* Replaces every field but name, isv and create time. EVB_ERR_NOT_FOUND when absent. */
evb_err evb_store_connector_update(evb_store *s, const evb_connector *c);
/* EVB_ERR_NOT_FOUND when absent. */
evb_err evb_store_connector_delete(evb_store *s, const char *name);
evb_err evb_store_connector_get(evb_store *s, const char *name, evb_connector **out);
/* All connectors (isv NULL) or one ISV's, by name. */
evb_err evb_store_connector_list(evb_store *s, const char *isv, evb_connector ***out,
                                 size_t *n_out);

/* ---- API keys ----
 * Writes are synchronous, as for connectors. Lists are sorted by create time, then id. */

/* EVB_ERR_EXISTS when key_id is taken; EVB_ERR_INVALID without key_id, hash or role.
 * create_ms 0 = now; scope NULL is stored as ""; revoke_ms is ignored (starts active). */
evb_err evb_store_key_create(evb_store *s, const evb_api_key *k);
/* Sets revoke_ms (once: revoking a revoked key succeeds and keeps the first time;
 * revoke_ms <= 0 = now). EVB_ERR_NOT_FOUND when absent. */
evb_err evb_store_key_revoke(evb_store *s, const char *key_id, int64_t revoke_ms);
evb_err evb_store_key_get(evb_store *s, const char *key_id, evb_api_key **out);
evb_err evb_store_key_list(evb_store *s, int include_revoked, evb_api_key ***out, size_t *n_out);
/* Number of keys with role "admin" that are not revoked (first-start bootstrap). */
evb_err evb_store_key_count_admin(evb_store *s, int64_t *out);
/* As evb_store_key_create for an admin key (k->role "admin", else EVB_ERR_INVALID), but only
 * while the store holds no active admin key: the check and the insert are atomic, also
 * across nodes sharing a database that start at the same moment. EVB_ERR_EXISTS (nothing
 * created) when an active admin key exists. */
evb_err evb_store_key_create_first_admin(evb_store *s, const evb_api_key *k);

#endif
