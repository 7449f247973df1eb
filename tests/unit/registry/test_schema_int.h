/* evbridge tests — shared declarations of the registry unit test files. */
#ifndef EVB_TESTS_REGISTRY_TEST_SCHEMA_INT_H
#define EVB_TESTS_REGISTRY_TEST_SCHEMA_INT_H

void test_keyword_table(void);

#endif
