/* evb-bench — load generator for evbridged (issue 7): publishes realistic std.customer /
 * std.contract change events with N unary callers or M streams, batch B, for a duration or
 * a count, optionally at a fixed offered rate, and reports events/s and publish latency; with
 * --deliver it also runs an HTTP receiver on loopback, registers it as an action with a
 * connection (with --pattern, filtered by that event pattern: routing then matches every
 * event against it), and reports delivered events/s and publish -> receiver latency. --backlog
 * pauses that connection while publishing and resumes it afterwards: delivered events/s is
 * then how fast the backlog drains, the delivery path alone (no publishing meanwhile).
 * --hold-file FILE keeps it paused after publishing until FILE exists (run-memory.sh
 * measures the server with the whole backlog held meanwhile).
 *
 * Set-up (admin key from --admin-key-file, or --key when that is an admin key): GetSchema of
 * both models (status values for the generator), ValidatePayload of every generated payload,
 * CreateConnector (two event types bound to std.customer and std.contract), an isv key for
 * publishing unless --key is given, and with --deliver the action and the connection (deleted
 * again at the end; stale bench connections of the org are deleted first so a publish-only
 * run routes nothing). --echo publishes the same bytes to the echo service (echo_server.c)
 * instead: the transport baseline, no set-up.
 *
 * Output: human-readable lines, then as the LAST line one JSON object (events_per_sec,
 * p50_ms, p99_ms, p999_ms, and with --deliver delivered_per_sec, e2e_p50_ms, e2e_p99_ms).
 * Exit status 0 when events flowed (and, with --deliver, were delivered), 1 when not, 2 on
 * usage or set-up errors. A benchmark: it never judges figures.
 */
#include "evb_bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <jansson.h>

#include "evbridge/v1/admin.pb-c.h"
#include "evbridge/v1/connector.pb-c.h"
#include "evbridge/v1/registry.pb-c.h"

#define N_VARIANTS 32

typedef struct opts {
    const char *addr, *key, *admin_key, *admin_key_file;
    const char *connector, *org, *isv, *label, *pattern, *hold_file;
    double duration, warmup, rate, drain;
    uint64_t count;
    int batch, concurrency, stream, window, threads, connections, deliver, echo, big;
    int deadline_ms, sink_port, no_validate, backlog;
} opts;

static void usage(FILE *to)
{
    fprintf(to,
            "usage: evb-bench [options]\n"
            "  --addr HOST:PORT       evbridged (or echo_server) address [EVB_ADDR, 127.0.0.1:50051]\n"
            "  --key KEY              publishing key (isv or admin) [EVB_API_KEY]; without it an\n"
            "                         isv key is created with the admin key\n"
            "  --admin-key-file FILE  admin key for set-up (the server's DATA/admin.key) [EVB_ADMIN_KEY_FILE]\n"
            "  --admin-key KEY        the same, given directly [EVB_ADMIN_KEY]; default: --key\n"
            "  --duration SECONDS     measured time [10]\n"
            "  --count N              publish N events in the measured part instead\n"
            "  --warmup SECONDS       before measuring [1]\n"
            "  --batch N              entries per request [10]\n"
            "  --concurrency N        unary calls in flight, or streams with --stream [32; 4]\n"
            "  --stream               PublishStream (bidi) instead of PutEvents\n"
            "  --window N             requests in flight per stream [16]\n"
            "  --threads N            client threads, each with its own completion queue [2]\n"
            "  --connections N        TCP connections [2]\n"
            "  --rate EVENTS_PER_S    offered load (open loop); 0 = as fast as possible [0]\n"
            "  --size 1k|16k          payloads of ~1 KiB (varied) or ~16 KiB contracts [1k]\n"
            "  --deliver              run an HTTP receiver and route every event to it\n"
            "  --sink-port N          its port [0 = any]\n"
            "  --drain SECONDS        wait for outstanding deliveries at the end [30]\n"
            "  --pattern JSON         with --deliver: the connection's event pattern (e.g.\n"
            "                         '{\"data\":{\"id\":[{\"exists\":true}]}}'); default: none\n"
            "  --backlog              with --deliver: the connection is paused while publishing,\n"
            "                         then resumed; delivered/s is then the rate at which the\n"
            "                         backlog drains (the delivery path alone, no publishing)\n"
            "  --hold-file FILE       with --backlog (implied): after publishing, print a line\n"
            "                         \"holding: ...\" and keep the connection paused until FILE\n"
            "                         exists\n"
            "  --echo                 the echo service (transport baseline), no set-up\n"
            "  --connector NAME  --org ORG  --isv ISV   [bench-crm, bench-org, bench]\n"
            "  --deadline-ms N        per call [10000]\n"
            "  --no-validate          skip ValidatePayload of the generated payloads\n"
            "  --label TEXT           copied into the JSON summary\n");
}

