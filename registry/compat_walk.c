/* evbridge registry — compatibility checker: the walk over one reader/writer node pair.
 *
 * cmp_schema() first settles references (a reader $ref is compared as an extra allOf
 * branch; the writer's is replaced by its target, merged with the keywords next to it when
 * the writer's dialect applies them), then the per-node rules: type, enum/const, numeric,
 * string, array and object keywords (skipped for instance types neither side can produce),
 * the combinators, and $defs/definitions by name. Keywords the checker does not know are
 * ignored, as validators ignore them.
 */
#include "registry/compat_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmp_sub(cmp_ctx *c, const char *seg, const json_t *r, const json_t *w)
{
    size_t mark = cmp_path_push(c, seg);
    cmp_schema(c, r, w);
    cmp_path_pop(c, mark);
}

void cmp_sub2(cmp_ctx *c, const char *seg1, const char *seg2, const json_t *r, const json_t *w)
{
    size_t mark = cmp_path_push(c, seg1);
    cmp_path_push(c, seg2);
    cmp_schema(c, r, w);
    cmp_path_pop(c, mark);
}

bool cmp_accepts(cmp_ctx *c, const json_t *r, const json_t *w)
{
    size_t before = c->issues;
    c->trial++;
    cmp_schema(c, r, w);
    c->trial--;
    return c->issues == before;
}

void cmp_unprovable(cmp_ctx *c, const char *seg, bool writer_has)
{
    const char *what = writer_has ? "changed" : (c->fwd ? "removed" : "added");
    cmp_emit(c, seg, "%s; could not be proven compatible", what);
}

void cmp_emit_change(cmp_ctx *c, const char *kw, const json_t *rv, const json_t *wv)
{
    const json_t *old = c->fwd ? rv : wv, *new = c->fwd ? wv : rv;
    if (c->trial > 0) {
        c->issues++;
        return;
    }
    char *so = cmp_show(old), *sn = cmp_show(new);
    if (so == NULL || sn == NULL)
        c->err = EVB_ERR_NOMEM;
    else if (old == NULL)
        cmp_emit(c, kw, "added (%s)", sn);
    else if (new == NULL)
        cmp_emit(c, kw, "removed (was %s)", so);
    else if (json_is_number(old) && json_is_number(new) &&
             json_number_value(old) != json_number_value(new))
        cmp_emit(c, kw, "%s from %s to %s",
                 json_number_value(new) < json_number_value(old) ? "lowered" : "raised", so, sn);
    else
        cmp_emit(c, kw, "changed from %s to %s", so, sn);
    free(so);
    free(sn);
}

/* ---- bounds ---- */

typedef struct bound {
    bool has, excl;
    double v;
    const char *kw;
    const json_t *val;
} bound;

/* The tightest numeric bound of s (upper when is_max), from maximum/exclusiveMaximum (both the
 * 2020-12 number and the draft-04 boolean forms) or minimum/exclusiveMinimum. */
static bound num_bound(const json_t *s, bool is_max)
{
    const char *ikw = is_max ? "maximum" : "minimum";
    const char *xkw = is_max ? "exclusiveMaximum" : "exclusiveMinimum";
    bound b = {0};
    const json_t *in = json_object_get(s, ikw), *ex = json_object_get(s, xkw);
    if (json_is_number(in))
        b = (bound){true, json_is_true(ex), json_number_value(in), ikw, in};
    if (json_is_number(ex)) {
        double v = json_number_value(ex);
        if (!b.has || (is_max ? v <= b.v : v >= b.v))
            b = (bound){true, true, v, xkw, ex};
    }
    return b;
}

/* Reader bound rb is tighter than writer bound wb? */
static bool tighter(bound rb, bound wb, bool is_max)
{
    if (!rb.has)
        return false;
    if (!wb.has)
        return true;
    if (rb.v != wb.v)
        return is_max ? rb.v < wb.v : rb.v > wb.v;
    return rb.excl && !wb.excl;
}

