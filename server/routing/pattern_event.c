/* evbridge — matching one pattern: event flattening and array-consistent branch evaluation.
 *
 * As event-ruler does, the event is flattened into leaves: (dotted path, leaf value, array
 * chain). The chain lists, from the root down, every array the leaf sits in as (array id,
 * element index). Two leaves may be used together in one match only if they agree on every
 * array they share; because chains are root-to-leaf paths, it is enough to look at the first
 * position where they differ: same array, other element -> incompatible; different arrays
 * (the paths split at an object) -> compatible.
 *
 * A branch (AND of field conditions) matches when every field is satisfied by a matching
 * leaf, all chosen leaves pairwise compatible, or - for exists:false - when no leaf has that
 * path. A leaf outside any array is compatible with everything, so the search below only
 * backtracks over fields that can be satisfied by array elements alone (rare in practice).
 *
 * The leaves are grouped by path through a small hash table (FNV-1a of the path) instead of
 * sorted: lookups by path are one probe, the matcher walks the distinct paths with their
 * hashes, and the buffers live inline in evb_pm_event so a typical event costs no malloc.
 * Given the set of paths its patterns name (the matcher's), a flatten keeps only the leaves
 * at those paths and skips members under which none of them lies: a pattern on data.id
 * walks one member of the payload, not all of it.
 */
#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern_int.h"

typedef struct walk {
    evb_pm_event *ev;
    const evb_pm_pathset *only; /* NULL = every leaf */
    char *path;
    size_t plen, pcap;
    uint32_t *chain; /* current chain (pairs) */
    size_t clen, ccap;
    char path0[256];
    uint32_t chain0[64];
} walk;

/* Makes room for `need` elements in *p (capacity *cap); a buffer at `inl` is inline storage,
 * copied to the heap rather than reallocated. 0 when out of memory. */
static int grow(void **p, size_t *cap, size_t need, size_t elem, const void *inl)
{
    if (need <= *cap)
        return 1;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np;
    if (*p == inl) {
        np = malloc(nc * elem);
        if (np != NULL && *cap > 0)
            memcpy(np, *p, *cap * elem);
    } else {
        np = realloc(*p, nc * elem);
    }
    if (np == NULL)
        return 0;
    *p = np;
    *cap = nc;
    return 1;
}

static void walk_init(walk *w, evb_pm_event *ev, const evb_pm_pathset *only)
{
    w->ev = ev;
    w->only = only;
    w->path = w->path0;
    w->pcap = sizeof w->path0;
    w->chain = w->chain0;
    w->ccap = sizeof w->chain0 / sizeof w->chain0[0];
    w->plen = w->clen = 0;
}

static void walk_fini(walk *w)
{
    if (w->path != w->path0)
        free(w->path);
    if (w->chain != w->chain0)
        free(w->chain);
}

void evb_pm_event_init(evb_pm_event *ev)
{
    ev->leaves = ev->leaves0;
    ev->capleaves = EVB_PM_INLINE_LEAVES;
    ev->paths = ev->paths0;
    ev->cappaths = EVB_PM_INLINE_PATHS;
    ev->chain = ev->chain0;
    ev->capchain = EVB_PM_INLINE_CHAIN;
    ev->spare = ev->spare0;
    ev->capspare = EVB_PM_INLINE_LEAVES;
    ev->groups = ev->groups0;
    ev->htab = ev->htab0;
    ev->nleaves = ev->npaths = ev->nchain = ev->ngroups = ev->hmask = 0;
    ev->next_array = 0;
}

/* Index of the first path of s that is >= p[0..n) (bytes, a prefix before its extensions). */
static size_t lower_bound(const evb_pm_pathset *s, const char *p, size_t n)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const evb_pm_pathref *r = &s->p[mid];
        size_t m = r->len < n ? r->len : n;
        int c = memcmp(r->path, p, m);
        if (c < 0 || (c == 0 && r->len < n))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* 1 when some path of w->only starts with the current path (or there is no filter): a leaf
 * there or below may be looked up. */
static int wanted_below(const walk *w)
{
    if (w->only == NULL)
        return 1;
    size_t i = lower_bound(w->only, w->path, w->plen);
    return i < w->only->n && w->only->p[i].len >= w->plen &&
           memcmp(w->only->p[i].path, w->path, w->plen) == 0;
}

