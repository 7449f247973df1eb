/* evbridge — the multi-pattern matcher: one index over all connections of an (org, connector).
 *
 * Design. Every branch (an "$or" alternative) of every pattern is filed under ONE key: a
 * field condition made only of exact values and/or prefixes is *indexable*, and among a
 * branch's indexable fields the build picks the most selective one - the field whose keys
 * (path + typed value, or path + prefix) the fewest branches use in total. Branches without
 * an indexable field (only numeric, anything-but, exists, wildcard, ...) form the residual
 * list. Matching an event flattens it once, looks up each leaf's exact key and, for strings,
 * each registered prefix length of that path in one hash table, and evaluates only the
 * branches found there (plus the residual ones) in full with evb_pm_branch_match. The
 * answer is therefore exactly that of the patterns evaluated one by one, and the cost grows
 * with the number of candidate branches, not with the number of rules, as long as rules carry
 * a selective exact or prefix field (connections usually filter on an id, a type, a tenant).
 *
 * Two tables, open addressing with linear probing over FNV-1a hashes: a small one of the
 * indexed paths (with their prefix lengths), consulted once per distinct event path so that
 * leaves no rule is keyed on cost one probe in a table that stays in cache, and the key
 * table (path + kind + value -> postings of branches). Keys point into the borrowed patterns
 * (paths and operands), so the index owns only its arrays.
 */
#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern_int.h"

enum {
    K_STR = 's',
    K_NUM = 'n',
    K_TRUE = 't',
    K_FALSE = 'f',
    K_NULL = 'z',
    K_PREFIX = 'p',
    K_PATH = '.'
};

typedef struct mrule {
    const evb_pattern *p;
    uint64_t id;
    uint32_t first; /* index of the first rule added with the same id */
} mrule;

typedef struct mbranch {
    uint32_t rule, b;
} mbranch;

typedef struct keyref { /* one candidate key of one field of one branch (build only) */
    uint64_t h;
    const char *path, *val;
    uint32_t path_len, val_len;
    uint32_t branch, field; /* field = position in the branch */
    uint32_t freq;
    unsigned char kind, chosen;
} keyref;

typedef struct slot {
    uint64_t h;
    const char *path, *val;
    uint32_t path_len, val_len;
    uint32_t off, cnt; /* postings[off .. off+cnt) */
    unsigned char kind, used;
} slot;

typedef struct mpath { /* an indexed path: lookups for other paths are skipped */
    uint64_t h;
    const char *path;
    uint32_t path_len;
    uint32_t off, cnt; /* its prefix lengths: postings[off .. off+cnt), ascending */
    unsigned char used;
} mpath;

struct evb_matcher {
    mrule *rules;
    size_t nrules, caprules;
    int built;
    mbranch *branches;
    size_t nbranches;
    slot *slots;
    size_t mask; /* nslots - 1 */
    mpath *paths;
    size_t pmask; /* npaths - 1 */
    uint32_t *post;
    size_t npost;
    uint32_t *residual;
    size_t nresidual;
};

/* ---- hashing ------------------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t key_hash(const char *path, size_t pl, unsigned char kind, const char *val,
                         size_t vl)
{
    uint64_t h = fnv(FNV_INIT, path, pl);
    h = fnv(h, &kind, 1);
    return mix(fnv(h, val, vl));
}

static const slot *lookup(const evb_matcher *m, uint64_t h, const char *path, size_t pl,
                          unsigned char kind, const char *val, size_t vl)
{
    if (m->slots == NULL)
        return NULL;
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const slot *s = &m->slots[i];
        if (!s->used)
            return NULL;
        if (s->h == h && s->kind == kind && s->path_len == pl && s->val_len == vl &&
            memcmp(s->path, path, pl) == 0 && memcmp(s->val, val, vl) == 0)
            return s;
    }
}

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
        mrule *nr = realloc(m->rules, nc * sizeof *nr);
        if (nr == NULL)
            return EVB_ERR_NOMEM;
        m->rules = nr;
        m->caprules = nc;
    }
    m->rules[m->nrules++] = (mrule){p, rule_id, 0};
    return EVB_OK;
}

size_t evb_matcher_count(const evb_matcher *m)
{
    return m ? m->nrules : 0;
}

static void unbuild(evb_matcher *m)
{
    free(m->branches);
    free(m->slots);
    free(m->paths);
    free(m->post);
    free(m->residual);
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
    unbuild(m);
    free(m->rules);
    free(m);
}

/* ---- build -------------------------------------------------------------------------------- */

