/* evbridge — call helpers shared by unary, stream and unknown-method contexts.
 *
 * Request metadata slices belong to the grpc_call, so everything a handler may read
 * (metadata values, peer, deadline) is copied into NUL-terminated strings owned by the
 * context right after the request completes; the metadata array is released at once.
 * Deadlines are turned into the process's CLOCK_MONOTONIC milliseconds (the evb_mono_ms
 * clock) by adding the remaining time to "now", since gpr's monotonic clock has its own
 * epoch.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "common/timeutil.h"
#include "server/metrics/catalog.h"
#include "server/rpc/rpc_int.h"

int64_t rpc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rpc_head_init(rpc_head *h, evb_rpc_server *srv, rpc_method *m, int cq_idx)
{
    memset(h, 0, sizeof(*h));
    h->srv = srv;
    h->method = m;
    h->cq_idx = cq_idx;
    h->deadline = gpr_inf_future(GPR_CLOCK_REALTIME);
    h->deadline_ms = INT64_MAX;
    grpc_metadata_array_init(&h->md);
}

static char *slice_strdup(grpc_slice s)
{
    size_t n = GRPC_SLICE_LENGTH(s);
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    if (n > 0)
        memcpy(p, GRPC_SLICE_START_PTR(s), n);
    p[n] = '\0';
    return p;
}

static int64_t deadline_to_mono_ms(gpr_timespec d)
{
    if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) == 0)
        return INT64_MAX;
    gpr_timespec now = gpr_now(d.clock_type);
    gpr_timespec left = gpr_time_sub(d, now);
    int64_t left_ms = (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
    if (left_ms > INT64_MAX / 4)
        return INT64_MAX;
    return rpc_mono_ms() + left_ms;
}

void rpc_head_count(const rpc_head *h, int status)
{
    if (h->start_ns == 0)
        return;
    double s = (double)(evb_mono_ns() - h->start_ns) / 1e9;
    evb_mx_rpc(h->method != NULL ? h->method->name : NULL, status, s);
}

evb_err rpc_head_capture(rpc_head *h)
{
    h->start_ns = evb_mono_ns();
    size_t n = h->md.count;
    if (n > 0) {
        h->md_kv = calloc(2 * n, sizeof(char *));
        if (h->md_kv == NULL)
            return EVB_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            h->md_kv[2 * i] = slice_strdup(h->md.metadata[i].key);
            h->md_kv[2 * i + 1] = slice_strdup(h->md.metadata[i].value);
            h->md_n = i + 1;
            if (h->md_kv[2 * i] == NULL || h->md_kv[2 * i + 1] == NULL)
                return EVB_ERR_NOMEM;
        }
    }
    grpc_metadata_array_destroy(&h->md);
    grpc_metadata_array_init(&h->md);
    char *peer = grpc_call_get_peer(h->call);
    if (peer != NULL) {
        h->peer = strdup(peer);
        gpr_free(peer);
    } else {
        h->peer = strdup("");
    }
    if (h->peer == NULL)
        return EVB_ERR_NOMEM;
    h->deadline_ms = deadline_to_mono_ms(h->deadline);
    return EVB_OK;
}

void rpc_head_fini(rpc_head *h)
{
    for (size_t i = 0; i < h->md_n; i++) {
        free(h->md_kv[2 * i]);
        free(h->md_kv[2 * i + 1]);
    }
    free(h->md_kv);
    h->md_kv = NULL;
    h->md_n = 0;
    free(h->peer);
    h->peer = NULL;
    grpc_metadata_array_destroy(&h->md);
    if (h->call != NULL) {
        grpc_call_unref(h->call);
        h->call = NULL;
    }
}

const char *rpc_head_metadata(const rpc_head *h, const char *key)
{
    if (key == NULL)
        return NULL;
    for (size_t i = 0; i < h->md_n; i++) {
        if (h->md_kv[2 * i] != NULL && strcasecmp(h->md_kv[2 * i], key) == 0)
            return h->md_kv[2 * i + 1];
    }
    return NULL;
}

grpc_slice rpc_bb_read(grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return grpc_empty_slice();
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return s;
}

grpc_byte_buffer *rpc_bb_copy(const uint8_t *msg, size_t len)
{
    grpc_slice s =
        len > 0 ? grpc_slice_from_copied_buffer((const char *)msg, len) : grpc_empty_slice();
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}
