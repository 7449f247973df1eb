/* evbridge registry — indexing schema documents and resolving references.
 *
 * Implements JSON Schema's identification rules (2020-12 core §8.2, draft-07 core §8):
 * "$id" ("id" in draft-04) starts a new schema resource whose URI is resolved against the
 * enclosing base; "$anchor"/"$dynamicAnchor" (2020-12) and fragment-only ids (drafts 4-7)
 * name plain-name fragments. Only keywords known to hold subschemas are walked, so an "$id"
 * inside "enum" or an unknown keyword is not an identifier. In drafts 4-7 "$ref" overrides
 * its siblings, including "$id". References resolve to an indexed URI, a JSON pointer from a
 * resource root, or a document loaded on demand (built-in meta-schemas, then the caller's
 * resolver); no network access.
 */
#include "registry/compile_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M4 = 1, M6 = 2, M7 = 4, M20 = 8, MALL = 15, M67 = M6 | M7, M467 = M4 | M6 | M7 };
enum { S_ONE, S_ARRAY, S_MAP, S_ONE_OR_ARRAY, S_DEPS };

static const struct {
    const char *kw;
    int shape;
    unsigned dialects;
} WALK[] = {
    {"additionalItems", S_ONE, M467},
    {"items", S_ONE_OR_ARRAY, M467},
    {"items", S_ONE, M20},
    {"prefixItems", S_ARRAY, M20},
    {"additionalProperties", S_ONE, MALL},
    {"contains", S_ONE, M67 | M20},
    {"propertyNames", S_ONE, M67 | M20},
    {"not", S_ONE, MALL},
    {"if", S_ONE, M7 | M20},
    {"then", S_ONE, M7 | M20},
    {"else", S_ONE, M7 | M20},
    {"unevaluatedItems", S_ONE, M20},
    {"unevaluatedProperties", S_ONE, M20},
    {"allOf", S_ARRAY, MALL},
    {"anyOf", S_ARRAY, MALL},
    {"oneOf", S_ARRAY, MALL},
    {"properties", S_MAP, MALL},
    {"patternProperties", S_MAP, MALL},
    {"definitions", S_MAP, MALL},
    {"$defs", S_MAP, M20},
    {"dependentSchemas", S_MAP, M20},
    {"dependencies", S_DEPS, M467},
};

static unsigned dialect_mask(evb_schema_dialect d)
{
    switch (d) {
    case EVB_SCHEMA_DRAFT4:
        return M4;
    case EVB_SCHEMA_DRAFT6:
        return M6;
    case EVB_SCHEMA_DRAFT2020_12:
        return M20;
    default:
        return M7;
    }
}

bool dialect_of_uri(const char *uri, evb_schema_dialect *d)
{
    static const struct {
        const char *uri;
        evb_schema_dialect d;
    } KNOWN[] = {
        {"http://json-schema.org/draft-04/schema", EVB_SCHEMA_DRAFT4},
        {"http://json-schema.org/draft-06/schema", EVB_SCHEMA_DRAFT6},
        {"http://json-schema.org/draft-07/schema", EVB_SCHEMA_DRAFT7},
        {"https://json-schema.org/draft/2020-12/schema", EVB_SCHEMA_DRAFT2020_12},
    };
    size_t n = strlen(uri);
    if (n > 0 && uri[n - 1] == '#')
        n--;
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (strlen(KNOWN[i].uri) == n && memcmp(KNOWN[i].uri, uri, n) == 0) {
            *d = KNOWN[i].d;
            return true;
        }
    return false;
}

static const evb_json *load_document(cctx *c, const char *uri, evb_schema_dialect d,
                                     const char *path);

