/* evbctl — gRPC client core (see rpc_client.h).
 *
 * Unary: one batch of the six client ops, plucked from a per-call queue. Bidi: a per-stream
 * "next" queue; RECV_INITIAL_METADATA and RECV_STATUS_ON_CLIENT are started at open (the
 * 1.51 core completes neither a message receive nor the status before the initial metadata
 * was asked for), one RECV_MESSAGE is re-armed after each message, and at most one
 * SEND_MESSAGE is in flight. Freeing waits for every started operation before the call is
 * released, as the core requires.
 */
#include "clients/evbctl/rpc_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#define MAX_RECV_BYTES (64 * 1024 * 1024)

struct evb_rpc_client {
    grpc_channel *channel;
};

static gpr_timespec deadline_after(int ms)
{
    if (ms <= 0)
        return gpr_inf_future(GPR_CLOCK_REALTIME);
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

evb_err evb_rpc_client_new(const evb_rpc_client_opts *o, evb_rpc_client **out, evb_error *err)
{
    if (o == NULL || o->target == NULL || o->target[0] == 0)
        return evb_error_set(err, EVB_ERR_INVALID, "addr", "no server address");
    if ((o->cert_pem == NULL) != (o->key_pem == NULL))
        return evb_error_set(err, EVB_ERR_INVALID, "cert",
                             "mutual TLS needs both a client certificate and its key");
    evb_rpc_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    grpc_channel_credentials *creds;
    if (o->tls) {
        grpc_ssl_pem_key_cert_pair pair = {o->key_pem, o->cert_pem};
        creds =
            grpc_ssl_credentials_create(o->ca_pem, o->cert_pem != NULL ? &pair : NULL, NULL, NULL);
    } else {
        creds = grpc_insecure_credentials_create();
    }
    if (creds == NULL) {
        free(c);
        return evb_error_set(err, EVB_ERR_INVALID, "tls", "cannot create channel credentials");
    }
    grpc_arg args[3];
    size_t nargs = 0;
    memset(args, 0, sizeof(args));
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[nargs++].value.integer = MAX_RECV_BYTES;
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_ENABLE_RETRIES;
    args[nargs++].value.integer = 0;
    if (o->tls && o->server_name != NULL && o->server_name[0]) {
        args[nargs].type = GRPC_ARG_STRING;
        args[nargs].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[nargs++].value.string = (char *)o->server_name;
    }
    grpc_channel_args ca = {nargs, args};
    c->channel = grpc_channel_create(o->target, creds, &ca);
    grpc_channel_credentials_release(creds);
    if (c->channel == NULL) {
        free(c);
        return evb_error_set(err, EVB_ERR_INVALID, "addr", "cannot create a channel to %s",
                             o->target);
    }
    *out = c;
    return EVB_OK;
}

void evb_rpc_client_free(evb_rpc_client *c)
{
    if (c == NULL)
        return;
    grpc_channel_destroy(c->channel);
    free(c);
}

void evb_rpc_result_fini(evb_rpc_result *r)
{
    if (r == NULL)
        return;
    free(r->details);
    free(r->resp);
    memset(r, 0, sizeof(*r));
}

static grpc_byte_buffer *bb_of(const void *p, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer(p, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* Copies the buffer's bytes into a malloc'd, NUL-terminated block and destroys it. */
static uint8_t *bb_take(grpc_byte_buffer *bb, size_t *len)
{
    grpc_byte_buffer_reader r;
    uint8_t *out = NULL;
    *len = 0;
    if (grpc_byte_buffer_reader_init(&r, bb)) {
        grpc_slice s = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        *len = GRPC_SLICE_LENGTH(s);
        out = malloc(*len + 1);
        if (out != NULL) {
            memcpy(out, GRPC_SLICE_START_PTR(s), *len);
            out[*len] = 0;
        }
        grpc_slice_unref(s);
    }
    grpc_byte_buffer_destroy(bb);
    return out;
}

static char *slice_str(grpc_slice s)
{
    size_t n = GRPC_SLICE_LENGTH(s);
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, GRPC_SLICE_START_PTR(s), n);
        p[n] = 0;
    }
    return p;
}

static void cq_drain_destroy(grpc_completion_queue *cq, int pluck)
{
    grpc_completion_queue_shutdown(cq);
    for (;;) {
        grpc_event ev =
            pluck ? grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                  : grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
    }
    grpc_completion_queue_destroy(cq);
}

/* Fills md with the authorization metadata; *bearer must be freed by the caller. */
static size_t auth_md(const char *api_key, grpc_metadata *md, char **bearer)
{
    *bearer = NULL;
    memset(md, 0, sizeof(*md));
    if (api_key == NULL || api_key[0] == 0)
        return 0;
    size_t n = strlen(api_key) + 8;
    *bearer = malloc(n);
    if (*bearer == NULL)
        return 0;
    snprintf(*bearer, n, "Bearer %s", api_key);
    /* copied, not static: gRPC's header compression may keep a reference to the value
     * after this call, and the bearer text is freed when the call ends */
    md->key = grpc_slice_from_static_string("authorization");
    md->value = grpc_slice_from_copied_string(*bearer);
    return 1;
}

void evb_rpc_client_unary(evb_rpc_client *c, const char *method, const char *api_key,
                          const void *req, size_t len, int timeout_ms, evb_rpc_result *out)
{
    memset(out, 0, sizeof(*out));
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    /* copied: the method often lives in the caller's stack buffer, and gRPC may keep a
     * reference to the slice (header compression) beyond this call */
    grpc_slice msl = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, msl,
                                               NULL, deadline_after(timeout_ms), NULL);
    grpc_slice_unref(msl);
    grpc_metadata md;
    char *bearer;
    size_t nmd = auth_md(api_key, &md, &bearer);
    grpc_metadata_array init_md, trailing;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *send = bb_of(req, len), *recv = NULL;
    grpc_slice details = grpc_empty_slice();
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = nmd;
    ops[0].data.send_initial_metadata.metadata = nmd ? &md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    void *tag = (void *)1;
    if (grpc_call_start_batch(call, ops, 6, tag, NULL) != GRPC_CALL_OK) {
        out->status = GRPC_STATUS_INTERNAL;
        out->details = strdup("cannot start the call");
    } else {
        grpc_event ev =
            grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        (void)ev; /* the deadline bounds the wait; the status says how it went */
        out->status = (int)status;
        out->details = slice_str(details);
        if (recv != NULL) {
            out->resp = bb_take(recv, &out->resp_len);
            out->has_resp = out->resp != NULL;
        }
    }
    if (out->details == NULL)
        out->details = strdup("");
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(send);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    cq_drain_destroy(cq, 1);
    if (nmd)
        grpc_slice_unref(md.value);
    free(bearer);
}

