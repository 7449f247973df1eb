/* evbridge registry — evb_schema_compile / evb_schema_free and the link loop.
 *
 * See compile_int.h for the three steps (index, compile, link). The compiled graph is
 * immutable once evb_schema_compile returns; all of it (nodes, strings, parsed documents,
 * regexes) is owned by the evb_schema and released by evb_schema_free.
 */
#include "registry/compile_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cfail(cctx *c, evb_err code, const char *path, const char *fmt, ...)
{
    if (c->rc != EVB_OK)
        return false;
    c->rc = code;
    if (c->err != NULL) {
        c->err->code = code;
        snprintf(c->err->pointer, sizeof c->err->pointer, "%s", path ? path : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
        va_end(ap);
    }
    return false;
}

bool queue(cctx *c, int kind, snode *n, const char *ref, const loc *from, dyn_anchor *a)
{
    if (c->n_pend == c->cap_pend) {
        size_t ncap = c->cap_pend ? c->cap_pend * 2 : 32;
        pending *p = realloc(c->pend, ncap * sizeof *p);
        if (p == NULL)
            return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
        c->pend = p;
        c->cap_pend = ncap;
    }
    c->pend[c->n_pend++] =
        (pending){.kind = kind, .node = n, .ref = ref, .from = from, .anchor = a};
    return true;
}

snode *compile_node(cctx *c, const evb_json *v)
{
    snode *n = map_get(&c->nodes, v);
    if (n != NULL)
        return n;
    const loc *l = map_get(&c->locs, v);
    if (l == NULL) {
        cfail(c, EVB_ERR_INTERNAL, NULL, "schema location was not indexed");
        return NULL;
    }
    n = arena_alloc(&c->s->mem, sizeof *n);
    if (n == NULL || !map_put(&c->nodes, v, n)) {
        cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    n->res = l->res;
    if (evb_json_typeof(v) == EVB_JSON_BOOL) {
        n->is_bool = true;
        n->bool_val = evb_json_bool(v);
        return n;
    }
    if (evb_json_typeof(v) != EVB_JSON_OBJECT) {
        cfail(c, EVB_ERR_INVALID, l->path, "a schema must be an object or a boolean");
        return NULL;
    }
    return keywords_compile(c, n, v, l) ? n : NULL;
}

snode *compile_child(cctx *c, const evb_json *v, const loc *parent, const char *kw, const char *key)
{
    if (map_get(&c->locs, v) == NULL) {
        sbuf p;
        sbuf_init(&p);
        sbuf_printf(&p, "%s/%s", parent->path, kw);
        if (key != NULL) {
            sbuf_putc(&p, '/');
            sbuf_put_ptr_token(&p, key, strlen(key));
        }
        bool ok = !p.failed && index_schema(c, v, parent, &p, 0, false);
        if (p.failed)
            cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
        sbuf_fini(&p);
        if (!ok)
            return NULL;
    }
    return compile_node(c, v);
}

/* A $dynamicRef is dynamic only when its fragment is a plain name that the static target
 * declares with "$dynamicAnchor" (2020-12 core §8.2.3.2). */
static bool link_dynref(cctx *c, const pending *p, const evb_json *target, const char *frag)
{
    p->node->dynref = compile_node(c, target);
    if (p->node->dynref == NULL)
        return false;
    if (frag[0] == '\0' || frag[0] == '/')
        return true;
    const evb_json *da =
        evb_json_typeof(target) == EVB_JSON_OBJECT ? evb_json_get(target, "$dynamicAnchor") : NULL;
    const char *name = da ? evb_json_string(da, NULL) : NULL;
    if (name != NULL && strcmp(name, frag) == 0)
        p->node->dyn_name = name;
    return true;
}

static bool link_all(cctx *c)
{
    while (c->n_pend > 0 && c->rc == EVB_OK) {
        pending p = c->pend[--c->n_pend];
        if (p.kind == P_ANCHOR) {
            p.anchor->node = compile_node(c, p.anchor->loc);
            if (p.anchor->node == NULL)
                return false;
            continue;
        }
        char *frag = NULL;
        const evb_json *t = resolve_ref(c, p.ref, p.from, &frag);
        if (t == NULL) {
            free(frag);
            return cfail(c, EVB_ERR_INVALID, p.from->path, "cannot resolve reference \"%s\"",
                         p.ref);
        }
        bool ok;
        if (p.kind == P_REF)
            ok = (p.node->ref = compile_node(c, t)) != NULL;
        else
            ok = link_dynref(c, &p, t, frag);
        free(frag);
        if (!ok)
            return false;
    }
    return c->rc == EVB_OK;
}

static void schema_release(evb_schema *s)
{
    for (regex_list *r = s->regexes; r != NULL; r = r->next)
        regex_free(r->re);
    for (doc_list *d = s->docs; d != NULL; d = d->next)
        evb_json_doc_free(d->doc);
    arena_fini(&s->mem);
    free(s);
}

static evb_err compile_root(cctx *c, const char *json, size_t len)
{
    const evb_schema_options *o = c->opt;
    doc_list *dl = arena_alloc(&c->s->mem, sizeof *dl);
    if (dl == NULL)
        return evb_error_set(c->err, EVB_ERR_NOMEM, NULL, "out of memory");
    evb_err rc = evb_json_parse(json, len, 2 * c->max_depth + 8, &dl->doc, c->err);
    if (rc != EVB_OK)
        return rc;
    dl->next = c->s->docs;
    c->s->docs = dl;
    evb_schema_dialect d = o->default_dialect ? o->default_dialect : EVB_SCHEMA_DRAFT7;
    const evb_json *root = evb_json_root(dl->doc);
    if (!index_document(c, root, o->base_uri ? o->base_uri : "", d, ""))
        return c->rc;
    const loc *l = map_get(&c->locs, root);
    c->s->dialect = l->dialect;
    c->s->root = compile_node(c, root);
    if (c->s->root == NULL || !link_all(c) || !plan_nodes(c))
        return c->rc != EVB_OK ? c->rc : EVB_ERR_INTERNAL;
    return EVB_OK;
}

evb_err evb_schema_compile(const char *json, size_t len, const evb_schema_options *opt,
                           evb_schema **out, evb_error *err)
{
    static const evb_schema_options defaults;
    if (out != NULL)
        *out = NULL;
    if (json == NULL || out == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, NULL, "no schema text or output");
    evb_error_clear(err);
    cctx c = {.opt = opt ? opt : &defaults, .err = err};
    c.max_depth = c.opt->max_schema_depth ? c.opt->max_schema_depth : EVB_SCHEMA_DEFAULT_MAX_DEPTH;
    if (c.max_depth > EVB_JSON_HARD_MAX_DEPTH / 2 - 8)
        c.max_depth = EVB_JSON_HARD_MAX_DEPTH / 2 - 8;
    c.s = calloc(1, sizeof *c.s);
    if (c.s == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    arena_init(&c.s->mem);
    c.s->flags = c.opt->flags;
    c.s->max_instance_depth =
        c.opt->max_instance_depth ? c.opt->max_instance_depth : EVB_SCHEMA_DEFAULT_MAX_DEPTH;
    if (c.s->max_instance_depth > EVB_JSON_HARD_MAX_DEPTH)
        c.s->max_instance_depth = EVB_JSON_HARD_MAX_DEPTH;
    map_init(&c.by_uri, true);
    map_init(&c.locs, false);
    map_init(&c.nodes, false);
    map_init(&c.tried, true);
    evb_err rc = compile_root(&c, json, len);
    map_fini(&c.by_uri);
    map_fini(&c.locs);
    map_fini(&c.nodes);
    map_fini(&c.tried);
    free(c.pend);
    if (rc != EVB_OK) {
        schema_release(c.s);
        return rc;
    }
    *out = c.s;
    return EVB_OK;
}

void evb_schema_free(evb_schema *s)
{
    if (s != NULL)
        schema_release(s);
}

evb_schema_dialect evb_schema_dialect_of(const evb_schema *s)
{
    return s->dialect;
}

evb_err evb_schema_canonicalize(const char *json, size_t len, char **out, size_t *out_len,
                                evb_error *err)
{
    if (out == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, NULL, "no output");
    *out = NULL;
    evb_json_doc *d;
    evb_err rc = evb_json_parse(json, len, EVB_JSON_HARD_MAX_DEPTH, &d, err);
    if (rc != EVB_OK)
        return rc;
    rc = evb_json_canonical(evb_json_root(d), out, out_len);
    evb_json_doc_free(d);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, NULL, "out of memory");
    return EVB_OK;
}
