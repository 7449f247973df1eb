/* evbridge registry — compatibility checker internals, shared by compat_*.c only.
 *
 * One walk compares a reader schema node with a writer schema node ("every instance valid
 * under w is valid under r") and reports what breaks that. The walk carries the JSON pointer
 * of the current reader location, the two documents (for local $ref), a stack of node pairs
 * being compared (cycle guard for recursive schemas), a step budget, and the report.
 *
 * Trial mode (c->trial > 0) only counts issues: used to ask "does this branch accept that?"
 * (anyOf matching, "accepts anything") without reporting.
 *
 * Soundness rule: ignoring a *writer* constraint only makes the answer more conservative;
 * every *reader* assertion keyword must be handled (or reported as unprovable).
 */
#ifndef EVB_REGISTRY_COMPAT_INT_H
#define EVB_REGISTRY_COMPAT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "registry/compat.h"

/* instance type bits (integer and non-integer numbers apart, so integer -> number widens) */
enum {
    T_NULL = 1u << 0,
    T_BOOL = 1u << 1,
    T_INT = 1u << 2,
    T_FRAC = 1u << 3,
    T_STR = 1u << 4,
    T_ARR = 1u << 5,
    T_OBJ = 1u << 6,
    T_NUM = T_INT | T_FRAC,
    T_ALL = (1u << 7) - 1,
};

typedef struct cmp_pair {
    const json_t *r, *w;
} cmp_pair;

typedef struct cmp_ctx {
    const json_t *rdoc, *wdoc; /* document roots, for local $ref */
    bool fwd;                  /* reader is the older schema (wording only) */
    bool w_ref_siblings;       /* writer dialect applies keywords next to $ref (2019-09+) */
    unsigned flags;            /* EVB_COMPAT_* options */
    size_t max_messages;

    char *path; /* JSON pointer of the reader location */
    size_t path_len, path_cap;

    const char *prefix; /* prepended to every message, "" or "against version 2: " */
    evb_compat_report *rep;
    size_t issues; /* counted also in trial mode */
    int trial;
    bool budget_reported;

    cmp_pair *stack; /* pairs being compared */
    size_t depth, stack_cap;
    size_t budget; /* node comparisons left */

    json_t *empty;         /* {}: what an absent or true writer schema allows */
    json_t *string_schema; /* {"type":"string"}: property names */

    evb_err err; /* sticky: EVB_ERR_NOMEM */
} cmp_ctx;

/* compat_util.c — paths, messages, values */
size_t cmp_path_push(cmp_ctx *c, const char *seg); /* returns the mark for pop */
size_t cmp_path_push_index(cmp_ctx *c, size_t i);
void cmp_path_pop(cmp_ctx *c, size_t mark);
/* Reports an incompatibility at path + "/" + kw (kw may be NULL). */
void cmp_emit(cmp_ctx *c, const char *kw, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Short JSON text of v for messages (numbers normalised, long values cut). Free with free(). */
char *cmp_show(const json_t *v);
/* JSON Schema equality of instance values: 1 and 1.0 are equal. */
bool cmp_value_equal(const json_t *a, const json_t *b);
bool cmp_is_integral(const json_t *v);
/* Report appends, deduplicated, honouring max_messages. */
void cmp_report_add(cmp_ctx *c, const char *msg);

/* compat_ref.c — references, masks, schema equality */
/* True for keywords that constrain instances (assertions, applicators, $ref); annotations
 * and unknown keywords are false. "format" counts only with EVB_COMPAT_FORMAT_ASSERT. */
bool cmp_is_constraint(const char *kw, unsigned flags);
/* Resolves a local reference ("#", "#/json/pointer", "#anchor") in doc; NULL if it cannot.
 * dynamic: look for $dynamicAnchor instead of $anchor. */
const json_t *cmp_resolve(const json_t *doc, const char *ref, bool dynamic);
/* The $ref (or $dynamicRef) of an object schema, or NULL; *dynamic tells which. */
const char *cmp_ref_of(const json_t *s, bool *dynamic);
/* True when s has no keywords other than its reference and annotations. */
bool cmp_ref_only(const json_t *s, unsigned flags);
/* Types an instance valid under s may have (T_* bits), from type, enum, const, the
 * combinators and local references. ref_siblings: keywords next to $ref apply. */
unsigned cmp_type_mask(const json_t *doc, const json_t *s, int depth, bool ref_siblings);
unsigned cmp_type_kw_mask(const json_t *type);
/* Structural equality of two subschemas, following local references (cycle-safe). */
bool cmp_schema_equal(cmp_ctx *c, const json_t *r, const json_t *w);

/* compat_walk.c — the walk */
void cmp_schema(cmp_ctx *c, const json_t *r, const json_t *w);
/* cmp_schema at path + "/" + seg */
void cmp_sub(cmp_ctx *c, const char *seg, const json_t *r, const json_t *w);
/* Trial: would r accept every instance of w? */
bool cmp_accepts(cmp_ctx *c, const json_t *r, const json_t *w);
/* Reports a change of reader keyword kw (reader value rv, writer value wv; either may be
 * NULL for "absent"), worded from old to new. */
void cmp_emit_change(cmp_ctx *c, const char *kw, const json_t *rv, const json_t *wv);
/* Reader bound `kw` must not be tighter than the writer's: max-style when is_max. */
void cmp_count_bound(cmp_ctx *c, const json_t *r, const json_t *w, const char *kw, bool is_max);
/* cmp_schema at path + "/" + seg1 + "/" + seg2 */
void cmp_sub2(cmp_ctx *c, const char *seg1, const char *seg2, const json_t *r, const json_t *w);
/* Pushes "seg" and reports "added; could not be proven compatible" or "changed; ..." */
void cmp_unprovable(cmp_ctx *c, const char *seg, bool writer_has);

/* compat_object.c — object keywords (properties, required, additionalProperties, ...) */
void cmp_object(cmp_ctx *c, const json_t *r, const json_t *w);
/* compat_apply.c — array keywords and the combinators */
void cmp_array(cmp_ctx *c, const json_t *r, const json_t *w);
void cmp_combinators(cmp_ctx *c, const json_t *r, const json_t *w);

#endif
