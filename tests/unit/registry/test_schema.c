/* evbridge tests — registry/schema.h API contracts: compile errors and their pointers,
 * limits (schema depth, instance depth, violation count), hostile regexes, the resolver
 * callback, built-in meta-schemas, canonical form, and concurrent validation of one
 * compiled schema. Keyword behaviour is in test_schema_keywords.c.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/schema.h"
#include "test_schema_int.h"

static evb_schema *compile(const char *json, const evb_schema_options *o)
{
    evb_schema *s = NULL;
    evb_error e;
    if (evb_schema_compile(json, strlen(json), o, &s, &e) != EVB_OK)
        printf("\ncompile failed: %s at %s\n", e.message, e.pointer);
    return s;
}

static const struct {
    const char *schema;
    evb_err code;
    const char *pointer;
    const char *msg;
} BAD[] = {
    {"{\"type\":", EVB_ERR_PARSE, "", "invalid JSON"},
    {"{\"a\":1,\"a\":2}", EVB_ERR_PARSE, "", "duplicate"},
    {"{\"$schema\":\"http://example.com/unknown\"}", EVB_ERR_INVALID, "", "unknown $schema"},
    {"{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\"}", EVB_ERR_INVALID, "",
     "unknown $schema"},
    {"{\"properties\":{\"a\":{\"minLength\":-1}}}", EVB_ERR_INVALID, "/properties/a/minLength",
     "non-negative integer"},
    {"{\"type\":\"text\"}", EVB_ERR_INVALID, "/type", "type name"},
    {"{\"pattern\":\"(unclosed\"}", EVB_ERR_INVALID, "/pattern", "invalid regular expression"},
    {"{\"items\":{\"patternProperties\":{\"[\":{}}}}", EVB_ERR_INVALID, "/items/patternProperties",
     "invalid regular expression"},
    {"{\"$ref\":\"#/definitions/missing\"}", EVB_ERR_INVALID, "", "cannot resolve"},
    {"{\"allOf\":[{\"$ref\":\"other.json\"}]}", EVB_ERR_INVALID, "/allOf/0", "cannot resolve"},
    {"{\"multipleOf\":0}", EVB_ERR_INVALID, "/multipleOf", "greater than 0"},
    {"{\"properties\":{\"a\":5}}", EVB_ERR_INVALID, "/properties/a", "object or a boolean"},
};

static void test_compile_errors(void)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        evb_schema *s = (evb_schema *)1;
        evb_error e;
        evb_err rc = evb_schema_compile(BAD[i].schema, strlen(BAD[i].schema), NULL, &s, &e);
        CU_ASSERT_EQUAL(rc, BAD[i].code);
        CU_ASSERT_PTR_NULL(s);
        CU_ASSERT_EQUAL(e.code, BAD[i].code);
        if (strcmp(e.pointer, BAD[i].pointer) != 0 || strstr(e.message, BAD[i].msg) == NULL) {
            printf("\nbad case %zu: [%s] [%s]\n", i, e.pointer, e.message);
            CU_FAIL("error details");
        }
    }
    evb_schema *s = NULL;
    CU_ASSERT_EQUAL(evb_schema_compile(NULL, 0, NULL, &s, NULL), EVB_ERR_INVALID);
    evb_schema_free(NULL);
}

static char *nested(const char *open, const char *mid, const char *close, int depth)
{
    size_t n = (strlen(open) + strlen(close)) * (size_t)depth + strlen(mid) + 1;
    char *b = malloc(n);
    b[0] = '\0';
    for (int i = 0; i < depth; i++)
        strcat(b, open);
    strcat(b, mid);
    for (int i = 0; i < depth; i++)
        strcat(b, close);
    return b;
}

static void test_depth_limits(void)
{
    char *deep = nested("{\"items\":", "{}", "}", 80);
    evb_schema *s = NULL;
    evb_error e;
    CU_ASSERT_EQUAL(evb_schema_compile(deep, strlen(deep), NULL, &s, &e), EVB_ERR_LIMIT);
    evb_schema_options o = {.max_schema_depth = 100};
    CU_ASSERT_EQUAL(evb_schema_compile(deep, strlen(deep), &o, &s, &e), EVB_OK);
    evb_schema_free(s);
    free(deep);

    s = compile("{\"items\":{\"$ref\":\"#\"}}", NULL);
    char *inst = nested("[", "1", "]", 70);
    evb_schema_result r = {0};
    CU_ASSERT_EQUAL(evb_schema_validate(s, inst, strlen(inst), &r, &e), EVB_ERR_LIMIT);
    CU_ASSERT_FALSE(r.valid);
    free(inst);
    inst = nested("[", "1", "]", 30);
    CU_ASSERT_EQUAL(evb_schema_validate(s, inst, strlen(inst), &r, &e), EVB_OK);
    CU_ASSERT_TRUE(r.valid);
    free(inst);
    evb_schema_free(s);

    /* A reference cycle that never consumes the instance stops with EVB_ERR_LIMIT. */
    s = compile("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
                "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
                "\"$ref\":\"#/$defs/a\"}",
                NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(evb_schema_validate(s, "1", 1, &r, &e), EVB_ERR_LIMIT);
    CU_ASSERT_FALSE(r.valid);
    evb_schema_free(s);
}

