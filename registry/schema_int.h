/* evbridge registry — compiled schema layout, private to registry/.
 *
 * A schema compiles into a graph of snode: one per schema object reached from the root
 * (through keywords or $ref), with keyword values pre-parsed (regexes compiled, property
 * tables sorted, bounds converted). $ref edges point straight at their target node, so
 * cycles are fine. Everything lives in the evb_schema's arena, together with the parsed
 * documents (root, resolved remotes, built-in meta-schemas) whose values enum/const borrow.
 *
 * Schema resources (an $id, or a document) are `resource`; their $dynamicAnchor list is what
 * $dynamicRef searches through the dynamic scope at validation time.
 */
#ifndef EVB_REGISTRY_SCHEMA_INT_H
#define EVB_REGISTRY_SCHEMA_INT_H

#include <stdint.h>

#include "registry/format_int.h"
#include "registry/json_value_int.h"
#include "registry/regex_int.h"
#include "registry/schema.h"
#include "registry/util_int.h"

/* 2020-12 vocabularies (a custom meta-schema may switch some off). */
enum {
    VOC_CORE = 1u << 0,
    VOC_APPLICATOR = 1u << 1,
    VOC_UNEVALUATED = 1u << 2,
    VOC_VALIDATION = 1u << 3,
    VOC_FORMAT = 1u << 4,
    VOC_ALL = 0x1fu,
};

/* JSON type bits for "type". */
enum {
    T_NULL = 1u << 0,
    T_BOOLEAN = 1u << 1,
    T_OBJECT = 1u << 2,
    T_ARRAY = 1u << 3,
    T_NUMBER = 1u << 4,
    T_STRING = 1u << 5,
    T_INTEGER = 1u << 6,
};

typedef struct snode snode;

typedef struct dyn_anchor {
    const char *name;
    const evb_json *loc;
    snode *node; /* filled once compiled */
    struct dyn_anchor *next;
} dyn_anchor;

typedef struct resource {
    const char *uri; /* absolute, no fragment ("" for an unnamed root) */
    dyn_anchor *dyn;
} resource;

typedef struct named_node {
    const char *key;
    size_t klen;
    snode *node;
} named_node;

typedef struct pat_node {
    evb_regex *re;
    const char *src;
    snode *node;
} pat_node;

typedef struct dep_req {
    const char *key;
    size_t klen;
    const evb_json *names; /* array of strings */
} dep_req;

/* Which optional fields of snode are set. */
enum {
    H_MINIMUM = 1u << 0,
    H_MAXIMUM = 1u << 1,
    H_EXMIN = 1u << 2,
    H_EXMAX = 1u << 3,
    H_MULTIPLE = 1u << 4,
    H_MINLEN = 1u << 5,
    H_MAXLEN = 1u << 6,
    H_MINITEMS = 1u << 7,
    H_MAXITEMS = 1u << 8,
    H_MINPROPS = 1u << 9,
    H_MAXPROPS = 1u << 10,
    H_MINCONTAINS = 1u << 11,
    H_MAXCONTAINS = 1u << 12,
    H_TYPE = 1u << 13,
};

/* Which groups of keywords a node has (snode.ops), derived once compiled (schema_plan.c), so
 * the validator tests one word instead of every keyword field. */
enum {
    OP_REF = 1u << 0,       /* $ref */
    OP_DYNREF = 1u << 1,    /* $dynamicRef */
    OP_TYPE = 1u << 2,      /* type */
    OP_ENUMCONST = 1u << 3, /* enum, const */
    OP_NUM = 1u << 4,       /* minimum .. multipleOf */
    OP_STR = 1u << 5,       /* minLength, maxLength, pattern, asserted format */
    OP_ARRCNT = 1u << 6,    /* minItems, maxItems, uniqueItems */
    OP_OBJCNT = 1u << 7,    /* minProperties, maxProperties, required, dependentRequired */
    OP_MEMBERS = 1u << 8,   /* properties, patternProperties, additionalProperties */
    OP_OBJMORE = 1u << 9,   /* propertyNames, dependentSchemas/dependencies */
    OP_ARR = 1u << 10,      /* prefixItems, items, additionalItems, contains */
    OP_COMB = 1u << 11,     /* allOf, anyOf, oneOf, not, if */
    OP_UNEVAL = 1u << 12,   /* unevaluatedProperties, unevaluatedItems */
};

