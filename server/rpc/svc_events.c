/* evbridge — EventService publishing: PutEvents (unary) and PublishStream (bidi).
 *
 * PublishStream keeps a ring of reply slots in request order: each request takes the next
 * slot, its job fills the slot when done (possibly out of order with respect to quick
 * rejections), and slots are sent strictly from the head. Flow control: the next request is
 * read only while (slots in use + replies queued in the runtime) < stream_max_inflight, so
 * a publisher that outruns the store, or stops reading its replies, is paused rather than
 * buffered without bound. The stream state is reference-counted: the stream and every
 * outstanding job hold a reference, as jobs may complete after the client went away.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "evbridge/v1/events.pb-c.h"
#include "server/rpc/put_job.h"
#include "server/rpc/svc.h"

/* ---- unary ---- */

static void unary_done(void *arg, evb_rpc_status st, const char *msg, const uint8_t *resp,
                       size_t len)
{
    evb_rpc_call *call = arg;
    if (st == EVB_RPC_OK)
        evb_rpc_reply(call, resp, len);
    else
        evb_rpc_reply_error(call, st, msg);
}

static void put_events(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    evb_put_start(svc, &p, req, len, 0, evb_rpc_call_metadata(call, "traceparent"),
                  evb_rpc_call_metadata(call, "tracestate"), unary_done, call);
}

/* ---- stream ---- */

typedef struct slot {
    int ready;
    evb_rpc_status status;
    char *message;
    uint8_t *resp;
    size_t len;
} slot;

typedef struct pstream {
    evb_services *svc;
    evb_rpc_stream *st;
    evb_principal p;
    pthread_mutex_t mu;
    int refs;
    slot *ring;
    size_t cap, head, count; /* ring of `cap` slots; `count` in use from head */
    int reading;             /* a request for the next message is outstanding */
    int half_closed;
    int finished;            /* finish sent */
    int ended;               /* on_done ran: st is gone */
} pstream;

typedef struct job_ref {
    pstream *ps;
    size_t idx;
} job_ref;

static void ps_unref_locked(pstream *ps, int *destroy)
{
    *destroy = --ps->refs == 0;
}

static void ps_destroy(pstream *ps)
{
    for (size_t i = 0; i < ps->cap; i++) {
        free(ps->ring[i].resp);
        free(ps->ring[i].message);
    }
    free(ps->ring);
    pthread_mutex_destroy(&ps->mu);
    free(ps);
}

/* Sends ready replies from the head, reads more when there is room, finishes at the end.
 * Called with ps->mu held and the stream alive. */
static void pump_locked(pstream *ps)
{
    while (!ps->finished && ps->count > 0 && ps->ring[ps->head].ready) {
        slot *s = &ps->ring[ps->head];
        if (s->status != EVB_RPC_OK) {
            ps->finished = 1;
            evb_rpc_stream_finish(ps->st, s->status, s->message);
        } else if (evb_rpc_stream_send(ps->st, s->resp, s->len, (size_t)-1) != EVB_OK) {
            ps->finished = 1; /* the stream is ending; on_done follows */
        }
        free(s->resp);
        free(s->message);
        memset(s, 0, sizeof *s);
        ps->head = (ps->head + 1) % ps->cap;
        ps->count--;
    }
    if (ps->finished)
        return;
    if (ps->half_closed) {
        if (ps->count == 0) {
            ps->finished = 1;
            evb_rpc_stream_finish(ps->st, EVB_RPC_OK, NULL);
        }
        return;
    }
    if (!ps->reading && ps->count + evb_rpc_stream_queued(ps->st) < ps->cap) {
        ps->reading = 1;
        evb_rpc_stream_request_next(ps->st);
    }
}

static void stream_job_done(void *arg, evb_rpc_status st, const char *msg, const uint8_t *resp,
                            size_t len)
{
    job_ref *jr = arg;
    pstream *ps = jr->ps;
    pthread_mutex_lock(&ps->mu);
    slot *s = &ps->ring[jr->idx];
    s->ready = 1;
    s->status = st;
    if (st == EVB_RPC_OK) {
        s->resp = malloc(len ? len : 1);
        if (s->resp != NULL) {
            memcpy(s->resp, resp, len);
            s->len = len;
        } else {
            s->status = EVB_RPC_INTERNAL;
        }
    } else {
        s->message = msg ? strdup(msg) : NULL;
    }
    if (!ps->ended)
        pump_locked(ps);
    int destroy;
    ps_unref_locked(ps, &destroy);
    pthread_mutex_unlock(&ps->mu);
    if (destroy)
        ps_destroy(ps);
    free(jr);
}

/* The key's rate limit is exhausted: answers the request with every entry REJECTED
 * (RESOURCE_EXHAUSTED, `why` says when to retry); the stream goes on. Returns 0 when the
 * request does not decode (evb_put_start then ends the stream INVALID_ARGUMENT). */
