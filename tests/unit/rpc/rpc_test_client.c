/* evbridge — the test client of rpc_test_client.h (gRPC core client API).
 *
 * Every operation waits for its own tag on the stream's completion queue; a pipelined
 * helper keeps one send and one receive in flight and takes completions in any order.
 */
#include "tests/unit/rpc/rpc_test_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#define TAG_SEND ((void *)1)
#define TAG_RECV ((void *)2)
#define TAG_STATUS ((void *)3)
#define TAG_OTHER ((void *)4)
#define TAG_CLOSE ((void *)5)
#define TAG_START ((void *)6)
#define TAG_INITMD ((void *)7)

static gpr_timespec after_ms(int ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

void tc_result_free(tc_result *r)
{
    free(r->details);
    free(r->resp);
    memset(r, 0, sizeof(*r));
}

grpc_channel *tc_channel(int port)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);
    return ch;
}

static grpc_byte_buffer *bb_of(const void *p, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer(p, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static void bb_take(grpc_byte_buffer *bb, uint8_t **out, size_t *len)
{
    grpc_byte_buffer_reader r;
    grpc_byte_buffer_reader_init(&r, bb);
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *len = GRPC_SLICE_LENGTH(s);
    *out = malloc(*len + 1);
    if (*out != NULL) {
        memcpy(*out, GRPC_SLICE_START_PTR(s), *len);
        (*out)[*len] = 0;
    }
    grpc_slice_unref(s);
    grpc_byte_buffer_destroy(bb);
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

static int wait_tag(grpc_completion_queue *cq, void *tag, int *ok)
{
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, after_ms(30000), NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return -1;
    *ok = ev.success;
    return 0;
}

static void cq_finish(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
}

void tc_unary(grpc_channel *ch, const char *method, const void *req, size_t len, const char *md_key,
              const char *md_val, int deadline_ms, tc_result *out)
{
    memset(out, 0, sizeof(*out));
    if (deadline_ms <= 0)
        deadline_ms = 10000;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice msl = grpc_slice_from_static_string(method);
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, msl, NULL,
                                               after_ms(deadline_ms), NULL);
    grpc_metadata md;
    memset(&md, 0, sizeof(md));
    if (md_key != NULL) {
        md.key = grpc_slice_from_static_string(md_key);
        md.value = grpc_slice_from_static_string(md_val);
    }
    grpc_metadata_array init_md, trailing;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *send = bb_of(req, len), *recv = NULL;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = md_key != NULL ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = md_key != NULL ? &md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &out->status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    int ok = 0;
    if (grpc_call_start_batch(call, ops, 6, TAG_OTHER, NULL) != GRPC_CALL_OK ||
        wait_tag(cq, TAG_OTHER, &ok) != 0) {
        out->status = GRPC_STATUS__DO_NOT_USE;
    }
    out->details = slice_str(details);
    if (recv != NULL) {
        out->has_resp = 1;
        bb_take(recv, &out->resp, &out->resp_len);
    }
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(send);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    cq_finish(cq);
}

struct tc_stream {
    grpc_completion_queue *cq; /* for next: completions of other tags are stashed */
    grpc_call *call;
    grpc_metadata_array init_md, trailing;
    int init_md_requested;
    grpc_slice details;
    grpc_status_code status;
    int status_started;
    int done[8], ok[8]; /* stash indexed by tag */
};

/* Waits for `tag` on the stream's queue; other completions are remembered. */
static int st_wait(tc_stream *s, void *tag, int *ok)
{
    size_t t = (size_t)(uintptr_t)tag;
    while (!s->done[t]) {
        grpc_event ev = grpc_completion_queue_next(s->cq, after_ms(30000), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            return -1;
        size_t u = (size_t)(uintptr_t)ev.tag;
        s->done[u] = 1;
        s->ok[u] = ev.success;
    }
    s->done[t] = 0;
    *ok = s->ok[t];
    return 0;
}

/* Waits for whichever of the two tags completes first; returns it. */
static void *st_wait_any(tc_stream *s, void *a, void *b, int *ok)
{
    for (;;) {
        if (a != NULL && s->done[(uintptr_t)a]) {
            (void)st_wait(s, a, ok);
            return a;
        }
        if (b != NULL && s->done[(uintptr_t)b]) {
            (void)st_wait(s, b, ok);
            return b;
        }
        grpc_event ev = grpc_completion_queue_next(s->cq, after_ms(30000), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            return NULL;
        s->done[(uintptr_t)ev.tag] = 1;
        s->ok[(uintptr_t)ev.tag] = ev.success;
    }
}

tc_stream *tc_stream_open(grpc_channel *ch, const char *method, int deadline_ms)
{
    tc_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (deadline_ms <= 0)
        deadline_ms = 30000;
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_slice msl = grpc_slice_from_static_string(method);
    s->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq, msl, NULL,
                                       after_ms(deadline_ms), NULL);
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trailing);
    s->details = grpc_empty_slice();
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    int ok = 0;
    if (grpc_call_start_batch(s->call, &op, 1, TAG_START, NULL) != GRPC_CALL_OK ||
        st_wait(s, TAG_START, &ok) != 0) {
        tc_stream_free(s);
        return NULL;
    }
    /* Initial metadata and status are received in the background: the 1.51 client
     * completes neither a message receive nor the status before the initial metadata
     * was asked for. */
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_INITIAL_METADATA;
    op.data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
    if (grpc_call_start_batch(s->call, &op, 1, TAG_INITMD, NULL) == GRPC_CALL_OK)
        s->init_md_requested = 1;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.status = &s->status;
    op.data.recv_status_on_client.status_details = &s->details;
    op.data.recv_status_on_client.trailing_metadata = &s->trailing;
    if (grpc_call_start_batch(s->call, &op, 1, TAG_STATUS, NULL) == GRPC_CALL_OK)
        s->status_started = 1;
    return s;
}

int tc_stream_send(tc_stream *s, const void *msg, size_t len)
{
    grpc_byte_buffer *bb = bb_of(msg, len);
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    int ok = 0;
    int rc = grpc_call_start_batch(s->call, &op, 1, TAG_SEND, NULL) == GRPC_CALL_OK &&
                     st_wait(s, TAG_SEND, &ok) == 0 && ok
                 ? 0
                 : -1;
    grpc_byte_buffer_destroy(bb);
    return rc;
}

static int start_recv(tc_stream *s, grpc_byte_buffer **bb)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = bb;
    return grpc_call_start_batch(s->call, &op, 1, TAG_RECV, NULL) == GRPC_CALL_OK ? 0 : -1;
}

int tc_stream_recv(tc_stream *s, uint8_t **msg, size_t *len)
{
    grpc_byte_buffer *bb = NULL;
    int ok = 0;
    if (start_recv(s, &bb) != 0 || st_wait(s, TAG_RECV, &ok) != 0 || !ok) {
        if (bb != NULL)
            grpc_byte_buffer_destroy(bb);
        return -1;
    }
    if (bb == NULL)
        return 0;
    bb_take(bb, msg, len);
    return 1;
}

int tc_stream_close_send(tc_stream *s)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    int ok = 0;
    return grpc_call_start_batch(s->call, &op, 1, TAG_CLOSE, NULL) == GRPC_CALL_OK &&
                   st_wait(s, TAG_CLOSE, &ok) == 0 && ok
               ? 0
               : -1;
}