static void report_bound(cmp_ctx *c, bound rb, bound wb, bool is_max)
{
    if (!tighter(rb, wb, is_max))
        return;
    if (!wb.has || rb.kw == NULL || wb.kw == NULL || strcmp(rb.kw, wb.kw) == 0) {
        cmp_emit_change(c, rb.kw, rb.val, wb.has ? wb.val : NULL);
        return;
    }
    bound ob = c->fwd ? rb : wb, nb = c->fwd ? wb : rb;
    char *so = cmp_show(ob.val), *sn = cmp_show(nb.val);
    if (so != NULL && sn != NULL)
        cmp_emit(c, nb.kw, "bound changed from %s %s to %s %s", ob.kw, so, nb.kw, sn);
    else
        c->err = EVB_ERR_NOMEM;
    free(so);
    free(sn);
}

void cmp_count_bound(cmp_ctx *c, const json_t *r, const json_t *w, const char *kw, bool is_max)
{
    const json_t *rv = json_object_get(r, kw), *wv = json_object_get(w, kw);
    bound rb = {0}, wb = {0};
    if (json_is_number(rv))
        rb = (bound){true, false, json_number_value(rv), kw, rv};
    if (json_is_number(wv))
        wb = (bound){true, false, json_number_value(wv), kw, wv};
    if (!is_max && rb.has && rb.v <= 0)
        return; /* a minimum of 0 is no bound */
    report_bound(c, rb, wb, is_max);
}

static bool is_multiple(double a, double b)
{
    if (b <= 0 || !isfinite(a) || !isfinite(b))
        return false;
    double q = a / b, rq = nearbyint(q);
    return rq >= 1 && fabs(q - rq) <= 1e-9 * fmax(1.0, fabs(q));
}

static void check_numbers(cmp_ctx *c, const json_t *r, const json_t *w, unsigned wm)
{
    report_bound(c, num_bound(r, true), num_bound(w, true), true);
    report_bound(c, num_bound(r, false), num_bound(w, false), false);
    const json_t *rm = json_object_get(r, "multipleOf"), *wmo = json_object_get(w, "multipleOf");
    if (!json_is_number(rm))
        return;
    double rv = json_number_value(rm);
    if (json_is_number(wmo) && is_multiple(json_number_value(wmo), rv))
        return;
    if (!json_is_number(wmo) && !(wm & T_FRAC) && is_multiple(1.0, rv))
        return; /* integers only, and every integer is a multiple */
    cmp_emit_change(c, "multipleOf", rm, json_is_number(wmo) ? wmo : NULL);
}

static void check_strings(cmp_ctx *c, const json_t *r, const json_t *w)
{
    cmp_count_bound(c, r, w, "maxLength", true);
    cmp_count_bound(c, r, w, "minLength", false);
    static const char *const KW[] = {"pattern", "format"};
    for (size_t i = 0; i < 2; i++) {
        if (i == 1 && !(c->flags & EVB_COMPAT_FORMAT_ASSERT))
            break;
        const json_t *rv = json_object_get(r, KW[i]), *wv = json_object_get(w, KW[i]);
        if (json_is_string(rv) && !(json_is_string(wv) && json_equal(rv, wv)))
            cmp_emit_change(c, KW[i], rv, wv);
    }
}

/* ---- type, enum, const ---- */

static void mask_names(unsigned m, char *buf, size_t cap)
{
    static const struct {
        unsigned bits;
        const char *name;
    } N[] = {{T_NULL, "null"},
             {T_BOOL, "boolean"},
             {T_NUM, "number"},
             {T_INT, "integer"},
             {T_FRAC, "non-integer number"},
             {T_STR, "string"},
             {T_ARR, "array"},
             {T_OBJ, "object"}};
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof N / sizeof N[0]; i++) {
        if ((m & N[i].bits) != N[i].bits)
            continue;
        m &= ~N[i].bits;
        int k = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", N[i].name);
        if (k < 0 || (size_t)k >= cap - len)
            return;
        len += (size_t)k;
    }
}

static void check_type(cmp_ctx *c, const json_t *r, const json_t *w, unsigned wm, unsigned rm)
{
    const json_t *rt = json_object_get(r, "type"), *wt = json_object_get(w, "type");
    unsigned bad = wm & ~rm;
    if (rt == NULL || bad == 0)
        return;
    if (wt != NULL) {
        cmp_emit_change(c, "type", rt, wt);
        return;
    }
    char names[160];
    mask_names(bad, names, sizeof names);
    char *st = cmp_show(rt);
    if (st == NULL) {
        c->err = EVB_ERR_NOMEM;
        return;
    }
    if (c->fwd)
        cmp_emit(c, "type", "removed (was %s); %s values are now accepted", st, names);
    else
        cmp_emit(c, "type", "added (%s); %s values are no longer accepted", st, names);
    free(st);
}

