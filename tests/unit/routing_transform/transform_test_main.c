/* evbridge tests — runner of the routing/transform unit tests: one CUnit suite per case
 * table; exits 1 when any assertion failed (CU_basic_run_tests alone does not). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

#include "transform_test.h"

const char *const SAMPLE_EVENT =
    "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/connectors/crm\","
    "\"type\":\"customer.changed\",\"datacontenttype\":\"application/json\",\"orgid\":\"o1\","
    "\"data\":{\"customer\":{\"name\":\"Alice \\\"A\\\" O'Hara\\nline2 \\u00fc \\ud83d\\ude00\","
    "\"id\":42,\"score\":0.1,\"vip\":true,\"tags\":[\"a\",\"b\",\"c\"],"
    "\"address\":{\"city\":\"Hangzhou\"},\"nothing\":null,\"ctl\":\"a\\u0001b\\tc\"},"
    "\"items\":[{\"sku\":\"x1\"},{\"sku\":\"x2\"}],\"a.b\":1,\"\":\"empty key\","
    "\"sp ace\":2,\"\\u00fc\":\"umlaut\",\"\\ud83d\\ude00\":\"emoji\"}}";

json_t *tj_parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (j == NULL) {
        fprintf(stderr, "test JSON does not parse: %s: %s\n", je.text, text);
        abort();
    }
    return j;
}

static int add_suite(const char *name, const tr_case *cases)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    if (s == NULL)
        return -1;
    for (const tr_case *c = cases; c->name != NULL; c++)
        if (CU_add_test(s, c->name, c->fn) == NULL)
            return -1;
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (add_suite("jsonpath", JSONPATH_CASES) != 0 ||
        add_suite("transform apply", TRANSFORM_APPLY_CASES) != 0 ||
        add_suite("transform compile errors and limits", TRANSFORM_ERROR_CASES) != 0 ||
        add_suite("transform proto JSON and TestTransform", TRANSFORM_PROTO_CASES) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