static int indexable(const evb_pm_field *f)
{
    if (f->absent_ok || f->nops == 0)
        return 0;
    for (size_t i = 0; i < f->nops; i++) {
        evb_pm_kind k = f->ops[i].kind;
        if (k != EVB_PM_EXACT_STR && k != EVB_PM_EXACT_NUM && k != EVB_PM_EXACT_TRUE &&
            k != EVB_PM_EXACT_FALSE && k != EVB_PM_EXACT_NULL && k != EVB_PM_PREFIX)
            return 0;
    }
    return 1;
}

static void op_key(const evb_pm_op *op, unsigned char *kind, const char **val, uint32_t *vl)
{
    *val = "";
    *vl = 0;
    switch (op->kind) {
    case EVB_PM_EXACT_STR:
    case EVB_PM_PREFIX:
        *kind = op->kind == EVB_PM_PREFIX ? K_PREFIX : K_STR;
        *val = op->s;
        *vl = (uint32_t)op->n;
        break;
    case EVB_PM_EXACT_NUM:
        *kind = K_NUM;
        *val = (const char *)&op->num;
        *vl = sizeof op->num;
        break;
    case EVB_PM_EXACT_TRUE:
        *kind = K_TRUE;
        break;
    case EVB_PM_EXACT_FALSE:
        *kind = K_FALSE;
        break;
    default:
        *kind = K_NULL;
        break;
    }
}

static int key_cmp(const keyref *a, const keyref *b)
{
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->path_len != b->path_len)
        return a->path_len < b->path_len ? -1 : 1;
    if (a->val_len != b->val_len)
        return a->val_len < b->val_len ? -1 : 1;
    int c = memcmp(a->path, b->path, a->path_len);
    return c != 0 ? c : memcmp(a->val, b->val, a->val_len);
}

static int keyref_sort(const void *x, const void *y)
{
    const keyref *a = x, *b = y;
    int c = key_cmp(a, b);
    if (c != 0)
        return c;
    return a->branch < b->branch ? -1 : a->branch > b->branch;
}

static int rule_id_sort(const void *x, const void *y)
{
    const mrule *const *a = x, *const *b = y;
    if ((*a)->id != (*b)->id)
        return (*a)->id < (*b)->id ? -1 : 1;
    return *a < *b ? -1 : *a > *b;
}

