/* evbridge — EventService.TraceEvent: what happened to one event.
 *
 * Receive (time, connector, data model) → Filter (every connection of the event's org and
 * connector, matched or not) → Deliver (each delivery; its attempts once the dispatcher
 * records them). An org-admin sees only its org's events (others are NOT_FOUND).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbridge/v1/events.pb-c.h"
#include "io/cloudevents/v1/cloudevents.pb-c.h"
#include "server/rpc/svc.h"
#include "server/store/store_dispatch.h"
#include "server/store/store_routing.h"

typedef Evbridge__V1__TraceStep pb_step;

static const char *const delivery_outcome[] = {"PENDING", "HELD", "IN_FLIGHT", "DELIVERED",
                                               "DEAD"};

static pb_step *new_step(evb_arena *a, int stage, int64_t ms)
{
    pb_step *s = evb_arena_alloc(a, sizeof *s);
    if (s == NULL)
        return NULL;
    evbridge__v1__trace_step__init(s);
    s->stage = (Evbridge__V1__TraceStage)stage;
    s->time = evb_arena_time(a, ms);
    return s->time ? s : NULL;
}

/* Appends one FILTER step per connection id in the JSON array `ids`. */
static int add_filter_steps(evb_arena *a, Evbridge__V1__TraceEventResponse *resp, json_t *ids,
                            int matched, int64_t ms)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        pb_step *s = new_step(a, EVBRIDGE__V1__TRACE_STAGE__FILTER, ms);
        if (s == NULL || (s->connection_id = evb_arena_strdup(a, json_string_value(id))) == NULL)
            return 0;
        s->matched = matched;
        resp->steps[resp->n_steps++] = s;
    }
    return 1;
}

/* One DELIVER step per recorded attempt, then one for the current state unless the last
 * attempt already says it (DELIVERED or DEAD). */
static int add_delivery_steps(evb_services *svc, evb_arena *a,
                              Evbridge__V1__TraceEventResponse *resp, size_t *resp_cap,
                              const evb_delivery_rec *d)
{
    evb_attempt_rec *at = NULL;
    size_t na = 0;
    if (evb_store_delivery_attempts(svc->store, d->id, &at, &na) != EVB_OK)
        na = 0;
    if (resp->n_steps + na + 1 > *resp_cap) { /* redrives keep earlier attempts: grow */
        size_t ncap = 2 * (resp->n_steps + na + 1);
        pb_step **grown = evb_arena_alloc(a, ncap * sizeof *grown);
        if (grown == NULL) {
            evb_attempt_rec_array_free(at, na);
            return 0;
        }
        memcpy(grown, resp->steps, resp->n_steps * sizeof *grown);
        resp->steps = grown;
        *resp_cap = ncap;
    }
    int ok = 1;
    for (size_t k = 0; ok && k < na; k++) {
        pb_step *s = new_step(a, EVBRIDGE__V1__TRACE_STAGE__DELIVER, at[k].time_ms);
        ok = s != NULL;
        if (!ok)
            break;
        s->connection_id = evb_arena_strdup(a, d->connection_id);
        s->delivery_id = evb_arena_strdup(a, d->id);
        s->attempt = at[k].attempt;
        s->outcome = evb_arena_strdup(a, at[k].outcome);
        s->http_status = at[k].http_status;
        s->errcode = at[k].errcode;
        s->latency_ms = at[k].latency_ms;
        s->error = evb_arena_strdup(a, at[k].error ? at[k].error : "");
        ok = s->connection_id && s->delivery_id && s->outcome && s->error;
        resp->steps[resp->n_steps++] = s;
    }
    evb_attempt_rec_array_free(at, na);
    int final = d->state == EVB_DELIVERY_DELIVERED || d->state == EVB_DELIVERY_DEAD;
    if (!ok || (final && na > 0))
        return ok;
    pb_step *s = new_step(a, EVBRIDGE__V1__TRACE_STAGE__DELIVER, d->update_ms);
    if (s == NULL)
        return 0;
    s->connection_id = evb_arena_strdup(a, d->connection_id);
    s->delivery_id = evb_arena_strdup(a, d->id);
    s->attempt = d->attempts;
    s->outcome = evb_arena_strdup(
        a, d->state >= 0 && d->state <= 4 ? delivery_outcome[d->state] : "UNKNOWN");
    s->http_status = d->last_status;
    s->error = evb_arena_strdup(a, d->last_error);
    resp->steps[resp->n_steps++] = s;
    return s->connection_id && s->delivery_id && s->outcome && s->error;
}

