/* evbctl apply — configuration as code: schemas, connectors, actions and connections
 * declared in YAML (or JSON) documents `{kind: Schema|Connector|Action|Connection, spec}`
 * are created or updated so the server matches them, idempotently.
 *
 * Every document is read and converted first (an input error changes nothing), then the
 * objects are applied in dependency order (schemas, connectors, actions, connections; file
 * order within a kind). Each one is compared with what the server has (Get; connections are
 * found by (org, name) with ListConnections) and written only when different; a line per
 * object says "created", "updated" or "unchanged". Only the fields a spec names are
 * compared (the server fills defaults for the others), write-only secrets cannot be
 * compared (change them with `actions update`), and event patterns compare as JSON.
 * A connection's `state` (ENABLED/PAUSED) is applied with Pause/Resume.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <grpc/status.h>

#include "clients/evbctl/evbctl.h"
#include "clients/evbctl/pbjson.h"
#include "clients/evbctl/yamljson.h"
#include "evbridge/v1/connector.pb-c.h"
#include "evbridge/v1/registry.pb-c.h"

#define CSVC "/evbridge.v1.ConnectorService/"
#define RSVC "/evbridge.v1.SchemaRegistry/"

enum { K_SCHEMA, K_CONNECTOR, K_ACTION, K_CONNECTION, K__N };
static const char *const kind_names[K__N] = {"Schema", "Connector", "Action", "Connection"};

typedef struct item {
    int kind;
    char where[300];           /* file and document number */
    json_t *spec;              /* the spec as written (patterns and schemas as text) */
    ProtobufCMessage *desired; /* Connector / Action / Connection; NULL for schemas */
    char *schema;              /* Schema: the JSON text */
    const char *name;
} item;

typedef struct plan {
    item *items;
    size_t n, cap;
} plan;

static const char *const never_compared[] = {"create_time",
                                             "update_time",
                                             "id",
                                             "state",
                                             "state_reason",
                                             "disabled",
                                             "disabled_reason",
                                             "has_signing_secret",
                                             "has_secret",
                                             "signing_secret",
                                             "password",
                                             "token",
                                             "api_key",
                                             "secret",
                                             NULL};

static int skip_key(const char *k)
{
    for (int i = 0; never_compared[i]; i++)
        if (strcmp(k, never_compared[i]) == 0)
            return 1;
    return 0;
}

