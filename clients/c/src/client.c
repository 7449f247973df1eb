/* evbclient client — the channel and the unary PutEvents call on the gRPC C core.
 *
 * One grpc_channel per client (thread-safe in gRPC). Each unary call gets its own pluck
 * completion queue and runs as one batch of the six client ops, so several threads can
 * call evb_client_put_events on one client at once without any lock of ours. The request
 * is encoded by nanopb straight into the slice gRPC sends (codec.c: no allocation of ours;
 * gRPC allocates the slice, the call and its buffers). The reply is decoded into the
 * caller's results array.
 */
#include "evbclient_int.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_RECEIVE (4 * 1024 * 1024)

gpr_timespec evb_client_deadline(int timeout_ms)
{
    if (timeout_ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

size_t evb_client_metadata(const evb_client *c, grpc_metadata *md)
{
    if (c->authorization == NULL)
        return 0;
    memset(md, 0, sizeof *md);
    md->key = grpc_slice_from_static_string("authorization");
    md->value = grpc_slice_from_static_string(c->authorization);
    return 1;
}

evb_client_err evb_client_fail_status(evb_client_error *err, grpc_status_code status,
                                      grpc_slice details)
{
    size_t len = GRPC_SLICE_LENGTH(details);
    return evb_client_fail(err, EVB_CLIENT_ERR_RPC, (int)status, "gRPC status %d: %.*s",
                           (int)status, len > 200 ? 200 : (int)len,
                           (const char *)GRPC_SLICE_START_PTR(details));
}

evb_client_err evb_client_encode_buffer(const char *connector, const evb_client_entry *entries,
                                        size_t n, const char *request_id, grpc_byte_buffer **out,
                                        evb_client_error *err)
{
    size_t size = 0, len = 0;
    *out = NULL;
    evb_client_err rc = evb_client_encoded_size(connector, entries, n, request_id, &size, err);
    if (rc != EVB_CLIENT_OK)
        return rc;
    grpc_slice slice = grpc_slice_malloc(size);
    rc = evb_client_encode_put_events(connector, entries, n, request_id,
                                      GRPC_SLICE_START_PTR(slice), size, &len, err);
    if (rc == EVB_CLIENT_OK && len != size)
        rc =
            evb_client_fail(err, EVB_CLIENT_ERR_ENCODE, -1,
                            "encoded %zu bytes, sized %zu (entries changed meanwhile?)", len, size);
    if (rc == EVB_CLIENT_OK) {
        *out = grpc_raw_byte_buffer_create(&slice, 1);
        if (*out == NULL)
            rc = evb_client_fail(err, EVB_CLIENT_ERR_NOMEM, -1, "byte buffer");
    }
    grpc_slice_unref(slice);
    return rc;
}

evb_client_err evb_client_decode_buffer(grpc_byte_buffer *bb, evb_client_reply *reply,
                                        evb_client_error *err)
{
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb))
        return evb_client_fail(err, EVB_CLIENT_ERR_DECODE, -1, "cannot read the reply");
    grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
    evb_client_err rc = evb_client_decode_put_events_response(GRPC_SLICE_START_PTR(s),
                                                              GRPC_SLICE_LENGTH(s), reply, err);
    grpc_slice_unref(s);
    grpc_byte_buffer_reader_destroy(&rd);
    return rc;
}

/* ---- open / close ---------------------------------------------------------------------- */

static grpc_channel_credentials *make_credentials(const evb_client_options *opt)
{
    int tls = opt->use_tls || opt->root_ca_pem != NULL || opt->client_cert_pem != NULL ||
              opt->client_key_pem != NULL;
    if (!tls)
        return grpc_insecure_credentials_create();
    grpc_ssl_pem_key_cert_pair pair = {opt->client_key_pem, opt->client_cert_pem};
    int mutual = opt->client_cert_pem != NULL;
    return grpc_ssl_credentials_create(opt->root_ca_pem, mutual ? &pair : NULL, NULL, NULL);
}