/* Vocabulary bits of a 2020-12 "$vocabulary" object; false on a required unknown one. */
static bool vocab_bits(cctx *c, const evb_json *voc, unsigned *bits, const char *path)
{
    static const struct {
        const char *name;
        unsigned bit;
    } V[] = {
        {"core", VOC_CORE},
        {"applicator", VOC_APPLICATOR},
        {"unevaluated", VOC_UNEVALUATED},
        {"validation", VOC_VALIDATION},
        {"format-annotation", VOC_FORMAT},
        {"format-assertion", VOC_FORMAT},
        {"meta-data", 0},
        {"content", 0},
    };
    static const char prefix[] = "https://json-schema.org/draft/2020-12/vocab/";
    *bits = VOC_CORE;
    for (size_t i = 0; i < evb_json_size(voc); i++) {
        const char *k = evb_json_key_at(voc, i, NULL);
        bool known = false;
        if (strncmp(k, prefix, sizeof prefix - 1) == 0)
            for (size_t j = 0; j < sizeof V / sizeof V[0]; j++)
                if (strcmp(k + sizeof prefix - 1, V[j].name) == 0) {
                    *bits |= V[j].bit;
                    known = true;
                }
        if (!known && evb_json_bool(evb_json_value_at(voc, i)))
            return cfail(c, EVB_ERR_INVALID, path, "required vocabulary \"%s\" is not supported",
                         k);
    }
    return true;
}

/* Dialect and vocabularies named by a "$schema" value. */
static bool meta_dialect(cctx *c, const char *uri, evb_schema_dialect *d, unsigned *vocab,
                         const char *path, int hops)
{
    *vocab = VOC_ALL;
    if (dialect_of_uri(uri, d))
        return true;
    if (hops > 4)
        return cfail(c, EVB_ERR_INVALID, path, "meta-schema chain too long at \"%s\"", uri);
    char *abs = uri_resolve("", uri);
    if (abs == NULL)
        return cfail(c, EVB_ERR_NOMEM, path, "out of memory");
    abs[uri_base_len(abs)] = '\0';
    const evb_json *meta = map_get(&c->by_uri, abs);
    if (meta == NULL && c->rc == EVB_OK)
        meta = load_document(c, abs, EVB_SCHEMA_DRAFT2020_12, path);
    free(abs);
    if (meta == NULL)
        return c->rc != EVB_OK ? false
                               : cfail(c, EVB_ERR_INVALID, path, "unknown $schema \"%s\"", uri);
    const evb_json *ms = evb_json_get(meta, "$schema");
    const char *msu = ms ? evb_json_string(ms, NULL) : NULL;
    if (msu == NULL || strcmp(msu, uri) == 0)
        return cfail(c, EVB_ERR_INVALID, path, "unknown $schema \"%s\"", uri);
    if (!meta_dialect(c, msu, d, vocab, path, hops + 1))
        return false;
    const evb_json *voc = evb_json_get(meta, "$vocabulary");
    if (voc != NULL && *d == EVB_SCHEMA_DRAFT2020_12 && evb_json_typeof(voc) == EVB_JSON_OBJECT)
        return vocab_bits(c, voc, vocab, path);
    return true;
}

static bool put_uri(cctx *c, const char *uri, size_t n, const evb_json *v)
{
    char *key = arena_strndup(&c->s->mem, uri, n);
    if (key == NULL)
        return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
    if (map_get(&c->by_uri, key) != NULL)
        return true; /* first definition wins */
    return map_put(&c->by_uri, key, (void *)v) || cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
}

static bool put_anchor(cctx *c, const resource *res, const char *name, const evb_json *v)
{
    sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b, "%s#%s", res->uri, name);
    bool ok = !b.failed && put_uri(c, b.data, b.len, v);
    if (b.failed)
        cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
    sbuf_fini(&b);
    return ok;
}