static int parse_args(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"addr", 1, 0, 'a'},         {"key", 1, 0, 'k'},         {"admin-key", 1, 0, 'K'},
        {"admin-key-file", 1, 0, 'F'}, {"duration", 1, 0, 'd'}, {"count", 1, 0, 'n'},
        {"warmup", 1, 0, 'w'},       {"batch", 1, 0, 'b'},       {"concurrency", 1, 0, 'c'},
        {"stream", 0, 0, 's'},       {"window", 1, 0, 'W'},      {"threads", 1, 0, 't'},
        {"connections", 1, 0, 'C'},  {"rate", 1, 0, 'r'},        {"size", 1, 0, 'z'},
        {"deliver", 0, 0, 'D'},      {"sink-port", 1, 0, 'p'},   {"drain", 1, 0, 'R'},
        {"echo", 0, 0, 'e'},         {"connector", 1, 0, 'N'},   {"org", 1, 0, 'o'},
        {"isv", 1, 0, 'i'},          {"deadline-ms", 1, 0, 'T'}, {"label", 1, 0, 'l'},
        {"no-validate", 0, 0, 'V'},  {"help", 0, 0, 'h'},        {"backlog", 0, 0, 'B'},
        {"pattern", 1, 0, 'P'},      {"hold-file", 1, 0, 'H'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->addr = getenv("EVB_ADDR") ? getenv("EVB_ADDR") : "127.0.0.1:50051";
    o->key = getenv("EVB_API_KEY");
    o->admin_key = getenv("EVB_ADMIN_KEY");
    o->admin_key_file = getenv("EVB_ADMIN_KEY_FILE");
    o->connector = "bench-crm";
    o->org = "bench-org";
    o->isv = "bench";
    o->label = "";
    o->duration = 10;
    o->warmup = 1;
    o->drain = 30;
    o->batch = 10;
    o->concurrency = -1;
    o->window = 16;
    o->threads = 2;
    o->connections = 2;
    o->deadline_ms = 10000;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'a': o->addr = optarg; break;
        case 'k': o->key = optarg; break;
        case 'K': o->admin_key = optarg; break;
        case 'F': o->admin_key_file = optarg; break;
        case 'd': o->duration = atof(optarg); break;
        case 'n': o->count = strtoull(optarg, NULL, 10); break;
        case 'w': o->warmup = atof(optarg); break;
        case 'b': o->batch = atoi(optarg); break;
        case 'c': o->concurrency = atoi(optarg); break;
        case 's': o->stream = 1; break;
        case 'W': o->window = atoi(optarg); break;
        case 't': o->threads = atoi(optarg); break;
        case 'C': o->connections = atoi(optarg); break;
        case 'r': o->rate = atof(optarg); break;
        case 'z':
            if (strcmp(optarg, "16k") == 0)
                o->big = 1;
            else if (strcmp(optarg, "1k") != 0)
                return -1;
            break;
        case 'D': o->deliver = 1; break;
        case 'p': o->sink_port = atoi(optarg); break;
        case 'R': o->drain = atof(optarg); break;
        case 'e': o->echo = 1; break;
        case 'N': o->connector = optarg; break;
        case 'o': o->org = optarg; break;
        case 'i': o->isv = optarg; break;
        case 'T': o->deadline_ms = atoi(optarg); break;
        case 'l': o->label = optarg; break;
        case 'V': o->no_validate = 1; break;
        case 'B': o->backlog = o->deliver = 1; break;
        case 'P': o->pattern = optarg; break;
        case 'H': o->hold_file = optarg; o->backlog = o->deliver = 1; break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (o->concurrency < 0)
        o->concurrency = o->stream ? 4 : 32;
    if (optind != argc || o->batch < 1 || o->batch > 100 || o->concurrency < 1 ||
        o->window < 1 || o->threads < 1 || o->connections < 1 || o->duration <= 0 ||
        o->warmup < 0 || o->rate < 0 || (o->echo && o->deliver) || (o->pattern && !o->deliver))
        return -1;
    return 0;
}

