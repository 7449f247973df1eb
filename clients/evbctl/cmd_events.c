/* evbctl events — put (JSON lines in batches, progress on a terminal), get, list, trace,
 * tail (Subscribe to a STREAM connection, print and ack).
 *
 * events put: each input line is a PutEventsEntry in JSON with the proto field names, except
 * that "data" is any JSON value (serialized to the entry's bytes) or "data_base64" holds
 * the bytes in base64. Lines that cannot be read are reported like server rejections (with
 * their line number) and the others still go; the exit code is 2 when any line was
 * rejected. A failing call as a whole stops the run with its status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/status.h>

#include "clients/evbctl/evbctl.h"
#include "clients/evbctl/pbjson.h"
#include "common/crypto.h"
#include "common/timeutil.h"
#include "evbridge/v1/events.pb-c.h"

#define SVC "/evbridge.v1.EventService/"

static const char *opt_or_empty(const cli_args *a, const char *n)
{
    const char *v = cli_get(a, n);
    return v ? v : "";
}

/* ---- put ---------------------------------------------------------------------------- */

typedef struct put_state {
    evbctl *ctx;
    const char *connector;
    Evbridge__V1__PutEventsEntry **entries;
    long *lines;
    size_t n, cap;
    long published, deduplicated, rejected, sent;
    json_t *rejections; /* array of {line, error_code, error_message, violations} */
    int progress;
    int64_t start_ms, last_draw_ms;
    long long total_bytes, done_bytes;
} put_state;

static void progress_clear(put_state *ps)
{
    if (ps->progress)
        fputs("\r\033[K", stderr);
}

static void progress_draw(put_state *ps, int force)
{
    if (!ps->progress)
        return;
    int64_t now = evb_mono_ms();
    if (!force && now - ps->last_draw_ms < 100)
        return;
    ps->last_draw_ms = now;
    double secs = (double)(now - ps->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)ps->sent / secs : 0;
    if (ps->total_bytes > 0) {
        int pct = (int)(100.0 * (double)ps->done_bytes / (double)ps->total_bytes);
        if (pct > 100)
            pct = 100;
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %3d%%  %ld events  %.0f ev/s  %ld rejected\033[K", bar, pct,
                ps->sent, rate, ps->rejected);
    } else {
        fprintf(stderr, "\r%ld events  %.0f ev/s  %ld rejected\033[K", ps->sent, rate,
                ps->rejected);
    }
}

static void report_rejection(put_state *ps, long line, const char *code, const char *msg,
                             json_t *violations /* stolen, may be NULL */)
{
    ps->rejected++;
    json_t *r = json_pack("{s:i, s:s, s:s}", "line", (json_int_t)line, "error_code", code,
                          "error_message", msg ? msg : "");
    if (r == NULL) /* message not UTF-8 */
        r = json_pack("{s:i, s:s, s:s}", "line", (json_int_t)line, "error_code", code,
                      "error_message", "");
    json_object_set_new(r, "violations", violations ? violations : json_array());
    if (ps->ctx->fmt == FMT_TABLE) {
        progress_clear(ps);
        printf("line %ld: REJECTED %s: %s\n", line, code, msg ? msg : "");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(r, "violations"), i, v)
        {
            const char *ip = json_string_value(json_object_get(v, "instance_path"));
            printf("  %s: %s (%s)\n", ip && ip[0] ? ip : "/",
                   json_string_value(json_object_get(v, "message")),
                   json_string_value(json_object_get(v, "keyword_location")));
        }
        fflush(stdout);
    }
    json_array_append_new(ps->rejections, r);
}

static void free_batch(put_state *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        protobuf_c_message_free_unpacked(&ps->entries[i]->base, NULL);
    ps->n = 0;
}

