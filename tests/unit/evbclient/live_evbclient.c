/* evbclient_live — libevbclient against a running evbridged (driven by
 * tests/integration/python/test_evbclient.py, which starts the server and creates the
 * ISV key and connector):
 *
 *   evbclient_live <target> <isv key> <connector> <org> <type>
 *
 * Checks: a 100-entry PutEvents; per-entry rejection; whole-call errors (bad key,
 * unknown connector) as gRPC statuses; PutEvents from several threads on one client;
 * a pipelined PublishStream of 200 requests answered in order; recv timeouts that lose
 * nothing; an unknown connector in a stream (rejected per request); a stream ended by the
 * server with an error; a stream closed (cancelled) early.
 * Prints "ok <check>" per check and exits 0 when all passed, 1 otherwise.
 */
#include <evbclient.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *target, *key, *connector, *org, *type;
static char tag[32];
static int failures;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(ok ? "ok " : "FAIL ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    va_end(ap);
    if (!ok)
        failures++;
}

static evb_client *open_client(const char *api_key)
{
    evb_client_options opt = {.target = target, .api_key = api_key, .timeout_ms = 20000};
    evb_client *c = NULL;
    evb_client_error err;
    if (evb_client_open(&opt, &c, &err) != EVB_CLIENT_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        exit(1);
    }
    return c;
}

static void put_100(evb_client *c)
{
    static char ids[EVB_CLIENT_MAX_ENTRIES][64], data[EVB_CLIENT_MAX_ENTRIES][64];
    static evb_client_entry e[EVB_CLIENT_MAX_ENTRIES];
    static evb_client_result res[EVB_CLIENT_MAX_ENTRIES];
    evb_client_extension ext[] = {{"seq", "1"}};
    for (size_t i = 0; i < EVB_CLIENT_MAX_ENTRIES; i++) {
        snprintf(ids[i], sizeof ids[i], "live-%s-%zu", tag, i);
        int n = snprintf(data[i], sizeof data[i], "{\"n\":%zu}", i);
        e[i] = (evb_client_entry){.id = ids[i],
                                  .org = org,
                                  .type = type,
                                  .data = data[i],
                                  .data_len = (size_t)n,
                                  .extensions = ext,
                                  .n_extensions = 1};
    }
    evb_client_error err;
    evb_client_err rc =
        evb_client_put_events(c, connector, e, EVB_CLIENT_MAX_ENTRIES, res, "live-100", &err);
    check(rc == EVB_CLIENT_OK, "put 100 entries (%s)", err.message);
    if (rc != EVB_CLIENT_OK)
        return;
    int all = 1;
    for (size_t i = 0; i < EVB_CLIENT_MAX_ENTRIES; i++)
        all &= res[i].status == EVB_CLIENT_PUBLISHED && strcmp(res[i].event_id, ids[i]) == 0;
    check(all, "put 100 entries: all PUBLISHED with their ids");
    /* the same again: deduplicated */
    rc = evb_client_put_events(c, connector, e, 2, res, NULL, &err);
    check(rc == EVB_CLIENT_OK && res[0].status == EVB_CLIENT_DEDUPLICATED &&
              strcmp(res[0].event_id, ids[0]) == 0,
          "put again: DEDUPLICATED");
}

static void put_partial(evb_client *c)
{
    char id[64];
    snprintf(id, sizeof id, "live-%s-partial", tag);
    evb_client_entry e[3] = {
        {.id = id, .org = org, .type = type, .data = "{}", .data_len = 2},
        {.org = "bad org!", .type = type, .data = "{}", .data_len = 2},
        {.org = org, .type = type, .data = "{\"a\":", .data_len = 5},
    };
    static evb_client_result res[3];
    evb_client_error err;
    evb_client_err rc = evb_client_put_events(c, connector, e, 3, res, "partial", &err);
    check(rc == EVB_CLIENT_OK, "put partial: call ok (%s)", err.message);
    check(res[0].status == EVB_CLIENT_PUBLISHED && strcmp(res[0].event_id, id) == 0,
          "put partial: entry 0 PUBLISHED");
    check(res[1].status == EVB_CLIENT_REJECTED &&
              strcmp(res[1].error_code, "INVALID_ARGUMENT") == 0 &&
              strstr(res[1].error_message, "org") != NULL,
          "put partial: entry 1 REJECTED INVALID_ARGUMENT naming org (%s %s)", res[1].error_code,
          res[1].error_message);
    check(res[2].status == EVB_CLIENT_REJECTED && res[2].error_code[0] != '\0',
          "put partial: entry 2 REJECTED (%s)", res[2].error_code);
}

