/* evbridge — PutEvents processing shared by unary and streaming publishing. See put_job.h.
 *
 * A job owns the unpacked request, the events built from it and the store items. Rejected
 * entries never reach the store; accepted ones are committed together in the writer's next
 * group commit, and the publisher hears PUBLISHED only from the commit's completion.
 */
#include "server/rpc/put_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "common/tracectx.h"
#include "evbridge/v1/events.pb-c.h"
#include "server/cloudevents/ce_rules.h"
#include "server/metrics/catalog.h"
#include "server/router/router.h"
#include "server/rpc/conn_cache.h"
#include "server/rpc/pb_wire.h"

typedef struct entry_result {
    int status;          /* EVBRIDGE__V1__RESULT_STATUS__* */
    const char *code;    /* reject code */
    char *message;       /* malloc'd */
    int item;            /* index into items, -1 when rejected */
    evb_schema_violation *viol; /* malloc'd, SCHEMA_VIOLATION only */
    size_t n_viol;
    char nul[64];        /* path of a string field holding a NUL byte ("" = none) */
} entry_result;

typedef struct put_job {
    evb_services *svc;
    evb_arena *pb_arena; /* every allocation of the unpacked request: freed at once */
    Evbridge__V1__PutEventsRequest *req;
    evb_event *events;   /* one per entry; zeroed for rejected ones */
    evb_put_item *items; /* accepted entries */
    evb_route *routes;   /* per accepted item: deliveries and filter trace */
    size_t n_items;
    entry_result *res;
    int reject_all;
    const char *traceparent; /* borrowed from the call's metadata; NULL = none or invalid */
    const char *tracestate;
    const char *mx_connector; /* metrics label: the request's connector once it is known */
    evb_put_done_fn done;
    void *arg;
} put_job;

static void *pb_alloc(void *arena, size_t size)
{
    return evb_arena_alloc(arena, size);
}

static void pb_free(void *arena, void *ptr)
{
    (void)arena;
    (void)ptr; /* released with the arena */
}

static void job_free(put_job *j)
{
    if (j == NULL)
        return;
    size_t n = j->req != NULL ? j->req->n_entries : 0;
    for (size_t i = 0; j->events != NULL && i < n; i++)
        evb_event_fini(&j->events[i]);
    for (size_t i = 0; j->res != NULL && i < n; i++) {
        free(j->res[i].message);
        free(j->res[i].viol);
    }
    for (size_t k = 0; j->routes != NULL && k < j->n_items; k++)
        evb_route_fini(&j->routes[k]);
    free(j->routes);
    free(j->events);
    free(j->items);
    free(j->res);
    evb_arena_free(j->pb_arena); /* the unpacked request */
    evb_services *svc = j->svc;
    free(j);
    atomic_fetch_sub(&svc->put_jobs, 1); /* last: svc may be torn down once it reaches 0 */
}

static const char *status_name(evb_rpc_status s)
{
    switch (s) {
    case EVB_RPC_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case EVB_RPC_NOT_FOUND: return "NOT_FOUND";
    case EVB_RPC_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case EVB_RPC_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case EVB_RPC_UNAVAILABLE: return "UNAVAILABLE";
    case EVB_RPC_UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "INTERNAL";
    }
}

/* Points r's violations at er's (the strings are borrowed; the arrays are freed with
 * free_violations). Returns 0 when out of memory. */
static int pack_violations(Evbridge__V1__PutEventsResult *r, const entry_result *er)
{
    Evbridge__V1__Violation *vs = calloc(er->n_viol, sizeof *vs);
    r->violations = calloc(er->n_viol, sizeof *r->violations);
    if (vs == NULL || r->violations == NULL) {
        free(vs);
        free(r->violations);
        r->violations = NULL;
        return 0;
    }
    for (size_t k = 0; k < er->n_viol; k++) {
        vs[k] = (Evbridge__V1__Violation)EVBRIDGE__V1__VIOLATION__INIT;
        vs[k].instance_path = er->viol[k].instance_path;
        vs[k].keyword_location = er->viol[k].keyword_location;
        vs[k].message = er->viol[k].message;
        r->violations[k] = &vs[k];
    }
    r->n_violations = er->n_viol;
    return 1;
}

