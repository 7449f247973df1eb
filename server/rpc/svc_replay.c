/* evbridge — EventService.ReplayEvents: send stored events to a connection again.
 *
 * The events of the connection's org and connector received in [start_time, end_time) that
 * match the connection's event types and pattern (as routing would decide now) each get a
 * NEW delivery (a new webhook-id), due at once. For re-sending after a receiver lost data,
 * or to feed a new connection with history. At most REPLAY_MAX events per call; the count
 * says how many were queued. The org's org-admin key (or admin).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/id.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "evbridge/v1/events.pb-c.h"
#include "server/router/router.h"
#include "server/routing/pattern.h"
#include "server/rpc/svc.h"
#include "server/store/store_dispatch.h"

#define REPLAY_PAGE 500
#define REPLAY_MAX 100000
#define STRICT_KEY "\x01connection" /* as the router: one key for the whole connection */

typedef struct replay_filter {
    json_t *cfg;
    evb_pattern *pattern; /* NULL = everything */
    int per_subject, strict;
} replay_filter;

static int type_ok(json_t *types, const char *type)
{
    if (json_array_size(types) == 0)
        return 1;
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) if (strcmp(json_string_value(t), type) == 0) return 1;
    return 0;
}

/* Queues deliveries for the matching events of one page; adds to *count. */
static evb_err replay_page(evb_services *svc, const evb_connection_rec *c,
                           const replay_filter *f, evb_event **evs, size_t n, int64_t *count)
{
    const evb_event **pick = calloc(n + 1, sizeof *pick);
    evb_delivery_new *ds = calloc(n + 1, sizeof *ds);
    char (*ids)[EVB_UUID_STRLEN + 1] = calloc(n + 1, sizeof *ids);
    evb_err rc = pick && ds && ids ? EVB_OK : EVB_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; rc == EVB_OK && i < n && *count + (int64_t)k < REPLAY_MAX; i++) {
        if (!type_ok(json_object_get(f->cfg, "event_types"), evs[i]->type))
            continue;
        if (f->pattern != NULL && !evb_router_pattern_match(f->pattern, evs[i]))
            continue; /* as routing at ingest decides */
        if ((rc = evb_uuid7(ids[k], sizeof ids[k])) != EVB_OK)
            break;
        pick[k] = evs[i];
        ds[k] = (evb_delivery_new){.id = ids[k], .connection_id = c->id, .strict = f->strict,
                                   .ordering_key = f->strict        ? STRICT_KEY
                                                   : f->per_subject ? evs[i]->subject
                                                                    : NULL};
        k++;
    }
    if (rc == EVB_OK)
        rc = evb_store_delivery_replay(svc->store, pick, ds, k);
    if (rc == EVB_OK)
        *count += (int64_t)k;
    free(pick);
    free(ds);
    free(ids);
    return rc;
}

static evb_err replay(evb_services *svc, const evb_connection_rec *c, int64_t lo, int64_t hi,
                      int64_t *count, evb_error *e)
{
    replay_filter f = {.cfg = json_loads(c->config, 0, NULL)};
    if (f.cfg == NULL)
        return evb_error_set(e, EVB_ERR_INTERNAL, NULL, "cannot read the connection");
    const char *pat = json_string_value(json_object_get(f.cfg, "pattern"));
    evb_err rc = EVB_OK;
    if (pat != NULL && pat[0] != '\0')
        rc = evb_pattern_compile(pat, strlen(pat), (size_t)1 << 20, &f.pattern, e);
    f.per_subject = json_integer_value(json_object_get(f.cfg, "ordering")) == 2;
    f.strict = json_integer_value(json_object_get(f.cfg, "fault_tolerance")) == 2;
    evb_event_query q = {.org = c->org, .connector = c->connector, .start_ms = lo,
                         .end_ms = hi, .limit = REPLAY_PAGE};
    while (rc == EVB_OK && *count < REPLAY_MAX) {
        evb_event **evs = NULL;
        size_t n = 0;
        int64_t next = 0;
        rc = evb_store_list_events(svc->store, &q, &evs, &n, &next);
        if (rc == EVB_OK)
            rc = replay_page(svc, c, &f, evs, n, count);
        evb_event_array_free(evs, n);
        if (next == 0)
            break;
        q.after_seq = next;
    }
    evb_pattern_free(f.pattern);
    json_decref(f.cfg);
    return rc;
}

static void replay_events(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__ReplayEventsRequest *r =
        evbridge__v1__replay_events_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ReplayEventsRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_connection_rec *c = NULL;
    int64_t lo = INT64_MIN, hi = INT64_MAX, count = 0;
    evb_err rc = EVB_OK;
    if (p.role != EVB_ROLE_ADMIN && p.role != EVB_ROLE_ORG_ADMIN)
        rc = evb_error_set(&e, EVB_ERR_DENIED, NULL,
                           "permission denied: replays need an org-admin or admin key");
    else if (r->connection_id[0] == '\0')
        rc = evb_error_set(&e, EVB_ERR_INVALID, "connection_id", "connection_id is required");
    else if ((r->start_time[0] && evb_time_parse_rfc3339(r->start_time, &lo, NULL) != EVB_OK) ||
             (r->end_time[0] && evb_time_parse_rfc3339(r->end_time, &hi, NULL) != EVB_OK))
        rc = evb_error_set(&e, EVB_ERR_INVALID, "start_time",
                           "start_time and end_time must be RFC 3339 timestamps");
    else if (evb_store_connection_get(svc->store, r->connection_id, &c) != EVB_OK ||
             !evb_svc_allowed(&p, EVB_ROLE_ORG_ADMIN, c->org) ||
             (r->org[0] && strcmp(r->org, c->org) != 0))
        rc = evb_error_set(&e, EVB_ERR_NOT_FOUND, "connection_id", "no connection %.64s",
                           r->connection_id);
    else if (c->state == 3)
        rc = evb_error_set(&e, EVB_ERR_PRECONDITION, "connection_id",
                           "connection %s is disabled", c->id);
    else
        rc = replay(svc, c, lo, hi, &count, &e);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
    } else {
        if (count > 0 && svc->deliveries_hook != NULL)
            svc->deliveries_hook(svc->deliveries_hook_arg);
        Evbridge__V1__ReplayEventsResponse resp = EVBRIDGE__V1__REPLAY_EVENTS_RESPONSE__INIT;
        resp.replayed = count;
        evb_svc_reply_msg(call, &resp.base);
    }
    evb_connection_rec_free(c);
    evbridge__v1__replay_events_request__free_unpacked(r, NULL);
}

evb_err evb_svc_replay_register(evb_rpc_server *server, evb_services *svc)
{
    return evb_rpc_server_add_unary(server, "/evbridge.v1.EventService/ReplayEvents",
                                    replay_events, svc);
}