static void call_errors(void)
{
    evb_client_entry e = {.org = org, .type = type, .data = "{}", .data_len = 2};
    static evb_client_result res[1];
    evb_client_error err;
    evb_client *bad = open_client("not-a-key");
    evb_client_err rc = evb_client_put_events(bad, connector, &e, 1, res, NULL, &err);
    check(rc == EVB_CLIENT_ERR_RPC && err.grpc_status == 16, "bad key: UNAUTHENTICATED (%d %s)",
          err.grpc_status, err.message);
    evb_client_close(bad);
    evb_client *nokey = open_client(NULL);
    rc = evb_client_put_events(nokey, connector, &e, 1, res, NULL, &err);
    check(rc == EVB_CLIENT_ERR_RPC && err.grpc_status == 16, "no key: UNAUTHENTICATED (%d)",
          err.grpc_status);
    evb_client_close(nokey);
    evb_client *c = open_client(key);
    rc = evb_client_put_events(c, "no-such-connector-x", &e, 1, res, NULL, &err);
    check(rc == EVB_CLIENT_ERR_RPC && (err.grpc_status == 5 || err.grpc_status == 7),
          "unknown connector: NOT_FOUND or PERMISSION_DENIED (%d %s)", err.grpc_status,
          err.message);
    evb_client_close(c);
}

typedef struct worker {
    evb_client *c;
    int n;
    int ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    evb_client_result res[4];
    char ids[4][64];
    evb_client_entry e[4];
    w->ok = 1;
    for (int r = 0; r < 25; r++) {
        for (int i = 0; i < 4; i++) {
            snprintf(ids[i], sizeof ids[i], "live-%s-t%d-%d-%d", tag, w->n, r, i);
            e[i] = (evb_client_entry){
                .id = ids[i], .org = org, .type = type, .data = "{}", .data_len = 2};
        }
        evb_client_error err;
        if (evb_client_put_events(w->c, connector, e, 4, res, NULL, &err) != EVB_CLIENT_OK) {
            fprintf(stderr, "thread %d: %s\n", w->n, err.message);
            w->ok = 0;
            return NULL;
        }
        for (int i = 0; i < 4; i++)
            if (res[i].status != EVB_CLIENT_PUBLISHED || strcmp(res[i].event_id, ids[i]) != 0)
                w->ok = 0;
    }
    return NULL;
}

static void threads(evb_client *c)
{
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.c = c, .n = i};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok &= w[i].ok;
    }
    check(ok, "4 threads x 25 PutEvents on one client");
}

#define N_STREAM 200

static void stream_pipelined(evb_client *c)
{
    evb_client_stream *s = NULL;
    evb_client_error err;
    check(evb_client_stream_open(c, &s, &err) == EVB_CLIENT_OK, "stream open");
    if (s == NULL)
        return;
    /* a recv with nothing sent times out and loses nothing */
    static evb_client_result res[2];
    evb_client_reply reply = {.results = res, .results_cap = 2};
    check(evb_client_stream_recv(s, &reply, 50, &err) == EVB_CLIENT_ERR_TIMEOUT,
          "stream recv before send: TIMEOUT");
    int sent = 0, got = 0, in_order = 1, statuses = 1;
    while (got < N_STREAM) {
        if (sent < N_STREAM) {
            char id[64], rid[32];
            snprintf(id, sizeof id, "live-%s-s%d", tag, sent);
            snprintf(rid, sizeof rid, "r%d", sent);
            evb_client_entry e[2] = {
                {.id = id, .org = org, .type = type, .data = "{}", .data_len = 2},
                {.org = "bad org!", .type = type, .data = "{}", .data_len = 2}};
            size_t n = sent % 10 == 3 ? 2 : 1;
            evb_client_err rc = evb_client_stream_send(s, connector, e, n, rid, 5000, &err);
            if (rc == EVB_CLIENT_OK) {
                sent++;
            } else if (rc != EVB_CLIENT_ERR_TIMEOUT) {
                check(0, "stream send %d: %s", sent, err.message);
                break;
            }
        }
        /* poll replies while sending; block once everything is sent */
        evb_client_err rc = evb_client_stream_recv(s, &reply, sent < N_STREAM ? 0 : 10000, &err);
        if (rc == EVB_CLIENT_ERR_TIMEOUT)
            continue;
        if (rc != EVB_CLIENT_OK) {
            check(0, "stream recv %d: %s", got, err.message);
            break;
        }
        char want[32];
        snprintf(want, sizeof want, "r%d", got);
        in_order &= strcmp(reply.request_id, want) == 0;
        size_t n = got % 10 == 3 ? 2 : 1;
        statuses &=
            reply.n_results == n && res[0].status == EVB_CLIENT_PUBLISHED &&
            (n == 1 || (res[1].status == EVB_CLIENT_REJECTED && reply.failed_entry_count == 1));
        got++;
    }
    check(got == N_STREAM, "stream: %d replies to %d requests", got, N_STREAM);
    check(in_order, "stream: replies in request order");
    check(statuses, "stream: per-entry statuses");
    check(evb_client_stream_close_send(s, 5000, &err) == EVB_CLIENT_OK, "stream close_send");
    evb_client_entry e = {.org = org, .type = type};
    check(evb_client_stream_send(s, connector, &e, 1, NULL, 1000, &err) == EVB_CLIENT_ERR_STATE,
          "stream send after close_send: STATE");
    check(evb_client_stream_recv(s, &reply, 10000, &err) == EVB_CLIENT_ERR_EOF,
          "stream: EOF after close_send (%s)", err.message);
    check(evb_client_stream_recv(s, &reply, 1000, &err) == EVB_CLIENT_ERR_EOF, "stream: EOF again");
    evb_client_stream_close(s);
}

