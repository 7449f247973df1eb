/* evbridge tests — shared declarations of the routing/transform unit tests: each test file
 * exports one NULL-terminated case table; transform_test_main.c runs them as suites. */
#ifndef EVB_TESTS_ROUTING_TRANSFORM_TEST_H
#define EVB_TESTS_ROUTING_TRANSFORM_TEST_H

#include <jansson.h>

typedef struct tr_case {
    const char *name;
    void (*fn)(void);
} tr_case;

extern const tr_case JSONPATH_CASES[];
extern const tr_case TRANSFORM_APPLY_CASES[];
extern const tr_case TRANSFORM_ERROR_CASES[];
extern const tr_case TRANSFORM_PROTO_CASES[];

/* Parses JSON text (duplicate keys rejected); aborts the test run on bad text. */
json_t *tj_parse(const char *text);

/* The sample CloudEvent most rows use (see transform_test_main.c). */
extern const char *const SAMPLE_EVENT;

#endif