/* Applies "$id" (or draft-04 "id"): may switch *res to a new resource. */
static bool apply_id(cctx *c, const evb_json *v, const loc *l, resource **res)
{
    const char *kw = l->dialect == EVB_SCHEMA_DRAFT4 ? "id" : "$id";
    const evb_json *idv = evb_json_get(v, kw);
    const char *id = idv ? evb_json_string(idv, NULL) : NULL;
    if (id == NULL || (l->dialect != EVB_SCHEMA_DRAFT2020_12 && evb_json_get(v, "$ref")))
        return true;
    if (l->dialect == EVB_SCHEMA_DRAFT2020_12 && id[0] == '#' && id[1] != '\0')
        return true; /* not an identifier in 2020-12 */
    char *abs = uri_resolve((*res)->uri, id);
    if (abs == NULL)
        return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
    size_t bl = uri_base_len(abs);
    bool ok = true;
    if (bl != strlen((*res)->uri) || strncmp(abs, (*res)->uri, bl) != 0 || id[0] != '#') {
        resource *r = arena_alloc(&c->s->mem, sizeof *r);
        char *u = r ? arena_strndup(&c->s->mem, abs, bl) : NULL;
        if (u == NULL) {
            free(abs);
            return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
        }
        r->uri = u;
        *res = r;
        ok = put_uri(c, u, bl, v);
    }
    if (ok && abs[bl] == '#' && abs[bl + 1] != '\0')
        ok = put_anchor(c, *res, abs + bl + 1, v);
    free(abs);
    return ok;
}

static bool anchors_2020(cctx *c, const evb_json *v, resource *res)
{
    const evb_json *a = evb_json_get(v, "$anchor");
    const char *name = a ? evb_json_string(a, NULL) : NULL;
    if (name != NULL && !put_anchor(c, res, name, v))
        return false;
    a = evb_json_get(v, "$dynamicAnchor");
    name = a ? evb_json_string(a, NULL) : NULL;
    if (name == NULL)
        return true;
    if (!put_anchor(c, res, name, v))
        return false;
    dyn_anchor *da = arena_alloc(&c->s->mem, sizeof *da);
    if (da == NULL)
        return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
    da->name = name;
    da->loc = v;
    da->next = res->dyn;
    res->dyn = da;
    return queue(c, P_ANCHOR, NULL, NULL, NULL, da);
}

static bool walk_child(cctx *c, const evb_json *v, const loc *l, sbuf *path, size_t depth,
                       const char *seg, size_t seglen)
{
    size_t mark = path->len;
    sbuf_putc(path, '/');
    sbuf_put_ptr_token(path, seg, seglen);
    bool ok = index_schema(c, v, l, path, depth + 1, false);
    path->len = mark;
    if (path->data)
        path->data[mark] = '\0';
    return ok;
}

static bool walk_keywords(cctx *c, const evb_json *v, const loc *l, sbuf *path, size_t depth)
{
    unsigned dm = dialect_mask(l->dialect);
    for (size_t i = 0; i < sizeof WALK / sizeof WALK[0]; i++) {
        if (!(WALK[i].dialects & dm))
            continue;
        const evb_json *k = evb_json_get(v, WALK[i].kw);
        if (k == NULL)
            continue;
        size_t mark = path->len;
        sbuf_putc(path, '/');
        sbuf_puts(path, WALK[i].kw);
        evb_json_type t = evb_json_typeof(k);
        bool ok = true;
        int shape = WALK[i].shape;
        if (shape == S_ONE_OR_ARRAY)
            shape = t == EVB_JSON_ARRAY ? S_ARRAY : S_ONE;
        if (shape == S_ONE) {
            ok = index_schema(c, k, l, path, depth + 1, false);
        } else if (shape == S_ARRAY && t == EVB_JSON_ARRAY) {
            char idx[24];
            for (size_t j = 0; ok && j < evb_json_size(k); j++) {
                int n = snprintf(idx, sizeof idx, "%zu", j);
                ok = walk_child(c, evb_json_at(k, j), l, path, depth, idx, (size_t)n);
            }
        } else if ((shape == S_MAP || shape == S_DEPS) && t == EVB_JSON_OBJECT) {
            for (size_t j = 0; ok && j < evb_json_size(k); j++) {
                const evb_json *cv = evb_json_value_at(k, j);
                if (shape == S_DEPS && evb_json_typeof(cv) == EVB_JSON_ARRAY)
                    continue;
                size_t kl;
                const char *key = evb_json_key_at(k, j, &kl);
                ok = walk_child(c, cv, l, path, depth, key, kl);
            }
        }
        path->len = mark;
        if (path->data)
            path->data[mark] = '\0';
        if (!ok)
            return false;
    }
    return true;
}

