/* evbridge tests — applying transforms (server/routing/transform.h), table-driven: each row
 * compiles one transform, applies it to an event (SAMPLE_EVENT unless given) and checks the
 * exact output bytes and content type. Further cases cover the output cap, nesting depth,
 * bad events and concurrent use of one compiled transform.
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routing/transform.h"
#include "transform_test.h"

#define JSON EVB_TRANSFORM_CT_JSON
#define TEXT EVB_TRANSFORM_CT_TEXT
#define CE EVB_TRANSFORM_CT_CLOUDEVENT

/* data.customer.name of SAMPLE_EVENT: raw, as JSON string content, as a JSON string */
#define NAME_RAW "Alice \"A\" O'Hara\nline2 \xc3\xbc \xf0\x9f\x98\x80"
#define NAME_ESC "Alice \\\"A\\\" O'Hara\\nline2 \xc3\xbc \xf0\x9f\x98\x80"
#define NAME_JSON "\"" NAME_ESC "\""

typedef struct apply_row {
    const char *name;
    evb_transform_mode mode;
    const char *value;
    const char *vars[9]; /* name, path, name, path, ..., NULL */
    const char *event;   /* NULL = SAMPLE_EVENT */
    const char *want;
    size_t want_len; /* 0 = strlen(want) */
    const char *want_ct;
} apply_row;

#define ORIG EVB_TRANSFORM_ORIGINAL
#define DATA EVB_TRANSFORM_DATA
#define PATH EVB_TRANSFORM_JSONPATH
#define CONST EVB_TRANSFORM_CONSTANT
#define TPL EVB_TRANSFORM_TEMPLATE
#define NOVARS                                                                                     \
    {                                                                                              \
        NULL                                                                                       \
    }

