/* evbctl — input files, RPC calls with status reporting, and output (json, yaml, tables).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/status.h>

#include "clients/evbctl/evbctl.h"
#include "clients/evbctl/pbjson.h"
#include "clients/evbctl/yamljson.h"
#include "common/text.h"

#define MAX_INPUT_BYTES (64u * 1024 * 1024)

/* ---- input ---------------------------------------------------------------------------- */

char *evbctl_read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "evbctl: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n + 1 >= cap) {
            if (cap >= MAX_INPUT_BYTES) {
                fprintf(stderr, "evbctl: %s is larger than %u bytes\n", path, MAX_INPUT_BYTES);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                fprintf(stderr, "evbctl: cannot read %s: %s\n", path, strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf != NULL) {
        buf[n] = 0;
        if (len != NULL)
            *len = n;
    }
    return buf;
}

json_t *evbctl_parse_text(const char *text, size_t len, const char *what)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (j != NULL)
        return j;
    /* Not JSON: YAML (a superset for our purposes). */
    size_t skip = strspn(text, " \t\r\n");
    json_t *docs = NULL;
    evb_error e;
    evb_error_clear(&e);
    if (evb_yaml_load(text, len, &docs, &e) != EVB_OK) {
        if (text[skip] == '{' || text[skip] == '[')
            fprintf(stderr, "evbctl: %s: invalid JSON at line %d column %d: %s\n", what, je.line,
                    je.column, je.text);
        else
            fprintf(stderr, "evbctl: %s: %s\n", what, e.message);
        return NULL;
    }
    if (json_array_size(docs) == 0) {
        json_decref(docs);
        fprintf(stderr, "evbctl: %s: empty document\n", what);
        return NULL;
    }
    j = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return j;
}

json_t *evbctl_load_object(const char *path)
{
    size_t len = 0;
    char *text = evbctl_read_file(path, &len);
    if (text == NULL)
        return NULL;
    json_t *j = evbctl_parse_text(text, len, path);
    free(text);
    if (j == NULL)
        return NULL;
    if (!json_is_object(j)) {
        fprintf(stderr, "evbctl: %s: expected an object\n", path);
        json_decref(j);
        return NULL;
    }
    json_t *spec = json_object_get(j, "spec");
    if (json_is_object(spec) && json_is_string(json_object_get(j, "kind"))) {
        json_incref(spec);
        json_decref(j);
        return spec;
    }
    return j;
}

