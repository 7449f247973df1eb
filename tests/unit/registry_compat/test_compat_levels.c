/* evbridge tests — registry/compat levels and API: level names, NONE, BACKWARD vs
 * BACKWARD_TRANSITIVE, FORWARD(_TRANSITIVE), FULL (both directions, duplicates once), version
 * numbers in messages, message limits, parse and argument errors, check_pair(_json).
 */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "compat_test.h"

static void test_level_names(void)
{
    for (int l = EVB_COMPAT_NONE; l <= EVB_COMPAT_FULL_TRANSITIVE; l++) {
        const char *name = evb_compat_level_name((evb_compat_level)l);
        CU_ASSERT_PTR_NOT_NULL_FATAL(name);
        evb_compat_level back = 0;
        CU_ASSERT_EQUAL(evb_compat_level_parse(name, &back), EVB_OK);
        CU_ASSERT_EQUAL((int)back, l);
    }
    CU_ASSERT_STRING_EQUAL(evb_compat_level_name(EVB_COMPAT_NONE), "NONE");
    CU_ASSERT_STRING_EQUAL(evb_compat_level_name(EVB_COMPAT_FULL_TRANSITIVE), "FULL_TRANSITIVE");
    CU_ASSERT_EQUAL(EVB_COMPAT_NONE, 1); /* proto numbering */
    CU_ASSERT_EQUAL(EVB_COMPAT_BACKWARD, 2);
    CU_ASSERT_EQUAL(EVB_COMPAT_FULL_TRANSITIVE, 7);
    CU_ASSERT_EQUAL(EVB_COMPAT_DEFAULT, EVB_COMPAT_BACKWARD);
    CU_ASSERT_PTR_NULL(evb_compat_level_name((evb_compat_level)0));
    CU_ASSERT_PTR_NULL(evb_compat_level_name((evb_compat_level)8));
    evb_compat_level l = EVB_COMPAT_NONE;
    CU_ASSERT_EQUAL(evb_compat_level_parse("full-transitive", &l), EVB_OK);
    CU_ASSERT_EQUAL(l, EVB_COMPAT_FULL_TRANSITIVE);
    CU_ASSERT_EQUAL(evb_compat_level_parse("Backward", &l), EVB_OK);
    CU_ASSERT_EQUAL(l, EVB_COMPAT_BACKWARD);
    CU_ASSERT_EQUAL(evb_compat_level_parse("sideways", &l), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_compat_level_parse("BACKWARD_", &l), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_compat_level_parse("", &l), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_compat_level_parse(NULL, &l), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(l, EVB_COMPAT_BACKWARD);
}

/* runs level against previous (texts with '), returns the report */
static evb_err run(evb_compat_level level, const char *new_s, const char *const *prev, size_t n,
                   evb_compat_report *rep)
{
    char *copies[8] = {0};
    for (size_t i = 0; i < n; i++)
        copies[i] = strdup(dq(prev[i]));
    char *nw = strdup(dq(new_s));
    evb_err rc = evb_compat_check(level, nw, (const char *const *)copies, n, rep, NULL);
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    free(nw);
    return rc;
}

static void test_none_and_empty(void)
{
    const char *prev[] = {"{'type':'string'}"};
    evb_compat_report rep;
    CU_ASSERT_EQUAL(run(EVB_COMPAT_NONE, "{'type':'integer'}", prev, 1, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
    CU_ASSERT_EQUAL(run(EVB_COMPAT_FULL_TRANSITIVE, "{'type':'integer'}", prev, 0, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
    /* NONE still rejects a new schema that is not JSON */
    CU_ASSERT_EQUAL(run(EVB_COMPAT_NONE, "{", prev, 1, &rep), EVB_ERR_PARSE);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
}

static void test_transitive(void)
{
    /* v1 allowed null; v2 dropped it (registered under NONE, say); new equals v2 */
    const char *prev[] = {"{'type':['string','null']}", "{'type':'string'}"};
    const char *nw = "{'type':'string'}";
    evb_compat_report rep;
    CU_ASSERT_EQUAL(run(EVB_COMPAT_BACKWARD, nw, prev, 2, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
    CU_ASSERT_EQUAL(run(EVB_COMPAT_BACKWARD_TRANSITIVE, nw, prev, 2, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 1);
    CU_ASSERT(report_has(&rep, "against version 1: /type: changed from [\"string\",\"null\"] "
                               "to \"string\""));
    evb_compat_report_fini(&rep);
    /* forward: v1 was a closed model without b; v2 and new have b */
    const char *fprev[] = {"{'properties':{'a':{}},'additionalProperties':false}",
                           "{'properties':{'a':{},'b':{}},'additionalProperties':false}"};
    const char *fnew = "{'properties':{'a':{},'b':{}},'additionalProperties':false}";
    CU_ASSERT_EQUAL(run(EVB_COMPAT_FORWARD, fnew, fprev, 2, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
    CU_ASSERT_EQUAL(run(EVB_COMPAT_FORWARD_TRANSITIVE, fnew, fprev, 2, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 1);
    CU_ASSERT(report_has(&rep, "against version 1: /properties/b: property added"));
    evb_compat_report_fini(&rep);
    /* FULL_TRANSITIVE sees both */
    CU_ASSERT_EQUAL(run(EVB_COMPAT_FULL_TRANSITIVE, fnew, fprev, 2, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 1);
    evb_compat_report_fini(&rep);
}

static void test_full(void)
{
    const char *prev[] = {"{'enum':['a','b']}"};
    evb_compat_report rep;
    /* extending an enum: backward yes, forward no, so FULL no */
    CU_ASSERT_EQUAL(run(EVB_COMPAT_BACKWARD, "{'enum':['a','b','c']}", prev, 1, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
    CU_ASSERT_EQUAL(run(EVB_COMPAT_FULL, "{'enum':['a','b','c']}", prev, 1, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 1);
    CU_ASSERT(report_has(&rep, "against version 1: /enum: value(s) [\"c\"] added"));
    evb_compat_report_fini(&rep);
    /* a changed type breaks both directions with the same message: reported once */
    const char *tprev[] = {"{'type':'string'}"};
    CU_ASSERT_EQUAL(run(EVB_COMPAT_FULL, "{'type':'integer'}", tprev, 1, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 1);
    evb_compat_report_fini(&rep);
    /* an annotation-only change passes FULL */
    CU_ASSERT_EQUAL(run(EVB_COMPAT_FULL, "{'type':'string','title':'T'}", tprev, 1, &rep), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
}

static void test_version_numbers(void)
{
    const char *prev[] = {"{\"type\":\"string\",\"maxLength\":9}",
                          "{\"type\":\"string\",\"maxLength\":8}"};
    const int versions[] = {3, 7};
    evb_compat_report rep;
    CU_ASSERT_EQUAL(evb_compat_check_ex(EVB_COMPAT_BACKWARD_TRANSITIVE,
                                        "{\"type\":\"string\",\"maxLength\":5}", prev, versions, 2,
                                        NULL, &rep, NULL),
                    EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 2);
    CU_ASSERT(report_has(&rep, "against version 3: /maxLength: lowered from 9 to 5"));
    CU_ASSERT(report_has(&rep, "against version 7: /maxLength: lowered from 8 to 5"));
    evb_compat_report_fini(&rep);
}

static void test_message_limit(void)
{
    /* 40 properties each tightened, limit 10 */
    char old_s[8192] = "{\"properties\":{", new_s[8192] = "{\"properties\":{";
    for (int i = 0; i < 40; i++) {
        char buf[96];
        snprintf(buf, sizeof buf, "%s\"p%d\":{\"maxLength\":10}", i ? "," : "", i);
        strcat(old_s, buf);
        snprintf(buf, sizeof buf, "%s\"p%d\":{\"maxLength\":5}", i ? "," : "", i);
        strcat(new_s, buf);
    }
    strcat(old_s, "}}");
    strcat(new_s, "}}");
    const char *prev[] = {old_s};
    evb_compat_options opt = {.max_messages = 10};
    evb_compat_report rep;
    CU_ASSERT_EQUAL(
        evb_compat_check_ex(EVB_COMPAT_BACKWARD, new_s, prev, NULL, 1, &opt, &rep, NULL), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 10);
    CU_ASSERT(rep.truncated);
    evb_compat_report_fini(&rep);
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD, new_s, prev, 1, &rep, NULL), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 40);
    CU_ASSERT(!rep.truncated);
    evb_compat_report_fini(&rep);
}

static void test_errors(void)
{
    evb_compat_report rep;
    evb_error err;
    const char *prev[] = {"{\"type\":\"string\"}", "{\"type\":"};
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD, "{\"a\":1,\"a\":2}", prev, 1, &rep, &err),
                    EVB_ERR_PARSE);
    CU_ASSERT_STRING_EQUAL(err.pointer, "new");
    CU_ASSERT_EQUAL(rep.n, 0);
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD_TRANSITIVE, "{}", prev, 2, &rep, &err),
                    EVB_ERR_PARSE);
    CU_ASSERT_STRING_EQUAL(err.pointer, "version 2");
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD, "[1]", prev, 1, &rep, &err),
                    EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_compat_check((evb_compat_level)0, "{}", prev, 1, &rep, &err),
                    EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD, NULL, prev, 1, &rep, &err),
                    EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD, "{}", NULL, 1, &rep, &err),
                    EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD, "{}", prev, 1, NULL, NULL),
                    EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_compat_check_pair("{}", "nope", &rep, &err), EVB_ERR_PARSE);
    CU_ASSERT_STRING_EQUAL(err.pointer, "writer");
    CU_ASSERT_EQUAL(evb_compat_check_pair("3", "{}", &rep, &err), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.pointer, "reader");
    evb_compat_report_fini(&rep);
    evb_compat_report_fini(NULL);
}

static void test_pair_json(void)
{
    json_t *r = json_pack("{s:s,s:i}", "type", "string", "maxLength", 5);
    json_t *w = json_pack("{s:s,s:i}", "type", "string", "maxLength", 10);
    evb_compat_report rep;
    CU_ASSERT_EQUAL(evb_compat_check_pair_json(r, w, true, NULL, &rep, NULL), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 1);
    CU_ASSERT(report_has(&rep, "/maxLength: lowered from 10 to 5"));
    evb_compat_report_fini(&rep);
    /* the same walk worded for FORWARD (reader is the older schema) */
    CU_ASSERT_EQUAL(evb_compat_check_pair_json(r, w, false, NULL, &rep, NULL), EVB_OK);
    CU_ASSERT(report_has(&rep, "/maxLength: raised from 5 to 10"));
    evb_compat_report_fini(&rep);
    CU_ASSERT_EQUAL(evb_compat_check_pair_json(w, r, true, NULL, &rep, NULL), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
    json_decref(r);
    json_decref(w);
}

static void test_deep_and_hostile(void)
{
    /* deeply nested properties: compared, no crash */
    enum { DEPTH = 300 };
    size_t cap = DEPTH * 40 + 64;
    char *a = malloc(cap), *b = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    a[0] = b[0] = '\0';
    for (int i = 0; i < DEPTH; i++) {
        strcat(a, "{\"properties\":{\"x\":");
        strcat(b, "{\"properties\":{\"x\":");
    }
    strcat(a, "{\"maxLength\":3}");
    strcat(b, "{\"maxLength\":2}");
    for (int i = 0; i < DEPTH; i++) {
        strcat(a, "}}");
        strcat(b, "}}");
    }
    evb_compat_report rep;
    evb_err rc = evb_compat_check_pair(b, a, &rep, NULL);
    CU_ASSERT(rc == EVB_OK || rc == EVB_ERR_PARSE); /* jansson may refuse the depth */
    if (rc == EVB_OK)
        CU_ASSERT(rep.n >= 1);
    evb_compat_report_fini(&rep);
    free(a);
    free(b);
    /* a $ref cycle without any structure: terminates */
    CU_ASSERT_EQUAL(evb_compat_check_pair("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{"
                                          "\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}",
                                          "{\"type\":\"string\"}", &rep, NULL),
                    EVB_OK);
    evb_compat_report_fini(&rep);
    /* a bad pattern in patternProperties is reported, not fatal */
    CU_ASSERT_EQUAL(evb_compat_check_pair("{\"patternProperties\":{\"(\":{}}}",
                                          "{\"properties\":{\"a\":{}}}", &rep, NULL),
                    EVB_OK);
    CU_ASSERT(report_has(&rep, "not a usable pattern"));
    evb_compat_report_fini(&rep);
}

const compat_case COMPAT_LEVEL_CASES[] = {
    {"level names and parsing", test_level_names},
    {"NONE and no previous versions", test_none_and_empty},
    {"transitive vs non-transitive", test_transitive},
    {"FULL", test_full},
    {"version numbers in messages", test_version_numbers},
    {"message limit", test_message_limit},
    {"errors", test_errors},
    {"check_pair_json", test_pair_json},
    {"deep and hostile schemas", test_deep_and_hostile},
    {NULL, NULL},
};
