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
 */
#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern_int.h"

typedef struct walk {
    evb_pm_event *ev;
    char *path;
    size_t plen, pcap;
    uint32_t *chain; /* current chain (pairs) */
    size_t clen, ccap;
} walk;

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (np == NULL)
        return 0;
    *p = np;
    *cap = nc;
    return 1;
}

static evb_err add_leaf(walk *w, evb_pm_val v)
{
    evb_pm_event *ev = w->ev;
    if (!grow((void **)&ev->leaves, &ev->capleaves, ev->nleaves + 1, sizeof *ev->leaves) ||
        !grow((void **)&ev->paths, &ev->cappaths, ev->npaths + w->plen + 1, 1) ||
        !grow((void **)&ev->chain, &ev->capchain, ev->nchain + w->clen + 1, sizeof(uint32_t)))
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
    if (!grow((void **)&w->path, &w->pcap, mark + kl + 2, 1))
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
    if (!grow((void **)&w->chain, &w->ccap, w->clen + 2, sizeof(uint32_t)))
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
            rc = walk_value(w, child);
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
            rc = walk_doc(w, evb_json_value_at(v, i));
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

static int leaf_cmp(const void *a, const void *b)
{
    const evb_pm_leaf *x = a, *y = b;
    size_t n = x->path_len < y->path_len ? x->path_len : y->path_len;
    int c = memcmp(x->path, y->path, n);
    if (c != 0)
        return c;
    if (x->path_len != y->path_len)
        return x->path_len < y->path_len ? -1 : 1;
    return x->path_off < y->path_off ? -1 : x->path_off > y->path_off; /* document order */
}

/* Points the leaves at their paths and sorts them (the paths buffer has stopped moving). */
static void finish_leaves(evb_pm_event *ev)
{
    for (size_t i = 0; i < ev->nleaves; i++)
        ev->leaves[i].path = ev->paths + ev->leaves[i].path_off;
    if (ev->nleaves > 1)
        qsort(ev->leaves, ev->nleaves, sizeof *ev->leaves, leaf_cmp);
}

evb_err evb_pm_event_flatten(const json_t *event, evb_pm_event *ev)
{
    if (!json_is_object(event))
        return EVB_ERR_INVALID;
    walk w = {ev, NULL, 0, 0, NULL, 0, 0};
    evb_err rc = walk_value(&w, event);
    free(w.path);
    free(w.chain);
    if (rc == EVB_OK)
        finish_leaves(ev);
    return rc;
}

evb_err evb_pm_event_flatten_view(const evb_pattern_view *view, evb_pm_event *ev)
{
    if (view == NULL || (view->members == NULL && view->n > 0))
        return EVB_ERR_INVALID;
    walk w = {ev, NULL, 0, 0, NULL, 0, 0};
    evb_err rc = EVB_OK;
    for (size_t i = 0; i < view->n && rc == EVB_OK; i++) {
        const evb_pattern_member *m = &view->members[i];
        if (m->str == NULL && m->json == NULL)
            continue;
        if (push_key(&w, m->name, m->name_len) == (size_t)-1) {
            rc = EVB_ERR_NOMEM;
            break;
        }
        if (m->str != NULL)
            rc = add_leaf(&w, (evb_pm_val){EVB_PMV_STR, m->str_len, {m->str}});
        else
            rc = walk_doc(&w, m->json);
        w.plen = 0;
    }
    free(w.path);
    free(w.chain);
    if (rc == EVB_OK)
        finish_leaves(ev);
    return rc;
}

void evb_pm_event_fini(evb_pm_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->leaves);
    free(ev->paths);
    free(ev->chain);
    memset(ev, 0, sizeof *ev);
}

static int path_cmp(const evb_pm_leaf *l, const char *path, size_t n)
{
    size_t m = l->path_len < n ? l->path_len : n;
    int c = memcmp(l->path, path, m);
    if (c != 0)
        return c;
    return l->path_len < n ? -1 : l->path_len > n;
}

size_t evb_pm_event_find(const evb_pm_event *ev, const char *path, size_t n, size_t *count)
{
    size_t lo = 0, hi = ev->nleaves;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (path_cmp(&ev->leaves[mid], path, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < ev->nleaves && path_cmp(&ev->leaves[end], path, n) == 0)
        end++;
    *count = end - lo;
    return lo;
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
    memset(&ev, 0, sizeof ev);
    int matched = evb_pm_event_flatten(event, &ev) == EVB_OK && match_flat(p, &ev);
    evb_pm_event_fini(&ev);
    return matched;
}

int evb_pattern_match_view(const evb_pattern *p, const evb_pattern_view *view)
{
    if (p == NULL || view == NULL)
        return 0;
    evb_pm_event ev;
    memset(&ev, 0, sizeof ev);
    int matched = evb_pm_event_flatten_view(view, &ev) == EVB_OK && match_flat(p, &ev);
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