static int same_json_text(const json_t *a, const json_t *b)
{
    const char *sa = json_string_value(a), *sb = json_string_value(b);
    if (sa == NULL || sb == NULL)
        return json_equal(a, b);
    if (strcmp(sa, sb) == 0)
        return 1;
    json_t *ja = json_loads(sa, JSON_DECODE_ANY, NULL), *jb = json_loads(sb, JSON_DECODE_ANY, NULL);
    int eq = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

/* 1 when every field named in spec has the same value in desired and actual. */
static int same(const json_t *spec, const ProtobufCMessageDescriptor *d, const json_t *desired,
                const json_t *actual, char *diff, size_t diffsz)
{
    const char *key;
    json_t *sv;
    json_object_foreach((json_t *)spec, key, sv)
    {
        if (skip_key(key))
            continue;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (f == NULL)
            continue;
        const json_t *dv = json_object_get(desired, key), *av = json_object_get(actual, key);
        int eq;
        int is_map =
            f->type == PROTOBUF_C_TYPE_MESSAGE && f->label == PROTOBUF_C_LABEL_REPEATED &&
            strstr(((const ProtobufCMessageDescriptor *)f->descriptor)->name, "Entry") != NULL;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && !is_map &&
            f->label != PROTOBUF_C_LABEL_REPEATED && json_is_object(sv)) {
            eq = same(sv, f->descriptor, dv, av ? av : json_object(), diff, diffsz);
            if (av == NULL)
                eq = eq && json_object_size(sv) == 0;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE && !is_map && json_is_array(sv)) {
            eq = json_array_size(dv) == json_array_size(av);
            for (size_t i = 0; eq && i < json_array_size(sv); i++)
                eq = same(json_array_get(sv, i), f->descriptor, json_array_get(dv, i),
                          json_array_get(av, i), diff, diffsz);
        } else if (strcmp(key, "pattern") == 0) {
            eq = same_json_text(dv, av);
        } else if (strcmp(key, "webhook_url") == 0 && json_is_string(av) &&
                   strstr(json_string_value(av), "***") != NULL) {
            eq = 1; /* the token is write-only */
        } else {
            eq = json_equal(dv, av);
        }
        if (!eq) {
            if (diff[0] == 0)
                snprintf(diff, diffsz, "%s", key);
            return 0;
        }
    }
    return 1;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int add_doc(plan *p, json_t *doc, const char *where)
{
    if (json_is_null(doc))
        return 0;
    const char *k = json_string_value(json_object_get(doc, "kind"));
    json_t *spec = json_object_get(doc, "spec");
    if (!json_is_object(doc) || k == NULL || !json_is_object(spec)) {
        fprintf(stderr,
                "evbctl: %s: expected {kind: Schema|Connector|Action|Connection, spec: {...}}\n",
                where);
        return -1;
    }
    int kind = -1;
    for (int i = 0; i < K__N; i++)
        if (strcmp(k, kind_names[i]) == 0)
            kind = i;
    if (kind < 0) {
        fprintf(stderr, "evbctl: %s: unknown kind \"%s\" (Schema, Connector, Action, Connection)\n",
                where, k);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) if (strcmp(key, "kind") != 0 && strcmp(key, "spec") != 0 &&
                                         strcmp(key, "apiVersion") != 0)
    {
        fprintf(stderr, "evbctl: %s: unknown member \"%s\" (kind and spec)\n", where, key);
        return -1;
    }
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 16;
        item *ni = realloc(p->items, nc * sizeof(*ni));
        if (ni == NULL)
            return -1;
        p->items = ni;
        p->cap = nc;
    }
    item *it = &p->items[p->n];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    snprintf(it->where, sizeof it->where, "%s", where);
    it->spec = json_deep_copy(spec);
    if (kind == K_SCHEMA) {
        json_t *subj = json_object_get(it->spec, "subject"),
               *sch = json_object_get(it->spec, "schema");
        if (!json_is_string(subj) || sch == NULL || json_object_size(it->spec) != 2) {
            fprintf(stderr, "evbctl: %s: a Schema spec has exactly subject (string) and schema\n",
                    where);
            json_decref(it->spec);
            return -1;
        }
        if (json_is_string(sch)) {
            json_t *parsed = json_loads(json_string_value(sch), JSON_DECODE_ANY, NULL);
            if (parsed == NULL) {
                fprintf(stderr, "evbctl: %s: schema: not JSON text\n", where);
                json_decref(it->spec);
                return -1;
            }
            json_decref(parsed);
            it->schema = strdup(json_string_value(sch));
        } else {
            it->schema = json_dumps(sch, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        }
        it->name = json_string_value(subj);
        p->n++;
        return 0;
    }
    if (kind == K_CONNECTION) {
        json_t *pat = json_object_get(it->spec, "pattern");
        if (json_is_object(pat)) {
            char *s = json_dumps(pat, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_object_set_new(it->spec, "pattern", json_string(s));
            free(s);
        }
    }
    static const ProtobufCMessageDescriptor *const descs[K__N] = {
        NULL, &evbridge__v1__connector__descriptor, &evbridge__v1__action__descriptor,
        &evbridge__v1__connection__descriptor};
    evb_error e;
    evb_error_clear(&e);
    char what[64];
    snprintf(what, sizeof what, "spec");
    if (evb_pbjson_to_message(it->spec, descs[kind], what, &it->desired, &e) != EVB_OK) {
        fprintf(stderr, "evbctl: %s: %s\n", where, e.message);
        json_decref(it->spec);
        return -1;
    }
    it->name = json_string_value(json_object_get(it->spec, "name"));
    if (it->name == NULL || it->name[0] == 0) {
        fprintf(stderr, "evbctl: %s: spec.name is required\n", where);
        protobuf_c_message_free_unpacked(it->desired, NULL);
        json_decref(it->spec);
        return -1;
    }
    if (kind == K_CONNECTION && json_string_value(json_object_get(it->spec, "org")) == NULL) {
        fprintf(stderr,
                "evbctl: %s: spec.org is required (connections are found by org and name)\n",
                where);
        protobuf_c_message_free_unpacked(it->desired, NULL);
        json_decref(it->spec);
        return -1;
    }
    p->n++;
    return 0;
}

static int read_file_docs(plan *p, const char *path)
{
    size_t len = 0;
    char *text = evbctl_read_file(path, &len);
    if (text == NULL)
        return -1;
    json_t *docs = NULL;
    json_t *one = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (one != NULL) {
        docs = json_array();
        if (json_is_array(one))
            json_array_extend(docs, one);
        else
            json_array_append(docs, one);
        json_decref(one);
    } else {
        evb_error e;
        evb_error_clear(&e);
        if (evb_yaml_load(text, len, &docs, &e) != EVB_OK) {
            fprintf(stderr, "evbctl: %s: %s\n", path, e.message);
            free(text);
            return -1;
        }
    }
    free(text);
    int rc = 0;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        char where[300];
        snprintf(where, sizeof where, "%s (document %zu)", path, i + 1);
        if (add_doc(p, d, where) != 0)
            rc = -1;
    }
    json_decref(docs);
    return rc;
}

static int has_ext(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_path(plan *p, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d == NULL) {
            perror(path);
            return -1;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' || !has_ext(de->d_name))
                continue;
            char **nn = realloc(names, (n + 1) * sizeof(*names));
            if (nn == NULL)
                break;
            names = nn;
            names[n++] = strdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp_str);
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", path, names[i]);
            if (read_file_docs(p, full) != 0)
                rc = -1;
            free(names[i]);
        }
        free(names);
        return rc;
    }
    return read_file_docs(p, path);
}

