/* evbridge — building the matcher's index (see pattern_matcher.c for the design).
 *
 * Every candidate key (path + typed exact value, or path + prefix) of every indexable field
 * of every branch is collected; its frequency is the number of branches that use it. Each
 * branch is filed under the keys of its field with the smallest total frequency - the most
 * selective one - and branches without an indexable field go to the residual list. The
 * chosen keys are sorted and grouped into postings (branch indices), then placed into the
 * key table; the path table records every indexed path and its distinct prefix lengths.
 */
#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern_int.h"

typedef struct keyref { /* one candidate key of one field of one branch (build only) */
    uint64_t h;
    const char *path, *val;
    uint32_t path_len, val_len;
    uint32_t branch, field; /* field = position in the branch */
    uint32_t freq;
    unsigned char kind, chosen;
} keyref;

static uint64_t key_hash(const char *path, size_t pl, unsigned char kind, const char *val,
                         size_t vl)
{
    uint64_t h = evb_pm_fnv(EVB_PM_FNV_INIT, path, pl);
    h = evb_pm_fnv(h, &kind, 1);
    return evb_pm_mix(evb_pm_fnv(h, val, vl));
}

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
        *kind = op->kind == EVB_PM_PREFIX ? EVB_PMK_PREFIX : EVB_PMK_STR;
        *val = op->s;
        *vl = (uint32_t)op->n;
        break;
    case EVB_PM_EXACT_NUM:
        *kind = EVB_PMK_NUM;
        *val = (const char *)&op->num;
        *vl = sizeof op->num;
        break;
    case EVB_PM_EXACT_TRUE:
        *kind = EVB_PMK_TRUE;
        break;
    case EVB_PM_EXACT_FALSE:
        *kind = EVB_PMK_FALSE;
        break;
    default:
        *kind = EVB_PMK_NULL;
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
    const evb_pm_rule *const *a = x, *const *b = y;
    if ((*a)->id != (*b)->id)
        return (*a)->id < (*b)->id ? -1 : 1;
    return *a < *b ? -1 : *a > *b;
}

/* Rules sharing an id point at the first of them (they are reported once). */
static evb_err assign_first(evb_matcher *m)
{
    evb_pm_rule **byid = malloc((m->nrules ? m->nrules : 1) * sizeof(evb_pm_rule *));
    if (byid == NULL)
        return EVB_ERR_NOMEM;
    for (size_t i = 0; i < m->nrules; i++)
        byid[i] = &m->rules[i];
    qsort(byid, m->nrules, sizeof(evb_pm_rule *), rule_id_sort);
    for (size_t i = 0; i < m->nrules; i++) {
        const evb_pm_rule *first =
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
        /* branches[] is filled by build() before this runs */
        /* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.ArraySubscript) */
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
    m->slots[i] =
        (evb_pm_slot){k->h, k->path, k->val, k->path_len, k->val_len, off, cnt, k->kind, 1};
}

static void put_path(evb_matcher *m, const keyref *k, uint32_t off, uint32_t cnt)
{
    size_t i = k->h & m->pmask;
    while (m->paths[i].used)
        i = (i + 1) & m->pmask;
    m->paths[i] = (evb_pm_ipath){k->h, k->path, k->path_len, off, cnt, 1};
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
        pk[i].kind = EVB_PMK_PATH;
        pk[i].val = "";
        pk[i].val_len = 0;
        pk[i].h = evb_pm_mix(evb_pm_fnv(EVB_PM_FNV_INIT, kr[i].path, kr[i].path_len));
        pk[i].branch = kr[i].kind == EVB_PMK_PREFIX ? kr[i].val_len : UINT32_MAX; /* sort key */
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

evb_err evb_pm_index_build(evb_matcher *m)
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
            m->branches[m->nbranches++] = (evb_pm_branch){(uint32_t)r, (uint32_t)b};
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
