/* evbridge tests — the proto JSON form of a Transform and evb_transform_test (the
 * TestTransform RPC), table-driven: accepted forms give the right mode and output, rejected
 * ones name the field.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routing/transform.h"
#include "transform_test.h"

#define EV "{\"id\":\"1\",\"data\":{\"name\":\"Bo \\\"B\\\"\",\"n\":7}}"

typedef struct ok_row {
    const char *transform;
    evb_transform_mode mode;
    const char *want; /* output for EV */
} ok_row;

static const ok_row OK_ROWS[] = {
    {"{\"mode\":\"JSONPATH\",\"value\":\"$.data\"}", EVB_TRANSFORM_JSONPATH,
     "{\"name\":\"Bo \\\"B\\\"\",\"n\":7}"},
    {"{\"mode\":3,\"value\":\"$.data.n\"}", EVB_TRANSFORM_JSONPATH, "7"},
    {"{\"mode\":\"TEMPLATE\",\"value\":\"Hello ${name}\",\"vars\":{\"name\":\"$.data.name\"}}",
     EVB_TRANSFORM_TEMPLATE, "Hello Bo \"B\""},
    {"{\"mode\":\"TEMPLATE\",\"value\":\"{\\\"text\\\":\\\"Hi ${name}\\\"}\","
     "\"vars\":{\"name\":\"$.data.name\"}}",
     EVB_TRANSFORM_TEMPLATE, "{\"text\":\"Hi Bo \\\"B\\\"\"}"},
    {"{}", EVB_TRANSFORM_ORIGINAL, "{\"id\":\"1\",\"data\":{\"name\":\"Bo \\\"B\\\"\",\"n\":7}}"},
    {"{\"mode\":null,\"value\":null,\"vars\":null}", EVB_TRANSFORM_ORIGINAL, NULL},
    {"{\"mode\":\"TRANSFORM_MODE_UNSPECIFIED\"}", EVB_TRANSFORM_ORIGINAL, NULL},
    {"{\"mode\":0,\"vars\":{}}", EVB_TRANSFORM_ORIGINAL, NULL},
    {"{\"mode\":\"ORIGINAL\",\"value\":\"\"}", EVB_TRANSFORM_ORIGINAL, NULL},
    {" {\"mode\":\"DATA\"} ", EVB_TRANSFORM_DATA, "{\"name\":\"Bo \\\"B\\\"\",\"n\":7}"},
    {"{\"mode\":\"CONSTANT\",\"value\":\"pong\"}", EVB_TRANSFORM_CONSTANT, "pong"},
    {"{\"mode\":\"CONSTANT\",\"value\":\"{\\\"a\\\":1}\"}", EVB_TRANSFORM_CONSTANT, "{\"a\":1}"},
    {"{\"value\":\"$.x\",\"mode\":\"JSONPATH\"}", EVB_TRANSFORM_JSONPATH, "null"},
};

static void test_ok_table(void)
{
    for (size_t i = 0; i < sizeof OK_ROWS / sizeof OK_ROWS[0]; i++) {
        const ok_row *r = &OK_ROWS[i];
        evb_transform *t = NULL;
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_transform_compile_json(r->transform, strlen(r->transform), &t, &e);
        if (rc != EVB_OK)
            fprintf(stderr, "\n  %s: %s\n", r->transform, e.message);
        CU_ASSERT_EQUAL_FATAL(rc, EVB_OK);
        CU_ASSERT_EQUAL(evb_transform_get_mode(t), r->mode);
        evb_transform_free(t);
        if (r->want == NULL)
            continue;
        char *out = NULL;
        size_t len = 0;
        rc = evb_transform_test(r->transform, strlen(r->transform), EV, strlen(EV), &out, &len, &e);
        int ok = rc == EVB_OK && len == strlen(r->want) && strcmp(out, r->want) == 0;
        if (!ok)
            fprintf(stderr, "\n  %s: rc %d %s\n    got  %s\n    want %s\n", r->transform, (int)rc,
                    e.message, out ? out : "", r->want);
        CU_ASSERT(ok);
        free(out);
    }
}

typedef struct bad_row {
    const char *transform;
    const char *pointer;
    const char *msg;
} bad_row;