static int reject_rate(job_ref *jr, const uint8_t *msg, size_t len, const char *why)
{
    Evbridge__V1__PutEventsRequest *req = evbridge__v1__put_events_request__unpack(NULL, len, msg);
    if (req == NULL)
        return 0;
    size_t n = req->n_entries;
    Evbridge__V1__PutEventsResult *rs = calloc(n ? n : 1, sizeof *rs);
    Evbridge__V1__PutEventsResult **rp = calloc(n ? n : 1, sizeof *rp);
    Evbridge__V1__PutEventsResponse resp = EVBRIDGE__V1__PUT_EVENTS_RESPONSE__INIT;
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (rs != NULL && rp != NULL) {
        for (size_t i = 0; i < n; i++) {
            rs[i] = (Evbridge__V1__PutEventsResult)EVBRIDGE__V1__PUT_EVENTS_RESULT__INIT;
            rs[i].status = EVBRIDGE__V1__RESULT_STATUS__REJECTED;
            rs[i].error_code = (char *)"RESOURCE_EXHAUSTED";
            rs[i].error_message = (char *)why;
            rp[i] = &rs[i];
        }
        resp.n_results = n;
        resp.results = rp;
        resp.failed_entry_count = (int32_t)n;
        resp.request_id = req->request_id;
        blen = protobuf_c_message_get_packed_size(&resp.base);
        if ((buf = malloc(blen ? blen : 1)) != NULL)
            protobuf_c_message_pack(&resp.base, buf);
    }
    if (buf != NULL)
        stream_job_done(jr, EVB_RPC_OK, NULL, buf, blen);
    else
        stream_job_done(jr, EVB_RPC_INTERNAL, "out of memory", NULL, 0);
    free(buf);
    free(rs);
    free(rp);
    evbridge__v1__put_events_request__free_unpacked(req, NULL);
    return 1;
}

static void *ps_start(evb_rpc_stream *st, void *method_arg)
{
    evb_services *svc = method_arg;
    pstream *ps = calloc(1, sizeof *ps);
    if (ps == NULL) {
        evb_rpc_stream_finish(st, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    ps->svc = svc;
    ps->st = st;
    ps->refs = 1;
    ps->cap = (size_t)(svc->stream_max_inflight > 0 ? svc->stream_max_inflight : 64);
    pthread_mutex_init(&ps->mu, NULL);
    ps->ring = calloc(ps->cap, sizeof *ps->ring);
    evb_error e;
    evb_error_clear(&e);
    if (ps->ring == NULL) {
        ps->finished = 1;
        evb_rpc_stream_finish(st, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory");
    } else if (evb_auth_authenticate(svc->auth, evb_rpc_stream_metadata(st, "authorization"),
                                     &ps->p, &e) != EVB_OK) {
        ps->finished = 1;
        evb_rpc_stream_finish(st, EVB_RPC_UNAUTHENTICATED, e.message);
    } else if (ps->p.role != EVB_ROLE_ADMIN && ps->p.role != EVB_ROLE_ISV) {
        ps->finished = 1;
        evb_rpc_stream_finish(st, EVB_RPC_PERMISSION_DENIED,
                              "permission denied: publishing needs an isv or admin key");
    } else {
        pthread_mutex_lock(&ps->mu);
        pump_locked(ps);
        pthread_mutex_unlock(&ps->mu);
    }
    return ps;
}

static void ps_message(evb_rpc_stream *st, void *user, const uint8_t *msg, size_t len)
{
    (void)st;
    pstream *ps = user;
    job_ref *jr = malloc(sizeof *jr);
    pthread_mutex_lock(&ps->mu);
    ps->reading = 0;
    if (ps->finished || ps->count >= ps->cap || jr == NULL) {
        if (!ps->finished) {
            ps->finished = 1;
            evb_rpc_stream_finish(ps->st, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory");
        }
        pthread_mutex_unlock(&ps->mu);
        free(jr);
        return;
    }
    jr->ps = ps;
    jr->idx = (ps->head + ps->count) % ps->cap;
    ps->count++;
    ps->refs += 2; /* one for the job, one for this handler until it returns */
    pthread_mutex_unlock(&ps->mu);
    /* May complete synchronously (rejections) or later from the store's writer. */
    char why[192];
    if (evb_svc_rate_take(ps->svc, &ps->p, why, sizeof why) || !reject_rate(jr, msg, len, why))
        evb_put_start(ps->svc, &ps->p, msg, len, 1, evb_rpc_stream_metadata(ps->st, "traceparent"),
                  evb_rpc_stream_metadata(ps->st, "tracestate"), stream_job_done, jr);
    pthread_mutex_lock(&ps->mu);
    if (!ps->ended)
        pump_locked(ps);
    int destroy;
    ps_unref_locked(ps, &destroy);
    pthread_mutex_unlock(&ps->mu);
    if (destroy)
        ps_destroy(ps);
}

static void ps_half_close(evb_rpc_stream *st, void *user)
{
    (void)st;
    pstream *ps = user;
    pthread_mutex_lock(&ps->mu);
    ps->reading = 0;
    ps->half_closed = 1;
    if (!ps->ended)
        pump_locked(ps);
    pthread_mutex_unlock(&ps->mu);
}

static void ps_writable(evb_rpc_stream *st, void *user)
{
    (void)st;
    pstream *ps = user;
    pthread_mutex_lock(&ps->mu);
    if (!ps->ended)
        pump_locked(ps);
    pthread_mutex_unlock(&ps->mu);
}

static void ps_done(evb_rpc_stream *st, void *user, int cancelled)
{
    (void)st;
    (void)cancelled;
    pstream *ps = user;
    if (ps == NULL)
        return;
    pthread_mutex_lock(&ps->mu);
    ps->ended = 1;
    int destroy;
    ps_unref_locked(ps, &destroy);
    pthread_mutex_unlock(&ps->mu);
    if (destroy)
        ps_destroy(ps);
}

evb_err evb_svc_events_register(evb_rpc_server *server, evb_services *svc)
{
    static const evb_rpc_stream_ops publish_ops = {
        .on_start = ps_start,
        .on_message = ps_message,
        .on_half_close = ps_half_close,
        .on_writable = ps_writable,
        .on_done = ps_done,
    };
    evb_err rc =
        evb_rpc_server_add_unary(server, "/evbridge.v1.EventService/PutEvents", put_events, svc);
    if (rc == EVB_OK)
        rc = evb_rpc_server_add_stream(server, "/evbridge.v1.EventService/PublishStream",
                                       &publish_ops, svc);
    return rc;
}