static bool list_has(const json_t *list, const json_t *v)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (cmp_value_equal(json_array_get(list, i), v))
            return true;
    return false;
}

static void check_values(cmp_ctx *c, const json_t *r, const json_t *w, unsigned wm)
{
    const json_t *re = json_object_get(r, "enum"), *rc = json_object_get(r, "const");
    if (!json_is_array(re))
        re = NULL;
    if (re == NULL && rc == NULL)
        return;
    /* the values the writer can produce, when finitely many */
    const json_t *wc = json_object_get(w, "const"), *we = json_object_get(w, "enum");
    json_t *vals = NULL;
    if (wc != NULL) {
        vals = json_pack("[O]", wc);
    } else if (json_is_array(we)) {
        vals = json_incref((json_t *)we);
    } else if (wm == T_NULL) {
        vals = json_pack("[n]");
    } else if (wm == T_BOOL) {
        vals = json_pack("[bb]", 1, 0);
    }
    const char *kw = re != NULL ? "enum" : "const";
    if (vals == NULL) {
        cmp_emit_change(c, kw, re != NULL ? re : rc, NULL);
        return;
    }
    json_t *missing = json_array();
    if (missing == NULL) {
        c->err = EVB_ERR_NOMEM;
        json_decref(vals);
        return;
    }
    for (size_t i = 0; i < json_array_size(vals); i++) {
        json_t *v = json_array_get(vals, i);
        if ((re != NULL && !list_has(re, v)) || (rc != NULL && !cmp_value_equal(rc, v)))
            json_array_append(missing, v);
    }
    if (json_array_size(missing) > 0) {
        if (re == NULL) {
            cmp_emit_change(c, "const", rc, wc != NULL ? wc : we);
        } else if (c->trial > 0) {
            c->issues++;
        } else {
            char *s = cmp_show(missing);
            if (s == NULL)
                c->err = EVB_ERR_NOMEM;
            else if (c->fwd)
                cmp_emit(c, "enum", "value(s) %s added", s);
            else
                cmp_emit(c, "enum", "value(s) %s removed", s);
            free(s);
        }
    }
    json_decref(missing);
    json_decref(vals);
}

/* ---- references ---- */

/* "#/$defs/<name>" or "#/definitions/<name>" that both documents define: compared by name
 * where the $defs are walked, so following it again would only repeat messages. */
static bool same_def(cmp_ctx *c, const char *rref, const char *wref)
{
    if (strcmp(rref, wref) != 0)
        return false;
    const char *rest = NULL;
    if (strncmp(rref, "#/$defs/", 8) == 0)
        rest = rref + 8;
    else if (strncmp(rref, "#/definitions/", 14) == 0)
        rest = rref + 14;
    if (rest == NULL || *rest == '\0' || strchr(rest, '/') != NULL)
        return false;
    return cmp_resolve(c->rdoc, rref, false) != NULL && cmp_resolve(c->wdoc, wref, false) != NULL;
}

/* The writer node with its references replaced by their targets. *owned receives a merged
 * object to release, if one was built. */
static const json_t *writer_effective(cmp_ctx *c, const json_t *w, json_t **owned)
{
    *owned = NULL;
    for (int hops = 0; hops < 32 && json_is_object(w); hops++) {
        bool dyn;
        const char *ref = cmp_ref_of(w, &dyn);
        if (ref == NULL)
            return w;
        const json_t *t = cmp_resolve(c->wdoc, ref, dyn);
        if (t == NULL)
            return w; /* remote: its constraints are ignored (conservative) */
        if (!json_is_object(t) || !c->w_ref_siblings || cmp_ref_only(w, c->flags)) {
            w = t;
            continue;
        }
        json_t *m = json_copy((json_t *)t);
        if (m == NULL) {
            c->err = EVB_ERR_NOMEM;
            return w;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)w, k, v)
        {
            if (strcmp(k, "$ref") != 0 && strcmp(k, "$dynamicRef") != 0 &&
                json_object_get(m, k) == NULL)
                json_object_set(m, k, v);
        }
        json_decref(*owned);
        *owned = m;
        w = m;
    }
    return w;
}

