/* evbridge registry — the layout of evb_json, private to registry/.
 *
 * Exposed to the validator so it can build a temporary string value (propertyNames) on the
 * stack and walk arrays without a call per element, and shared by the parser (json_parse.c)
 * and the accessors (json_value.c). Nothing outside registry/ includes it.
 */
#ifndef EVB_REGISTRY_JSON_VALUE_INT_H
#define EVB_REGISTRY_JSON_VALUE_INT_H

#include <string.h>

#include "registry/json_value.h"
#include "registry/util_int.h"

typedef struct evb_json_member {
    const char *key;
    size_t klen;
    evb_json *val;
} evb_json_member;

struct evb_json {
    evb_json_type type;
    bool b;
    size_t n; /* string length, array length, member count */
    union {
        int64_t i;
        double d;
        const char *s;
        evb_json **items;
        evb_json_member *members;
    } u;
    uint32_t *sorted; /* objects with more than EVB_JSON_SORT_MIN members: member indexes in
                         evb_json_key_cmp order, so lookups are a binary search */
};

/* Objects with more members than this get a sorted index; smaller ones are searched in order. */
#define EVB_JSON_SORT_MIN 8

/* A parsed document: every value, string and child array lives in `mem`, and so does this
 * header (in the first chunk), so a small document is one malloc. */
struct evb_json_doc {
    arena mem;
    evb_json *root;
};

/* The order of a sorted index: by length, then bytes (unsigned). Any total order serves a
 * binary search; this one settles most comparisons without reading the keys, and reads
 * equal-length keys a word at a time (keys are short: a call to memcmp costs more). */
static inline int evb_json_key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return an < bn ? -1 : 1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; an >= 8; an -= 8, a += 8, b += 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
    }
#endif
    for (; an > 0; an--, a++, b++)
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    return 0;
}

/* Shortest decimal form of d: digits of the mantissa in *mant (no leading/trailing zeros,
 * or 0), d == mant * 10^exp10 when it fits 17 digits. Returns false for non-finite d. */
bool evb_json_decimal(double d, uint64_t *mant, int *exp10, bool *neg);

#endif
