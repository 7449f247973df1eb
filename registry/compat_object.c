/* evbridge registry — compatibility checker: object keywords.
 *
 * A property name is governed, on each side, by `properties` when listed there, else by every
 * matching `patternProperties` entry, else by `additionalProperties` (absent = anything: an
 * open content model). So for each name one side lists, the reader's governing schema must
 * accept the writer's: a property added to an open model must accept anything, one dropped
 * from a closed model breaks old data, and so on. `required` may grow only with defaults
 * (the reader fills them in). `unevaluatedProperties` is treated as additionalProperties when
 * no in-place applicator could evaluate properties, else compared conservatively.
 */
#include "registry/compat_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

/* 1: name matches pattern, 0: it does not, -1: the pattern does not compile. */
static int pattern_match(const char *pattern, const char *name)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
    if (re == NULL)
        return -1;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = md ? pcre2_match(re, (PCRE2_SPTR)name, strlen(name), 0, 0, md, NULL) : -1;
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static bool has_applicators(const json_t *s)
{
    static const char *const A[] = {
        "allOf",        "anyOf", "oneOf", "if", "$ref", "$dynamicRef", "dependentSchemas",
        "dependencies", NULL};
    for (size_t i = 0; A[i] != NULL; i++)
        if (json_object_get(s, A[i]) != NULL)
            return true;
    return false;
}

/* additionalProperties, or unevaluatedProperties where it means the same; *kw its name. */
static const json_t *additional(const json_t *s, const char **kw)
{
    *kw = "additionalProperties";
    const json_t *a = json_object_get(s, "additionalProperties");
    if (a != NULL)
        return a;
    const json_t *u = json_object_get(s, "unevaluatedProperties");
    if (u != NULL && !has_applicators(s)) {
        *kw = "unevaluatedProperties";
        return u;
    }
    return NULL;
}

static bool is_open(const json_t *s)
{
    return s == NULL || json_is_true(s) || (json_is_object(s) && json_object_size(s) == 0);
}

/* The writer's schema for a name it does not list: a matching pattern's, else its additional
 * properties schema (NULL = anything). */
static const json_t *writer_for(const json_t *w, const char *name)
{
    const json_t *pp = json_object_get(w, "patternProperties");
    const char *pat;
    json_t *ps;
    json_object_foreach((json_t *)pp, pat, ps)
    {
        int m = pattern_match(pat, name);
        if (m != 0)
            return m > 0 ? ps : NULL;
    }
    const char *kw;
    return additional(w, &kw);
}

static bool has_default(cmp_ctx *c, const json_t *s)
{
    for (int hops = 0; hops < 16 && json_is_object(s); hops++) {
        if (json_object_get(s, "default") != NULL)
            return true;
        bool dyn;
        const char *ref = cmp_ref_of(s, &dyn);
        if (ref == NULL)
            return false;
        s = cmp_resolve(c->rdoc, ref, dyn);
    }
    return false;
}

static void check_required(cmp_ctx *c, const json_t *r, const json_t *w)
{
    const json_t *rr = json_object_get(r, "required"), *wr = json_object_get(w, "required");
    const json_t *props = json_object_get(r, "properties");
    for (size_t i = 0; i < json_array_size(rr); i++) {
        const json_t *name = json_array_get(rr, i);
        if (!json_is_string(name))
            continue;
        bool had = false;
        for (size_t j = 0; j < json_array_size(wr) && !had; j++)
            had = json_equal(name, json_array_get(wr, j));
        if (had || has_default(c, json_object_get(props, json_string_value(name))))
            continue;
        if (c->fwd)
            cmp_emit(c, "required",
                     "\"%s\" no longer required (the older version requires it "
                     "and has no default)",
                     json_string_value(name));
        else
            cmp_emit(c, "required", "\"%s\" newly required without a default",
                     json_string_value(name));
    }
}

static void reader_props(cmp_ctx *c, const json_t *r, const json_t *w)
{
    const json_t *rp = json_object_get(r, "properties"), *wp = json_object_get(w, "properties");
    const char *name;
    json_t *rs;
    json_object_foreach((json_t *)rp, name, rs)
    {
        const json_t *ws = json_object_get(wp, name);
        if (ws != NULL) {
            cmp_sub2(c, "properties", name, rs, ws);
            continue;
        }
        const json_t *wsub = writer_for(w, name);
        if (json_is_false(wsub))
            continue; /* the writer never wrote it */
        if (!is_open(wsub)) {
            cmp_sub2(c, "properties", name, rs, wsub);
        } else if (!cmp_accepts(c, rs, c->empty)) {
            size_t mark = cmp_path_push(c, "properties");
            cmp_emit(c, name,
                     c->fwd ? "property removed from an open content model"
                            : "property added to an open content model");
            cmp_path_pop(c, mark);
        }
    }
}

