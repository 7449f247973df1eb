/* evbridge registry — compiling keyword values into an snode.
 *
 * One function per keyword family (validation: type/enum/const, numbers, strings, arrays,
 * objects; applicators; references), each checking the value's shape against the dialect's
 * meta-schema rules and failing with the keyword's location. Unknown keywords are ignored,
 * as the specification requires. Keyword sets per dialect: draft-04/06/07 validation specs
 * and 2020-12 core + validation (https://json-schema.org/draft/2020-12/json-schema-core).
 */
#include "registry/compile_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IS_2020(l) ((l)->dialect == EVB_SCHEMA_DRAFT2020_12)
#define VOC(l, bit) (!IS_2020(l) || ((l)->vocab & (bit)))

typedef struct kctx {
    cctx *c;
    snode *n;
    const evb_json *v;
    const loc *l;
    char path[320];
} kctx;

static const char *kpath(kctx *k, const char *kw)
{
    snprintf(k->path, sizeof k->path, "%s/%s", k->l->path, kw);
    return k->path;
}

static bool bad(kctx *k, const char *kw, const char *what)
{
    return cfail(k->c, EVB_ERR_INVALID, kpath(k, kw), "\"%s\" must be %s", kw, what);
}

/* Non-negative integer keyword: false on error; *present tells if it was there. */
static bool get_count(kctx *k, const char *kw, uint64_t *out, unsigned bit)
{
    const evb_json *x = evb_json_get(k->v, kw);
    if (x == NULL)
        return true;
    if (!evb_json_is_number(x) || !evb_json_is_integral(x) || evb_json_number(x) < 0)
        return bad(k, kw, "a non-negative integer");
    double d = evb_json_number(x);
    *out = d >= 1.8e19 ? UINT64_MAX : (uint64_t)d;
    k->n->has |= bit;
    return true;
}

static bool get_bound(kctx *k, const char *kw, long double *out, unsigned bit)
{
    const evb_json *x = evb_json_get(k->v, kw);
    if (x == NULL)
        return true;
    if (!evb_json_is_number(x))
        return bad(k, kw, "a number");
    *out = evb_json_number_ld(x);
    k->n->has |= bit;
    return true;
}

static bool compile_type(kctx *k)
{
    static const struct {
        const char *name;
        unsigned bit;
    } T[] = {{"null", T_NULL},      {"boolean", T_BOOLEAN}, {"object", T_OBJECT},
             {"array", T_ARRAY},    {"number", T_NUMBER},   {"string", T_STRING},
             {"integer", T_INTEGER}};
    const evb_json *t = evb_json_get(k->v, "type");
    if (t == NULL)
        return true;
    size_t n = evb_json_typeof(t) == EVB_JSON_ARRAY ? evb_json_size(t) : 1;
    for (size_t i = 0; i < n; i++) {
        const evb_json *e = evb_json_typeof(t) == EVB_JSON_ARRAY ? evb_json_at(t, i) : t;
        const char *s = evb_json_string(e, NULL);
        bool found = false;
        for (size_t j = 0; s != NULL && j < sizeof T / sizeof T[0]; j++)
            if (strcmp(s, T[j].name) == 0) {
                k->n->types |= T[j].bit;
                found = true;
            }
        if (!found)
            return bad(k, "type", "a type name or an array of type names");
    }
    k->n->has |= H_TYPE;
    return true;
}