static void free_violations(Evbridge__V1__PutEventsResult *rs, size_t n)
{
    for (size_t i = 0; rs != NULL && i < n; i++) {
        if (rs[i].violations != NULL)
            free(rs[i].violations[0]);
        free(rs[i].violations);
    }
}

/* Counts every entry's outcome in the metrics (received = published + deduplicated +
 * rejected). `whole` (not NULL): the request failed as a whole with that status. */
static void count_outcomes(const put_job *j, const char *whole)
{
    if (j->req == NULL)
        return;
    for (size_t i = 0; i < j->req->n_entries; i++) {
        const char *org = j->req->entries[i]->org;
        evb_mx_event_received(j->mx_connector, org);
        const entry_result *er = j->res != NULL ? &j->res[i] : NULL;
        if (whole != NULL || er == NULL)
            evb_mx_event_rejected(j->mx_connector, org, whole != NULL ? whole : "INTERNAL");
        else if (er->status == EVBRIDGE__V1__RESULT_STATUS__PUBLISHED)
            evb_mx_event_published(j->mx_connector, org);
        else if (er->status == EVBRIDGE__V1__RESULT_STATUS__DEDUPLICATED)
            evb_mx_event_deduplicated(j->mx_connector, org);
        else
            evb_mx_event_rejected(j->mx_connector, org, er->code);
    }
}

/* Packs the response from j->res and hands it to the completion; frees the job. */
static void finish_ok(put_job *j)
{
    size_t n = j->req->n_entries;
    count_outcomes(j, NULL);
    Evbridge__V1__PutEventsResult *rs = calloc(n ? n : 1, sizeof *rs);
    Evbridge__V1__PutEventsResult **rp = calloc(n ? n : 1, sizeof *rp);
    Evbridge__V1__PutEventsResponse resp = EVBRIDGE__V1__PUT_EVENTS_RESPONSE__INIT;
    uint8_t *buf = NULL;
    if (rs == NULL || rp == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        Evbridge__V1__PutEventsResult *r = &rs[i];
        *r = (Evbridge__V1__PutEventsResult)EVBRIDGE__V1__PUT_EVENTS_RESULT__INIT;
        const entry_result *er = &j->res[i];
        r->status = er->status;
        if (er->status == EVBRIDGE__V1__RESULT_STATUS__REJECTED) {
            r->error_code = (char *)er->code;
            r->error_message = er->message != NULL ? er->message : (char *)"";
            resp.failed_entry_count++;
            if (er->n_viol > 0 && !pack_violations(r, er))
                goto oom;
        } else if (er->status == EVBRIDGE__V1__RESULT_STATUS__DEDUPLICATED) {
            r->event_id = j->items[er->item].first_id;
        } else {
            r->event_id = j->events[i].id;
        }
        rp[i] = r;
    }
    resp.n_results = n;
    resp.results = rp;
    resp.request_id = j->req->request_id;
    size_t len = protobuf_c_message_get_packed_size(&resp.base);
    if ((buf = malloc(len ? len : 1)) == NULL)
        goto oom;
    protobuf_c_message_pack(&resp.base, buf);
    j->done(j->arg, EVB_RPC_OK, NULL, buf, len);
    free(buf);
    free_violations(rs, n);
    free(rs);
    free(rp);
    job_free(j);
    return;
oom:
    free_violations(rs, n);
    free(rs);
    free(rp);
    j->done(j->arg, EVB_RPC_INTERNAL, "out of memory", NULL, 0);
    job_free(j);
}

