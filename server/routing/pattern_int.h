/* evbridge — private structures of the pattern module (server/routing/pattern*.c only).
 *
 * A compiled pattern is a list of *field conditions* (a dotted path, the OR-list of value
 * operations found in that path's array, and whether absence satisfies it) and its "$or"
 * structure expanded into disjunctive normal form: a list of *branches*, each an AND of field
 * conditions (indices into the field list). An event is matched after *flattening* it into
 * leaves (path, value, array chain); the array chain (array id, element index) of a leaf lets
 * the matcher refuse combinations of fields from different elements of one array.
 */
#ifndef EVB_SERVER_ROUTING_PATTERN_INT_H
#define EVB_SERVER_ROUTING_PATTERN_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/routing/pattern.h"

/* ---- value operations ------------------------------------------------------------------ */

typedef enum evb_pm_kind {
    EVB_PM_EXACT_STR = 1, /* s[0..n) */
    EVB_PM_EXACT_NUM,     /* num */
    EVB_PM_EXACT_TRUE,
    EVB_PM_EXACT_FALSE,
    EVB_PM_EXACT_NULL,
    EVB_PM_PREFIX,    /* s is a prefix (bytes) */
    EVB_PM_PREFIX_IC, /* s is the folded prefix */
    EVB_PM_SUFFIX,
    EVB_PM_SUFFIX_IC,
    EVB_PM_EQUALS_IC, /* s is the folded value */
    EVB_PM_CONTAINS,
    EVB_PM_WILDCARD, /* s is the unescaped text with '*' runs marked in star[] */
    EVB_PM_NUMERIC,  /* lo/hi bounds */
    EVB_PM_CIDR,     /* family, addr (masked), bits */
    EVB_PM_EXISTS,   /* any leaf value */
    EVB_PM_ANYBUT    /* none of sub[0..nsub) matches */
} evb_pm_kind;

typedef struct evb_pm_op evb_pm_op;
struct evb_pm_op {
    evb_pm_kind kind;
    char *s; /* string operand (malloc'd), NUL-terminated, length n */
    size_t n;
    unsigned char *star; /* WILDCARD: star[i] = 1 when s[i] is a wildcard '*' */
    double num;          /* EXACT_NUM */
    double lo, hi;       /* NUMERIC */
    unsigned char has_lo, has_hi, lo_incl, hi_incl;
    int family;             /* CIDR: 4 or 6 */
    unsigned char addr[16]; /* CIDR: network address, host bits cleared */
    unsigned bits;          /* CIDR: prefix length */
    evb_pm_op *sub;         /* ANYBUT: the excluded operations */
    size_t nsub;
};

/* A leaf value of a flattened event, whatever the event was read from (a jansson tree, an
 * evb_json document, a string attribute). Strings are borrowed from that source. */
typedef enum evb_pm_vkind {
    EVB_PMV_STR = 1,
    EVB_PMV_NUM, /* any JSON number, as an IEEE double */
    EVB_PMV_TRUE,
    EVB_PMV_FALSE,
    EVB_PMV_NULL
} evb_pm_vkind;

typedef struct evb_pm_val {
    evb_pm_vkind kind;
    size_t n; /* STR: byte length (may hold NULs) */
    union {
        const char *s; /* STR */
        double num;    /* NUM */
    } u;
} evb_pm_val;

/* 1 when op matches the leaf value v (never NULL). Thread-safe. */
int evb_pm_op_match(const evb_pm_op *op, const evb_pm_val *v);

/* Frees what op owns (not op itself). */
void evb_pm_op_fini(evb_pm_op *op);

/* Simple case folding of s[0..n) (see pattern.h). Returns a malloc'd NUL-terminated string
 * and its length in *out_n, or NULL on allocation failure. */
char *evb_pm_fold(const char *s, size_t n, size_t *out_n);

/* Folds into buf[0..cap) when the result fits, else into a malloc'd buffer. Returns the
 * folded text (buf or malloc'd: free it when != buf) and its length, NULL on NOMEM. */
char *evb_pm_fold_buf(const char *s, size_t n, char *buf, size_t cap, size_t *out_n);