static int u32_sort(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* Rules sharing an id point at the first of them (they are reported once). */
static evb_err assign_first(evb_matcher *m)
{
    mrule **byid = malloc((m->nrules ? m->nrules : 1) * sizeof *byid);
    if (byid == NULL)
        return EVB_ERR_NOMEM;
    for (size_t i = 0; i < m->nrules; i++)
        byid[i] = &m->rules[i];
    qsort(byid, m->nrules, sizeof *byid, rule_id_sort);
    for (size_t i = 0; i < m->nrules; i++) {
        const mrule *first =
            (i > 0 && byid[i - 1]->id == byid[i]->id) ? &m->rules[byid[i - 1]->first] : byid[i];
        byid[i]->first = (uint32_t)(first - m->rules);
    }
    free(byid);
    return EVB_OK;
}

/* Collects every candidate key of every indexable field of every branch. */
static evb_err collect_keys(evb_matcher *m, keyref **out, size_t *nout)
{
    size_t n = 0, cap = 0;
    keyref *kr = NULL;
    for (size_t bi = 0; bi < m->nbranches; bi++) {
        const evb_pattern *p = m->rules[m->branches[bi].rule].p;
        size_t b = m->branches[bi].b;
        for (size_t j = p->boff[b]; j < p->boff[b + 1]; j++) {
            const evb_pm_field *f = &p->fields[p->bfields[j]];
            if (!indexable(f))
                continue;
            for (size_t o = 0; o < f->nops; o++) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    keyref *nk = realloc(kr, cap * sizeof *nk);
                    if (nk == NULL) {
                        free(kr);
                        return EVB_ERR_NOMEM;
                    }
                    kr = nk;
                }
                keyref *k = &kr[n++];
                memset(k, 0, sizeof *k);
                k->path = f->path;
                k->path_len = (uint32_t)f->path_len;
                op_key(&f->ops[o], &k->kind, &k->val, &k->val_len);
                k->h = key_hash(k->path, k->path_len, k->kind, k->val, k->val_len);
                k->branch = (uint32_t)bi;
                k->field = (uint32_t)(j - p->boff[b]);
            }
        }
    }
    *out = kr;
    *nout = n;
    return EVB_OK;
}

/* Sets freq (how many keyrefs share the key) and marks, per branch, the keys of the field
 * with the smallest total frequency. kr is in collection order (grouped by branch, field). */
static evb_err choose_keys(keyref *kr, size_t n)
{
    keyref *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted == NULL)
        return EVB_ERR_NOMEM;
    uint32_t *pos = malloc((n ? n : 1) * sizeof *pos);
    if (pos == NULL) {
        free(sorted);
        return EVB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        sorted[i] = kr[i];
        sorted[i].freq = (uint32_t)i; /* remember the origin */
    }
    qsort(sorted, n, sizeof *sorted, keyref_sort);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && key_cmp(&sorted[i], &sorted[j]) == 0)
            j++;
        for (size_t q = i; q < j; q++)
            pos[sorted[q].freq] = (uint32_t)(j - i);
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        kr[i].freq = pos[i];
    free(pos);
    free(sorted);
    for (size_t i = 0; i < n;) { /* one branch at a time */
        size_t end = i, best = i, best_end = i;
        uint64_t best_cost = UINT64_MAX;
        while (end < n && kr[end].branch == kr[i].branch) {
            size_t fend = end;
            uint64_t cost = 0;
            while (fend < n && kr[fend].branch == kr[i].branch && kr[fend].field == kr[end].field)
                cost += kr[fend++].freq;
            if (cost < best_cost) {
                best_cost = cost;
                best = end;
                best_end = fend;
            }
            end = fend;
        }
        for (size_t q = best; q < best_end; q++)
            kr[q].chosen = 1;
        i = end;
    }
    return EVB_OK;
}

static void put_slot(evb_matcher *m, const keyref *k, uint32_t off, uint32_t cnt)
{
    size_t i = k->h & m->mask;
    while (m->slots[i].used)
        i = (i + 1) & m->mask;
    m->slots[i] = (slot){k->h, k->path, k->val, k->path_len, k->val_len, off, cnt, k->kind, 1};
}

static void put_path(evb_matcher *m, const keyref *k, uint32_t off, uint32_t cnt)
{
    size_t i = k->h & m->pmask;
    while (m->paths[i].used)
        i = (i + 1) & m->pmask;
    m->paths[i] = (mpath){k->h, k->path, k->path_len, off, cnt, 1};
}

/* One path-table entry per indexed path; its prefix lengths (distinct, ascending) go to the
 * postings array. kr holds the chosen keys sorted by key. */
