/* evbridge — unit tests for rejected event patterns: each row gives the pattern, the JSON
 * pointer the error must name, and a fragment the message must contain (the rule). Also the
 * size limit (default and configured) and the "$or" expansion limit.
 */
#include <stdio.h>

#include "tests/unit/routing_pattern/pattern_test.h"

static void test_rejected(void)
{
    static const struct {
        const char *pattern, *pointer, *fragment;
    } rows[] = {
        {"[]", "", "must be a JSON object"},
        {"'x'", "", "must be a JSON object"},
        {"{'a':[1]", "", "not valid JSON"},
        {"{'a':[1],'a':[2]}", "", "not valid JSON"},
        {"{'a':[]}", "/a", "must not be empty"},
        {"{'a':'x'}", "/a", "expected an array of values or an object"},
        {"{'a':5}", "/a", "expected an array of values or an object"},
        {"{'a':null}", "/a", "expected an array of values or an object"},
        {"{'a':{}}", "/a", "must not be empty"},
        {"{'a':{'b':{}}}", "/a/b", "must not be empty"},
        {"{'':[1]}", "/", "field name must not be empty"},
        {"{'a/b':[]}", "/a~1b", "must not be empty"},
        {"{'a~b':[]}", "/a~0b", "must not be empty"},
        {"{'a':[[1]]}", "/a/0", "must not contain arrays"},
        {"{'a':[1,{'foo':1}]}", "/a/1/foo", "unknown operator \"foo\""},
        {"{'a':[{}]}", "/a/0", "exactly one member"},
        {"{'a':[{'prefix':'x','suffix':'y'}]}", "/a/0", "exactly one member"},
        {"{'a':[{'prefix':1}]}", "/a/0/prefix", "prefix:"},
        {"{'a':[{'prefix':null}]}", "/a/0/prefix", "prefix:"},
        {"{'a':[{'prefix':{'equals-ignore-case':1}}]}", "/a/0/prefix", "prefix:"},
        {"{'a':[{'prefix':{'foo':'x'}}]}", "/a/0/prefix", "prefix:"},
        {"{'a':[{'suffix':['x']}]}", "/a/0/suffix", "suffix:"},
        {"{'a':[{'equals-ignore-case':5}]}", "/a/0/equals-ignore-case", "equals-ignore-case:"},
        {"{'a':[{'contains':['x']}]}", "/a/0/contains", "contains:"},
        {"{'a':[{'wildcard':'a**b'}]}", "/a/0/wildcard", "consecutive '*'"},
        {"{'a':[{'wildcard':'**'}]}", "/a/0/wildcard", "consecutive '*'"},
        {"{'a':[{'wildcard':'a\\\\b'}]}", "/a/0/wildcard", "may only escape"},
        {"{'a':[{'wildcard':'a\\\\'}]}", "/a/0/wildcard", "may only escape"},
        {"{'a':[{'wildcard':5}]}", "/a/0/wildcard", "wildcard"},
        {"{'a':[{'anything-but':[]}]}", "/a/0/anything-but", "must not be empty"},
        {"{'a':[{'anything-but':['a',1]}]}", "/a/0/anything-but", "only strings or only numbers"},
        {"{'a':[{'anything-but':[1,'a']}]}", "/a/0/anything-but", "only strings or only numbers"},
        {"{'a':[{'anything-but':[['a']]}]}", "/a/0/anything-but", "only strings or only numbers"},
        {"{'a':[{'anything-but':[null]}]}", "/a/0/anything-but", "only strings or only numbers"},
        {"{'a':[{'anything-but':null}]}", "/a/0/anything-but", "anything-but: expected"},
        {"{'a':[{'anything-but':true}]}", "/a/0/anything-but", "anything-but: expected"},
        {"{'a':[{'anything-but':{'numeric':['>',1]}}]}", "/a/0/anything-but", "exactly one of"},
        {"{'a':[{'anything-but':{}}]}", "/a/0/anything-but", "exactly one of"},
        {"{'a':[{'anything-but':{'prefix':'a','suffix':'b'}}]}", "/a/0/anything-but",
         "exactly one of"},
        {"{'a':[{'anything-but':{'prefix':1}}]}", "/a/0/anything-but", "prefix expects"},
        {"{'a':[{'anything-but':{'prefix':[]}}]}", "/a/0/anything-but", "must not be empty"},
        {"{'a':[{'anything-but':{'prefix':['a',1]}}]}", "/a/0/anything-but", "prefix expects"},
        {"{'a':[{'anything-but':{'prefix':{'equals-ignore-case':'x'}}}]}", "/a/0/anything-but",
         "prefix expects"},
        {"{'a':[{'anything-but':{'wildcard':'a**'}}]}", "/a/0/anything-but", "consecutive"},
        {"{'a':[{'numeric':[]}]}", "/a/0/numeric", "numeric: expected"},
        {"{'a':[{'numeric':'5'}]}", "/a/0/numeric", "numeric: expected"},
        {"{'a':[{'numeric':['=','5']}]}", "/a/0/numeric", "numeric: expected"},
        {"{'a':[{'numeric':[5,'>']}]}", "/a/0/numeric", "numeric: expected"},
        {"{'a':[{'numeric':['==',5]}]}", "/a/0/numeric", "unknown or misplaced comparison"},
        {"{'a':[{'numeric':['>',5,'<']}]}", "/a/0/numeric", "numeric: expected"},
        {"{'a':[{'numeric':['>',5,'>',6]}]}", "/a/0/numeric", "a range is"},
        {"{'a':[{'numeric':['<',5,'>',1]}]}", "/a/0/numeric", "a range is"},
        {"{'a':[{'numeric':['=',5,'<',6]}]}", "/a/0/numeric", "misplaced comparison"},
        {"{'a':[{'numeric':['>',5,'<',5]}]}", "/a/0/numeric", "lower bound must be below"},
        {"{'a':[{'numeric':['>=',6,'<=',5]}]}", "/a/0/numeric", "lower bound must be below"},
        {"{'a':[{'numeric':['>',1,'<',2,'<',3]}]}", "/a/0/numeric", "numeric: expected"},
        {"{'a':[{'cidr':'10.0.0.0/33'}]}", "/a/0/cidr", "prefix length out of range"},
        {"{'a':[{'cidr':'2001:db8::/129'}]}", "/a/0/cidr", "prefix length out of range"},
        {"{'a':[{'cidr':'10.0.0/24'}]}", "/a/0/cidr", "cidr: expected"},
        {"{'a':[{'cidr':'10.0.0.0'}]}", "/a/0/cidr", "cidr: expected"},
        {"{'a':[{'cidr':'x/8'}]}", "/a/0/cidr", "cidr: expected"},
        {"{'a':[{'cidr':'10.0.0.0/'}]}", "/a/0/cidr", "cidr: expected"},
        {"{'a':[{'cidr':'10.0.0.0/a'}]}", "/a/0/cidr", "cidr: expected"},
        {"{'a':[{'cidr':'10.0.0.0/-1'}]}", "/a/0/cidr", "cidr: expected"},
        {"{'a':[{'cidr':'10.0.0.0/1000'}]}", "/a/0/cidr", "cidr: expected"},
        {"{'a':[{'cidr':5}]}", "/a/0/cidr", "cidr: expected a string"},
        {"{'a':[{'exists':'true'}]}", "/a/0/exists", "exists: expected true or false"},
        {"{'a':[{'exists':1}]}", "/a/0/exists", "exists: expected true or false"},
        {"{'a':[{'exists':null}]}", "/a/0/exists", "exists: expected true or false"},
        {"{'$or':[{'a':[1]}]}", "/$or", "at least 2 objects"},
        {"{'$or':{'a':[1]}}", "/$or", "at least 2 objects"},
        {"{'$or':[]}", "/$or", "at least 2 objects"},
        {"{'$or':[{'a':[1]},{}]}", "/$or/1", "non-empty object"},
        {"{'$or':[{'a':[1]},[1]]}", "/$or/1", "non-empty object"},
        {"{'x':{'$or':[{'a':[1]},{'b':[]}]}}", "/x/$or/1/b", "must not be empty"},
        {"{'$or':[{'a':[1]},{'$or':[{'b':[1]}]}]}", "/$or/1/$or", "at least 2 objects"},
        {"{'$and':[{'a':[1]},{'b':[1]}]}", "/$and", "unknown operator \"$and\""},
        {"{'a':{'$not':[1]}}", "/a/$not", "unknown operator"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *p = dq(rows[i].pattern);
        evb_pattern *pat = NULL;
        evb_error err;
        evb_err rc = evb_pattern_compile(p, strlen(p), 0, &pat, &err);
        EVB_CHECK_ROW(rc == EVB_ERR_INVALID, "%s: rc %d", p, (int)rc);
        EVB_CHECK_ROW(pat == NULL, "%s: pattern set on error", p);
        EVB_CHECK_ROW(err.code == EVB_ERR_INVALID, "%s: err.code %d", p, (int)err.code);
        EVB_CHECK_ROW(strcmp(err.pointer, rows[i].pointer) == 0, "%s: pointer '%s', want '%s'", p,
                      err.pointer, rows[i].pointer);
        EVB_CHECK_ROW(strstr(err.message, rows[i].fragment) != NULL, "%s: message '%s' lacks '%s'",
                      p, err.message, rows[i].fragment);
        evb_pattern_free(pat);
        free(p);
    }
}

static void test_accepted_edges(void)
{
    static const char *const ok[] = {
        "{}",
        "{'a':[{'prefix':''}]}",
        "{'a':[{'wildcard':''}]}",
        "{'a':[{'wildcard':'*a*'}]}",
        "{'a':[{'wildcard':'\\\\*\\\\*'}]}",
        "{'a':[{'anything-but':{'wildcard':['a*','*b']}}]}",
        "{'a':[{'numeric':['>',-1.5e308,'<',1.5e308]}]}",
        "{'a':[{'cidr':'0.0.0.0/0'}]}",
        "{'a':[{'cidr':'::/0'}]}",
        "{'a':[{'exists':false},{'exists':true}]}",
        "{'$or':[{'a':[1]},{'b':[1]}]}",
        "{'a':{'$or':[{'b':[1]},{'c':{'$or':[{'d':[1]},{'e':[1]}]}}]}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *p = dq(ok[i]);
        evb_pattern *pat = NULL;
        evb_error err;
        evb_err rc = evb_pattern_compile(p, strlen(p), 0, &pat, &err);
        EVB_CHECK_ROW(rc == EVB_OK, "%s: %s at %s", p, err.message, err.pointer);
        evb_pattern_free(pat);
        free(p);
    }
}

/* {"a":[" xxx...x "]} padded to exactly n bytes */
static char *sized_pattern(size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, "{\"a\":[\"", 7);
    memset(s + 7, 'x', n - 10);
    memcpy(s + n - 3, "\"]}", 3);
    s[n] = '\0';
    return s;
}