/* A whole-request failure: an error status, or (streams) every entry rejected with it. */
static void finish_err(put_job *j, evb_rpc_status st, const char *msg)
{
    if (!j->reject_all || j->req == NULL || j->res == NULL) {
        count_outcomes(j, status_name(st));
        j->done(j->arg, st, msg, NULL, 0);
        job_free(j);
        return;
    }
    for (size_t i = 0; i < j->req->n_entries; i++) {
        entry_result *er = &j->res[i];
        er->status = EVBRIDGE__V1__RESULT_STATUS__REJECTED;
        er->code = status_name(st);
        free(er->message);
        er->message = evb_utf8_sanitize(evb_strdup(msg));
    }
    finish_ok(j);
}

static void committed(void *arg, evb_err err)
{
    put_job *j = arg;
    if (err != EVB_OK) {
        finish_err(j, EVB_RPC_UNAVAILABLE,
                   "storage failed; nothing of this request was stored, retry later");
        return;
    }
    for (size_t i = 0; i < j->req->n_entries; i++) {
        entry_result *er = &j->res[i];
        if (er->item < 0)
            continue;
        er->status = j->items[er->item].status == EVB_PUT_DEDUPLICATED
                         ? EVBRIDGE__V1__RESULT_STATUS__DEDUPLICATED
                         : EVBRIDGE__V1__RESULT_STATUS__PUBLISHED;
    }
    int created = 0;
    for (size_t k = 0; k < j->n_items; k++)
        created |= j->items[k].status == EVB_PUT_PUBLISHED && j->items[k].n_deliveries > 0;
    if (created && j->svc->deliveries_hook != NULL)
        j->svc->deliveries_hook(j->svc->deliveries_hook_arg);
    finish_ok(j);
}

/* Strings holding a NUL byte. protobuf-c cuts a string at its first NUL ("a\0b" arrives as
 * "a"), so the unpacked request cannot show one; the encoded bytes can. A request-level
 * string (connector, request_id) with a NUL fails the request; an entry with one is
 * rejected on its own (its res[].nul names the field), as any control character is.
 * Returns 0 and finishes the job on failure. */
static int check_nuls(put_job *j, const uint8_t *req, size_t len)
{
    const ProtobufCMessageDescriptor *d = &evbridge__v1__put_events_request__descriptor;
    const uint8_t *p = req;
    size_t n = len, entry = 0;
    evb_pb_field f;
    while (evb_pb_next(&p, &n, &f) == 1) {
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(d, f.number);
        if (f.wire_type != 2 || fd == NULL)
            continue;
        if (fd->type == PROTOBUF_C_TYPE_STRING && memchr(f.data, 0, f.len) != NULL) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s contains a NUL character (U+0000)", fd->name);
            finish_err(j, EVB_RPC_INVALID_ARGUMENT, msg);
            return 0;
        }
        if (f.number == 2 && entry < j->req->n_entries) /* entries, in order */
            evb_pb_nul_path(&evbridge__v1__put_events_entry__descriptor, f.data, f.len,
                            j->res[entry++].nul, sizeof j->res[0].nul);
    }
    return 1;
}