/* ---- applying ------------------------------------------------------------------------- */

typedef struct outcome {
    const char *result; /* created, updated, unchanged */
    char detail[160];
} outcome;

static int apply_schema(evbctl *ctx, item *it, int dry, outcome *o)
{
    Evbridge__V1__GetSchemaRequest g = EVBRIDGE__V1__GET_SCHEMA_REQUEST__INIT;
    g.subject = (char *)it->name;
    ProtobufCMessage *resp = NULL;
    int status = 0;
    int rc = evbctl_call(ctx, RSVC "GetSchema", &g.base, &evbridge__v1__schema__descriptor, &resp,
                         1, &status, NULL);
    if (rc != 0 && status != GRPC_STATUS_NOT_FOUND)
        return evbctl_call(ctx, RSVC "GetSchema", &g.base, &evbridge__v1__schema__descriptor, &resp,
                           0, NULL, NULL); /* prints the error */
    if (rc == 0) {
        const Evbridge__V1__Schema *s = (const void *)resp;
        json_t *have = json_loads(s->schema, JSON_DECODE_ANY, NULL);
        json_t *want = json_loads(it->schema, JSON_DECODE_ANY, NULL);
        int eq = have && want && json_equal(have, want);
        json_decref(have);
        json_decref(want);
        snprintf(o->detail, sizeof o->detail, "version %d", s->version);
        protobuf_c_message_free_unpacked(resp, NULL);
        if (eq) {
            o->result = "unchanged";
            return 0;
        }
        o->result = "updated";
    } else {
        o->result = "created";
    }
    if (dry)
        return 0;
    Evbridge__V1__RegisterSchemaRequest r = EVBRIDGE__V1__REGISTER_SCHEMA_REQUEST__INIT;
    r.subject = (char *)it->name;
    r.schema = it->schema;
    rc = evbctl_call(ctx, RSVC "RegisterSchema", &r.base,
                     &evbridge__v1__register_schema_response__descriptor, &resp, 0, NULL, NULL);
    if (rc != 0)
        return rc;
    snprintf(o->detail, sizeof o->detail, "version %d",
             ((Evbridge__V1__RegisterSchemaResponse *)resp)->version);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* Wraps msg into a {connector|action|connection: msg} request without copying. */
static int write_obj(evbctl *ctx, int kind, int create, ProtobufCMessage *msg,
                     ProtobufCMessage **resp)
{
    static const char *const nouns[K__N] = {NULL, "Connector", "Action", "Connection"};
    char method[128];
    snprintf(method, sizeof method, CSVC "%s%s", create ? "Create" : "Update", nouns[kind]);
    const ProtobufCMessageDescriptor *rd =
        kind == K_CONNECTOR ? &evbridge__v1__connector__descriptor
        : kind == K_ACTION  ? &evbridge__v1__action__descriptor
                            : &evbridge__v1__connection__descriptor;
    /* Every Create/Update request here is `message X { T obj = 1; }`: same layout. */
    Evbridge__V1__CreateConnectorRequest req = EVBRIDGE__V1__CREATE_CONNECTOR_REQUEST__INIT;
    static const ProtobufCMessageDescriptor *const reqd[2][K__N] = {
        {NULL, &evbridge__v1__update_connector_request__descriptor,
         &evbridge__v1__update_action_request__descriptor,
         &evbridge__v1__update_connection_request__descriptor},
        {NULL, &evbridge__v1__create_connector_request__descriptor,
         &evbridge__v1__create_action_request__descriptor,
         &evbridge__v1__create_connection_request__descriptor}};
    req.base.descriptor = reqd[create ? 1 : 0][kind];
    req.connector = (Evbridge__V1__Connector *)msg;
    return evbctl_call(ctx, method, &req.base, rd, resp, 0, NULL, NULL);
}

static int apply_object(evbctl *ctx, item *it, int dry, outcome *o)
{
    ProtobufCMessage *actual = NULL;
    int status = 0, rc;
    const ProtobufCMessageDescriptor *d = it->desired->descriptor;
    char conn_id[128] = "";
    if (it->kind == K_CONNECTION) {
        const Evbridge__V1__Connection *c = (const void *)it->desired;
        Evbridge__V1__ListConnectionsRequest l = EVBRIDGE__V1__LIST_CONNECTIONS_REQUEST__INIT;
        l.org = c->org;
        ProtobufCMessage *lr = NULL;
        rc = evbctl_call(ctx, CSVC "ListConnections", &l.base,
                         &evbridge__v1__list_connections_response__descriptor, &lr, 0, NULL, NULL);
        if (rc != 0)
            return rc;
        Evbridge__V1__ListConnectionsResponse *list = (void *)lr;
        for (size_t i = 0; i < list->n_connections; i++) {
            if (strcmp(list->connections[i]->name, c->name) == 0) {
                size_t len = protobuf_c_message_get_packed_size(&list->connections[i]->base);
                uint8_t *buf = malloc(len ? len : 1);
                protobuf_c_message_pack(&list->connections[i]->base, buf);
                actual = protobuf_c_message_unpack(d, NULL, len, buf);
                free(buf);
                snprintf(conn_id, sizeof conn_id, "%s", list->connections[i]->id);
            }
        }
        protobuf_c_message_free_unpacked(lr, NULL);
    } else {
        json_t *req = json_pack("{s:s}", "name", it->name);
        const ProtobufCMessageDescriptor *gd =
            it->kind == K_CONNECTOR ? &evbridge__v1__get_connector_request__descriptor
                                    : &evbridge__v1__get_action_request__descriptor;
        ProtobufCMessage *g = NULL;
        evb_error e;
        if (evb_pbjson_to_message(req, gd, "", &g, &e) != EVB_OK) {
            json_decref(req);
            return EXIT_FAILURE_;
        }
        json_decref(req);
        char method[128];
        snprintf(method, sizeof method, CSVC "Get%s", kind_names[it->kind]);
        rc = evbctl_call(ctx, method, g, d, &actual, 1, &status, NULL);
        if (rc != 0 && status != GRPC_STATUS_NOT_FOUND)
            rc = evbctl_call(ctx, method, g, d, &actual, 0, NULL, NULL); /* prints the error */
        protobuf_c_message_free_unpacked(g, NULL);
        if (rc != 0 && status != GRPC_STATUS_NOT_FOUND)
            return rc;
    }
    ProtobufCMessage *resp = NULL;
    if (actual == NULL) {
        o->result = "created";
        if (dry)
            return 0;
        rc = write_obj(ctx, it->kind, 1, it->desired, &resp);
        if (rc == 0 && it->kind == K_CONNECTION)
            snprintf(o->detail, sizeof o->detail, "id %s", ((Evbridge__V1__Connection *)resp)->id);
        protobuf_c_message_free_unpacked(resp, NULL);
        return rc;
    }
    json_t *want = evb_pbjson_from_message(it->desired), *have = evb_pbjson_from_message(actual);
    char diff[128] = "";
    int eq = same(it->spec, d, want, have, diff, sizeof diff);
    int state_change = 0;
    if (it->kind == K_CONNECTION) {
        snprintf(o->detail, sizeof o->detail, "id %s", conn_id);
        const char *ws = json_string_value(json_object_get(it->spec, "state"));
        const char *hs = json_string_value(json_object_get(have, "state"));
        if (ws != NULL && hs != NULL && strcmp(ws, hs) != 0 &&
            (strcmp(ws, "PAUSED") == 0 || strcmp(ws, "ENABLED") == 0))
            state_change = strcmp(ws, "PAUSED") == 0 ? 1 : 2;
    }
    json_decref(want);
    json_decref(have);
    protobuf_c_message_free_unpacked(actual, NULL);
    if (eq && !state_change) {
        o->result = "unchanged";
        return 0;
    }
    o->result = "updated";
    if (!eq && diff[0]) {
        size_t used = strlen(o->detail);
        snprintf(o->detail + used, sizeof o->detail - used, "%s%s changed", used ? ", " : "", diff);
    }
    if (dry)
        return 0;
    rc = 0;
    if (!eq) {
        if (it->kind == K_CONNECTION) {
            Evbridge__V1__Connection *c = (void *)it->desired;
            c->id = strdup(conn_id);
        }
        rc = write_obj(ctx, it->kind, 0, it->desired, &resp);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    if (rc == 0 && state_change) {
        json_t *req = json_pack("{s:s}", "id", conn_id);
        rc = evbctl_json_call(
            ctx, state_change == 1 ? CSVC "PauseConnection" : CSVC "ResumeConnection",
            state_change == 1 ? &evbridge__v1__pause_connection_request__descriptor
                              : &evbridge__v1__resume_connection_request__descriptor,
            req, &evbridge__v1__connection__descriptor, &resp, NULL, NULL);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return rc;
}

static int run_apply(evbctl *ctx, const cli_args *a)
{
    const char *path = cli_get(a, "file");
    if (path == NULL)
        return cli_usage_error("apply: -f FILE|DIR is required");
    int dry = cli_flag(a, "dry-run");
    plan p;
    memset(&p, 0, sizeof(p));
    int rc = read_path(&p, path) != 0 ? EXIT_REJECTED : 0;
    if (rc == 0 && p.n == 0) {
        fprintf(stderr, "evbctl: %s: no documents\n", path);
        rc = EXIT_REJECTED;
    }
    json_t *results = json_array();
    for (int kind = 0; rc == 0 && kind < K__N; kind++) {
        for (size_t i = 0; rc == 0 && i < p.n; i++) {
            item *it = &p.items[i];
            if (it->kind != kind)
                continue;
            outcome o = {NULL, ""};
            rc = kind == K_SCHEMA ? apply_schema(ctx, it, dry, &o) : apply_object(ctx, it, dry, &o);
            if (rc != 0) {
                fprintf(stderr, "evbctl: applying %s %s (%s) failed\n", kind_names[kind], it->name,
                        it->where);
                break;
            }
            if (ctx->fmt == FMT_TABLE) {
                printf("%-9s %-10s %s%s%s%s\n", o.result, kind_names[kind], it->name,
                       o.detail[0] ? " (" : "", o.detail, o.detail[0] ? ")" : "");
                fflush(stdout);
            }
            json_array_append_new(results, json_pack("{s:s, s:s, s:s, s:s}", "kind",
                                                     kind_names[kind], "name", it->name, "result",
                                                     o.result, "detail", o.detail));
        }
    }
    if (ctx->fmt != FMT_TABLE && rc == 0) {
        json_t *out = json_pack("{s:o, s:b}", "results", results, "dry_run", dry);
        evbctl_output(ctx, out, NULL, NULL);
        json_decref(out);
    } else {
        json_decref(results);
    }
    if (dry && ctx->fmt == FMT_TABLE && rc == 0)
        fputs("(dry run: nothing was changed)\n", stderr);
    for (size_t i = 0; i < p.n; i++) {
        if (p.items[i].desired != NULL)
            protobuf_c_message_free_unpacked(p.items[i].desired, NULL);
        free(p.items[i].schema);
        json_decref(p.items[i].spec);
    }
    free(p.items);
    return rc;
}

static const cli_opt opts[] = {
    {"file", 'f', "FILE|DIR",
     "a YAML/JSON file, or a directory of *.yaml, *.yml, *.json (required)"},
    {"dry-run", 0, NULL, "only say what would change"},
    {NULL, 0, NULL, NULL}};
const cli_node evbctl_apply_node = {
    .name = "apply",
    .summary = "Create or update objects declared in YAML (config as code)",
    .opts = opts,
    .max_pos = 0,
    .run = run_apply,
    .help = "Documents (--- separated):\n"
            "  kind: Schema      spec: {subject: acme.customer, schema: {type: object, ...}}\n"
            "  kind: Connector   spec: a Connector (proto field names)\n"
            "  kind: Action      spec: an Action\n"
            "  kind: Connection  spec: a Connection (found by org and name; pattern may be\n"
            "                    an object; state ENABLED/PAUSED is applied)\n"
            "Prints one line per object: created, updated or unchanged.\n"};