/* "properties" as an open-addressing hash table of indexes into snode.props, built once per
 * node: slot (hash(key) >> shift) holds 1 + the index of the key there, 0 when empty.
 * `perfect`: every key sits in its home slot, so a lookup probes one slot. */
typedef struct prop_index {
    uint16_t *slots;
    uint32_t mul;
    unsigned shift;
    size_t mask;
    bool perfect;
} prop_index;

/* The hash of prop_index: length and three bytes, multiplied (a lookup costs no loop). */
static inline uint32_t prop_hash(const char *k, size_t kl, uint32_t mul)
{
    uint32_t x = (uint32_t)kl;
    if (kl > 0)
        x ^= (uint32_t)(unsigned char)k[0] << 8 ^ (uint32_t)(unsigned char)k[kl - 1] << 16 ^
             (uint32_t)(unsigned char)k[kl / 2] << 24;
    return x * mul;
}

struct snode {
    const resource *res;
    bool is_bool, bool_val;
    bool unique;
    unsigned has;   /* H_* */
    unsigned types; /* T_* */

    snode *ref;
    snode *dynref;        /* static target of $dynamicRef */
    const char *dyn_name; /* set when $dynamicRef may re-resolve dynamically */

    const evb_json *konst; /* "const" (NULL when absent) */
    const evb_json *enumv; /* "enum" array */

    long double minimum, maximum, exmin, exmax;
    uint64_t mo_mant;
    int mo_exp;
    double mo_d;

    uint64_t min_len, max_len, min_items, max_items, min_props, max_props;
    uint64_t min_contains, max_contains;
    evb_regex *pattern;
    const regex_simple *pattern_simple; /* its byte automaton, NULL when PCRE2 only */
    const char *pattern_src;
    fmt_id format;
    const char *format_name;

    snode **prefix; /* prefixItems (2020) or array-form items (draft-04..07) */
    size_t n_prefix;
    const char *prefix_kw;
    snode *items; /* items after the prefix: "items" (2020, object form) or additionalItems */
    const char *items_kw;
    snode *contains;
    snode *uneval_items;

    named_node *props; /* sorted by key */
    size_t n_props;
    pat_node *patprops;
    size_t n_patprops;
    snode *additional;
    snode *prop_names;
    const evb_json *required;
    dep_req *dep_req;
    size_t n_dep_req;
    const char *dep_req_kw;
    named_node *dep_schemas;
    size_t n_dep_schemas;
    const char *dep_schemas_kw;
    snode *uneval_props;
    prop_index pidx;   /* over props (slots NULL when n_props == 0 or > UINT16_MAX - 1) */
    uint64_t req_mask; /* bits of props[] that "required" names, when req_fast */
    bool req_fast;     /* every required name is one of props[0..63] */
    unsigned ops;      /* OP_* */
    /* Set when this node is a leaf (only type, enum/const, numeric bounds, string keywords) or
     * a chain of fast_hops pure $refs ending at one: the leaf, for the validator's quick
     * accept of a member or item (leaf_accepts). NULL otherwise. */
    const snode *fast;
    unsigned fast_hops;

    snode **all_of, **any_of, **one_of;
    size_t n_all, n_any, n_one;
    snode *not_, *if_, *then_, *else_;
};

typedef struct regex_list {
    evb_regex *re;
    struct regex_list *next;
} regex_list;

typedef struct doc_list {
    evb_json_doc *doc;
    struct doc_list *next;
} doc_list;

struct evb_schema {
    arena mem;
    snode *root;
    doc_list *docs;
    regex_list *regexes;
    evb_schema_dialect dialect;
    unsigned flags;
    size_t max_instance_depth;
    bool uses_regex;
    bool dyn_scope; /* some $dynamicRef resolves dynamically: track the dynamic scope */
};

/* Exact multipleOf: v == k * mo_mant * 10^mo_exp for an integer k (validate_kw.c). */
bool num_multiple_of(const evb_json *v, uint64_t mo_mant, int mo_exp);

/* Built-in meta-schemas: JSON text for an absolute URI without fragment, or NULL. */
const char *metaschema_lookup(const char *uri, size_t *len);

#endif