static const apply_row ROWS[] = {
    /* ORIGINAL: the event as compact JSON, member order kept */
    {"original keeps order", ORIG, "", NOVARS,
     "{\"id\":\"1\",\"z\":1,\"a\":{\"k\":[1,2,{\"x\":null}]},\"data\":{\"a\":1}}",
     "{\"id\":\"1\",\"z\":1,\"a\":{\"k\":[1,2,{\"x\":null}]},\"data\":{\"a\":1}}", 0, CE},
    {"unspecified is original", EVB_TRANSFORM_UNSPECIFIED, NULL, NOVARS,
     "{ \"b\" : [ ] , \"a\":{} }", "{\"b\":[],\"a\":{}}", 0, CE},
    {"original number spellings", ORIG, "", NOVARS,
     "{\"a\":0.1,\"b\":1.0,\"c\":1e300,\"d\":-0.0,\"g\":-12,\"h\":9223372036854775807,"
     "\"i\":1.5e-7,\"j\":100.0,\"k\":123456789.123,\"l\":-9223372036854775808}",
     "{\"a\":0.1,\"b\":1.0,\"c\":1e+300,\"d\":-0.0,\"g\":-12,\"h\":9223372036854775807,"
     "\"i\":1.5e-07,\"j\":100.0,\"k\":123456789.123,\"l\":-9223372036854775808}",
     0, CE},
    {"original string escapes", ORIG, "", NOVARS,
     "{\"s\":\"q\\\"b\\\\s\\/\\n\\r\\t\\b\\f\\u0001\\u007f\\u00e9\\u2028\"}",
     "{\"s\":\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u007f\xc3\xa9\xe2\x80\xa8\"}", 0, CE},
    /* DATA */
    {"data JSON object", DATA, "", NOVARS,
     "{\"datacontenttype\":\"application/json\",\"data\":{\"b\":[true,false],\"a\":\"x\"}}",
     "{\"b\":[true,false],\"a\":\"x\"}", 0, JSON},
    {"data array, no content type", DATA, "", NOVARS, "{\"data\":[1,\"two\",{\"3\":3.5}]}",
     "[1,\"two\",{\"3\":3.5}]", 0, JSON},
    {"data text payload emitted raw", DATA, "", NOVARS,
     "{\"datacontenttype\":\"text/plain\",\"data\":\"hello \\\"w\\\"\\n\"}", "hello \"w\"\n", 0,
     "text/plain"},
    {"data xml payload keeps its type", DATA, "", NOVARS,
     "{\"datacontenttype\":\"application/xml\",\"data\":\"<a/>\"}", "<a/>", 0, "application/xml"},
    {"data JSON string without content type", DATA, "", NOVARS, "{\"data\":\"hello\"}", "\"hello\"",
     0, JSON},
    {"data JSON string, json with parameters", DATA, "", NOVARS,
     "{\"datacontenttype\":\" Application/JSON ; charset=utf-8\",\"data\":\"hello\"}", "\"hello\"",
     0, JSON},
    {"data JSON string, +json suffix", DATA, "", NOVARS,
     "{\"datacontenttype\":\"application/vnd.x+JSON\",\"data\":\"x\"}", "\"x\"", 0, JSON},
    {"data number with a text type stays JSON", DATA, "", NOVARS,
     "{\"datacontenttype\":\"text/plain\",\"data\":42}", "42", 0, JSON},
    {"data_base64 decoded", DATA, "", NOVARS,
     "{\"datacontenttype\":\"image/png\",\"data_base64\":\"aGVsbG8=\"}", "hello", 0, "image/png"},
    {"data_base64 without type", DATA, "", NOVARS, "{\"data_base64\":\"AAFh\"}", "\0\001a", 3,
     "application/octet-stream"},
    {"no data gives null", DATA, "", NOVARS, "{\"id\":\"1\"}", "null", 0, JSON},
    {"null data gives null", DATA, "", NOVARS, "{\"data\":null}", "null", 0, JSON},
    {"data of the sample", DATA, "", NOVARS, "{\"data\":{\"customer\":{\"id\":42}}}",
     "{\"customer\":{\"id\":42}}", 0, JSON},
    /* JSONPATH */
    {"path to a string is a JSON string", PATH, "$.data.customer.name", NOVARS, NULL, NAME_JSON, 0,
     JSON},
    {"path to a number", PATH, "$.data.customer.id", NOVARS, NULL, "42", 0, JSON},
    {"path to a real", PATH, "$.data.customer.score", NOVARS, NULL, "0.1", 0, JSON},
    {"path to an object", PATH, "$.data.customer.address", NOVARS, NULL, "{\"city\":\"Hangzhou\"}",
     0, JSON},
    {"path to the last element", PATH, "$.data.customer.tags[-1]", NOVARS, NULL, "\"c\"", 0, JSON},
    {"path in brackets", PATH, "$['data'][\"items\"][0]['sku']", NOVARS, NULL, "\"x1\"", 0, JSON},
    {"missing path is null", PATH, "$.data.missing.x", NOVARS, NULL, "null", 0, JSON},
    {"index out of range is null", PATH, "$.data.customer.tags[7]", NOVARS, NULL, "null", 0, JSON},
    {"control characters escaped", PATH, "$.data.customer.ctl", NOVARS, NULL, "\"a\\u0001b\\tc\"",
     0, JSON},
    {"$ is the whole event as JSON", PATH, "$", NOVARS, "{\"b\":1,\"a\":2}", "{\"b\":1,\"a\":2}", 0,
     JSON},
    {"text data through a path is quoted", PATH, "$.data", NOVARS,
     "{\"datacontenttype\":\"text/plain\",\"data\":\"hi\"}", "\"hi\"", 0, JSON},
    /* CONSTANT */
    {"constant text", CONST, "hello", NOVARS, NULL, "hello", 0, TEXT},
    {"constant JSON object as given", CONST, "{\"a\": 1, \"b\": [true]}", NOVARS, NULL,
     "{\"a\": 1, \"b\": [true]}", 0, JSON},
    {"constant JSON array with blanks", CONST, "  [1, 2]\n", NOVARS, NULL, "  [1, 2]\n", 0, JSON},
    {"constant number", CONST, "-1.5e3", NOVARS, NULL, "-1.5e3", 0, JSON},
    {"constant huge integer is JSON", CONST, "123456789012345678901234567890", NOVARS, NULL,
     "123456789012345678901234567890", 0, JSON},
    {"constant true", CONST, "true", NOVARS, NULL, "true", 0, JSON},
    {"constant null", CONST, "null", NOVARS, NULL, "null", 0, JSON},
    {"constant JSON string", CONST, "\"quoted\"", NOVARS, NULL, "\"quoted\"", 0, JSON},
    {"constant empty", CONST, "", NOVARS, NULL, "", 0, TEXT},
    {"constant has no placeholders", CONST, "Hello ${x}", NOVARS, NULL, "Hello ${x}", 0, TEXT},
    {"constant unterminated quote is text", CONST, "\"open", NOVARS, NULL, "\"open", 0, TEXT},
    {"constant unicode text", CONST,
     "\xc3\xbcn\xc3\xaf"
     "c\xc3\xb8"
     "de \xe2\x9c\x93",
     NOVARS, NULL,
     "\xc3\xbcn\xc3\xaf"
     "c\xc3\xb8"
     "de \xe2\x9c\x93",
     0, TEXT},
    {"constant number then words", CONST, "42 apples", NOVARS, NULL, "42 apples", 0, TEXT},
    /* TEMPLATE */
    {"text template, string raw",
     TPL,
     "Hello ${name}",
     {"name", "$.data.customer.name"},
     NULL,
     "Hello " NAME_RAW,
     0,
     TEXT},
    {"string inside a JSON string is escaped",
     TPL,
     "{\"n\": \"${name}\"}",
     {"name", "$.data.customer.name"},
     NULL,
     "{\"n\": \"" NAME_ESC "\"}",
     0,
     JSON},
    {"string outside a JSON string is quoted",
     TPL,
     "{\"n\": ${name}}",
     {"name", "$.data.customer.name"},
     NULL,
     "{\"n\": " NAME_JSON "}",
     0,
     JSON},
    {"number inside and outside",
     TPL,
     "{\"id\": \"#${id}\", \"raw\": ${id}}",
     {"id", "$.data.customer.id"},
     NULL,
     "{\"id\": \"#42\", \"raw\": 42}",
     0,
     JSON},
    {"object inside and outside",
     TPL,
     "{\"a\": \"${addr}\", \"b\": ${addr}}",
     {"addr", "$.data.customer.address"},
     NULL,
     "{\"a\": \"{\\\"city\\\":\\\"Hangzhou\\\"}\", \"b\": {\"city\":\"Hangzhou\"}}",
     0,
     JSON},
    {"array inside a string",
     TPL,
     "{\"t\": \"${tags}\"}",
     {"tags", "$.data.customer.tags"},
     NULL,
     "{\"t\": \"[\\\"a\\\",\\\"b\\\",\\\"c\\\"]\"}",
     0,
     JSON},
    {"real inside a string",
     TPL,
     "{\"s\": \"${s}%\"}",
     {"s", "$.data.customer.score"},
     NULL,
     "{\"s\": \"0.1%\"}",
     0,
     JSON},
    {"missing: empty inside, null outside",
     TPL,
     "{\"in\": \"<${m}>\", \"out\": ${m}}",
     {"m", "$.data.nope"},
     NULL,
     "{\"in\": \"<>\", \"out\": null}",
     0,
     JSON},
    {"null value: empty inside, null outside",
     TPL,
     "{\"in\": \"<${m}>\", \"out\": ${m}}",
     {"m", "$.data.customer.nothing"},
     NULL,
     "{\"in\": \"<>\", \"out\": null}",
     0,
     JSON},
    {"missing in a text template is empty",
     TPL,
     "Hello ${m}!",
     {"m", "$.data.nope"},
     NULL,
     "Hello !",
     0,
     TEXT},
    {"values in a text template",
     TPL,
     "vip=${vip} id=${id} addr=${addr} tags=${tags}",
     {"vip", "$.data.customer.vip", "id", "$.data.customer.id", "addr", "$.data.customer.address",
      "tags", "$.data.customer.tags"},
     NULL,
     "vip=true id=42 addr={\"city\":\"Hangzhou\"} tags=[\"a\",\"b\",\"c\"]",
     0,
     TEXT},
    {"$${ is a literal ${",
     TPL,
     "cost: $${x} ${id}",
     {"id", "$.data.customer.id"},
     NULL,
     "cost: ${x} 42",
     0,
     TEXT},
    {"lone $ and $$ are literal",
     TPL,
     "a $$ b $ {id} ${id}$",
     {"id", "$.data.customer.id"},
     NULL,
     "a $$ b $ {id} 42$",
     0,
     TEXT},
    {"$${ inside a JSON string",
     TPL,
     "{\"t\": \"$${lit} ${id}\"}",
     {"id", "$.data.customer.id"},
     NULL,
     "{\"t\": \"${lit} 42\"}",
     0,
     JSON},
    {"a quoted placeholder is a JSON string",
     TPL,
     "\"${name}\"",
     {"name", "$.data.customer.name"},
     NULL,
     NAME_JSON,
     0,
     JSON},
    {"a lone placeholder is JSON", TPL, "${id}", {"id", "$.data.customer.id"}, NULL, "42", 0, JSON},
    {"a lone string placeholder is quoted",
     TPL,
     " ${name} ",
     {"name", "$.data.customer.name"},
     NULL,
     " " NAME_JSON " ",
     0,
     JSON},
    {"one variable twice",
     TPL,
     "${id}-${id}",
     {"id", "$.data.customer.id"},
     NULL,
     "42-42",
     0,
     TEXT},
    {"escaped quotes keep the string state",
     TPL,
     "{\"q\": \"say \\\"${id}\\\" now\"}",
     {"id", "$.data.customer.id"},
     NULL,
     "{\"q\": \"say \\\"42\\\" now\"}",
     0,
     JSON},
    {"array template",
     TPL,
     "[${id}, \"${city}\", ${m}]",
     {"id", "$.data.customer.id", "city", "$.data.customer.address.city", "m", "$.nope"},
     NULL,
     "[42, \"Hangzhou\", null]",
     0,
     JSON},
    {"placeholder as a key",
     TPL,
     "{\"${city}\": ${id}}",
     {"city", "$.data.customer.address.city", "id", "$.data.customer.id"},
     NULL,
     "{\"Hangzhou\": 42}",
     0,
     JSON},
    {"control characters escaped inside",
     TPL,
     "{\"c\": \"${ctl}\"}",
     {"ctl", "$.data.customer.ctl"},
     NULL,
     "{\"c\": \"a\\u0001b\\tc\"}",
     0,
     JSON},
    {"control characters raw in text",
     TPL,
     "c=${ctl}",
     {"ctl", "$.data.customer.ctl"},
     NULL,
     "c=a\001b\tc",
     0,
     TEXT},
    {"DingTalk robot message",
     TPL,
     "{\"msgtype\":\"text\",\"text\":{\"content\":\"Customer ${name} changed (${id})\"}}",
     {"name", "$.data.customer.name", "id", "$.data.customer.id"},
     NULL,
     "{\"msgtype\":\"text\",\"text\":{\"content\":\"Customer " NAME_ESC " changed (42)\"}}",
     0,
     JSON},
    {"unbalanced quote is text",
     TPL,
     "He said \"${id}",
     {"id", "$.data.customer.id"},
     NULL,
     "He said \"42",
     0,
     TEXT},
    {"quotes in a text template are not JSON",
     TPL,
     "Name: \"${name}\"",
     {"name", "$.data.customer.name"},
     NULL,
     "Name: \"" NAME_RAW "\"",
     0,
     TEXT},
    {"backslashes in a text template",
     TPL,
     "C:\\dir\\${id}",
     {"id", "$.data.customer.id"},
     NULL,
     "C:\\dir\\42",
     0,
     TEXT},
    {"the whole event as a variable",
     TPL,
     "{\"event\": ${ev}}",
     {"ev", "$"},
     "{\"id\":\"1\",\"data\":{\"x\":1}}",
     "{\"event\": {\"id\":\"1\",\"data\":{\"x\":1}}}",
     0,
     JSON},
    {"unicode variable names are not needed",
     TPL,
     "\xe4\xbd\xa0\xe5\xa5\xbd ${n_1}",
     {"n_1", "$['data']['\\u00fc']"},
     NULL,
     "\xe4\xbd\xa0\xe5\xa5\xbd umlaut",
     0,
     TEXT},
};

