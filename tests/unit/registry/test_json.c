/* evbridge tests — registry/json_value.h: the strict JSON parser (registry/json_parse.c).
 *
 * Table-driven: valid texts with their canonical form, invalid texts with the error code and
 * a part of the message (the strictness rules of RFC 8259: duplicate keys, invalid UTF-8,
 * lone surrogates, leading zeros, trailing text, control characters), numbers (exact int64,
 * integers beyond it, the double range, 1.0 vs 1, -0), depth at and over the limit with the
 * pointer of the place, member lookup in small and sorted objects, error positions. Every
 * text is parsed from an exact-size heap copy without a terminating NUL, so ASan sees a read
 * past its end.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/json_value.h"

/* Parses text[0..len) from an exact-size copy. */
static evb_err parse_n(const char *text, size_t len, size_t max_depth, evb_json_doc **out,
                       evb_error *e)
{
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, text, len);
    evb_err rc = evb_json_parse(copy, len, max_depth, out, e);
    free(copy);
    return rc;
}

static evb_err parse(const char *text, evb_json_doc **out, evb_error *e)
{
    return parse_n(text, strlen(text), 0, out, e);
}

/* ---- valid texts ---------------------------------------------------------------------- */

static const struct {
    const char *text;
    const char *canonical; /* evb_json_canonical of the parsed value */
} VALID[] = {
    {"{\"b\":[true,false,null],\"a\":1,\"c\":\"x\"}",
     "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\"}"},
    {" \t\r\n[ 1 ,\t2\r\n]\n ", "[1,2]"},
    {"\"s\"", "\"s\""},
    {"0", "0"},
    {"null", "null"},
    {"true", "true"},
    {"false", "false"},
    {"{}", "{}"},
    {"[]", "[]"},
    {"[[],{},[[]]]", "[[],{},[[]]]"},
    {"{\"a\":{},\"b\":[]}", "{\"a\":{},\"b\":[]}"},
    {"\"\"", "\"\""},
    {"{\"\":1}", "{\"\":1}"},
    /* escapes */
    {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\""},
    {"\"\\u00e9\\u00E9\"", "\"\xc3\xa9\xc3\xa9\""},
    {"\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""},
    {"\"\\uD83D\\uDE00x\"", "\"\xf0\x9f\x98\x80x\""},
    {"\"\\udbff\\udfff\"", "\"\xf4\x8f\xbf\xbf\""},
    {"\"\\u0041\\u07ff\\u0800\\uffff\"", "\"A\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\""},
    {"\"a\\u0000b\"", "\"a\\u0000b\""},
    {"{\"a\":1,\"\\u0061b\":2}", "{\"a\":1,\"ab\":2}"},
    /* raw UTF-8 at the edges of each sequence length, and DEL (not a control character) */
    {"\"\xc2\x80\xdf\xbf\"", "\"\xc2\x80\xdf\xbf\""},
    {"\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"",
     "\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\""},
    {"\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"", "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""},
    {"\"\x7f\"", "\"\x7f\""},
    {"{\"\xc3\xa9\":\"\xe2\x82\xac\"}", "{\"\xc3\xa9\":\"\xe2\x82\xac\"}"},
    /* keys that only differ in case or length are not duplicates */
    {"{\"a\":1,\"A\":2,\"aa\":3}", "{\"A\":2,\"a\":1,\"aa\":3}"},
    /* long strings: the block scanner, with a special character at each offset */
    {"\"0123456789abcdef0123456789abcdef\"", "\"0123456789abcdef0123456789abcdef\""},
    {"\"0123456789abcde\\n0123456789abcdef\"", "\"0123456789abcde\\n0123456789abcdef\""},
    {"\"0123456789abcdef\xc3\xa9\"", "\"0123456789abcdef\xc3\xa9\""},
    {"[\"0123456789abcd\",\"x\"]", "[\"0123456789abcd\",\"x\"]"},
};

static void test_valid(void)
{
    for (size_t i = 0; i < sizeof VALID / sizeof VALID[0]; i++) {
        evb_json_doc *d = NULL;
        evb_error e;
        evb_err rc = parse(VALID[i].text, &d, &e);
        if (rc != EVB_OK) {
            printf("\nvalid case %zu rejected: %s\n", i, e.message);
            CU_FAIL("valid text rejected");
            continue;
        }
        char *c = NULL;
        size_t n = 0;
        CU_ASSERT_EQUAL(evb_json_canonical(evb_json_root(d), &c, &n), EVB_OK);
        if (c == NULL || strcmp(c, VALID[i].canonical) != 0) {
            printf("\nvalid case %zu: got %s\n", i, c ? c : "(null)");
            CU_FAIL("canonical form");
        }
        free(c);
        evb_json_doc_free(d);
    }
}

static void test_strings(void)
{
    evb_json_doc *d = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(parse("[\"a\\u0000b\",\"\\ud83d\\ude00\",\"\"]", &d, NULL), EVB_OK);
    const evb_json *r = evb_json_root(d);
    const char *s = evb_json_string(evb_json_at(r, 0), &n);
    CU_ASSERT_EQUAL(n, 3); /* the NUL is counted */
    CU_ASSERT(s != NULL && memcmp(s, "a\0b", 4) == 0);
    s = evb_json_string(evb_json_at(r, 1), &n);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT(s != NULL && strcmp(s, "\xf0\x9f\x98\x80") == 0);
    s = evb_json_string(evb_json_at(r, 2), &n);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(s != NULL && s[0] == '\0');
    CU_ASSERT_PTR_NULL(evb_json_string(r, NULL));
    evb_json_doc_free(d);

    /* a long string with escapes every few bytes, and one of plain bytes */
    size_t len = 100000;
    char *t = malloc(len + 3), *want = malloc(len + 1);
    if (t == NULL || want == NULL)
        abort();
    size_t k = 0, w = 0;
    t[k++] = '"';
    while (k < len) {
        if (k % 7 == 0) {
            t[k++] = '\\';
            t[k++] = 'n';
            want[w++] = '\n';
        } else {
            char c = (char)('a' + k % 26);
            t[k++] = c;
            want[w++] = c;
        }
    }
    t[k++] = '"';
    CU_ASSERT_EQUAL_FATAL(parse_n(t, k, 0, &d, NULL), EVB_OK);
    s = evb_json_string(evb_json_root(d), &n);
    CU_ASSERT_EQUAL(n, w);
    CU_ASSERT(s != NULL && memcmp(s, want, w) == 0);
    evb_json_doc_free(d);
    free(t);
    free(want);
}

/* ---- invalid texts -------------------------------------------------------------------- */

static const struct {
    const char *text;
    size_t len; /* 0: strlen */
    evb_err code;
    const char *msg; /* a part of the message */
} INVALID[] = {
    {"", 0, EVB_ERR_PARSE, "end of input"},
    {" \n\t", 0, EVB_ERR_PARSE, "end of input"},
    {"{", 0, EVB_ERR_PARSE, "end of input"},
    {"[1", 0, EVB_ERR_PARSE, "end of input"},
    {"[1,", 0, EVB_ERR_PARSE, "end of input"},
    {"{\"a\"", 0, EVB_ERR_PARSE, "':' expected"},
    {"{\"a\":", 0, EVB_ERR_PARSE, "end of input"},
    /* trailing commas, missing separators, structure */
    {"[1,]", 0, EVB_ERR_PARSE, "trailing comma"},
    {"{\"a\":1,}", 0, EVB_ERR_PARSE, "trailing comma"},
    {"[,1]", 0, EVB_ERR_PARSE, "unexpected character"},
    {"[1 2]", 0, EVB_ERR_PARSE, "',' or ']' expected"},
    {"{\"a\":1 \"b\":2}", 0, EVB_ERR_PARSE, "',' or '}' expected"},
    {"{\"a\" 1}", 0, EVB_ERR_PARSE, "':' expected"},
    {"{a:1}", 0, EVB_ERR_PARSE, "string key expected"},
    {"{1:1}", 0, EVB_ERR_PARSE, "string key expected"},
    {"[1}", 0, EVB_ERR_PARSE, "',' or ']' expected"},
    {"}", 0, EVB_ERR_PARSE, "without '{'"},
    {"['a']", 0, EVB_ERR_PARSE, "unexpected character"},
    {"/*c*/1", 0, EVB_ERR_PARSE, "unexpected character"},
    /* trailing text */
    {"1 2", 0, EVB_ERR_PARSE, "after the JSON value"},
    {"[1]x", 0, EVB_ERR_PARSE, "after the JSON value"},
    {"{}{}", 0, EVB_ERR_PARSE, "after the JSON value"},
    {"truex", 0, EVB_ERR_PARSE, "after the JSON value"},
    {"[1]\xc3", 0, EVB_ERR_PARSE, "after the JSON value"},
    {"1\0", 2, EVB_ERR_PARSE, "after the JSON value"},
    {"\xef\xbb\xbf{}", 0, EVB_ERR_PARSE, "unexpected character"}, /* no byte order mark */
    /* literals */
    {"tru", 0, EVB_ERR_PARSE, "invalid literal"},
    {"nul", 0, EVB_ERR_PARSE, "invalid literal"},
    {"True", 0, EVB_ERR_PARSE, "unexpected character"},
    {"NaN", 0, EVB_ERR_PARSE, "unexpected character"},
    {"Infinity", 0, EVB_ERR_PARSE, "unexpected character"},
    {"-Infinity", 0, EVB_ERR_PARSE, "invalid number"},
    /* numbers */
    {"01", 0, EVB_ERR_PARSE, "leading zero"},
    {"-01", 0, EVB_ERR_PARSE, "leading zero"},
    {"00", 0, EVB_ERR_PARSE, "leading zero"},
    {"[00.5]", 0, EVB_ERR_PARSE, "leading zero"},
    {"1.", 0, EVB_ERR_PARSE, "after the decimal point"},
    {"1.e5", 0, EVB_ERR_PARSE, "after the decimal point"},
    {".5", 0, EVB_ERR_PARSE, "unexpected character"},
    {"1e", 0, EVB_ERR_PARSE, "exponent"},
    {"1e+", 0, EVB_ERR_PARSE, "exponent"},
    {"1E-x", 0, EVB_ERR_PARSE, "exponent"},
    {"+1", 0, EVB_ERR_PARSE, "unexpected character"},
    {"-", 0, EVB_ERR_PARSE, "invalid number"},
    {"- 1", 0, EVB_ERR_PARSE, "invalid number"},
    {"0x10", 0, EVB_ERR_PARSE, "after the JSON value"},
    {"1e400", 0, EVB_ERR_PARSE, "out of range"},
    {"-1e400", 0, EVB_ERR_PARSE, "out of range"},
    {"[1.7976931348623159e308]", 0, EVB_ERR_PARSE, "out of range"},
    {"1000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
     0, EVB_ERR_PARSE, "out of range"},
    /* strings */
    {"\"abc", 0, EVB_ERR_PARSE, "unterminated string"},
    {"\"abc\\", 0, EVB_ERR_PARSE, "unterminated string"},
    {"\"abc\\\"", 0, EVB_ERR_PARSE, "unterminated string"},
    {"\"0123456789abcdef0123456789", 0, EVB_ERR_PARSE, "unterminated string"},
    {"\"a\tb\"", 0, EVB_ERR_PARSE, "control character"},
    {"\"a\nb\"", 0, EVB_ERR_PARSE, "control character"},
    {"\"\x01\"", 0, EVB_ERR_PARSE, "control character"},
    {"\"\x1f\"", 0, EVB_ERR_PARSE, "control character"},
    {"\"\0\"", 3, EVB_ERR_PARSE, "control character"},
    {"\"0123456789abcdef\x1f\"", 0, EVB_ERR_PARSE, "control character"},
    {"\"\\x\"", 0, EVB_ERR_PARSE, "invalid escape"},
    {"\"\\'\"", 0, EVB_ERR_PARSE, "invalid escape"},
    {"\"\\U0041\"", 0, EVB_ERR_PARSE, "invalid escape"},
    {"\"\\\xc3\xa9\"", 0, EVB_ERR_PARSE, "invalid escape"},
    {"\"\\u12\"", 0, EVB_ERR_PARSE, "four hex digits"},
    {"\"\\u12G4\"", 0, EVB_ERR_PARSE, "four hex digits"},
    {"\"\\u-123\"", 0, EVB_ERR_PARSE, "four hex digits"},
    /* lone surrogates */
    {"\"\\ud800\"", 0, EVB_ERR_PARSE, "high surrogate"},
    {"\"\\udbff\"", 0, EVB_ERR_PARSE, "high surrogate"},
    {"\"\\ud800x\"", 0, EVB_ERR_PARSE, "high surrogate"},
    {"\"\\ud800\\n\"", 0, EVB_ERR_PARSE, "high surrogate"},
    {"\"\\ud800\\u0041\"", 0, EVB_ERR_PARSE, "high surrogate"},
    {"\"\\ud800\\ud800\"", 0, EVB_ERR_PARSE, "high surrogate"},
    {"\"\\ud800\\udc0\"", 0, EVB_ERR_PARSE, "high surrogate"},
    {"\"\\udc00\"", 0, EVB_ERR_PARSE, "low surrogate"},
    {"\"\\udfff\\ud800\"", 0, EVB_ERR_PARSE, "low surrogate"},
    /* invalid UTF-8 */
    {"\"\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"\xbf\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"\xc0\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},         /* overlong U+0000 */
    {"\"\xc1\xbf\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},         /* overlong U+007F */
    {"\"\xe0\x80\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},     /* overlong 3 bytes */
    {"\"\xe0\x9f\xbf\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},     /* overlong U+07FF */
    {"\"\xf0\x80\x80\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"}, /* overlong 4 bytes */
    {"\"\xf0\x8f\xbf\xbf\"", 0, EVB_ERR_PARSE, "invalid UTF-8"}, /* overlong U+FFFF */
    {"\"\xed\xa0\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},     /* U+D800 encoded */
    {"\"\xed\xbf\xbf\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},     /* U+DFFF encoded */
    {"\"\xf4\x90\x80\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"}, /* U+110000 */
    {"\"\xf5\x80\x80\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"\xf8\x88\x80\x80\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"\xfe\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"\xff\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"\xc3\"", 0, EVB_ERR_PARSE, "invalid UTF-8"}, /* truncated before the quote */
    {"\"\xe2\x82\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"\xf0\x9f\x98\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"\xe2\x82", 0, EVB_ERR_PARSE, "invalid UTF-8"}, /* truncated at the end */
    {"\"\xc3x\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"\"0123456789abcdef\x80\"", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    {"{\"\xff\":1}", 0, EVB_ERR_PARSE, "invalid UTF-8"},
    /* duplicate keys, and NUL in keys */
    {"{\"a\":1,\"a\":2}", 0, EVB_ERR_PARSE, "duplicate object key"},
    {"{\"a\":1,\"b\":2,\"a\":1}", 0, EVB_ERR_PARSE, "duplicate object key"},
    {"{\"x\":{\"k\":[],\"k\":[]}}", 0, EVB_ERR_PARSE, "duplicate object key"},
    {"{\"a\":1,\"\\u0061\":2}", 0, EVB_ERR_PARSE, "duplicate object key"},
    {"{\"\xc3\xa9\":1,\"\\u00e9\":2}", 0, EVB_ERR_PARSE, "duplicate object key"},
    {"{\"\":1,\"\":2}", 0, EVB_ERR_PARSE, "duplicate object key"},
    {"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
     "\"k9\":9,\"k3\":3}",
     0, EVB_ERR_PARSE, "duplicate object key"},
    {"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
     "\"k9\":9,\"k10\":0,\"k9\":9}",
     0, EVB_ERR_PARSE, "duplicate object key"},
    {"{\"a\\u0000\":1}", 0, EVB_ERR_PARSE, "NUL character"},
    {"{\"\\u0000\":1}", 0, EVB_ERR_PARSE, "NUL character"},
};

static void test_invalid(void)
{
    for (size_t i = 0; i < sizeof INVALID / sizeof INVALID[0]; i++) {
        evb_json_doc *d = (evb_json_doc *)1;
        evb_error e;
        size_t len = INVALID[i].len ? INVALID[i].len : strlen(INVALID[i].text);
        evb_err rc = parse_n(INVALID[i].text, len, 0, &d, &e);
        CU_ASSERT_PTR_NULL(d);
        if (rc != INVALID[i].code || e.code != rc || strstr(e.message, INVALID[i].msg) == NULL ||
            strstr(e.message, "invalid JSON at line ") == NULL) {
            printf("\ninvalid case %zu: rc %d: %s\n", i, (int)rc, rc ? e.message : "accepted");
            CU_FAIL("invalid text");
        }
        if (rc == EVB_OK)
            evb_json_doc_free(d);
    }
}

/* Where an error is reported: line, column in characters, byte offset. */
static const struct {
    const char *text;
    const char *where;
} POSITIONS[] = {
    {"{\n  \"a\": x}", "line 2 column 8 (byte 9)"},
    {"[\"\xc3\xa9\", x]", "line 1 column 7 (byte 7)"},
    {"{\"a\":1,\"a\":2}", "line 1 column 8 (byte 7)"}, /* the second key */
    {"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,"
     "\"k1\":1,\"k2\":2}",
     "(byte 71)"}, /* a sorted object: still the first repeated key */
    {"\n\n\"\\ud800\"", "line 3 column 2 (byte 3)"},
    {"\"ab\xff\"", "line 1 column 4 (byte 3)"},
    {"[1]  x", "line 1 column 6 (byte 5)"},
    {"", "line 1 column 1 (byte 0)"},
};

static void test_positions(void)
{
    for (size_t i = 0; i < sizeof POSITIONS / sizeof POSITIONS[0]; i++) {
        evb_json_doc *d = NULL;
        evb_error e;
        CU_ASSERT_EQUAL(parse(POSITIONS[i].text, &d, &e), EVB_ERR_PARSE);
        if (strstr(e.message, POSITIONS[i].where) == NULL) {
            printf("\nposition case %zu: %s\n", i, e.message);
            CU_FAIL("error position");
        }
    }
}

/* ---- numbers -------------------------------------------------------------------------- */

static const struct {
    const char *text;
    evb_json_type type;
    int64_t i; /* INTEGER */
    double d;  /* REAL */
} NUMBERS[] = {
    {"0", EVB_JSON_INTEGER, 0, 0},
    {"-0", EVB_JSON_INTEGER, 0, 0},
    {"-0.0", EVB_JSON_INTEGER, 0, 0},
    {"0e10", EVB_JSON_INTEGER, 0, 0},
    {"1", EVB_JSON_INTEGER, 1, 0},
    {"1.0", EVB_JSON_INTEGER, 1, 0},
    {"1.000000000000000000000000000001", EVB_JSON_INTEGER, 1, 0}, /* the double is 1.0 */
    {"1e2", EVB_JSON_INTEGER, 100, 0},
    {"1E+2", EVB_JSON_INTEGER, 100, 0},
    {"100e-2", EVB_JSON_INTEGER, 1, 0},
    {"-12.5e1", EVB_JSON_INTEGER, -125, 0},
    {"1.5", EVB_JSON_REAL, 0, 1.5},
    {"-1.5", EVB_JSON_REAL, 0, -1.5},
    {"0.1", EVB_JSON_REAL, 0, 0.1},
    {"123.456e-7", EVB_JSON_REAL, 0, 123.456e-7},
    {"0.000001234", EVB_JSON_REAL, 0, 0.000001234},
    {"1e-400", EVB_JSON_INTEGER, 0, 0}, /* underflows to 0 */
    {"4.9e-324", EVB_JSON_REAL, 0, 4.9e-324},
    {"2.2250738585072011e-308", EVB_JSON_REAL, 0, 2.2250738585072011e-308},
    {"1.7976931348623157e308", EVB_JSON_REAL, 0, 1.7976931348623157e308},
    {"9223372036854775807", EVB_JSON_INTEGER, INT64_MAX, 0},
    {"-9223372036854775808", EVB_JSON_INTEGER, INT64_MIN, 0},
    {"9223372036854775808", EVB_JSON_REAL, 0, 9223372036854775808.0},
    {"-9223372036854775809", EVB_JSON_REAL, 0, -9223372036854775809.0},
    {"18446744073709551616", EVB_JSON_REAL, 0, 18446744073709551616.0},
    {"12345678901234567890123", EVB_JSON_REAL, 0, 12345678901234567890123.0},
    {"9007199254740993", EVB_JSON_INTEGER, 9007199254740993LL, 0},   /* 2^53 + 1: exact */
    {"9007199254740993.0", EVB_JSON_INTEGER, 9007199254740992LL, 0}, /* a double first */
    {"9007199254740994.0", EVB_JSON_REAL, 0, 9007199254740994.0},
    {"1e22", EVB_JSON_REAL, 0, 1e22},
    {"1e15", EVB_JSON_INTEGER, 1000000000000000LL, 0},
    {"0.30000000000000004", EVB_JSON_REAL, 0, 0.30000000000000004},
    {"12345678901234567890e-10", EVB_JSON_REAL, 0, 12345678901234567890e-10},
    {"1234567890123456789", EVB_JSON_INTEGER, 1234567890123456789LL, 0},
    {"0.0000000000000000000000000000000000000001e40", EVB_JSON_INTEGER, 1, 0},
    {"1e-2", EVB_JSON_REAL, 0, 0.01},
    {"5e-324", EVB_JSON_REAL, 0, 5e-324},
};

static void test_numbers(void)
{
    for (size_t i = 0; i < sizeof NUMBERS / sizeof NUMBERS[0]; i++) {
        evb_json_doc *d = NULL;
        evb_error e;
        if (parse(NUMBERS[i].text, &d, &e) != EVB_OK) {
            printf("\nnumber case %zu rejected: %s\n", i, e.message);
            CU_FAIL("number rejected");
            continue;
        }
        const evb_json *v = evb_json_root(d);
        bool ok = evb_json_typeof(v) == NUMBERS[i].type &&
                  (NUMBERS[i].type == EVB_JSON_INTEGER ? evb_json_int(v) == NUMBERS[i].i
                                                       : evb_json_number(v) == NUMBERS[i].d);
        if (!ok) {
            printf("\nnumber case %zu (%s): type %d, %lld / %.17g\n", i, NUMBERS[i].text,
                   (int)evb_json_typeof(v), (long long)evb_json_int(v), evb_json_number(v));
            CU_FAIL("number value");
        }
        CU_ASSERT(evb_json_is_number(v));
        evb_json_doc_free(d);
    }
    /* -0 and -0.0 read as the integer 0, equal to 0 and 0.0 */
    evb_json_doc *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(parse("[-0,1,1.5]", &a, NULL), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(parse("[0.0,1.0,1.50]", &b, NULL), EVB_OK);
    CU_ASSERT(evb_json_equal(evb_json_root(a), evb_json_root(b)));
    CU_ASSERT_EQUAL(evb_json_hash(evb_json_root(a)), evb_json_hash(evb_json_root(b)));
    evb_json_doc_free(a);
    evb_json_doc_free(b);
}

/* An integer beyond int64 makes the whole document read as doubles: integers past 2^53 there
 * become doubles too, the others stay exact integers (json_value.h). */
static void test_big_integers(void)
{
    evb_json_doc *d = NULL;
    CU_ASSERT_EQUAL_FATAL(
        parse("{\"a\":[9007199254740995,-9007199254740993,1,9007199254740992],"
              "\"b\":18446744073709551616,\"c\":{\"d\":9223372036854775807},\"e\":2.5}",
              &d, NULL),
        EVB_OK);
    const evb_json *r = evb_json_root(d), *a = evb_json_get(r, "a");
    CU_ASSERT_EQUAL(evb_json_typeof(evb_json_at(a, 0)), EVB_JSON_REAL); /* 2^53 + 3 */
    CU_ASSERT_EQUAL(evb_json_number(evb_json_at(a, 0)), 9007199254740996.0);
    CU_ASSERT_EQUAL(evb_json_typeof(evb_json_at(a, 1)), EVB_JSON_INTEGER); /* rounds to -2^53 */
    CU_ASSERT_EQUAL(evb_json_int(evb_json_at(a, 1)), -9007199254740992LL);
    CU_ASSERT_EQUAL(evb_json_typeof(evb_json_at(a, 2)), EVB_JSON_INTEGER);
    CU_ASSERT_EQUAL(evb_json_int(evb_json_at(a, 2)), 1);
    CU_ASSERT_EQUAL(evb_json_typeof(evb_json_at(a, 3)), EVB_JSON_INTEGER);
    CU_ASSERT_EQUAL(evb_json_int(evb_json_at(a, 3)), 9007199254740992LL);
    CU_ASSERT_EQUAL(evb_json_typeof(evb_json_get(r, "b")), EVB_JSON_REAL);
    CU_ASSERT_EQUAL(evb_json_number(evb_json_get(r, "b")), 18446744073709551616.0);
    const evb_json *cd = evb_json_get(evb_json_get(r, "c"), "d");
    CU_ASSERT_EQUAL(evb_json_typeof(cd), EVB_JSON_REAL);
    CU_ASSERT_EQUAL(evb_json_number(cd), 9223372036854775808.0);
    CU_ASSERT_EQUAL(evb_json_number(evb_json_get(r, "e")), 2.5);
    CU_ASSERT(evb_json_is_integral(cd));
    evb_json_doc_free(d);
}

/* Decimal texts of every shape the fast path takes or leaves, against strtod. */
static void test_numbers_vs_strtod(void)
{
    unsigned long long x = 88172645463325252ull; /* xorshift: fixed sequence */
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char t[64];
        int digits = 1 + (int)(x % 19), point = (int)((x >> 8) % (unsigned)(digits + 1));
        int ex = (int)((x >> 16) % 90) - 45;
        unsigned long long m = x >> 20;
        char ds[32];
        snprintf(ds, sizeof ds, "%0*llu", digits, m);
        ds[0] = (char)('1' + (x >> 40) % 9);
        ds[digits] = '\0';
        if (point == 0 || point == digits)
            snprintf(t, sizeof t, "%s%se%d", (x >> 50) & 1 ? "-" : "", ds, ex);
        else
            snprintf(t, sizeof t, "%s%.*s.%se%d", (x >> 50) & 1 ? "-" : "", point, ds, ds + point,
                     ex);
        evb_json_doc *d = NULL;
        if (parse(t, &d, NULL) != EVB_OK) {
            bad++;
            continue;
        }
        double want = strtod(t, NULL);
        const evb_json *v = evb_json_root(d);
        double got = evb_json_number(v);
        bool integral = want == floor(want) && fabs(want) <= 9007199254740992.0;
        if (got != want || (evb_json_typeof(v) == EVB_JSON_INTEGER) != integral) {
            if (bad++ < 5)
                printf("\n%s: got %.17g, strtod %.17g\n", t, got, want);
        }
        evb_json_doc_free(d);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* ---- depth ---------------------------------------------------------------------------- */

static char *nested(const char *open, const char *mid, const char *close, size_t depth)
{
    size_t n = (strlen(open) + strlen(close)) * depth + strlen(mid) + 1;
    char *b = malloc(n), *p = b;
    for (size_t i = 0; i < depth; i++)
        p += sprintf(p, "%s", open);
    p += sprintf(p, "%s", mid);
    for (size_t i = 0; i < depth; i++)
        p += sprintf(p, "%s", close);
    return b;
}

static void expect_depth(const char *open, const char *close, size_t depth, size_t max,
                         evb_err want, const char *pointer_start)
{
    char *t = nested(open, "1", close, depth);
    evb_json_doc *d = NULL;
    evb_error e;
    evb_err rc = parse_n(t, strlen(t), max, &d, &e);
    CU_ASSERT_EQUAL(rc, want);
    if (rc == EVB_ERR_LIMIT) {
        CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "nested deeper than"));
        CU_ASSERT_EQUAL(strncmp(e.pointer, pointer_start, strlen(pointer_start)), 0);
    }
    evb_json_doc_free(d);
    free(t);
}

static void test_depth(void)
{
    expect_depth("[", "]", 128, 0, EVB_OK, ""); /* 0: the default, 128 */
    expect_depth("[", "]", 129, 0, EVB_ERR_LIMIT, "/0/0/0");
    expect_depth("{\"a\":", "}", 128, 0, EVB_OK, "");
    expect_depth("{\"a\":", "}", 129, 0, EVB_ERR_LIMIT, "/a/a/a");
    expect_depth("[", "]", 5, 5, EVB_OK, "");
    expect_depth("[", "]", 6, 5, EVB_ERR_LIMIT, "/0/0/0/0/0");
    expect_depth("[", "]", 1, 1, EVB_OK, "");
    expect_depth("[", "]", 2, 1, EVB_ERR_LIMIT, "/0");
    expect_depth("[", "]", 1024, 5000, EVB_OK, ""); /* clamped to the hard maximum */
    expect_depth("[", "]", 1025, 5000, EVB_ERR_LIMIT, "/0/0");
    expect_depth("[", "]", 1025, EVB_JSON_HARD_MAX_DEPTH, EVB_ERR_LIMIT, "/0/0");
    expect_depth("[", "]", 100000, EVB_JSON_HARD_MAX_DEPTH, EVB_ERR_LIMIT, "/0/0");

    /* the pointer names the container one level too deep, escaping '~' and '/' */
    static const struct {
        const char *text;
        size_t max;
        const char *pointer;
    } P[] = {
        {"{\"a/b\":{\"c~\":{}}}", 2, "/a~1b/c~0"},
        {"[1,[2,[3]]]", 2, "/1/1"},
        {"{\"x\":1,\"y\":[0,{\"z\":[]}]}", 3, "/y/1/z"},
        {"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
         "\"k9\":{\"a\":[]}}",
         2, "/k9/a"},
        {"[[[", 2, "/0/0"}, /* reported before the syntax error that follows */
    };
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        evb_json_doc *d = NULL;
        evb_error e;
        CU_ASSERT_EQUAL(parse_n(P[i].text, strlen(P[i].text), P[i].max, &d, &e), EVB_ERR_LIMIT);
        if (strcmp(e.pointer, P[i].pointer) != 0) {
            printf("\ndepth pointer case %zu: %s\n", i, e.pointer);
            CU_FAIL("depth pointer");
        }
    }
    /* scalars do not count: a limit of 1 takes a flat array of anything */
    evb_json_doc *d = NULL;
    CU_ASSERT_EQUAL(parse_n("[1,\"a\",null]", 12, 1, &d, NULL), EVB_OK);
    evb_json_doc_free(d);
    CU_ASSERT_EQUAL(parse_n("\"a\"", 3, 1, &d, NULL), EVB_OK);
    evb_json_doc_free(d);
}

/* ---- objects -------------------------------------------------------------------------- */

static void test_lookup(void)
{
    /* 40 members of varied lengths: sorted index; lookups hit every key and miss others */
    char t[4096], key[32];
    size_t n = 0;
    n += (size_t)snprintf(t + n, sizeof t - n, "{");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(t + n, sizeof t - n, "%s\"%.*s%d\":%d", i ? "," : "", i % 7,
                              "kkkkkkk", i, i);
    n += (size_t)snprintf(t + n, sizeof t - n, "}");
    evb_json_doc *d = NULL;
    evb_error e;
    CU_ASSERT_EQUAL_FATAL(parse_n(t, n, 0, &d, &e), EVB_OK);
    const evb_json *r = evb_json_root(d);
    CU_ASSERT_EQUAL(evb_json_size(r), 40);
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "%.*s%d", i % 7, "kkkkkkk", i);
        CU_ASSERT_EQUAL(evb_json_int(evb_json_get(r, key)), i);
        size_t kl;
        CU_ASSERT_STRING_EQUAL(evb_json_key_at(r, (size_t)i, &kl), key); /* document order */
        CU_ASSERT_EQUAL(evb_json_int(evb_json_value_at(r, (size_t)i)), i);
        snprintf(key, sizeof key, "%.*s%d", i % 7 + 1, "kkkkkkkk", i);
        CU_ASSERT_PTR_NULL(evb_json_get(r, key));
    }
    CU_ASSERT_PTR_NULL(evb_json_get(r, ""));
    CU_ASSERT_PTR_NULL(evb_json_get(r, "k"));
    CU_ASSERT_PTR_NULL(evb_json_getn(r, "k1", 1));
    CU_ASSERT_PTR_NULL(evb_json_key_at(r, 40, NULL));
    evb_json_doc_free(d);

    /* a small object, keys with NUL-free bytes above 0x7F, and the empty key */
    CU_ASSERT_EQUAL_FATAL(parse("{\"\":0,\"\xc3\xa9\":1,\"\\u00e9x\":2}", &d, NULL), EVB_OK);
    r = evb_json_root(d);
    CU_ASSERT_EQUAL(evb_json_int(evb_json_get(r, "")), 0);
    CU_ASSERT_EQUAL(evb_json_int(evb_json_get(r, "\xc3\xa9")), 1);
    CU_ASSERT_EQUAL(evb_json_int(evb_json_get(r, "\xc3\xa9x")), 2);
    CU_ASSERT_PTR_NULL(evb_json_get(r, "\xc3"));
    CU_ASSERT_PTR_NULL(evb_json_get(evb_json_get(r, ""), "x")); /* not an object */
    evb_json_doc_free(d);

    /* equality ignores member order, also across small and sorted objects */
    evb_json_doc *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(parse("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
                                "\"h\":8,\"i\":9,\"j\":10}",
                                &a, NULL),
                          EVB_OK);
    CU_ASSERT_EQUAL_FATAL(parse("{\"j\":10,\"i\":9,\"h\":8,\"g\":7,\"f\":6,\"e\":5,\"d\":4,"
                                "\"c\":3,\"b\":2,\"a\":1}",
                                &b, NULL),
                          EVB_OK);
    CU_ASSERT(evb_json_equal(evb_json_root(a), evb_json_root(b)));
    CU_ASSERT_EQUAL(evb_json_hash(evb_json_root(a)), evb_json_hash(evb_json_root(b)));
    evb_json_doc_free(a);
    evb_json_doc_free(b);
}

/* Documents bigger than the parser's inline scratch and its first block. */
static void test_large(void)
{
    size_t cap = 1 << 20, n = 0;
    char *t = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    n += (size_t)snprintf(t + n, cap - n, "{\"arr\":[");
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(t + n, cap - n, "%s%d", i ? "," : "", i);
    n += (size_t)snprintf(t + n, cap - n, "],\"obj\":{");
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(t + n, cap - n, "%s\"m%d\":[%d,{\"x\":\"v%d\"}]", i ? "," : "", i, i,
                              i);
    n += (size_t)snprintf(t + n, cap - n, "}}");
    evb_json_doc *d = NULL;
    evb_error e;
    CU_ASSERT_EQUAL_FATAL(parse_n(t, n, 0, &d, &e), EVB_OK);
    const evb_json *r = evb_json_root(d);
    const evb_json *arr = evb_json_get(r, "arr"), *obj = evb_json_get(r, "obj");
    CU_ASSERT_EQUAL(evb_json_size(arr), 20000);
    CU_ASSERT_EQUAL(evb_json_int(evb_json_at(arr, 19999)), 19999);
    CU_ASSERT_EQUAL(evb_json_size(obj), 3000);
    const evb_json *m = evb_json_get(obj, "m2718");
    CU_ASSERT_EQUAL(evb_json_int(evb_json_at(m, 0)), 2718);
    CU_ASSERT_STRING_EQUAL(evb_json_string(evb_json_get(evb_json_at(m, 1), "x"), NULL), "v2718");
    evb_json_doc_free(d);

    /* the same big object with one key repeated at the end */
    n -= 2;
    n += (size_t)snprintf(t + n, cap - n, ",\"m17\":0}}");
    CU_ASSERT_EQUAL(parse_n(t, n, 0, &d, &e), EVB_ERR_PARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "duplicate object key"));
    free(t);
}

static void test_api(void)
{
    evb_json_doc *d = (evb_json_doc *)1;
    evb_error e;
    CU_ASSERT_EQUAL(evb_json_parse(NULL, 0, 0, &d, &e), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_json_parse("1", 1, 0, NULL, &e), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_json_parse("[1,2]garbage", 5, 0, &d, NULL), EVB_OK); /* len counts */
    CU_ASSERT_EQUAL(evb_json_size(evb_json_root(d)), 2);
    evb_json_doc_free(d);
    CU_ASSERT_EQUAL(evb_json_parse("12", 1, 0, &d, NULL), EVB_OK);
    CU_ASSERT_EQUAL(evb_json_int(evb_json_root(d)), 1);
    evb_json_doc_free(d);
    evb_json_doc_free(NULL);
    CU_ASSERT_PTR_NULL(evb_json_root(NULL));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("registry_json", NULL, NULL);
    if (suite == NULL || !CU_add_test(suite, "valid texts", test_valid) ||
        !CU_add_test(suite, "strings", test_strings) ||
        !CU_add_test(suite, "invalid texts", test_invalid) ||
        !CU_add_test(suite, "error positions", test_positions) ||
        !CU_add_test(suite, "numbers", test_numbers) ||
        !CU_add_test(suite, "integers beyond int64", test_big_integers) ||
        !CU_add_test(suite, "numbers vs strtod", test_numbers_vs_strtod) ||
        !CU_add_test(suite, "depth", test_depth) ||
        !CU_add_test(suite, "member lookup", test_lookup) ||
        !CU_add_test(suite, "large documents", test_large) ||
        !CU_add_test(suite, "API", test_api)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
