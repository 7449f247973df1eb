/* evbridge registry — validator state, private to validate*.c.
 *
 * One vctx per evb_schema_validate call (on the caller's stack): the instance and keyword
 * paths being walked, the dynamic scope (schema resources entered, for $dynamicRef), the
 * violation sink and the PCRE2 match data. The compiled schema is only read.
 *
 * Paths are lazy: each step pushes a path segment (`pseg`, on the C stack of the function
 * that descends) linked to its parent, and a JSON pointer string is built from the chain only
 * when a violation is recorded (vfail). Valid payloads never format a pointer.
 *
 * Annotations for unevaluatedProperties/Items are bit sets over the members/items of the
 * current instance ("evset"); they are only allocated below a node that has one of those
 * keywords, so drafts 4-7 never pay for them. Results of failed subschemas are dropped as
 * the specification requires (2020-12 core §7.7.1.3).
 */
#ifndef EVB_REGISTRY_VALIDATE_INT_H
#define EVB_REGISTRY_VALIDATE_INT_H

#include "registry/schema_int.h"

#define VAL_MAX_FRAMES 600 /* nested subschema evaluations, bounds stack use */
#define VAL_PATH_MAX 512

typedef struct evset {
    uint64_t *bits;
    size_t n;
} evset;

/* One segment of a lazy JSON pointer: a name (escaped as ~0/~1 when materialised) or, when
 * s is NULL, an array index. Lives on the stack of the function that pushed it. */
typedef struct pseg {
    const struct pseg *up; /* parent segment; NULL at the root */
    const char *s;         /* borrowed; NULL: index segment */
    size_t n;              /* length of s (SEG_STRLEN: strlen(s)), or the index */
    size_t depth;          /* segments above this one */
} pseg;
#define SEG_STRLEN ((size_t)-1)

typedef struct vctx {
    const evb_schema *s;
    evb_schema_result *res;
    size_t limit;
    int quiet; /* > 0: inside anyOf/oneOf/not/if/contains: record nothing, stop at first failure */
    bool stop; /* the violation limit was reached */
    evb_err err;
    char errmsg[200];
    size_t depth, idepth;
    const pseg *ip, *kp; /* innermost segments; NULL = "" */
    size_t nscope;
    pcre2_match_data *md;
    const resource *scope[VAL_MAX_FRAMES]; /* last: not zeroed, only [0, nscope) is read */
} vctx;

/* validate.c */
bool eval(vctx *c, const snode *n, const evb_json *inst, evset *ev);
bool vfail(vctx *c, const char *kw, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vfatal(vctx *c, evb_err code, const char *msg);

/* Path segments: push links g (caller's storage) below *top; pop restores g's parent. */
static inline void seg_push(const pseg **top, pseg *g, const char *s, size_t n)
{
    g->up = *top;
    g->s = s;
    g->n = n;
    g->depth = *top != NULL ? (*top)->depth + 1 : 0;
    *top = g;
}

static inline void seg_pop(const pseg **top, const pseg *g)
{
    *top = g->up;
}
bool ev_alloc(vctx *c, evset *ev, size_t n);
void ev_mark(evset *ev, size_t i);
void ev_merge(evset *dst, const evset *src);

/* validate_kw.c: keywords that do not descend into subschemas. */
bool check_assertions(vctx *c, const snode *n, const evb_json *inst);
/* Quotes s for a message: at most `room` bytes of s, with "..." when cut. */
void quote(char *dst, size_t cap, const char *s, size_t n);

/* validate_apply.c: keywords that evaluate subschemas. */
bool check_object(vctx *c, const snode *n, const evb_json *inst, evset *ev);
bool check_array(vctx *c, const snode *n, const evb_json *inst, evset *ev);
bool check_combinators(vctx *c, const snode *n, const evb_json *inst, evset *ev);
bool check_unevaluated(vctx *c, const snode *n, const evb_json *inst, evset *ev);

/* STEP(expr): evaluate; on failure remember it and bail out when nothing more is wanted. */
#define STEP(ok, c, expr)                                                                          \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            (ok) = false;                                                                          \
            if ((c)->quiet || (c)->stop || (c)->err)                                               \
                return false;                                                                      \
        }                                                                                          \
    } while (0)

#endif
