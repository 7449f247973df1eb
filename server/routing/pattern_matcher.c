/* evbridge — the multi-pattern matcher: one index over all connections of an (org, connector).
 *
 * Design. Every branch (an "$or" alternative) of every pattern is filed under ONE key: a
 * field condition made only of exact values and/or prefixes is *indexable*, and among a
 * branch's indexable fields the build picks the most selective one - the field whose keys
 * (path + typed value, or path + prefix) the fewest branches use in total. Branches without
 * an indexable field (only numeric, anything-but, exists, wildcard, ...) form the residual
 * list. Matching an event flattens it once - only the leaves at paths some rule names, and
 * without descending into members under which none lies (m->only) - looks up each leaf's
 * exact key and, for strings, each registered prefix length of that path in one hash table,
 * and evaluates only the branches found there (plus the residual ones) in full with
 * evb_pm_branch_match. The
 * answer is therefore exactly that of the patterns evaluated one by one, and the cost grows
 * with the number of candidate branches, not with the number of rules, as long as rules carry
 * a selective exact or prefix field (connections usually filter on an id, a type, a tenant).
 *
 * Two tables, open addressing with linear probing over FNV-1a hashes: a small one of the
 * indexed paths (with their prefix lengths), consulted once per distinct event path so that
 * leaves no rule is keyed on cost one probe in a table that stays in cache, and the key
 * table (path + kind + value -> postings of branches). Keys point into the borrowed patterns
 * (paths and operands), so the index owns only its arrays. pattern_index.c builds them.
 */
#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern_int.h"

/* ---- life cycle --------------------------------------------------------------------------- */

evb_err evb_matcher_new(evb_matcher **out)
{
    if (out == NULL)
        return EVB_ERR_INVALID;
    *out = calloc(1, sizeof **out);
    return *out ? EVB_OK : EVB_ERR_NOMEM;
}

evb_err evb_matcher_add(evb_matcher *m, const evb_pattern *p, uint64_t rule_id)
{
    if (m == NULL || p == NULL || m->built)
        return EVB_ERR_INVALID;
    if (m->nrules == m->caprules) {
        size_t nc = m->caprules ? m->caprules * 2 : 16;
        evb_pm_rule *nr = realloc(m->rules, nc * sizeof *nr);
        if (nr == NULL)
            return EVB_ERR_NOMEM;
        m->rules = nr;
        m->caprules = nc;
    }
    m->rules[m->nrules++] = (evb_pm_rule){p, rule_id, 0};
    return EVB_OK;
}

size_t evb_matcher_count(const evb_matcher *m)
{
    return m ? m->nrules : 0;
}

void evb_pm_index_clear(evb_matcher *m)
{
    free(m->branches);
    free(m->slots);
    free(m->paths);
    free(m->post);
    free(m->residual);
    free(m->only.p);
    m->only.p = NULL;
    m->only.n = 0;
    m->branches = NULL;
    m->slots = NULL;
    m->paths = NULL;
    m->post = m->residual = NULL;
    m->nbranches = m->npost = m->nresidual = 0;
    m->mask = m->pmask = 0;
    m->built = 0;
}

void evb_matcher_free(evb_matcher *m)
{
    if (m == NULL)
        return;
    evb_pm_index_clear(m);
    free(m->rules);
    free(m);
}
static int pathref_cmp(const void *x, const void *y)
{
    const evb_pm_pathref *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->path, b->path, n);
    return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* m->only: the field paths of every rule, sorted, distinct. */
static evb_err build_pathset(evb_matcher *m)
{
    size_t n = 0;
    for (size_t r = 0; r < m->nrules; r++)
        n += m->rules[r].p->nfields;
    m->only.p = malloc((n ? n : 1) * sizeof *m->only.p);
    if (m->only.p == NULL)
        return EVB_ERR_NOMEM;
    for (size_t r = 0; r < m->nrules; r++) {
        const evb_pattern *p = m->rules[r].p;
        for (size_t f = 0; f < p->nfields; f++)
            m->only.p[m->only.n++] = (evb_pm_pathref){p->fields[f].path, p->fields[f].path_len};
    }
    qsort(m->only.p, m->only.n, sizeof *m->only.p, pathref_cmp);
    size_t k = 0;
    for (size_t i = 0; i < m->only.n; i++)
        if (k == 0 || pathref_cmp(&m->only.p[k - 1], &m->only.p[i]) != 0)
            m->only.p[k++] = m->only.p[i];
    m->only.n = k;
    return EVB_OK;
}

