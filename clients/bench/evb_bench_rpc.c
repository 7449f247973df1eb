/* evb-bench — blocking unary calls for set-up (keys, schemas, connector, action, connection).
 *
 * One channel of its own (a local subchannel pool, so it never shares the publishers' TCP
 * connections) and one pluck queue per call; the deadline is 10 s. Nothing here is on the
 * measured path.
 */
#include "evb_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

struct bench_rpc {
    grpc_channel *ch;
    char *auth;
};

bench_rpc *bench_rpc_open(const char *addr, const char *key)
{
    bench_rpc *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    if (key != NULL) {
        size_t n = strlen(key) + 8;
        r->auth = malloc(n);
        if (r->auth == NULL) {
            free(r);
            return NULL;
        }
        snprintf(r->auth, n, "Bearer %s", key);
    }
    grpc_arg arg = {.type = GRPC_ARG_INTEGER,
                    .key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
                    .value.integer = 1};
    grpc_channel_args args = {.num_args = 1, .args = &arg};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    r->ch = grpc_channel_create(addr, creds, &args);
    grpc_channel_credentials_release(creds);
    return r;
}

void bench_rpc_close(bench_rpc *r)
{
    if (r == NULL)
        return;
    grpc_channel_destroy(r->ch);
    free(r->auth);
    free(r);
}

int bench_rpc_call(bench_rpc *r, const char *method, const uint8_t *req, size_t len,
                   uint8_t **resp, size_t *resp_len, char *msg, size_t msg_cap)
{
    *resp = NULL;
    *resp_len = 0;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                   gpr_time_from_millis(10000, GPR_TIMESPAN));
    grpc_call *call = grpc_channel_create_call(r->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string(method), NULL, dl,
                                               NULL);
    grpc_metadata md = {.key = grpc_slice_from_static_string("authorization"),
                        .value = grpc_slice_from_static_string(r->auth ? r->auth : "")};
    grpc_metadata_array init_md, trailing;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trailing);
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)req, len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&s, 1), *recv = NULL;
    grpc_slice_unref(s);
    grpc_slice details = grpc_empty_slice();
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = r->auth ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = r->auth ? &md : NULL;
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
    int rc = GRPC_STATUS_UNKNOWN;
    if (grpc_call_start_batch(call, ops, 6, (void *)1, NULL) == GRPC_CALL_OK) {
        grpc_event ev = grpc_completion_queue_pluck(
            cq, (void *)1, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_OP_COMPLETE)
            rc = (int)status;
    }
    if (msg != NULL && msg_cap > 0) {
        size_t n = GRPC_SLICE_LENGTH(details);
        if (n >= msg_cap)
            n = msg_cap - 1;
        memcpy(msg, GRPC_SLICE_START_PTR(details), n);
        msg[n] = 0;
    }
    if (recv != NULL) {
        if (rc == 0) {
            grpc_byte_buffer_reader rd;
            grpc_byte_buffer_reader_init(&rd, recv);
            grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
            grpc_byte_buffer_reader_destroy(&rd);
            *resp_len = GRPC_SLICE_LENGTH(all);
            *resp = malloc(*resp_len + 1);
            if (*resp != NULL)
                memcpy(*resp, GRPC_SLICE_START_PTR(all), *resp_len);
            else
                rc = GRPC_STATUS_RESOURCE_EXHAUSTED;
            grpc_slice_unref(all);
        }
        grpc_byte_buffer_destroy(recv);
    }
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(send);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    return rc;
}