static bool stack_push(cmp_ctx *c, const json_t *r, const json_t *w)
{
    for (size_t i = 0; i < c->depth; i++)
        if (c->stack[i].r == r && c->stack[i].w == w)
            return false;
    if (c->depth == c->stack_cap) {
        size_t cap = c->stack_cap ? c->stack_cap * 2 : 32;
        cmp_pair *s = realloc(c->stack, cap * sizeof *s);
        if (s == NULL) {
            c->err = EVB_ERR_NOMEM;
            return false;
        }
        c->stack = s;
        c->stack_cap = cap;
    }
    c->stack[c->depth++] = (cmp_pair){r, w};
    return true;
}

static void compare_defs(cmp_ctx *c, const json_t *r, const json_t *w)
{
    static const char *const DEFS[] = {"$defs", "definitions"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *rd = json_object_get(r, DEFS[i]), *wd = json_object_get(w, DEFS[i]);
        if (!json_is_object(rd) || !json_is_object(wd))
            continue;
        const char *name;
        json_t *rs;
        json_object_foreach((json_t *)rd, name, rs)
        {
            const json_t *ws = json_object_get(wd, name);
            if (ws != NULL)
                cmp_sub2(c, DEFS[i], name, rs, ws);
        }
    }
}

static void compare_node(cmp_ctx *c, const json_t *r, const json_t *w, const json_t *w_orig)
{
    bool rd, wd;
    const char *rref = cmp_ref_of(r, &rd);
    const char *wref = cmp_ref_of(w_orig, &wd);
    if (rref != NULL) {
        bool covered = wref != NULL && rd == wd && strcmp(rref, wref) == 0 &&
                       (same_def(c, rref, wref) || (cmp_resolve(c->rdoc, rref, rd) == NULL &&
                                                    cmp_resolve(c->wdoc, wref, wd) == NULL));
        if (!covered) {
            const json_t *t = cmp_resolve(c->rdoc, rref, rd);
            if (t == NULL)
                cmp_emit(c, rd ? "$dynamicRef" : "$ref",
                         "reference \"%s\" cannot be resolved; could not be proven compatible",
                         rref);
            else
                cmp_sub(c, rd ? "$dynamicRef" : "$ref", t, w);
        }
    }
    unsigned wm = cmp_type_mask(c->wdoc, w, 0, c->w_ref_siblings);
    const json_t *rt = json_object_get(r, "type");
    unsigned rm = rt != NULL ? cmp_type_kw_mask(rt) : T_ALL;
    check_type(c, r, w, wm, rm);
    check_values(c, r, w, wm);
    unsigned m = wm & rm;
    if (m & T_NUM)
        check_numbers(c, r, w, wm);
    if (m & T_STR)
        check_strings(c, r, w);
    if (m & T_ARR)
        cmp_array(c, r, w);
    if (m & T_OBJ)
        cmp_object(c, r, w);
    cmp_combinators(c, r, w);
    compare_defs(c, r, w_orig);
}

void cmp_schema(cmp_ctx *c, const json_t *r, const json_t *w)
{
    if (c->err != EVB_OK)
        return;
    if (c->budget == 0) {
        if (c->trial > 0) {
            c->issues++;
        } else if (!c->budget_reported) {
            c->budget_reported = true;
            cmp_emit(c, NULL,
                     "schemas too large or too deeply recursive to compare; could "
                     "not be proven compatible");
        }
        return;
    }
    c->budget--;
    if (w == NULL || json_is_true(w) || !(json_is_object(w) || json_is_false(w)))
        w = c->empty;
    if (json_is_false(w) || r == NULL || json_is_true(r))
        return;
    if (json_is_false(r)) {
        cmp_emit(c, NULL,
                 c->fwd ? "changed from false (rejected everything)"
                        : "changed to false (rejects everything)");
        return;
    }
    if (!json_is_object(r)) {
        cmp_emit(c, NULL, "not a schema; could not be proven compatible");
        return;
    }
    if (!stack_push(c, r, w))
        return; /* already being compared further up (recursive schema) */
    if (c->depth > 256) {
        cmp_emit(c, NULL, "nested too deeply; could not be proven compatible");
    } else {
        json_t *owned;
        const json_t *weff = writer_effective(c, w, &owned);
        compare_node(c, r, weff, w);
        json_decref(owned);
    }
    c->depth--;
}