static const bad_row BAD_ROWS[] = {
    {"", "transform", "transform: not valid JSON"},
    {"nope", "transform", "transform: not valid JSON"},
    {"[]", "transform", "transform: must be a JSON object"},
    {"{\"mode\":\"DATA\"", "transform", "not valid JSON"},
    {"{\"mode\":\"DATA\",\"mode\":\"DATA\"}", "transform", "duplicate object key"},
    {"{\"mode\":\"DATA\",\"extra\":1}", "transform", "transform: unknown member \"extra\""},
    {"{\"Mode\":\"DATA\"}", "transform", "unknown member \"Mode\""},
    {"{\"mode\":\"jsonpath\",\"value\":\"$\"}", "transform.mode",
     "transform.mode: unknown mode \"jsonpath\" (ORIGINAL, DATA, JSONPATH, CONSTANT or TEMPLATE)"},
    {"{\"mode\":\"FOO\"}", "transform.mode", "unknown mode \"FOO\""},
    {"{\"mode\":\"\"}", "transform.mode", "unknown mode \"\""},
    {"{\"mode\":\"DATA\\u0000\"}", "transform.mode", "unknown mode"},
    {"{\"mode\":6}", "transform.mode", "unknown mode 6"},
    {"{\"mode\":-1}", "transform.mode", "unknown mode -1"},
    {"{\"mode\":1.5}", "transform.mode", "must be a mode name or number"},
    {"{\"mode\":true}", "transform.mode", "must be a mode name or number"},
    {"{\"mode\":[\"DATA\"]}", "transform.mode", "must be a mode name or number"},
    {"{\"mode\":\"JSONPATH\",\"value\":5}", "transform.value", "transform.value: must be a string"},
    {"{\"mode\":\"CONSTANT\",\"value\":\"a\\u0000b\"}", "transform.value",
     "must not contain NUL characters"},
    {"{\"mode\":\"TEMPLATE\",\"value\":\"${a}\",\"vars\":[]}", "transform.vars",
     "transform.vars: must be an object"},
    {"{\"mode\":\"TEMPLATE\",\"value\":\"${a}\",\"vars\":{\"a\":1}}", "transform.vars.a",
     "transform.vars.a: must be a string"},
    {"{\"mode\":\"TEMPLATE\",\"value\":\"${a}\",\"vars\":{\"a\":\"$..a\"}}", "transform.vars.a",
     "recursive descent"},
    {"{\"mode\":\"TEMPLATE\",\"value\":\"${a}\",\"vars\":{\"a\\u0000\":\"$\"}}", "transform",
     "NUL byte in object key"},
    {"{\"mode\":\"TEMPLATE\",\"value\":\"${b}\",\"vars\":{\"a\":\"$\"}}", "transform.value",
     "${b}: the variable is not defined"},
    {"{\"mode\":\"JSONPATH\",\"value\":\"$.a[*]\"}", "transform.value", "wildcards"},
    {"{\"mode\":\"JSONPATH\"}", "transform.value", "a JSONPath is required"},
    {"{\"mode\":\"DATA\",\"vars\":{\"a\":\"$\"}}", "transform.vars", "only with mode TEMPLATE"},
};

static void test_bad_table(void)
{
    for (size_t i = 0; i < sizeof BAD_ROWS / sizeof BAD_ROWS[0]; i++) {
        const bad_row *r = &BAD_ROWS[i];
        evb_transform *t = NULL;
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_transform_compile_json(r->transform, strlen(r->transform), &t, &e);
        int ok = rc == EVB_ERR_INVALID && t == NULL && strcmp(e.pointer, r->pointer) == 0 &&
                 strstr(e.message, r->msg) != NULL;
        if (!ok)
            fprintf(stderr, "\n  %s: rc %d, pointer \"%s\", message \"%s\"\n", r->transform,
                    (int)rc, e.pointer, e.message);
        CU_ASSERT(ok);
        /* TestTransform reports the same */
        char *out = NULL;
        evb_error_clear(&e);
        rc = evb_transform_test(r->transform, strlen(r->transform), EV, strlen(EV), &out, NULL, &e);
        CU_ASSERT(rc == EVB_ERR_INVALID && out == NULL && strcmp(e.pointer, r->pointer) == 0);
    }
    /* the text is length-delimited */
    evb_transform *t = NULL;
    CU_ASSERT_EQUAL(evb_transform_compile_json("{}garbage", 2, &t, NULL), EVB_OK);
    evb_transform_free(t);
    t = NULL;
    CU_ASSERT_EQUAL(evb_transform_compile_json(NULL, 0, &t, NULL), EVB_ERR_INVALID);
    CU_ASSERT_PTR_NULL(t);
}

static void test_bad_events(void)
{
    const char *tr = "{\"mode\":\"DATA\"}";
    const char *events[] = {"", "[1]", "\"text\"", "{\"a\":1", "{\"a\":1,\"a\":2}", NULL};
    for (size_t i = 0; events[i] != NULL; i++) {
        char *out = NULL;
        evb_error e;
        evb_error_clear(&e);
        evb_err rc =
            evb_transform_test(tr, strlen(tr), events[i], strlen(events[i]), &out, NULL, &e);
        int ok = rc == EVB_ERR_INVALID && out == NULL && strcmp(e.pointer, "event") == 0;
        if (!ok)
            fprintf(stderr, "\n  event %s: rc %d %s %s\n", events[i], (int)rc, e.pointer,
                    e.message);
        CU_ASSERT(ok);
    }
    char *out = NULL;
    CU_ASSERT_EQUAL(evb_transform_test(tr, strlen(tr), NULL, 0, &out, NULL, NULL), EVB_ERR_INVALID);
    /* a text payload: DATA gives its bytes */
    const char *ev = "{\"datacontenttype\":\"text/plain\",\"data\":\"plain \\\"text\\\"\"}";
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(evb_transform_test(tr, strlen(tr), ev, strlen(ev), &out, &len, NULL),
                          EVB_OK);
    CU_ASSERT_STRING_EQUAL(out, "plain \"text\"");
    CU_ASSERT_EQUAL(len, 12);
    free(out);
}

const tr_case TRANSFORM_PROTO_CASES[] = {
    {"accepted proto JSON forms", test_ok_table},
    {"rejected proto JSON forms name the field", test_bad_table},
    {"TestTransform with bad events", test_bad_events},
    {NULL, NULL},
};