static void stream_errors(evb_client *c)
{
    evb_client_stream *s = NULL;
    evb_client_error err;
    static evb_client_result res[1];
    evb_client_reply reply = {.results = res, .results_cap = 1};
    evb_client_entry e = {.org = org, .type = type, .data = "{}", .data_len = 2};
    /* an unknown connector rejects that request's entries; the stream goes on */
    if (evb_client_stream_open(c, &s, &err) == EVB_CLIENT_OK) {
        evb_client_stream_send(s, "no-such-connector-x", &e, 1, "x", 5000, &err);
        evb_client_err rc = evb_client_stream_recv(s, &reply, 10000, &err);
        check(
            rc == EVB_CLIENT_OK && strcmp(reply.request_id, "x") == 0 &&
                res[0].status == EVB_CLIENT_REJECTED && strcmp(res[0].error_code, "NOT_FOUND") == 0,
            "stream unknown connector: REJECTED NOT_FOUND (rc %d %s)", (int)rc, res[0].error_code);
        rc = evb_client_stream_send(s, connector, &e, 1, "y", 5000, &err);
        if (rc == EVB_CLIENT_OK)
            rc = evb_client_stream_recv(s, &reply, 10000, &err);
        check(rc == EVB_CLIENT_OK && res[0].status == EVB_CLIENT_PUBLISHED,
              "stream unknown connector: the next request is published");
        evb_client_stream_close(s);
    }
    /* a stream closed with a reply unread is cancelled cleanly */
    s = NULL;
    char id[64];
    if (evb_client_stream_open(c, &s, &err) == EVB_CLIENT_OK) {
        snprintf(id, sizeof id, "live-%s-cancel", tag);
        e.id = id;
        check(evb_client_stream_send(s, connector, &e, 1, "c", 5000, &err) == EVB_CLIENT_OK,
              "stream to cancel: send");
        evb_client_stream_close(s);
        check(1, "stream closed with a reply unread");
    }
    /* a bad key ends the stream with UNAUTHENTICATED */
    evb_client *bad = open_client("not-a-key");
    s = NULL;
    if (evb_client_stream_open(bad, &s, &err) == EVB_CLIENT_OK) {
        evb_client_stream_send(s, connector, &e, 1, "z", 5000, &err);
        evb_client_err rc = evb_client_stream_recv(s, &reply, 10000, &err);
        check(rc == EVB_CLIENT_ERR_RPC && err.grpc_status == 16,
              "stream bad key: UNAUTHENTICATED (%d)", err.grpc_status);
        rc = evb_client_stream_send(s, connector, &e, 1, "z2", 5000, &err);
        check(rc == EVB_CLIENT_ERR_RPC && err.grpc_status == 16,
              "stream send after the end: the status again (%d)", err.grpc_status);
        rc = evb_client_stream_recv(s, &reply, 1000, &err);
        check(rc == EVB_CLIENT_ERR_RPC && err.grpc_status == 16, "stream recv after the end: "
                                                                 "the status again");
        evb_client_stream_close(s);
    }
    evb_client_close(bad);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s <target> <isv key> <connector> <org> <type>\n", argv[0]);
        return 2;
    }
    target = argv[1];
    key = argv[2];
    connector = argv[3];
    org = argv[4];
    type = argv[5];
    snprintf(tag, sizeof tag, "%lx%x", (unsigned long)time(NULL), (unsigned)rand());
    printf("tag %s\n", tag);
    evb_client *c = open_client(key);
    put_100(c);
    put_partial(c);
    call_errors();
    threads(c);
    stream_pipelined(c);
    stream_errors(c);
    evb_client_close(c);
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