bool index_schema(cctx *c, const evb_json *v, const loc *parent, sbuf *path, size_t depth,
                  bool doc_root)
{
    if (map_get(&c->locs, v) != NULL)
        return true;
    const char *p = path->data ? path->data : "";
    if (depth > c->max_depth)
        return cfail(c, EVB_ERR_LIMIT, p, "schema nested deeper than %zu levels", c->max_depth);
    loc *l = arena_alloc(&c->s->mem, sizeof *l);
    if (l == NULL || (l->path = arena_strndup(&c->s->mem, p, strlen(p))) == NULL)
        return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
    l->res = parent->res;
    l->dialect = parent->dialect;
    l->vocab = parent->vocab;
    if (evb_json_typeof(v) == EVB_JSON_OBJECT) {
        const evb_json *sch = evb_json_get(v, "$schema");
        const char *id_kw = l->dialect == EVB_SCHEMA_DRAFT4 ? "id" : "$id";
        if (sch != NULL && (doc_root || evb_json_get(v, id_kw) || evb_json_get(v, "$id"))) {
            const char *su = evb_json_string(sch, NULL);
            if (su == NULL)
                return cfail(c, EVB_ERR_INVALID, l->path, "\"$schema\" must be a string");
            if (!meta_dialect(c, su, &l->dialect, &l->vocab, l->path, 0))
                return false;
        }
        if (!apply_id(c, v, l, &l->res))
            return false;
        if (l->dialect == EVB_SCHEMA_DRAFT2020_12 && !anchors_2020(c, v, l->res))
            return false;
    }
    if (!map_put(&c->locs, v, l))
        return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
    if (evb_json_typeof(v) != EVB_JSON_OBJECT)
        return true;
    return walk_keywords(c, v, l, path, depth);
}

bool index_document(cctx *c, const evb_json *root, const char *uri, evb_schema_dialect d,
                    const char *path)
{
    resource *r = arena_alloc(&c->s->mem, sizeof *r);
    loc *top = arena_alloc(&c->s->mem, sizeof *top);
    if (r == NULL || top == NULL || (r->uri = arena_strndup(&c->s->mem, uri, strlen(uri))) == NULL)
        return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
    top->res = r;
    top->dialect = d;
    top->vocab = VOC_ALL;
    top->path = path;
    if (!put_uri(c, r->uri, strlen(r->uri), root))
        return false;
    sbuf p;
    sbuf_init(&p);
    sbuf_puts(&p, path);
    bool ok = !p.failed && index_schema(c, root, top, &p, 0, true);
    if (p.failed)
        cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
    sbuf_fini(&p);
    return ok;
}