evb_err evb_matcher_build(evb_matcher *m)
{
    if (m == NULL || m->built)
        return EVB_ERR_INVALID;
    evb_err rc = evb_pm_index_build(m);
    if (rc == EVB_OK)
        rc = build_pathset(m);
    if (rc != EVB_OK) {
        evb_pm_index_clear(m);
        return rc;
    }
    m->built = 1;
    return EVB_OK;
}

static int u32_sort(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

static const evb_pm_slot *lookup(const evb_matcher *m, uint64_t h, const char *path, size_t pl,
                                 unsigned char kind, const char *val, size_t vl)
{
    if (m->slots == NULL)
        return NULL;
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const evb_pm_slot *s = &m->slots[i];
        if (!s->used)
            return NULL;
        if (s->h == h && s->kind == kind && s->path_len == pl && s->val_len == vl &&
            memcmp(s->path, path, pl) == 0 && memcmp(s->val, val, vl) == 0)
            return s;
    }
}
/* ---- match -------------------------------------------------------------------------------- */

typedef struct mctx {
    const evb_matcher *m;
    const evb_pm_event *ev;
    unsigned char *seen; /* per branch */
    unsigned char *hit;  /* per rule (first index) */
    uint32_t *hits;      /* matched rules (first index), hits_stack or malloc'd */
    size_t nhits, caphits;
    int nomem;
    uint32_t hits_stack[64];
} mctx;

static void try_branch(mctx *c, uint32_t bi)
{
    if (c->seen[bi >> 3] & (1u << (bi & 7)))
        return;
    c->seen[bi >> 3] |= (unsigned char)(1u << (bi & 7));
    const evb_pm_branch *br = &c->m->branches[bi];
    const evb_pm_rule *r = &c->m->rules[br->rule];
    if (c->hit[r->first >> 3] & (1u << (r->first & 7)))
        return;
    int ok = evb_pm_branch_match(r->p, br->b, c->ev);
    if (ok < 0)
        c->nomem = 1;
    if (ok == 1) {
        if (c->nhits == c->caphits) {
            uint32_t *nh = malloc(2 * c->caphits * sizeof *nh);
            if (nh == NULL) {
                c->nomem = 1;
                return;
            }
            memcpy(nh, c->hits, c->nhits * sizeof *nh);
            if (c->hits != c->hits_stack)
                free(c->hits);
            c->hits = nh;
            c->caphits *= 2;
        }
        c->hit[r->first >> 3] |= (unsigned char)(1u << (r->first & 7));
        c->hits[c->nhits++] = r->first;
    }
}

static void try_slot(mctx *c, const evb_pm_slot *s)
{
    for (uint32_t i = 0; s != NULL && i < s->cnt; i++)
        try_branch(c, c->m->post[s->off + i]);
}

static const evb_pm_ipath *find_path(const evb_matcher *m, uint64_t h, const char *path, size_t pl)
{
    for (size_t i = h & m->pmask;; i = (i + 1) & m->pmask) {
        const evb_pm_ipath *p = &m->paths[i];
        if (!p->used)
            return NULL;
        if (p->h == h && p->path_len == pl && memcmp(p->path, path, pl) == 0)
            return p;
    }
}

static void probe_leaf(mctx *c, const evb_pm_leaf *l, const evb_pm_ipath *mp, uint64_t hpath)
{
    const evb_matcher *m = c->m;
    unsigned char kind;
    const char *val = "";
    size_t vl = 0;
    double d;
    switch (l->v.kind) {
    case EVB_PMV_STR:
        kind = EVB_PMK_STR;
        val = l->v.u.s;
        vl = l->v.n;
        break;
    case EVB_PMV_NUM:
        kind = EVB_PMK_NUM;
        d = evb_pm_canon_num(l->v.u.num);
        val = (const char *)&d;
        vl = sizeof d;
        break;
    case EVB_PMV_TRUE:
        kind = EVB_PMK_TRUE;
        break;
    case EVB_PMV_FALSE:
        kind = EVB_PMK_FALSE;
        break;
    default:
        kind = EVB_PMK_NULL;
        break;
    }
    uint64_t h = evb_pm_mix(evb_pm_fnv(evb_pm_fnv(hpath, &kind, 1), val, vl));
    try_slot(c, lookup(m, h, l->path, l->path_len, kind, val, vl));
    if (kind != EVB_PMK_STR || mp->cnt == 0)
        return;
    unsigned char pk = EVB_PMK_PREFIX;
    uint64_t hp = evb_pm_fnv(hpath, &pk, 1);
    size_t done = 0;
    for (uint32_t i = 0; i < mp->cnt; i++) {
        size_t len = m->post[mp->off + i];
        if (len > vl)
            break;
        hp = evb_pm_fnv(hp, val + done, len - done);
        done = len;
        try_slot(c, lookup(m, evb_pm_mix(hp), l->path, l->path_len, EVB_PMK_PREFIX, val, len));
    }
}

