/* evbridge — HTTP action requests (request.h): target parsing and per-attempt building.
 *
 * The target is parsed and rechecked once (the stored config was validated by the action
 * codec, but a sender must not trust stored text to be free of CR/LF); a build only reads
 * it, so the dispatcher may share one target across threads. Header values from the event
 * either go through the binding's percent-encoding (ce-*) or are checked (traceparent),
 * and every line passes evb_http_request_add_header's control-character check, so no
 * input can inject a header. The transform sees the routing view of the event
 * (evb_router_event_json), plus data_base64 for a payload that is not JSON or text.
 */
#include "server/delivery/request.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/text.h"
#include "server/cloudevents/ce_http.h"
#include "server/cloudevents/ce_json.h"
#include "server/cloudevents/ce_rules.h"
#include "server/delivery/signing.h"
#include "server/router/router.h"

#define TIMEOUT_MAX_MS 120000
#define TOKEN_CHARS "A-Za-z0-9!#$%&'*+.^_`|~-"

typedef struct kv {
    char *name, *value;
} kv;

struct evb_http_target {
    char *url;
    const char *method;
    evb_content_mode mode;
    long timeout_ms;
    kv *headers;
    size_t n_headers;
    uint8_t key[EVB_WEBHOOK_KEY_MAX];
    size_t key_len;   /* 0 = no signing */
    char *auth_name;  /* "Authorization" or the api-key header; NULL = no auth */
    char *auth_value; /* the full header value */
};

/* ---- request lines ---- */

static int value_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}

evb_err evb_http_request_add_header(evb_http_request *r, const char *name, const char *value)
{
    if (!evb_str_matches(name, TOKEN_CHARS, 1, 256) || value == NULL || !value_ok(value))
        return EVB_ERR_INVALID;
    size_t n = strlen(name) + 2 + strlen(value) + 1;
    char *line = malloc(n);
    char **nh = line ? realloc(r->headers, (r->n_headers + 1) * sizeof *nh) : NULL;
    if (nh == NULL) {
        free(line);
        return EVB_ERR_NOMEM;
    }
    snprintf(line, n, "%s: %s", name, value);
    r->headers = nh;
    r->headers[r->n_headers++] = line;
    return EVB_OK;
}

const char *evb_http_request_header(const evb_http_request *r, const char *name)
{
    size_t nn = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++)
        if (strncasecmp(r->headers[i], name, nn) == 0 && r->headers[i][nn] == ':')
            return r->headers[i] + nn + 2;
    return NULL;
}

