/* evbridge registry — JSON values on top of jansson (see json_value.h).
 *
 * jansson parses strictly (JSON_REJECT_DUPLICATES, JSON_DECODE_ANY, JSON_ALLOW_NUL); the tree
 * is then copied into our own arena-backed values, which gives stable member order, O(log n)
 * key lookup, exact string lengths, and a single free. If jansson reports an integer beyond
 * its range we parse again with JSON_DECODE_INT_AS_REAL so huge numbers are still accepted
 * (as doubles) while ordinary integers stay exact.
 */
#include "registry/json_value_int.h"
#include "registry/util_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct evb_json_doc {
    arena mem;
    evb_json *root;
};

#define SORT_MIN 8 /* objects with more members get a sorted index */

typedef struct conv {
    arena *mem;
    size_t max_depth;
    evb_err err;
    sbuf where; /* JSON pointer to the place that was too deep */
} conv;

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Insertion sort is fine for small objects; merge sort for big ones keeps O(n log n). */
static void sort_index(const evb_json_member *m, uint32_t *ix, uint32_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_index(m, ix, tmp, h);
    sort_index(m, ix + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        const evb_json_member *a = &m[ix[i]], *b = &m[ix[j]];
        tmp[k++] = key_cmp(a->key, a->klen, b->key, b->klen) <= 0 ? ix[i++] : ix[j++];
    }
    while (i < h)
        tmp[k++] = ix[i++];
    while (j < n)
        tmp[k++] = ix[j++];
    memcpy(ix, tmp, n * sizeof *ix);
}

static evb_json *convert(conv *c, json_t *j, size_t depth);

static bool convert_object(conv *c, json_t *j, evb_json *v, size_t depth)
{
    size_t n = json_object_size(j);
    v->n = n;
    v->u.members = arena_alloc(c->mem, (n ? n : 1) * sizeof *v->u.members);
    if (v->u.members == NULL)
        return false;
    size_t i = 0;
    for (void *it = json_object_iter(j); it != NULL && i < n; it = json_object_iter_next(j, it)) {
        evb_json_member *m = &v->u.members[i++];
        m->klen = json_object_iter_key_len(it);
        m->key = arena_strndup(c->mem, json_object_iter_key(it), m->klen);
        if (m->key == NULL)
            return false;
        size_t mark = c->where.len;
        sbuf_putc(&c->where, '/');
        sbuf_put_ptr_token(&c->where, m->key, m->klen);
        m->val = convert(c, json_object_iter_value(it), depth + 1);
        if (m->val == NULL)
            return false;
        c->where.len = mark;
    }
    v->n = i;
    if (i > SORT_MIN) {
        v->sorted = arena_alloc(c->mem, i * sizeof *v->sorted);
        uint32_t *tmp = malloc(i * sizeof *tmp);
        if (v->sorted == NULL || tmp == NULL) {
            free(tmp);
            return false;
        }
        for (size_t k = 0; k < i; k++)
            v->sorted[k] = (uint32_t)k;
        sort_index(v->u.members, v->sorted, tmp, i);
        free(tmp);
    }
    return true;
}

static bool convert_array(conv *c, json_t *j, evb_json *v, size_t depth)
{
    size_t n = json_array_size(j);
    v->n = n;
    v->u.items = arena_alloc(c->mem, (n ? n : 1) * sizeof *v->u.items);
    if (v->u.items == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t mark = c->where.len;
        sbuf_printf(&c->where, "/%zu", i);
        v->u.items[i] = convert(c, json_array_get(j, i), depth + 1);
        if (v->u.items[i] == NULL)
            return false;
        c->where.len = mark;
    }
    return true;
}

