/* evbridge tests — the JSONPath subset (server/routing/jsonpath.h), table-driven: every
 * supported form selects the right value of SAMPLE_EVENT or is missing, and every
 * unsupported or malformed path is rejected with its own reason and position.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routing/jsonpath.h"
#include "transform_test.h"

typedef struct eval_row {
    const char *path;
    const char *want; /* JSON text of the selected value; NULL = missing */
} eval_row;

static const eval_row EVAL_ROWS[] = {
    {"$.data.customer.id", "42"},
    {"$.data.customer.name", "\"Alice \\\"A\\\" O'Hara\\nline2 \\u00fc \\ud83d\\ude00\""},
    {"$.data.customer.score", "0.1"},
    {"$.data.customer.vip", "true"},
    {"$.data.customer.nothing", "null"},
    {"$.data.customer.address", "{\"city\":\"Hangzhou\"}"},
    {"$.data.customer.tags", "[\"a\",\"b\",\"c\"]"},
    {"$.data.customer.tags[0]", "\"a\""},
    {"$.data.customer.tags[2]", "\"c\""},
    {"$.data.customer.tags[-1]", "\"c\""},
    {"$.data.customer.tags[-3]", "\"a\""},
    {"$.data.items[1].sku", "\"x2\""},
    {"$['data']['customer']['id']", "42"},
    {"$[\"data\"][\"customer\"][\"id\"]", "42"},
    {"$[ 'data' ].items[\n1\r]['sku']", "\"x2\""},
    {"$.data['a.b']", "1"},
    {"$.data['']", "\"empty key\""},
    {"$.data['sp ace']", "2"},
    {"$.data.\xc3\xbc", "\"umlaut\""},
    {"$.data['\\u00fc']", "\"umlaut\""},
    {"$.data['\\u00FC']", "\"umlaut\""},
    {"$.data['\\ud83d\\ude00']", "\"emoji\""},
    {"$.data.\xf0\x9f\x98\x80", "\"emoji\""},
    {"$.data['nul']", NULL},
    {"$['data']['customer']['na\\u006de']",
     "\"Alice \\\"A\\\" O'Hara\\nline2 \\u00fc \\ud83d\\ude00\""},
    {"$[\"da\\\"ta\"]", NULL},
    {"$['it\\'s']", NULL},
    {"$.id", "\"e1\""},
    {"$.specversion", "\"1.0\""},
    {"$.data-x", NULL},
    {"$.data.customer.tags[3]", NULL},
    {"$.data.customer.tags[-4]", NULL},
    {"$.data.customer.tags[9007199254740991]", NULL},
    {"$.data.customer.tags[-9007199254740991]", NULL},
    {"$.data.missing", NULL},
    {"$.data.missing.deeper.still", NULL},
    {"$.data.customer.name.first", NULL}, /* member of a string */
    {"$.data.items.sku", NULL},           /* member of an array */
    {"$.data.customer[0]", NULL},         /* index of an object */
    {"$.data.customer.id[0]", NULL},      /* index of a number */
    {"$.data.customer.nothing.x", NULL},  /* member of null */
    {"$.subject", NULL},
};

static void test_eval_table(void)
{
    json_t *ev = tj_parse(SAMPLE_EVENT);
    for (size_t i = 0; i < sizeof EVAL_ROWS / sizeof EVAL_ROWS[0]; i++) {
        const eval_row *r = &EVAL_ROWS[i];
        evb_jsonpath *p = NULL;
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_jsonpath_compile(r->path, strlen(r->path), &p, &e);
        if (rc != EVB_OK)
            fprintf(stderr, "\n  %s: %s\n", r->path, e.message);
        CU_ASSERT_EQUAL_FATAL(rc, EVB_OK);
        const json_t *got = evb_jsonpath_eval(p, ev);
        if (r->want == NULL) {
            if (got != NULL)
                fprintf(stderr, "\n  %s: expected missing\n", r->path);
            CU_ASSERT_PTR_NULL(got);
        } else {
            json_t *want = tj_parse(r->want);
            int ok = got != NULL && json_equal(want, (json_t *)got);
            if (!ok)
                fprintf(stderr, "\n  %s: wrong value\n", r->path);
            CU_ASSERT(ok);
            json_decref(want);
        }
        evb_jsonpath_free(p);
    }
    json_decref(ev);
}