static void writer_props(cmp_ctx *c, const json_t *r, const json_t *w)
{
    const json_t *rp = json_object_get(r, "properties"), *wp = json_object_get(w, "properties");
    const json_t *rpp = json_object_get(r, "patternProperties");
    const char *akw;
    const json_t *ra = additional(r, &akw);
    const char *name;
    json_t *ws;
    const json_t *wpp = json_object_get(w, "patternProperties");
    json_object_foreach((json_t *)wp, name, ws)
    {
        if (json_is_false(ws))
            continue;
        /* reader patterns apply to listed names too; a pattern both sides have is compared
         * pattern to pattern (the writer's value satisfies its own pattern schema) */
        bool matched = false;
        const char *pat;
        json_t *ps;
        json_object_foreach((json_t *)rpp, pat, ps)
        {
            int m = pattern_match(pat, name);
            if (m < 0) {
                cmp_emit(c, NULL,
                         "patternProperties \"%s\" is not a usable pattern; could not "
                         "be proven compatible",
                         pat);
            } else if (m > 0) {
                matched = true;
                if (json_object_get(wpp, pat) == NULL)
                    cmp_sub2(c, "patternProperties", pat, ps, ws);
            }
        }
        if (json_object_get(rp, name) != NULL)
            continue;
        if (matched || ra == NULL || json_is_true(ra))
            continue;
        if (json_is_false(ra)) {
            size_t mark = cmp_path_push(c, "properties");
            cmp_emit(c, name,
                     c->fwd ? "property added, which the older closed content model "
                              "does not allow"
                            : "property removed from a closed content model");
            cmp_path_pop(c, mark);
        } else {
            cmp_sub(c, akw, ra, ws);
        }
    }
}

static void pattern_props(cmp_ctx *c, const json_t *r, const json_t *w)
{
    const json_t *rpp = json_object_get(r, "patternProperties");
    const json_t *wpp = json_object_get(w, "patternProperties");
    const char *akw, *wakw;
    const json_t *ra = additional(r, &akw), *wa = additional(w, &wakw);
    const char *pat;
    json_t *rs, *ws;
    json_object_foreach((json_t *)rpp, pat, rs)
    {
        const json_t *same = json_object_get(wpp, pat);
        if (same != NULL) {
            cmp_sub2(c, "patternProperties", pat, rs, same);
            continue;
        }
        /* names matching a new pattern came from the writer's additional properties, or
         * from any of its other patterns that may overlap */
        cmp_sub2(c, "patternProperties", pat, rs, wa);
        const char *wpat;
        json_object_foreach((json_t *)wpp, wpat, ws)
        {
            if (json_object_get(rpp, wpat) == NULL)
                cmp_sub2(c, "patternProperties", pat, rs, ws);
        }
    }
    json_object_foreach((json_t *)wpp, pat, ws)
    {
        if (json_object_get(rpp, pat) != NULL || ra == NULL || json_is_true(ra) ||
            json_is_false(ws))
            continue;
        if (json_is_false(ra)) {
            size_t mark = cmp_path_push(c, "patternProperties");
            cmp_emit(c, pat,
                     c->fwd ? "pattern added, which the older closed content model "
                              "does not allow"
                            : "pattern removed from a closed content model");
            cmp_path_pop(c, mark);
        } else {
            cmp_sub(c, akw, ra, ws);
        }
    }
    if (ra == NULL || json_is_true(ra))
        return;
    if (json_is_false(ra) && !json_is_false(wa))
        cmp_emit_change(c, akw, ra, wa != NULL ? wa : json_true());
    else
        cmp_sub(c, akw, ra, wa);
}

static bool in_list(const json_t *list, const json_t *v)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (json_equal(json_array_get(list, i), v))
            return true;
    return false;
}

/* dependentRequired (or the name-array form of dependencies) under keyword kw. */
static void dep_required(cmp_ctx *c, const char *kw, const char *key, const json_t *rnames,
                         const json_t *w)
{
    const json_t *wn = json_object_get(json_object_get(w, "dependentRequired"), key);
    if (!json_is_array(wn))
        wn = json_object_get(json_object_get(w, "dependencies"), key);
    const json_t *wreq = json_object_get(w, "required");
    for (size_t i = 0; i < json_array_size(rnames); i++) {
        const json_t *n = json_array_get(rnames, i);
        if (!json_is_string(n) || (json_is_array(wn) && in_list(wn, n)) || in_list(wreq, n))
            continue;
        size_t mark = cmp_path_push(c, kw);
        cmp_emit(c, key, "\"%s\" %s", json_string_value(n),
                 c->fwd ? "no longer required with it" : "newly required with it");
        cmp_path_pop(c, mark);
    }
}

static void dependencies(cmp_ctx *c, const json_t *r, const json_t *w)
{
    static const char *const KW[] = {"dependentRequired", "dependentSchemas", "dependencies"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *rd = json_object_get(r, KW[i]);
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)rd, key, v)
        {
            if (json_is_array(v)) {
                dep_required(c, KW[i], key, v, w);
                continue;
            }
            const json_t *ws = json_object_get(json_object_get(w, "dependentSchemas"), key);
            if (ws == NULL || json_is_array(ws))
                ws = json_object_get(json_object_get(w, "dependencies"), key);
            if (ws == NULL || json_is_array(ws))
                ws = w; /* the writer's instance satisfies the writer's whole schema */
            cmp_sub2(c, KW[i], key, v, ws);
        }
    }
}

void cmp_object(cmp_ctx *c, const json_t *r, const json_t *w)
{
    check_required(c, r, w);
    reader_props(c, r, w);
    writer_props(c, r, w);
    pattern_props(c, r, w);
    cmp_count_bound(c, r, w, "maxProperties", true);
    cmp_count_bound(c, r, w, "minProperties", false);
    const json_t *rn = json_object_get(r, "propertyNames");
    if (rn != NULL) {
        const json_t *wn = json_object_get(w, "propertyNames");
        cmp_sub(c, "propertyNames", rn, wn != NULL ? wn : c->string_schema);
    }
    dependencies(c, r, w);
    const json_t *ru = json_object_get(r, "unevaluatedProperties");
    if (ru != NULL && !json_is_true(ru) && json_object_get(r, "additionalProperties") == NULL &&
        has_applicators(r) && !cmp_schema_equal(c, r, w))
        cmp_unprovable(c, "unevaluatedProperties",
                       json_object_get(w, "unevaluatedProperties") != NULL);
}
