/* evbridge — Action <-> stored JSON, with validation and secret masking. See
 * action_codec.h.
 *
 * Validation follows what a target needs to be reachable and safe: http(s) URLs only,
 * POST/PUT, no header that would collide with the CloudEvents or signature headers, a
 * Standard Webhooks secret that decodes, a DingTalk template and message type that render.
 */
#include "server/rpc/action_codec.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/text.h"

#define TIMEOUT_DEFAULT_MS 15000
#define TIMEOUT_MAX_MS 120000
#define TEMPLATE_MAX 10240

static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return evb_utf8_valid(s, n) && n <= max;
}

static int url_ok(const char *u)
{
    if (!text_ok(u, 2048))
        return 0;
    const char *rest = NULL;
    if (strncasecmp(u, "https://", 8) == 0)
        rest = u + 8;
    else if (strncasecmp(u, "http://", 7) == 0)
        rest = u + 7;
    if (rest == NULL || *rest == '\0' || *rest == '/')
        return 0;
    /* no credentials in the URL (they would come back in Get/List): use auth instead */
    size_t authority = strcspn(rest, "/?#");
    if (memchr(rest, '@', authority) != NULL)
        return 0;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* Header names a user may not set: the binding and signature headers we write. */
static int header_reserved(const char *name)
{
    static const char *const reserved[] = {"content-type", "content-length", "host",
                                           "webhook-id", "webhook-timestamp",
                                           "webhook-signature", "authorization",
                                           "transfer-encoding", "connection"};
    if (strncasecmp(name, "ce-", 3) == 0)
        return 1;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

static int secret_ok(const char *s)
{
    if (strncmp(s, "whsec_", 6) != 0)
        return 0;
    const char *b = s + 6;
    size_t n = strlen(b);
    if (n == 0 || n > 512 || n % 4 != 0)
        return 0;
    uint8_t key[400];
    size_t klen = 0;
    return evb_base64_decode(b, n, key, &klen) == EVB_OK && klen >= 16;
}

static const char *keep(const char *given, json_t *old, const char *key)
{
    if (given != NULL && given[0] != '\0')
        return given;
    const char *v = old ? json_string_value(json_object_get(old, key)) : NULL;
    return v ? v : "";
}

static evb_err http_to_json(const Evbridge__V1__HttpTarget *h, json_t *old, json_t **out,
                            evb_error *err)
{
    if (h == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "action.http",
                             "action.http is required for kind HTTP");
    if (!url_ok(h->url))
        return evb_error_set(err, EVB_ERR_INVALID, "action.http.url",
                             "action.http.url must be an http:// or https:// URL without user:password@ (use auth)");
    const char *method = h->method[0] ? h->method : "POST";
    if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0)
        return evb_error_set(err, EVB_ERR_INVALID, "action.http.method",
                             "action.http.method must be POST or PUT");
    if (h->timeout_ms < 0 || h->timeout_ms > TIMEOUT_MAX_MS)
        return evb_error_set(err, EVB_ERR_INVALID, "action.http.timeout_ms",
                             "action.http.timeout_ms must be 0..%d (0 = %d)", TIMEOUT_MAX_MS,
                             TIMEOUT_DEFAULT_MS);
    json_t *headers = json_object();
    for (size_t i = 0; i < h->n_headers; i++) {
        const char *k = h->headers[i]->key, *v = h->headers[i]->value;
        if (!evb_str_matches(k, "A-Za-z0-9!#$%&'*+.^_`|~-", 1, 128) || header_reserved(k) ||
            !text_ok(v, 4096) || strpbrk(v, "\r\n") != NULL) {
            json_decref(headers);
            return evb_error_set(err, EVB_ERR_INVALID, "action.http.headers",
                                 "action.http.headers: \"%.64s\" is not a header this action "
                                 "may set (token name, no ce-*, signature or binding headers)",
                                 k);
        }
        json_object_set_new(headers, k, json_string(v));
    }
    json_t *old_http = old ? json_object_get(old, "http") : NULL;
    const char *secret = keep(h->signing_secret, old_http, "signing_secret");
    if (secret[0] != '\0' && !secret_ok(secret)) {
        json_decref(headers);
        return evb_error_set(err, EVB_ERR_INVALID, "action.http.signing_secret",
                             "action.http.signing_secret must be whsec_<base64 of >= 16 bytes>");
    }
    json_t *auth = json_object();
    const Evbridge__V1__HttpAuth *a = h->auth;
    int kind = a ? (int)a->kind : 0;
    json_t *old_auth = old_http ? json_object_get(old_http, "auth") : NULL;
    json_object_set_new(auth, "kind", json_integer(kind));
    evb_err rc = EVB_OK;
    if (kind == EVBRIDGE__V1__HTTP_AUTH_KIND__HTTP_AUTH_BASIC) {
        const char *pw = keep(a->password, old_auth, "password");
        if (a->username[0] == '\0' || strchr(a->username, ':') || !text_ok(a->username, 256))
            rc = evb_error_set(err, EVB_ERR_INVALID, "action.http.auth.username",
                               "action.http.auth.username: basic auth needs a username without ':'");
        json_object_set_new(auth, "username", json_string(a->username));
        json_object_set_new(auth, "password", json_string(pw));
    } else if (kind == EVBRIDGE__V1__HTTP_AUTH_KIND__HTTP_AUTH_BEARER) {
        const char *tok = keep(a->token, old_auth, "token");
        if (tok[0] == '\0' || !text_ok(tok, 4096) || strpbrk(tok, "\r\n "))
            rc = evb_error_set(err, EVB_ERR_INVALID, "action.http.auth.token",
                               "action.http.auth.token: bearer auth needs a token (no spaces or line breaks)");
        json_object_set_new(auth, "token", json_string(tok));
    } else if (kind == EVBRIDGE__V1__HTTP_AUTH_KIND__HTTP_AUTH_API_KEY) {
        const char *key = keep(a->api_key, old_auth, "api_key");
        if (!evb_str_matches(a->header, "A-Za-z0-9!#$%&'*+.^_`|~-", 1, 128) ||
            header_reserved(a->header) || key[0] == '\0' || strpbrk(key, "\r\n"))
            rc = evb_error_set(err, EVB_ERR_INVALID, "action.http.auth",
                               "action.http.auth: api-key auth needs a header name (not a reserved one) and a key");
        json_object_set_new(auth, "header", json_string(a->header));
        json_object_set_new(auth, "api_key", json_string(key));
    } else if (kind < 0 || kind > EVBRIDGE__V1__HTTP_AUTH_KIND__HTTP_AUTH_API_KEY) {
        rc = evb_error_set(err, EVB_ERR_INVALID, "action.http.auth.kind", "action.http.auth.kind: unknown auth kind");
    }
    if (rc != EVB_OK) {
        json_decref(headers);
        json_decref(auth);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:o, s:i, s:i, s:s, s:o}", "url", h->url, "method", method,
                     "headers", headers, "content_mode",
                     h->content_mode == EVBRIDGE__V1__CONTENT_MODE__STRUCTURED ? 2 : 1,
                     "timeout_ms", h->timeout_ms ? h->timeout_ms : TIMEOUT_DEFAULT_MS,
                     "signing_secret", secret, "auth", auth);
    return *out ? EVB_OK : evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
}