/* Request-level checks. Returns 0 and finishes the job on failure. */
static int check_request(put_job *j, const evb_principal *p, size_t len,
                         const evb_connector **conn, evb_conn_ref **ref)
{
    const Evbridge__V1__PutEventsRequest *r = j->req;
    const evb_ingest_limits *lim = &j->svc->limits;
    char msg[256];
    if (strlen(r->request_id) > 128 || !evb_utf8_valid(r->request_id, strlen(r->request_id))) {
        finish_err(j, EVB_RPC_INVALID_ARGUMENT, "request_id must be UTF-8 of at most 128 bytes");
        return 0;
    }
    if (len > lim->max_request_bytes) {
        snprintf(msg, sizeof msg, "request is %zu bytes, over the %zu-byte limit", len,
                 lim->max_request_bytes);
        finish_err(j, EVB_RPC_INVALID_ARGUMENT, msg);
        return 0;
    }
    if (r->n_entries == 0 || r->n_entries > (size_t)lim->max_entries) {
        snprintf(msg, sizeof msg, "entries: a request carries 1..%d entries, got %zu",
                 lim->max_entries, r->n_entries);
        finish_err(j, EVB_RPC_INVALID_ARGUMENT, msg);
        return 0;
    }
    if (!evb_str_matches(r->connector, "a-z0-9-", 1, 64)) {
        finish_err(j, EVB_RPC_INVALID_ARGUMENT, "connector must match [a-z0-9-]{1,64}");
        return 0;
    }
    evb_err rc = evb_conn_cache_get(j->svc->connectors, r->connector, ref);
    if (rc != EVB_OK) {
        snprintf(msg, sizeof msg, "connector %s: %s", r->connector, evb_strerror(rc));
        finish_err(j, evb_rpc_status_from_err(rc), msg);
        return 0;
    }
    *conn = evb_conn_ref_connector(*ref);
    j->mx_connector = r->connector;
    if (!evb_svc_allowed(p, EVB_ROLE_ISV, (*conn)->isv)) {
        snprintf(msg, sizeof msg,
                 "permission denied: only an isv key of ISV \"%s\" (or admin) may publish to "
                 "connector %s", (*conn)->isv, r->connector);
        evb_conn_ref_release(*ref);
        *ref = NULL;
        *conn = NULL;
        finish_err(j, EVB_RPC_PERMISSION_DENIED, msg);
        return 0;
    }
    return 1;
}

/* Validates entry i's data against the data model of its event type and, when valid, sets
 * the event's dataschema and hands the parsed data to the caller in *doc (for routing).
 * On failure the event is released and the violations kept. */
static evb_err validate_entry(put_job *j, size_t i, const evb_event_type_def *td,
                              const char **code, evb_json_doc **doc, evb_error *e)
{
    evb_event *ev = &j->events[i];
    evb_model *m = NULL;
    evb_err rc = evb_schemas_model(j->svc->schemas, td->subject, td->version, &m, e);
    if (rc != EVB_OK) {
        char why[sizeof e->message];
        snprintf(why, sizeof why, "%s", e->message);
        *code = rc == EVB_ERR_NOT_FOUND ? EVB_REJECT_NO_MODEL : "INTERNAL";
        evb_error_set(e, rc, "type", "entries[%zu].type %s: %s", i, ev->type, why);
        goto fail;
    }
    *code = EVB_REJECT_SCHEMA;
    if (!evb_ce_media_type_is_json(ev->datacontenttype)) {
        rc = evb_error_set(e, EVB_ERR_INVALID, "datacontenttype",
                           "entries[%zu].data must be JSON to be checked against data model "
                           "%s (datacontenttype is %s)", i, m->subject, ev->datacontenttype);
        goto fail;
    }
    evb_schema_result res;
    evb_error verr;
    evb_error_clear(&verr);
    int64_t t0 = evb_mono_ns();
    rc = evb_model_validate_keep(j->svc->schemas, m, (const char *)ev->data, ev->data_len, &res,
                                 doc, &verr);
    evb_mx_validation((double)(evb_mono_ns() - t0) / 1e9);
    if (rc == EVB_ERR_PARSE || rc == EVB_ERR_LIMIT) {
        *code = EVB_REJECT_INVALID;
        rc = evb_error_set(e, EVB_ERR_INVALID, "data", "entries[%zu].data is not valid JSON: %s",
                           i, verr.message);
        goto fail;
    }
    if (rc != EVB_OK) {
        *code = "INTERNAL";
        evb_error_set(e, rc, "data", "entries[%zu].data: %s", i, verr.message);
        goto fail;
    }
    if (!res.valid) {
        entry_result *er = &j->res[i];
        er->viol = malloc(res.count * sizeof *er->viol);
        if (er->viol != NULL) {
            memcpy(er->viol, res.violations, res.count * sizeof *er->viol);
            er->n_viol = res.count;
        }
        rc = evb_error_set(e, EVB_ERR_INVALID, "data",
                           "entries[%zu].data does not match data model %s version %d: %s%s%s",
                           i, m->subject, (int)m->version, res.violations[0].instance_path,
                           res.violations[0].instance_path[0] ? " " : "",
                           res.violations[0].message);
        goto fail;
    }
    ev->dataschema = evb_strdup(m->dataschema);
    rc = ev->dataschema != NULL ? EVB_OK : EVB_ERR_NOMEM;
    if (rc != EVB_OK)
        *code = "INTERNAL";
fail:
    evb_model_release(m);
    if (rc != EVB_OK) {
        evb_event_fini(ev);
        evb_json_doc_free(*doc);
        *doc = NULL;
    }
    return rc;
}