char *evbctl_json_arg(const char *arg, const char *what)
{
    json_t *j;
    if (arg[0] == '@') {
        size_t len = 0;
        char *text = evbctl_read_file(arg + 1, &len);
        if (text == NULL)
            return NULL;
        j = evbctl_parse_text(text, len, arg + 1);
        free(text);
    } else {
        json_error_t je;
        j = json_loads(arg, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        if (j == NULL)
            fprintf(stderr, "evbctl: %s: invalid JSON at column %d: %s\n", what, je.column,
                    je.text);
    }
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

ProtobufCMessage *evbctl_message_from_json(const json_t *j, const ProtobufCMessageDescriptor *d,
                                           const char *what)
{
    ProtobufCMessage *m = NULL;
    evb_error e;
    evb_error_clear(&e);
    if (evb_pbjson_to_message(j, d, what, &m, &e) != EVB_OK) {
        fprintf(stderr, "evbctl: invalid input: %s\n", e.message);
        return NULL;
    }
    return m;
}

/* ---- RPC ------------------------------------------------------------------------------ */

static char *read_pem(const char *path)
{
    if (path == NULL)
        return NULL;
    return evbctl_read_file(path, NULL);
}

/* The API key: --key, else --key-file, else EVB_API_KEY, else EVB_API_KEY_FILE. */
static int resolve_key(evbctl *ctx)
{
    if (ctx->key != NULL)
        return 0;
    const char *file = ctx->key_file;
    if (file == NULL) {
        const char *env = getenv("EVB_API_KEY");
        if (env != NULL && env[0]) {
            ctx->key = env;
            return 0;
        }
        file = getenv("EVB_API_KEY_FILE");
        if (file == NULL || file[0] == 0)
            return 0;
    }
    char *k = evbctl_read_file(file, NULL);
    if (k == NULL)
        return -1;
    size_t n = strlen(k);
    while (n > 0 && (k[n - 1] == '\n' || k[n - 1] == '\r' || k[n - 1] == ' '))
        k[--n] = 0;
    ctx->key_owned = k;
    ctx->key = k;
    return 0;
}

evb_rpc_client *evbctl_client(evbctl *ctx)
{
    if (ctx->rpc != NULL)
        return ctx->rpc;
    if (resolve_key(ctx) != 0)
        return NULL;
    evb_rpc_client_opts o;
    memset(&o, 0, sizeof(o));
    o.target = ctx->addr;
    o.tls = ctx->tls;
    o.server_name = ctx->server_name;
    char *ca = NULL, *cert = NULL, *key = NULL;
    if ((ctx->ca_file && (ca = read_pem(ctx->ca_file)) == NULL) ||
        (ctx->cert_file && (cert = read_pem(ctx->cert_file)) == NULL) ||
        (ctx->cert_key_file && (key = read_pem(ctx->cert_key_file)) == NULL)) {
        free(ca);
        free(cert);
        free(key);
        return NULL;
    }
    o.ca_pem = ca;
    o.cert_pem = cert;
    o.key_pem = key;
    evb_error e;
    evb_error_clear(&e);
    if (evb_rpc_client_new(&o, &ctx->rpc, &e) != EVB_OK)
        fprintf(stderr, "evbctl: %s\n", e.message);
    if (key != NULL) {
        memset(key, 0, strlen(key));
        free(key);
    }
    free(ca);
    free(cert);
    return ctx->rpc;
}

const char *evbctl_status_name(int s)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};
    if (s >= 0 && s < (int)(sizeof names / sizeof names[0]))
        return names[s];
    return "UNKNOWN";
}

int evbctl_exit_for_status(int s)
{
    switch (s) {
    case GRPC_STATUS_OK:
        return 0;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_ALREADY_EXISTS:
    case GRPC_STATUS_FAILED_PRECONDITION:
    case GRPC_STATUS_OUT_OF_RANGE:
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        return EXIT_REJECTED;
    case GRPC_STATUS_NOT_FOUND:
    case GRPC_STATUS_PERMISSION_DENIED:
    case GRPC_STATUS_UNAUTHENTICATED:
        return EXIT_NOTFOUND;
    case GRPC_STATUS_UNAVAILABLE:
    case GRPC_STATUS_DEADLINE_EXCEEDED:
    case GRPC_STATUS_ABORTED:
    case GRPC_STATUS_CANCELLED:
        return EXIT_UNAVAILABLE;
    default:
        return EXIT_FAILURE_;
    }
}

int evbctl_call(evbctl *ctx, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, int quiet,
                int *status_out, char **details_out)
{
    *resp = NULL;
    if (status_out != NULL)
        *status_out = GRPC_STATUS_UNKNOWN;
    if (details_out != NULL)
        *details_out = NULL;
    evb_rpc_client *c = evbctl_client(ctx);
    if (c == NULL)
        return EXIT_USAGE;
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return EXIT_FAILURE_;
    protobuf_c_message_pack(req, buf);
    evb_rpc_result r;
    evb_rpc_client_unary(c, method, ctx->key, buf, len, ctx->timeout_ms, &r);
    free(buf);
    int rc = 0;
    if (r.status == GRPC_STATUS_OK) {
        *resp = protobuf_c_message_unpack(resp_desc, NULL, r.has_resp ? r.resp_len : 0,
                                          r.has_resp ? r.resp : (const uint8_t *)"");
        if (*resp == NULL) {
            fprintf(stderr, "evbctl: cannot decode the %s response of %s\n", resp_desc->name,
                    method);
            rc = EXIT_FAILURE_;
        }
    } else {
        if (!quiet) {
            fprintf(stderr, "evbctl: %s: %s", evbctl_status_name(r.status), r.details);
            if (r.status == GRPC_STATUS_UNAVAILABLE)
                fprintf(stderr, " (server %s)", ctx->addr);
            fputc('\n', stderr);
        }
        rc = evbctl_exit_for_status(r.status);
    }
    if (status_out != NULL)
        *status_out = r.status;
    if (details_out != NULL) {
        *details_out = r.details;
        r.details = NULL;
    }
    evb_rpc_result_fini(&r);
    return rc;
}

