/* evbridge tests — runner of the delivery policy unit tests: one CUnit suite per case
 * table; exits 1 when any assertion failed (CU_basic_run_tests alone does not). */
#include <CUnit/Basic.h>

#include "policy_test.h"

static int add_suite(const char *name, const pt_case *cases)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    if (s == NULL)
        return -1;
    for (const pt_case *c = cases; c->name != NULL; c++)
        if (CU_add_test(s, c->name, c->fn) == NULL)
            return -1;
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (add_suite("retry schedules", RETRY_CASES) != 0 ||
        add_suite("Retry-After", RETRY_AFTER_CASES) != 0 ||
        add_suite("attempt outcomes", OUTCOME_CASES) != 0 ||
        add_suite("SSRF guard", SSRF_CASES) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
