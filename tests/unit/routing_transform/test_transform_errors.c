/* evbridge tests — transform compile errors and limits (server/routing/transform.h),
 * table-driven: each row must be rejected with EVB_ERR_INVALID, the field in err->pointer
 * and a message containing the reason.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routing/transform.h"
#include "transform_test.h"

typedef struct err_row {
    evb_transform_mode mode;
    const char *value;
    const char *vars[7]; /* name, path, ..., NULL */
    const char *pointer;
    const char *msg; /* substring of the message */
} err_row;

#define ORIG EVB_TRANSFORM_ORIGINAL
#define DATA EVB_TRANSFORM_DATA
#define PATH EVB_TRANSFORM_JSONPATH
#define CONST EVB_TRANSFORM_CONSTANT
#define TPL EVB_TRANSFORM_TEMPLATE
#define NOVARS                                                                                     \
    {                                                                                              \
        NULL                                                                                       \
    }
#define V "transform.value"

static const err_row ROWS[] = {
    /* mode and value */
    {(evb_transform_mode)6, "", NOVARS, "transform.mode", "unknown mode 6"},
    {(evb_transform_mode)-1, "", NOVARS, "transform.mode", "unknown mode -1"},
    {ORIG, "$.data", NOVARS, V, "must be empty with mode ORIGINAL"},
    {DATA, "x", NOVARS, V, "must be empty with mode DATA"},
    {EVB_TRANSFORM_UNSPECIFIED, "x", NOVARS, V, "must be empty with mode ORIGINAL"},
    {ORIG, "", {"a", "$.a"}, "transform.vars", "only with mode TEMPLATE, not ORIGINAL"},
    {PATH, "$.a", {"a", "$.a"}, "transform.vars", "only with mode TEMPLATE, not JSONPATH"},
    {CONST, "x", {"a", "$.a"}, "transform.vars", "only with mode TEMPLATE, not CONSTANT"},
    {PATH, "\xc3(", NOVARS, V, "not valid UTF-8"},
    {CONST, "ab\xff", NOVARS, V, "not valid UTF-8"},
    /* JSONPATH */
    {PATH, "", NOVARS, V, "a JSONPath is required with mode JSONPATH"},
    {PATH, "data.name", NOVARS, V,
     "transform.value: invalid JSONPath at character 1: a JSONPath "
     "starts with '$'"},
    {PATH, "$.data..name", NOVARS, V, "at character 7: recursive descent"},
    {PATH, "$.data[*]", NOVARS, V, "wildcards"},
    {PATH, "$.data[01]", NOVARS, V, "leading zeros"},
    {PATH, "$.data['x]", NOVARS, V, "unterminated quoted name"},
    /* CONSTANT that starts like JSON must be JSON */
    {CONST, "{\"a\":1", NOVARS, V, "the constant starts like JSON but is not valid JSON"},
    {CONST, " [1,2,]", NOVARS, V, "the constant starts like JSON but is not valid JSON"},
    {CONST, "{\"a\":1,\"a\":2}", NOVARS, V, "duplicate object key"},
    {CONST, "{'a':1}", NOVARS, V, "starts like JSON"},
    /* TEMPLATE */
    {TPL, "", NOVARS, V, "the template is empty"},
    {TPL,
     "Hello ${nam}",
     {"name", "$.data.name"},
     V,
     "at character 7: ${nam}: the variable is not defined in transform.vars"},
    {TPL, "Hello ${name}", NOVARS, V, "${name}: the variable is not defined"},
    {TPL,
     "Hello",
     {"name", "$.data.name"},
     "transform.vars.name",
     "transform.vars.name: not used in the template (write ${name})"},
    {TPL, "${a}", {"a", "$.a", "b", "$.b"}, "transform.vars.b", "not used in the template"},
    {TPL, "$${a}", {"a", "$.a"}, "transform.vars.a", "not used in the template"},
    {TPL, "x ${}", NOVARS, V, "at character 3: ${}: invalid variable name"},
    {TPL, "${a", {"a", "$.a"}, V, "${a has no closing '}'"},
    {TPL, "${", NOVARS, V, "has no closing '}'"},
    {TPL, "${a-b}", {"a", "$.a"}, V, "${a is not a placeholder: variable names are A-Z a-z 0-9 _"},
    {TPL, "${ a }", {"a", "$.a"}, V, "is not a placeholder"},
    {TPL, "${1a}", NOVARS, V, "${1a}: invalid variable name"},
    {TPL, "${\xc3\xbc}", NOVARS, V, "is not a placeholder"},
    {TPL, "${a}", {"1a", "$.a"}, "transform.vars", "variable name \"1a\" is invalid"},
    {TPL, "${a}", {"a-b", "$.a"}, "transform.vars", "variable name \"a-b\" is invalid"},
    {TPL, "${a}", {"", "$.a"}, "transform.vars", "variable name \"\" is invalid"},
    {TPL, "${a}", {"a", "$.a", "a", "$.b"}, "transform.vars.a", "transform.vars.a: defined twice"},
    {TPL,
     "${a}",
     {"a", "a.b"},
     "transform.vars.a",
     "transform.vars.a: invalid JSONPath at character 1"},
    {TPL, "${a}", {"a", ""}, "transform.vars.a", "JSONPath is empty"},
    {TPL, "${a}", {"a", "$.x[1:]"}, "transform.vars.a", "slices"},
    {TPL, "{\"a\": ${x}", {"x", "$.a"}, V, "the template starts like JSON but is not valid JSON"},
    {TPL, "{${k}: 1}", {"k", "$.a"}, V, "starts like JSON but is not valid JSON"},
    {TPL, "[${a}${a}]", {"a", "$.a"}, V, "starts like JSON but is not valid JSON"},
    {TPL, "{\"a\": ${x}1}", {"x", "$.a"}, V, "starts like JSON"},
    {TPL, "{\"a\": \"${x}}", {"x", "$.a"}, V, "starts like JSON"},
};

