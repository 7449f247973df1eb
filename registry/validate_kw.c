/* evbridge registry — assertion keywords (no subschemas): type, enum, const, numeric
 * bounds, multipleOf, string length/pattern/format, array and object counts, uniqueItems,
 * required, dependentRequired. 2020-12 validation vocabulary:
 * https://json-schema.org/draft/2020-12/json-schema-validation#section-6
 *
 * Numbers compare as long double (exact for every int64 and every double); multipleOf is
 * decided exactly on decimal forms, so 19.99 is a multiple of 0.01. String lengths count
 * Unicode code points, not bytes.
 */
#include "registry/validate_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void quote(char *dst, size_t cap, const char *s, size_t n)
{
    size_t room = cap - 4;
    if (n <= cap - 1) {
        memcpy(dst, s, n);
        dst[n] = '\0';
    } else {
        while (room > 0 && ((unsigned char)s[room] & 0xC0) == 0x80)
            room--; /* do not cut a UTF-8 sequence */
        memcpy(dst, s, room);
        memcpy(dst + room, "...", 4);
    }
}

static void fmt_num(char *buf, size_t cap, long double v)
{
    double d = (double)v;
    if (d == floor(d) && fabs(d) < 1e18) {
        snprintf(buf, cap, "%.0Lf", v);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static void fmt_value(char *buf, size_t cap, const evb_json *v)
{
    char *txt = NULL;
    size_t n = 0;
    if (evb_json_canonical(v, &txt, &n) != EVB_OK) {
        snprintf(buf, cap, "the expected value");
        return;
    }
    quote(buf, cap, txt, n);
    free(txt);
}

static const char *type_name(const evb_json *v)
{
    switch (evb_json_typeof(v)) {
    case EVB_JSON_NULL:
        return "null";
    case EVB_JSON_BOOL:
        return "boolean";
    case EVB_JSON_INTEGER:
        return "integer";
    case EVB_JSON_REAL:
        return "number";
    case EVB_JSON_STRING:
        return "string";
    case EVB_JSON_ARRAY:
        return "array";
    case EVB_JSON_OBJECT:
        return "object";
    }
    return "value";
}

static bool type_ok(unsigned types, const evb_json *v)
{
    switch (v->type) {
    case EVB_JSON_NULL:
        return types & T_NULL;
    case EVB_JSON_BOOL:
        return types & T_BOOLEAN;
    case EVB_JSON_INTEGER:
        return types & (T_INTEGER | T_NUMBER);
    case EVB_JSON_REAL:
        return (types & T_NUMBER) || ((types & T_INTEGER) && evb_json_is_integral(v));
    case EVB_JSON_STRING:
        return types & T_STRING;
    case EVB_JSON_ARRAY:
        return types & T_ARRAY;
    case EVB_JSON_OBJECT:
        return types & T_OBJECT;
    }
    return false;
}

static bool check_type(vctx *c, const snode *n, const evb_json *inst)
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    if (type_ok(n->types, inst))
        return true;
    char want[96] = "";
    for (size_t i = 0; i < 7; i++)
        if (n->types & (1u << i)) {
            if (want[0])
                strcat(want, " or ");
            strcat(want, names[i]);
        }
    return vfail(c, "type", "must be of type %s, but is %s", want, type_name(inst));
}

static bool check_enum_const(vctx *c, const snode *n, const evb_json *inst)
{
    bool ok = true;
    char buf[160];
    if (n->konst != NULL && !evb_json_equal(n->konst, inst)) {
        fmt_value(buf, 120, n->konst);
        STEP(ok, c, vfail(c, "const", "must be equal to %s", buf));
    }
    if (n->enumv != NULL) {
        const evb_json *const *it = (const evb_json *const *)n->enumv->u.items;
        if (inst->type == EVB_JSON_STRING) { /* the usual enum: strings, compared directly */
            for (size_t i = 0; i < n->enumv->n; i++)
                if (it[i]->type == EVB_JSON_STRING && it[i]->n == inst->n &&
                    memcmp(it[i]->u.s, inst->u.s, inst->n) == 0)
                    return ok;
        } else {
            for (size_t i = 0; i < n->enumv->n; i++)
                if (evb_json_equal(it[i], inst))
                    return ok;
        }
        fmt_value(buf, 120, n->enumv);
        STEP(ok, c, vfail(c, "enum", "must be one of %s", buf));
    }
    return ok;
}

static uint64_t addmod(uint64_t a, uint64_t b, uint64_t m)
{
    return a >= m - b ? a - (m - b) : a + b;
}

bool num_multiple_of(const evb_json *v, uint64_t mo_mant, int mo_exp)
{
    uint64_t m;
    int e;
    bool neg;
    if (evb_json_typeof(v) == EVB_JSON_INTEGER) {
        int64_t i = evb_json_int(v);
        m = i < 0 ? (uint64_t)(-(i + 1)) + 1u : (uint64_t)i;
        e = 0;
        while (m != 0 && m % 10 == 0) {
            m /= 10;
            e++;
        }
    } else if (!evb_json_decimal(evb_json_number(v), &m, &e, &neg)) {
        return false;
    }
    if (m == 0)
        return true;
    if (e >= mo_exp) { /* m * 10^(e - mo_exp) mod mo_mant */
        uint64_t r = m % mo_mant;
        for (int k = 0; k < e - mo_exp && r != 0; k++) {
            uint64_t t = 0;
            for (int j = 0; j < 10; j++)
                t = addmod(t, r, mo_mant);
            r = t;
        }
        return r == 0;
    }
    int k = mo_exp - e;
    if (k > 19)
        return false;
    uint64_t p10 = 1;
    for (int j = 0; j < k; j++)
        p10 *= 10;
    return m % p10 == 0 && (m / p10) % mo_mant == 0;
}

static bool check_number(vctx *c, const snode *n, const evb_json *inst)
{
    bool ok = true;
    long double x = evb_json_number_ld(inst);
    char b[48];
    if ((n->has & H_MINIMUM) && x < n->minimum) {
        fmt_num(b, sizeof b, n->minimum);
        STEP(ok, c, vfail(c, "minimum", "must be greater than or equal to %s", b));
    }
    if ((n->has & H_MAXIMUM) && x > n->maximum) {
        fmt_num(b, sizeof b, n->maximum);
        STEP(ok, c, vfail(c, "maximum", "must be less than or equal to %s", b));
    }
    if ((n->has & H_EXMIN) && x <= n->exmin) {
        fmt_num(b, sizeof b, n->exmin);
        STEP(ok, c, vfail(c, "exclusiveMinimum", "must be greater than %s", b));
    }
    if ((n->has & H_EXMAX) && x >= n->exmax) {
        fmt_num(b, sizeof b, n->exmax);
        STEP(ok, c, vfail(c, "exclusiveMaximum", "must be less than %s", b));
    }
    if ((n->has & H_MULTIPLE) && !num_multiple_of(inst, n->mo_mant, n->mo_exp)) {
        fmt_num(b, sizeof b, n->mo_d);
        STEP(ok, c, vfail(c, "multipleOf", "must be a multiple of %s", b));
    }
    return ok;
}

static uint64_t utf8_length(const char *s, size_t n)
{
    uint64_t cps = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cps++;
    return cps;
}

/* minLength/maxLength count code points; a code point is 1 to 4 bytes (valid UTF-8, which
 * every instance string is), so the byte length often settles both without counting. */
static bool check_string(vctx *c, const snode *n, const evb_json *inst)
{
    bool ok = true;
    size_t len = inst->n;
    const char *s = inst->u.s;
    if (n->has & (H_MINLEN | H_MAXLEN)) {
        bool min_ok = !(n->has & H_MINLEN) || (len + 3) / 4 >= n->min_len;
        bool max_ok = !(n->has & H_MAXLEN) || len <= n->max_len;
        uint64_t cps = min_ok && max_ok ? 0 : utf8_length(s, len);
        if (!min_ok && cps < n->min_len)
            STEP(ok, c,
                 vfail(c, "minLength", "must be at least %llu characters long",
                       (unsigned long long)n->min_len));
        if (!max_ok && cps > n->max_len)
            STEP(ok, c,
                 vfail(c, "maxLength", "must be at most %llu characters long",
                       (unsigned long long)n->max_len));
    }
    if (n->pattern != NULL) {
        int r = vmatch(c, n->pattern, s, len);
        if (c->err)
            return false;
        char q[120];
        if (r == 0) {
            quote(q, sizeof q, n->pattern_src, strlen(n->pattern_src));
            STEP(ok, c, vfail(c, "pattern", "must match the pattern \"%s\"", q));
        } else if (r < 0) {
            quote(q, sizeof q, n->pattern_src, strlen(n->pattern_src));
            STEP(ok, c,
                 vfail(c, "pattern",
                       "could not be checked against the pattern \"%s\" "
                       "(matching limit exceeded)",
                       q));
        }
    }
    if (n->format != FMT_UNKNOWN && !fmt_check(n->format, s, len))
        STEP(ok, c, vfail(c, "format", "must be a valid %s", n->format_name));
    return ok;
}

static int hash_cmp(const void *x, const void *y)
{
    const uint64_t *a = x, *b = y; /* pairs: hash, index */
    return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (a[1] > b[1]) - (a[1] < b[1]);
}

/* Finds two equal items (indexes *first < *second) by sorting hashes: O(n log n). */
static bool find_duplicate(vctx *c, const evb_json *a, size_t *first, size_t *second)
{
    size_t n = evb_json_size(a);
    uint64_t *h = malloc((n ? n : 1) * 2 * sizeof *h);
    if (h == NULL) {
        vfatal(c, EVB_ERR_NOMEM, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = evb_json_hash(evb_json_at(a, i));
        h[2 * i + 1] = i;
    }
    qsort(h, n, 2 * sizeof *h, hash_cmp);
    bool dup = false;
    for (size_t i = 0; i < n && !dup; i++)
        for (size_t j = i + 1; j < n && h[2 * j] == h[2 * i] && !dup; j++)
            if (evb_json_equal(evb_json_at(a, h[2 * i + 1]), evb_json_at(a, h[2 * j + 1]))) {
                *first = h[2 * i + 1] < h[2 * j + 1] ? h[2 * i + 1] : h[2 * j + 1];
                *second = h[2 * i + 1] < h[2 * j + 1] ? h[2 * j + 1] : h[2 * i + 1];
                dup = true;
            }
    free(h);
    return dup;
}

static bool check_array_counts(vctx *c, const snode *n, const evb_json *inst)
{
    bool ok = true;
    size_t sz = evb_json_size(inst);
    if ((n->has & H_MINITEMS) && sz < n->min_items)
        STEP(ok, c,
             vfail(c, "minItems", "must have at least %llu items, but has %zu",
                   (unsigned long long)n->min_items, sz));
    if ((n->has & H_MAXITEMS) && sz > n->max_items)
        STEP(ok, c,
             vfail(c, "maxItems", "must have at most %llu items, but has %zu",
                   (unsigned long long)n->max_items, sz));
    size_t i = 0, j = 0; /* set by find_duplicate; gcc -O3 cannot tell */
    if (n->unique && sz > 1 && find_duplicate(c, inst, &i, &j))
        STEP(ok, c,
             vfail(c, "uniqueItems",
                   "must not contain duplicates (items %zu and %zu are "
                   "equal)",
                   i, j));
    return ok && !c->err;
}

static bool check_required(vctx *c, const snode *n, const evb_json *inst, const objscan *os)
{
    bool ok = true;
    char q[120], q2[120];
    bool all_present = n->required == NULL || (n->req_fast && os != NULL && os->done &&
                                               (os->present & n->req_mask) == n->req_mask);
    for (size_t i = 0; !all_present && i < evb_json_size(n->required); i++) {
        size_t kl;
        const char *k = evb_json_string(evb_json_at(n->required, i), &kl);
        if (evb_json_getn(inst, k, kl) == NULL) {
            quote(q, sizeof q, k, kl);
            STEP(ok, c, vfail(c, "required", "property \"%s\" is required", q));
        }
    }
    for (size_t d = 0; d < n->n_dep_req; d++) {
        const dep_req *r = &n->dep_req[d];
        if (evb_json_getn(inst, r->key, r->klen) == NULL)
            continue;
        for (size_t i = 0; i < evb_json_size(r->names); i++) {
            size_t kl;
            const char *k = evb_json_string(evb_json_at(r->names, i), &kl);
            if (evb_json_getn(inst, k, kl) != NULL)
                continue;
            quote(q, sizeof q, k, kl);
            quote(q2, sizeof q2, r->key, r->klen);
            STEP(ok, c,
                 vfail(c, n->dep_req_kw,
                       "property \"%s\" is required when "
                       "\"%s\" is present",
                       q, q2));
        }
    }
    return ok;
}

static bool check_object_counts(vctx *c, const snode *n, const evb_json *inst, const objscan *os)
{
    bool ok = true;
    size_t sz = evb_json_size(inst);
    if ((n->has & H_MINPROPS) && sz < n->min_props)
        STEP(ok, c,
             vfail(c, "minProperties", "must have at least %llu properties, but has %zu",
                   (unsigned long long)n->min_props, sz));
    if ((n->has & H_MAXPROPS) && sz > n->max_props)
        STEP(ok, c,
             vfail(c, "maxProperties", "must have at most %llu properties, but has %zu",
                   (unsigned long long)n->max_props, sz));
    STEP(ok, c, check_required(c, n, inst, os));
    return ok;
}

/* Whether leaf t accepts v; false also when unsure (the full evaluation then decides). */
static bool leaf_ok(const snode *t, const evb_json *v)
{
    if (t->is_bool)
        return t->bool_val;
    unsigned ops = t->ops;
    if ((ops & OP_TYPE) &&
        !(v->type == EVB_JSON_STRING ? (t->types & T_STRING) != 0 : type_ok(t->types, v)))
        return false;
    switch (v->type) {
    case EVB_JSON_STRING:
        if (ops & OP_ENUMCONST) {
            if (t->konst != NULL || t->enumv == NULL)
                return false;
            const evb_json *const *it = (const evb_json *const *)t->enumv->u.items;
            size_t i = 0;
            while (i < t->enumv->n && !(it[i]->type == EVB_JSON_STRING && it[i]->n == v->n &&
                                        memcmp(it[i]->u.s, v->u.s, v->n) == 0))
                i++;
            if (i == t->enumv->n)
                return false;
        }
        if (ops & OP_STR) {
            if (t->format != FMT_UNKNOWN)
                return false;
            size_t len = v->n;
            if ((t->has & H_MAXLEN) && len > t->max_len && utf8_length(v->u.s, len) > t->max_len)
                return false;
            if ((t->has & H_MINLEN) && (len + 3) / 4 < t->min_len &&
                utf8_length(v->u.s, len) < t->min_len)
                return false;
            if (t->pattern != NULL && (t->pattern_simple == NULL ||
                                       regex_simple_match(t->pattern_simple, v->u.s, len) != 1))
                return false;
        }
        return true;
    case EVB_JSON_INTEGER:
    case EVB_JSON_REAL:
        if (ops & OP_ENUMCONST)
            return false;
        if (ops & OP_NUM) {
            if (t->has & H_MULTIPLE)
                return false;
            long double x = v->type == EVB_JSON_INTEGER ? (long double)v->u.i : (long double)v->u.d;
            if (((t->has & H_MINIMUM) && x < t->minimum) ||
                ((t->has & H_MAXIMUM) && x > t->maximum) || ((t->has & H_EXMIN) && x <= t->exmin) ||
                ((t->has & H_EXMAX) && x >= t->exmax))
                return false;
        }
        return true;
    default:
        return !(ops & OP_ENUMCONST);
    }
}

bool leaf_accepts(const vctx *c, const snode *child, const evb_json *v)
{
    return child->fast != NULL && c->depth + child->fast_hops < VAL_MAX_FRAMES &&
           c->idepth + 1 <= c->s->max_instance_depth && leaf_ok(child->fast, v);
}

bool check_assertions(vctx *c, const snode *n, const evb_json *inst, const objscan *os)
{
    bool ok = true;
    unsigned ops = n->ops;
    if (ops & OP_TYPE)
        STEP(ok, c, check_type(c, n, inst));
    if (ops & OP_ENUMCONST)
        STEP(ok, c, check_enum_const(c, n, inst));
    switch (inst->type) {
    case EVB_JSON_INTEGER:
    case EVB_JSON_REAL:
        if (ops & OP_NUM)
            STEP(ok, c, check_number(c, n, inst));
        break;
    case EVB_JSON_STRING:
        if (ops & OP_STR)
            STEP(ok, c, check_string(c, n, inst));
        break;
    case EVB_JSON_ARRAY:
        if (ops & OP_ARRCNT)
            STEP(ok, c, check_array_counts(c, n, inst));
        break;
    case EVB_JSON_OBJECT:
        if (ops & OP_OBJCNT)
            STEP(ok, c, check_object_counts(c, n, inst, os));
        break;
    default:
        break;
    }
    return ok;
}