int evbctl_simple_call(evbctl *ctx, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, const char *list_key,
                       const table_col *cols)
{
    ProtobufCMessage *resp = NULL;
    int rc = evbctl_call(ctx, method, req, resp_desc, &resp, 0, NULL, NULL);
    if (rc != 0)
        return rc;
    evbctl_output_msg(ctx, resp, list_key, cols);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* ---- output --------------------------------------------------------------------------- */

void evbctl_print_json(const json_t *j, FILE *f)
{
    json_dumpf(j, f,
               JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    fputc('\n', f);
}

char *evbctl_cell(const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return strdup("");
    if (json_is_string(v)) {
        char *s = strdup(json_string_value(v));
        for (char *p = s; p && *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        return s;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        int scalars = 1;
        json_array_foreach(v, i, e) if (json_is_object(e) || json_is_array(e)) scalars = 0;
        if (scalars) {
            size_t cap = 1, n = 0;
            char *out = calloc(1, 1);
            json_array_foreach(v, i, e)
            {
                char *c = evbctl_cell(e);
                size_t cl = strlen(c);
                char *no = realloc(out, cap + cl + 1);
                if (no == NULL) {
                    free(c);
                    break;
                }
                out = no;
                cap += cl + 1;
                if (n > 0)
                    out[n++] = ',';
                memcpy(out + n, c, cl);
                n += cl;
                out[n] = 0;
                free(c);
            }
            return out;
        }
    }
    if (json_is_real(v)) {
        char buf[40];
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
        return strdup(buf);
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

static json_t *lookup(json_t *obj, const char *path, int *count)
{
    char buf[128];
    *count = path[0] == '#';
    snprintf(buf, sizeof buf, "%s", path + *count);
    json_t *cur = obj;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, tok);
    return cur;
}

static size_t width(const char *s)
{
    return evb_utf8_len(s, strlen(s));
}

void evbctl_print_table(json_t *rows, const table_col *cols, FILE *f)
{
    size_t ncol = 0;
    while (cols[ncol].header != NULL)
        ncol++;
    size_t nrow = json_array_size(rows);
    char **cells = calloc((nrow + 1) * ncol, sizeof(char *));
    size_t *w = calloc(ncol, sizeof(size_t));
    if (cells == NULL || w == NULL) {
        free(cells);
        free(w);
        return;
    }
    for (size_t c = 0; c < ncol; c++) {
        cells[c] = strdup(cols[c].header);
        w[c] = width(cells[c]);
    }
    for (size_t r = 0; r < nrow; r++) {
        json_t *row = json_array_get(rows, r);
        for (size_t c = 0; c < ncol; c++) {
            int count = 0;
            json_t *v =
                json_is_object(row) ? lookup(row, cols[c].path, &count) : (c == 0 ? row : NULL);
            char *cell;
            if (count) {
                char buf[32];
                snprintf(buf, sizeof buf, "%zu", json_array_size(v) + json_object_size(v));
                cell = strdup(buf);
            } else {
                cell = evbctl_cell(v);
            }
            if (cell == NULL)
                cell = strdup("");
            cells[(r + 1) * ncol + c] = cell;
            if (cell && width(cell) > w[c])
                w[c] = width(cell);
        }
    }
    for (size_t r = 0; r <= nrow; r++) {
        for (size_t c = 0; c < ncol; c++) {
            const char *s = cells[r * ncol + c] ? cells[r * ncol + c] : "";
            fputs(s, f);
            if (c + 1 < ncol)
                for (size_t k = width(s); k < w[c] + 2; k++)
                    fputc(' ', f);
        }
        fputc('\n', f);
    }
    for (size_t k = 0; k < (nrow + 1) * ncol; k++)
        free(cells[k]);
    free(cells);
    free(w);
}

static void flatten(json_t *v, const char *prefix, json_t *rows)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val)
        {
            char p[256];
            snprintf(p, sizeof p, "%s%s%s", prefix, prefix[0] ? "." : "", key);
            flatten(val, p, rows);
        }
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        int scalars = 1;
        json_array_foreach(v, i, e) if (json_is_object(e) || json_is_array(e)) scalars = 0;
        if (!scalars) {
            json_array_foreach(v, i, e)
            {
                char p[256];
                snprintf(p, sizeof p, "%s[%zu]", prefix, i);
                flatten(e, p, rows);
            }
            return;
        }
        if (json_array_size(v) == 0)
            return;
    }
    if (json_is_string(v) && json_string_length(v) == 0)
        return;
    json_t *row = json_array();
    json_array_append_new(row, json_string(prefix));
    json_array_append(row, v);
    json_array_append_new(rows, row);
}

void evbctl_print_vertical(json_t *obj, FILE *f)
{
    json_t *rows = json_array();
    flatten(obj, "", rows);
    size_t wmax = 0, i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        size_t w = width(json_string_value(json_array_get(row, 0)));
        if (w > wmax)
            wmax = w;
    }
    json_array_foreach(rows, i, row)
    {
        const char *k = json_string_value(json_array_get(row, 0));
        char *c = evbctl_cell(json_array_get(row, 1));
        fprintf(f, "%s:", k);
        for (size_t n = width(k); n < wmax + 2; n++)
            fputc(' ', f);
        fprintf(f, "%s\n", c ? c : "");
        free(c);
    }
    json_decref(rows);
}