static char *read_key_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char buf[512];
    char *r = NULL;
    if (fgets(buf, sizeof buf, f) != NULL) {
        buf[strcspn(buf, "\r\n \t")] = 0;
        r = strdup(buf);
    }
    fclose(f);
    return r;
}

/* ---- set-up calls ---- */

static int call_msg(bench_rpc *r, const char *method, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp, int quiet_status)
{
    size_t n = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1), *out = NULL;
    size_t out_len = 0;
    char msg[256] = "";
    if (buf == NULL)
        return -1;
    protobuf_c_message_pack(req, buf);
    int st = bench_rpc_call(r, method, buf, n, &out, &out_len, msg, sizeof msg);
    free(buf);
    if (st != 0) {
        if (st != quiet_status)
            fprintf(stderr, "evb-bench: %s: status %d: %s\n", method, st, msg);
        free(out);
        return st;
    }
    if (resp != NULL) {
        *resp = protobuf_c_message_unpack(rd, NULL, out_len, out);
        if (*resp == NULL) {
            fprintf(stderr, "evb-bench: %s: undecodable response\n", method);
            st = -1;
        }
    }
    free(out);
    return st;
}

/* GetSchema: the status values the model allows (so generated payloads use real ones). */
static int schema_hints(bench_rpc *r, const char *subject, bench_model m, bench_model_hints *h,
                        int *version)
{
    Evbridge__V1__GetSchemaRequest req = EVBRIDGE__V1__GET_SCHEMA_REQUEST__INIT;
    req.subject = (char *)subject;
    ProtobufCMessage *resp = NULL;
    if (call_msg(r, "/evbridge.v1.SchemaRegistry/GetSchema", &req.base,
                 &evbridge__v1__schema__descriptor, &resp, -1) != 0)
        return -1;
    Evbridge__V1__Schema *s = (Evbridge__V1__Schema *)resp;
    *version = s->version;
    json_error_t je;
    json_t *doc = json_loads(s->schema, 0, &je);
    json_t *en = json_object_get(json_object_get(json_object_get(doc, "properties"), "status"),
                                 "enum");
    size_t i;
    json_t *v;
    json_array_foreach(en, i, v)
    {
        /* the generator's realistic ones: skip terminal states that some receivers filter */
        if (json_is_string(v) && h->n_status[m] < 16) {
            static char store[2][16][32];
            snprintf(store[m][h->n_status[m]], 32, "%s", json_string_value(v));
            h->status[m][h->n_status[m]] = store[m][h->n_status[m]];
            h->n_status[m]++;
        }
    }
    json_decref(doc);
    protobuf_c_message_free_unpacked(resp, NULL);
    return h->n_status[m] > 0 ? 0 : -1;
}

static int validate_payload(bench_rpc *r, const bench_payload *p)
{
    Evbridge__V1__ValidatePayloadRequest req = EVBRIDGE__V1__VALIDATE_PAYLOAD_REQUEST__INIT;
    req.subject = p->model == BENCH_CUSTOMER ? "std.customer" : "std.contract";
    req.payload.data = (uint8_t *)p->json;
    req.payload.len = p->len;
    ProtobufCMessage *resp = NULL;
    if (call_msg(r, "/evbridge.v1.SchemaRegistry/ValidatePayload", &req.base,
                 &evbridge__v1__validate_payload_response__descriptor, &resp, -1) != 0)
        return -1;
    Evbridge__V1__ValidatePayloadResponse *v = (Evbridge__V1__ValidatePayloadResponse *)resp;
    int ok = v->valid;
    if (!ok)
        fprintf(stderr, "evb-bench: generated %s payload invalid: %s %s\n", req.subject,
                v->n_violations ? v->violations[0]->instance_path : "",
                v->n_violations ? v->violations[0]->message : "");
    protobuf_c_message_free_unpacked(resp, NULL);
    return ok ? 0 : -1;
}

