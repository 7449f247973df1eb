/* evbridge tests — runner of the registry/compat unit tests: one CUnit suite per case table;
 * exits 1 when any assertion failed (CU_basic_run_tests alone does not). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_test.h"

const char *dq(const char *s)
{
    static char bufs[8][8192];
    static unsigned next;
    char *b = bufs[next++ % 8];
    size_t n = strlen(s);
    if (n >= sizeof bufs[0])
        n = sizeof bufs[0] - 1;
    for (size_t i = 0; i < n; i++)
        b[i] = s[i] == '\'' ? '"' : s[i];
    b[n] = '\0';
    return b;
}

bool report_has(const evb_compat_report *rep, const char *needle)
{
    for (size_t i = 0; i < rep->n; i++)
        if (strstr(rep->messages[i], needle) != NULL)
            return true;
    return false;
}

void report_print(const char *title, const evb_compat_report *rep)
{
    fprintf(stderr, "  %s: %zu message(s)\n", title, rep->n);
    for (size_t i = 0; i < rep->n; i++)
        fprintf(stderr, "    %s\n", rep->messages[i]);
}

static int add_suite(const char *name, const compat_case *cases)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    if (s == NULL)
        return -1;
    for (const compat_case *c = cases; c->name != NULL; c++)
        if (CU_add_test(s, c->name, c->fn) == NULL)
            return -1;
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (add_suite("compat rules", COMPAT_RULE_CASES) != 0 ||
        add_suite("compat levels and API", COMPAT_LEVEL_CASES) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return run == 0 ? 2 : failures > 0 ? 1 : 0;
}
