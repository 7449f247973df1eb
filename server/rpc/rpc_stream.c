/* evbridge — bidirectional streams.
 *
 * One context per stream, guarded by its mutex. Batches in flight at most one of each:
 * initial metadata (sent at start), RECV_CLOSE_ON_SERVER (posted at start; it reports the
 * end of the call and whether it was cancelled), one RECV_MESSAGE (posted on
 * evb_rpc_stream_request_next), one SEND_MESSAGE (the head of the application send queue)
 * and finally SEND_STATUS_FROM_SERVER once the queue has drained after a finish.
 * `inflight` counts started batches; the stream is over when RECV_CLOSE has completed and
 * nothing is in flight: then on_done runs exactly once and the context is freed.
 *
 * Batches are started with the mutex held (grpc_call_start_batch never completes inline:
 * completions go to the call's queue). Handler callbacks run on the call's worker thread
 * without the mutex, so handlers may call any evb_rpc_stream_* function from them.
 */
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>

#include "server/rpc/rpc_int.h"

typedef struct send_node {
    struct send_node *next;
    grpc_byte_buffer *bb;
} send_node;

struct evb_rpc_stream {
    rpc_head h;
    rpc_tag t_request, t_initmd, t_close, t_recv, t_send, t_status;
    pthread_mutex_t mu;
    void *user;

    grpc_byte_buffer *recv_buf;
    int close_cancelled;

    send_node *qhead, *qtail;   /* waiting, not yet started */
    grpc_byte_buffer *send_buf; /* in flight */
    size_t queued;              /* waiting + in flight */
    size_t low_water;

    unsigned inflight;
    bool recv_inflight, send_inflight;
    bool finish_requested, status_started, status_ok;
    bool half_closed, closed, broken, done;
    bool handler_started; /* on_start ran: on_done is owed (worker thread only) */
    evb_rpc_status fin_status;
    grpc_slice fin_details;
};

static void stream_free(evb_rpc_stream *st)
{
    evb_rpc_server *s = st->h.srv;
    send_node *n = st->qhead;
    while (n != NULL) {
        send_node *next = n->next;
        grpc_byte_buffer_destroy(n->bb);
        free(n);
        n = next;
    }
    if (st->send_buf != NULL)
        grpc_byte_buffer_destroy(st->send_buf);
    if (st->recv_buf != NULL)
        grpc_byte_buffer_destroy(st->recv_buf);
    grpc_slice_unref(st->fin_details);
    rpc_head_fini(&st->h);
    pthread_mutex_destroy(&st->mu);
    free(st);
    rpc_server_release(s);
}

/* Marks the stream broken and makes sure RECV_CLOSE completes. Mutex held. */
static void break_locked(evb_rpc_stream *st)
{
    if (!st->broken) {
        st->broken = true;
        grpc_call_cancel(st->h.call, NULL);
    }
}

static bool start_locked(evb_rpc_stream *st, grpc_op *ops, size_t n, rpc_tag *tag)
{
    if (grpc_call_start_batch(st->h.call, ops, n, tag, NULL) != GRPC_CALL_OK) {
        break_locked(st);
        return false;
    }
    st->inflight++;
    return true;
}

static void start_send_locked(evb_rpc_stream *st, grpc_byte_buffer *bb)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    st->send_buf = bb;
    st->send_inflight = true;
    if (!start_locked(st, &op, 1, &st->t_send)) {
        st->send_inflight = false;
        st->send_buf = NULL;
        grpc_byte_buffer_destroy(bb);
        st->queued--;
    }
}

static void start_status_locked(evb_rpc_stream *st)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = (grpc_status_code)st->fin_status;
    op.data.send_status_from_server.status_details = &st->fin_details;
    st->status_started = true;
    start_locked(st, &op, 1, &st->t_status);
}

static void start_recv_locked(evb_rpc_stream *st)
{
    if (st->recv_inflight || st->half_closed || st->closed || st->broken)
        return;
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &st->recv_buf;
    st->recv_inflight = true;
    if (!start_locked(st, &op, 1, &st->t_recv))
        st->recv_inflight = false;
}

/* Runs on_done and frees the stream when it is over. Worker thread, mutex not held. */
static void check_done(evb_rpc_stream *st)
{
    pthread_mutex_lock(&st->mu);
    bool over = st->closed && st->inflight == 0 && !st->done;
    if (over)
        st->done = true;
    int cancelled = st->close_cancelled || !st->status_ok;
    int status = st->status_started && st->status_ok ? (int)st->fin_status : EVB_RPC_CANCELLED;
    pthread_mutex_unlock(&st->mu);
    if (!over)
        return;
    rpc_head_count(&st->h, status);
    const evb_rpc_stream_ops *ops = &st->h.method->stream_ops;
    if (st->handler_started && ops->on_done != NULL)
        ops->on_done(st, st->user, cancelled);
    stream_free(st);
}

