/* evbridge — DingTalk robot messages (robot.h): parsing, rendering, body, signed URL,
 * reply parsing.
 *
 * Rendering is a small scanner of its own rather than a TEMPLATE transform: a transform's
 * template is JSON-aware (a template starting with '[' must be JSON, which a markdown link
 * often is) and rejects vars the template does not use, while a robot's vars may serve the
 * title only. The JSONPath engine is shared (jsonpath.h). The output grows through a
 * bounded appender, so a huge event value costs at most the limit, and the cut lands on a
 * UTF-8 boundary. The body is built with jansson, which escapes what JSON requires.
 */
#include "server/delivery/robot.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/text.h"
#include "server/router/router.h"
#include "server/routing/jsonpath.h"

#define ELLIPSIS "\xE2\x80\xA6" /* U+2026 */

typedef struct robot_var {
    char *name;
    evb_jsonpath *path;
} robot_var;

struct evb_robot_target {
    char *url;
    char *secret; /* "" = unsigned */
    evb_robot_msg_type type;
    char *title, *template_text, *single_title, *single_url;
    robot_var *vars;
    size_t n_vars;
    json_t *at; /* {"atMobiles":[..],"atUserIds":[..],"isAtAll":b} or NULL */
};

/* ---- parsing ---- */

static int url_ok(const char *u)
{
    if (strncasecmp(u, "https://", 8) != 0 && strncasecmp(u, "http://", 7) != 0)
        return 0;
    const char *rest = u + (u[4] == 's' || u[4] == 'S' ? 8 : 7);
    if (*rest == '\0' || *rest == '/' || strlen(u) > 2048)
        return 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return 1;
}

static int plain_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return evb_utf8_valid(s, strlen(s));
}

void evb_robot_target_free(evb_robot_target *t)
{
    if (t == NULL)
        return;
    free(t->url);
    if (t->secret != NULL) {
        memset(t->secret, 0, strlen(t->secret));
        free(t->secret);
    }
    free(t->title);
    free(t->template_text);
    free(t->single_title);
    free(t->single_url);
    for (size_t i = 0; i < t->n_vars; i++) {
        free(t->vars[i].name);
        evb_jsonpath_free(t->vars[i].path);
    }
    free(t->vars);
    json_decref(t->at);
    free(t);
}