static void test_error_table(void)
{
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const err_row *r = &ROWS[i];
        const char *names[3], *paths[3];
        size_t n = 0;
        while (n < 3 && r->vars[2 * n] != NULL) {
            names[n] = r->vars[2 * n];
            paths[n] = r->vars[2 * n + 1];
            n++;
        }
        evb_transform *t = (evb_transform *)&t; /* must stay untouched */
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_transform_compile(r->mode, r->value, names, paths, n, &t, &e);
        int ok = rc == EVB_ERR_INVALID && e.code == EVB_ERR_INVALID &&
                 strcmp(e.pointer, r->pointer) == 0 && strstr(e.message, r->msg) != NULL &&
                 t == (evb_transform *)&t;
        if (!ok)
            fprintf(stderr, "\n  row %zu (%s): rc %d, pointer \"%s\", message \"%s\"\n", i,
                    r->value, (int)rc, e.pointer, e.message);
        CU_ASSERT(ok);
    }
}

static char *repeat(const char *unit, size_t times)
{
    size_t u = strlen(unit);
    char *s = malloc(u * times + 1);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    s[u * times] = '\0';
    return s;
}

static evb_err compile(evb_transform_mode mode, const char *value, const char *const *names,
                       const char *const *paths, size_t n, evb_error *e)
{
    evb_transform *t = NULL;
    evb_error_clear(e);
    evb_err rc = evb_transform_compile(mode, value, names, paths, n, &t, e);
    evb_transform_free(t);
    return rc;
}

