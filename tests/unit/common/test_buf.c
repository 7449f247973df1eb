/* evbridge — unit tests for common/buf: caps, NUL termination, printf, JSON escaping and
 * detach. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "tests/unit/common/unit.h"

static void test_append_and_cap(void)
{
    evb_buf b;
    evb_buf_init(&b, 8);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(evb_buf_append(&b, "abcd", 4), EVB_OK);
    CU_ASSERT_EQUAL(evb_buf_append_str(&b, "efgh"), EVB_OK);
    CU_ASSERT_EQUAL(b.len, 8);
    CU_ASSERT_STRING_EQUAL(b.data, "abcdefgh");
    /* past the cap: fails, content unchanged */
    CU_ASSERT_EQUAL(evb_buf_append(&b, "i", 1), EVB_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(b.len, 8);
    CU_ASSERT_STRING_EQUAL(b.data, "abcdefgh");
    CU_ASSERT_EQUAL(evb_buf_printf(&b, "%d", 1), EVB_ERR_TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(b.data, "abcdefgh");
    CU_ASSERT_EQUAL(evb_buf_append(&b, "", 0), EVB_OK);
    /* huge n must not overflow the size check */
    CU_ASSERT_EQUAL(evb_buf_append(&b, "x", (size_t)-1), EVB_ERR_TOO_LARGE);
    evb_buf_reset(&b);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_STRING_EQUAL(b.data, "");
    CU_ASSERT_EQUAL(evb_buf_printf(&b, "%s-%d", "ab", 12345), EVB_OK);
    CU_ASSERT_STRING_EQUAL(b.data, "ab-12345");
    evb_buf_fini(&b);
    CU_ASSERT_PTR_NULL(b.data);
    evb_buf_fini(NULL);
}

static void test_growth_unbounded(void)
{
    evb_buf b;
    evb_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        CU_ASSERT_EQUAL_FATAL(evb_buf_printf(&b, "%04d", i % 10000), EVB_OK);
    CU_ASSERT_EQUAL(b.len, 40000);
    CU_ASSERT_EQUAL(strlen(b.data), 40000);
    CU_ASSERT_EQUAL(memcmp(b.data + 39996, "9999", 4), 0);
    evb_buf_fini(&b);
}

static void test_json_escaped(void)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } rows[] = {
        {"plain", 5, "plain"},
        {"a\"b\\c", 5, "a\\\"b\\\\c"},
        {"\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f"},
        {"\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f"},
        {"nul\0x", 5, "nul\\u0000x"},
        {"\xE2\x82\xAC", 3, "\xE2\x82\xAC"},
        {"bad\xFFz", 5, "bad\\ufffdz"},
        {"\xED\xA0\x80", 3, "\\ufffd\\ufffd\\ufffd"},
        {"/", 1, "/"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        evb_buf b;
        evb_buf_init(&b, 0);
        CU_ASSERT_EQUAL(evb_buf_append_json_escaped(&b, rows[i].in, rows[i].n), EVB_OK);
        EVB_CHECK_ROW(b.data != NULL && strcmp(b.data, rows[i].out) == 0, "row %zu: %s", i,
                      b.data ? b.data : "(null)");
        evb_buf_fini(&b);
    }
    /* an escape that does not fit leaves the buffer unchanged */
    evb_buf b;
    evb_buf_init(&b, 6);
    CU_ASSERT_EQUAL(evb_buf_append_str(&b, "ab"), EVB_OK);
    CU_ASSERT_EQUAL(evb_buf_append_json_escaped(&b, "c\"\"", 3), EVB_ERR_TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(b.data, "ab");
    evb_buf_fini(&b);
}

static void test_detach(void)
{
    evb_buf b;
    evb_buf_init(&b, 100);
    char *out = NULL;
    size_t len = 99;
    CU_ASSERT_EQUAL(evb_buf_detach(&b, &out, &len), EVB_OK);
    CU_ASSERT_PTR_NOT_NULL(out);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_STRING_EQUAL(out, "");
    free(out);
    evb_buf_append_str(&b, "hello");
    CU_ASSERT_EQUAL(evb_buf_detach(&b, &out, NULL), EVB_OK);
    CU_ASSERT_STRING_EQUAL(out, "hello");
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    free(out);
    /* the buffer is reusable and keeps its cap */
    CU_ASSERT_EQUAL(evb_buf_append_str(&b, "again"), EVB_OK);
    CU_ASSERT_EQUAL(b.cap, 100);
    evb_buf_fini(&b);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"append_and_cap", test_append_and_cap},
        {"growth_unbounded", test_growth_unbounded},
        {"json_escaped", test_json_escaped},
        {"detach", test_detach},
        {NULL, NULL},
    };
    return evb_unit_run("common/buf", cases);
}