/* 1 when a leaf at the current path may be looked up. */
static int wanted_here(const walk *w)
{
    if (w->only == NULL)
        return 1;
    size_t i = lower_bound(w->only, w->path, w->plen);
    return i < w->only->n && w->only->p[i].len == w->plen &&
           memcmp(w->only->p[i].path, w->path, w->plen) == 0;
}

static evb_err add_leaf(walk *w, evb_pm_val v)
{
    evb_pm_event *ev = w->ev;
    if (!wanted_here(w))
        return EVB_OK;
    if (!grow((void **)&ev->leaves, &ev->capleaves, ev->nleaves + 1, sizeof *ev->leaves,
              ev->leaves0) ||
        !grow((void **)&ev->paths, &ev->cappaths, ev->npaths + w->plen + 1, 1, ev->paths0) ||
        !grow((void **)&ev->chain, &ev->capchain, ev->nchain + w->clen + 1, sizeof(uint32_t),
              ev->chain0))
        return EVB_ERR_NOMEM;
    evb_pm_leaf *l = &ev->leaves[ev->nleaves++];
    l->path = NULL;
    l->path_off = (uint32_t)ev->npaths;
    l->path_len = (uint32_t)w->plen;
    if (w->plen > 0)
        memcpy(ev->paths + ev->npaths, w->path, w->plen);
    ev->npaths += w->plen;
    l->chain_off = (uint32_t)ev->nchain;
    l->chain_len = (uint32_t)(w->clen / 2);
    if (w->clen > 0)
        memcpy(ev->chain + ev->nchain, w->chain, w->clen * sizeof(uint32_t));
    ev->nchain += w->clen;
    l->v = v;
    return EVB_OK;
}

/* Appends ".key" (or "key" at the top) to the current path; returns the length to pop to,
 * or (size_t)-1 when out of memory. */
static size_t push_key(walk *w, const char *key, size_t kl)
{
    size_t mark = w->plen;
    if (!grow((void **)&w->path, &w->pcap, mark + kl + 2, 1, w->path0))
        return (size_t)-1;
    if (mark > 0)
        w->path[w->plen++] = '.';
    memcpy(w->path + w->plen, key, kl);
    w->plen += kl;
    return mark;
}

/* Opens an array level of the chain: its id, element index 0. 0 when out of memory. */
static int push_array(walk *w)
{
    uint32_t id = w->ev->next_array++;
    if (!grow((void **)&w->chain, &w->ccap, w->clen + 2, sizeof(uint32_t), w->chain0))
        return 0;
    w->chain[w->clen] = id;
    w->chain[w->clen + 1] = 0;
    w->clen += 2;
    return 1;
}

/* ---- jansson trees ---- */

static evb_err walk_value(walk *w, const json_t *v)
{
    evb_err rc = EVB_OK;
    evb_pm_val lv = {EVB_PMV_NULL, 0, {NULL}};
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        const json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            size_t mark = push_key(w, key, strlen(key));
            if (mark == (size_t)-1)
                return EVB_ERR_NOMEM;
            rc = wanted_below(w) ? walk_value(w, child) : EVB_OK;
            w->plen = mark;
            if (rc != EVB_OK)
                return rc;
        }
        return EVB_OK;
    }
    case JSON_ARRAY:
        if (!push_array(w))
            return EVB_ERR_NOMEM;
        for (size_t i = 0; i < json_array_size(v) && rc == EVB_OK; i++) {
            w->chain[w->clen - 1] = (uint32_t)i;
            rc = walk_value(w, json_array_get(v, i));
        }
        w->clen -= 2;
        return rc;
    case JSON_STRING:
        lv.kind = EVB_PMV_STR;
        lv.u.s = json_string_value(v);
        lv.n = json_string_length(v);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        lv.kind = EVB_PMV_NUM;
        lv.u.num = json_number_value(v);
        break;
    case JSON_TRUE:
        lv.kind = EVB_PMV_TRUE;
        break;
    case JSON_FALSE:
        lv.kind = EVB_PMV_FALSE;
        break;
    default:
        break;
    }
    return add_leaf(w, lv);
}

/* ---- evb_json documents ---- */

