/* evbridge — EventService reads: GetEvent and ListEvents.
 *
 * Visibility: admin sees everything; an org-admin only its org's events (another org's
 * event is NOT_FOUND, so existence does not leak); an isv key the events of its own
 * connectors. Other roles may not read events. Pages are keyed by the store sequence.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/timeutil.h"
#include "evbridge/v1/events.pb-c.h"
#include "io/cloudevents/v1/cloudevents.pb-c.h"
#include "server/rpc/svc.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

/* 1 when the principal may read events of this org and connector. */
static int may_read(evb_services *svc, const evb_principal *p, const char *org,
                    const char *connector)
{
    if (p->role == EVB_ROLE_ADMIN)
        return 1;
    if (p->role == EVB_ROLE_ORG_ADMIN)
        return strcmp(p->scope, org) == 0;
    if (p->role == EVB_ROLE_ISV) {
        evb_connector *c = NULL;
        if (evb_store_connector_get(svc->store, connector, &c) != EVB_OK)
            return 0;
        int ok = strcmp(c->isv, p->scope) == 0;
        evb_connector_free(c);
        return ok;
    }
    return 0;
}

static void get_event(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__GetEventRequest *r = evbridge__v1__get_event_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed GetEventRequest");
        return;
    }
    evb_event *ev = NULL;
    evb_err rc = EVB_ERR_INVALID;
    const char *org = r->org[0] ? r->org : NULL;
    int foreign_org = p.role == EVB_ROLE_ORG_ADMIN && org != NULL && strcmp(org, p.scope) != 0;
    if (p.role == EVB_ROLE_ORG_ADMIN)
        org = p.scope; /* narrow to the caller's org: others' events stay invisible */
    if (foreign_org)
        evb_svc_deny(call, "an org-admin key reads only its own org's events");
    else if (r->event_id[0] == '\0' || strlen(r->event_id) > 128)
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "event_id must be 1..128 bytes");
    else if (p.role != EVB_ROLE_ADMIN && p.role != EVB_ROLE_ORG_ADMIN && p.role != EVB_ROLE_ISV)
        evb_svc_deny(call, "reading events needs an admin, org-admin or isv key");
    else if ((rc = evb_store_get_event(svc->store, r->event_id, org,
                                       r->connector[0] ? r->connector : NULL, &ev)) != EVB_OK ||
             !may_read(svc, &p, ev->org, ev->connector)) {
        char msg[200];
        snprintf(msg, sizeof msg, "event %.128s: %s", r->event_id,
                 rc == EVB_OK ? "not found" : evb_strerror(rc));
        evb_rpc_reply_error(call, rc == EVB_OK ? EVB_RPC_NOT_FOUND : evb_rpc_status_from_err(rc),
                            evb_utf8_sanitize(msg));
    } else {
        evb_arena *a = evb_arena_new();
        Io__Cloudevents__V1__CloudEvent *pe = a ? evb_ce_to_pb(a, ev) : NULL;
        if (pe != NULL)
            evb_svc_reply_msg(call, &pe->base);
        else
            evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
        evb_arena_free(a);
    }
    evb_event_free(ev);
    evbridge__v1__get_event_request__free_unpacked(r, NULL);
}

/* Fills q from the request and the caller's scope; replies and returns 0 on error. */
static int make_query(evb_services *svc, evb_rpc_call *call, const evb_principal *p,
                      const Evbridge__V1__ListEventsRequest *r, evb_event_query *q)
{
    *q = (evb_event_query){.org = r->org[0] ? r->org : NULL,
                           .connector = r->connector[0] ? r->connector : NULL,
                           .type = r->type[0] ? r->type : NULL,
                           .start_ms = INT64_MIN,
                           .end_ms = INT64_MAX,
                           .limit = r->page_size > 0 ? r->page_size : PAGE_DEFAULT};
    if (r->page_size < 0 || r->page_size > PAGE_MAX) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "page_size must be 0..1000");
        return 0;
    }
    if (r->start_time[0] && evb_time_parse_rfc3339(r->start_time, &q->start_ms, NULL) != EVB_OK) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "start_time is not RFC 3339");
        return 0;
    }
    if (r->end_time[0] && evb_time_parse_rfc3339(r->end_time, &q->end_ms, NULL) != EVB_OK) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "end_time is not RFC 3339");
        return 0;
    }
    if (r->page_token[0]) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(r->page_token, &end, 10);
        if (errno || *end != '\0' || v <= 0) {
            evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "page_token is not valid");
            return 0;
        }
        q->after_seq = v;
    }
    if (p->role == EVB_ROLE_ORG_ADMIN) {
        if (q->org != NULL && strcmp(q->org, p->scope) != 0) {
            evb_svc_deny(call, "an org-admin key lists only its own org's events");
            return 0;
        }
        q->org = p->scope;
    } else if (p->role == EVB_ROLE_ISV) {
        if (q->connector == NULL || !may_read(svc, p, "", q->connector)) {
            evb_svc_deny(call, "an isv key lists events of one of its own connectors: set "
                               "connector");
            return 0;
        }
    } else if (p->role != EVB_ROLE_ADMIN) {
        evb_svc_deny(call, "listing events needs an admin, org-admin or isv key");
        return 0;
    }
    return 1;
}

static void list_events(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__ListEventsRequest *r =
        evbridge__v1__list_events_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ListEventsRequest");
        return;
    }
    evb_event_query q;
    evb_event **evs = NULL;
    size_t n = 0;
    int64_t next = 0;
    if (!make_query(svc, call, &p, r, &q))
        goto out;
    evb_err rc = evb_store_list_events(svc->store, &q, &evs, &n, &next);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, NULL);
        goto out;
    }
    evb_arena *a = evb_arena_new();
    Evbridge__V1__ListEventsResponse resp = EVBRIDGE__V1__LIST_EVENTS_RESPONSE__INIT;
    resp.events = a ? evb_arena_alloc(a, (n + 1) * sizeof *resp.events) : NULL;
    int ok = resp.events != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (resp.events[resp.n_events++] = evb_ce_to_pb(a, evs[i])) != NULL;
    char token[32] = "";
    if (next > 0)
        snprintf(token, sizeof token, "%lld", (long long)next);
    resp.next_page_token = token;
    if (ok)
        evb_svc_reply_msg(call, &resp.base);
    else
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
    evb_arena_free(a);
out:
    evb_event_array_free(evs, n);
    evbridge__v1__list_events_request__free_unpacked(r, NULL);
}

evb_err evb_svc_events_read_register(evb_rpc_server *server, evb_services *svc)
{
    evb_err rc =
        evb_rpc_server_add_unary(server, "/evbridge.v1.EventService/GetEvent", get_event, svc);
    if (rc == EVB_OK)
        rc = evb_rpc_server_add_unary(server, "/evbridge.v1.EventService/ListEvents",
                                      list_events, svc);
    return rc;
}
