/* evbridge — EventService.Subscribe (bidi): deliveries of a STREAM connection out, acks
 * and nacks in.
 *
 * The caller authenticates with its key (subscriber or org-admin of the connection's org,
 * or admin) and opens with `start` {connection_id, max_in_flight (default 16),
 * ack_deadline_ms (default 30000)}; then it sends acks and nacks. The stream hub
 * (server/delivery/stream_hub.h) does the rest: it hands this subscriber at most
 * max_in_flight unacked deliveries, shared round-robin with the connection's other
 * subscribers, and records every outcome in the store. Reading is never paused (acks
 * must always get through); sending is bounded by max_in_flight. The hub calls our deliver
 * callback under its mutex and never after evb_stream_hub_leave returned, which on_done
 * calls: so the stream is alive whenever the callback runs, with no lock of ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "evbridge/v1/events.pb-c.h"
#include "io/cloudevents/v1/cloudevents.pb-c.h"
#include "server/delivery/stream_hub.h"
#include "server/rpc/svc.h"
#include "server/store/store_routing.h"

#define DEFAULT_MAX_IN_FLIGHT 16
#define DEFAULT_ACK_DEADLINE_MS 30000
#define ACTION_STREAM 3

typedef struct sub_state {
    evb_services *svc;
    evb_rpc_stream *st;
    evb_principal p;
    evb_stream_sub *hs; /* set once started, until left */
    int max_in_flight;
    int finished;
} sub_state;

/* Leaves the hub (in-flight deliveries go back at once) and sends the status. */
static void end(sub_state *ss, evb_rpc_status status, const char *msg)
{
    evb_stream_hub_leave(ss->hs);
    ss->hs = NULL;
    if (!ss->finished) {
        ss->finished = 1;
        char buf[sizeof((evb_error *)0)->message];
        snprintf(buf, sizeof buf, "%s", msg ? msg : "");
        evb_rpc_stream_finish(ss->st, status, msg ? evb_utf8_sanitize(buf) : NULL);
    }
}

static void end_err(sub_state *ss, evb_err code, const evb_error *e)
{
    end(ss, evb_rpc_status_from_err(code),
        e != NULL && e->message[0] ? e->message : evb_strerror(code));
}

/* Feeder thread, hub mutex held: pack and queue one SubscribeResponse. */
static int deliver(void *arg, const char *delivery_id, int attempt, const evb_event *ev)
{
    sub_state *ss = arg;
    evb_arena *a = evb_arena_new();
    if (a == NULL)
        return 0;
    Evbridge__V1__SubscribeResponse r = EVBRIDGE__V1__SUBSCRIBE_RESPONSE__INIT;
    r.delivery_id = (char *)delivery_id;
    r.attempt = attempt;
    r.event = evb_ce_to_pb(a, ev);
    int ok = 0;
    if (r.event != NULL) {
        size_t n = evbridge__v1__subscribe_response__get_packed_size(&r);
        uint8_t *buf = malloc(n ? n : 1);
        if (buf != NULL) {
            evbridge__v1__subscribe_response__pack(&r, buf);
            /* credits bound the queue; the cap is a second fence */
            ok = evb_rpc_stream_send(ss->st, buf, n, (size_t)ss->max_in_flight + 1) == EVB_OK;
            free(buf);
        }
    }
    evb_arena_free(a);
    return ok;
}

static int may_subscribe(const evb_principal *p, const char *org)
{
    if (p->role == EVB_ROLE_ADMIN)
        return 1;
    return (p->role == EVB_ROLE_SUBSCRIBER || p->role == EVB_ROLE_ORG_ADMIN) &&
           strcmp(p->scope, org) == 0;
}

/* Checks the start message and joins the hub; on failure ends the stream. */
static void start(sub_state *ss, const Evbridge__V1__SubscribeStart *m)
{
    evb_error e;
    evb_error_clear(&e);
    int mif = m->max_in_flight ? m->max_in_flight : DEFAULT_MAX_IN_FLIGHT;
    int dl = m->ack_deadline_ms ? m->ack_deadline_ms : DEFAULT_ACK_DEADLINE_MS;
    evb_connection_rec *c = NULL;
    evb_action_rec *a = NULL;
    evb_err rc = EVB_OK;
    if (m->connection_id == NULL || m->connection_id[0] == '\0')
        rc = evb_error_set(&e, EVB_ERR_INVALID, "start.connection_id",
                           "start.connection_id: is required");
    else if (mif < 1 || mif > EVB_STREAM_MAX_IN_FLIGHT_LIMIT)
        rc = evb_error_set(&e, EVB_ERR_INVALID, "start.max_in_flight",
                           "start.max_in_flight: must be 1..%d, got %d",
                           EVB_STREAM_MAX_IN_FLIGHT_LIMIT, mif);
    else if (dl < EVB_STREAM_ACK_DEADLINE_MIN_MS || dl > EVB_STREAM_ACK_DEADLINE_MAX_MS)
        rc = evb_error_set(&e, EVB_ERR_INVALID, "start.ack_deadline_ms",
                           "start.ack_deadline_ms: must be %d..%d, got %d",
                           EVB_STREAM_ACK_DEADLINE_MIN_MS, EVB_STREAM_ACK_DEADLINE_MAX_MS, dl);
    if (rc != EVB_OK)
        goto out;
    rc = evb_store_connection_get(ss->svc->store, m->connection_id, &c);
    if (rc == EVB_OK && !may_subscribe(&ss->p, c->org))
        rc = EVB_ERR_NOT_FOUND; /* another org's connection: existence does not leak */
    if (rc == EVB_ERR_NOT_FOUND)
        evb_error_set(&e, rc, "start.connection_id", "start.connection_id: no connection %.100s",
                      m->connection_id);
    if (rc != EVB_OK)
        goto out;
    rc = evb_store_action_get(ss->svc->store, c->action, &a);
    if (rc == EVB_ERR_NOT_FOUND || (rc == EVB_OK && a->kind != ACTION_STREAM)) {
        rc = evb_error_set(&e, EVB_ERR_PRECONDITION, "start.connection_id",
                           "start.connection_id: connection %.100s does not deliver to a "
                           "STREAM action (action "
                           "%.100s%s)",
                           c->id, c->action, a == NULL ? " does not exist" : " is not STREAM");
        goto out;
    }
    if (rc != EVB_OK)
        goto out;
    ss->max_in_flight = mif;
    rc = evb_stream_hub_join(ss->svc->stream_hub, c->id, mif, dl, deliver, ss, &ss->hs);
    if (rc == EVB_ERR_UNAVAILABLE)
        evb_error_set(&e, rc, NULL, "the server is shutting down");
out:
    evb_connection_rec_free(c);
    evb_action_rec_free(a);
    if (rc != EVB_OK)
        end_err(ss, rc, &e);
}