void evb_http_request_fini(evb_http_request *r)
{
    if (r == NULL)
        return;
    free(r->url);
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* ---- target ---- */

static int url_ok(const char *u)
{
    const char *rest = NULL;
    if (strncasecmp(u, "https://", 8) == 0)
        rest = u + 8;
    else if (strncasecmp(u, "http://", 7) == 0)
        rest = u + 7;
    if (rest == NULL || *rest == '\0' || *rest == '/' || strlen(u) > 2048)
        return 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return 1;
}

static int header_reserved(const char *name)
{
    static const char *const reserved[] = {
        "content-type",  "content-length",    "host",
        "webhook-id",    "webhook-timestamp", "webhook-signature",
        "authorization", "transfer-encoding", "connection"};
    if (strncasecmp(name, "ce-", 3) == 0)
        return 1;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

void evb_http_target_free(evb_http_target *t)
{
    if (t == NULL)
        return;
    free(t->url);
    for (size_t i = 0; i < t->n_headers; i++) {
        free(t->headers[i].name);
        free(t->headers[i].value);
    }
    free(t->headers);
    free(t->auth_name);
    if (t->auth_value != NULL) {
        memset(t->auth_value, 0, strlen(t->auth_value));
        free(t->auth_value);
    }
    memset(t->key, 0, sizeof t->key);
    free(t);
}

evb_content_mode evb_http_target_content_mode(const evb_http_target *t)
{
    return t->mode;
}

int evb_http_target_signs(const evb_http_target *t)
{
    return t->key_len > 0;
}

static const char *str_member(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static evb_err parse_auth(evb_http_target *t, json_t *a, evb_error *err)
{
    json_t *kj = json_object_get(a, "kind");
    json_int_t kind = kj ? json_integer_value(kj) : 0;
    if (kj != NULL && !json_is_integer(kj))
        return evb_error_set(err, EVB_ERR_INVALID, "http.auth.kind", "auth kind must be a number");
    const char *name = NULL;
    char *value = NULL;
    if (kind == EVB_HTTP_AUTH_BASIC) {
        const char *u = str_member(a, "username"), *p = str_member(a, "password");
        size_t un = strlen(u), pn = strlen(p);
        if (un == 0 || strchr(u, ':') != NULL || !value_ok(u) || !value_ok(p))
            return evb_error_set(err, EVB_ERR_INVALID, "http.auth.username",
                                 "basic auth needs a username without ':' or control characters");
        char *plain = malloc(un + 1 + pn + 1);
        value = plain ? malloc(6 + 4 * ((un + pn + 3) / 3) + 1) : NULL;
        if (value == NULL) {
            free(plain);
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        }
        snprintf(plain, un + 1 + pn + 1, "%s:%s", u, p);
        memcpy(value, "Basic ", 6);
        evb_base64_encode(plain, un + 1 + pn, value + 6);
        memset(plain, 0, un + 1 + pn);
        free(plain);
        name = "Authorization";
    } else if (kind == EVB_HTTP_AUTH_BEARER) {
        const char *tok = str_member(a, "token");
        if (tok[0] == '\0' || !value_ok(tok) || strpbrk(tok, " \t") != NULL)
            return evb_error_set(err, EVB_ERR_INVALID, "http.auth.token",
                                 "bearer auth needs a token without blanks or control characters");
        size_t n = strlen(tok);
        value = malloc(7 + n + 1);
        if (value == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        memcpy(value, "Bearer ", 7);
        memcpy(value + 7, tok, n + 1);
        name = "Authorization";
    } else if (kind == EVB_HTTP_AUTH_API_KEY) {
        name = str_member(a, "header");
        const char *key = str_member(a, "api_key");
        if (!evb_str_matches(name, TOKEN_CHARS, 1, 128) || header_reserved(name) ||
            key[0] == '\0' || !value_ok(key))
            return evb_error_set(err, EVB_ERR_INVALID, "http.auth",
                                 "api-key auth needs an unreserved header name and a key "
                                 "without control characters");
        if ((value = evb_strdup(key)) == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    } else if (kind < 0 || kind > EVB_HTTP_AUTH_API_KEY) {
        return evb_error_set(err, EVB_ERR_INVALID, "http.auth.kind", "unknown auth kind %" PRId64,
                             (int64_t)kind);
    }
    if (value == NULL)
        return EVB_OK;
    t->auth_value = value;
    if ((t->auth_name = evb_strdup(name)) == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    return EVB_OK;
}

static evb_err parse_headers(evb_http_target *t, json_t *hs, evb_error *err)
{
    if (hs == NULL || json_is_null(hs))
        return EVB_OK;
    if (!json_is_object(hs))
        return evb_error_set(err, EVB_ERR_INVALID, "http.headers", "headers must be an object");
    if ((t->headers = calloc(json_object_size(hs) + 1, sizeof *t->headers)) == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(hs, k, v)
    {
        const char *s = json_string_value(v);
        if (!evb_str_matches(k, TOKEN_CHARS, 1, 128) || header_reserved(k) || s == NULL ||
            !value_ok(s) || !evb_utf8_valid(s, strlen(s)))
            return evb_error_set(err, EVB_ERR_INVALID, "http.headers",
                                 "header \"%.64s\" is reserved, not a token, or has a value "
                                 "with control characters",
                                 k);
        kv *h = &t->headers[t->n_headers];
        h->name = evb_strdup(k);
        h->value = evb_strdup(s);
        t->n_headers++;
        if (h->name == NULL || h->value == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    return EVB_OK;
}

static evb_err parse_http(evb_http_target *t, json_t *h, evb_error *err)
{
    if (!json_is_object(h))
        return evb_error_set(err, EVB_ERR_INVALID, "http", "the action has no http target");
    const char *url = str_member(h, "url");
    if (!url_ok(url))
        return evb_error_set(err, EVB_ERR_INVALID, "http.url",
                             "http.url must be an http(s) URL without blanks or control "
                             "characters");
    if ((t->url = evb_strdup(url)) == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    const char *m = str_member(h, "method");
    if (m[0] == '\0' || strcmp(m, "POST") == 0)
        t->method = "POST";
    else if (strcmp(m, "PUT") == 0)
        t->method = "PUT";
    else
        return evb_error_set(err, EVB_ERR_INVALID, "http.method",
                             "http.method must be POST or PUT");
    json_int_t mode = json_integer_value(json_object_get(h, "content_mode"));
    if (mode != 0 && mode != EVB_CONTENT_BINARY && mode != EVB_CONTENT_STRUCTURED)
        return evb_error_set(err, EVB_ERR_INVALID, "http.content_mode",
                             "http.content_mode must be 1 (binary) or 2 (structured)");
    t->mode = mode == EVB_CONTENT_STRUCTURED ? EVB_CONTENT_STRUCTURED : EVB_CONTENT_BINARY;
    json_int_t to = json_integer_value(json_object_get(h, "timeout_ms"));
    if (to < 0 || to > TIMEOUT_MAX_MS)
        return evb_error_set(err, EVB_ERR_INVALID, "http.timeout_ms",
                             "http.timeout_ms must be 0..%d", TIMEOUT_MAX_MS);
    t->timeout_ms = to ? (long)to : EVB_HTTP_TIMEOUT_DEFAULT_MS;
    const char *secret = str_member(h, "signing_secret");
    if (secret[0] != '\0' && evb_webhook_secret_decode(secret, t->key, &t->key_len) != EVB_OK)
        return evb_error_set(err, EVB_ERR_INVALID, "http.signing_secret",
                             "http.signing_secret must be whsec_<base64 of 16..%d bytes>",
                             EVB_WEBHOOK_KEY_MAX);
    evb_err rc = parse_headers(t, json_object_get(h, "headers"), err);
    if (rc == EVB_OK)
        rc = parse_auth(t, json_object_get(h, "auth"), err);
    return rc;
}

evb_err evb_http_target_parse(const char *action_config_json, evb_http_target **out, evb_error *err)
{
    if (action_config_json == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "http", "no action config");
    json_error_t je;
    json_t *cfg = json_loads(action_config_json, JSON_REJECT_DUPLICATES, &je);
    if (cfg == NULL)
        return evb_error_set(err, EVB_ERR_PARSE, NULL, "action config is not JSON: %s", je.text);
    evb_http_target *t = calloc(1, sizeof *t);
    evb_err rc = t ? parse_http(t, json_object_get(cfg, "http"), err)
                   : evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    json_decref(cfg);
    if (rc != EVB_OK) {
        evb_http_target_free(t);
        return rc;
    }
    *out = t;
    return EVB_OK;
}

/* ---- building ---- */

/* The JSON view a transform reads: the routing view, plus data_base64 when the payload did
 * not fit "data" (binary or non-UTF-8 bytes), and a lossy retry for JSON that jansson's
 * integers cannot hold. */
static json_t *transform_view(const evb_event *ev)
{
    json_t *o = evb_router_event_json(ev, 1);
    if (o == NULL || ev->data_len == 0 || json_object_get(o, "data") != NULL)
        return o;
    if (evb_ce_media_type_is_json(ev->datacontenttype)) {
        json_t *d = json_loadb((const char *)ev->data, ev->data_len,
                               JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
        if (d != NULL) {
            json_object_set_new(o, "data", d);
            return o;
        }
    }
    char *b64 = malloc(4 * ((ev->data_len + 2) / 3) + 1);
    if (b64 == NULL) {
        json_decref(o);
        return NULL;
    }
    evb_base64_encode(ev->data, ev->data_len, b64);
    json_object_set_new(o, "data_base64", json_string(b64));
    free(b64);
    return o;
}

static evb_err body_set(evb_http_request *r, const void *p, size_t n)
{
    r->body = malloc(n + 1);
    if (r->body == NULL)
        return EVB_ERR_NOMEM;
    if (n > 0)
        memcpy(r->body, p, n);
    r->body[n] = '\0';
    r->body_len = n;
    return EVB_OK;
}

/* Content-Type of an untransformed binary-mode body. */
static const char *binary_content_type(const evb_event *ev)
{
    if (ev->datacontenttype != NULL)
        return ev->datacontenttype;
    /* absent: the JSON format reads the data as JSON; say so when it is */
    json_t *d = json_loadb((const char *)ev->data, ev->data_len, JSON_DECODE_ANY, NULL);
    int is_json = d != NULL;
    json_decref(d);
    return is_json ? "application/json" : "application/octet-stream";
}

static evb_err add_ce_headers(evb_http_request *r, const evb_event *ev, evb_error *err)
{
    evb_ce_header *hs = NULL;
    size_t n = 0;
    evb_err rc = evb_ce_http_binary_headers(ev, &hs, &n);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, "event",
                             rc == EVB_ERR_NOMEM ? "out of memory"
                                                 : "the event cannot be sent in binary mode "
                                                   "(missing attribute or bad value)");
    for (size_t i = 0; rc == EVB_OK && i < n; i++)
        if (strcasecmp(hs[i].name, "Content-Type") != 0)
            rc = evb_http_request_add_header(r, hs[i].name, hs[i].value);
    evb_ce_http_headers_free(hs, n);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, "event", "bad binary-mode header");
    return EVB_OK;
}

static const char *ext_value(const evb_event *ev, const char *name)
{
    for (size_t i = 0; i < ev->n_ext; i++)
        if (strcmp(ev->ext[i].name, name) == 0)
            return ev->ext[i].value;
    return NULL;
}

/* W3C trace headers: sent only when the value is plain visible ASCII (it is then the same
 * text as the extension); anything else is left to ce-traceparent's percent-encoding. */
static evb_err add_trace_headers(evb_http_request *r, const evb_event *ev)
{
    static const char *const names[] = {"traceparent", "tracestate"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = ext_value(ev, names[i]);
        if (v == NULL || v[0] == '\0' || strlen(v) > 1024)
            continue;
        int ok = 1;
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                ok = 0;
        evb_err rc = ok ? evb_http_request_add_header(r, names[i], v) : EVB_OK;
        if (rc != EVB_OK)
            return rc;
    }
    return EVB_OK;
}

static evb_err add_body(const evb_http_target *t, const evb_transform *tr, const evb_event *ev,
                        evb_http_request *r, evb_error *err)
{
    evb_err rc;
    if (tr != NULL && evb_transform_get_mode(tr) != EVB_TRANSFORM_ORIGINAL) {
        json_t *view = transform_view(ev);
        if (view == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        const char *ctype = NULL;
        rc = evb_transform_apply(tr, view, &r->body, &r->body_len, &ctype, err);
        if (rc == EVB_OK)
            rc = evb_http_request_add_header(r, "Content-Type",
                                             ctype ? ctype : EVB_TRANSFORM_CT_TEXT);
        json_decref(view);
        if (rc == EVB_OK && t->mode == EVB_CONTENT_BINARY)
            rc = add_ce_headers(r, ev, err);
        return rc;
    }
    if (t->mode == EVB_CONTENT_STRUCTURED) {
        rc = evb_ce_json_encode(ev, &r->body, &r->body_len);
        if (rc != EVB_OK)
            return evb_error_set(err, rc, "event", "the event cannot be encoded as JSON");
        return evb_http_request_add_header(r, "Content-Type", EVB_CE_JSON_CONTENT_TYPE);
    }
    rc = body_set(r, ev->data, ev->data_len);
    /* datacontenttype is an attribute: it travels even without data */
    if (rc == EVB_OK && (ev->data_len > 0 || ev->datacontenttype != NULL))
        rc = evb_http_request_add_header(r, "Content-Type", binary_content_type(ev));
    if (rc == EVB_ERR_INVALID)
        return evb_error_set(err, rc, "datacontenttype", "datacontenttype is not a header value");
    if (rc == EVB_OK)
        rc = add_ce_headers(r, ev, err);
    return rc;
}

static int id_ok(const char *id)
{
    return id != NULL && evb_str_matches(id, "!-~", 1, 256) && strchr(id, '.') == NULL;
}

static evb_err add_signature(const evb_http_target *t, const char *delivery_id, int64_t now_s,
                             evb_http_request *r, evb_error *err)
{
    if (delivery_id == NULL && t->key_len == 0)
        return EVB_OK;
    if (!id_ok(delivery_id))
        return evb_error_set(err, EVB_ERR_INVALID, "delivery_id",
                             "the delivery id must be 1..256 visible ASCII characters without "
                             "'.'");
    evb_err rc = evb_http_request_add_header(r, "webhook-id", delivery_id);
    if (rc != EVB_OK || t->key_len == 0)
        return rc;
    char ts[24], sig[EVB_WEBHOOK_SIG_LEN];
    snprintf(ts, sizeof ts, "%" PRId64, now_s);
    rc = evb_webhook_sign(t->key, t->key_len, delivery_id, now_s, r->body, r->body_len, sig,
                          sizeof sig);
    if (rc == EVB_OK)
        rc = evb_http_request_add_header(r, "webhook-timestamp", ts);
    if (rc == EVB_OK)
        rc = evb_http_request_add_header(r, "webhook-signature", sig);
    return rc;
}

evb_err evb_http_request_build(const evb_http_target *t, const evb_transform *transform,
                               const evb_event *ev, const char *delivery_id, int64_t now_s,
                               evb_http_request *out, evb_error *err)
{
    evb_error_clear(err);
    evb_http_request r = {0};
    r.method = t->method;
    r.timeout_ms = t->timeout_ms;
    evb_err rc = (r.url = evb_strdup(t->url)) ? EVB_OK : EVB_ERR_NOMEM;
    if (rc == EVB_OK)
        rc = add_body(t, transform, ev, &r, err);
    if (rc == EVB_OK)
        rc = add_trace_headers(&r, ev);
    if (rc == EVB_OK && t->auth_name != NULL)
        rc = evb_http_request_add_header(&r, t->auth_name, t->auth_value);
    for (size_t i = 0; rc == EVB_OK && i < t->n_headers; i++)
        if (evb_http_request_header(&r, t->headers[i].name) == NULL) /* ours win */
            rc = evb_http_request_add_header(&r, t->headers[i].name, t->headers[i].value);
    if (rc == EVB_OK)
        rc = add_signature(t, delivery_id, now_s, &r, err);
    if (rc != EVB_OK) {
        if (err != NULL && err->code == EVB_OK)
            evb_error_set(err, rc, NULL, "%s", evb_strerror(rc));
        evb_http_request_fini(&r);
        memset(out, 0, sizeof *out);
        return rc;
    }
    *out = r;
    return EVB_OK;
}
