/* evbridge registry — compatibility checker: keyword classes, local reference resolution,
 * instance-type masks and structural equality of subschemas.
 *
 * References are resolved inside one document only: "#", "#/json/pointer" (RFC 6901, with
 * percent-decoding), "#name" ($anchor, or $dynamicAnchor for $dynamicRef, resolved
 * statically), and "<root $id>#..." . Anything else is remote: two remote references are
 * taken as equal only when their texts are. Embedded resources ($id on a subschema) do not
 * change the base here; pointers are always from the document root.
 */
#include "registry/compat_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const CONSTRAINTS[] = {
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
    "required",
    "dependentRequired",
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "dependentSchemas",
    "dependencies",
    "items",
    "prefixItems",
    "additionalItems",
    "contains",
    "unevaluatedItems",
    "unevaluatedProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "$ref",
    "$dynamicRef",
    NULL,
};

bool cmp_is_constraint(const char *kw, unsigned flags)
{
    if (strcmp(kw, "format") == 0)
        return (flags & EVB_COMPAT_FORMAT_ASSERT) != 0;
    for (size_t i = 0; CONSTRAINTS[i] != NULL; i++)
        if (strcmp(kw, CONSTRAINTS[i]) == 0)
            return true;
    return false;
}

const char *cmp_ref_of(const json_t *s, bool *dynamic)
{
    *dynamic = false;
    if (!json_is_object(s))
        return NULL;
    const json_t *r = json_object_get(s, "$ref");
    if (json_is_string(r))
        return json_string_value(r);
    r = json_object_get(s, "$dynamicRef");
    if (json_is_string(r)) {
        *dynamic = true;
        return json_string_value(r);
    }
    return NULL;
}

bool cmp_ref_only(const json_t *s, unsigned flags)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v)
    {
        (void)v;
        if (strcmp(k, "$ref") != 0 && strcmp(k, "$dynamicRef") != 0 && cmp_is_constraint(k, flags))
            return false;
    }
    return true;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes one pointer token [s, e) (percent-escapes, then ~1 and ~0) into out. */
static bool decode_token(const char *s, const char *e, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = s; p < e; p++) {
        char ch = *p;
        if (ch == '%' && e - p >= 3 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            ch = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '~' && i + 1 < n && (out[i + 1] == '0' || out[i + 1] == '1')) {
            out[j++] = out[i + 1] == '0' ? '~' : '/';
            i++;
        } else {
            out[j++] = out[i];
        }
    }
    out[j] = '\0';
    return true;
}

static const json_t *find_anchor(const json_t *s, const char *name, const char *kw, int depth)
{
    if (depth > 64)
        return NULL;
    if (json_is_object(s)) {
        const json_t *a = json_object_get(s, kw);
        if (json_is_string(a) && strcmp(json_string_value(a), name) == 0)
            return s;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)s, k, v)
        {
            if (strcmp(k, "enum") == 0 || strcmp(k, "const") == 0 || strcmp(k, "examples") == 0 ||
                strcmp(k, "default") == 0)
                continue;
            const json_t *f = find_anchor(v, name, kw, depth + 1);
            if (f != NULL)
                return f;
        }
    } else if (json_is_array(s)) {
        for (size_t i = 0; i < json_array_size(s); i++) {
            const json_t *f = find_anchor(json_array_get(s, i), name, kw, depth + 1);
            if (f != NULL)
                return f;
        }
    }
    return NULL;
}

const json_t *cmp_resolve(const json_t *doc, const char *ref, bool dynamic)
{
    const json_t *id = json_is_object(doc) ? json_object_get(doc, "$id") : NULL;
    if (ref[0] != '#' && json_is_string(id)) {
        size_t n = json_string_length(id);
        const char *ids = json_string_value(id);
        if (n > 0 && ids[n - 1] == '#')
            n--;
        if (strncmp(ref, ids, n) == 0 && (ref[n] == '#' || ref[n] == '\0'))
            ref += n;
    }
    if (ref[0] == '\0' || strcmp(ref, "#") == 0)
        return doc;
    if (ref[0] != '#')
        return NULL;
    if (ref[1] != '/')
        return find_anchor(doc, ref + 1, dynamic ? "$dynamicAnchor" : "$anchor", 0);
    const json_t *cur = doc;
    const char *p = ref + 1;
    char tok[512];
    while (*p == '/' && cur != NULL) {
        const char *s = p + 1, *e = strchr(s, '/');
        if (e == NULL)
            e = s + strlen(s);
        if (!decode_token(s, e, tok, sizeof tok))
            return NULL;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);
            cur = (*tok != '\0' && *end == '\0') ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
        p = e;
    }
    return cur;
}