static void check_row(const apply_row *r, json_t *ev)
{
    const char *names[4], *paths[4];
    size_t n = 0;
    while (n < 4 && r->vars[2 * n] != NULL) {
        names[n] = r->vars[2 * n];
        paths[n] = r->vars[2 * n + 1];
        n++;
    }
    evb_transform *t = NULL;
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = evb_transform_compile(r->mode, r->value, names, paths, n, &t, &e);
    if (rc != EVB_OK) {
        fprintf(stderr, "\n  %s: compile: %s\n", r->name, e.message);
        CU_FAIL("compile");
        return;
    }
    char *out = NULL;
    size_t len = 0;
    const char *ct = NULL;
    rc = evb_transform_apply(t, ev, &out, &len, &ct, &e);
    size_t want_len = r->want_len ? r->want_len : strlen(r->want);
    int ok = rc == EVB_OK && len == want_len && memcmp(out, r->want, len) == 0 &&
             out[len] == '\0' && ct != NULL && strcmp(ct, r->want_ct) == 0;
    if (!ok)
        fprintf(stderr, "\n  %s: rc %d (%s)\n    got  [%s] %s\n    want [%s] %s\n", r->name,
                (int)rc, e.message, out ? out : "", ct ? ct : "", r->want, r->want_ct);
    CU_ASSERT(ok);
    free(out);
    evb_transform_free(t);
}