static evb_err build_paths(evb_matcher *m, const keyref *kr, size_t n)
{
    keyref *pk = malloc((n ? n : 1) * sizeof *pk);
    size_t np = 16;
    while (np < 2 * n)
        np *= 2;
    m->paths = calloc(np, sizeof *m->paths);
    if (pk == NULL || m->paths == NULL) {
        free(pk);
        return EVB_ERR_NOMEM;
    }
    m->pmask = np - 1;
    for (size_t i = 0; i < n; i++) {
        pk[i] = kr[i];
        pk[i].kind = K_PATH;
        pk[i].val = "";
        pk[i].val_len = 0;
        pk[i].h = mix(fnv(FNV_INIT, kr[i].path, kr[i].path_len));
        pk[i].branch = kr[i].kind == K_PREFIX ? kr[i].val_len : UINT32_MAX; /* sort key */
    }
    qsort(pk, n, sizeof *pk, keyref_sort);
    for (size_t i = 0; i < n;) {
        size_t j = i, off = m->npost;
        for (; j < n && key_cmp(&pk[i], &pk[j]) == 0; j++)
            if (pk[j].branch != UINT32_MAX && (j == i || pk[j].branch != pk[j - 1].branch))
                m->post[m->npost++] = pk[j].branch;
        put_path(m, &pk[i], (uint32_t)off, (uint32_t)(m->npost - off));
        i = j;
    }
    free(pk);
    return EVB_OK;
}

/* Builds the postings and the key table from the chosen keys, then the path table. */
static evb_err build_table(evb_matcher *m, keyref *kr, size_t n)
{
    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        if (kr[i].chosen)
            kr[nc++] = kr[i];
    n = nc;
    if (n > 1)
        qsort(kr, n, sizeof *kr, keyref_sort);
    m->post = malloc((2 * n + 1) * sizeof *m->post); /* branches + prefix lengths */
    size_t nslots = 16;
    while (nslots < 2 * n)
        nslots *= 2;
    m->slots = calloc(nslots, sizeof *m->slots);
    if (m->post == NULL || m->slots == NULL)
        return EVB_ERR_NOMEM;
    m->mask = nslots - 1;
    for (size_t i = 0; i < n;) {
        size_t j = i, off = m->npost;
        for (; j < n && key_cmp(&kr[i], &kr[j]) == 0; j++)
            if (j == i || kr[j].branch != kr[j - 1].branch)
                m->post[m->npost++] = kr[j].branch;
        put_slot(m, &kr[i], (uint32_t)off, (uint32_t)(m->npost - off));
        i = j;
    }
    return build_paths(m, kr, n);
}

static evb_err build(evb_matcher *m)
{
    evb_err rc = assign_first(m);
    if (rc != EVB_OK)
        return rc;
    size_t nb = 0;
    for (size_t r = 0; r < m->nrules; r++)
        nb += m->rules[r].p->nbranches;
    m->branches = malloc((nb ? nb : 1) * sizeof *m->branches);
    m->residual = malloc((nb ? nb : 1) * sizeof *m->residual);
    if (m->branches == NULL || m->residual == NULL)
        return EVB_ERR_NOMEM;
    for (size_t r = 0; r < m->nrules; r++)
        for (size_t b = 0; b < m->rules[r].p->nbranches; b++)
            m->branches[m->nbranches++] = (mbranch){(uint32_t)r, (uint32_t)b};
    keyref *kr = NULL;
    size_t n = 0;
    if ((rc = collect_keys(m, &kr, &n)) != EVB_OK)
        return rc;
    if ((rc = choose_keys(kr, n)) == EVB_OK) {
        /* residual: branches without any keyref (kr is grouped by branch) */
        size_t k = 0;
        for (size_t bi = 0; bi < m->nbranches; bi++) {
            if (k < n && kr[k].branch == bi) {
                while (k < n && kr[k].branch == bi)
                    k++;
            } else {
                m->residual[m->nresidual++] = (uint32_t)bi;
            }
        }
        rc = build_table(m, kr, n);
    }
    free(kr);
    return rc;
}

