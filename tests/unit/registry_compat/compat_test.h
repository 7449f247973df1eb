/* evbridge tests — shared helpers of the registry/compat unit tests: a tiny CUnit runner
 * (exit status non-zero on any failed assertion), JSON written with single quotes for
 * readability, and report lookups.
 */
#ifndef EVB_TESTS_COMPAT_TEST_H
#define EVB_TESTS_COMPAT_TEST_H

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stdio.h>

#include "registry/compat.h"

typedef struct compat_case {
    const char *name;
    void (*fn)(void);
} compat_case;

/* NULL-terminated case tables, one per test file */
extern const compat_case COMPAT_RULE_CASES[];
extern const compat_case COMPAT_LEVEL_CASES[];

/* Returns a static copy of s with every ' replaced by " (up to 8 live results). */
const char *dq(const char *s);
/* True when some message contains needle. */
bool report_has(const evb_compat_report *rep, const char *needle);
/* Prints the report (for failing rows). */
void report_print(const char *title, const evb_compat_report *rep);

/* CU_ASSERT that prints the failing row first. */
#define EVB_ROW_ASSERT(cond, fmt, ...)                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fprintf(stderr, "\n  row failed: " fmt "\n", __VA_ARGS__);                             \
        CU_ASSERT(cond);                                                                           \
    } while (0)

#endif
