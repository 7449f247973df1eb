/* evbridge registry — compatibility checker: array keywords and the combinators.
 *
 * Arrays: position i is governed by the tuple (prefixItems, or an items array in drafts
 * before 2020-12) when it has an entry i, else by the rest schema (items, or
 * additionalItems); each position the writer can fill is compared.
 *
 * Combinators, reader side (the writer's are constraints on what it wrote: ignoring them is
 * only conservative): allOf — every reader branch must accept the writer; anyOf — each
 * writer branch (or the whole writer) must be accepted by some reader branch; oneOf — as
 * anyOf when the reader's branches admit disjoint instance types, else identical or
 * unprovable; not — identical, or type-disjoint from the writer; if/then/else — same `if`
 * then branch by branch, else both branches must accept the writer. Whatever is left is
 * reported as "could not be proven compatible".
 */
#include "registry/compat_int.h"

#include <string.h>

typedef struct arr_shape {
    const json_t *tuple; /* array or NULL */
    const json_t *rest;  /* schema or NULL (anything) */
    const char *tuple_kw, *rest_kw;
} arr_shape;

static bool simple_items(const json_t *s)
{
    static const char *const A[] = {"allOf", "anyOf",       "oneOf",    "if",
                                    "$ref",  "$dynamicRef", "contains", NULL};
    for (size_t i = 0; A[i] != NULL; i++)
        if (json_object_get(s, A[i]) != NULL)
            return false;
    return true;
}

static arr_shape shape_of(const json_t *s)
{
    arr_shape a = {NULL, NULL, "prefixItems", "items"};
    const json_t *pi = json_object_get(s, "prefixItems"), *it = json_object_get(s, "items");
    if (json_is_array(pi)) {
        a.tuple = pi;
        a.rest = it;
    } else if (json_is_array(it)) {
        a.tuple = it;
        a.tuple_kw = "items";
        a.rest = json_object_get(s, "additionalItems");
        a.rest_kw = "additionalItems";
    } else {
        a.rest = it;
    }
    if (a.rest == NULL && simple_items(s)) {
        const json_t *u = json_object_get(s, "unevaluatedItems");
        if (u != NULL) {
            a.rest = u;
            a.rest_kw = "unevaluatedItems";
        }
    }
    return a;
}

static void contains(cmp_ctx *c, const json_t *r, const json_t *w)
{
    const json_t *rc = json_object_get(r, "contains"), *wc = json_object_get(w, "contains");
    if (rc == NULL)
        return;
    const json_t *rmin = json_object_get(r, "minContains");
    bool needs_one = !(json_is_integer(rmin) && json_integer_value(rmin) == 0);
    if (wc == NULL) {
        if (needs_one && !cmp_accepts(c, rc, c->empty))
            cmp_unprovable(c, "contains", false);
    } else {
        cmp_sub(c, "contains", rc, wc);
    }
    if (json_object_get(r, "minContains") != NULL)
        cmp_count_bound(c, r, w, "minContains", false);
    if (json_object_get(r, "maxContains") != NULL) {
        if (wc == NULL || !cmp_schema_equal(c, rc, wc))
            cmp_unprovable(c, "maxContains", wc != NULL);
        else
            cmp_count_bound(c, r, w, "maxContains", true);
    }
}

void cmp_array(cmp_ctx *c, const json_t *r, const json_t *w)
{
    arr_shape ra = shape_of(r), wa = shape_of(w);
    size_t nr = json_array_size(ra.tuple), nw = json_array_size(wa.tuple);
    size_t n = nr > nw ? nr : nw;
    for (size_t i = 0; i < n; i++) {
        const json_t *wi = i < nw ? json_array_get(wa.tuple, i) : wa.rest;
        if (i < nr) {
            size_t mark = cmp_path_push(c, ra.tuple_kw);
            cmp_path_push_index(c, i);
            cmp_schema(c, json_array_get(ra.tuple, i), wi);
            cmp_path_pop(c, mark);
        } else if (ra.rest != NULL) {
            cmp_sub(c, ra.rest_kw, ra.rest, wi);
        }
    }
    if (ra.rest != NULL)
        cmp_sub(c, ra.rest_kw, ra.rest, wa.rest);
    const json_t *ru = json_object_get(r, "unevaluatedItems");
    if (ru != NULL && !json_is_true(ru) && ra.rest != ru && !cmp_schema_equal(c, r, w))
        cmp_unprovable(c, "unevaluatedItems", json_object_get(w, "unevaluatedItems") != NULL);
    cmp_count_bound(c, r, w, "maxItems", true);
    cmp_count_bound(c, r, w, "minItems", false);
    const json_t *ru2 = json_object_get(r, "uniqueItems"), *wu = json_object_get(w, "uniqueItems");
    if (json_is_true(ru2) && !json_is_true(wu))
        cmp_emit_change(c, "uniqueItems", ru2, wu);
    contains(c, r, w);
}

/* ---- combinators ---- */