static bool compile_validation(kctx *k)
{
    snode *n = k->n;
    if (!compile_type(k))
        return false;
    n->enumv = evb_json_get(k->v, "enum");
    if (n->enumv != NULL && evb_json_typeof(n->enumv) != EVB_JSON_ARRAY)
        return bad(k, "enum", "an array");
    if (k->l->dialect != EVB_SCHEMA_DRAFT4)
        n->konst = evb_json_get(k->v, "const");
    if (!get_bound(k, "minimum", &n->minimum, H_MINIMUM) ||
        !get_bound(k, "maximum", &n->maximum, H_MAXIMUM))
        return false;
    if (k->l->dialect == EVB_SCHEMA_DRAFT4) {
        const evb_json *x;
        if ((x = evb_json_get(k->v, "exclusiveMinimum")) != NULL && evb_json_bool(x) &&
            (n->has & H_MINIMUM)) {
            n->has = (n->has & ~(unsigned)H_MINIMUM) | H_EXMIN;
            n->exmin = n->minimum;
        }
        if ((x = evb_json_get(k->v, "exclusiveMaximum")) != NULL && evb_json_bool(x) &&
            (n->has & H_MAXIMUM)) {
            n->has = (n->has & ~(unsigned)H_MAXIMUM) | H_EXMAX;
            n->exmax = n->maximum;
        }
    } else if (!get_bound(k, "exclusiveMinimum", &n->exmin, H_EXMIN) ||
               !get_bound(k, "exclusiveMaximum", &n->exmax, H_EXMAX)) {
        return false;
    }
    const evb_json *mo = evb_json_get(k->v, "multipleOf");
    if (mo != NULL) {
        bool neg;
        if (!evb_json_is_number(mo) || evb_json_number(mo) <= 0 ||
            !evb_json_decimal(evb_json_number(mo), &n->mo_mant, &n->mo_exp, &neg))
            return bad(k, "multipleOf", "a number greater than 0");
        if (evb_json_typeof(mo) == EVB_JSON_INTEGER) {
            n->mo_mant = (uint64_t)evb_json_int(mo);
            n->mo_exp = 0;
            while (n->mo_mant % 10 == 0) {
                n->mo_mant /= 10;
                n->mo_exp++;
            }
        }
        n->mo_d = evb_json_number(mo);
        n->has |= H_MULTIPLE;
    }
    if (!get_count(k, "minLength", &n->min_len, H_MINLEN) ||
        !get_count(k, "maxLength", &n->max_len, H_MAXLEN) ||
        !get_count(k, "minItems", &n->min_items, H_MINITEMS) ||
        !get_count(k, "maxItems", &n->max_items, H_MAXITEMS) ||
        !get_count(k, "minProperties", &n->min_props, H_MINPROPS) ||
        !get_count(k, "maxProperties", &n->max_props, H_MAXPROPS))
        return false;
    if (IS_2020(k->l) && (!get_count(k, "minContains", &n->min_contains, H_MINCONTAINS) ||
                          !get_count(k, "maxContains", &n->max_contains, H_MAXCONTAINS)))
        return false;
    const evb_json *u = evb_json_get(k->v, "uniqueItems");
    if (u != NULL && evb_json_typeof(u) != EVB_JSON_BOOL)
        return bad(k, "uniqueItems", "a boolean");
    n->unique = u != NULL && evb_json_bool(u);
    n->required = evb_json_get(k->v, "required");
    if (n->required != NULL) {
        if (evb_json_typeof(n->required) != EVB_JSON_ARRAY)
            return bad(k, "required", "an array of strings");
        for (size_t i = 0; i < evb_json_size(n->required); i++)
            if (evb_json_typeof(evb_json_at(n->required, i)) != EVB_JSON_STRING)
                return bad(k, "required", "an array of strings");
    }
    return true;
}

