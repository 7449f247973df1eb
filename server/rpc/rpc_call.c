/* evbridge — unary calls and unknown-method calls.
 *
 * State machine of a unary call (one context from request to release):
 *   POSTED --request ok--> HANDLER (worker thread; replacement request posted first)
 *          --evb_rpc_reply*, any thread--> REPLYING (one batch: initial metadata, message,
 *          status, RECV_CLOSE_ON_SERVER) --batch done--> released.
 *   POSTED --request failed (server shutting down)--> released.
 * The reply batch is the only batch of the call, so no locking is needed: the handler owns
 * the call until it replies, the completion owns it afterwards. The registered method uses
 * GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, so the request bytes arrive with the call.
 * Unknown methods are caught by generic requests and answered UNIMPLEMENTED at once.
 */
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>

#include "server/metrics/catalog.h"
#include "server/rpc/rpc_int.h"

struct evb_rpc_call {
    rpc_head h;
    rpc_tag t_request;
    rpc_tag t_reply;
    grpc_byte_buffer *payload;  /* request (received) */
    grpc_byte_buffer *send_buf; /* response (in flight) */
    grpc_slice details;         /* status message (in flight) */
    int close_cancelled;
};

static void call_free(evb_rpc_call *c)
{
    evb_rpc_server *s = c->h.srv;
    if (c->payload != NULL)
        grpc_byte_buffer_destroy(c->payload);
    if (c->send_buf != NULL)
        grpc_byte_buffer_destroy(c->send_buf);
    grpc_slice_unref(c->details);
    rpc_head_fini(&c->h);
    free(c);
    rpc_server_release(s);
}

static void on_reply_done(rpc_tag *t, int ok)
{
    (void)ok; /* a failed reply (client gone) needs no further action */
    call_free(RPC_CONTAINER_OF(t, evb_rpc_call, t_reply));
}

