/* evbridge — EventService dead letters: ListDeadLetters and RedriveDeadLetters.
 *
 * Dead letters are deliveries that failed for good (retries exhausted, a permanent error,
 * a disabled target); each keeps its event, the last status and error, and the attempt
 * count. The org's org-admin key (or admin) lists and redrives them; another org's are
 * invisible. A redrive makes them pending again, with a fresh attempt count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/timeutil.h"
#include "evbridge/v1/events.pb-c.h"
#include "io/cloudevents/v1/cloudevents.pb-c.h"
#include "server/metrics/catalog.h"
#include "server/rpc/svc.h"
#include "server/store/store_dispatch.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

/* Resolves the org the caller may act on; replies and returns NULL when denied. */
static const char *org_of(evb_rpc_call *call, const evb_principal *p, const char *req_org)
{
    if (p->role == EVB_ROLE_ORG_ADMIN) {
        if (req_org[0] != '\0' && strcmp(req_org, p->scope) != 0) {
            evb_svc_deny(call, "an org-admin key reads only its own org's dead letters");
            return NULL;
        }
        return p->scope;
    }
    if (p->role != EVB_ROLE_ADMIN) {
        evb_svc_deny(call, "dead letters are managed with an org-admin or admin key");
        return NULL;
    }
    if (req_org[0] == '\0') {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "org is required");
        return NULL;
    }
    return req_org;
}

static Evbridge__V1__DeadLetter *dead_to_pb(evb_arena *a, const evb_claim *c)
{
    Evbridge__V1__DeadLetter *d = evb_arena_alloc(a, sizeof *d);
    if (d == NULL)
        return NULL;
    evbridge__v1__dead_letter__init(d);
    d->delivery_id = evb_arena_strdup(a, c->delivery->id);
    d->connection_id = evb_arena_strdup(a, c->delivery->connection_id);
    d->event_id = evb_arena_strdup(a, c->delivery->event_id);
    d->attempts = c->delivery->attempts;
    d->last_http_status = c->delivery->last_status;
    d->last_error = evb_arena_strdup(a, c->delivery->last_error);
    d->dead_time = evb_arena_time(a, c->delivery->update_ms);
    d->event = c->event ? evb_ce_to_pb(a, c->event) : NULL;
    return d->delivery_id && d->connection_id && d->event_id && d->last_error && d->dead_time
               ? d
               : NULL;
}

static void list_dead(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__ListDeadLettersRequest *r =
        evbridge__v1__list_dead_letters_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ListDeadLettersRequest");
        return;
    }
    const char *org = org_of(call, &p, r->org);
    evb_claim *cs = NULL;
    size_t n = 0;
    char *next = NULL;
    if (org == NULL) {
        /* replied */
    } else if (r->page_size < 0 || r->page_size > PAGE_MAX) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "page_size must be 0..1000");
    } else {
        evb_err rc = evb_store_dead_list(svc->store, org,
                                         r->connection_id[0] ? r->connection_id : NULL,
                                         r->page_size ? r->page_size : PAGE_DEFAULT,
                                         r->page_token, &cs, &n, &next);
        if (rc != EVB_OK) {
            evb_svc_reply_err(call, rc, NULL);
        } else {
            evb_arena *a = evb_arena_new();
            Evbridge__V1__ListDeadLettersResponse resp =
                EVBRIDGE__V1__LIST_DEAD_LETTERS_RESPONSE__INIT;
            resp.dead_letters = a ? evb_arena_alloc(a, (n + 1) * sizeof *resp.dead_letters) : NULL;
            int ok = resp.dead_letters != NULL;
            for (size_t i = 0; ok && i < n; i++)
                ok = (resp.dead_letters[resp.n_dead_letters++] = dead_to_pb(a, &cs[i])) != NULL;
            resp.next_page_token = next ? next : (char *)"";
            if (ok)
                evb_svc_reply_msg(call, &resp.base);
            else
                evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
            evb_arena_free(a);
        }
    }
    free(next);
    evb_claim_array_free(cs, n);
    evbridge__v1__list_dead_letters_request__free_unpacked(r, NULL);
}

static int parse_range(evb_rpc_call *call, const char *start, const char *end, int64_t *lo,
                       int64_t *hi)
{
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    if ((start[0] && evb_time_parse_rfc3339(start, lo, NULL) != EVB_OK) ||
        (end[0] && evb_time_parse_rfc3339(end, hi, NULL) != EVB_OK)) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT,
                            "start_time and end_time must be RFC 3339 timestamps");
        return 0;
    }
    return 1;
}

static void redrive(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__RedriveDeadLettersRequest *r =
        evbridge__v1__redrive_dead_letters_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed RedriveDeadLettersRequest");
        return;
    }
    const char *org = org_of(call, &p, r->org);
    int64_t lo, hi, count = 0;
    if (org == NULL || !parse_range(call, r->start_time, r->end_time, &lo, &hi)) {
        /* replied */
    } else if (r->connection_id[0] == '\0' && r->n_delivery_ids == 0) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT,
                            "connection_id or delivery_ids is required");
    } else {
        evb_err rc = evb_store_dead_redrive(
            svc->store, org, r->connection_id[0] ? r->connection_id : NULL,
            (const char *const *)r->delivery_ids, r->n_delivery_ids, lo, hi, evb_now_ms(),
            &count);
        if (rc != EVB_OK) {
            evb_svc_reply_err(call, rc, NULL);
        } else {
            evb_mx_redrive(count);
            if (count > 0 && svc->deliveries_hook != NULL)
                svc->deliveries_hook(svc->deliveries_hook_arg);
            Evbridge__V1__RedriveDeadLettersResponse resp =
                EVBRIDGE__V1__REDRIVE_DEAD_LETTERS_RESPONSE__INIT;
            resp.redriven = count;
            evb_svc_reply_msg(call, &resp.base);
        }
    }
    evbridge__v1__redrive_dead_letters_request__free_unpacked(r, NULL);
}

evb_err evb_svc_deadletters_register(evb_rpc_server *server, evb_services *svc)
{
    evb_err rc = evb_rpc_server_add_unary(server, "/evbridge.v1.EventService/ListDeadLetters",
                                          list_dead, svc);
    if (rc == EVB_OK)
        rc = evb_rpc_server_add_unary(server, "/evbridge.v1.EventService/RedriveDeadLetters",
                                      redrive, svc);
    return rc;
}