static void test_violation_limit(void)
{
    evb_schema *s = compile("{\"items\":{\"type\":\"string\"}}", NULL);
    const char *inst = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]";
    static const struct {
        size_t limit, count;
        bool truncated;
    } L[] = {{0, 10, true}, {1, 1, true}, {3, 3, true}, {99, 10, true}};
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
        evb_schema_result r = {.limit = L[i].limit};
        CU_ASSERT_EQUAL(evb_schema_validate(s, inst, strlen(inst), &r, NULL), EVB_OK);
        CU_ASSERT_FALSE(r.valid);
        CU_ASSERT_EQUAL(r.count, L[i].count);
        CU_ASSERT_EQUAL(r.truncated, L[i].truncated);
        CU_ASSERT_STRING_EQUAL(r.violations[r.count - 1].keyword_location, "/items/type");
    }
    evb_schema_result r = {0};
    CU_ASSERT_EQUAL(evb_schema_validate(s, "[1,\"a\"]", 7, &r, NULL), EVB_OK);
    CU_ASSERT_EQUAL(r.count, 1);
    CU_ASSERT_FALSE(r.truncated);
    CU_ASSERT_STRING_EQUAL(r.violations[0].instance_path, "/0");
    CU_ASSERT_EQUAL(evb_schema_validate(s, "[1,", 3, &r, NULL), EVB_ERR_PARSE);
    evb_schema_free(s);
}

static void test_hostile_regex(void)
{
#define HOSTILE_PROPS "{\"patternProperties\":{\"^(a+)+$\":true},\"additionalProperties\":false}"
    static const char *const pats[] = {"{\"pattern\":\"^(a+)+$\"}", "{\"pattern\":\"^(a|aa)+$\"}",
                                       "{\"pattern\":\"^(a|a?)+$\"}", HOSTILE_PROPS};
    char *subject = malloc(20010);
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        evb_schema *s = compile(pats[i], NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        size_t n = 0;
        bool props = strstr(pats[i], "pattern\"") == NULL;
        n += (size_t)sprintf(subject, props ? "{\"" : "\"");
        memset(subject + n, 'a', 20000);
        n += 20000;
        n += (size_t)sprintf(subject + n, props ? "!\":1}" : "!\"");
        evb_schema_result r = {0};
        CU_ASSERT_EQUAL(evb_schema_validate(s, subject, n, &r, NULL), EVB_OK);
        CU_ASSERT_FALSE(r.valid);
        evb_schema_free(s);
    }
    free(subject);
}

/* Simple anchored patterns are matched by a byte automaton (registry/regex_simple.c), others
 * by PCRE2. "(?=)" (an empty lookahead, always true) keeps a pattern out of the automaton, so
 * each pattern runs both ways on random subjects (valid UTF-8, mutated from matching ones)
 * and the outcomes must agree; then on subjects long enough that PCRE2 decides alone. */