static evb_json *convert(conv *c, json_t *j, size_t depth)
{
    evb_json *v = arena_alloc(c->mem, sizeof *v);
    if (v == NULL)
        return NULL;
    switch (json_typeof(j)) {
    case JSON_NULL:
        v->type = EVB_JSON_NULL;
        break;
    case JSON_TRUE:
        v->type = EVB_JSON_BOOL;
        v->b = true;
        break;
    case JSON_FALSE:
        v->type = EVB_JSON_BOOL;
        break;
    case JSON_INTEGER:
        v->type = EVB_JSON_INTEGER;
        v->u.i = (int64_t)json_integer_value(j);
        break;
    case JSON_REAL: {
        double d = json_real_value(j);
        if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
            v->type = EVB_JSON_INTEGER;
            v->u.i = (int64_t)d;
        } else {
            v->type = EVB_JSON_REAL;
            v->u.d = d;
        }
        break;
    }
    case JSON_STRING:
        v->type = EVB_JSON_STRING;
        v->n = json_string_length(j);
        v->u.s = arena_strndup(c->mem, json_string_value(j), v->n);
        if (v->u.s == NULL)
            return NULL;
        break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        if (depth >= c->max_depth) {
            c->err = EVB_ERR_LIMIT;
            return NULL;
        }
        v->type = json_is_array(j) ? EVB_JSON_ARRAY : EVB_JSON_OBJECT;
        if (!(v->type == EVB_JSON_ARRAY ? convert_array(c, j, v, depth)
                                        : convert_object(c, j, v, depth)))
            return NULL;
        break;
    }
    return v;
}