/* Builds an event per entry; rejected entries get their result now. */
static void build_entries(put_job *j, const evb_connector *conn)
{
    int64_t now = evb_now_ms();
    for (size_t i = 0; i < j->req->n_entries; i++) {
        const Evbridge__V1__PutEventsEntry *pe = j->req->entries[i];
        const char *names[64], *values[64];
        const char **np = names, **vp = values;
        size_t n_ext = pe->n_extensions;
        if (n_ext + 2 > 64) { /* room for the call's trace context */
            np = malloc((n_ext + 2) * sizeof *np);
            vp = malloc((n_ext + 2) * sizeof *vp);
        }
        entry_result *er = &j->res[i];
        er->item = -1;
        evb_error e;
        evb_error_clear(&e);
        const char *code = EVB_REJECT_INVALID;
        evb_err rc = EVB_ERR_NOMEM;
        evb_json_doc *doc = NULL; /* the validated data, parsed once for routing too */
        if (er->nul[0] != '\0') {
            char ptr[96];
            snprintf(ptr, sizeof ptr, "entries[%zu].%s", i, er->nul);
            rc = evb_error_set(&e, EVB_ERR_INVALID, ptr,
                               "%s contains a NUL character (U+0000): strings must be UTF-8 "
                               "without control characters",
                               ptr);
        } else if (np != NULL && vp != NULL) {
            int has_tp = 0, has_ts = 0;
            for (size_t k = 0; k < pe->n_extensions; k++) {
                np[k] = pe->extensions[k]->key;
                vp[k] = pe->extensions[k]->value;
                has_tp |= strcmp(np[k], "traceparent") == 0;
                has_ts |= strcmp(np[k], "tracestate") == 0;
            }
            if (j->traceparent != NULL && !has_tp) {
                np[n_ext] = "traceparent";
                vp[n_ext++] = j->traceparent;
                if (j->tracestate != NULL && !has_ts) {
                    np[n_ext] = "tracestate";
                    vp[n_ext++] = j->tracestate;
                }
            }
            evb_ingest_entry ie = {
                .id = pe->id, .org = pe->org, .type = pe->type, .subject = pe->subject,
                .time = pe->time, .datacontenttype = pe->datacontenttype,
                .data = pe->data.data, .data_len = pe->data.len,
                .ext_names = np, .ext_values = vp, .n_ext = n_ext,
            };
            const evb_event_type_def *td = NULL;
            rc = evb_ingest_build_event(conn, &ie, i, &j->svc->limits, now, &j->events[i], &td,
                                        &code, &e);
            if (rc == EVB_OK && td->subject != NULL && td->subject[0] != '\0')
                rc = validate_entry(j, i, td, &code, &doc, &e);
        }
        if (np != names)
            free((void *)np);
        if (vp != values)
            free((void *)vp);
        if (rc != EVB_OK) {
            er->status = EVBRIDGE__V1__RESULT_STATUS__REJECTED;
            er->code = code;
            er->message = evb_utf8_sanitize(evb_strdup(e.message[0] ? e.message
                                                                   : evb_strerror(rc)));
            if (evb_log_enabled(EVB_LOG_DEBUG)) {
                const char *ctx[] = {"connector", conn->name, "org", pe->org,
                                     "request_id", j->req->request_id, NULL};
                evb_log(EVB_LOG_DEBUG, "ingest", ctx, "entry %zu rejected: %s: %s", i, code,
                        er->message ? er->message : "");
            }
            continue;
        }
        evb_route *rt = &j->routes[j->n_items];
        evb_err rrc = evb_router_route(j->svc->router, &j->events[i],
                                       doc != NULL ? evb_json_root(doc) : NULL, rt);
        evb_json_doc_free(doc);
        if (rrc != EVB_OK) {
            evb_event_fini(&j->events[i]);
            er->status = EVBRIDGE__V1__RESULT_STATUS__REJECTED;
            er->code = "UNAVAILABLE";
            er->message = evb_strdup("routing is unavailable; retry");
            continue;
        }
        er->item = (int)j->n_items;
        j->items[j->n_items++] = (evb_put_item){.ev = &j->events[i],
                                                .deliveries = rt->deliveries,
                                                .n_deliveries = rt->n_deliveries,
                                                .filter_trace = rt->filter_trace};
    }
}