static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;
static unsigned rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (unsigned)(rnd_state >> 11);
}

static bool pattern_valid(evb_schema *s, const char *subject, size_t n)
{
    char *doc = malloc(2 * n + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    size_t len = 0;
    doc[len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (subject[i] == '"' || subject[i] == '\\')
            doc[len++] = '\\';
        doc[len++] = subject[i];
    }
    doc[len++] = '"';
    evb_schema_result r = {.limit = 1};
    CU_ASSERT_EQUAL(evb_schema_validate(s, doc, len, &r, NULL), EVB_OK);
    free(doc);
    return r.valid;
}

static void test_simple_patterns(void)
{
    static const char *const pats[][3] = {
        {"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$", "cus_01HZX3Y8K2", "a/b:c@d"},
        {"^\\\\+?[0-9][0-9 ()./-]{2,31}$", "+86 571 8888 0000", "123"},
        {"^[A-Z]{3}$", "CNY", "USD"},
        {"^-?(0|[1-9][0-9]{0,17})(\\\\.[0-9]{1,4})?$", "-12.50", "0"},
        {"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]{1,9})?([Zz]|[+-][0-"
         "9]{2}:[0-9]{2})$",
         "2026-05-12T10:02:11.250+08:00", "2026-03-01T08:30:00Z"},
        {"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$", "crm_level", "a.b-c"},
        {"^[0-9]{8,14}$", "06901234567892", "12345678"},
        {"^(ab|cd)?e+$", "abee", "e"},
        {"^\\\\d{3}-\\\\w+$", "123-a_b", "000-Z"},
        {"^[a-]x$", "-x", "ax"},
        {"^(?:x|y)z$", "xz", "yz"},
        {"^a{2,}b$", "aab", "aaaab"},
        {"^[a-z]*a$", "ba", "a"}, /* not deterministic: PCRE2 both ways */
    };
    static const char *const alpha[] = {"a", "b", "e", "x", "z",        "A", "Z", "T",
                                        "0", "1", "9", ".", "-",        "+", ":", "_",
                                        "/", "@", " ", "(", "\xc3\xa9", "~"};
    char *big = malloc(70000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        char a[400], b[400];
        snprintf(a, sizeof a, "{\"pattern\":\"%s\"}", pats[i][0]);
        snprintf(b, sizeof b, "{\"pattern\":\"^(?=)%s\"}", pats[i][0] + 1);
        evb_schema *sa = compile(a, NULL), *sb = compile(b, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(sa);
        CU_ASSERT_PTR_NOT_NULL_FATAL(sb);
        size_t agree = 0, matched = 0;
        for (int k = 0; k < 4000; k++) {
            char sub[200];
            size_t n = strlen(pats[i][1 + k % 2]);
            memcpy(sub, pats[i][1 + k % 2], n);
            for (unsigned m = rnd() % 4; m > 0 && n < 150; m--) {
                const char *c = alpha[rnd() % (sizeof alpha / sizeof alpha[0])];
                size_t at = rnd() % (n + 1), cl = strlen(c);
                if (rnd() % 2 == 0 && at < n && ((unsigned char)sub[at] & 0x80) == 0) {
                    memmove(sub + at, sub + at + 1, n - at - 1); /* delete an ASCII byte */
                    n--;
                } else if (at == n || ((unsigned char)sub[at] & 0xC0) != 0x80) {
                    memmove(sub + at + cl, sub + at, n - at); /* insert */
                    memcpy(sub + at, c, cl);
                    n += cl;
                }
            }
            bool va = pattern_valid(sa, sub, n), vb = pattern_valid(sb, sub, n);
            agree += va == vb;
            matched += va;
            if (va != vb)
                printf("\n%s on \"%.*s\": %d vs %d\n", pats[i][0], (int)n, sub, va, vb);
        }
        CU_ASSERT_EQUAL(agree, 4000);
        CU_ASSERT(matched > 0 && matched < 4000);
        for (size_t len = 1000; len <= 64000; len *= 4) { /* short for PCRE2's limit or not */
            memset(big, '0', len);
            big[0] = pats[i][1][0];
            CU_ASSERT_EQUAL(pattern_valid(sa, big, len), pattern_valid(sb, big, len));
        }
        evb_schema_free(sa);
        evb_schema_free(sb);
    }
    free(big);
}

typedef struct store {
    int calls;
} store;

static const char *resolve(void *arg, const char *uri, size_t *len)
{
    store *st = arg;
    st->calls++;
    static const char money[] = "{\"type\":\"number\",\"multipleOf\":0.01}";
    static const char customer[] =
        "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
        "\"properties\":{\"id\":{\"type\":\"string\"},\"balance\":{\"$ref\":\"money\"}},"
        "\"required\":[\"id\"]}";
    if (strcmp(uri, "evb://registry/schemas/ids/money") == 0) {
        *len = sizeof money - 1;
        return money;
    }
    if (strcmp(uri, "evb://registry/schemas/ids/7") == 0) {
        *len = sizeof customer - 1;
        return customer;
    }
    return NULL;
}

static void test_resolver(void)
{
    store st = {0};
    evb_schema_options o = {.resolve = resolve, .resolve_arg = &st};
    evb_schema *s = compile("{\"$ref\":\"evb://registry/schemas/ids/7\"}", &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(st.calls, 2);
    evb_schema_result r = {0};
    const char *ok = "{\"id\":\"c1\",\"balance\":19.99}", *bad = "{\"balance\":19.999}";
    CU_ASSERT_EQUAL(evb_schema_validate(s, ok, strlen(ok), &r, NULL), EVB_OK);
    CU_ASSERT_TRUE(r.valid);
    CU_ASSERT_EQUAL(evb_schema_validate(s, bad, strlen(bad), &r, NULL), EVB_OK);
    CU_ASSERT_FALSE(r.valid);
    CU_ASSERT_EQUAL(r.count, 2);
    CU_ASSERT_STRING_EQUAL(r.violations[0].keyword_location, "/$ref/required");
    CU_ASSERT_STRING_EQUAL(r.violations[0].instance_path, "");
    CU_ASSERT_STRING_EQUAL(r.violations[0].message, "property \"id\" is required");
    CU_ASSERT_STRING_EQUAL(r.violations[1].keyword_location,
                           "/$ref/properties/balance/$ref/multipleOf");
    CU_ASSERT_STRING_EQUAL(r.violations[1].instance_path, "/balance");
    CU_ASSERT_STRING_EQUAL(r.violations[1].message, "must be a multiple of 0.01");
    evb_schema_free(s);

    evb_error e;
    s = (evb_schema *)1;
    const char *missing = "{\"$ref\":\"evb://registry/schemas/ids/404\"}";
    CU_ASSERT_EQUAL(evb_schema_compile(missing, strlen(missing), &o, &s, &e), EVB_ERR_INVALID);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "ids/404"));
}

static void test_metaschema(void)
{
    evb_schema *s = compile("{\"$ref\":\"http://json-schema.org/draft-07/schema#\"}", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    evb_schema_result r = {0};
    CU_ASSERT_EQUAL(evb_schema_validate(s, "{\"type\":\"string\"}", 17, &r, NULL), EVB_OK);
    CU_ASSERT_TRUE(r.valid);
    CU_ASSERT_EQUAL(evb_schema_validate(s, "{\"minLength\":-1}", 16, &r, NULL), EVB_OK);
    CU_ASSERT_FALSE(r.valid);
    evb_schema_free(s);
    s = compile("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
                "\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}",
                NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(evb_schema_dialect_of(s), EVB_SCHEMA_DRAFT2020_12);
    const char *bad = "{\"$defs\":{\"a\":{\"type\":1}}}";
    CU_ASSERT_EQUAL(evb_schema_validate(s, bad, strlen(bad), &r, NULL), EVB_OK);
    CU_ASSERT_FALSE(r.valid);
    evb_schema_free(s);
    s = compile("{}", NULL);
    CU_ASSERT_EQUAL(evb_schema_dialect_of(s), EVB_SCHEMA_DRAFT7);
    evb_schema_free(s);
}

static const struct {
    const char *in, *out;
} CANON[] = {
    {" { \"b\" : 1, \"a\" : [ 1.0, 2.50, \"x\" ] } ", "{\"a\":[1,2.5,\"x\"],\"b\":1}"},
    {"{\"\\u00e9\":1,\"z\":2,\"A\":3}", "{\"A\":3,\"z\":2,\"\xc3\xa9\":1}"},
    {"\"tab\\there \\u0001 \\/ \\u00e9\"", "\"tab\\there \\u0001 / \xc3\xa9\""},
    {"[0.1, 1e2, -0.0, 12345678901234567890]", "[0.1,100,0,1.2345678901234567e+19]"},
    {"{\"a\":{\"d\":null,\"c\":true}}", "{\"a\":{\"c\":true,\"d\":null}}"},
};

static void test_canonicalize(void)
{
    for (size_t i = 0; i < sizeof CANON / sizeof CANON[0]; i++) {
        char *out = NULL;
        size_t n = 0;
        CU_ASSERT_EQUAL(evb_schema_canonicalize(CANON[i].in, strlen(CANON[i].in), &out, &n, NULL),
                        EVB_OK);
        if (out == NULL || strcmp(out, CANON[i].out) != 0) {
            printf("\ncanon %zu: got %s\n", i, out ? out : "(null)");
            CU_FAIL("canonical form");
        } else {
            CU_ASSERT_EQUAL(n, strlen(CANON[i].out));
        }
        free(out);
    }
    char *out = (char *)1;
    CU_ASSERT_EQUAL(evb_schema_canonicalize("{", 1, &out, NULL, NULL), EVB_ERR_PARSE);
    CU_ASSERT_PTR_NULL(out);
}

typedef struct worker {
    const evb_schema *s;
    int mismatches;
} worker;

static void *validate_many(void *arg)
{
    worker *w = arg;
    static const char *const in[] = {"{\"id\":\"a\",\"tags\":[\"x\",\"y\"],\"amount\":10.25}",
                                     "{\"id\":\"a\",\"tags\":[\"x\",\"x\"],\"amount\":10.255}"};
    for (int i = 0; i < 2000; i++) {
        evb_schema_result r = {0};
        const char *x = in[i % 2];
        if (evb_schema_validate(w->s, x, strlen(x), &r, NULL) != EVB_OK || r.valid != (i % 2 == 0))
            w->mismatches++;
    }
    return NULL;
}

static void test_concurrent_validate(void)
{
    evb_schema *s = compile("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
                            "\"properties\":{\"id\":{\"pattern\":\"^[a-z]+$\"},"
                            "\"tags\":{\"uniqueItems\":true,\"items\":{\"$dynamicRef\":\"#t\"}},"
                            "\"amount\":{\"multipleOf\":0.01}},"
                            "\"$defs\":{\"t\":{\"$dynamicAnchor\":\"t\",\"type\":\"string\"}},"
                            "\"unevaluatedProperties\":false}",
                            NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.s = s};
        CU_ASSERT_EQUAL(pthread_create(&t[i], NULL, validate_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(w[i].mismatches, 0);
    }
    evb_schema_free(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("registry_schema", NULL, NULL);
    if (suite == NULL || !CU_add_test(suite, "keyword table", test_keyword_table) ||
        !CU_add_test(suite, "compile errors", test_compile_errors) ||
        !CU_add_test(suite, "depth limits", test_depth_limits) ||
        !CU_add_test(suite, "violation limit", test_violation_limit) ||
        !CU_add_test(suite, "hostile regex", test_hostile_regex) ||
        !CU_add_test(suite, "simple patterns", test_simple_patterns) ||
        !CU_add_test(suite, "resolver", test_resolver) ||
        !CU_add_test(suite, "meta-schemas", test_metaschema) ||
        !CU_add_test(suite, "canonicalize", test_canonicalize) ||
        !CU_add_test(suite, "concurrent validate", test_concurrent_validate)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
