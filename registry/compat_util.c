/* evbridge registry — compatibility checker helpers: the JSON pointer of the current reader
 * location, message formatting and the deduplicated report, and JSON value helpers (JSON
 * Schema equality, where 1 and 1.0 are the same number).
 */
#include "registry/compat_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool path_reserve(cmp_ctx *c, size_t extra)
{
    if (c->path_len + extra + 1 <= c->path_cap)
        return true;
    size_t cap = c->path_cap ? c->path_cap : 128;
    while (cap < c->path_len + extra + 1)
        cap *= 2;
    char *p = realloc(c->path, cap);
    if (p == NULL) {
        c->err = EVB_ERR_NOMEM;
        return false;
    }
    c->path = p;
    c->path_cap = cap;
    return true;
}

size_t cmp_path_push(cmp_ctx *c, const char *seg)
{
    size_t mark = c->path_len;
    size_t n = strlen(seg);
    if (!path_reserve(c, 2 * n + 1))
        return mark;
    c->path[c->path_len++] = '/';
    for (size_t i = 0; i < n; i++) {
        if (seg[i] == '~' || seg[i] == '/') {
            c->path[c->path_len++] = '~';
            c->path[c->path_len++] = seg[i] == '~' ? '0' : '1';
        } else {
            c->path[c->path_len++] = seg[i];
        }
    }
    c->path[c->path_len] = '\0';
    return mark;
}

size_t cmp_path_push_index(cmp_ctx *c, size_t i)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", i);
    return cmp_path_push(c, buf);
}

void cmp_path_pop(cmp_ctx *c, size_t mark)
{
    if (mark <= c->path_len && c->path != NULL) {
        c->path_len = mark;
        c->path[mark] = '\0';
    }
}

void cmp_report_add(cmp_ctx *c, const char *msg)
{
    evb_compat_report *rep = c->rep;
    for (size_t i = 0; i < rep->n; i++)
        if (strcmp(rep->messages[i], msg) == 0)
            return;
    if (rep->n >= c->max_messages) {
        rep->truncated = true;
        return;
    }
    if (rep->n == rep->cap_) {
        size_t cap = rep->cap_ ? rep->cap_ * 2 : 8;
        char **m = realloc(rep->messages, cap * sizeof *m);
        if (m == NULL) {
            c->err = EVB_ERR_NOMEM;
            return;
        }
        rep->messages = m;
        rep->cap_ = cap;
    }
    char *copy = strdup(msg);
    if (copy == NULL) {
        c->err = EVB_ERR_NOMEM;
        return;
    }
    rep->messages[rep->n++] = copy;
}

void cmp_emit(cmp_ctx *c, const char *kw, const char *fmt, ...)
{
    c->issues++;
    if (c->trial > 0 || c->err != EVB_OK)
        return;
    size_t mark = c->path_len;
    if (kw != NULL)
        mark = cmp_path_push(c, kw);
    char text[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    const char *where = c->path_len > 0 ? c->path : "(root)";
    size_t need = strlen(c->prefix) + strlen(where) + strlen(text) + 3;
    char *msg = malloc(need);
    if (msg == NULL) {
        c->err = EVB_ERR_NOMEM;
    } else {
        snprintf(msg, need, "%s%s: %s", c->prefix, where, text);
        cmp_report_add(c, msg);
        free(msg);
    }
    cmp_path_pop(c, mark);
}

bool cmp_is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

char *cmp_show(const json_t *v)
{
    char buf[64];
    if (v == NULL)
        return strdup("(absent)");
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(buf);
    }
    if (json_is_real(v)) {
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
        return strdup(buf);
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    if (s != NULL && strlen(s) > 80) {
        memcpy(s + 77, "...", 4);
    }
    return s;
}

bool cmp_value_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!cmp_value_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *va;
        json_object_foreach((json_t *)a, k, va)
        {
            const json_t *vb = json_object_get(b, k);
            if (vb == NULL || !cmp_value_equal(va, vb))
                return false;
        }
        return true;
    }
    return json_equal(a, b) != 0;
}