static void test_root_and_depth(void)
{
    json_t *ev = tj_parse(SAMPLE_EVENT);
    evb_jsonpath *p = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_jsonpath_compile("$", 1, &p, NULL), EVB_OK);
    CU_ASSERT_PTR_EQUAL(evb_jsonpath_eval(p, ev), ev);
    CU_ASSERT_PTR_NULL(evb_jsonpath_eval(p, NULL));
    CU_ASSERT_EQUAL(evb_jsonpath_depth(p), 0);
    evb_jsonpath_free(p);
    /* the length is explicit: a path need not be NUL-terminated */
    CU_ASSERT_EQUAL_FATAL(evb_jsonpath_compile("$.id.more", 4, &p, NULL), EVB_OK);
    CU_ASSERT_EQUAL(evb_jsonpath_depth(p), 1);
    CU_ASSERT(json_equal((json_t *)evb_jsonpath_eval(p, ev), json_object_get(ev, "id")));
    evb_jsonpath_free(p);
    evb_jsonpath_free(NULL);
    json_decref(ev);
    /* member names with NUL (jansson's parser refuses them, but built objects may have them) */
    ev = json_object();
    json_object_setn_new(ev, "nul\0key", 7, json_integer(5));
    const char *nul_path = "$['nul\\u0000key']";
    CU_ASSERT_EQUAL_FATAL(evb_jsonpath_compile(nul_path, strlen(nul_path), &p, NULL), EVB_OK);
    const json_t *got = evb_jsonpath_eval(p, ev);
    CU_ASSERT(got != NULL && json_integer_value(got) == 5);
    evb_jsonpath_free(p);
    json_decref(ev);
}

/* 1,000 levels of {"a": ...} (built, not parsed: beyond jansson's parser depth) */
static void test_deep_path(void)
{
    enum { DEPTH = 1000 };
    json_t *root = json_string("bottom");
    for (int i = 0; i < DEPTH; i++) {
        json_t *o = json_object();
        json_object_set_new(o, i % 2 ? "a" : "b", root);
        root = o;
    }
    char *path = malloc(3 * DEPTH + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    size_t n = 0;
    path[n++] = '$';
    for (int i = DEPTH - 1; i >= 0; i--) {
        path[n++] = '.';
        path[n++] = i % 2 ? 'a' : 'b';
    }
    evb_jsonpath *p = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_jsonpath_compile(path, n, &p, NULL), EVB_OK);
    CU_ASSERT_EQUAL(evb_jsonpath_depth(p), DEPTH);
    const json_t *got = evb_jsonpath_eval(p, root);
    CU_ASSERT(got != NULL && json_is_string(got) && strcmp(json_string_value(got), "bottom") == 0);
    evb_jsonpath_free(p);
    /* one step too many: missing, no crash */
    path[n++] = '.', path[n++] = 'a';
    CU_ASSERT_EQUAL_FATAL(evb_jsonpath_compile(path, n, &p, NULL), EVB_OK);
    CU_ASSERT_PTR_NULL(evb_jsonpath_eval(p, root));
    evb_jsonpath_free(p);
    free(path);
    json_decref(root);
}

typedef struct err_row {
    const char *path;
    const char *msg; /* substring of the message */
} err_row;