evb_err evb_matcher_build(evb_matcher *m)
{
    if (m == NULL || m->built)
        return EVB_ERR_INVALID;
    evb_err rc = build(m);
    if (rc != EVB_OK) {
        unbuild(m);
        return rc;
    }
    m->built = 1;
    return EVB_OK;
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
    const mbranch *br = &c->m->branches[bi];
    const mrule *r = &c->m->rules[br->rule];
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

static void try_slot(mctx *c, const slot *s)
{
    for (uint32_t i = 0; s != NULL && i < s->cnt; i++)
        try_branch(c, c->m->post[s->off + i]);
}

static const mpath *find_path(const evb_matcher *m, uint64_t h, const char *path, size_t pl)
{
    for (size_t i = h & m->pmask;; i = (i + 1) & m->pmask) {
        const mpath *p = &m->paths[i];
        if (!p->used)
            return NULL;
        if (p->h == h && p->path_len == pl && memcmp(p->path, path, pl) == 0)
            return p;
    }
}

static void probe_leaf(mctx *c, const evb_pm_leaf *l, const mpath *mp, uint64_t hpath)
{
    const evb_matcher *m = c->m;
    unsigned char kind;
    const char *val = "";
    size_t vl = 0;
    double d;
    switch (json_typeof(l->v)) {
    case JSON_STRING:
        kind = K_STR;
        val = json_string_value(l->v);
        vl = json_string_length(l->v);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        kind = K_NUM;
        d = evb_pm_canon_num(json_number_value(l->v));
        val = (const char *)&d;
        vl = sizeof d;
        break;
    case JSON_TRUE:
        kind = K_TRUE;
        break;
    case JSON_FALSE:
        kind = K_FALSE;
        break;
    default:
        kind = K_NULL;
        break;
    }
    uint64_t h = mix(fnv(fnv(hpath, &kind, 1), val, vl));
    try_slot(c, lookup(m, h, l->path, l->path_len, kind, val, vl));
    if (kind != K_STR || mp->cnt == 0)
        return;
    unsigned char pk = K_PREFIX;
    uint64_t hp = fnv(hpath, &pk, 1);
    size_t done = 0;
    for (uint32_t i = 0; i < mp->cnt; i++) {
        size_t len = m->post[mp->off + i];
        if (len > vl)
            break;
        hp = fnv(hp, val + done, len - done);
        done = len;
        try_slot(c, lookup(m, mix(hp), l->path, l->path_len, K_PREFIX, val, len));
    }
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
    memset(&ev, 0, sizeof ev);
    mctx c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.ev = &ev;
    c.seen = calloc(m->nbranches / 8 + 1, 1);
    c.hit = calloc(m->nrules / 8 + 1, 1);
    c.hits = c.hits_stack;
    c.caphits = sizeof c.hits_stack / sizeof c.hits_stack[0];
    evb_err rc = EVB_ERR_NOMEM;
    if (c.seen == NULL || c.hit == NULL)
        goto out;
    if ((rc = evb_pm_event_flatten(event, &ev)) != EVB_OK)
        goto out;
    uint64_t hpath = 0;
    const mpath *mp = NULL;
    for (size_t i = 0; i < ev.nleaves; i++) {
        const evb_pm_leaf *l = &ev.leaves[i];
        if (i == 0 || l->path_len != l[-1].path_len ||
            memcmp(l->path, l[-1].path, l->path_len) != 0) { /* a new path */
            hpath = fnv(FNV_INIT, l->path, l->path_len);
            mp = find_path(m, mix(hpath), l->path, l->path_len);
        }
        if (mp != NULL)
            probe_leaf(&c, l, mp, hpath);
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
    evb_pm_event_fini(&ev);
    free(c.seen);
    free(c.hit);
    if (c.hits != c.hits_stack)
        free(c.hits);
    return rc;
}