static void on_initmd(rpc_tag *t, int ok)
{
    evb_rpc_stream *st = RPC_CONTAINER_OF(t, evb_rpc_stream, t_initmd);
    pthread_mutex_lock(&st->mu);
    st->inflight--;
    if (!ok)
        break_locked(st);
    pthread_mutex_unlock(&st->mu);
    check_done(st);
}

static void on_close(rpc_tag *t, int ok)
{
    evb_rpc_stream *st = RPC_CONTAINER_OF(t, evb_rpc_stream, t_close);
    pthread_mutex_lock(&st->mu);
    st->inflight--;
    st->closed = true;
    if (!ok)
        st->close_cancelled = 1;
    pthread_mutex_unlock(&st->mu);
    check_done(st);
}

static void on_status(rpc_tag *t, int ok)
{
    evb_rpc_stream *st = RPC_CONTAINER_OF(t, evb_rpc_stream, t_status);
    pthread_mutex_lock(&st->mu);
    st->inflight--;
    st->status_ok = ok != 0;
    if (!ok)
        break_locked(st);
    pthread_mutex_unlock(&st->mu);
    check_done(st);
}

static void on_send(rpc_tag *t, int ok)
{
    evb_rpc_stream *st = RPC_CONTAINER_OF(t, evb_rpc_stream, t_send);
    bool writable = false;
    pthread_mutex_lock(&st->mu);
    st->inflight--;
    st->send_inflight = false;
    grpc_byte_buffer_destroy(st->send_buf);
    st->send_buf = NULL;
    size_t before = st->queued--;
    if (!ok)
        break_locked(st);
    if (!st->broken && !st->closed) {
        if (st->qhead != NULL) {
            send_node *n = st->qhead;
            st->qhead = n->next;
            if (st->qhead == NULL)
                st->qtail = NULL;
            grpc_byte_buffer *bb = n->bb;
            free(n);
            start_send_locked(st, bb);
        } else if (st->finish_requested && !st->status_started) {
            start_status_locked(st);
        }
        /* at the low-water mark, and whenever the queue runs empty (a handler that
         * gates reading on evb_rpc_stream_queued with a huge cap still gets a call) */
        writable = ((before > st->low_water && st->queued <= st->low_water) || st->queued == 0) &&
                   !st->finish_requested;
    }
    pthread_mutex_unlock(&st->mu);
    const evb_rpc_stream_ops *ops = &st->h.method->stream_ops;
    if (writable && ops->on_writable != NULL)
        ops->on_writable(st, st->user);
    check_done(st);
}

static void on_recv(rpc_tag *t, int ok)
{
    evb_rpc_stream *st = RPC_CONTAINER_OF(t, evb_rpc_stream, t_recv);
    const evb_rpc_stream_ops *ops = &st->h.method->stream_ops;
    pthread_mutex_lock(&st->mu);
    st->inflight--;
    st->recv_inflight = false;
    grpc_byte_buffer *bb = st->recv_buf;
    st->recv_buf = NULL;
    if (!ok)
        break_locked(st);
    bool deliver = ok && !st->closed && !st->broken;
    if (deliver && bb == NULL)
        st->half_closed = true;
    pthread_mutex_unlock(&st->mu);

    if (deliver && bb != NULL) {
        grpc_slice s = rpc_bb_read(bb);
        grpc_byte_buffer_destroy(bb);
        size_t len = GRPC_SLICE_LENGTH(s);
        const uint8_t *p = len > 0 ? GRPC_SLICE_START_PTR(s) : (const uint8_t *)"";
        ops->on_message(st, st->user, p, len);
        grpc_slice_unref(s);
    } else if (deliver) {
        if (ops->on_half_close != NULL)
            ops->on_half_close(st, st->user);
        else
            evb_rpc_stream_finish(st, EVB_RPC_OK, NULL);
    } else if (bb != NULL) {
        grpc_byte_buffer_destroy(bb);
    }
    check_done(st);
}

