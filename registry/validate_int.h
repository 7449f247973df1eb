/* evbridge registry — validator state, private to validate*.c.
 *
 * One vctx per evb_schema_validate call (on the caller's stack): the instance and keyword
 * paths being walked, the dynamic scope (schema resources entered, for $dynamicRef; kept
 * only when some $dynamicRef is dynamic), the violation sink and the PCRE2 match data. The
 * compiled schema is only read.
 *
 * Paths are lazy: each step pushes a path segment (`pseg`, on the C stack of the function
 * that descends) linked to its parent, and a JSON pointer string is built from the chain only
 * when a violation is recorded (vfail). Valid payloads never format a pointer.
 *
 * Annotations for unevaluatedProperties/Items are bit sets over the members/items of the
 * current instance ("evset"); they are only allocated below a node that has one of those
 * keywords, so drafts 4-7 never pay for them. Results of failed subschemas are dropped as
 * the specification requires (2020-12 core §7.7.1.3).
 *
 * Fast paths (issue 7; what they use is prepared by schema_plan.c): eval runs only the
 * keyword groups in snode.ops; an object's members are looked up once in the node's
 * properties hash (objscan) before its keywords run; a member or item whose subschema is a
 * leaf is first checked by leaf_accepts, which has no side effects, and evaluated in full
 * (recording violations) only when that says no. None of them changes a result: they
 * decide only what is certain to pass, or return to the general path.
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
    bool halt; /* stop || err: nothing more is evaluated */
    evb_err err;
    size_t depth, idepth;
    const pseg *ip, *kp; /* innermost segments; NULL = "" */
    size_t nscope;
    const resource **scope; /* dynamic scope, VAL_MAX_FRAMES entries; NULL unless the schema
                               has a dynamic $dynamicRef (s->dyn_scope); [0, nscope) is read */
    pcre2_match_data *md;   /* created at the first match PCRE2 has to do */
    char errmsg[200];
} vctx;

/* The member lookups of one object instance, done once before its keywords are checked:
 * `required` reads `present`, the properties walk reads `slot`. Only for objects of at most
 * OBJSCAN_MAX members under a node with a prop_index. */
#define OBJSCAN_MAX 64
typedef struct objscan {
    bool done;
    uint64_t present;           /* bit j: props[j] (j < 64) is a member */
    uint16_t slot[OBJSCAN_MAX]; /* member i: 1 + its index in props, or 0 */
} objscan;

/* a[0..n) == b[0..n), in at most a few loads for short keys; never reads past n bytes. */
static inline bool key_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        uint64_t x, y;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t x, y, u, v;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        memcpy(&u, a + n - 4, 4);
        memcpy(&v, b + n - 4, 4);
        return x == y && u == v;
    }
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

/* Index in n->props of key k, or -1 (n->pidx.slots must be set). */
static inline long prop_find(const snode *n, const char *k, size_t kl)
{
    const prop_index *x = &n->pidx;
    size_t h = prop_hash(k, kl, x->mul) >> x->shift;
    for (;;) {
        unsigned e = x->slots[h];
        if (e == 0)
            return -1;
        const named_node *p = &n->props[e - 1];
        if (p->klen == kl && key_eq(p->key, k, kl))
            return (long)e - 1;
        if (x->perfect)
            return -1;
        h = (h + 1) & x->mask;
    }
}

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
static inline void ev_mark(evset *ev, size_t i)
{
    if (ev != NULL && ev->bits != NULL && i < ev->n)
        ev->bits[i / 64] |= 1ull << (i % 64);
}
void ev_merge(evset *dst, const evset *src);

/* 1 = s[0..n) matches re, 0 = no match, -1 = could not be checked; on -1 with c->err set,
 * out of memory. Simple patterns are decided without PCRE2 (regex_int.h). */
int vmatch(vctx *c, const evb_regex *re, const char *s, size_t n);

/* validate_kw.c: keywords that do not descend into subschemas. os: the member lookups of an
 * object instance (NULL or not done: required looks members up itself). */
bool check_assertions(vctx *c, const snode *n, const evb_json *inst, const objscan *os);
/* Whether evaluating `child` (through descend) at member or item v would pass, decided
 * without side effects from child->fast; false when it fails or when unsure, and then the
 * caller evaluates it in full (which also records the violations). */
bool leaf_accepts(const vctx *c, const snode *child, const evb_json *v);
/* Quotes s for a message: at most `room` bytes of s, with "..." when cut. */
void quote(char *dst, size_t cap, const char *s, size_t n);

/* validate_apply.c: keywords that evaluate subschemas. */
void scan_members(const snode *n, const evb_json *inst, objscan *os);
bool check_object(vctx *c, const snode *n, const evb_json *inst, evset *ev, const objscan *os);
bool check_array(vctx *c, const snode *n, const evb_json *inst, evset *ev);
bool check_combinators(vctx *c, const snode *n, const evb_json *inst, evset *ev);
bool check_unevaluated(vctx *c, const snode *n, const evb_json *inst, evset *ev);

/* STEP(expr): evaluate; on failure remember it and bail out when nothing more is wanted. */
#define STEP(ok, c, expr)                                                                          \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            (ok) = false;                                                                          \
            if ((c)->quiet || (c)->halt)                                                           \
                return false;                                                                      \
        }                                                                                          \
    } while (0)

#endif