static const err_row ERR_ROWS[] = {
    {"", "JSONPath is empty"},
    {"data.x", "at character 1: a JSONPath starts with '$'"},
    {" $.data", "at character 1: a JSONPath starts with '$'"},
    {"$.data ", "at character 7: unexpected blank"},
    {"$ .data", "at character 2: unexpected blank"},
    {"$[ 'data' ]\t.items", "at character 12: unexpected blank"},
    {"$a", "at character 2: expected '.' or '['"},
    {"$.data..x", "at character 7: recursive descent (..) is not supported"},
    {"$..x", "recursive descent"},
    {"$.data.*", "at character 8: wildcards (.*) are not supported"},
    {"$.data[*]", "wildcards ([*]) are not supported"},
    {"$.data[?(@.a)]", "filters ([?...]) are not supported"},
    {"$.a[1:2]", "slices ([a:b]) are not supported"},
    {"$.a[:2]", "slices ([a:b]) are not supported"},
    {"$.a['x','y']", "unions (several selectors in one [...]) are not supported"},
    {"$.a[0,1]", "unions"},
    {"$.a[01]", "leading zeros are not allowed in an index"},
    {"$.a[-0]", "-0 is not a valid index"},
    {"$.a[-]", "expected digits after '-'"},
    {"$.a[9007199254740992]", "index out of range"},
    {"$.a[99999999999999999999999]", "index out of range"},
    {"$.a[1.5]", "expected ']'"},
    {"$.a['x", "unterminated quoted name"},
    {"$.a['x\\", "unterminated escape"},
    {"$.a['x\\q']", "unknown escape"},
    {"$.a['\\ud800']", "unpaired high surrogate"},
    {"$.a['\\ud800\\u0041']", "unpaired high surrogate"},
    {"$.a['\\udc00']", "unpaired low surrogate"},
    {"$.a['\\u12']", "\\u needs 4 hex digits"},
    {"$.a['\\u12g4']", "\\u needs 4 hex digits"},
    {"$.a['x\ty']", "control characters in a quoted name must be escaped"},
    {"$.a[x]", "expected a quoted name or an index after '['"},
    {"$.a[]", "expected a quoted name or an index after '['"},
    {"$.a[1", "expected ']'"},
    {"$.a['x'", "expected ']'"},
    {"$.a[", "unterminated '['"},
    {"$.", "at character 3: expected a member name after '.'"},
    {"$.a.$b", "expected a member name after '.'"},
    {"$.a.'b'", "expected a member name after '.'"},
    {"$.\xc3\xbc\xc3\xbc..x", "at character 5: recursive descent"}, /* counts code points */
    {"$.a\xff", "not valid UTF-8"},
};

static void test_error_table(void)
{
    for (size_t i = 0; i < sizeof ERR_ROWS / sizeof ERR_ROWS[0]; i++) {
        const err_row *r = &ERR_ROWS[i];
        evb_jsonpath *p = (evb_jsonpath *)&p; /* must stay untouched */
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_jsonpath_compile(r->path, strlen(r->path), &p, &e);
        int ok = rc == EVB_ERR_INVALID && e.code == EVB_ERR_INVALID &&
                 strstr(e.message, r->msg) != NULL && p == (evb_jsonpath *)&p &&
                 e.pointer[0] == '\0';
        if (!ok)
            fprintf(stderr, "\n  path \"%s\": rc %d, message \"%s\", want \"%s\"\n", r->path,
                    (int)rc, e.message, r->msg);
        CU_ASSERT(ok);
    }
    /* NULL path and a NULL error struct are fine */
    evb_jsonpath *p = NULL;
    CU_ASSERT_EQUAL(evb_jsonpath_compile(NULL, 0, &p, NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_jsonpath_compile("$.", 2, &p, NULL), EVB_ERR_INVALID);
    CU_ASSERT_PTR_NULL(p);
}

const tr_case JSONPATH_CASES[] = {
    {"supported forms select values; missing gives NULL", test_eval_table},
    {"root, explicit length, depth", test_root_and_depth},
    {"deep paths (1,000 steps)", test_deep_path},
    {"syntax errors and unsupported features", test_error_table},
    {NULL, NULL},
};