evb_err evb_json_parse(const char *text, size_t len, size_t max_depth, evb_json_doc **out,
                       evb_error *err)
{
    if (text == NULL || out == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, NULL, "no JSON text");
    *out = NULL;
    if (max_depth == 0)
        max_depth = EVB_JSON_DEFAULT_MAX_DEPTH;
    if (max_depth > EVB_JSON_HARD_MAX_DEPTH)
        max_depth = EVB_JSON_HARD_MAX_DEPTH;
    size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_error_t je;
    json_t *j = json_loadb(text, len, flags, &je);
    if (j == NULL && json_error_code(&je) == json_error_numeric_overflow)
        j = json_loadb(text, len, flags | JSON_DECODE_INT_AS_REAL, &je);
    if (j == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory parsing JSON");
        if (json_error_code(&je) == json_error_stack_overflow)
            return evb_error_set(err, EVB_ERR_LIMIT, NULL, "JSON nested too deeply");
        return evb_error_set(err, EVB_ERR_PARSE, NULL, "invalid JSON at line %d column %d: %s",
                             je.line, je.column, je.text);
    }
    evb_json_doc *d = calloc(1, sizeof *d);
    if (d == NULL) {
        json_decref(j);
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    arena_init(&d->mem);
    conv c = {.mem = &d->mem, .max_depth = max_depth, .err = EVB_ERR_NOMEM};
    sbuf_init(&c.where);
    d->root = convert(&c, j, 0);
    json_decref(j);
    evb_err rc = EVB_OK;
    if (d->root == NULL) {
        if (c.err == EVB_ERR_LIMIT)
            rc = evb_error_set(err, EVB_ERR_LIMIT, c.where.data ? c.where.data : "",
                               "JSON nested deeper than %zu levels", max_depth);
        else
            rc = evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        evb_json_doc_free(d);
        d = NULL;
    }
    sbuf_fini(&c.where);
    *out = d;
    return rc;
}

void evb_json_doc_free(evb_json_doc *doc)
{
    if (doc == NULL)
        return;
    arena_fini(&doc->mem);
    free(doc);
}

const evb_json *evb_json_root(const evb_json_doc *doc)
{
    return doc ? doc->root : NULL;
}

evb_json_type evb_json_typeof(const evb_json *v)
{
    return v->type;
}

bool evb_json_is_number(const evb_json *v)
{
    return v->type == EVB_JSON_INTEGER || v->type == EVB_JSON_REAL;
}

bool evb_json_is_integral(const evb_json *v)
{
    return v->type == EVB_JSON_INTEGER || (v->type == EVB_JSON_REAL && v->u.d == floor(v->u.d));
}

bool evb_json_bool(const evb_json *v)
{
    return v->type == EVB_JSON_BOOL && v->b;
}

int64_t evb_json_int(const evb_json *v)
{
    return v->type == EVB_JSON_INTEGER ? v->u.i : 0;
}

double evb_json_number(const evb_json *v)
{
    if (v->type == EVB_JSON_INTEGER)
        return (double)v->u.i;
    return v->type == EVB_JSON_REAL ? v->u.d : 0.0;
}

long double evb_json_number_ld(const evb_json *v)
{
    if (v->type == EVB_JSON_INTEGER)
        return (long double)v->u.i;
    return v->type == EVB_JSON_REAL ? (long double)v->u.d : 0.0L;
}

const char *evb_json_string(const evb_json *v, size_t *len)
{
    if (v->type != EVB_JSON_STRING)
        return NULL;
    if (len)
        *len = v->n;
    return v->u.s;
}

size_t evb_json_size(const evb_json *v)
{
    return (v->type == EVB_JSON_ARRAY || v->type == EVB_JSON_OBJECT) ? v->n : 0;
}

const evb_json *evb_json_at(const evb_json *v, size_t i)
{
    return (v->type == EVB_JSON_ARRAY && i < v->n) ? v->u.items[i] : NULL;
}

const char *evb_json_key_at(const evb_json *v, size_t i, size_t *klen)
{
    if (v->type != EVB_JSON_OBJECT || i >= v->n)
        return NULL;
    if (klen)
        *klen = v->u.members[i].klen;
    return v->u.members[i].key;
}

const evb_json *evb_json_value_at(const evb_json *v, size_t i)
{
    return (v->type == EVB_JSON_OBJECT && i < v->n) ? v->u.members[i].val : NULL;
}

const evb_json *evb_json_getn(const evb_json *v, const char *key, size_t klen)
{
    if (v->type != EVB_JSON_OBJECT)
        return NULL;
    const evb_json_member *m = v->u.members;
    if (v->sorted == NULL) {
        for (size_t i = 0; i < v->n; i++)
            if (m[i].klen == klen && memcmp(m[i].key, key, klen) == 0)
                return m[i].val;
        return NULL;
    }
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const evb_json_member *x = &m[v->sorted[mid]];
        int c = key_cmp(x->key, x->klen, key, klen);
        if (c == 0)
            return x->val;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const evb_json *evb_json_get(const evb_json *v, const char *key)
{
    return evb_json_getn(v, key, strlen(key));
}

static bool number_equal(const evb_json *a, const evb_json *b)
{
    if (a->type == EVB_JSON_INTEGER && b->type == EVB_JSON_INTEGER)
        return a->u.i == b->u.i;
    return evb_json_number_ld(a) == evb_json_number_ld(b);
}

bool evb_json_equal(const evb_json *a, const evb_json *b)
{
    if (evb_json_is_number(a) && evb_json_is_number(b))
        return number_equal(a, b);
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case EVB_JSON_NULL:
        return true;
    case EVB_JSON_BOOL:
        return a->b == b->b;
    case EVB_JSON_STRING:
        return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
    case EVB_JSON_ARRAY:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!evb_json_equal(a->u.items[i], b->u.items[i]))
                return false;
        return true;
    case EVB_JSON_OBJECT:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++) {
            const evb_json *o = evb_json_getn(b, a->u.members[i].key, a->u.members[i].klen);
            if (o == NULL || !evb_json_equal(a->u.members[i].val, o))
                return false;
        }
        return true;
    default:
        return false;
    }
}

static uint64_t mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

uint64_t evb_json_hash(const evb_json *v)
{
    switch (v->type) {
    case EVB_JSON_NULL:
        return 1;
    case EVB_JSON_BOOL:
        return v->b ? 2 : 3;
    case EVB_JSON_INTEGER:
        return mix(4, (uint64_t)v->u.i);
    case EVB_JSON_REAL: {
        double d = v->u.d;
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            return mix(4, (uint64_t)(int64_t)d);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(5, bits);
    }
    case EVB_JSON_STRING:
        return mix(6, hash_bytes(v->u.s, v->n));
    case EVB_JSON_ARRAY: {
        uint64_t h = 7;
        for (size_t i = 0; i < v->n; i++)
            h = mix(h, evb_json_hash(v->u.items[i]));
        return h;
    }
    case EVB_JSON_OBJECT: {
        uint64_t h = 0; /* order-independent */
        for (size_t i = 0; i < v->n; i++)
            h += mix(hash_bytes(v->u.members[i].key, v->u.members[i].klen),
                     evb_json_hash(v->u.members[i].val));
        return mix(8, h);
    }
    }
    return 0;
}