/* Sends the batch; returns 0 or the exit code of a failed call. */
static int flush_batch(put_state *ps)
{
    if (ps->n == 0)
        return 0;
    Evbridge__V1__PutEventsRequest req = EVBRIDGE__V1__PUT_EVENTS_REQUEST__INIT;
    req.connector = (char *)ps->connector;
    req.entries = ps->entries;
    req.n_entries = ps->n;
    ProtobufCMessage *resp = NULL;
    progress_clear(ps);
    int rc = evbctl_call(ps->ctx, SVC "PutEvents", &req.base,
                         &evbridge__v1__put_events_response__descriptor, &resp, 0, NULL, NULL);
    if (rc != 0) {
        free_batch(ps);
        return rc;
    }
    const Evbridge__V1__PutEventsResponse *r = (const void *)resp;
    for (size_t i = 0; i < r->n_results && i < ps->n; i++) {
        const Evbridge__V1__PutEventsResult *res = r->results[i];
        if (res->status == EVBRIDGE__V1__RESULT_STATUS__PUBLISHED) {
            ps->published++;
        } else if (res->status == EVBRIDGE__V1__RESULT_STATUS__DEDUPLICATED) {
            ps->deduplicated++;
        } else {
            json_t *viol = json_array();
            for (size_t k = 0; k < res->n_violations; k++)
                json_array_append_new(viol, evb_pbjson_from_message(&res->violations[k]->base));
            report_rejection(ps, ps->lines[i], res->error_code, res->error_message, viol);
        }
    }
    ps->sent += (long)ps->n;
    protobuf_c_message_free_unpacked(resp, NULL);
    free_batch(ps);
    progress_draw(ps, 1);
    return 0;
}

/* Builds the entry of one line; NULL after reporting a rejection. */
static Evbridge__V1__PutEventsEntry *line_entry(put_state *ps, long lineno, const char *line,
                                                const cli_args *a)
{
    json_error_t je;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL || !json_is_object(j)) {
        char msg[300];
        snprintf(msg, sizeof msg, "not a JSON object: %s", j ? "another JSON value" : je.text);
        json_decref(j);
        report_rejection(ps, lineno, "INVALID_JSON", msg, NULL);
        return NULL;
    }
    json_t *data = json_incref(json_object_get(j, "data"));
    json_t *b64 = json_incref(json_object_get(j, "data_base64"));
    json_object_del(j, "data");
    json_object_del(j, "data_base64");
    Evbridge__V1__PutEventsEntry *e = NULL;
    evb_error err;
    evb_error_clear(&err);
    char msg[600];
    if (data != NULL && b64 != NULL) {
        report_rejection(ps, lineno, "INVALID_ARGUMENT", "give data or data_base64, not both",
                         NULL);
    } else if (b64 != NULL && !json_is_string(b64)) {
        report_rejection(ps, lineno, "INVALID_ARGUMENT", "data_base64: expected a string", NULL);
    } else if (evb_pbjson_to_message(j, &evbridge__v1__put_events_entry__descriptor, "",
                                     (ProtobufCMessage **)&e, &err) != EVB_OK) {
        snprintf(msg, sizeof msg, "%s", err.message);
        report_rejection(ps, lineno, "INVALID_ARGUMENT", msg, NULL);
        e = NULL;
    } else {
        if (data != NULL) {
            char *s = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
            e->data.data = (uint8_t *)s;
            e->data.len = s ? strlen(s) : 0;
        } else if (b64 != NULL) {
            const char *s = json_string_value(b64);
            size_t n = strlen(s), bl = 0;
            uint8_t *b = malloc(3 * (n / 4) + 3);
            if (b == NULL || evb_base64_decode(s, n, b, &bl) != EVB_OK) {
                free(b);
                report_rejection(ps, lineno, "INVALID_ARGUMENT", "data_base64: not valid base64",
                                 NULL);
                protobuf_c_message_free_unpacked(&e->base, NULL);
                e = NULL;
            } else {
                e->data.data = b;
                e->data.len = bl;
            }
        }
        const char *org = cli_get(a, "org"), *type = cli_get(a, "type");
        if (e != NULL && org != NULL && e->org[0] == 0)
            e->org = strdup(org);
        if (e != NULL && type != NULL && e->type[0] == 0)
            e->type = strdup(type);
    }
    json_decref(data);
    json_decref(b64);
    json_decref(j);
    return e;
}

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int run_put(evbctl *ctx, const cli_args *a)
{
    long long batch;
    if (cli_int(a, "batch", 1, 100, 100, &batch))
        return EXIT_USAGE;
    const char *connector = cli_get(a, "connector");
    if (connector == NULL)
        return cli_usage_error("events put: --connector is required");
    const char *path = cli_get(a, "file");
    if (path == NULL)
        path = "-";
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return EXIT_USAGE;
    }
    put_state ps;
    memset(&ps, 0, sizeof(ps));
    ps.ctx = ctx;
    ps.connector = connector;
    ps.cap = (size_t)batch;
    ps.entries = calloc(ps.cap, sizeof(*ps.entries));
    ps.lines = calloc(ps.cap, sizeof(*ps.lines));
    ps.rejections = json_array();
    ps.progress = isatty(STDERR_FILENO) && !cli_flag(a, "no-progress");
    ps.start_ms = evb_mono_ms();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct stat st;
    if (f != stdin && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
        ps.total_bytes = st.st_size;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && !g_stop && (got = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        ps.done_bytes += got;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = 0;
        size_t skip = strspn(line, " \t");
        if (line[skip] == 0 || line[skip] == '#')
            continue;
        Evbridge__V1__PutEventsEntry *e = line_entry(&ps, lineno, line + skip, a);
        if (e != NULL) {
            ps.entries[ps.n] = e;
            ps.lines[ps.n++] = lineno;
        }
        if (ps.n == ps.cap)
            rc = flush_batch(&ps);
        progress_draw(&ps, 0);
    }
    if (rc == 0)
        rc = flush_batch(&ps);
    free(line);
    if (f != stdin)
        fclose(f);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    progress_clear(&ps);
    double secs = (double)(evb_mono_ms() - ps.start_ms) / 1000.0;
    if (ctx->fmt == FMT_TABLE) {
        printf("published %ld, deduplicated %ld, rejected %ld in %.2f s (%.0f events/s)\n",
               ps.published, ps.deduplicated, ps.rejected, secs,
               secs > 0 ? (double)ps.sent / secs : 0.0);
    } else {
        json_t *out = json_pack("{s:i, s:i, s:i, s:O}", "published", (json_int_t)ps.published,
                                "deduplicated", (json_int_t)ps.deduplicated, "rejected",
                                (json_int_t)ps.rejected, "rejections", ps.rejections);
        evbctl_output(ctx, out, NULL, NULL);
        json_decref(out);
    }
    json_decref(ps.rejections);
    free(ps.entries);
    free(ps.lines);
    if (rc == 0 && g_stop)
        rc = EXIT_FAILURE_;
    if (rc == 0 && ps.rejected > 0)
        rc = EXIT_REJECTED;
    return rc;
}