void evbctl_output(evbctl *ctx, json_t *j, const char *list_key, const table_col *cols)
{
    switch (ctx->fmt) {
    case FMT_JSON:
        evbctl_print_json(j, stdout);
        return;
    case FMT_YAML:
        evb_yaml_dump(j, stdout);
        return;
    case FMT_TABLE:
        break;
    }
    if (list_key != NULL && cols != NULL) {
        json_t *rows = json_object_get(j, list_key);
        if (json_array_size(rows) == 0)
            fprintf(stderr, "no %s\n", list_key);
        else
            evbctl_print_table(rows, cols, stdout);
        const char *tok = json_string_value(json_object_get(j, "next_page_token"));
        if (tok != NULL && tok[0])
            fprintf(stderr, "more: --page-token %s\n", tok);
        return;
    }
    evbctl_print_vertical(j, stdout);
}

void evbctl_output_msg(evbctl *ctx, const ProtobufCMessage *msg, const char *list_key,
                       const table_col *cols)
{
    json_t *j = evb_pbjson_from_message(msg);
    if (j == NULL) {
        fputs("evbctl: out of memory\n", stderr);
        return;
    }
    evbctl_output(ctx, j, list_key, cols);
    json_decref(j);
}

int evbctl_json_call(evbctl *ctx, const char *method, const ProtobufCMessageDescriptor *req_desc,
                     json_t *req, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp, const char *list_key, const table_col *cols)
{
    if (resp != NULL)
        *resp = NULL;
    if (req == NULL) {
        fputs("evbctl: out of memory\n", stderr);
        return EXIT_FAILURE_;
    }
    ProtobufCMessage *m = NULL;
    evb_error e;
    evb_error_clear(&e);
    evb_err err = evb_pbjson_to_message(req, req_desc, "", &m, &e);
    json_decref(req);
    if (err != EVB_OK) {
        fprintf(stderr, "evbctl: %s\n", e.message);
        return EXIT_USAGE;
    }
    int rc;
    if (resp != NULL)
        rc = evbctl_call(ctx, method, m, resp_desc, resp, 0, NULL, NULL);
    else
        rc = evbctl_simple_call(ctx, method, m, resp_desc, list_key, cols);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