/* ---- bidi ---- */

enum { T_START = 1, T_INITMD, T_STATUS, T_RECV, T_SEND, T_CLOSE, T__N };

struct evb_rpc_bidi {
    grpc_completion_queue *cq;
    grpc_call *call;
    char *bearer;
    grpc_metadata md;
    grpc_metadata_array init_md, trailing;
    grpc_slice details;
    char *details_str;
    grpc_status_code status;
    grpc_byte_buffer *recv_bb, *send_bb;
    int pending[T__N]; /* started and not yet completed */
    int recv_armed, recv_over, status_done, send_closed;
};

static int start1(evb_rpc_bidi *b, grpc_op *op, int tag)
{
    if (grpc_call_start_batch(b->call, op, 1, (void *)(uintptr_t)tag, NULL) != GRPC_CALL_OK)
        return -1;
    b->pending[tag] = 1;
    return 0;
}

static int arm_recv(evb_rpc_bidi *b)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &b->recv_bb;
    b->recv_bb = NULL;
    if (start1(b, &op, T_RECV) != 0) {
        b->recv_over = 1;
        return -1;
    }
    b->recv_armed = 1;
    return 0;
}

evb_rpc_bidi *evb_rpc_bidi_open(evb_rpc_client *c, const char *method, const char *api_key,
                                int timeout_ms)
{
    evb_rpc_bidi *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_slice msl = grpc_slice_from_copied_string(method);
    b->call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, b->cq, msl,
                                       NULL, deadline_after(timeout_ms), NULL);
    grpc_slice_unref(msl);
    grpc_metadata_array_init(&b->init_md);
    grpc_metadata_array_init(&b->trailing);
    b->details = grpc_empty_slice();
    b->status = GRPC_STATUS_UNKNOWN;
    size_t nmd = auth_md(api_key, &b->md, &b->bearer);
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    op.data.send_initial_metadata.count = nmd;
    op.data.send_initial_metadata.metadata = nmd ? &b->md : NULL;
    (void)start1(b, &op, T_START);
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_INITIAL_METADATA;
    op.data.recv_initial_metadata.recv_initial_metadata = &b->init_md;
    (void)start1(b, &op, T_INITMD);
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.status = &b->status;
    op.data.recv_status_on_client.status_details = &b->details;
    op.data.recv_status_on_client.trailing_metadata = &b->trailing;
    if (start1(b, &op, T_STATUS) != 0)
        b->status_done = 1;
    (void)arm_recv(b);
    return b;
}