static int build_steps(evb_services *svc, evb_arena *a, const evb_event *ev,
                       Evbridge__V1__TraceEventResponse *resp)
{
    char *filter = NULL;
    json_t *fj = NULL;
    evb_delivery_rec **ds = NULL;
    size_t nd = 0;
    if (evb_store_event_filter_trace(svc->store, ev->seq, &filter) == EVB_OK)
        fj = json_loads(filter, 0, NULL);
    free(filter);
    if (evb_store_delivery_list_for_event(svc->store, ev->seq, &ds, &nd) != EVB_OK)
        nd = 0;
    json_t *m = json_object_get(fj, "matched"), *u = json_object_get(fj, "unmatched");
    size_t cap = 1 + json_array_size(m) + json_array_size(u);
    for (size_t i = 0; i < nd; i++)
        cap += 1 + (size_t)(ds[i]->attempts > 0 ? ds[i]->attempts : 0);
    resp->steps = evb_arena_alloc(a, cap * sizeof *resp->steps);
    int ok = resp->steps != NULL;
    pb_step *recv = ok ? new_step(a, EVBRIDGE__V1__TRACE_STAGE__RECEIVE, ev->recv_ms) : NULL;
    if (recv != NULL) {
        char detail[1200];
        const char *tp = NULL, *ts = NULL;
        for (size_t i = 0; i < ev->n_ext; i++) {
            if (strcmp(ev->ext[i].name, "traceparent") == 0)
                tp = ev->ext[i].value;
            else if (strcmp(ev->ext[i].name, "tracestate") == 0)
                ts = ev->ext[i].value;
        }
        snprintf(detail, sizeof detail, "connector %s; data model %s%s%.100s%s%.512s",
                 ev->connector, ev->dataschema ? ev->dataschema : "none",
                 tp ? "; traceparent " : "", tp ? tp : "", tp && ts ? "; tracestate " : "",
                 tp && ts ? ts : "");
        recv->detail = evb_arena_strdup(a, detail);
        resp->steps[resp->n_steps++] = recv;
    }
    ok = ok && recv != NULL && recv->detail != NULL &&
         add_filter_steps(a, resp, m, 1, ev->recv_ms) &&
         add_filter_steps(a, resp, u, 0, ev->recv_ms);
    for (size_t i = 0; ok && i < nd; i++)
        ok = add_delivery_steps(svc, a, resp, &cap, ds[i]);
    json_decref(fj);
    evb_delivery_rec_array_free(ds, nd);
    return ok;
}

static void trace_event(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__TraceEventRequest *r =
        evbridge__v1__trace_event_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed TraceEventRequest");
        return;
    }
    evb_event *ev = NULL;
    const char *org = r->org[0] ? r->org : NULL;
    if (p.role != EVB_ROLE_ADMIN && p.role != EVB_ROLE_ORG_ADMIN) {
        evb_svc_deny(call, "traces are read with an org-admin or admin key");
    } else if (p.role == EVB_ROLE_ORG_ADMIN && org != NULL && strcmp(org, p.scope) != 0) {
        evb_svc_deny(call, "an org-admin key reads only its own org's traces");
    } else if (r->event_id[0] == '\0' || strlen(r->event_id) > 128) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "event_id must be 1..128 bytes");
    } else if (evb_store_get_event(svc->store, r->event_id,
                                   p.role == EVB_ROLE_ORG_ADMIN ? p.scope : org,
                                   r->connector[0] ? r->connector : NULL, &ev) != EVB_OK) {
        evb_rpc_reply_error(call, EVB_RPC_NOT_FOUND, "no such event");
    } else {
        evb_arena *a = evb_arena_new();
        Evbridge__V1__TraceEventResponse resp = EVBRIDGE__V1__TRACE_EVENT_RESPONSE__INIT;
        resp.event = a ? evb_ce_to_pb(a, ev) : NULL;
        if (resp.event != NULL && build_steps(svc, a, ev, &resp))
            evb_svc_reply_msg(call, &resp.base);
        else
            evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "cannot build the trace");
        evb_arena_free(a);
    }
    evb_event_free(ev);
    evbridge__v1__trace_event_request__free_unpacked(r, NULL);
}

evb_err evb_svc_trace_register(evb_rpc_server *server, evb_services *svc)
{
    return evb_rpc_server_add_unary(server, "/evbridge.v1.EventService/TraceEvent", trace_event,
                                    svc);
}