static evb_err walk_doc(walk *w, const evb_json *v)
{
    evb_err rc = EVB_OK;
    evb_pm_val lv = {EVB_PMV_NULL, 0, {NULL}};
    switch (evb_json_typeof(v)) {
    case EVB_JSON_OBJECT:
        for (size_t i = 0, n = evb_json_size(v); i < n; i++) {
            size_t kl;
            const char *key = evb_json_key_at(v, i, &kl);
            size_t mark = push_key(w, key, kl);
            if (mark == (size_t)-1)
                return EVB_ERR_NOMEM;
            rc = wanted_below(w) ? walk_doc(w, evb_json_value_at(v, i)) : EVB_OK;
            w->plen = mark;
            if (rc != EVB_OK)
                return rc;
        }
        return EVB_OK;
    case EVB_JSON_ARRAY:
        if (!push_array(w))
            return EVB_ERR_NOMEM;
        for (size_t i = 0, n = evb_json_size(v); i < n && rc == EVB_OK; i++) {
            w->chain[w->clen - 1] = (uint32_t)i;
            rc = walk_doc(w, evb_json_at(v, i));
        }
        w->clen -= 2;
        return rc;
    case EVB_JSON_STRING:
        lv.kind = EVB_PMV_STR;
        lv.u.s = evb_json_string(v, &lv.n);
        break;
    case EVB_JSON_INTEGER:
    case EVB_JSON_REAL:
        lv.kind = EVB_PMV_NUM;
        lv.u.num = evb_json_number(v); /* an int64 rounds as strtod of its text would */
        break;
    case EVB_JSON_BOOL:
        lv.kind = evb_json_bool(v) ? EVB_PMV_TRUE : EVB_PMV_FALSE;
        break;
    default:
        break;
    }
    return add_leaf(w, lv);
}

static int same_path(const evb_pm_leaf *l, const char *path, size_t n)
{
    return l->path_len == n && memcmp(l->path, path, n) == 0;
}

/* Points the leaves at their paths (the paths buffer has stopped moving) and groups them by
 * path: a hash table of the distinct paths, then a stable counting placement. */
static evb_err group_leaves(evb_pm_event *ev)
{
    size_t n = ev->nleaves, hs = 16;
    while (hs < 2 * n)
        hs *= 2;
    uint32_t *gid = ev->gid0;
    if (hs > EVB_PM_INLINE_HTAB && (ev->htab = malloc(hs * sizeof *ev->htab)) == NULL)
        return EVB_ERR_NOMEM;
    if (n > EVB_PM_INLINE_LEAVES) { /* what is malloc'd here, evb_pm_event_fini frees */
        ev->groups = malloc(n * sizeof *ev->groups);
        gid = malloc(n * sizeof *gid);
        if (ev->groups == NULL || gid == NULL ||
            !grow((void **)&ev->spare, &ev->capspare, n, sizeof *ev->spare, ev->spare0)) {
            free(gid);
            if (ev->groups == NULL)
                ev->groups = ev->groups0;
            return EVB_ERR_NOMEM;
        }
    }
    memset(ev->htab, 0, hs * sizeof *ev->htab);
    ev->hmask = hs - 1;
    for (size_t i = 0; i < n; i++) {
        evb_pm_leaf *l = &ev->leaves[i];
        l->path = ev->paths + l->path_off;
        uint64_t h = evb_pm_fnv(EVB_PM_FNV_INIT, l->path, l->path_len);
        size_t s = evb_pm_mix(h) & ev->hmask;
        uint32_t g;
        for (;; s = (s + 1) & ev->hmask) {
            if (ev->htab[s] == 0) { /* a new path: its first leaf stands for it */
                g = (uint32_t)ev->ngroups++;
                ev->groups[g] = (evb_pm_group){h, (uint32_t)i, 0};
                ev->htab[s] = g + 1;
                break;
            }
            g = ev->htab[s] - 1;
            if (ev->groups[g].h == h &&
                same_path(&ev->leaves[ev->groups[g].first], l->path, l->path_len))
                break;
        }
        ev->groups[g].count++;
        gid[i] = g;
    }
    uint32_t end = 0; /* groups in order of first appearance; first = one past the end */
    for (size_t g = 0; g < ev->ngroups; g++) {
        end += ev->groups[g].count;
        ev->groups[g].first = end;
    }
    for (size_t i = n; i-- > 0;) /* backwards: each group keeps document order */
        ev->spare[--ev->groups[gid[i]].first] = ev->leaves[i];
    if (gid != ev->gid0)
        free(gid);
    evb_pm_leaf *t = ev->leaves;
    size_t tc = ev->capleaves;
    ev->leaves = ev->spare;
    ev->capleaves = ev->capspare;
    ev->spare = t;
    ev->capspare = tc;
    return EVB_OK;
}

