/* evbridge — unit tests for common/text: strict UTF-8 (RFC 3629 §4 edge cases), code point
 * counts, copies, character sets and URL encoding. */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "tests/unit/common/unit.h"

static const struct {
    const char *s;
    size_t n;
    int valid;
    const char *what;
} utf8_rows[] = {
    {"", 0, 1, "empty"},
    {"hello", 5, 1, "ascii"},
    {"\x00", 1, 1, "NUL byte is a valid code point"},
    {"\xC2\x80", 2, 1, "U+0080"},
    {"\xDF\xBF", 2, 1, "U+07FF"},
    {"\xE0\xA0\x80", 3, 1, "U+0800"},
    {"\xE2\x82\xAC", 3, 1, "euro sign"},
    {"\xED\x9F\xBF", 3, 1, "U+D7FF"},
    {"\xEE\x80\x80", 3, 1, "U+E000"},
    {"\xEF\xBF\xBF", 3, 1, "U+FFFF"},
    {"\xF0\x90\x80\x80", 4, 1, "U+10000"},
    {"\xF0\x9F\x98\x80", 4, 1, "emoji"},
    {"\xF4\x8F\xBF\xBF", 4, 1, "U+10FFFF"},
    {"\xC0\x80", 2, 0, "overlong NUL"},
    {"\xC1\xBF", 2, 0, "overlong 2-byte"},
    {"\xE0\x80\xAF", 3, 0, "overlong 3-byte '/'"},
    {"\xE0\x9F\xBF", 3, 0, "overlong U+07FF"},
    {"\xF0\x80\x80\xAF", 4, 0, "overlong 4-byte"},
    {"\xF0\x8F\xBF\xBF", 4, 0, "overlong U+FFFF"},
    {"\xED\xA0\x80", 3, 0, "high surrogate U+D800"},
    {"\xED\xBF\xBF", 3, 0, "low surrogate U+DFFF"},
    {"\xED\xA0\xBD\xED\xB8\x80", 6, 0, "CESU-8 surrogate pair"},
    {"\xF4\x90\x80\x80", 4, 0, "U+110000"},
    {"\xF5\x80\x80\x80", 4, 0, "lead F5"},
    {"\xFF", 1, 0, "byte FF"},
    {"\xFE", 1, 0, "byte FE"},
    {"\x80", 1, 0, "lone continuation"},
    {"a\xBF", 2, 0, "stray continuation"},
    {"\xC2", 1, 0, "truncated 2-byte"},
    {"\xE2\x82", 2, 0, "truncated 3-byte"},
    {"\xF0\x9F\x98", 3, 0, "truncated 4-byte"},
    {"\xE2\x82\xACx\xE2", 5, 0, "truncated at end"},
    {"\xC2\x41", 2, 0, "bad continuation"},
    {"\xE2\x28\xA1", 3, 0, "bad second byte"},
    {"\xF0\x9F\x98\x28", 4, 0, "bad fourth byte"},
};

static void test_utf8_valid(void)
{
    for (size_t i = 0; i < sizeof utf8_rows / sizeof utf8_rows[0]; i++) {
        int got = evb_utf8_valid(utf8_rows[i].s, utf8_rows[i].n);
        EVB_CHECK_ROW(got == utf8_rows[i].valid, "%s: got %d", utf8_rows[i].what, got);
    }
}

static void test_utf8_len(void)
{
    CU_ASSERT_EQUAL(evb_utf8_len("", 0), 0);
    CU_ASSERT_EQUAL(evb_utf8_len("abc", 3), 3);
    CU_ASSERT_EQUAL(evb_utf8_len("Euro \xE2\x82\xAC \xF0\x9F\x98\x80", 13), 8);
    CU_ASSERT_EQUAL(evb_utf8_len("\xC3\xA9t\xC3\xA9", 5), 3);
}

static void test_strdup(void)
{
    CU_ASSERT_PTR_NULL(evb_strdup(NULL));
    CU_ASSERT_PTR_NULL(evb_strndup(NULL, 3));
    char *a = evb_strdup("hello");
    CU_ASSERT_STRING_EQUAL(a, "hello");
    free(a);
    a = evb_strndup("hello", 3);
    CU_ASSERT_STRING_EQUAL(a, "hel");
    free(a);
    a = evb_strndup("hi", 10);
    CU_ASSERT_STRING_EQUAL(a, "hi");
    free(a);
    a = evb_strdup("");
    CU_ASSERT_STRING_EQUAL(a, "");
    free(a);
}

static const struct {
    const char *s, *set;
    size_t min, max;
    int want;
} match_rows[] = {
    {"abc123", "a-z0-9", 1, 20, 1},
    {"abc-123", "a-z0-9", 1, 20, 0},
    {"abc-123", "a-z0-9-", 1, 20, 1},
    {"ab_c", "a-z_", 1, 20, 1},
    {"ABC", "a-z", 1, 20, 0},
    {"", "a-z", 1, 20, 0},
    {"", "a-z", 0, 20, 1},
    {"abcdefghijklmnopqrstu", "a-z", 1, 20, 0},
    {"abcdefghijklmnopqrst", "a-z", 1, 20, 1},
    {"a.b", "a-z.", 1, 3, 1},
    {"-", "-", 1, 1, 1},
    {"x\xC3\xA9", "a-z", 1, 20, 0},
    {"a-z", "az-", 1, 20, 1},
    {"m", "az-", 1, 20, 0},
};

static void test_str_matches(void)
{
    for (size_t i = 0; i < sizeof match_rows / sizeof match_rows[0]; i++) {
        int got = evb_str_matches(match_rows[i].s, match_rows[i].set, match_rows[i].min,
                                  match_rows[i].max);
        EVB_CHECK_ROW(got == match_rows[i].want, "'%s' in [%s]: got %d", match_rows[i].s,
                      match_rows[i].set, got);
    }
    CU_ASSERT_EQUAL(evb_str_matches(NULL, "a-z", 0, 10), 0);
}

static void test_url_encode(void)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"", ""},
        {"abcXYZ019-._~", "abcXYZ019-._~"},
        {"a b", "a%20b"},
        {"a+b/c=", "a%2Bb%2Fc%3D"},
        {"\xE2\x82\xAC", "%E2%82%AC"},
        {"?&=#%", "%3F%26%3D%23%25"},
        {"TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=",
         "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *got = evb_url_encode(rows[i].in, strlen(rows[i].in));
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        EVB_CHECK_ROW(strcmp(got, rows[i].out) == 0, "'%s' -> '%s'", rows[i].in, got);
        free(got);
    }
    CU_ASSERT_PTR_NULL(evb_url_encode(NULL, 0));
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"utf8_valid", test_utf8_valid},   {"utf8_len", test_utf8_len},     {"strdup", test_strdup},
        {"str_matches", test_str_matches}, {"url_encode", test_url_encode}, {NULL, NULL},
    };
    return evb_unit_run("common/text", cases);
}