static void *sub_start(evb_rpc_stream *st, void *method_arg)
{
    evb_services *svc = method_arg;
    sub_state *ss = calloc(1, sizeof *ss);
    if (ss == NULL) {
        evb_rpc_stream_finish(st, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    ss->svc = svc;
    ss->st = st;
    evb_error e;
    evb_error_clear(&e);
    if (svc->stream_hub == NULL || !atomic_load(&svc->serving)) {
        end(ss, EVB_RPC_UNAVAILABLE, "subscriptions are not available");
    } else if (evb_auth_authenticate(svc->auth, evb_rpc_stream_metadata(st, "authorization"),
                                     &ss->p, &e) != EVB_OK) {
        end(ss, EVB_RPC_UNAUTHENTICATED, e.message);
    } else if (ss->p.role != EVB_ROLE_ADMIN && ss->p.role != EVB_ROLE_SUBSCRIBER &&
               ss->p.role != EVB_ROLE_ORG_ADMIN) {
        end(ss, EVB_RPC_PERMISSION_DENIED,
            "permission denied: Subscribe needs a subscriber, org-admin or admin key");
    } else {
        evb_rpc_stream_request_next(st);
    }
    return ss;
}

static void sub_message(evb_rpc_stream *st, void *user, const uint8_t *msg, size_t len)
{
    sub_state *ss = user;
    if (ss == NULL || ss->finished)
        return;
    Evbridge__V1__SubscribeRequest *m = evbridge__v1__subscribe_request__unpack(NULL, len, msg);
    if (m == NULL) {
        end(ss, EVB_RPC_INVALID_ARGUMENT, "cannot parse SubscribeRequest");
        return;
    }
    int started = ss->hs != NULL;
    switch (m->request_case) {
    case EVBRIDGE__V1__SUBSCRIBE_REQUEST__REQUEST_START:
        if (started)
            end(ss, EVB_RPC_INVALID_ARGUMENT, "start: the stream is already started");
        else
            start(ss, m->start);
        break;
    case EVBRIDGE__V1__SUBSCRIBE_REQUEST__REQUEST_ACK:
        if (!started)
            end(ss, EVB_RPC_INVALID_ARGUMENT, "start: the first message must be start");
        else
            evb_stream_hub_ack(ss->hs, (const char *const *)m->ack->delivery_ids,
                               m->ack->n_delivery_ids);
        break;
    case EVBRIDGE__V1__SUBSCRIBE_REQUEST__REQUEST_NACK:
        if (!started)
            end(ss, EVB_RPC_INVALID_ARGUMENT, "start: the first message must be start");
        else if (m->nack->delay_ms < 0)
            end(ss, EVB_RPC_INVALID_ARGUMENT, "nack.delay_ms: must be >= 0");
        else
            evb_stream_hub_nack(ss->hs, (const char *const *)m->nack->delivery_ids,
                                m->nack->n_delivery_ids, m->nack->delay_ms);
        break;
    default:
        end(ss, EVB_RPC_INVALID_ARGUMENT,
            started ? "request: one of ack or nack is required"
                    : "start: the first message must be start");
        break;
    }
    evbridge__v1__subscribe_request__free_unpacked(m, NULL);
    if (!ss->finished)
        evb_rpc_stream_request_next(st);
}

static void sub_half_close(evb_rpc_stream *st, void *user)
{
    (void)st;
    sub_state *ss = user;
    if (ss != NULL)
        end(ss, EVB_RPC_OK, NULL); /* no more acks can come: give the deliveries back */
}

static void sub_done(evb_rpc_stream *st, void *user, int cancelled)
{
    (void)st;
    (void)cancelled;
    sub_state *ss = user;
    if (ss == NULL)
        return;
    evb_stream_hub_leave(ss->hs); /* after this, no deliver call uses st */
    free(ss);
}

evb_err evb_svc_subscribe_register(evb_rpc_server *server, evb_services *svc)
{
    static const evb_rpc_stream_ops ops = {
        .on_start = sub_start,
        .on_message = sub_message,
        .on_half_close = sub_half_close,
        .on_done = sub_done,
    };
    return evb_rpc_server_add_stream(server, "/evbridge.v1.EventService/Subscribe", &ops, svc);
}