static void test_size_limit(void)
{
    evb_pattern *p = NULL;
    evb_error err;
    char *s = sized_pattern(EVB_PATTERN_MAX_BYTES);
    CU_ASSERT_EQUAL(evb_pattern_compile(s, strlen(s), 0, &p, &err), EVB_OK);
    evb_pattern_free(p);
    p = NULL;
    free(s);
    s = sized_pattern(EVB_PATTERN_MAX_BYTES + 1);
    CU_ASSERT_EQUAL(evb_pattern_compile(s, strlen(s), 0, &p, &err), EVB_ERR_INVALID);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "over the limit of 4096 bytes"));
    /* a configured limit, larger or smaller */
    CU_ASSERT_EQUAL(evb_pattern_compile(s, strlen(s), 8192, &p, &err), EVB_OK);
    evb_pattern_free(p);
    p = NULL;
    free(s);
    CU_ASSERT_EQUAL(evb_pattern_compile("{\"a\":[1]}", 9, 8, &p, &err), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_pattern_compile("{\"a\":[1]}", 9, 9, &p, &err), EVB_OK);
    evb_pattern_free(p);
    CU_ASSERT_EQUAL(evb_pattern_compile(NULL, 0, 0, &p, &err), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_pattern_compile("{}", 2, 0, NULL, NULL), EVB_ERR_INVALID);
}