evb_err evb_pm_event_flatten(const json_t *event, const evb_pm_pathset *only, evb_pm_event *ev)
{
    if (!json_is_object(event))
        return EVB_ERR_INVALID;
    walk w;
    walk_init(&w, ev, only);
    evb_err rc = walk_value(&w, event);
    walk_fini(&w);
    return rc == EVB_OK ? group_leaves(ev) : rc;
}

evb_err evb_pm_event_flatten_view(const evb_pattern_view *view, const evb_pm_pathset *only,
                                  evb_pm_event *ev)
{
    if (view == NULL || (view->members == NULL && view->n > 0))
        return EVB_ERR_INVALID;
    walk w;
    walk_init(&w, ev, only);
    evb_err rc = EVB_OK;
    for (size_t i = 0; i < view->n && rc == EVB_OK; i++) {
        const evb_pattern_member *m = &view->members[i];
        if (m->str == NULL && m->json == NULL)
            continue;
        if (push_key(&w, m->name, m->name_len) == (size_t)-1) {
            rc = EVB_ERR_NOMEM;
            break;
        }
        if (!wanted_below(&w))
            rc = EVB_OK;
        else if (m->str != NULL)
            rc = add_leaf(&w, (evb_pm_val){EVB_PMV_STR, m->str_len, {m->str}});
        else
            rc = walk_doc(&w, m->json);
        w.plen = 0;
    }
    walk_fini(&w);
    return rc == EVB_OK ? group_leaves(ev) : rc;
}

void evb_pm_event_fini(evb_pm_event *ev)
{
    if (ev == NULL)
        return;
    if (ev->leaves != ev->leaves0 && ev->leaves != ev->spare0)
        free(ev->leaves);
    if (ev->spare != ev->leaves0 && ev->spare != ev->spare0)
        free(ev->spare);
    if (ev->paths != ev->paths0)
        free(ev->paths);
    if (ev->chain != ev->chain0)
        free(ev->chain);
    if (ev->groups != ev->groups0)
        free(ev->groups);
    if (ev->htab != ev->htab0)
        free(ev->htab);
    evb_pm_event_init(ev);
}

size_t evb_pm_event_find(const evb_pm_event *ev, const char *path, size_t n, size_t *count)
{
    *count = 0;
    if (ev->ngroups == 0)
        return 0;
    uint64_t h = evb_pm_fnv(EVB_PM_FNV_INIT, path, n);
    for (size_t s = evb_pm_mix(h) & ev->hmask; ev->htab[s] != 0; s = (s + 1) & ev->hmask) {
        const evb_pm_group *g = &ev->groups[ev->htab[s] - 1];
        if (g->h == h && same_path(&ev->leaves[g->first], path, n)) {
            *count = g->count;
            return g->first;
        }
    }
    return 0;
}

static int field_value_match(const evb_pm_field *f, const evb_pm_val *v)
{
    for (size_t i = 0; i < f->nops; i++)
        if (evb_pm_op_match(&f->ops[i], v))
            return 1;
    return 0;
}

static int compatible(const evb_pm_event *ev, const evb_pm_leaf *a, const evb_pm_leaf *b)
{
    size_t n = a->chain_len < b->chain_len ? a->chain_len : b->chain_len;
    const uint32_t *ca = ev->chain + a->chain_off, *cb = ev->chain + b->chain_off;
    for (size_t i = 0; i < n; i++) {
        if (ca[2 * i] != cb[2 * i])
            return 1; /* the paths split at an object */
        if (ca[2 * i + 1] != cb[2 * i + 1])
            return 0; /* same array, different elements */
    }
    return 1;
}