static void start_reply(evb_rpc_call *c, evb_rpc_status status, const char *message,
                        const uint8_t *resp, size_t len, bool with_message)
{
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    n++;
    if (with_message) {
        c->send_buf = rpc_bb_copy(resp, len);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->send_buf;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)status;
    if (message != NULL) {
        c->details = grpc_slice_from_copied_string(message);
        ops[n].data.send_status_from_server.status_details = &c->details;
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &c->close_cancelled;
    n++;
    c->t_reply.fn = on_reply_done;
    rpc_head_count(&c->h, (int)status);
    /* After a successful start the completion may free c on a worker at any moment. */
    if (grpc_call_start_batch(c->h.call, ops, n, &c->t_reply, NULL) != GRPC_CALL_OK) {
        grpc_call_cancel(c->h.call, NULL);
        call_free(c);
    }
}

void evb_rpc_reply(evb_rpc_call *call, const uint8_t *resp, size_t len)
{
    if (call == NULL)
        return;
    start_reply(call, EVB_RPC_OK, NULL, resp, len, true);
}

void evb_rpc_reply_error(evb_rpc_call *call, evb_rpc_status status, const char *message)
{
    if (call == NULL)
        return;
    if (status == EVB_RPC_OK) /* an OK status without a message would break unary rules */
        status = EVB_RPC_INTERNAL;
    start_reply(call, status, message, NULL, 0, false);
}

const char *evb_rpc_call_metadata(const evb_rpc_call *call, const char *key)
{
    return rpc_head_metadata(&call->h, key);
}

const char *evb_rpc_call_peer(const evb_rpc_call *call)
{
    return call->h.peer;
}

int64_t evb_rpc_call_deadline_ms(const evb_rpc_call *call)
{
    return call->h.deadline_ms;
}

const char *evb_rpc_call_method(const evb_rpc_call *call)
{
    return call->h.method->name;
}

static void on_call_request(rpc_tag *t, int ok)
{
    evb_rpc_call *c = RPC_CONTAINER_OF(t, evb_rpc_call, t_request);
    if (!ok) { /* server shutting down: the request was never matched */
        call_free(c);
        return;
    }
    rpc_method *m = c->h.method;
    rpc_repost(c->h.srv, m, c->h.cq_idx); /* keep the pool of requests full */
    if (rpc_head_capture(&c->h) != EVB_OK) {
        evb_rpc_reply_error(c, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (c->payload == NULL) {
        evb_rpc_reply_error(c, EVB_RPC_INTERNAL, "missing request message");
        return;
    }
    grpc_slice req = rpc_bb_read(c->payload);
    grpc_byte_buffer_destroy(c->payload);
    c->payload = NULL;
    size_t len = GRPC_SLICE_LENGTH(req);
    const uint8_t *p = len > 0 ? GRPC_SLICE_START_PTR(req) : (const uint8_t *)"";
    m->unary_fn(c, p, len, m->arg); /* c may be released from here on */
    grpc_slice_unref(req);
}

evb_err rpc_call_post(evb_rpc_server *s, rpc_method *m, int cq_idx)
{
    if (!rpc_server_acquire(s))
        return EVB_OK;
    evb_rpc_call *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rpc_server_release(s);
        return EVB_ERR_NOMEM;
    }
    rpc_head_init(&c->h, s, m, cq_idx);
    c->details = grpc_empty_slice();
    c->t_request.fn = on_call_request;
    grpc_completion_queue *cq = rpc_server_cq(s, cq_idx);
    if (grpc_server_request_registered_call(s->server, m->handle, &c->h.call, &c->h.deadline,
                                            &c->h.md, &c->payload, cq, cq,
                                            &c->t_request) != GRPC_CALL_OK) {
        call_free(c);
        return EVB_ERR_INTERNAL;
    }
    return EVB_OK;
}

/* ---- unknown methods ---- */

typedef struct rpc_generic {
    rpc_head h;
    grpc_call_details details;
    rpc_tag t_request;
    rpc_tag t_reply;
    grpc_slice msg;
    int close_cancelled;
} rpc_generic;

static void generic_free(rpc_generic *g)
{
    evb_rpc_server *s = g->h.srv;
    grpc_call_details_destroy(&g->details);
    grpc_slice_unref(g->msg);
    rpc_head_fini(&g->h);
    free(g);
    rpc_server_release(s);
}

static void on_generic_reply(rpc_tag *t, int ok)
{
    (void)ok;
    generic_free(RPC_CONTAINER_OF(t, rpc_generic, t_reply));
}

/* "unknown method /pkg.Svc/M" (the name cut to a sane length). */
static grpc_slice unknown_message(const grpc_call_details *d)
{
    static const char prefix[] = "unknown method ";
    size_t n = GRPC_SLICE_LENGTH(d->method);
    if (n > 200)
        n = 200;
    char buf[sizeof(prefix) + 200];
    memcpy(buf, prefix, sizeof(prefix) - 1);
    memcpy(buf + sizeof(prefix) - 1, GRPC_SLICE_START_PTR(d->method), n);
    return grpc_slice_from_copied_buffer(buf, sizeof(prefix) - 1 + n);
}

static void on_generic_request(rpc_tag *t, int ok)
{
    rpc_generic *g = RPC_CONTAINER_OF(t, rpc_generic, t_request);
    if (!ok) {
        generic_free(g);
        return;
    }
    rpc_repost(g->h.srv, NULL, g->h.cq_idx);
    evb_mx_rpc(NULL, GRPC_STATUS_UNIMPLEMENTED, 0.0);
    g->msg = unknown_message(&g->details);
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
    ops[1].data.send_status_from_server.status_details = &g->msg;
    ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[2].data.recv_close_on_server.cancelled = &g->close_cancelled;
    g->t_reply.fn = on_generic_reply;
    if (grpc_call_start_batch(g->h.call, ops, 3, &g->t_reply, NULL) != GRPC_CALL_OK) {
        grpc_call_cancel(g->h.call, NULL);
        generic_free(g);
    }
}

evb_err rpc_generic_post(evb_rpc_server *s, int cq_idx)
{
    if (!rpc_server_acquire(s))
        return EVB_OK;
    rpc_generic *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        rpc_server_release(s);
        return EVB_ERR_NOMEM;
    }
    rpc_head_init(&g->h, s, NULL, cq_idx);
    grpc_call_details_init(&g->details);
    g->msg = grpc_empty_slice();
    g->t_request.fn = on_generic_request;
    grpc_completion_queue *cq = rpc_server_cq(s, cq_idx);
    if (grpc_server_request_call(s->server, &g->h.call, &g->details, &g->h.md, cq, cq,
                                 &g->t_request) != GRPC_CALL_OK) {
        generic_free(g);
        return EVB_ERR_INTERNAL;
    }
    return EVB_OK;
}