static evb_err dup_member(json_t *r, const char *key, char **out, evb_error *err)
{
    const char *v = json_string_value(json_object_get(r, key));
    if ((*out = evb_strdup(v ? v : "")) == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    return EVB_OK;
}

static evb_err parse_vars(evb_robot_target *t, json_t *vars, evb_error *err)
{
    if (vars == NULL || json_is_null(vars))
        return EVB_OK;
    if (!json_is_object(vars))
        return evb_error_set(err, EVB_ERR_INVALID, "robot.vars", "robot.vars must be an object");
    if ((t->vars = calloc(json_object_size(vars) + 1, sizeof *t->vars)) == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(vars, k, v)
    {
        char ptr[96];
        snprintf(ptr, sizeof ptr, "robot.vars.%.64s", k);
        const char *path = json_string_value(v);
        if (!evb_str_matches(k, "A-Za-z0-9_", 1, 64) || path == NULL)
            return evb_error_set(err, EVB_ERR_INVALID, ptr,
                                 "a var maps a name [A-Za-z0-9_]{1,64} to a JSONPath");
        robot_var *rv = &t->vars[t->n_vars];
        evb_error je;
        evb_error_clear(&je);
        evb_err rc = evb_jsonpath_compile(path, strlen(path), &rv->path, &je);
        if (rc != EVB_OK)
            return evb_error_set(err, rc, ptr, "%s: %s", ptr, je.message);
        t->n_vars++;
        if ((rv->name = evb_strdup(k)) == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    return EVB_OK;
}

static evb_err parse_at(evb_robot_target *t, json_t *r, evb_error *err)
{
    static const char *const from[] = {"at_mobiles", "at_user_ids"};
    static const char *const to[] = {"atMobiles", "atUserIds"};
    json_t *at = json_object();
    int any = json_is_true(json_object_get(r, "is_at_all"));
    for (size_t i = 0; at != NULL && i < 2; i++) {
        json_t *src = json_object_get(r, from[i]), *dst = json_array();
        json_object_set_new(at, to[i], dst);
        if (src != NULL && !json_is_array(src) && !json_is_null(src)) {
            json_decref(at);
            return evb_error_set(err, EVB_ERR_INVALID, from[i], "%s must be a list", from[i]);
        }
        size_t j;
        json_t *item;
        json_array_foreach(src, j, item)
        {
            if (!json_is_string(item) || !plain_ok(json_string_value(item))) {
                json_decref(at);
                return evb_error_set(err, EVB_ERR_INVALID, from[i],
                                     "%s[%zu] is not a plain "
                                     "string",
                                     from[i], j);
            }
            json_array_append(dst, item);
            any = 1;
        }
    }
    if (at == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    json_object_set_new(at, "isAtAll", json_boolean(json_is_true(json_object_get(r, "is_at_all"))));
    if (any)
        t->at = at;
    else
        json_decref(at);
    return EVB_OK;
}

static evb_err parse_robot(evb_robot_target *t, json_t *r, evb_error *err)
{
    if (!json_is_object(r))
        return evb_error_set(err, EVB_ERR_INVALID, "robot", "the action has no robot target");
    evb_err rc = EVB_OK;
    static const char *const keys[] = {"webhook_url", "secret",       "title",
                                       "template",    "single_title", "single_url"};
    char **dst[] = {&t->url,           &t->secret,       &t->title,
                    &t->template_text, &t->single_title, &t->single_url};
    for (size_t i = 0; rc == EVB_OK && i < 6; i++)
        rc = dup_member(r, keys[i], dst[i], err);
    if (rc != EVB_OK)
        return rc;
    json_int_t type = json_integer_value(json_object_get(r, "message_type"));
    t->type = type == 0 ? EVB_ROBOT_TEXT : (evb_robot_msg_type)type;
    if (!url_ok(t->url))
        return evb_error_set(err, EVB_ERR_INVALID, "robot.webhook_url",
                             "robot.webhook_url must be an http(s) URL without blanks");
    if (!plain_ok(t->secret))
        return evb_error_set(err, EVB_ERR_INVALID, "robot.secret", "bad robot secret");
    if (type < 0 || type > EVB_ROBOT_ACTION_CARD)
        return evb_error_set(err, EVB_ERR_INVALID, "robot.message_type",
                             "robot.message_type must be 1 (text), 2 (markdown) or 3 "
                             "(actionCard)");
    if (t->template_text[0] == '\0' || !evb_utf8_valid(t->template_text, strlen(t->template_text)))
        return evb_error_set(err, EVB_ERR_INVALID, "robot.template",
                             "robot.template must be non-empty UTF-8");
    if (t->type != EVB_ROBOT_TEXT && (t->title[0] == '\0' || !plain_ok(t->title)))
        return evb_error_set(err, EVB_ERR_INVALID, "robot.title",
                             "markdown and actionCard messages need a title");
    if (t->type == EVB_ROBOT_ACTION_CARD &&
        (t->single_title[0] == '\0' || !plain_ok(t->single_title) || !url_ok(t->single_url)))
        return evb_error_set(err, EVB_ERR_INVALID, "robot.single_url",
                             "actionCard messages need single_title and an http(s) single_url");
    rc = parse_vars(t, json_object_get(r, "vars"), err);
    if (rc == EVB_OK)
        rc = parse_at(t, r, err);
    return rc;
}

evb_err evb_robot_target_parse(const char *action_config_json, evb_robot_target **out,
                               evb_error *err)
{
    if (action_config_json == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "robot", "no action config");
    json_error_t je;
    json_t *cfg = json_loads(action_config_json, JSON_REJECT_DUPLICATES, &je);
    if (cfg == NULL)
        return evb_error_set(err, EVB_ERR_PARSE, NULL, "action config is not JSON: %s", je.text);
    evb_robot_target *t = calloc(1, sizeof *t);
    evb_err rc = t ? parse_robot(t, json_object_get(cfg, "robot"), err)
                   : evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    json_decref(cfg);
    if (rc != EVB_OK) {
        evb_robot_target_free(t);
        return rc;
    }
    *out = t;
    return EVB_OK;
}

/* ---- rendering ---- */

/* A bounded appender: keeps at most max+4 bytes (enough to see that a cut is needed and
 * where the character at the limit ends). */
typedef struct out_text {
    evb_buf b;
    size_t keep;
    int over;
} out_text;

static evb_err put(out_text *o, const char *p, size_t n)
{
    if (o->b.len + n > o->keep) {
        o->over = 1;
        n = o->keep > o->b.len ? o->keep - o->b.len : 0;
    }
    return n ? evb_buf_append(&o->b, p, n) : EVB_OK;
}

static evb_err put_real(out_text *o, double d)
{
    char tmp[40];
    if (!isfinite(d))
        return put(o, "null", 4);
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    return put(o, tmp, strlen(tmp));
}

static evb_err put_value(out_text *o, const json_t *v)
{
    char tmp[32];
    switch (v == NULL ? JSON_NULL : json_typeof(v)) {
    case JSON_NULL:
        return EVB_OK;
    case JSON_STRING:
        return put(o, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return put(o, tmp, strlen(tmp));
    case JSON_REAL:
        return put_real(o, json_real_value(v));
    case JSON_TRUE:
        return put(o, "true", 4);
    case JSON_FALSE:
        return put(o, "false", 5);
    default: {
        /* the view is this call's own copy, so jansson's dump marks race with nobody */
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s == NULL)
            return EVB_ERR_NOMEM;
        evb_err rc = put(o, s, strlen(s));
        free(s);
        return rc;
    }
    }
}

static const robot_var *find_var(const evb_robot_target *t, const char *name, size_t n)
{
    for (size_t i = 0; i < t->n_vars; i++)
        if (strlen(t->vars[i].name) == n && memcmp(t->vars[i].name, name, n) == 0)
            return &t->vars[i];
    return NULL;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static evb_err render_into(const evb_robot_target *t, const char *s, const json_t *event,
                           out_text *o)
{
    size_t n = strlen(s), i = 0, lit = 0;
    evb_err rc = EVB_OK;
    while (rc == EVB_OK && i < n && !o->over) {
        if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            rc = put(o, s + lit, i - lit);
            lit = i + 1; /* drop one '$' */
            i += 3;
            continue;
        }
        if (s[i] != '$' || i + 1 >= n || s[i + 1] != '{') {
            i++;
            continue;
        }
        size_t j = i + 2;
        while (j < n && name_char(s[j]))
            j++;
        const robot_var *v = j < n && s[j] == '}' ? find_var(t, s + i + 2, j - i - 2) : NULL;
        if (v == NULL) { /* not a bound placeholder: stays as written */
            i += 2;
            continue;
        }
        rc = put(o, s + lit, i - lit);
        if (rc == EVB_OK)
            rc = put_value(o, evb_jsonpath_eval(v->path, event));
        i = lit = j + 1;
    }
    if (rc == EVB_OK && !o->over)
        rc = put(o, s + lit, n - lit);
    return rc;
}

/* Cuts b to at most max bytes on a UTF-8 boundary, ending with the ellipsis. */
static void cut(evb_buf *b, size_t max)
{
    size_t end = max - (sizeof ELLIPSIS - 1);
    while (end > 0 && ((unsigned char)b->data[end] & 0xC0) == 0x80)
        end--;
    memcpy(b->data + end, ELLIPSIS, sizeof ELLIPSIS - 1);
    b->len = end + sizeof ELLIPSIS - 1;
    b->data[b->len] = '\0';
}

evb_err evb_robot_render(const evb_robot_target *t, const char *template_text, const void *event,
                         size_t max_bytes, char **out)
{
    if (max_bytes < sizeof ELLIPSIS - 1)
        return EVB_ERR_INVALID;
    out_text o = {{0}, max_bytes + 4, 0};
    evb_buf_init(&o.b, 0);
    evb_err rc = render_into(t, template_text ? template_text : "", event, &o);
    if (rc == EVB_OK && o.b.len > max_bytes)
        cut(&o.b, max_bytes);
    if (rc == EVB_OK && o.b.data == NULL)
        rc = evb_buf_append(&o.b, "", 0);
    if (rc == EVB_OK)
        rc = evb_buf_detach(&o.b, out, NULL);
    evb_buf_fini(&o.b);
    return rc;
}

/* ---- request ---- */

static evb_err set_text(json_t *o, const char *key, const evb_robot_target *t,
                        const char *template_text, const json_t *view)
{
    char *s = NULL;
    evb_err rc = evb_robot_render(t, template_text, view, EVB_ROBOT_MAX_TEXT, &s);
    if (rc != EVB_OK)
        return rc;
    json_t *js = json_string(s); /* NULL only for invalid UTF-8, which rendering never makes */
    free(s);
    if (js == NULL || json_object_set_new(o, key, js) != 0)
        return EVB_ERR_NOMEM;
    return EVB_OK;
}

static evb_err build_body(const evb_robot_target *t, const json_t *view, char **body, size_t *len)
{
    static const char *const names[] = {"", "text", "markdown", "actionCard"};
    json_t *root = json_object(), *msg = json_object();
    evb_err rc = root && msg ? EVB_OK : EVB_ERR_NOMEM;
    if (rc == EVB_OK && json_object_set_new(root, "msgtype", json_string(names[t->type])) != 0)
        rc = EVB_ERR_NOMEM;
    if (rc == EVB_OK && t->type != EVB_ROBOT_TEXT)
        rc = set_text(msg, "title", t, t->title, view);
    if (rc == EVB_OK)
        rc = set_text(msg, t->type == EVB_ROBOT_TEXT ? "content" : "text", t, t->template_text,
                      view);
    if (rc == EVB_OK && t->type == EVB_ROBOT_ACTION_CARD &&
        (json_object_set_new(msg, "singleTitle", json_string(t->single_title)) != 0 ||
         json_object_set_new(msg, "singleURL", json_string(t->single_url)) != 0))
        rc = EVB_ERR_NOMEM;
    if (rc == EVB_OK && json_object_set(root, names[t->type], msg) != 0)
        rc = EVB_ERR_NOMEM;
    /* t->at is shared between threads: dump a deep copy so jansson never marks it */
    if (rc == EVB_OK && t->at != NULL &&
        json_object_set_new(root, "at", json_deep_copy(t->at)) != 0)
        rc = EVB_ERR_NOMEM;
    char *s = rc == EVB_OK ? json_dumps(root, JSON_COMPACT) : NULL;
    if (rc == EVB_OK && s == NULL)
        rc = EVB_ERR_NOMEM;
    json_decref(msg);
    json_decref(root);
    if (rc == EVB_OK) {
        *body = s;
        *len = strlen(s);
    }
    return rc;
}

static evb_err signed_url(const evb_robot_target *t, int64_t now_ms, char **out)
{
    if (t->secret[0] == '\0')
        return (*out = evb_strdup(t->url)) ? EVB_OK : EVB_ERR_NOMEM;
    char sign[EVB_ROBOT_SIGN_MAX];
    evb_err rc = evb_robot_sign(t->secret, now_ms, sign, sizeof sign);
    if (rc != EVB_OK)
        return rc;
    size_t n = strlen(t->url) + 64 + strlen(sign);
    if ((*out = malloc(n)) == NULL)
        return EVB_ERR_NOMEM;
    snprintf(*out, n, "%s%ctimestamp=%" PRId64 "&sign=%s", t->url, strchr(t->url, '?') ? '&' : '?',
             now_ms, sign);
    return EVB_OK;
}

evb_err evb_robot_request_build(const evb_robot_target *t, const evb_event *ev, int64_t now_ms,
                                evb_http_request *out, evb_error *err)
{
    evb_http_request r = {0};
    r.method = "POST";
    r.timeout_ms = EVB_HTTP_TIMEOUT_DEFAULT_MS;
    json_t *view = evb_router_event_json(ev, 1);
    evb_err rc = view ? signed_url(t, now_ms, &r.url) : EVB_ERR_NOMEM;
    if (rc == EVB_OK)
        rc = build_body(t, view, &r.body, &r.body_len);
    if (rc == EVB_OK)
        rc = evb_http_request_add_header(&r, "Content-Type", "application/json; charset=utf-8");
    json_decref(view);
    if (rc != EVB_OK) {
        evb_http_request_fini(&r);
        memset(out, 0, sizeof *out);
        return evb_error_set(err, rc, NULL, "robot message: %s", evb_strerror(rc));
    }
    *out = r;
    return EVB_OK;
}

/* ---- reply ---- */

int evb_robot_parse_response(const char *body, size_t len, long long *errcode, char *errmsg,
                             size_t errmsg_len)
{
    if (errmsg != NULL && errmsg_len > 0)
        errmsg[0] = '\0';
    json_t *j = body != NULL && len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *code = json_object_get(j, "errcode");
    int found = json_is_integer(code);
    if (found) {
        *errcode = (long long)json_integer_value(code);
        const char *m = json_string_value(json_object_get(j, "errmsg"));
        if (m != NULL && errmsg != NULL && errmsg_len > 0) {
            snprintf(errmsg, errmsg_len, "%s", m);
            evb_utf8_sanitize(errmsg); /* also mends a character split by the cut */
        }
    }
    json_decref(j);
    return found;
}