/* The number used as an exact-match key: -0 becomes +0 so 0 and -0 hash alike. */
double evb_pm_canon_num(double d);

/* ---- compiled pattern ------------------------------------------------------------------ */

typedef struct evb_pm_field {
    char *path; /* dotted path, malloc'd */
    size_t path_len;
    evb_pm_op *ops; /* OR-list of value operations (exists:false is not one of them) */
    size_t nops;
    int absent_ok; /* {"exists": false} was listed */
} evb_pm_field;

struct evb_pattern {
    evb_pm_field *fields;
    size_t nfields;
    uint32_t *bfields; /* all branches' field indices, back to back */
    size_t *boff;      /* branch b is bfields[boff[b] .. boff[b+1]) */
    size_t nbranches;  /* >= 1 */
};

/* ---- compiler internals (pattern_compile.c, pattern_parse.c) --------------------------- */

typedef struct evb_pm_cctx {
    evb_pattern *p; /* fields are appended here */
    size_t capfields;
    evb_error *err;
    char ptr[256]; /* JSON pointer of the member being compiled (truncated when long) */
    size_t ptrlen;
    char *path; /* dotted path of the member being compiled */
    size_t pathlen, pathcap;
} evb_pm_cctx;

/* Appends "/seg" (escaped per RFC 6901) or "/i" to c->ptr; returns the mark to pop to. */
size_t evb_pm_ptr_push(evb_pm_cctx *c, const char *seg);
size_t evb_pm_ptr_index(evb_pm_cctx *c, size_t i);
void evb_pm_ptr_pop(evb_pm_cctx *c, size_t mark);

/* Appends ".key" (or "key" at the top) to c->path; (size_t)-1 on allocation failure. */
size_t evb_pm_path_push(evb_pm_cctx *c, const char *key);
void evb_pm_path_pop(evb_pm_cctx *c, size_t mark);

/* "a string", "an object", ... for messages. */
const char *evb_pm_type_name(const json_t *v);

/* Parses the leaf array arr at c->path into a new field condition of c->p. */
evb_err evb_pm_parse_field(evb_pm_cctx *c, const json_t *arr, uint32_t *index_out);

/* ---- flattened event ------------------------------------------------------------------- */

typedef struct evb_pm_leaf {
    const char *path;              /* into evb_pm_event.paths, not NUL-terminated */
    uint32_t path_off, path_len;   /* in evb_pm_event.paths */
    uint32_t chain_off, chain_len; /* in evb_pm_event.chain (pairs) */
    evb_pm_val v;
} evb_pm_leaf;

typedef struct evb_pm_group { /* the leaves of one path: leaves[first .. first + count) */
    uint64_t h;               /* FNV-1a of the path from EVB_PM_FNV_INIT, not mixed */
    uint32_t first, count;
} evb_pm_group;

/* Inline capacities: an event of about this size (a ~1 KiB payload) is flattened and
 * matched without a malloc; bigger ones move to the heap. */
#define EVB_PM_INLINE_LEAVES 128
#define EVB_PM_INLINE_PATHS 3072
#define EVB_PM_INLINE_CHAIN 512
#define EVB_PM_INLINE_HTAB 256

typedef struct evb_pm_event {
    evb_pm_leaf *leaves; /* grouped by path (groups in order of first appearance), each
                            group in document order */
    size_t nleaves, capleaves;
    char *paths;
    size_t npaths, cappaths;
    uint32_t *chain; /* (array id, element index) pairs */
    size_t nchain, capchain;
    uint32_t next_array;
    evb_pm_group *groups; /* one per distinct path */
    size_t ngroups;
    uint32_t *htab; /* open addressing on the mixed path hash: group index + 1, 0 = empty */
    size_t hmask;
    evb_pm_leaf *spare; /* grouping's second buffer of leaves */
    size_t capspare;
    evb_pm_leaf leaves0[EVB_PM_INLINE_LEAVES], spare0[EVB_PM_INLINE_LEAVES];
    evb_pm_group groups0[EVB_PM_INLINE_LEAVES];
    char paths0[EVB_PM_INLINE_PATHS];
    uint32_t chain0[EVB_PM_INLINE_CHAIN];
    uint32_t htab0[EVB_PM_INLINE_HTAB];
    uint32_t gid0[EVB_PM_INLINE_LEAVES];
} evb_pm_event;