static json_t *string_list(char **items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static evb_err robot_to_json(const Evbridge__V1__RobotTarget *r, json_t *old, json_t **out,
                             evb_error *err)
{
    if (r == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "action.robot",
                             "action.robot is required for kind DINGTALK_ROBOT");
    json_t *old_robot = old ? json_object_get(old, "robot") : NULL;
    /* the masked URL of a Get may come back unchanged in an update: keep the stored one */
    const char *url = strstr(r->webhook_url, "access_token=***") != NULL
                          ? keep("", old_robot, "webhook_url")
                          : r->webhook_url;
    if (!url_ok(url))
        return evb_error_set(err, EVB_ERR_INVALID, "action.robot.webhook_url",
                             "action.robot.webhook_url must be an http(s) URL "
                             "(https://oapi.dingtalk.com/robot/send?access_token=...)");
    const char *secret = keep(r->secret, old_robot, "secret");
    if (!text_ok(secret, 256) || strpbrk(secret, "\r\n"))
        return evb_error_set(err, EVB_ERR_INVALID, "action.robot.secret", "action.robot.secret: must be text without line breaks");
    int type = r->message_type ? (int)r->message_type : 1;
    if (type < 1 || type > 3)
        return evb_error_set(err, EVB_ERR_INVALID, "action.robot.message_type",
                             "action.robot.message_type: unknown message type");
    if (r->template_[0] == '\0' || !text_ok(r->template_, TEMPLATE_MAX))
        return evb_error_set(err, EVB_ERR_INVALID, "action.robot.template",
                             "action.robot.template is required (at most %d bytes)",
                             TEMPLATE_MAX);
    if (type != 1 && (r->title[0] == '\0' || !text_ok(r->title, 512)))
        return evb_error_set(err, EVB_ERR_INVALID, "action.robot.title",
                             "action.robot.title: markdown and actionCard messages need a title");
    if (type == 3 && (r->single_title[0] == '\0' || !url_ok(r->single_url)))
        return evb_error_set(err, EVB_ERR_INVALID, "action.robot.single_url",
                             "action.robot.single_url: actionCard messages need single_title and an http(s) single_url");
    json_t *vars = json_object();
    for (size_t i = 0; i < r->n_vars; i++) {
        const char *k = r->vars[i]->key, *v = r->vars[i]->value;
        if (!evb_str_matches(k, "A-Za-z0-9_", 1, 64) || v[0] != '$' || !text_ok(v, 1024)) {
            json_decref(vars);
            return evb_error_set(err, EVB_ERR_INVALID, "action.robot.vars",
                                 "action.robot.vars: \"%.64s\" must map a name [A-Za-z0-9_] to "
                                 "a JSONPath starting with $", k);
        }
        json_object_set_new(vars, k, json_string(v));
    }
    *out = json_pack("{s:s, s:s, s:i, s:s, s:s, s:o, s:o, s:o, s:b, s:s, s:s}", "webhook_url",
                     url, "secret", secret, "message_type", type, "title", r->title,
                     "template", r->template_, "vars", vars, "at_mobiles",
                     string_list(r->at_mobiles, r->n_at_mobiles), "at_user_ids",
                     string_list(r->at_user_ids, r->n_at_user_ids), "is_at_all", r->is_at_all,
                     "single_title", r->single_title, "single_url", r->single_url);
    return *out ? EVB_OK : evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
}

evb_err evb_action_config_from_pb(const Evbridge__V1__Action *a, const char *old_config,
                                  char **config_out, evb_error *err)
{
    json_t *old = old_config ? json_loads(old_config, 0, NULL) : NULL;
    json_t *target = NULL;
    evb_err rc = EVB_OK;
    if (!text_ok(a->description, 1024))
        rc = evb_error_set(err, EVB_ERR_INVALID, "action.description",
                           "action.description must be UTF-8 of at most 1024 bytes");
    else if (a->kind == EVBRIDGE__V1__ACTION_KIND__HTTP)
        rc = http_to_json(a->http, old, &target, err);
    else if (a->kind == EVBRIDGE__V1__ACTION_KIND__DINGTALK_ROBOT)
        rc = robot_to_json(a->robot, old, &target, err);
    else if (a->kind != EVBRIDGE__V1__ACTION_KIND__STREAM)
        rc = evb_error_set(err, EVB_ERR_INVALID, "action.kind",
                           "action.kind must be HTTP, DINGTALK_ROBOT or STREAM");
    json_decref(old);
    if (rc != EVB_OK)
        return rc;
    json_t *cfg = json_object();
    json_object_set_new(cfg, "description", json_string(a->description));
    if (target != NULL)
        json_object_set_new(cfg, a->kind == EVBRIDGE__V1__ACTION_KIND__HTTP ? "http" : "robot",
                            target);
    *config_out = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(cfg);
    return *config_out ? EVB_OK : evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
}

/* ---- reply form ---- */

static char *jstr(evb_arena *ar, json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return evb_arena_strdup(ar, v ? v : "");
}

/* The webhook URL with the access_token value replaced by "***". */
static char *mask_token(evb_arena *ar, const char *url)
{
    if (url == NULL)
        return NULL;
    const char *t = strstr(url, "access_token=");
    if (t == NULL)
        return evb_arena_strdup(ar, url);
    t += 13;
    size_t head = (size_t)(t - url);
    const char *tail = t + strcspn(t, "&#");
    char *out = evb_arena_alloc(ar, head + 3 + strlen(tail) + 1);
    if (out != NULL)
        sprintf(out, "%.*s***%s", (int)head, url, tail);
    return out;
}

static char **arena_strings(evb_arena *ar, json_t *arr, size_t *n)
{
    size_t k = json_array_size(arr);
    char **out = evb_arena_alloc(ar, (k + 1) * sizeof *out);
    *n = 0;
    for (size_t i = 0; out != NULL && i < k; i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        out[(*n)++] = evb_arena_strdup(ar, v ? v : "");
    }
    return out;
}

static Evbridge__V1__HttpTarget *http_to_pb(evb_arena *ar, json_t *h)
{
    Evbridge__V1__HttpTarget *p = evb_arena_alloc(ar, sizeof *p);
    Evbridge__V1__HttpAuth *au = evb_arena_alloc(ar, sizeof *au);
    if (p == NULL || au == NULL)
        return NULL;
    evbridge__v1__http_target__init(p);
    evbridge__v1__http_auth__init(au);
    p->url = jstr(ar, h, "url");
    p->method = jstr(ar, h, "method");
    p->content_mode = (Evbridge__V1__ContentMode)json_integer_value(json_object_get(h, "content_mode"));
    p->timeout_ms = (int32_t)json_integer_value(json_object_get(h, "timeout_ms"));
    const char *secret = json_string_value(json_object_get(h, "signing_secret"));
    p->has_signing_secret = secret != NULL && secret[0] != '\0';
    json_t *headers = json_object_get(h, "headers");
    p->headers = evb_arena_alloc(ar, (json_object_size(headers) + 1) * sizeof *p->headers);
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v) {
        Evbridge__V1__HttpTarget__HeadersEntry *e = evb_arena_alloc(ar, sizeof *e);
        if (e == NULL || p->headers == NULL)
            return NULL;
        evbridge__v1__http_target__headers_entry__init(e);
        e->key = evb_arena_strdup(ar, k);
        e->value = evb_arena_strdup(ar, json_string_value(v));
        p->headers[p->n_headers++] = e;
    }
    json_t *a = json_object_get(h, "auth");
    au->kind = (Evbridge__V1__HttpAuthKind)json_integer_value(json_object_get(a, "kind"));
    au->username = jstr(ar, a, "username");
    au->header = jstr(ar, a, "header");
    p->auth = au; /* password, token and api_key stay empty: write-only */
    return p;
}