/* k sibling objects, each with a 2-way $or: 2^k alternatives. */
static char *or_product(int k)
{
    char *s = malloc(64 * (size_t)k + 8), *o = s;
    o += sprintf(o, "{");
    for (int i = 0; i < k; i++)
        o += sprintf(o, "%s\"f%d\":{\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", i ? "," : "", i);
    sprintf(o, "}");
    return s;
}

static void test_or_limit(void)
{
    evb_pattern *p = NULL;
    evb_error err;
    char *s = or_product(8); /* 256 */
    CU_ASSERT_EQUAL(evb_pattern_compile(s, strlen(s), 0, &p, &err), EVB_OK);
    CU_ASSERT_EQUAL(evb_pattern_branches(p), 256);
    evb_pattern_free(p);
    p = NULL;
    free(s);
    s = or_product(40); /* 2^40: must be refused without being built */
    CU_ASSERT_EQUAL(evb_pattern_compile(s, strlen(s), 0, &p, &err), EVB_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "more than 256 alternatives"));
    CU_ASSERT_PTR_NULL(p);
    free(s);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"rejected patterns", test_rejected},
        {"accepted edge cases", test_accepted_edges},
        {"size limit", test_size_limit},
        {"$or expansion limit", test_or_limit},
        {NULL, NULL},
    };
    return evb_unit_run("routing_pattern_invalid", cases);
}