/* Depth-first search for compatible leaves for the constrained fields cf[i..k). */
static int search(const evb_pattern *p, const evb_pm_event *ev, const uint32_t *cf, size_t k,
                  size_t i, const evb_pm_leaf **chosen)
{
    if (i == k)
        return 1;
    const evb_pm_field *f = &p->fields[cf[i]];
    size_t count, first = evb_pm_event_find(ev, f->path, f->path_len, &count);
    for (size_t j = first; j < first + count; j++) {
        const evb_pm_leaf *l = &ev->leaves[j];
        if (!field_value_match(f, &l->v))
            continue;
        size_t q = 0;
        while (q < i && compatible(ev, chosen[q], l))
            q++;
        if (q < i)
            continue;
        chosen[i] = l;
        if (search(p, ev, cf, k, i + 1, chosen))
            return 1;
    }
    return 0;
}

int evb_pm_branch_match(const evb_pattern *p, size_t b, const evb_pm_event *ev)
{
    const uint32_t *fs = p->bfields + p->boff[b];
    size_t n = p->boff[b + 1] - p->boff[b];
    uint32_t cf_stack[16];
    uint32_t *cf = cf_stack;
    size_t k = 0;
    int result = 1;
    for (size_t i = 0; i < n && result; i++) {
        const evb_pm_field *f = &p->fields[fs[i]];
        size_t count, first = evb_pm_event_find(ev, f->path, f->path_len, &count);
        if (count == 0) {
            result = f->absent_ok;
            continue;
        }
        int any = 0, free_leaf = 0;
        for (size_t j = first; j < first + count && !free_leaf; j++) {
            if (field_value_match(f, &ev->leaves[j].v)) {
                any = 1;
                free_leaf = ev->leaves[j].chain_len == 0;
            }
        }
        if (!any) {
            result = 0;
        } else if (!free_leaf) { /* only array elements satisfy it: constrained */
            if (k == 16 && cf == cf_stack) {
                cf = malloc(n * sizeof *cf);
                if (cf == NULL)
                    return -1;
                memcpy(cf, cf_stack, sizeof cf_stack);
            }
            cf[k++] = fs[i];
        }
    }
    if (result && k > 1) {
        const evb_pm_leaf **chosen = malloc(k * sizeof(const evb_pm_leaf *));
        if (chosen == NULL)
            result = -1;
        else
            result = search(p, ev, cf, k, 0, chosen);
        free(chosen);
    }
    if (cf != cf_stack)
        free(cf);
    return result;
}

static int match_flat(const evb_pattern *p, const evb_pm_event *ev)
{
    int matched = 0;
    for (size_t b = 0; b < p->nbranches && !matched; b++)
        matched = evb_pm_branch_match(p, b, ev) == 1;
    return matched;
}

int evb_pattern_match(const evb_pattern *p, const json_t *event)
{
    if (p == NULL || !json_is_object(event))
        return 0;
    evb_pm_event ev;
    evb_pm_event_init(&ev);
    int matched = evb_pm_event_flatten(event, NULL, &ev) == EVB_OK && match_flat(p, &ev);
    evb_pm_event_fini(&ev);
    return matched;
}

int evb_pattern_match_view(const evb_pattern *p, const evb_pattern_view *view)
{
    if (p == NULL || view == NULL)
        return 0;
    evb_pm_event ev;
    evb_pm_event_init(&ev);
    int matched = evb_pm_event_flatten_view(view, NULL, &ev) == EVB_OK && match_flat(p, &ev);
    evb_pm_event_fini(&ev);
    return matched;
}

evb_err evb_pattern_match_text(const evb_pattern *p, const char *event_json, size_t len,
                               int *matched, evb_error *err)
{
    evb_error_clear(err);
    if (p == NULL || event_json == NULL || matched == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "", "pattern and event are required");
    json_error_t jerr;
    json_t *ev =
        json_loadb(event_json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    if (ev == NULL)
        return evb_error_set(err, EVB_ERR_PARSE, "",
                             "event is not valid JSON (line %d, column %d): %s", jerr.line,
                             jerr.column, jerr.text);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return evb_error_set(err, EVB_ERR_INVALID, "", "event must be a JSON object");
    }
    *matched = evb_pattern_match(p, ev);
    json_decref(ev);
    return EVB_OK;
}
