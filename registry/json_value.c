/* evbridge registry — reading, comparing and hashing evb_json values (see json_value.h).
 *
 * The parser is json_parse.c. Values keep their document order; objects with more than
 * EVB_JSON_SORT_MIN members carry an index sorted by key, so member lookup is a binary search
 * there and a short linear scan otherwise.
 */
#include "registry/json_value_int.h"

#include <math.h>
#include <string.h>

void evb_json_doc_free(evb_json_doc *doc)
{
    if (doc == NULL)
        return;
    arena mem = doc->mem; /* the document itself lives in its arena */
    arena_fini(&mem);
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
        int c = evb_json_key_cmp(x->key, x->klen, key, klen);
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