/* ---- get, list, trace ---------------------------------------------------------------- */

static int run_get(evbctl *ctx, const cli_args *a)
{
    return evbctl_json_call(ctx, SVC "GetEvent", &evbridge__v1__get_event_request__descriptor,
                            json_pack("{s:s, s:s, s:s}", "event_id", a->pos[0], "org",
                                      opt_or_empty(a, "org"), "connector",
                                      opt_or_empty(a, "connector")),
                            &io__cloudevents__v1__cloud_event__descriptor, NULL, NULL, NULL);
}

static const table_col event_cols[] = {
    {"ID", "id"},     {"TIME", "time"},           {"TYPE", "type"}, {"SUBJECT", "subject"},
    {"ORG", "orgid"}, {"CONNECTOR", "connector"}, {NULL, NULL}};

static int run_list(evbctl *ctx, const cli_args *a)
{
    long long page_size;
    if (cli_int(a, "page-size", 0, 1000, 0, &page_size))
        return EXIT_USAGE;
    int all = cli_flag(a, "all");
    json_t *events = json_array();
    char *token = strdup(opt_or_empty(a, "page-token"));
    int rc = 0;
    json_t *last = NULL;
    for (;;) {
        ProtobufCMessage *resp = NULL;
        rc = evbctl_json_call(
            ctx, SVC "ListEvents", &evbridge__v1__list_events_request__descriptor,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "org", opt_or_empty(a, "org"),
                      "connector", opt_or_empty(a, "connector"), "type", opt_or_empty(a, "type"),
                      "start_time", opt_or_empty(a, "since"), "end_time", opt_or_empty(a, "until"),
                      "page_size", (json_int_t)page_size, "page_token", token),
            &evbridge__v1__list_events_response__descriptor, &resp, NULL, NULL);
        if (rc != 0)
            break;
        json_decref(last);
        last = evb_pbjson_from_message(resp);
        protobuf_c_message_free_unpacked(resp, NULL);
        json_array_extend(events, json_object_get(last, "events"));
        const char *next = json_string_value(json_object_get(last, "next_page_token"));
        free(token);
        token = strdup(next ? next : "");
        if (!all || token[0] == 0)
            break;
    }
    if (rc == 0) {
        json_t *out = json_pack("{s:O, s:s}", "events", events, "next_page_token", token);
        evbctl_output(ctx, out, "events", event_cols);
        json_decref(out);
    }
    json_decref(last);
    json_decref(events);
    free(token);
    return rc;
}