/* 10,240 characters (code points, not bytes) for the value and for each variable path */
static void test_length_limits(void)
{
    evb_error e;
    char *s = repeat("x", EVB_TRANSFORM_MAX_VALUE);
    CU_ASSERT_EQUAL(compile(CONST, s, NULL, NULL, 0, &e), EVB_OK);
    free(s);
    s = repeat("x", EVB_TRANSFORM_MAX_VALUE + 1);
    CU_ASSERT_EQUAL(compile(CONST, s, NULL, NULL, 0, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "transform.value");
    CU_ASSERT(strstr(e.message, "10241 characters, over the limit of 10240") != NULL);
    free(s);
    s = repeat("\xe4\xbd\xa0", EVB_TRANSFORM_MAX_VALUE); /* 30,720 bytes, 10,240 characters */
    CU_ASSERT_EQUAL(compile(CONST, s, NULL, NULL, 0, &e), EVB_OK);
    free(s);
    s = repeat("\xf0\x9f\x98\x80", EVB_TRANSFORM_MAX_VALUE + 1);
    CU_ASSERT_EQUAL(compile(CONST, s, NULL, NULL, 0, &e), EVB_ERR_INVALID);
    free(s);
    /* a long JSONPath: "$" and 5,119 ".a" steps = 10,239 characters, then one over */
    char *steps = repeat(".a", 5119);
    char *path = malloc(strlen(steps) + 4);
    sprintf(path, "$%s", steps);
    CU_ASSERT_EQUAL(compile(PATH, path, NULL, NULL, 0, &e), EVB_OK);
    const char *names[] = {"p"}, *paths[] = {path};
    CU_ASSERT_EQUAL(compile(TPL, "${p}", names, paths, 1, &e), EVB_OK);
    strcat(path, ".b");
    CU_ASSERT_EQUAL(compile(PATH, path, NULL, NULL, 0, &e), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(compile(TPL, "${p}", names, paths, 1, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "transform.vars.p");
    CU_ASSERT(strstr(e.message, "over the limit of 10240") != NULL);
    free(path);
    free(steps);
    /* a template at the limit full of placeholders */
    s = repeat("${v}", EVB_TRANSFORM_MAX_VALUE / 4);
    const char *vn[] = {"v"}, *vp[] = {"$.id"};
    CU_ASSERT_EQUAL(compile(TPL, s, vn, vp, 1, &e), EVB_OK);
    free(s);
}

static void test_var_limits(void)
{
    evb_error e;
    enum { N = EVB_TRANSFORM_MAX_VARS + 1 };
    char names_buf[N][8];
    const char *names[N], *paths[N];
    char *tpl = malloc(N * 8 + 1);
    tpl[0] = '\0';
    for (int i = 0; i < N; i++) {
        snprintf(names_buf[i], sizeof names_buf[i], "v%d", i);
        names[i] = names_buf[i];
        paths[i] = "$.data";
        if (i < N - 1) {
            strcat(tpl, "${");
            strcat(tpl, names[i]);
            strcat(tpl, "}");
        }
    }
    CU_ASSERT_EQUAL(compile(TPL, tpl, names, paths, N - 1, &e), EVB_OK);
    strcat(tpl, "${v100}");
    CU_ASSERT_EQUAL(compile(TPL, tpl, names, paths, N, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "transform.vars");
    CU_ASSERT(strstr(e.message, "101 variables, over the limit of 100") != NULL);
    free(tpl);
    /* name length: 64 is fine, 65 is not */
    char name[70];
    memset(name, 'n', 65);
    name[64] = '\0';
    char t64[80];
    snprintf(t64, sizeof t64, "${%s}", name);
    const char *n1[] = {name}, *p1[] = {"$"};
    CU_ASSERT_EQUAL(compile(TPL, t64, n1, p1, 1, &e), EVB_OK);
    name[64] = 'n', name[65] = '\0';
    snprintf(t64, sizeof t64, "${%s}", name);
    CU_ASSERT_EQUAL(compile(TPL, t64, n1, p1, 1, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "transform.vars");
    /* names and paths arrays are required when there are variables */
    CU_ASSERT_EQUAL(compile(TPL, "${a}", NULL, NULL, 1, &e), EVB_ERR_INVALID);
    const char *na[] = {"a"}, *pa[] = {NULL};
    CU_ASSERT_EQUAL(compile(TPL, "${a}", na, pa, 1, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "transform.vars.a");
}

/* echoed input is sanitised: no control characters or broken UTF-8 in messages */
static void test_messages_sanitised(void)
{
    evb_error e;
    const char *names[] = {"a\nb\x01"}, *paths[] = {"$"};
    CU_ASSERT_EQUAL(compile(TPL, "${a}", names, paths, 1, &e), EVB_ERR_INVALID);
    CU_ASSERT(strchr(e.message, '\n') == NULL && strchr(e.message, '\x01') == NULL);
    CU_ASSERT(strstr(e.message, "a?b?") != NULL);
    CU_ASSERT_EQUAL(compile(CONST, "{\"a\":\n\x01}", NULL, NULL, 0, &e), EVB_ERR_INVALID);
    CU_ASSERT(strchr(e.message, '\x01') == NULL);
    /* err may be NULL */
    evb_transform *t = NULL;
    CU_ASSERT_EQUAL(evb_transform_compile(PATH, "nope", NULL, NULL, 0, &t, NULL), EVB_ERR_INVALID);
    CU_ASSERT_PTR_NULL(t);
}

const tr_case TRANSFORM_ERROR_CASES[] = {
    {"invalid transforms name the field and the reason", test_error_table},
    {"length limits (10,240 characters)", test_length_limits},
    {"variable limits", test_var_limits},
    {"messages are sanitised; err may be NULL", test_messages_sanitised},
    {NULL, NULL},
};
