/* evbridge registry — schema compiler state, private to schema_*.c.
 *
 * Compilation runs in three steps: (1) index — walk every schema document (root, built-in
 * meta-schemas, resolver results) once, computing for each subschema its base URI resource,
 * dialect and location, and registering $id / $anchor / $dynamicAnchor URIs; (2) compile —
 * build snodes from the root down, keyword by keyword; (3) link — resolve the queued $ref /
 * $dynamicRef / dynamic-anchor work items, compiling their targets (which may queue more)
 * until the queue is empty. Recursion depth is bounded by the schema depth limit; reference
 * chains are handled by the queue, not by recursion.
 */
#ifndef EVB_REGISTRY_COMPILE_INT_H
#define EVB_REGISTRY_COMPILE_INT_H

#include "registry/schema_int.h"

typedef struct loc {
    resource *res;
    evb_schema_dialect dialect;
    unsigned vocab;
    const char *path; /* where it is, for error messages: "/properties/a" or "uri#/x" */
} loc;

enum { P_REF, P_DYNREF, P_ANCHOR };

typedef struct pending {
    int kind;
    snode *node;
    const char *ref;
    const loc *from;
    dyn_anchor *anchor;
} pending;

typedef struct cctx {
    evb_schema *s;
    const evb_schema_options *opt;
    evb_error *err;
    evb_err rc;
    size_t max_depth;
    map by_uri; /* absolute URI (with anchor fragment) -> const evb_json * */
    map locs;   /* const evb_json * -> loc * */
    map nodes;  /* const evb_json * -> snode * */
    map tried;  /* URIs already loaded or looked up */
    pending *pend;
    size_t n_pend, cap_pend;
} cctx;

/* Records the first error and returns NULL-friendly false. */
bool cfail(cctx *c, evb_err code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* schema_index.c */
bool index_document(cctx *c, const evb_json *root, const char *uri, evb_schema_dialect d,
                    const char *path);
bool index_schema(cctx *c, const evb_json *v, const loc *parent, sbuf *path, size_t depth,
                  bool doc_root);
const evb_json *resolve_ref(cctx *c, const char *ref, const loc *from, char **frag_out);
bool dialect_of_uri(const char *uri, evb_schema_dialect *d);

/* schema_compile.c */
snode *compile_node(cctx *c, const evb_json *v);
snode *compile_child(cctx *c, const evb_json *v, const loc *parent, const char *kw,
                     const char *key);
bool queue(cctx *c, int kind, snode *n, const char *ref, const loc *from, dyn_anchor *a);

/* schema_plan.c: once linked, fills ops, pidx and req_mask/req_fast of every compiled node
 * (c->nodes) and s->dyn_scope. false (with c->rc set) when out of memory. */
bool plan_nodes(cctx *c);

/* schema_keywords.c */
bool keywords_compile(cctx *c, snode *n, const evb_json *v, const loc *l);

#endif