static int run_trace(evbctl *ctx, const cli_args *a)
{
    ProtobufCMessage *resp = NULL;
    int rc = evbctl_json_call(ctx, SVC "TraceEvent", &evbridge__v1__trace_event_request__descriptor,
                              json_pack("{s:s, s:s, s:s}", "event_id", a->pos[0], "org",
                                        opt_or_empty(a, "org"), "connector",
                                        opt_or_empty(a, "connector")),
                              &evbridge__v1__trace_event_response__descriptor, &resp, NULL, NULL);
    if (rc != 0)
        return rc;
    json_t *j = evb_pbjson_from_message(resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    if (ctx->fmt != FMT_TABLE) {
        evbctl_output(ctx, j, NULL, NULL);
    } else {
        json_t *ev = json_object_get(j, "event");
        printf("event %s  type %s  time %s\n", json_string_value(json_object_get(ev, "id")),
               json_string_value(json_object_get(ev, "type")),
               json_string_value(json_object_get(ev, "time"))
                   ? json_string_value(json_object_get(ev, "time"))
                   : "");
        static const table_col cols[] = {{"STAGE", "stage"},
                                         {"TIME", "time"},
                                         {"CONNECTION", "connection_id"},
                                         {"MATCHED", "matched"},
                                         {"DELIVERY", "delivery_id"},
                                         {"ATTEMPT", "attempt"},
                                         {"OUTCOME", "outcome"},
                                         {"HTTP", "http_status"},
                                         {"LATENCY MS", "latency_ms"},
                                         {"ERROR", "error"},
                                         {"DETAIL", "detail"},
                                         {NULL, NULL}};
        /* blank the fields a stage does not use (their zero values say nothing) */
        size_t i;
        json_t *step;
        json_array_foreach(json_object_get(j, "steps"), i, step)
        {
            const char *stage = json_string_value(json_object_get(step, "stage"));
            const char *k;
            json_t *v;
            void *tmp;
            json_object_foreach_safe(step, tmp, k, v)
            {
                int zero = (json_is_integer(v) && json_integer_value(v) == 0) ||
                           (json_is_false(v) && !(stage && strcmp(stage, "FILTER") == 0));
                if (zero)
                    json_object_del(step, k);
            }
        }
        evbctl_print_table(json_object_get(j, "steps"), cols, stdout);
    }
    json_decref(j);
    return 0;
}

/* ---- tail ---------------------------------------------------------------------------- */

static void print_delivery(evbctl *ctx, const Evbridge__V1__SubscribeResponse *r)
{
    json_t *ev = r->event ? evb_pbjson_from_message(&r->event->base) : json_object();
    if (ctx->fmt == FMT_TABLE) {
        json_t *data = json_object_get(ev, "data");
        char *d =
            data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
        const char *t = json_string_value(json_object_get(ev, "time"));
        const char *s = json_string_value(json_object_get(ev, "subject"));
        printf("%s  %s  %s  %s  delivery=%s attempt=%d  %s\n", t ? t : "-",
               json_string_value(json_object_get(ev, "type")), s && s[0] ? s : "-",
               json_string_value(json_object_get(ev, "id")), r->delivery_id, r->attempt,
               d ? d : "");
        free(d);
    } else {
        json_t *o = json_pack("{s:s, s:i, s:O}", "delivery_id", r->delivery_id, "attempt",
                              (json_int_t)r->attempt, "event", ev);
        if (ctx->fmt == FMT_JSON) {
            json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
        } else {
            fputs("---\n", stdout);
            evbctl_output(ctx, o, NULL, NULL);
        }
        json_decref(o);
    }
    json_decref(ev);
    fflush(stdout);
}

static int send_acks(evb_rpc_bidi *b, char ***pending, size_t *np)
{
    if (*np == 0 || evb_rpc_bidi_sending(b))
        return 0;
    Evbridge__V1__SubscribeAck ack = EVBRIDGE__V1__SUBSCRIBE_ACK__INIT;
    ack.delivery_ids = *pending;
    ack.n_delivery_ids = *np;
    Evbridge__V1__SubscribeRequest req = EVBRIDGE__V1__SUBSCRIBE_REQUEST__INIT;
    req.request_case = EVBRIDGE__V1__SUBSCRIBE_REQUEST__REQUEST_ACK;
    req.ack = &ack;
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = malloc(len ? len : 1);
    int rc = -1;
    if (buf != NULL) {
        protobuf_c_message_pack(&req.base, buf);
        rc = evb_rpc_bidi_send(b, buf, len);
        free(buf);
    }
    for (size_t i = 0; i < *np; i++)
        free((*pending)[i]);
    *np = 0;
    return rc;
}

static int run_tail(evbctl *ctx, const cli_args *a)
{
    long long count, max_in_flight, ack_deadline;
    if (cli_int(a, "count", 0, INT32_MAX, 0, &count) ||
        cli_int(a, "max-in-flight", 0, 100000, 0, &max_in_flight) ||
        cli_int(a, "ack-deadline-ms", 0, INT32_MAX, 0, &ack_deadline))
        return EXIT_USAGE;
    const char *conn = cli_get(a, "connection");
    if (conn == NULL)
        return cli_usage_error("events tail: --connection is required");
    double duration = 0;
    if (cli_get(a, "duration") != NULL) {
        char *end;
        duration = strtod(cli_get(a, "duration"), &end);
        if (*end || duration <= 0)
            return cli_usage_error("--duration: a number of seconds");
    }
    int ack = !cli_flag(a, "no-ack");
    evb_rpc_client *c = evbctl_client(ctx);
    if (c == NULL)
        return EXIT_USAGE;
    evb_rpc_bidi *b = evb_rpc_bidi_open(c, SVC "Subscribe", ctx->key, 0);
    if (b == NULL)
        return EXIT_FAILURE_;
    Evbridge__V1__SubscribeStart start = EVBRIDGE__V1__SUBSCRIBE_START__INIT;
    start.connection_id = (char *)conn;
    start.max_in_flight = (int32_t)max_in_flight;
    start.ack_deadline_ms = (int32_t)ack_deadline;
    Evbridge__V1__SubscribeRequest req = EVBRIDGE__V1__SUBSCRIBE_REQUEST__INIT;
    req.request_case = EVBRIDGE__V1__SUBSCRIBE_REQUEST__REQUEST_START;
    req.start = &start;
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = malloc(len ? len : 1);
    protobuf_c_message_pack(&req.base, buf);
    (void)evb_rpc_bidi_send(b, buf, len);
    free(buf);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char **pending =
        calloc((size_t)(max_in_flight > 0 ? max_in_flight : 16) + 1024, sizeof(char *));
    size_t np = 0, pcap = (size_t)(max_in_flight > 0 ? max_in_flight : 16) + 1024;
    long long received = 0;
    int64_t t0 = evb_mono_ms(), closing_since = 0;
    int closed = 0, rc = 0, ended = 0;
    while (!ended) {
        int stopping = g_stop || (count > 0 && received >= count) ||
                       (duration > 0 && (double)(evb_mono_ms() - t0) / 1000.0 >= duration);
        if (ack)
            (void)send_acks(b, &pending, &np);
        if (stopping && !closed && np == 0 && !evb_rpc_bidi_sending(b)) {
            (void)evb_rpc_bidi_close_send(b);
            closed = 1;
            closing_since = evb_mono_ms();
        }
        if (closed && evb_mono_ms() - closing_since > 5000)
            break; /* the server did not end the stream: cancel */
        uint8_t *msg = NULL;
        size_t mlen = 0;
        switch (evb_rpc_bidi_poll(b, 200, &msg, &mlen)) {
        case EVB_BIDI_MESSAGE: {
            Evbridge__V1__SubscribeResponse *r =
                evbridge__v1__subscribe_response__unpack(NULL, mlen, msg);
            free(msg);
            if (r == NULL) {
                fputs("evbctl: cannot decode a SubscribeResponse\n", stderr);
                rc = EXIT_FAILURE_;
                ended = 1;
                break;
            }
            if (!(count > 0 && received >= count)) {
                received++;
                print_delivery(ctx, r);
                if (ack && np < pcap)
                    pending[np++] = strdup(r->delivery_id);
            }
            evbridge__v1__subscribe_response__free_unpacked(r, NULL);
            break;
        }
        case EVB_BIDI_STATUS: {
            const char *details = NULL;
            int st = evb_rpc_bidi_status(b, &details);
            if (st != GRPC_STATUS_OK || !closed) {
                fprintf(stderr, "evbctl: %s: %s\n", evbctl_status_name(st), details ? details : "");
                if (st == GRPC_STATUS_UNIMPLEMENTED)
                    fputs("evbctl: this server does not implement EventService.Subscribe\n",
                          stderr);
                rc = st == GRPC_STATUS_OK ? EXIT_UNAVAILABLE : evbctl_exit_for_status(st);
            }
            ended = 1;
            break;
        }
        case EVB_BIDI_ERROR:
            rc = EXIT_FAILURE_;
            ended = 1;
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < np; i++)
        free(pending[i]);
    free(pending);
    evb_rpc_bidi_free(b);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (ctx->fmt == FMT_TABLE)
        fprintf(stderr, "%lld event%s received%s\n", received, received == 1 ? "" : "s",
                ack ? " and acked" : "");
    return rc;
}

/* ---- the tree ------------------------------------------------------------------------ */

static const cli_opt put_opts[] = {
    {"connector", 'c', "NAME", "the connector to publish to (required)"},
    {"file", 'f', "FILE", "JSON lines, one PutEventsEntry each (default: stdin)"},
    {"batch", 'b', "N", "entries per PutEvents call, 1..100 (default 100)"},
    {"org", 0, "ORG", "org for lines that name none"},
    {"type", 0, "TYPE", "type for lines that name none"},
    {"no-progress", 0, NULL, "no progress bar (there is none when stderr is not a terminal)"},
    {NULL, 0, NULL, NULL}};
static const cli_node n_put = {
    .name = "put",
    .summary = "Publish events from JSON lines (exit 2 when any is rejected)",
    .opts = put_opts,
    .max_pos = 0,
    .run = run_put,
    .help =
        "Each line is a PutEventsEntry: id, org, type, subject, time, datacontenttype,\n"
        "extensions, and \"data\" as any JSON value or \"data_base64\". Empty lines and\n"
        "lines starting with # are skipped.\nExample:\n"
        "  echo "
        "'{\"org\":\"org1\",\"type\":\"com.acme.crm.customer.changed\",\"data\":{\"id\":1}}' \\\n"
        "    | evbctl events put --connector crm\n"};
static const cli_opt get_opts[] = {{"org", 0, "ORG", "narrow the lookup to this org"},
                                   {"connector", 0, "NAME", "narrow the lookup to this connector"},
                                   {NULL, 0, NULL, NULL}};
static const cli_node n_get = {.name = "get",
                               .summary = "Show an event (CloudEvents JSON form with -o json)",
                               .args_usage = "EVENT_ID",
                               .opts = get_opts,
                               .min_pos = 1,
                               .max_pos = 1,
                               .run = run_get};
static const cli_opt list_opts[] = {{"org", 0, "ORG", "the org"},
                                    {"connector", 0, "NAME", "the connector"},
                                    {"type", 0, "TYPE", "only this event type"},
                                    {"since", 0, "RFC3339", "events from this time (inclusive)"},
                                    {"until", 0, "RFC3339", "events before this time"},
                                    {"page-size", 0, "N", "events per page, 1..1000 (default 100)"},
                                    {"page-token", 0, "TOKEN", "continue from a previous page"},
                                    {"all", 0, NULL, "follow every page"},
                                    {NULL, 0, NULL, NULL}};
static const cli_node n_list = {.name = "list",
                                .summary = "List stored events",
                                .opts = list_opts,
                                .max_pos = 0,
                                .run = run_list};
static const cli_node n_trace = {.name = "trace",
                                 .summary = "Show an event's way: receive, filter, deliver",
                                 .args_usage = "EVENT_ID",
                                 .opts = get_opts,
                                 .min_pos = 1,
                                 .max_pos = 1,
                                 .run = run_trace};
static const cli_opt tail_opts[] = {
    {"connection", 'c', "ID", "the STREAM connection to subscribe to (required)"},
    {"count", 'n', "N", "exit after N events"},
    {"duration", 0, "SECONDS", "exit after this time"},
    {"max-in-flight", 0, "N", "unacked deliveries at a time (server default 16)"},
    {"ack-deadline-ms", 0, "MS", "redelivery after this time without ack (server default 30000)"},
    {"no-ack", 0, NULL, "do not ack (deliveries come again after the ack deadline)"},
    {NULL, 0, NULL, NULL}};
static const cli_node n_tail = {
    .name = "tail",
    .summary = "Subscribe to a STREAM connection: print and ack events",
    .opts = tail_opts,
    .max_pos = 0,
    .run = run_tail,
    .help = "Runs until Ctrl-C, --count or --duration; -o json prints one JSON object per line\n"
            "({delivery_id, attempt, event}).\n"};

static const cli_node *const children[] = {&n_put, &n_get, &n_list, &n_trace, &n_tail, NULL};
const cli_node evbctl_events_node = {
    .name = "events", .summary = "Events: put, get, list, trace, tail", .children = children};
