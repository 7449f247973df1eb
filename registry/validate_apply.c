/* evbridge registry — applicator keywords: properties, patternProperties,
 * additionalProperties, propertyNames, dependentSchemas, prefixItems/items/additionalItems,
 * contains, allOf/anyOf/oneOf/not, if/then/else, unevaluatedProperties/Items.
 * 2020-12 core §10-11: https://json-schema.org/draft/2020-12/json-schema-core#section-10
 *
 * Annotation bookkeeping: every member/item a subschema successfully evaluates is marked in
 * the current evset (if any). anyOf/oneOf/if evaluate branches into scratch sets and merge
 * only the ones that passed; allOf, $ref and then/else write straight into the caller's set
 * because their failure fails the whole schema, whose annotations the caller then drops.
 */
#include "registry/validate_int.h"

#include <stdlib.h>
#include <string.h>

/* Binary search in keys sorted by (bytes, length); the first byte is compared inline, which
 * settles most steps without a memcmp call. */
static const named_node *find_named(const named_node *a, size_t n, const char *k, size_t kl)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t m = a[mid].klen < kl ? a[mid].klen : kl;
        unsigned char x = m ? (unsigned char)a[mid].key[0] : 0, y = m ? (unsigned char)k[0] : 0;
        int c = x != y ? (x < y ? -1 : 1) : m > 1 ? memcmp(a[mid].key + 1, k + 1, m - 1) : 0;
        if (c == 0)
            c = (a[mid].klen > kl) - (a[mid].klen < kl);
        if (c == 0)
            return &a[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Evaluates child at instance member/item `inst`, with both paths pushed. */
static bool descend(vctx *c, const snode *child, const evb_json *inst, const char *kw,
                    const char *kseg, size_t kseg_n, bool kseg_index, size_t kidx, const char *iseg,
                    size_t iseg_n, size_t iidx)
{
    const pseg *ktop = c->kp;
    pseg kg, kg2, ig;
    seg_push(&c->kp, &kg, kw, SEG_STRLEN);
    if (kseg != NULL)
        seg_push(&c->kp, &kg2, kseg, kseg_n);
    else if (kseg_index)
        seg_push(&c->kp, &kg2, NULL, kidx);
    size_t id = c->idepth++;
    seg_push(&c->ip, &ig, iseg, iseg ? iseg_n : iidx);
    bool r = eval(c, child, inst, NULL);
    seg_pop(&c->ip, &ig);
    c->idepth = id;
    c->kp = ktop;
    return r;
}

static bool additional(vctx *c, const snode *n, const char *key, size_t kl, const evb_json *val)
{
    if (n->additional->is_bool && !n->additional->bool_val) {
        char q[120];
        quote(q, sizeof q, key, kl);
        size_t id = c->idepth++;
        pseg ig;
        seg_push(&c->ip, &ig, key, kl);
        bool r = vfail(c, "additionalProperties", "property \"%s\" is not allowed", q);
        seg_pop(&c->ip, &ig);
        c->idepth = id;
        return r;
    }
    if (leaf_accepts(c, n->additional, val))
        return true;
    return descend(c, n->additional, val, "additionalProperties", NULL, 0, false, 0, key, kl, 0);
}

void scan_members(const snode *n, const evb_json *inst, objscan *os)
{
    uint64_t present = 0;
    for (size_t i = 0; i < inst->n; i++) {
        const evb_json_member *m = &inst->u.members[i];
        long j = prop_find(n, m->key, m->klen);
        os->slot[i] = (uint16_t)(j + 1);
        if (j >= 0 && j < 64)
            present |= 1ull << j;
    }
    os->present = present;
    os->done = true;
}

static const named_node *lookup(const snode *n, const char *key, size_t kl)
{
    if (n->pidx.slots != NULL) {
        long j = prop_find(n, key, kl);
        return j >= 0 ? &n->props[j] : NULL;
    }
    return find_named(n->props, n->n_props, key, kl);
}

static bool check_members(vctx *c, const snode *n, const evb_json *inst, evset *ev,
                          const objscan *os)
{
    bool ok = true;
    for (size_t i = 0; i < inst->n; i++) {
        const evb_json_member *m = &inst->u.members[i];
        const char *key = m->key;
        size_t kl = m->klen;
        const evb_json *val = m->val;
        bool matched = false;
        const named_node *p =
            os->done ? (os->slot[i] ? &n->props[os->slot[i] - 1] : NULL) : lookup(n, key, kl);
        if (p != NULL) {
            matched = true;
            if (!leaf_accepts(c, p->node, val))
                STEP(ok, c, descend(c, p->node, val, "properties", key, kl, false, 0, key, kl, 0));
        }
        for (size_t j = 0; j < n->n_patprops; j++) {
            const pat_node *pp = &n->patprops[j];
            int r = vmatch(c, pp->re, key, kl);
            if (c->err)
                return false;
            if (r < 0) {
                char q[120];
                quote(q, sizeof q, pp->src, strlen(pp->src));
                STEP(ok, c,
                     vfail(c, "patternProperties",
                           "property name could not be checked "
                           "against pattern \"%s\" (matching limit exceeded)",
                           q));
            } else if (r == 1) {
                matched = true;
                if (!leaf_accepts(c, pp->node, val))
                    STEP(ok, c,
                         descend(c, pp->node, val, "patternProperties", pp->src, strlen(pp->src),
                                 false, 0, key, kl, 0));
            }
        }
        if (!matched && n->additional != NULL) {
            matched = true;
            STEP(ok, c, additional(c, n, key, kl, val));
        }
        if (matched)
            ev_mark(ev, i);
    }
    return ok;
}

bool check_object(vctx *c, const snode *n, const evb_json *inst, evset *ev, const objscan *os)
{
    bool ok = true;
    if (n->ops & OP_MEMBERS)
        STEP(ok, c, check_members(c, n, inst, ev, os));
    if (n->prop_names != NULL) {
        for (size_t i = 0; i < inst->n; i++) {
            evb_json name = {.type = EVB_JSON_STRING};
            name.u.s = inst->u.members[i].key;
            name.n = inst->u.members[i].klen;
            c->quiet++;
            bool r = eval(c, n->prop_names, &name, NULL);
            c->quiet--;
            if (!r && !c->err) {
                char q[120];
                quote(q, sizeof q, name.u.s, name.n);
                STEP(ok, c, vfail(c, "propertyNames", "property name \"%s\" is not valid", q));
            }
        }
    }
    for (size_t d = 0; d < n->n_dep_schemas; d++) {
        const named_node *ds = &n->dep_schemas[d];
        if (evb_json_getn(inst, ds->key, ds->klen) == NULL)
            continue;
        pseg kg, kg2;
        seg_push(&c->kp, &kg, n->dep_schemas_kw, SEG_STRLEN);
        seg_push(&c->kp, &kg2, ds->key, ds->klen);
        bool r = eval(c, ds->node, inst, ev);
        c->kp = kg.up;
        STEP(ok, c, r);
    }
    return ok && !c->err;
}

static bool check_contains(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    size_t sz = evb_json_size(inst), found = 0;
    for (size_t i = 0; i < sz; i++) {
        c->quiet++;
        bool r = eval(c, n->contains, evb_json_at(inst, i), NULL);
        c->quiet--;
        if (c->err)
            return false;
        if (r) {
            found++;
            ev_mark(ev, i);
        }
    }
    uint64_t min = (n->has & H_MINCONTAINS) ? n->min_contains : 1;
    bool ok = true;
    if (found < min)
        STEP(ok, c,
             vfail(c, (n->has & H_MINCONTAINS) ? "minContains" : "contains",
                   "must contain at least %llu matching item(s), but has %zu",
                   (unsigned long long)min, found));
    if ((n->has & H_MAXCONTAINS) && found > n->max_contains)
        STEP(ok, c,
             vfail(c, "maxContains",
                   "must contain at most %llu matching item(s), but "
                   "has %zu",
                   (unsigned long long)n->max_contains, found));
    return ok;
}

bool check_array(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    bool ok = true;
    size_t sz = inst->n;
    size_t np = n->n_prefix < sz ? n->n_prefix : sz;
    for (size_t i = 0; i < np; i++) {
        if (!leaf_accepts(c, n->prefix[i], inst->u.items[i]))
            STEP(ok, c,
                 descend(c, n->prefix[i], inst->u.items[i], n->prefix_kw, NULL, 0, true, i, NULL, 0,
                         i));
        ev_mark(ev, i);
    }
    if (n->items != NULL && sz > np) {
        if (n->items->is_bool && !n->items->bool_val) {
            STEP(ok, c, vfail(c, n->items_kw, "must have at most %zu items, but has %zu", np, sz));
        } else {
            for (size_t i = np; i < sz; i++) {
                if (!leaf_accepts(c, n->items, inst->u.items[i]))
                    STEP(ok, c,
                         descend(c, n->items, inst->u.items[i], n->items_kw, NULL, 0, false, 0,
                                 NULL, 0, i));
                ev_mark(ev, i);
            }
        }
    }
    if (n->contains != NULL)
        STEP(ok, c, check_contains(c, n, inst, ev));
    return ok;
}

/* Evaluates branch i of keyword kw quietly; merges annotations into ev when it passes. */
static bool branch(vctx *c, const snode *b, const evb_json *inst, evset *ev, bool merge)
{
    evset tmp = {0};
    if (ev != NULL && !ev_alloc(c, &tmp, ev->n))
        return false;
    c->quiet++;
    bool r = eval(c, b, inst, ev ? &tmp : NULL);
    c->quiet--;
    if (r && merge)
        ev_merge(ev, &tmp);
    free(tmp.bits);
    return r;
}

static bool check_any_one(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    bool ok = true;
    if (n->n_any) {
        size_t passed = 0;
        for (size_t i = 0; i < n->n_any && (ev != NULL || passed == 0); i++)
            passed += branch(c, n->any_of[i], inst, ev, true);
        if (c->err)
            return false;
        if (passed == 0)
            STEP(
                ok, c,
                vfail(c, "anyOf", "must match at least one of the %zu schemas in anyOf", n->n_any));
    }
    if (n->n_one) {
        size_t passed = 0, first = 0, second = 0;
        for (size_t i = 0; i < n->n_one && passed < 2; i++) {
            if (!branch(c, n->one_of[i], inst, NULL, false))
                continue;
            if (passed++ == 0)
                first = i;
            else
                second = i;
        }
        if (c->err)
            return false;
        if (passed == 1 && ev != NULL)
            branch(c, n->one_of[first], inst, ev, true);
        if (passed == 0)
            STEP(ok, c,
                 vfail(c, "oneOf",
                       "must match exactly one of the %zu schemas in oneOf, "
                       "but matches none",
                       n->n_one));
        else if (passed > 1)
            STEP(ok, c,
                 vfail(c, "oneOf",
                       "must match exactly one schema in oneOf, but matches "
                       "schemas %zu and %zu",
                       first, second));
    }
    return ok;
}

bool check_combinators(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    bool ok = true;
    for (size_t i = 0; i < n->n_all; i++) {
        pseg kg, kg2;
        seg_push(&c->kp, &kg, "allOf", 5);
        seg_push(&c->kp, &kg2, NULL, i);
        bool r = eval(c, n->all_of[i], inst, ev);
        c->kp = kg.up;
        STEP(ok, c, r);
    }
    STEP(ok, c, check_any_one(c, n, inst, ev));
    if (n->not_ != NULL) {
        bool r = branch(c, n->not_, inst, NULL, false);
        if (c->err)
            return false;
        if (r)
            STEP(ok, c, vfail(c, "not", "must not match the schema in not"));
    }
    if (n->if_ != NULL) {
        bool r = branch(c, n->if_, inst, ev, true);
        if (c->err)
            return false;
        const snode *next = r ? n->then_ : n->else_;
        if (next != NULL) {
            pseg kg;
            seg_push(&c->kp, &kg, r ? "then" : "else", 4);
            bool r2 = eval(c, next, inst, ev);
            seg_pop(&c->kp, &kg);
            STEP(ok, c, r2);
        }
    }
    return ok;
}

bool check_unevaluated(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    bool ok = true;
    bool obj = evb_json_typeof(inst) == EVB_JSON_OBJECT;
    const snode *u = obj ? n->uneval_props : n->uneval_items;
    const char *kw = obj ? "unevaluatedProperties" : "unevaluatedItems";
    for (size_t i = 0; i < evb_json_size(inst); i++) {
        if (ev->bits[i / 64] & (1ull << (i % 64)))
            continue;
        size_t kl = 0;
        const char *key = obj ? evb_json_key_at(inst, i, &kl) : NULL;
        const evb_json *val = obj ? evb_json_value_at(inst, i) : evb_json_at(inst, i);
        if (u->is_bool && !u->bool_val) {
            char q[120];
            size_t id = c->idepth++;
            pseg ig;
            seg_push(&c->ip, &ig, key, obj ? kl : i);
            if (obj)
                quote(q, sizeof q, key, kl);
            bool r = obj ? vfail(c, kw,
                                 "property \"%s\" is not allowed (not evaluated by any "
                                 "subschema)",
                                 q)
                         : vfail(c, kw,
                                 "item %zu is not allowed (not evaluated by any "
                                 "subschema)",
                                 i);
            seg_pop(&c->ip, &ig);
            c->idepth = id;
            STEP(ok, c, r);
            continue;
        }
        STEP(ok, c, descend(c, u, val, kw, NULL, 0, false, 0, key, kl, i));
        ev_mark(ev, i);
    }
    return ok;
}