static Evbridge__V1__RobotTarget *robot_to_pb(evb_arena *ar, json_t *r)
{
    Evbridge__V1__RobotTarget *p = evb_arena_alloc(ar, sizeof *p);
    if (p == NULL)
        return NULL;
    evbridge__v1__robot_target__init(p);
    p->webhook_url = mask_token(ar, jstr(ar, r, "webhook_url"));
    const char *secret = json_string_value(json_object_get(r, "secret"));
    p->has_secret = secret != NULL && secret[0] != '\0';
    p->message_type = (Evbridge__V1__RobotMessageType)json_integer_value(json_object_get(r, "message_type"));
    p->title = jstr(ar, r, "title");
    p->template_ = jstr(ar, r, "template");
    p->single_title = jstr(ar, r, "single_title");
    p->single_url = jstr(ar, r, "single_url");
    p->is_at_all = json_is_true(json_object_get(r, "is_at_all"));
    p->at_mobiles = arena_strings(ar, json_object_get(r, "at_mobiles"), &p->n_at_mobiles);
    p->at_user_ids = arena_strings(ar, json_object_get(r, "at_user_ids"), &p->n_at_user_ids);
    json_t *vars = json_object_get(r, "vars");
    p->vars = evb_arena_alloc(ar, (json_object_size(vars) + 1) * sizeof *p->vars);
    const char *k;
    json_t *v;
    json_object_foreach(vars, k, v) {
        Evbridge__V1__RobotTarget__VarsEntry *e = evb_arena_alloc(ar, sizeof *e);
        if (e == NULL || p->vars == NULL)
            return NULL;
        evbridge__v1__robot_target__vars_entry__init(e);
        e->key = evb_arena_strdup(ar, k);
        e->value = evb_arena_strdup(ar, json_string_value(v));
        p->vars[p->n_vars++] = e;
    }
    return p;
}