static char type_customer[96], type_contract[96];

static int create_connector(bench_rpc *r, const opts *o)
{
    Evbridge__V1__EventType et[2] = {EVBRIDGE__V1__EVENT_TYPE__INIT,
                                     EVBRIDGE__V1__EVENT_TYPE__INIT};
    Evbridge__V1__EventType *pet[2] = {&et[0], &et[1]};
    et[0].type = type_customer;
    et[0].subject = "std.customer";
    et[1].type = type_contract;
    et[1].subject = "std.contract";
    Evbridge__V1__Connector c = EVBRIDGE__V1__CONNECTOR__INIT;
    c.name = (char *)o->connector;
    c.display_name = "evb-bench CRM";
    c.isv = (char *)o->isv;
    c.n_event_types = 2;
    c.event_types = pet;
    Evbridge__V1__CreateConnectorRequest req = EVBRIDGE__V1__CREATE_CONNECTOR_REQUEST__INIT;
    req.connector = &c;
    int st = call_msg(r, "/evbridge.v1.ConnectorService/CreateConnector", &req.base, NULL, NULL,
                      GRPC_STATUS_ALREADY_EXISTS);
    return st == 0 || st == GRPC_STATUS_ALREADY_EXISTS ? 0 : -1;
}

static char *create_isv_key(bench_rpc *r, const opts *o)
{
    Evbridge__V1__CreateApiKeyRequest req = EVBRIDGE__V1__CREATE_API_KEY_REQUEST__INIT;
    req.role = "isv";
    req.scope = (char *)o->isv;
    req.description = "evb-bench publisher";
    ProtobufCMessage *resp = NULL;
    if (call_msg(r, "/evbridge.v1.AdminService/CreateApiKey", &req.base,
                 &evbridge__v1__create_api_key_response__descriptor, &resp, -1) != 0)
        return NULL;
    char *k = strdup(((Evbridge__V1__CreateApiKeyResponse *)resp)->key);
    protobuf_c_message_free_unpacked(resp, NULL);
    return k;
}

static void delete_connection(bench_rpc *r, const char *id)
{
    Evbridge__V1__DeleteConnectionRequest req = EVBRIDGE__V1__DELETE_CONNECTION_REQUEST__INIT;
    req.id = (char *)id;
    (void)call_msg(r, "/evbridge.v1.ConnectorService/DeleteConnection", &req.base, NULL, NULL,
                   GRPC_STATUS_NOT_FOUND);
}

static void delete_action(bench_rpc *r, const char *name)
{
    Evbridge__V1__DeleteActionRequest req = EVBRIDGE__V1__DELETE_ACTION_REQUEST__INIT;
    req.name = (char *)name;
    (void)call_msg(r, "/evbridge.v1.ConnectorService/DeleteAction", &req.base, NULL, NULL,
                   GRPC_STATUS_NOT_FOUND);
}

/* PauseConnection / ResumeConnection. */
static int set_paused(bench_rpc *r, const char *conn_id, int paused)
{
    Evbridge__V1__PauseConnectionRequest p = EVBRIDGE__V1__PAUSE_CONNECTION_REQUEST__INIT;
    Evbridge__V1__ResumeConnectionRequest q = EVBRIDGE__V1__RESUME_CONNECTION_REQUEST__INIT;
    p.id = q.id = (char *)conn_id;
    return paused ? call_msg(r, "/evbridge.v1.ConnectorService/PauseConnection", &p.base, NULL,
                             NULL, -1)
                  : call_msg(r, "/evbridge.v1.ConnectorService/ResumeConnection", &q.base, NULL,
                             NULL, -1);
}

