/* evbridge — the gRPC services of evbridged (handlers over the rpc runtime).
 *
 * One file per service (svc_events.c, svc_admin.c, svc_connector.c, svc_health.c); this
 * header holds what they share: the services context (wired in main.c), authentication
 * and error helpers, and a per-call arena for building protobuf-c replies. Only files in
 * server/rpc/ include generated protobuf code.
 */
#ifndef EVB_SERVER_RPC_SVC_H
#define EVB_SERVER_RPC_SVC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/auth/auth.h"
#include "server/ingest/ingest.h"
#include "server/rpc/rpc.h"
#include "server/schemas/schemas.h"
#include "server/store/store.h"

typedef struct evb_services {
    evb_store *store;          /* borrowed */
    evb_auth *auth;            /* borrowed */
    evb_schemas *schemas;      /* borrowed */
    struct evb_router *router; /* borrowed */
    struct evb_conn_cache *connectors; /* borrowed; connectors PutEvents publishes to */
    /* called (on the store's writer thread) after a commit that created deliveries */
    void (*deliveries_hook)(void *arg);
    void *deliveries_hook_arg;
    struct evb_stream_hub *stream_hub; /* borrowed; Subscribe (NULL: UNAVAILABLE) */
    evb_ingest_limits limits;
    int stream_max_inflight;   /* PublishStream requests in progress before reading pauses */
    size_t max_pattern_bytes;  /* event pattern size limit */
    int threads;
    int64_t start_ms;
    struct evb_ratelimit *ratelimit; /* borrowed; per-API-key rate limit, NULL = none */
    atomic_int serving;        /* 1 once the store is open and until shutdown begins */
    /* PutEvents/PublishStream jobs started and not yet freed. A job may outlive its call (a
     * PublishStream request still queued in the store when its stream is cancelled), and
     * its completion uses this struct and the delivery hook: see evb_put_wait_idle. */
    atomic_long put_jobs;
} evb_services;

/* Registers every implemented method of every service on the server. Methods not
 * registered (those of later issues) are answered UNIMPLEMENTED by the runtime. */
evb_err evb_services_register(evb_rpc_server *server, evb_services *svc);

/* Waits until every PutEvents/PublishStream job started on svc has completed and been
 * freed (svc->put_jobs is 0). Call after the gRPC server has shut down (no new jobs) and
 * before what the jobs use (router, delivery hook, connector cache) is torn down; the
 * store's writer, which completes queued jobs, must still run. Jobs blocked on storage end
 * within the store's busy timeout (UNAVAILABLE), so the wait is bounded. Thread-safe. */
void evb_services_wait_idle(evb_services *svc);

/* Per-service registration (one per file). */
evb_err evb_svc_health_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_admin_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_connector_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_events_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_events_read_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_registry_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_actions_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_connections_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_trace_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_deadletters_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_replay_register(evb_rpc_server *server, evb_services *svc);
evb_err evb_svc_subscribe_register(evb_rpc_server *server, evb_services *svc);

/* 1 when the principal may see (and its org may use) the stored action (svc_actions.c). */
struct evb_action_rec;
int evb_svc_action_visible(const evb_principal *p, const struct evb_action_rec *a);

/* ---- helpers shared by the service files (svc_util.c) ---- */

/* A unary method of a service and its handler. */
typedef struct evb_svc_method {
    const char *name; /* full method name, "/evbridge.v1.Service/Method" */
    evb_rpc_unary_fn fn;
} evb_svc_method;

/* Registers n unary methods with svc as their argument; stops at the first error. */
evb_err evb_svc_add_methods(evb_rpc_server *server, evb_services *svc, const evb_svc_method *m,
                            size_t n);

/* Authenticates a unary call and takes a token from the key's rate-limit bucket. On
 * failure replies UNAUTHENTICATED (or RESOURCE_EXHAUSTED, "retry after N ms") and returns 0. */
int evb_svc_auth(evb_services *svc, evb_rpc_call *call, evb_principal *p);
/* Takes one token of p's key (svc->ratelimit; NULL = unlimited). Returns 1 when allowed;
 * 0 with msg saying when to retry ("... retry after N ms"). Thread-safe. */
int evb_svc_rate_take(evb_services *svc, const evb_principal *p, char *msg, size_t msglen);
/* Replies with the gRPC status mapped from e->code (or code when e is NULL) and message. */
void evb_svc_reply_err(evb_rpc_call *call, evb_err code, const evb_error *e);
/* Packs a protobuf-c message and replies OK (INTERNAL when packing memory fails). */
struct ProtobufCMessage;
void evb_svc_reply_msg(evb_rpc_call *call, const struct ProtobufCMessage *msg);
/* 1 when p has role admin or role `r` with scope `scope` (scope NULL: any scope). */
int evb_svc_allowed(const evb_principal *p, evb_role r, const char *scope);
/* Replies PERMISSION_DENIED naming what was needed. */
void evb_svc_deny(evb_rpc_call *call, const char *what);

/* A bump arena for building replies: every allocation is freed at once. */
typedef struct evb_arena evb_arena;
evb_arena *evb_arena_new(void);
void evb_arena_free(evb_arena *a);
/* Zeroed memory; NULL when out of memory. */
void *evb_arena_alloc(evb_arena *a, size_t n);
char *evb_arena_strdup(evb_arena *a, const char *s);

/* RFC 3339 text for ms, in the arena. */
char *evb_arena_time(evb_arena *a, int64_t ms);

/* Builds the Violation list of a validation result in the arena (svc_registry.c). NULL
 * when out of memory. */
struct Evbridge__V1__Violation;
struct Evbridge__V1__Violation **evb_svc_violations(evb_arena *a, const evb_schema_result *res,
                                                   size_t *n_out);

/* ---- CloudEvents protobuf mapping (ce_pb.c) ---- */
struct Io__Cloudevents__V1__CloudEvent;
/* Builds the io.cloudevents.v1.CloudEvent of ev in the arena (strings copied). NULL when
 * out of memory. */
struct Io__Cloudevents__V1__CloudEvent *evb_ce_to_pb(evb_arena *a, const evb_event *ev);

#endif
