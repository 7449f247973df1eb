/* evbridge registry — the layout of evb_json, private to registry/.
 *
 * Exposed to the validator so it can build a temporary string value (propertyNames) on the
 * stack and walk arrays without a call per element. Nothing outside registry/ includes it.
 */
#ifndef EVB_REGISTRY_JSON_VALUE_INT_H
#define EVB_REGISTRY_JSON_VALUE_INT_H

#include "registry/json_value.h"

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
    uint32_t *sorted; /* objects with more than a few members: indexes sorted by key */
};

/* Shortest decimal form of d: digits of the mantissa in *mant (no leading/trailing zeros,
 * or 0), d == mant * 10^exp10 when it fits 17 digits. Returns false for non-finite d. */
bool evb_json_decimal(double d, uint64_t *mant, int *exp10, bool *neg);

#endif