static unsigned value_mask(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return T_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOL;
    case JSON_INTEGER:
        return T_INT;
    case JSON_REAL:
        return cmp_is_integral(v) ? T_INT : T_FRAC;
    case JSON_STRING:
        return T_STR;
    case JSON_ARRAY:
        return T_ARR;
    case JSON_OBJECT:
        return T_OBJ;
    }
    return T_ALL;
}

static unsigned type_name_mask(const char *t)
{
    static const struct {
        const char *name;
        unsigned mask;
    } N[] = {{"null", T_NULL},  {"boolean", T_BOOL}, {"integer", T_INT}, {"number", T_NUM},
             {"string", T_STR}, {"array", T_ARR},    {"object", T_OBJ}};
    for (size_t i = 0; i < sizeof N / sizeof N[0]; i++)
        if (strcmp(t, N[i].name) == 0)
            return N[i].mask;
    return 0;
}

unsigned cmp_type_kw_mask(const json_t *type)
{
    if (json_is_string(type))
        return type_name_mask(json_string_value(type));
    if (json_is_array(type)) {
        unsigned m = 0;
        for (size_t i = 0; i < json_array_size(type); i++) {
            const json_t *t = json_array_get(type, i);
            if (json_is_string(t))
                m |= type_name_mask(json_string_value(t));
        }
        return m;
    }
    return T_ALL;
}

unsigned cmp_type_mask(const json_t *doc, const json_t *s, int depth, bool ref_siblings)
{
    if (json_is_false(s))
        return 0;
    if (!json_is_object(s) || depth > 16)
        return T_ALL;
    unsigned m = T_ALL;
    bool dyn;
    const char *ref = cmp_ref_of(s, &dyn);
    if (ref != NULL) {
        const json_t *t = cmp_resolve(doc, ref, dyn);
        if (t != NULL)
            m &= cmp_type_mask(doc, t, depth + 1, ref_siblings);
        if (!ref_siblings)
            return m;
    }
    const json_t *v = json_object_get(s, "type");
    if (v != NULL)
        m &= cmp_type_kw_mask(v);
    if ((v = json_object_get(s, "const")) != NULL)
        m &= value_mask(v);
    if (json_is_array(v = json_object_get(s, "enum"))) {
        unsigned e = 0;
        for (size_t i = 0; i < json_array_size(v); i++)
            e |= value_mask(json_array_get(v, i));
        m &= e;
    }
    static const char *const UNIONS[] = {"anyOf", "oneOf"};
    for (size_t u = 0; u < 2; u++) {
        if (json_is_array(v = json_object_get(s, UNIONS[u])) && json_array_size(v) > 0) {
            unsigned e = 0;
            for (size_t i = 0; i < json_array_size(v); i++)
                e |= cmp_type_mask(doc, json_array_get(v, i), depth + 1, ref_siblings);
            m &= e;
        }
    }
    if (json_is_array(v = json_object_get(s, "allOf")))
        for (size_t i = 0; i < json_array_size(v); i++)
            m &= cmp_type_mask(doc, json_array_get(v, i), depth + 1, ref_siblings);
    return m;
}

/* ---- structural equality ---- */

typedef struct eq_frame {
    const json_t *r, *w;
    const struct eq_frame *up;
} eq_frame;

static bool eq(cmp_ctx *c, const json_t *r, const json_t *w, const eq_frame *up, int depth);

static bool eq_map(cmp_ctx *c, const json_t *r, const json_t *w, const eq_frame *f, int depth)
{
    if (!json_is_object(r) || !json_is_object(w))
        return cmp_value_equal(r, w);
    if (json_object_size(r) != json_object_size(w))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)r, k, v)
    {
        const json_t *wv = json_object_get(w, k);
        if (wv == NULL)
            return false;
        /* "dependencies" values may be name arrays */
        if (json_is_array(v) ? !cmp_value_equal(v, wv) : !eq(c, v, wv, f, depth + 1))
            return false;
    }
    return true;
}

static bool eq_list(cmp_ctx *c, const json_t *r, const json_t *w, const eq_frame *f, int depth)
{
    if (!json_is_array(r) || !json_is_array(w) || json_array_size(r) != json_array_size(w))
        return false;
    for (size_t i = 0; i < json_array_size(r); i++)
        if (!eq(c, json_array_get(r, i), json_array_get(w, i), f, depth + 1))
            return false;
    return true;
}