/* Matches the flattened event ev (see evb_matcher_match for the rest). */
static evb_err match_flat(const evb_matcher *m, const evb_pm_event *ev, uint64_t *ids_out,
                          size_t cap, size_t *n_out)
{
    mctx c;
    c.m = m;
    c.ev = ev;
    c.nhits = 0;
    c.nomem = 0;
    unsigned char seen_stack[256], hit_stack[128];
    size_t nseen = m->nbranches / 8 + 1, nhit = m->nrules / 8 + 1;
    c.seen = nseen <= sizeof seen_stack ? memset(seen_stack, 0, nseen) : calloc(nseen, 1);
    c.hit = nhit <= sizeof hit_stack ? memset(hit_stack, 0, nhit) : calloc(nhit, 1);
    c.hits = c.hits_stack;
    c.caphits = sizeof c.hits_stack / sizeof c.hits_stack[0];
    evb_err rc = EVB_ERR_NOMEM;
    if (c.seen == NULL || c.hit == NULL)
        goto out;
    for (size_t g = 0; g < ev->ngroups; g++) { /* each distinct path, hashed once */
        const evb_pm_group *gr = &ev->groups[g];
        const evb_pm_leaf *l = &ev->leaves[gr->first];
        const evb_pm_ipath *mp = find_path(m, evb_pm_mix(gr->h), l->path, l->path_len);
        for (uint32_t j = 0; mp != NULL && j < gr->count; j++)
            probe_leaf(&c, &l[j], mp, gr->h);
    }
    for (size_t i = 0; i < m->nresidual; i++)
        try_branch(&c, m->residual[i]);
    rc = c.nomem ? EVB_ERR_NOMEM : EVB_OK;
    if (rc != EVB_OK)
        goto out;
    qsort(c.hits, c.nhits, sizeof *c.hits, u32_sort);
    for (size_t i = 0; i < c.nhits && i < cap; i++)
        ids_out[i] = m->rules[c.hits[i]].id;
    *n_out = c.nhits;
    rc = c.nhits > cap ? EVB_ERR_LIMIT : EVB_OK;
out:
    if (c.seen != seen_stack)
        free(c.seen);
    if (c.hit != hit_stack)
        free(c.hit);
    if (c.hits != c.hits_stack)
        free(c.hits);
    return rc;
}

evb_err evb_matcher_match(const evb_matcher *m, const json_t *event, uint64_t *ids_out, size_t cap,
                          size_t *n_out)
{
    if (m == NULL || !m->built || n_out == NULL || (ids_out == NULL && cap > 0))
        return EVB_ERR_INVALID;
    *n_out = 0;
    if (!json_is_object(event) || m->nrules == 0)
        return EVB_OK;
    evb_pm_event ev;
    evb_pm_event_init(&ev);
    evb_err rc = evb_pm_event_flatten(event, &m->only, &ev);
    if (rc == EVB_OK)
        rc = match_flat(m, &ev, ids_out, cap, n_out);
    evb_pm_event_fini(&ev);
    return rc;
}

evb_err evb_matcher_match_view(const evb_matcher *m, const evb_pattern_view *view,
                               uint64_t *ids_out, size_t cap, size_t *n_out)
{
    if (m == NULL || !m->built || n_out == NULL || (ids_out == NULL && cap > 0))
        return EVB_ERR_INVALID;
    *n_out = 0;
    if (view == NULL || m->nrules == 0)
        return EVB_OK;
    evb_pm_event ev;
    evb_pm_event_init(&ev);
    evb_err rc = evb_pm_event_flatten_view(view, &m->only, &ev);
    if (rc == EVB_OK)
        rc = match_flat(m, &ev, ids_out, cap, n_out);
    evb_pm_event_fini(&ev);
    return rc;
}