static bool add_regex(kctx *k, const char *kw, const char *src, size_t len, evb_regex **out)
{
    char msg[160];
    evb_regex *re = regex_compile(src, len, msg, sizeof msg);
    if (re == NULL)
        return cfail(k->c, EVB_ERR_INVALID, kpath(k, kw), "invalid regular expression \"%s\": %s",
                     src, msg);
    regex_list *rl = arena_alloc(&k->c->s->mem, sizeof *rl);
    if (rl == NULL) {
        regex_free(re);
        return cfail(k->c, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    rl->re = re;
    rl->next = k->c->s->regexes;
    k->c->s->regexes = rl;
    k->c->s->uses_regex = true;
    *out = re;
    return true;
}

static bool compile_string_kw(kctx *k)
{
    const evb_json *p = VOC(k->l, VOC_VALIDATION) ? evb_json_get(k->v, "pattern") : NULL;
    if (p != NULL) {
        size_t len;
        const char *src = evb_json_string(p, &len);
        if (src == NULL)
            return bad(k, "pattern", "a string");
        if (!add_regex(k, "pattern", src, len, &k->n->pattern))
            return false;
        k->n->pattern_simple = regex_simple_of(k->n->pattern);
        k->n->pattern_src = src;
    }
    const evb_json *f = evb_json_get(k->v, "format");
    if (f != NULL && evb_json_string(f, NULL) != NULL &&
        (k->c->s->flags & EVB_SCHEMA_FORMAT_ASSERT) && VOC(k->l, VOC_FORMAT)) {
        k->n->format_name = evb_json_string(f, NULL);
        k->n->format = fmt_lookup(k->n->format_name);
        if (k->n->format == FMT_REGEX)
            k->c->s->uses_regex = true;
    }
    return true;
}

static snode *child(kctx *k, const evb_json *x, const char *kw, const char *key)
{
    return compile_child(k->c, x, k->l, kw, key);
}

static bool one(kctx *k, const char *kw, snode **out)
{
    const evb_json *x = evb_json_get(k->v, kw);
    if (x == NULL)
        return true;
    *out = child(k, x, kw, NULL);
    return *out != NULL;
}

static bool list(kctx *k, const char *kw, snode ***out, size_t *n_out)
{
    const evb_json *x = evb_json_get(k->v, kw);
    if (x == NULL)
        return true;
    if (evb_json_typeof(x) != EVB_JSON_ARRAY || evb_json_size(x) == 0)
        return bad(k, kw, "a non-empty array of schemas");
    size_t n = evb_json_size(x);
    *out = arena_alloc(&k->c->s->mem, n * sizeof **out);
    if (*out == NULL)
        return cfail(k->c, EVB_ERR_NOMEM, NULL, "out of memory");
    char idx[24];
    for (size_t i = 0; i < n; i++) {
        snprintf(idx, sizeof idx, "%zu", i);
        if (((*out)[i] = child(k, evb_json_at(x, i), kw, idx)) == NULL)
            return false;
    }
    *n_out = n;
    return true;
}

static int named_cmp(const void *a, const void *b)
{
    const named_node *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static bool named(kctx *k, const char *kw, named_node **out, size_t *n_out)
{
    const evb_json *x = evb_json_get(k->v, kw);
    if (x == NULL)
        return true;
    if (evb_json_typeof(x) != EVB_JSON_OBJECT)
        return bad(k, kw, "an object of schemas");
    size_t n = evb_json_size(x);
    *out = arena_alloc(&k->c->s->mem, (n ? n : 1) * sizeof **out);
    if (*out == NULL)
        return cfail(k->c, EVB_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        named_node *e = &(*out)[i];
        e->key = evb_json_key_at(x, i, &e->klen);
        if ((e->node = child(k, evb_json_value_at(x, i), kw, e->key)) == NULL)
            return false;
    }
    qsort(*out, n, sizeof **out, named_cmp);
    *n_out = n;
    return true;
}

static bool compile_deps(kctx *k, const char *kw, bool schemas, bool names)
{
    const evb_json *x = evb_json_get(k->v, kw);
    if (x == NULL)
        return true;
    if (evb_json_typeof(x) != EVB_JSON_OBJECT)
        return bad(k, kw, "an object");
    size_t n = evb_json_size(x);
    snode *nd = k->n;
    if (names)
        nd->dep_req = arena_alloc(&k->c->s->mem, (n ? n : 1) * sizeof *nd->dep_req);
    if (schemas)
        nd->dep_schemas = arena_alloc(&k->c->s->mem, (n ? n : 1) * sizeof *nd->dep_schemas);
    if ((names && nd->dep_req == NULL) || (schemas && nd->dep_schemas == NULL))
        return cfail(k->c, EVB_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t kl;
        const char *key = evb_json_key_at(x, i, &kl);
        const evb_json *val = evb_json_value_at(x, i);
        if (names && evb_json_typeof(val) == EVB_JSON_ARRAY) {
            for (size_t j = 0; j < evb_json_size(val); j++)
                if (evb_json_typeof(evb_json_at(val, j)) != EVB_JSON_STRING)
                    return bad(k, kw, "an object of string arrays");
            nd->dep_req[nd->n_dep_req++] = (dep_req){.key = key, .klen = kl, .names = val};
            nd->dep_req_kw = kw;
        } else if (schemas) {
            named_node *e = &nd->dep_schemas[nd->n_dep_schemas++];
            *e = (named_node){.key = key, .klen = kl, .node = child(k, val, kw, key)};
            if (e->node == NULL)
                return false;
            nd->dep_schemas_kw = kw;
        } else {
            return bad(k, kw, "an object of string arrays");
        }
    }
    return true;
}

static bool compile_items(kctx *k)
{
    snode *n = k->n;
    if (IS_2020(k->l)) {
        n->prefix_kw = "prefixItems";
        n->items_kw = "items";
        return list(k, "prefixItems", &n->prefix, &n->n_prefix) && one(k, "items", &n->items);
    }
    const evb_json *it = evb_json_get(k->v, "items");
    if (it != NULL && evb_json_typeof(it) == EVB_JSON_ARRAY) {
        n->prefix_kw = "items";
        n->items_kw = "additionalItems";
        if (evb_json_size(it) == 0) {
            n->prefix = NULL;
            n->n_prefix = 0;
        } else if (!list(k, "items", &n->prefix, &n->n_prefix)) {
            return false;
        }
        return one(k, "additionalItems", &n->items);
    }
    n->items_kw = "items";
    return one(k, "items", &n->items);
}

static bool compile_applicators(kctx *k)
{
    snode *n = k->n;
    const loc *l = k->l;
    if (!compile_items(k) || !named(k, "properties", &n->props, &n->n_props) ||
        !one(k, "additionalProperties", &n->additional) || !one(k, "not", &n->not_) ||
        !list(k, "allOf", &n->all_of, &n->n_all) || !list(k, "anyOf", &n->any_of, &n->n_any) ||
        !list(k, "oneOf", &n->one_of, &n->n_one))
        return false;
    const evb_json *pp = evb_json_get(k->v, "patternProperties");
    if (pp != NULL) {
        if (evb_json_typeof(pp) != EVB_JSON_OBJECT)
            return bad(k, "patternProperties", "an object of schemas");
        n->n_patprops = evb_json_size(pp);
        n->patprops = arena_alloc(&k->c->s->mem, (n->n_patprops + 1) * sizeof *n->patprops);
        if (n->patprops == NULL)
            return cfail(k->c, EVB_ERR_NOMEM, NULL, "out of memory");
        for (size_t i = 0; i < n->n_patprops; i++) {
            size_t kl;
            pat_node *e = &n->patprops[i];
            e->src = evb_json_key_at(pp, i, &kl);
            if (!add_regex(k, "patternProperties", e->src, kl, &e->re) ||
                (e->node = child(k, evb_json_value_at(pp, i), "patternProperties", e->src)) == NULL)
                return false;
        }
    }
    if (l->dialect != EVB_SCHEMA_DRAFT4 &&
        (!one(k, "contains", &n->contains) || !one(k, "propertyNames", &n->prop_names)))
        return false;
    if ((l->dialect == EVB_SCHEMA_DRAFT7 || IS_2020(l)) &&
        (!one(k, "if", &n->if_) || !one(k, "then", &n->then_) || !one(k, "else", &n->else_)))
        return false;
    if (IS_2020(l))
        return compile_deps(k, "dependentSchemas", true, false);
    return compile_deps(k, "dependencies", true, true);
}

static bool compile_ref(kctx *k, const char *kw, int kind)
{
    const evb_json *r = evb_json_get(k->v, kw);
    if (r == NULL)
        return true;
    if (evb_json_string(r, NULL) == NULL)
        return bad(k, kw, "a string");
    return queue(k->c, kind, k->n, evb_json_string(r, NULL), k->l, NULL);
}

bool keywords_compile(cctx *c, snode *n, const evb_json *v, const loc *l)
{
    kctx k = {.c = c, .n = n, .v = v, .l = l};
    if (!compile_ref(&k, "$ref", P_REF))
        return false;
    if (!IS_2020(l) && evb_json_get(v, "$ref") != NULL)
        return true; /* drafts 4-7: $ref overrides every sibling keyword */
    if (IS_2020(l) && !compile_ref(&k, "$dynamicRef", P_DYNREF))
        return false;
    if (VOC(l, VOC_VALIDATION) && !compile_validation(&k))
        return false;
    if (!compile_string_kw(&k))
        return false;
    if (VOC(l, VOC_APPLICATOR) && !compile_applicators(&k))
        return false;
    if (IS_2020(l) && VOC(l, VOC_VALIDATION) && !compile_deps(&k, "dependentRequired", false, true))
        return false;
    if (IS_2020(l) && VOC(l, VOC_UNEVALUATED) &&
        (!one(&k, "unevaluatedItems", &n->uneval_items) ||
         !one(&k, "unevaluatedProperties", &n->uneval_props)))
        return false;
    return true;
}
