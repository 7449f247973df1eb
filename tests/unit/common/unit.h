/* evbridge — tiny CUnit runner shared by the unit tests of common/ and server/cloudevents/.
 *
 * Each test file lists its cases in a NULL-terminated evb_unit_case table and calls
 * evb_unit_run(); the exit status is non-zero when any assertion failed (CU_basic_run_tests
 * alone does not do that). Header-only so each test binary stays one source file.
 */
#ifndef EVB_TESTS_UNIT_H
#define EVB_TESTS_UNIT_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>

typedef struct evb_unit_case {
    const char *name;
    void (*fn)(void);
} evb_unit_case;

static inline int evb_unit_run(const char *suite_name, const evb_unit_case *cases)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    if (suite == NULL) {
        CU_cleanup_registry();
        return 2;
    }
    for (const evb_unit_case *c = cases; c->name != NULL; c++) {
        if (CU_add_test(suite, c->name, c->fn) == NULL) {
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0)
        return 2;
    return failures > 0 ? 1 : 0;
}

/* Table-driven helpers: report the failing row so the log names the case. */
#define EVB_CHECK_ROW(cond, fmt, ...)                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fprintf(stderr, "  row failed: " fmt "\n", __VA_ARGS__);                               \
        CU_ASSERT(cond);                                                                           \
    } while (0)

#endif