static void test_apply_table(void)
{
    json_t *sample = tj_parse(SAMPLE_EVENT);
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        json_t *ev = ROWS[i].event ? tj_parse(ROWS[i].event) : json_incref(sample);
        check_row(&ROWS[i], ev);
        json_decref(ev);
    }
    json_decref(sample);
}

/* ORIGINAL of the sample reads back to the same event; modes are reported */
static void test_original_round_trip(void)
{
    json_t *ev = tj_parse(SAMPLE_EVENT);
    evb_transform *t = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_transform_compile(ORIG, NULL, NULL, NULL, 0, &t, NULL), EVB_OK);
    CU_ASSERT_EQUAL(evb_transform_get_mode(t), ORIG);
    char *out = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_transform_apply(t, ev, &out, NULL, NULL, NULL), EVB_OK);
    json_t *back = tj_parse(out);
    CU_ASSERT(json_equal(back, ev));
    json_decref(back);
    free(out);
    evb_transform_free(t);
    CU_ASSERT_EQUAL_FATAL(
        evb_transform_compile(EVB_TRANSFORM_UNSPECIFIED, "", NULL, NULL, 0, &t, NULL), EVB_OK);
    CU_ASSERT_EQUAL(evb_transform_get_mode(t), ORIG);
    evb_transform_free(t);
    evb_transform_free(NULL);
    json_decref(ev);
}