Evbridge__V1__Action *evb_action_to_pb(evb_arena *ar, const evb_action_rec *rec)
{
    json_t *cfg = json_loads(rec->config, 0, NULL);
    Evbridge__V1__Action *p = evb_arena_alloc(ar, sizeof *p);
    if (cfg == NULL || p == NULL) {
        json_decref(cfg);
        return NULL;
    }
    evbridge__v1__action__init(p);
    p->name = evb_arena_strdup(ar, rec->name);
    p->isv = evb_arena_strdup(ar, rec->isv);
    p->org = evb_arena_strdup(ar, rec->org);
    p->kind = (Evbridge__V1__ActionKind)rec->kind;
    p->description = jstr(ar, cfg, "description");
    p->disabled = rec->disabled != 0;
    p->disabled_reason = evb_arena_strdup(ar, rec->disabled_reason);
    p->create_time = evb_arena_time(ar, rec->create_ms);
    p->update_time = evb_arena_time(ar, rec->update_ms);
    int ok = 1;
    if (rec->kind == EVBRIDGE__V1__ACTION_KIND__HTTP)
        ok = (p->http = http_to_pb(ar, json_object_get(cfg, "http"))) != NULL;
    else if (rec->kind == EVBRIDGE__V1__ACTION_KIND__DINGTALK_ROBOT)
        ok = (p->robot = robot_to_pb(ar, json_object_get(cfg, "robot"))) != NULL;
    json_decref(cfg);
    return ok ? p : NULL;
}