void evb_put_start(evb_services *svc, const evb_principal *p, const uint8_t *req, size_t len,
                   int reject_all, const char *traceparent, const char *tracestate,
                   evb_put_done_fn done, void *arg)
{
    put_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        done(arg, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    j->svc = svc;
    atomic_fetch_add(&svc->put_jobs, 1);
    j->done = done;
    j->arg = arg;
    j->reject_all = reject_all;
    if (evb_traceparent_valid(traceparent)) {
        j->traceparent = traceparent;
        j->tracestate = evb_tracestate_valid(tracestate) && tracestate[0] ? tracestate : NULL;
    }
    /* The unpacked request lives in an arena: protobuf-c's one allocation per string, bytes
     * field, entry and map entry become bump allocations, and the job frees it in a few
     * blocks (the job is freed on the store's writer thread, the one serial stage). */
    j->pb_arena = evb_arena_new();
    ProtobufCAllocator pa = {.alloc = pb_alloc, .free = pb_free, .allocator_data = j->pb_arena};
    j->req = j->pb_arena != NULL ? evbridge__v1__put_events_request__unpack(&pa, len, req) : NULL;
    if (j->req == NULL && j->pb_arena == NULL) {
        finish_err(j, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (j->req == NULL) {
        finish_err(j, EVB_RPC_INVALID_ARGUMENT, "malformed PutEventsRequest");
        return;
    }
    size_t n = j->req->n_entries ? j->req->n_entries : 1;
    j->res = calloc(n, sizeof *j->res);
    j->events = calloc(n, sizeof *j->events);
    j->items = calloc(n, sizeof *j->items);
    j->routes = calloc(n, sizeof *j->routes);
    if (j->res == NULL || j->events == NULL || j->items == NULL || j->routes == NULL) {
        free(j->res);
        j->res = NULL;
        finish_err(j, EVB_RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (!check_nuls(j, req, len))
        return;
    const evb_connector *conn = NULL;
    evb_conn_ref *ref = NULL;
    if (!check_request(j, p, len, &conn, &ref))
        return;
    build_entries(j, conn);
    j->traceparent = j->tracestate = NULL; /* the call's metadata: not needed past here */
    evb_conn_ref_release(ref); /* the events hold copies of what they need */
    if (j->n_items == 0) {
        finish_ok(j);
        return;
    }
    evb_err rc = evb_store_put_events(svc->store, j->items, j->n_items, committed, j);
    if (rc == EVB_ERR_LIMIT)
        finish_err(j, EVB_RPC_RESOURCE_EXHAUSTED, "server busy: the write queue is full, retry");
    else if (rc != EVB_OK)
        finish_err(j, EVB_RPC_UNAVAILABLE, "storage unavailable; nothing was stored, retry");
}

void evb_services_wait_idle(evb_services *svc)
{
    /* Only at shutdown, and jobs finish within a commit or a busy timeout: polling is
     * simpler than a condition variable every job would have to signal. */
    while (atomic_load(&svc->put_jobs) > 0) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