int evb_rpc_bidi_send(evb_rpc_bidi *b, const void *msg, size_t len)
{
    if (b->pending[T_SEND] || b->send_closed || b->status_done)
        return -1;
    b->send_bb = bb_of(msg, len);
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = b->send_bb;
    if (start1(b, &op, T_SEND) != 0) {
        grpc_byte_buffer_destroy(b->send_bb);
        b->send_bb = NULL;
        return -1;
    }
    return 0;
}

int evb_rpc_bidi_sending(const evb_rpc_bidi *b)
{
    return b->pending[T_SEND];
}

int evb_rpc_bidi_close_send(evb_rpc_bidi *b)
{
    if (b->pending[T_SEND] || b->send_closed)
        return -1;
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    b->send_closed = 1;
    return start1(b, &op, T_CLOSE);
}

evb_bidi_event evb_rpc_bidi_poll(evb_rpc_bidi *b, int wait_ms, uint8_t **msg, size_t *len)
{
    *msg = NULL;
    *len = 0;
    gpr_timespec until = deadline_after(wait_ms > 0 ? wait_ms : 1);
    for (;;) {
        if (b->status_done && !b->recv_armed)
            return EVB_BIDI_STATUS;
        grpc_event ev = grpc_completion_queue_next(b->cq, until, NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT)
            return EVB_BIDI_TIMEOUT;
        if (ev.type != GRPC_OP_COMPLETE)
            return EVB_BIDI_ERROR;
        int tag = (int)(uintptr_t)ev.tag;
        if (tag > 0 && tag < T__N)
            b->pending[tag] = 0;
        switch (tag) {
        case T_RECV:
            b->recv_armed = 0;
            if (ev.success && b->recv_bb != NULL) {
                grpc_byte_buffer *bb = b->recv_bb;
                b->recv_bb = NULL;
                *msg = bb_take(bb, len);
                (void)arm_recv(b);
                if (*msg != NULL)
                    return EVB_BIDI_MESSAGE;
            } else {
                b->recv_over = 1;
            }
            break;
        case T_SEND:
            grpc_byte_buffer_destroy(b->send_bb);
            b->send_bb = NULL;
            return EVB_BIDI_SENT;
        case T_STATUS:
            b->status_done = 1;
            free(b->details_str);
            b->details_str = slice_str(b->details);
            break;
        default:
            break;
        }
    }
}

int evb_rpc_bidi_status(const evb_rpc_bidi *b, const char **details)
{
    if (details != NULL)
        *details = b->details_str;
    return (int)b->status;
}

void evb_rpc_bidi_free(evb_rpc_bidi *b)
{
    if (b == NULL)
        return;
    if (!b->status_done)
        grpc_call_cancel(b->call, NULL);
    for (;;) {
        int busy = 0;
        for (int t = 1; t < T__N; t++)
            busy |= b->pending[t];
        if (!busy)
            break;
        grpc_event ev = grpc_completion_queue_next(b->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        int tag = (int)(uintptr_t)ev.tag;
        if (tag > 0 && tag < T__N)
            b->pending[tag] = 0;
    }
    if (b->recv_bb != NULL)
        grpc_byte_buffer_destroy(b->recv_bb);
    if (b->send_bb != NULL)
        grpc_byte_buffer_destroy(b->send_bb);
    grpc_call_unref(b->call);
    cq_drain_destroy(b->cq, 0);
    grpc_metadata_array_destroy(&b->init_md);
    grpc_metadata_array_destroy(&b->trailing);
    grpc_slice_unref(b->details);
    if (b->bearer != NULL)
        grpc_slice_unref(b->md.value);
    free(b->details_str);
    free(b->bearer);
    free(b);
}