static const evb_json *load_document(cctx *c, const char *uri, evb_schema_dialect d,
                                     const char *path)
{
    if (map_get(&c->tried, uri) != NULL)
        return NULL;
    char *key = arena_strndup(&c->s->mem, uri, strlen(uri));
    if (key == NULL || !map_put(&c->tried, key, key)) {
        cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    size_t len = 0;
    const char *text = metaschema_lookup(uri, &len);
    if (text == NULL && c->opt->resolve != NULL)
        text = c->opt->resolve(c->opt->resolve_arg, uri, &len);
    if (text == NULL)
        return NULL;
    doc_list *dl = arena_alloc(&c->s->mem, sizeof *dl);
    if (dl == NULL) {
        cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    evb_error e;
    evb_err rc = evb_json_parse(text, len, 2 * c->max_depth + 8, &dl->doc, &e);
    if (rc != EVB_OK) {
        cfail(c, rc, path, "referenced schema \"%s\": %s", uri, e.message);
        return NULL;
    }
    dl->next = c->s->docs;
    c->s->docs = dl;
    sbuf p;
    sbuf_init(&p);
    sbuf_printf(&p, "%s#", uri);
    const evb_json *root = evb_json_root(dl->doc);
    bool ok = !p.failed && index_document(c, root, uri, d, p.data);
    sbuf_fini(&p);
    return ok ? root : NULL;
}

/* Walks JSON pointer `frag` (percent-encoded) from a resource root. */
static const evb_json *walk_pointer(cctx *c, const evb_json *root, const char *frag,
                                    const char *full)
{
    const evb_json *cur = root;
    const loc *near = map_get(&c->locs, root);
    char *tok = malloc(strlen(frag) + 1);
    if (tok == NULL || near == NULL) {
        free(tok);
        cfail(c, near ? EVB_ERR_NOMEM : EVB_ERR_INTERNAL, NULL, "cannot resolve \"%s\"", full);
        return NULL;
    }
    const char *p = frag;
    while (cur != NULL && *p == '/') {
        p++;
        size_t n = strcspn(p, "/");
        memcpy(tok, p, n);
        n = ptr_token_decode(tok, n);
        p += strcspn(p, "/");
        if (evb_json_typeof(cur) == EVB_JSON_OBJECT) {
            cur = evb_json_getn(cur, tok, n);
        } else if (evb_json_typeof(cur) == EVB_JSON_ARRAY && n > 0 && n < 20 &&
                   strspn(tok, "0123456789") >= n && (tok[0] != '0' || n == 1)) {
            tok[n] = '\0';
            cur = evb_json_at(cur, (size_t)strtoull(tok, NULL, 10));
        } else {
            cur = NULL;
        }
        const loc *l = cur ? map_get(&c->locs, cur) : NULL;
        if (l != NULL)
            near = l;
    }
    free(tok);
    if (cur == NULL || *p != '\0')
        return NULL;
    if (map_get(&c->locs, cur) == NULL) {
        sbuf path;
        sbuf_init(&path);
        sbuf_puts(&path, full);
        bool ok = !path.failed && index_schema(c, cur, near, &path, 0, false);
        sbuf_fini(&path);
        if (!ok)
            return NULL;
    }
    return cur;
}

const evb_json *resolve_ref(cctx *c, const char *ref, const loc *from, char **frag_out)
{
    char *full = uri_resolve(from->res->uri, ref);
    if (full == NULL) {
        cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    size_t bl = uri_base_len(full);
    if (full[bl] == '#' && full[bl + 1] == '\0')
        full[bl] = '\0';
    const evb_json *v = map_get(&c->by_uri, full);
    char *frag = full[bl] == '#' ? full + bl + 1 : full + bl;
    full[bl] = '\0';
    const evb_json *root = map_get(&c->by_uri, full);
    if (root == NULL && c->rc == EVB_OK) {
        root = load_document(c, full, from->dialect, from->path);
        if (root != NULL && v == NULL && *frag != '\0') {
            full[bl] = '#';
            v = map_get(&c->by_uri, full);
            full[bl] = '\0';
        }
    }
    if (v == NULL && root != NULL && c->rc == EVB_OK) {
        if (*frag == '\0')
            v = root;
        else if (*frag == '/')
            v = walk_pointer(c, root, frag, ref);
    }
    if (v != NULL && frag_out != NULL) {
        *frag_out = malloc(strlen(frag) + 1);
        if (*frag_out == NULL) {
            cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
            v = NULL;
        } else {
            strcpy(*frag_out, frag);
        }
    }
    free(full);
    return v;
}