static void on_stream_request(rpc_tag *t, int ok)
{
    evb_rpc_stream *st = RPC_CONTAINER_OF(t, evb_rpc_stream, t_request);
    if (!ok) { /* server shutting down: the request was never matched */
        stream_free(st);
        return;
    }
    rpc_method *m = st->h.method;
    rpc_repost(st->h.srv, m, st->h.cq_idx); /* keep the pool of requests full */
    bool captured = rpc_head_capture(&st->h) == EVB_OK;

    grpc_op op;
    pthread_mutex_lock(&st->mu);
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    start_locked(st, &op, 1, &st->t_initmd);
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &st->close_cancelled;
    if (!start_locked(st, &op, 1, &st->t_close)) {
        /* The end of this call cannot be observed: treat it as closed right away. */
        st->closed = true;
        st->close_cancelled = 1;
    }
    bool usable = !st->closed && captured;
    pthread_mutex_unlock(&st->mu);

    if (usable) {
        st->handler_started = true;
        st->user = m->stream_ops.on_start != NULL ? m->stream_ops.on_start(st, m->arg) : NULL;
        pthread_mutex_lock(&st->mu);
        if (!st->finish_requested)
            start_recv_locked(st);
        pthread_mutex_unlock(&st->mu);
    } else if (!captured) {
        evb_rpc_stream_finish(st, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory");
    }
    check_done(st);
}

evb_err rpc_stream_post(evb_rpc_server *s, rpc_method *m, int cq_idx)
{
    if (!rpc_server_acquire(s))
        return EVB_OK;
    evb_rpc_stream *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        rpc_server_release(s);
        return EVB_ERR_NOMEM;
    }
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        free(st);
        rpc_server_release(s);
        return EVB_ERR_NOMEM;
    }
    rpc_head_init(&st->h, s, m, cq_idx);
    st->fin_details = grpc_empty_slice();
    st->t_request.fn = on_stream_request;
    st->t_initmd.fn = on_initmd;
    st->t_close.fn = on_close;
    st->t_recv.fn = on_recv;
    st->t_send.fn = on_send;
    st->t_status.fn = on_status;
    grpc_completion_queue *cq = rpc_server_cq(s, cq_idx);
    if (grpc_server_request_registered_call(s->server, m->handle, &st->h.call, &st->h.deadline,
                                            &st->h.md, NULL, cq, cq,
                                            &st->t_request) != GRPC_CALL_OK) {
        stream_free(st);
        return EVB_ERR_INTERNAL;
    }
    return EVB_OK;
}

/* ---- public ---- */

void evb_rpc_stream_request_next(evb_rpc_stream *st)
{
    pthread_mutex_lock(&st->mu);
    start_recv_locked(st);
    pthread_mutex_unlock(&st->mu);
}

evb_err evb_rpc_stream_send(evb_rpc_stream *st, const uint8_t *msg, size_t len, size_t cap)
{
    if (cap == 0)
        cap = SIZE_MAX;
    pthread_mutex_lock(&st->mu);
    if (st->closed || st->broken || st->finish_requested) {
        pthread_mutex_unlock(&st->mu);
        return EVB_ERR_CANCELLED;
    }
    if (st->queued >= cap) {
        st->low_water = cap / 4;
        pthread_mutex_unlock(&st->mu);
        return EVB_ERR_LIMIT;
    }
    st->low_water = cap / 4;
    grpc_byte_buffer *bb = rpc_bb_copy(msg, len);
    if (!st->send_inflight) {
        st->queued++;
        start_send_locked(st, bb);
        evb_err rc = st->broken ? EVB_ERR_CANCELLED : EVB_OK;
        pthread_mutex_unlock(&st->mu);
        return rc;
    }
    send_node *n = malloc(sizeof(*n));
    if (n == NULL) {
        pthread_mutex_unlock(&st->mu);
        grpc_byte_buffer_destroy(bb);
        return EVB_ERR_NOMEM;
    }
    n->next = NULL;
    n->bb = bb;
    if (st->qtail != NULL)
        st->qtail->next = n;
    else
        st->qhead = n;
    st->qtail = n;
    st->queued++;
    pthread_mutex_unlock(&st->mu);
    return EVB_OK;
}

size_t evb_rpc_stream_queued(const evb_rpc_stream *st)
{
    evb_rpc_stream *w = (evb_rpc_stream *)st; /* the mutex is not part of the value */
    pthread_mutex_lock(&w->mu);
    size_t n = w->queued;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void evb_rpc_stream_finish(evb_rpc_stream *st, evb_rpc_status status, const char *message)
{
    pthread_mutex_lock(&st->mu);
    if (st->finish_requested || st->closed || st->broken) {
        pthread_mutex_unlock(&st->mu);
        return;
    }
    st->finish_requested = true;
    st->fin_status = status;
    if (message != NULL)
        st->fin_details = grpc_slice_from_copied_string(message);
    if (!st->send_inflight)
        start_status_locked(st);
    pthread_mutex_unlock(&st->mu);
}

const char *evb_rpc_stream_metadata(const evb_rpc_stream *st, const char *key)
{
    return rpc_head_metadata(&st->h, key);
}

const char *evb_rpc_stream_peer(const evb_rpc_stream *st)
{
    return st->h.peer != NULL ? st->h.peer : "";
}