void tc_stream_cancel(tc_stream *s)
{
    grpc_call_cancel(s->call, NULL);
}

void tc_stream_status(tc_stream *s, tc_result *out)
{
    memset(out, 0, sizeof(*out));
    int ok = 0;
    if (!s->status_started || st_wait(s, TAG_STATUS, &ok) != 0) {
        out->status = GRPC_STATUS__DO_NOT_USE;
        out->details = strdup("");
        return;
    }
    s->status_started = 0;
    out->status = s->status;
    out->details = slice_str(s->details);
}

void tc_stream_free(tc_stream *s)
{
    if (s == NULL)
        return;
    int ok;
    if (s->status_started) {
        grpc_call_cancel(s->call, NULL);
        (void)st_wait(s, TAG_STATUS, &ok);
    }
    if (s->init_md_requested)
        (void)st_wait(s, TAG_INITMD, &ok);
    grpc_call_unref(s->call);
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(s->cq);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trailing);
    grpc_slice_unref(s->details);
    free(s);
}

int tc_stream_echo_pipelined(tc_stream *s, int n)
{
    int sent = 0, got = 0, send_busy = 0, recv_busy = 0, failed = 0;
    grpc_byte_buffer *sbuf = NULL, *rbuf = NULL;
    char m[32];
    while (got < n && !failed) {
        if (!send_busy && sent < n) {
            int l = snprintf(m, sizeof(m), "m%d", sent);
            sbuf = bb_of(m, (size_t)l);
            grpc_op op;
            memset(&op, 0, sizeof(op));
            op.op = GRPC_OP_SEND_MESSAGE;
            op.data.send_message.send_message = sbuf;
            if (grpc_call_start_batch(s->call, &op, 1, TAG_SEND, NULL) != GRPC_CALL_OK)
                break;
            send_busy = 1;
        }
        if (!recv_busy) {
            if (start_recv(s, &rbuf) != 0)
                break;
            recv_busy = 1;
        }
        int ok = 0;
        void *t = st_wait_any(s, TAG_RECV, send_busy ? TAG_SEND : NULL, &ok);
        if (t == NULL) {
            failed = 1;
        } else if (t == TAG_RECV) {
            recv_busy = 0;
            if (!ok || rbuf == NULL) {
                failed = 1;
            } else {
                uint8_t *p;
                size_t l;
                bb_take(rbuf, &p, &l);
                rbuf = NULL;
                int wl = snprintf(m, sizeof(m), "m%d", got);
                if (p == NULL || l != (size_t)wl || memcmp(p, m, l) != 0)
                    failed = 1;
                else
                    got++;
                free(p);
            }
        } else {
            send_busy = 0;
            grpc_byte_buffer_destroy(sbuf);
            sbuf = NULL;
            if (!ok)
                failed = 1;
            else
                sent++;
        }
    }
    int ok;
    if (send_busy) {
        (void)st_wait(s, TAG_SEND, &ok);
        grpc_byte_buffer_destroy(sbuf);
    }
    if (recv_busy) {
        grpc_call_cancel(s->call, NULL);
        (void)st_wait(s, TAG_RECV, &ok);
        if (rbuf != NULL)
            grpc_byte_buffer_destroy(rbuf);
    }
    return got;
}