static bool eq_keyword(cmp_ctx *c, const char *k, const json_t *rv, const json_t *wv,
                       const eq_frame *f, int depth)
{
    static const char *const MAPS[] = {"properties", "patternProperties", "dependentSchemas",
                                       "dependencies", NULL};
    static const char *const LISTS[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
    static const char *const ONE[] = {"additionalProperties",
                                      "items",
                                      "additionalItems",
                                      "contains",
                                      "propertyNames",
                                      "unevaluatedItems",
                                      "unevaluatedProperties",
                                      "not",
                                      "if",
                                      "then",
                                      "else",
                                      NULL};
    if (strcmp(k, "type") == 0)
        return cmp_type_kw_mask(rv) == cmp_type_kw_mask(wv);
    for (size_t i = 0; MAPS[i] != NULL; i++)
        if (strcmp(k, MAPS[i]) == 0)
            return eq_map(c, rv, wv, f, depth);
    for (size_t i = 0; LISTS[i] != NULL; i++)
        if (strcmp(k, LISTS[i]) == 0)
            return eq_list(c, rv, wv, f, depth);
    for (size_t i = 0; ONE[i] != NULL; i++)
        if (strcmp(k, ONE[i]) == 0)
            return json_is_array(rv) ? eq_list(c, rv, wv, f, depth) : eq(c, rv, wv, f, depth + 1);
    return cmp_value_equal(rv, wv);
}

static size_t count_constraints(const json_t *s, unsigned flags)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v)
    {
        (void)v;
        if (cmp_is_constraint(k, flags) && strcmp(k, "$ref") != 0 && strcmp(k, "$dynamicRef") != 0)
            n++;
    }
    return n;
}

static bool eq(cmp_ctx *c, const json_t *r, const json_t *w, const eq_frame *up, int depth)
{
    if (depth > 128)
        return false;
    if (json_is_boolean(r) || json_is_boolean(w)) {
        if (json_is_boolean(r) && json_is_boolean(w))
            return json_is_true(r) == json_is_true(w);
        const json_t *obj = json_is_boolean(r) ? w : r;
        const json_t *b = json_is_boolean(r) ? r : w;
        return json_is_true(b) && json_is_object(obj) && count_constraints(obj, c->flags) == 0 &&
               !json_object_get(obj, "$ref") && !json_object_get(obj, "$dynamicRef");
    }
    if (!json_is_object(r) || !json_is_object(w))
        return cmp_value_equal(r, w);
    for (const eq_frame *f = up; f != NULL; f = f->up)
        if (f->r == r && f->w == w)
            return true; /* coinductive: already being compared */
    eq_frame me = {r, w, up};
    bool rd, wd;
    const char *rref = cmp_ref_of(r, &rd), *wref = cmp_ref_of(w, &wd);
    if (rref != NULL || wref != NULL) {
        const json_t *rt = rref ? cmp_resolve(c->rdoc, rref, rd) : NULL;
        const json_t *wt = wref ? cmp_resolve(c->wdoc, wref, wd) : NULL;
        if (rref != NULL && wref != NULL && rt == NULL && wt == NULL) {
            if (strcmp(rref, wref) != 0 || rd != wd)
                return false;
        } else if (rref != NULL && wref != NULL) {
            if (rt == NULL || wt == NULL || !eq(c, rt, wt, &me, depth + 1))
                return false;
        } else if (rref != NULL) { /* only r refers: w must equal target + siblings */
            return rt != NULL && count_constraints(r, c->flags) == 0 &&
                   eq(c, rt, w, &me, depth + 1);
        } else {
            return wt != NULL && count_constraints(w, c->flags) == 0 &&
                   eq(c, r, wt, &me, depth + 1);
        }
    }
    if (count_constraints(r, c->flags) != count_constraints(w, c->flags))
        return false;
    const char *k;
    json_t *rv;
    json_object_foreach((json_t *)r, k, rv)
    {
        if (!cmp_is_constraint(k, c->flags) || strcmp(k, "$ref") == 0 ||
            strcmp(k, "$dynamicRef") == 0)
            continue;
        const json_t *wv = json_object_get(w, k);
        if (wv == NULL || !eq_keyword(c, k, rv, wv, &me, depth))
            return false;
    }
    return true;
}

bool cmp_schema_equal(cmp_ctx *c, const json_t *r, const json_t *w)
{
    if (r == NULL || w == NULL)
        return r == w;
    return eq(c, r, w, NULL, 0);
}