evb_client_err evb_client_open(const evb_client_options *opt, evb_client **out,
                               evb_client_error *err)
{
    evb_client_error_clear(err);
    if (out == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "out is NULL");
    *out = NULL;
    if (opt == NULL || opt->target == NULL || opt->target[0] == '\0')
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "target is required");
    if ((opt->client_cert_pem == NULL) != (opt->client_key_pem == NULL))
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1,
                               "client_cert_pem and client_key_pem go together");
    if (opt->timeout_ms < 0 || opt->stream_timeout_ms < 0 || opt->max_receive_bytes < 0)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "negative timeout or size");
    if (opt->api_key != NULL && strpbrk(opt->api_key, "\r\n") != NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "api_key holds a line break");

    evb_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_NOMEM, -1, "client");
    if (opt->api_key != NULL && opt->api_key[0] != '\0') {
        size_t n = strlen(opt->api_key) + sizeof "Bearer ";
        c->authorization = malloc(n);
        if (c->authorization == NULL) {
            free(c);
            return evb_client_fail(err, EVB_CLIENT_ERR_NOMEM, -1, "api key");
        }
        snprintf(c->authorization, n, "Bearer %s", opt->api_key);
    }
    c->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->stream_timeout_ms = opt->stream_timeout_ms;

    grpc_init();
    grpc_arg args[3];
    size_t nargs = 0;
    memset(args, 0, sizeof args);
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[nargs++].value.integer =
        opt->max_receive_bytes > 0 ? opt->max_receive_bytes : DEFAULT_MAX_RECEIVE;
    args[nargs].type = GRPC_ARG_STRING;
    args[nargs].key = (char *)GRPC_ARG_PRIMARY_USER_AGENT_STRING;
    args[nargs++].value.string = (char *)"evbclient/" EVB_CLIENT_VERSION;
    if (opt->tls_server_name != NULL) {
        args[nargs].type = GRPC_ARG_STRING;
        args[nargs].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[nargs++].value.string = (char *)opt->tls_server_name;
    }
    grpc_channel_args chargs = {nargs, args};
    grpc_channel_credentials *creds = make_credentials(opt);
    if (creds == NULL) {
        free(c->authorization);
        free(c);
        grpc_shutdown_blocking();
        return evb_client_fail(err, EVB_CLIENT_ERR_TRANSPORT, -1, "cannot create credentials");
    }
    c->channel = grpc_channel_create(opt->target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    if (c->channel == NULL) {
        free(c->authorization);
        free(c);
        grpc_shutdown_blocking();
        return evb_client_fail(err, EVB_CLIENT_ERR_TRANSPORT, -1, "cannot create a channel to %s",
                               opt->target);
    }
    *out = c;
    return EVB_CLIENT_OK;
}

void evb_client_close(evb_client *c)
{
    if (c == NULL)
        return;
    grpc_channel_destroy(c->channel);
    free(c->authorization);
    free(c);
    grpc_shutdown_blocking();
}

/* ---- PutEvents ------------------------------------------------------------------------- */

evb_client_err evb_client_put_events(evb_client *c, const char *connector,
                                     const evb_client_entry *entries, size_t n,
                                     evb_client_result *results, const char *request_id,
                                     evb_client_error *err)
{
    evb_client_error_clear(err);
    if (c == NULL || results == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "client or results is NULL");
    grpc_byte_buffer *req = NULL;
    evb_client_err rc = evb_client_encode_buffer(connector, entries, n, request_id, &req, err);
    if (rc != EVB_CLIENT_OK)
        return rc;

    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string(EVB_CLIENT_METHOD_PUT),
                                               NULL, evb_client_deadline(c->timeout_ms), NULL);
    grpc_metadata md;
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *resp = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = evb_client_metadata(c, &md);
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;

    void *tag = &ops; /* any unique address */
    grpc_call_error ce = grpc_call_start_batch(call, ops, 6, tag, NULL);
    if (ce != GRPC_CALL_OK) {
        rc = evb_client_fail(err, EVB_CLIENT_ERR_TRANSPORT, -1, "grpc_call_start_batch: %d",
                             (int)ce);
    } else {
        /* The call's deadline bounds this wait. */
        grpc_event ev =
            grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            rc = evb_client_fail(err, EVB_CLIENT_ERR_TRANSPORT, -1, "completion queue: %d",
                                 (int)ev.type);
        else if (status != GRPC_STATUS_OK)
            rc = evb_client_fail_status(err, status, details);
        else if (resp == NULL)
            rc = evb_client_fail(err, EVB_CLIENT_ERR_DECODE, -1, "status OK without a reply");
        else {
            evb_client_reply reply;
            memset(&reply, 0, sizeof reply);
            reply.results = results;
            reply.results_cap = n;
            rc = evb_client_decode_buffer(resp, &reply, err);
            if (rc == EVB_CLIENT_OK && reply.n_received != n)
                rc = evb_client_fail(err, EVB_CLIENT_ERR_DECODE, -1, "%zu results for %zu entries",
                                     reply.n_received, n);
        }
    }
    if (resp != NULL)
        grpc_byte_buffer_destroy(resp);
    grpc_byte_buffer_destroy(req);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
    return rc;
}