/* Deletes the org's connections of the bench connector (left by an interrupted run). */
static void delete_stale_connections(bench_rpc *r, const opts *o)
{
    Evbridge__V1__ListConnectionsRequest req = EVBRIDGE__V1__LIST_CONNECTIONS_REQUEST__INIT;
    req.org = (char *)o->org;
    req.connector = (char *)o->connector;
    ProtobufCMessage *resp = NULL;
    if (call_msg(r, "/evbridge.v1.ConnectorService/ListConnections", &req.base,
                 &evbridge__v1__list_connections_response__descriptor, &resp, -1) != 0)
        return;
    Evbridge__V1__ListConnectionsResponse *l = (Evbridge__V1__ListConnectionsResponse *)resp;
    for (size_t i = 0; i < l->n_connections; i++) {
        fprintf(stderr, "evb-bench: deleting stale connection %s (%s)\n", l->connections[i]->id,
                l->connections[i]->name);
        delete_connection(r, l->connections[i]->id);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
}

static int create_route(bench_rpc *r, const opts *o, int port, char *action, size_t acap,
                        char *conn_id, size_t ccap)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/events", port);
    snprintf(action, acap, "bench-sink-%d-%ld", port, (long)getpid());
    Evbridge__V1__HttpTarget http = EVBRIDGE__V1__HTTP_TARGET__INIT;
    http.url = url;
    http.content_mode = EVBRIDGE__V1__CONTENT_MODE__BINARY;
    http.timeout_ms = 5000;
    Evbridge__V1__Action a = EVBRIDGE__V1__ACTION__INIT;
    a.name = action;
    a.isv = (char *)o->isv;
    a.kind = EVBRIDGE__V1__ACTION_KIND__HTTP;
    a.http = &http;
    a.description = "evb-bench receiver";
    Evbridge__V1__CreateActionRequest ar = EVBRIDGE__V1__CREATE_ACTION_REQUEST__INIT;
    ar.action = &a;
    if (call_msg(r, "/evbridge.v1.ConnectorService/CreateAction", &ar.base, NULL, NULL, -1) != 0)
        return -1;
    Evbridge__V1__Connection c = EVBRIDGE__V1__CONNECTION__INIT;
    c.org = (char *)o->org;
    c.name = action;
    c.connector = (char *)o->connector;
    c.action = action;
    if (o->pattern != NULL)
        c.pattern = (char *)o->pattern;
    Evbridge__V1__CreateConnectionRequest cr = EVBRIDGE__V1__CREATE_CONNECTION_REQUEST__INIT;
    cr.connection = &c;
    ProtobufCMessage *resp = NULL;
    if (call_msg(r, "/evbridge.v1.ConnectorService/CreateConnection", &cr.base,
                 &evbridge__v1__connection__descriptor, &resp, -1) != 0) {
        delete_action(r, action);
        return -1;
    }
    snprintf(conn_id, ccap, "%s", ((Evbridge__V1__Connection *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* ---- run ---- */

static void on_window(void *arg, int open)
{
    bench_sink *s = arg;
    if (open)
        bench_sink_window_open(s);
    else
        bench_sink_window_close(s);
}

static double load_avg1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    int rc = 2;
    char *admin_key = NULL, *pub_key = NULL, auth[600] = "", action[96] = "", conn_id[96] = "";
    bench_rpc *adm = NULL;
    bench_sink *sink = NULL;
    bench_payload *pool = NULL;
    bench_req **reqs = NULL;
    size_t n_pool = 0, n_reqs = 16;
    int threads = o.threads < o.concurrency ? o.threads : o.concurrency;
    bench_model_hints hints;
    memset(&hints, 0, sizeof hints);
    snprintf(type_customer, sizeof type_customer, "com.%s.crm.customer.changed", o.isv);
    snprintf(type_contract, sizeof type_contract, "com.%s.crm.contract.changed", o.isv);
    grpc_init();

    if (!o.echo) {
        if (o.admin_key_file != NULL) {
            admin_key = read_key_file(o.admin_key_file);
            if (admin_key == NULL) {
                fprintf(stderr, "evb-bench: cannot read %s: %s\n", o.admin_key_file,
                        strerror(errno));
                goto out;
            }
        } else if (o.admin_key != NULL) {
            admin_key = strdup(o.admin_key);
        } else if (o.key != NULL) {
            admin_key = strdup(o.key); /* must then be an admin key */
        } else {
            fprintf(stderr, "evb-bench: give --admin-key-file, --admin-key or --key\n");
            goto out;
        }
        adm = bench_rpc_open(o.addr, admin_key);
        int v1 = 0, v2 = 0;
        if (schema_hints(adm, "std.customer", BENCH_CUSTOMER, &hints, &v1) != 0 ||
            schema_hints(adm, "std.contract", BENCH_CONTRACT, &hints, &v2) != 0) {
            fprintf(stderr, "evb-bench: GetSchema of the std models failed\n");
            goto out;
        }
        printf("schemas: std.customer v%d (%zu statuses), std.contract v%d (%zu statuses)\n", v1,
               hints.n_status[0], v2, hints.n_status[1]);
    }
    /* payload pool: customers and contracts alternate (16k: contracts only) */
    n_pool = o.big ? 8 : 2 * N_VARIANTS;
    pool = calloc(n_pool, sizeof *pool);
    size_t pool_bytes = 0, pmin = SIZE_MAX, pmax = 0;
    for (size_t i = 0; pool && i < n_pool; i++) {
        bench_model m = o.big || i % 2 ? BENCH_CONTRACT : BENCH_CUSTOMER;
        if (bench_payload_make(m, (unsigned)(o.big ? i : i / 2), o.big, o.echo ? NULL : &hints,
                               &pool[i]) != 0)
            goto out;
        if (adm != NULL && !o.no_validate && validate_payload(adm, &pool[i]) != 0)
            goto out;
        pool_bytes += pool[i].len;
        pmin = pool[i].len < pmin ? pool[i].len : pmin;
        pmax = pool[i].len > pmax ? pool[i].len : pmax;
    }
    if (pool == NULL)
        goto out;
    printf("payloads: %zu (%s), %zu..%zu bytes, mean %zu%s\n", n_pool,
           o.big ? "std.contract ~16 KiB" : "std.customer + std.contract", pmin, pmax,
           pool_bytes / n_pool, adm && !o.no_validate ? ", all valid (ValidatePayload)" : "");

    if (!o.echo) {
        if (create_connector(adm, &o) != 0)
            goto out;
        if (o.key == NULL) {
            pub_key = create_isv_key(adm, &o);
            if (pub_key == NULL)
                goto out;
        } else {
            pub_key = strdup(o.key);
        }
        snprintf(auth, sizeof auth, "Bearer %s", pub_key);
        delete_stale_connections(adm, &o);
        if (o.deliver) {
            int port = 0;
            if (bench_sink_start(o.sink_port, &sink, &port) != 0) {
                fprintf(stderr, "evb-bench: cannot start the HTTP receiver\n");
                goto out;
            }
            if (create_route(adm, &o, port, action, sizeof action, conn_id, sizeof conn_id) != 0)
                goto out;
            printf("receiver: http://127.0.0.1:%d/events, action %s, connection %s%s\n", port,
                   action, conn_id, o.backlog ? " (paused while publishing)" : "");
            if (o.backlog && set_paused(adm, conn_id, 1) != 0)
                goto out;
        }
    }

    reqs = calloc((size_t)threads, sizeof *reqs);
    for (int t = 0; reqs && t < threads; t++) {
        reqs[t] = calloc(n_reqs, sizeof **reqs);
        for (size_t j = 0; reqs[t] && j < n_reqs; j++) {
            bench_req_spec sp = {o.connector, o.org, type_customer, type_contract, pool, n_pool,
                                 ((size_t)t * 7 + j * (size_t)o.batch) % n_pool,
                                 (size_t)o.batch};
            if (bench_req_build(&sp, &reqs[t][j]) != 0)
                goto out;
        }
        if (reqs[t] == NULL)
            goto out;
    }
    if (reqs == NULL)
        goto out;

    bench_load_opts lo = {
        .addr = o.addr,
        .auth = o.echo ? NULL : auth,
        .method = o.echo ? (o.stream ? "/evbridge.bench.Echo/Stream" : "/evbridge.bench.Echo/Unary")
                         : (o.stream ? "/evbridge.v1.EventService/PublishStream"
                                     : "/evbridge.v1.EventService/PutEvents"),
        .stream = o.stream,
        .echo = o.echo,
        .threads = threads,
        .connections = o.connections,
        .concurrency = o.concurrency,
        .window = o.window,
        .rate = o.rate,
        .warmup_s = o.warmup,
        .duration_s = o.duration,
        .count = o.count,
        .deadline_ms = o.deadline_ms,
        .reqs = reqs,
        .n_reqs = n_reqs,
        .on_window = sink && !o.backlog ? on_window : NULL,
        .on_window_arg = sink,
    };
    double la0 = load_avg1();
    printf("running: %s%s, batch %d, %s %d, %d thread(s), %d connection(s), %s, warm-up %.1f s, "
           "%s\n",
           o.echo ? "echo " : "", o.stream ? "PublishStream" : "PutEvents", o.batch,
           o.stream ? "streams" : "calls in flight", o.concurrency, threads, o.connections,
           o.rate > 0 ? "open loop" : "closed loop", o.warmup,
           o.count ? "by count" : "by duration");
    fflush(stdout);
    bench_load_result res;
    if (bench_load_run(&lo, &res) != 0)
        goto out;
    double w = res.window_s > 0 ? res.window_s : 1e-9;
    double eps = (double)res.events_ok / w;
    printf("published: %llu events in %.2f s = %.0f events/s, %.0f requests/s, %.1f MB/s of "
           "requests\n",
           (unsigned long long)res.events_ok, res.window_s, eps, (double)res.calls_ok / w,
           (double)res.bytes_sent / w / 1e6);
    printf("publish latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
           bench_hist_quantile_ms(&res.lat, 0.5), bench_hist_quantile_ms(&res.lat, 0.99),
           bench_hist_quantile_ms(&res.lat, 0.999), (double)res.lat.max_ns / 1e6,
           bench_hist_mean_ms(&res.lat));
    if (res.calls_failed || res.events_rejected || res.events_dedup)
        printf("failed calls %llu, rejected %llu, deduplicated %llu; first error: %s\n",
               (unsigned long long)res.calls_failed, (unsigned long long)res.events_rejected,
               (unsigned long long)res.events_dedup, res.first_error);

    uint64_t delivered = 0, no_ts = 0, total = 0;
    double dwin = 0, drain_s = 0;
    bench_hist e2e;
    memset(&e2e, 0, sizeof e2e);
    if (sink != NULL) {
        if (o.backlog) { /* the window: from the first delivery after the resume (which
                          * makes the held deliveries pending: not the delivery path) */
            if (o.hold_file != NULL) {
                printf("holding: %llu events acknowledged, their deliveries held (connection "
                       "paused) until %s exists\n",
                       (unsigned long long)res.events_acked, o.hold_file);
                fflush(stdout);
                while (access(o.hold_file, F_OK) != 0)
                    usleep(100000);
            }
            if (set_paused(adm, conn_id, 0) != 0)
                goto out;
            int64_t r0 = bench_now_ns();
            while (bench_sink_total(sink) == 0 && (double)(bench_now_ns() - r0) / 1e9 < o.drain)
                usleep(1000);
            bench_sink_window_open(sink);
        }
        int64_t t0 = bench_now_ns();
        uint64_t want = res.events_acked;
        while (bench_sink_total(sink) < want && (double)(bench_now_ns() - t0) / 1e9 < o.drain)
            usleep(o.backlog ? 1000 : 20000);
        if (o.backlog)
            bench_sink_window_close(sink);
        drain_s = (double)(bench_now_ns() - t0) / 1e9;
        total = bench_sink_total(sink);
        bench_sink_report(sink, &delivered, &dwin, &e2e, &no_ts);
        printf("delivered: %llu in the window = %.0f events/s; all %llu of %llu published "
               "events %s after %.2f s\n",
               (unsigned long long)delivered, dwin > 0 ? (double)delivered / dwin : 0,
               (unsigned long long)total, (unsigned long long)want,
               total >= want ? "delivered" : "NOT all delivered", drain_s);
        if (o.backlog)
            printf("(backlog: the connection was paused while publishing; end-to-end latency "
                   "below includes the pause)\n");
        printf("end-to-end latency ms (publish -> receiver): p50 %.3f  p99 %.3f  p99.9 %.3f  "
               "max %.3f\n",
               bench_hist_quantile_ms(&e2e, 0.5), bench_hist_quantile_ms(&e2e, 0.99),
               bench_hist_quantile_ms(&e2e, 0.999), (double)e2e.max_ns / 1e6);
    }
    double la1 = load_avg1();
    printf("{\"label\":\"%s\",\"mode\":\"%s\",\"echo\":%s,\"size\":\"%s\",\"batch\":%d,"
           "\"concurrency\":%d,\"window\":%d,\"threads\":%d,\"connections\":%d,\"rate\":%.0f,"
           "\"window_s\":%.3f,\"events\":%llu,\"events_per_sec\":%.1f,\"requests_per_sec\":%.1f,"
           "\"mb_per_sec\":%.2f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
           "\"failed_calls\":%llu,\"rejected\":%llu,\"deduplicated\":%llu,"
           "\"payload_bytes_mean\":%zu,\"loadavg_before\":%.2f,\"loadavg_after\":%.2f",
           o.label, o.stream ? "stream" : "unary", o.echo ? "true" : "false",
           o.big ? "16k" : "1k", o.batch, o.concurrency, o.stream ? o.window : 1, threads,
           o.connections, o.rate, res.window_s, (unsigned long long)res.events_ok, eps,
           (double)res.calls_ok / w, (double)res.bytes_sent / w / 1e6,
           bench_hist_quantile_ms(&res.lat, 0.5), bench_hist_quantile_ms(&res.lat, 0.99),
           bench_hist_quantile_ms(&res.lat, 0.999), (double)res.lat.max_ns / 1e6,
           (unsigned long long)res.calls_failed, (unsigned long long)res.events_rejected,
           (unsigned long long)res.events_dedup, pool_bytes / n_pool, la0, la1);
    if (sink != NULL)
        printf(",\"delivered\":%llu,\"delivered_per_sec\":%.1f,\"e2e_p50_ms\":%.3f,"
               "\"e2e_p99_ms\":%.3f,\"e2e_p999_ms\":%.3f,\"delivered_all\":%s,\"drain_s\":%.2f,"
               "\"backlog\":%s",
               (unsigned long long)delivered, dwin > 0 ? (double)delivered / dwin : 0,
               bench_hist_quantile_ms(&e2e, 0.5), bench_hist_quantile_ms(&e2e, 0.99),
               bench_hist_quantile_ms(&e2e, 0.999), total >= res.events_acked ? "true" : "false",
               drain_s, o.backlog ? "true" : "false");
    printf("}\n");
    fflush(stdout);
    rc = res.events_ok > 0 && (sink == NULL || total > 0) ? 0 : 1;
out:
    if (adm != NULL && conn_id[0])
        delete_connection(adm, conn_id);
    if (adm != NULL && action[0])
        delete_action(adm, action);
    bench_sink_stop(sink);
    for (int t = 0; reqs && t < threads; t++) {
        for (size_t j = 0; reqs[t] && j < n_reqs; j++)
            bench_req_fini(&reqs[t][j]);
        free(reqs[t]);
    }
    free(reqs);
    for (size_t i = 0; pool && i < n_pool; i++)
        bench_payload_fini(&pool[i]);
    free(pool);
    bench_rpc_close(adm);
    free(admin_key);
    free(pub_key);
    grpc_shutdown_blocking();
    return rc;
}