/* The paths some pattern names, sorted by bytes (shorter first), distinct; borrowed from the
 * patterns. A flatten given one keeps only the leaves at these paths and does not descend
 * into members under which none of them can lie: nothing else is ever looked up. */
typedef struct evb_pm_pathref {
    const char *path;
    size_t len;
} evb_pm_pathref;

typedef struct evb_pm_pathset {
    evb_pm_pathref *p;
    size_t n;
} evb_pm_pathset;

/* Prepares ev (caller-owned, e.g. on the stack: ~19 KiB) for one flatten. */
void evb_pm_event_init(evb_pm_event *ev);

/* Flattens the object event into ev (evb_pm_event_init first), every leaf or (only != NULL)
 * those at the paths of only. EVB_ERR_NOMEM, EVB_ERR_INVALID for a non-object. On error ev
 * still must be finished with evb_pm_event_fini. */
evb_err evb_pm_event_flatten(const json_t *event, const evb_pm_pathset *only, evb_pm_event *ev);
/* The same for an event view (pattern.h): the leaves an object with view's members would
 * give, values borrowed from the view. EVB_ERR_NOMEM, EVB_ERR_INVALID for a NULL view. */
evb_err evb_pm_event_flatten_view(const evb_pattern_view *view, const evb_pm_pathset *only,
                                  evb_pm_event *ev);
void evb_pm_event_fini(evb_pm_event *ev);

/* Index of the first leaf whose path is path[0..n) and the count of such leaves (0: the
 * index is meaningless). */
size_t evb_pm_event_find(const evb_pm_event *ev, const char *path, size_t n, size_t *count);

/* 1 when branch b of p matches the flattened event, 0 when not, -1 on allocation failure. */
int evb_pm_branch_match(const evb_pattern *p, size_t b, const evb_pm_event *ev);

/* ---- matcher internals (pattern_matcher.c, pattern_index.c) ----------------------------- */

enum {
    EVB_PMK_STR = 's',
    EVB_PMK_NUM = 'n',
    EVB_PMK_TRUE = 't',
    EVB_PMK_FALSE = 'f',
    EVB_PMK_NULL = 'z',
    EVB_PMK_PREFIX = 'p',
    EVB_PMK_PATH = '.'
};

typedef struct evb_pm_rule {
    const evb_pattern *p;
    uint64_t id;
    uint32_t first; /* index of the first rule added with the same id */
} evb_pm_rule;

typedef struct evb_pm_branch {
    uint32_t rule, b;
} evb_pm_branch;

typedef struct evb_pm_slot {
    uint64_t h;
    const char *path, *val;
    uint32_t path_len, val_len;
    uint32_t off, cnt; /* postings[off .. off+cnt) */
    unsigned char kind, used;
} evb_pm_slot;

typedef struct evb_pm_ipath { /* an indexed path: lookups for other paths are skipped */
    uint64_t h;
    const char *path;
    uint32_t path_len;
    uint32_t off, cnt; /* its prefix lengths: postings[off .. off+cnt), ascending */
    unsigned char used;
} evb_pm_ipath;

struct evb_matcher {
    evb_pm_rule *rules;
    size_t nrules, caprules;
    int built;
    evb_pm_branch *branches;
    size_t nbranches;
    evb_pm_slot *slots;
    size_t mask; /* nslots - 1 */
    evb_pm_ipath *paths;
    size_t pmask; /* npaths - 1 */
    uint32_t *post;
    size_t npost;
    uint32_t *residual;
    size_t nresidual;
    evb_pm_pathset only; /* every field path of every rule: events are flattened to these */
};

static inline uint64_t evb_pm_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

#define EVB_PM_FNV_INIT 0xcbf29ce484222325ULL

static inline uint64_t evb_pm_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* Builds the index of m from its rules (pattern_index.c). On failure the caller clears the
 * partial index with evb_pm_index_clear. EVB_ERR_NOMEM. */
evb_err evb_pm_index_build(evb_matcher *m);
void evb_pm_index_clear(evb_matcher *m);

#endif
