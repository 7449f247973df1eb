/* echo_server — the transport baseline for evb-bench: a trivial echo service on evbridged's own
 * gRPC runtime (server/rpc/rpc.h), so the same completion-queue threads, call state machines
 * and send queues carry the bytes, and nothing else happens: no protobuf decoding, no
 * authentication, no validation, no storage.
 *
 *   /evbridge.bench.Echo/Unary   replies with the request bytes
 *   /evbridge.bench.Echo/Stream  replies to each message with its bytes, in order
 *
 * --reply-bytes N answers with N bytes instead of an echo (e.g. the size of a
 * PutEventsResponse). Runs until SIGINT or SIGTERM. evb-bench --echo drives it with the
 * same pre-encoded PutEventsRequests it sends to evbridged.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/rpc/rpc.h"

static size_t reply_bytes;
static uint8_t *reply_buf;

static void echo_unary(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    (void)arg;
    if (reply_buf != NULL)
        evb_rpc_reply(call, reply_buf, reply_bytes);
    else
        evb_rpc_reply(call, req, len);
}

static void echo_message(evb_rpc_stream *st, void *user, const uint8_t *msg, size_t len)
{
    (void)user;
    if (reply_buf != NULL)
        (void)evb_rpc_stream_send(st, reply_buf, reply_bytes, 0);
    else
        (void)evb_rpc_stream_send(st, msg, len, 0);
    evb_rpc_stream_request_next(st);
}

static void echo_done(evb_rpc_stream *st, void *user, int cancelled)
{
    (void)st;
    (void)user;
    (void)cancelled;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"listen", 1, 0, 'l'},      {"port-file", 1, 0, 'p'},
                                       {"threads", 1, 0, 't'},     {"reply-bytes", 1, 0, 'r'},
                                       {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
    const char *listen = "127.0.0.1:0", *port_file = NULL;
    int threads = 0, c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'p': port_file = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'r': reply_bytes = (size_t)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: echo_server [--listen ADDR] [--port-file FILE] [--threads N] "
                    "[--reply-bytes N]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (reply_bytes > 0 && (reply_buf = calloc(1, reply_bytes)) == NULL)
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    evb_rpc_global_init();
    evb_rpc_options ro = {.listen = listen, .threads = threads, .grace_ms = 500};
    evb_rpc_server *srv = NULL;
    evb_rpc_stream_ops ops = {.on_message = echo_message, .on_done = echo_done};
    int port = 0, rc = 1;
    if (evb_rpc_server_new(&ro, &srv) != EVB_OK ||
        evb_rpc_server_add_unary(srv, "/evbridge.bench.Echo/Unary", echo_unary, NULL) != EVB_OK ||
        evb_rpc_server_add_stream(srv, "/evbridge.bench.Echo/Stream", &ops, NULL) != EVB_OK ||
        evb_rpc_server_start(srv, &port) != EVB_OK) {
        fprintf(stderr, "echo_server: cannot start on %s\n", listen);
        goto out;
    }
    printf("echo_server listening on port %d\n", port);
    fflush(stdout);
    if (port_file != NULL) {
        FILE *f = fopen(port_file, "w");
        if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0) {
            fprintf(stderr, "echo_server: cannot write %s\n", port_file);
            goto out;
        }
    }
    int sig = 0;
    sigwait(&set, &sig);
    rc = 0;
out:
    evb_rpc_server_free(srv);
    evb_rpc_global_fini();
    free(reply_buf);
    return rc;
}