static evb_err apply_one(evb_transform_mode mode, const char *value, const char *var,
                         const char *path, json_t *ev, size_t *len, evb_error *e)
{
    evb_transform *t = NULL;
    const char *names[1] = {var}, *paths[1] = {path};
    evb_err rc = evb_transform_compile(mode, value, names, paths, var ? 1 : 0, &t, e);
    CU_ASSERT_EQUAL_FATAL(rc, EVB_OK);
    char *out = NULL;
    evb_error_clear(e);
    rc = evb_transform_apply(t, ev, &out, len, NULL, e);
    CU_ASSERT((rc == EVB_OK) == (out != NULL));
    free(out);
    evb_transform_free(t);
    return rc;
}

static json_t *event_with_string(size_t n, const char *dct)
{
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    json_t *ev = json_pack("{s:s, s:s}", "datacontenttype", dct, "data", s);
    free(s);
    return ev;
}

static void test_output_cap(void)
{
    const size_t cap = EVB_TRANSFORM_MAX_OUTPUT;
    evb_error e;
    size_t len = 0;
    /* a text payload of exactly the cap passes, one byte more does not */
    json_t *ev = event_with_string(cap, "text/plain");
    CU_ASSERT_EQUAL(apply_one(DATA, "", NULL, NULL, ev, &len, &e), EVB_OK);
    CU_ASSERT_EQUAL(len, cap);
    CU_ASSERT_EQUAL(apply_one(ORIG, "", NULL, NULL, ev, &len, &e), EVB_ERR_TOO_LARGE);
    CU_ASSERT_STRING_EQUAL(e.pointer, "output");
    CU_ASSERT(strstr(e.message, "exceeds 1048576 bytes") != NULL);
    CU_ASSERT_EQUAL(apply_one(PATH, "$.data", NULL, NULL, ev, &len, &e), EVB_ERR_TOO_LARGE);
    json_decref(ev);
    ev = event_with_string(cap + 1, "text/plain");
    CU_ASSERT_EQUAL(apply_one(DATA, "", NULL, NULL, ev, &len, &e), EVB_ERR_TOO_LARGE);
    json_decref(ev);
    /* a template that repeats a large value */
    ev = event_with_string(cap / 2 + 1, "text/plain");
    CU_ASSERT_EQUAL(apply_one(TPL, "${s}", "s", "$.data", ev, &len, &e), EVB_OK);
    CU_ASSERT_EQUAL(apply_one(TPL, "${s}${s}", "s", "$.data", ev, &len, &e), EVB_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(apply_one(TPL, "{\"a\":\"${s}\",\"b\":\"${s}\"}", "s", "$.data", ev, &len, &e),
                    EVB_ERR_TOO_LARGE);
    json_decref(ev);
    /* large base64 payloads */
    char *b64 = malloc(cap * 2);
    memset(b64, 'A', cap * 2 - 1);
    b64[cap * 2 - 1] = '\0';
    ev = json_pack("{s:s}", "data_base64", b64);
    CU_ASSERT_EQUAL(apply_one(DATA, "", NULL, NULL, ev, &len, &e), EVB_ERR_TOO_LARGE);
    json_decref(ev);
    free(b64);
}

static json_t *nested(int depth)
{
    json_t *v = json_integer(1);
    for (int i = 0; i < depth; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    json_t *ev = json_object();
    json_object_set_new(ev, "data", v);
    return ev;
}

static void test_depth(void)
{
    evb_error e;
    size_t len;
    json_t *ev = nested(2000);
    CU_ASSERT_EQUAL(apply_one(ORIG, "", NULL, NULL, ev, &len, &e), EVB_OK);
    CU_ASSERT_EQUAL(len, 2000 * 2 + 10);
    json_decref(ev);
    ev = nested(5000);
    CU_ASSERT_EQUAL(apply_one(ORIG, "", NULL, NULL, ev, &len, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "event");
    CU_ASSERT(strstr(e.message, "nested deeper than 2048 levels") != NULL);
    CU_ASSERT_EQUAL(apply_one(TPL, "{\"d\":\"${d}\"}", "d", "$.data", ev, &len, &e),
                    EVB_ERR_INVALID);
    /* a path beside the deep value does not serialise it */
    CU_ASSERT_EQUAL(apply_one(PATH, "$.data[1]", NULL, NULL, ev, &len, &e), EVB_OK);
    json_decref(ev);
}

static void test_bad_events(void)
{
    evb_error e;
    size_t len;
    json_t *arr = tj_parse("[1]");
    CU_ASSERT_EQUAL(apply_one(ORIG, "", NULL, NULL, arr, &len, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "event");
    json_decref(arr);
    CU_ASSERT_EQUAL(apply_one(CONST, "x", NULL, NULL, NULL, &len, &e), EVB_ERR_INVALID);
    json_t *ev = tj_parse("{\"data_base64\":\"not base64!\"}");
    CU_ASSERT_EQUAL(apply_one(DATA, "", NULL, NULL, ev, &len, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "event.data_base64");
    /* other modes do not look at data_base64 */
    CU_ASSERT_EQUAL(apply_one(PATH, "$.data_base64", NULL, NULL, ev, &len, &e), EVB_OK);
    json_decref(ev);
}

typedef struct thread_arg {
    const evb_transform *t;
    const json_t *ev;
    const char *want;
    int failures;
} thread_arg;

static void *worker(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 2000; i++) {
        char *out = NULL;
        if (evb_transform_apply(a->t, a->ev, &out, NULL, NULL, NULL) != EVB_OK ||
            strcmp(out, a->want) != 0)
            a->failures++;
        free(out);
    }
    return NULL;
}

/* one compiled transform and one event shared by several threads */
static void test_threads(void)
{
    json_t *ev = tj_parse(SAMPLE_EVENT);
    const char *names[] = {"name", "addr"}, *paths[] = {"$.data.customer.name", "$.data"};
    evb_transform *t = NULL;
    CU_ASSERT_EQUAL_FATAL(
        evb_transform_compile(TPL, "{\"n\":\"${name}\",\"d\":${addr}}", names, paths, 2, &t, NULL),
        EVB_OK);
    char *want = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_transform_apply(t, ev, &want, NULL, NULL, NULL), EVB_OK);
    enum { N = 4 };
    pthread_t th[N];
    thread_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (thread_arg){t, ev, want, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(args[i].failures, 0);
    }
    free(want);
    evb_transform_free(t);
    json_decref(ev);
}

const tr_case TRANSFORM_APPLY_CASES[] = {
    {"every mode: output and content type", test_apply_table},
    {"ORIGINAL round trip, modes", test_original_round_trip},
    {"output cap (1 MiB)", test_output_cap},
    {"nesting depth", test_depth},
    {"bad events", test_bad_events},
    {"one transform, many threads", test_threads},
    {NULL, NULL},
};