static const json_t *list_of(const json_t *s, const char *kw)
{
    const json_t *v = json_object_get(s, kw);
    return json_is_array(v) && json_array_size(v) > 0 ? v : NULL;
}

static void all_of(cmp_ctx *c, const json_t *ra, const json_t *w)
{
    const json_t *wa = list_of(w, "allOf");
    for (size_t i = 0; i < json_array_size(ra); i++) {
        const json_t *ri = json_array_get(ra, i);
        bool ok = false;
        for (size_t j = 0; j < json_array_size(wa) && !ok; j++)
            ok = cmp_schema_equal(c, ri, json_array_get(wa, j)) ||
                 cmp_accepts(c, ri, json_array_get(wa, j));
        if (ok || cmp_accepts(c, ri, w))
            continue;
        /* report concretely: against the writer's branch in the same place, if any */
        size_t mark = cmp_path_push(c, "allOf");
        cmp_path_push_index(c, i);
        cmp_schema(c, ri, i < json_array_size(wa) ? json_array_get(wa, i) : w);
        cmp_path_pop(c, mark);
    }
}

/* Does some branch of list accept w? */
static bool some_branch(cmp_ctx *c, const json_t *list, const json_t *w)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (cmp_accepts(c, json_array_get(list, i), w))
            return true;
    return false;
}

static void any_of(cmp_ctx *c, const char *kw, const json_t *rl, const json_t *w)
{
    const json_t *wl = list_of(w, "anyOf");
    if (wl == NULL)
        wl = list_of(w, "oneOf");
    if (wl != NULL) {
        for (size_t j = 0; j < json_array_size(wl); j++) {
            if (some_branch(c, rl, json_array_get(wl, j)))
                continue;
            cmp_emit(c, kw,
                     "no branch accepts branch %zu of the %s schema; could not be "
                     "proven compatible",
                     j, c->fwd ? "newer" : "older");
        }
        return;
    }
    if (!some_branch(c, rl, w))
        cmp_emit(c, kw,
                 "no branch accepts everything the %s schema allows; could not be "
                 "proven compatible",
                 c->fwd ? "newer" : "older");
}

static bool branches_disjoint(cmp_ctx *c, const json_t *list)
{
    unsigned seen = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        unsigned m = cmp_type_mask(c->rdoc, json_array_get(list, i), 0, false);
        if (seen & m)
            return false;
        seen |= m;
    }
    return true;
}

static void if_then_else(cmp_ctx *c, const json_t *r, const json_t *w)
{
    const json_t *ri = json_object_get(r, "if");
    const json_t *rt = json_object_get(r, "then"), *re = json_object_get(r, "else");
    if (ri == NULL || (rt == NULL && re == NULL))
        return;
    const json_t *wi = json_object_get(w, "if");
    if (wi != NULL && cmp_schema_equal(c, ri, wi)) {
        const json_t *wt = json_object_get(w, "then"), *we = json_object_get(w, "else");
        if (rt != NULL)
            cmp_sub(c, "then", rt, wt != NULL ? wt : w);
        if (re != NULL)
            cmp_sub(c, "else", re, we != NULL ? we : w);
        return;
    }
    if ((rt == NULL || cmp_accepts(c, rt, w)) && (re == NULL || cmp_accepts(c, re, w)))
        return;
    cmp_unprovable(c, "if", wi != NULL);
}

static bool lists_equal(cmp_ctx *c, const json_t *a, const json_t *b)
{
    bool same = a != NULL && b != NULL && json_array_size(a) == json_array_size(b);
    for (size_t i = 0; same && i < json_array_size(a); i++)
        same = cmp_schema_equal(c, json_array_get(a, i), json_array_get(b, i));
    return same;
}

void cmp_combinators(cmp_ctx *c, const json_t *r, const json_t *w)
{
    const json_t *l;
    if ((l = list_of(r, "allOf")) != NULL)
        all_of(c, l, w);
    if ((l = list_of(r, "anyOf")) != NULL && !lists_equal(c, l, list_of(w, "anyOf")))
        any_of(c, "anyOf", l, w);
    if ((l = list_of(r, "oneOf")) != NULL) {
        const json_t *wl = list_of(w, "oneOf");
        if (!lists_equal(c, l, wl)) {
            if (branches_disjoint(c, l))
                any_of(c, "oneOf", l, w);
            else
                cmp_unprovable(c, "oneOf", wl != NULL);
        }
    }
    const json_t *rn = json_object_get(r, "not");
    if (rn != NULL) {
        const json_t *wn = json_object_get(w, "not");
        unsigned wm = cmp_type_mask(c->wdoc, w, 0, c->w_ref_siblings);
        bool ok = (wn != NULL && cmp_schema_equal(c, rn, wn)) ||
                  (wm & cmp_type_mask(c->rdoc, rn, 0, false)) == 0;
        if (!ok)
            cmp_unprovable(c, "not", wn != NULL);
    }
    if_then_else(c, r, w);
}
