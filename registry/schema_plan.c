/* evbridge registry — the last compilation step: what the validator can know ahead of time.
 *
 * Once every node is compiled and linked, each node gets (1) `ops`, one bit per group of
 * keywords it has, so eval() skips absent keywords with one test; (2) for "properties", a
 * hash table of the keys (prop_index: length and three bytes multiplied by a constant chosen
 * here so that, for the usual handful of keys, every key sits in its own slot and a lookup is
 * one probe and one compare); (3) for "required", a bit mask over those keys when every
 * required name is one of the first 64 properties, so the validator checks required members
 * with the bits it collects while looking the instance's members up; (4) `fast`: the leaf a
 * member's or item's subschema comes down to (through pure $refs), which the validator tries
 * first with a side-effect-free check before evaluating it in full. The schema also learns
 * whether any $dynamicRef is dynamic; when none is, the validator keeps no dynamic scope.
 * Nothing here changes what is valid or how a violation reads.
 */
#include "registry/compile_int.h"

#include <string.h>

static unsigned node_ops(const snode *n)
{
    unsigned ops = 0;
    if (n->ref != NULL)
        ops |= OP_REF;
    if (n->dynref != NULL)
        ops |= OP_DYNREF;
    if (n->has & H_TYPE)
        ops |= OP_TYPE;
    if (n->konst != NULL || n->enumv != NULL)
        ops |= OP_ENUMCONST;
    if (n->has & (H_MINIMUM | H_MAXIMUM | H_EXMIN | H_EXMAX | H_MULTIPLE))
        ops |= OP_NUM;
    if ((n->has & (H_MINLEN | H_MAXLEN)) || n->pattern != NULL || n->format != FMT_UNKNOWN)
        ops |= OP_STR;
    if ((n->has & (H_MINITEMS | H_MAXITEMS)) || n->unique)
        ops |= OP_ARRCNT;
    if ((n->has & (H_MINPROPS | H_MAXPROPS)) || n->required != NULL || n->n_dep_req > 0)
        ops |= OP_OBJCNT;
    if (n->n_props > 0 || n->n_patprops > 0 || n->additional != NULL)
        ops |= OP_MEMBERS;
    if (n->prop_names != NULL || n->n_dep_schemas > 0)
        ops |= OP_OBJMORE;
    if (n->n_prefix > 0 || n->items != NULL || n->contains != NULL)
        ops |= OP_ARR;
    if (n->n_all > 0 || n->n_any > 0 || n->n_one > 0 || n->not_ != NULL || n->if_ != NULL)
        ops |= OP_COMB;
    if (n->uneval_props != NULL || n->uneval_items != NULL)
        ops |= OP_UNEVAL;
    return ops;
}

/* Odd multipliers tried in turn; the first that puts every key in its own slot wins. */
static const uint32_t MULS[] = {0x9E3779B1u, 0x85EBCA6Bu, 0xC2B2AE35u, 0x27D4EB2Fu,
                                0x165667B1u, 0xD3A2646Du, 0xFD7046C5u, 0xB55A4F09u,
                                0x2C1B3C6Du, 0x297A2D39u, 0x7FEB352Du, 0x846CA68Bu,
                                0xED5AD4BBu, 0xAC4C1B51u, 0x31848BABu, 0x8B5A5A9Du};

/* Places the keys with multiplier mul in a table of 2^bits slots; returns how many keys are
 * not in their home slot (linear probing). */
static size_t place(const snode *n, uint16_t *slots, unsigned bits, uint32_t mul)
{
    size_t size = (size_t)1 << bits, mask = size - 1, displaced = 0;
    memset(slots, 0, size * sizeof *slots);
    for (size_t i = 0; i < n->n_props; i++) {
        size_t h = prop_hash(n->props[i].key, n->props[i].klen, mul) >> (32 - bits);
        if (slots[h] != 0)
            displaced++;
        while (slots[h] != 0)
            h = (h + 1) & mask;
        slots[h] = (uint16_t)(i + 1);
    }
    return displaced;
}

static bool build_index(evb_schema *s, snode *n)
{
    if (n->n_props == 0 || n->n_props >= UINT16_MAX)
        return true;
    unsigned bits = 2;
    while (((size_t)1 << bits) < 2 * n->n_props)
        bits++;
    if (bits < 31 && n->n_props <= 64)
        bits++; /* small tables: a quarter full, so a perfect placement is easy to find */
    n->pidx.slots = arena_alloc(&s->mem, ((size_t)1 << bits) * sizeof *n->pidx.slots);
    if (n->pidx.slots == NULL)
        return false;
    uint32_t best = MULS[0];
    size_t best_displaced = SIZE_MAX;
    for (size_t m = 0; m < sizeof MULS / sizeof MULS[0] && best_displaced > 0; m++) {
        size_t d = place(n, n->pidx.slots, bits, MULS[m]);
        if (d < best_displaced) {
            best_displaced = d;
            best = MULS[m];
        }
    }
    place(n, n->pidx.slots, bits, best);
    n->pidx.mul = best;
    n->pidx.shift = 32 - bits;
    n->pidx.mask = ((size_t)1 << bits) - 1;
    n->pidx.perfect = best_displaced == 0;
    return true;
}

/* required as a mask over props[0..63], when every name is one of them. */
static void plan_required(snode *n)
{
    n->req_fast = false;
    n->req_mask = 0;
    if (n->required == NULL || n->pidx.slots == NULL)
        return;
    uint64_t mask = 0;
    for (size_t i = 0; i < evb_json_size(n->required); i++) {
        size_t kl;
        const char *k = evb_json_string(evb_json_at(n->required, i), &kl);
        size_t j = 0;
        while (j < n->n_props && (n->props[j].klen != kl || memcmp(n->props[j].key, k, kl) != 0))
            j++;
        if (j >= n->n_props || j >= 64)
            return;
        mask |= 1ull << j;
    }
    n->req_mask = mask;
    n->req_fast = true;
}

#define LEAF_OPS (OP_TYPE | OP_ENUMCONST | OP_NUM | OP_STR)
#define MAX_FAST_HOPS 8

/* The leaf a chain of pure $refs (nodes with no other keyword) leads to, or NULL. */
static const snode *fast_target(const snode *n, unsigned *hops)
{
    for (unsigned h = 0; h <= MAX_FAST_HOPS; h++, n = n->ref) {
        if (n->is_bool || (n->ops & ~(unsigned)LEAF_OPS) == 0) {
            *hops = h;
            return n;
        }
        if (n->ops != OP_REF)
            return NULL;
    }
    return NULL;
}

bool plan_nodes(cctx *c)
{
    for (size_t i = 0; i < c->nodes.cap; i++) {
        snode *n = c->nodes.slots[i].key != NULL ? c->nodes.slots[i].val : NULL;
        if (n == NULL || n->is_bool)
            continue;
        n->ops = node_ops(n);
        if (n->dyn_name != NULL)
            c->s->dyn_scope = true;
        if (!build_index(c->s, n))
            return cfail(c, EVB_ERR_NOMEM, NULL, "out of memory");
        plan_required(n);
    }
    for (size_t i = 0; i < c->nodes.cap; i++) { /* needs every node's ops */
        snode *n = c->nodes.slots[i].key != NULL ? c->nodes.slots[i].val : NULL;
        if (n != NULL)
            n->fast = fast_target(n, &n->fast_hops);
    }
    return true;
}
