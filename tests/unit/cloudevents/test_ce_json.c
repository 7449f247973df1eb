/* evbridge — unit tests for server/cloudevents/ce_json: JSON data embedded as a value
 * (byte-exact), text as a string, binary and unparseable JSON as data_base64, extensions
 * top-level, batch arrays, and decode round trips and rejections. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/cloudevents/ce_json.h"
#include "tests/unit/common/unit.h"

/* Builds a heap event (every string malloc'd) for round trips. */
static evb_event *make_event(const char *ct, const void *data, size_t n)
{
    evb_event *ev = calloc(1, sizeof *ev);
    ev->id = evb_strdup("01890a5d-ac96-774b-bcce-b302099a8057");
    ev->source = evb_strdup("/connectors/xbongbong-crm");
    ev->type = evb_strdup("com.xbongbong.customer.changed");
    ev->subject = evb_strdup("customer/42");
    ev->time = evb_strdup("2024-01-15T10:30:00.123Z");
    ev->datacontenttype = evb_strdup(ct);
    ev->org = evb_strdup("org-1");
    ev->connector = evb_strdup("xbongbong-crm");
    ev->n_ext = 2;
    ev->ext = calloc(2, sizeof *ev->ext);
    ev->ext[0].name = evb_strdup("priority");
    ev->ext[0].value = evb_strdup("high");
    ev->ext[1].name = evb_strdup("traceparent");
    ev->ext[1].value = evb_strdup("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    if (n > 0) {
        ev->data = malloc(n);
        memcpy(ev->data, data, n);
        ev->data_len = n;
    }
    ev->time_ms = 1705314600123;
    return ev;
}

static json_t *encode_parse(const evb_event *ev, char **text_out)
{
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(evb_ce_json_encode(ev, &text, &len), EVB_OK);
    if (text == NULL)
        return NULL;
    CU_ASSERT_EQUAL(strlen(text), len);
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, NULL);
    CU_ASSERT_PTR_NOT_NULL(j);
    if (text_out)
        *text_out = text;
    else
        free(text);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_json_data_embedded(void)
{
    const char *payload = "{\"name\":\"Acme\",\"big\":123456789012345678901234567890,"
                          "\"f\":0.1,\"nested\":[1,true,null]}";
    evb_event *ev = make_event("application/json", payload, strlen(payload));
    CU_ASSERT_EQUAL(evb_ce_json_data_kind(ev), EVB_CE_DATA_JSON);
    char *text = NULL;
    json_t *j = encode_parse(ev, &text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(jstr(j, "specversion"), "1.0");
    CU_ASSERT_STRING_EQUAL(jstr(j, "id"), ev->id);
    CU_ASSERT_STRING_EQUAL(jstr(j, "source"), ev->source);
    CU_ASSERT_STRING_EQUAL(jstr(j, "type"), ev->type);
    CU_ASSERT_STRING_EQUAL(jstr(j, "subject"), "customer/42");
    CU_ASSERT_STRING_EQUAL(jstr(j, "time"), "2024-01-15T10:30:00.123Z");
    CU_ASSERT_STRING_EQUAL(jstr(j, "datacontenttype"), "application/json");
    /* extensions, ours included, are top-level members */
    CU_ASSERT_STRING_EQUAL(jstr(j, "orgid"), "org-1");
    CU_ASSERT_STRING_EQUAL(jstr(j, "connector"), "xbongbong-crm");
    CU_ASSERT_STRING_EQUAL(jstr(j, "priority"), "high");
    CU_ASSERT_PTR_NOT_NULL(jstr(j, "traceparent"));
    CU_ASSERT_PTR_NULL(json_object_get(j, "data_base64"));
    json_t *data = json_object_get(j, "data");
    CU_ASSERT(json_is_object(data)); /* the value itself, not a string */
    CU_ASSERT_STRING_EQUAL(jstr(data, "name"), "Acme");
    /* byte-exact: the big integer and 0.1 are spelt as published */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ",\"data\":{\"name\":\"Acme\",\"big\":"
                                        "123456789012345678901234567890,\"f\":0.1,"));
    json_decref(j);
    free(text);
    evb_event_free(ev);
}

static void test_json_data_kinds(void)
{
    static const struct {
        const char *ct;
        const char *data;
        size_t n;
        evb_ce_json_data kind;
    } rows[] = {
        {"application/json", "{\"a\":1}", 7, EVB_CE_DATA_JSON},
        {NULL, "[1,2]", 5, EVB_CE_DATA_JSON}, /* absent = JSON */
        {"application/vnd.x+json", "\"str\"", 5, EVB_CE_DATA_JSON},
        {"application/json", " 42 \n", 5, EVB_CE_DATA_JSON},               /* scalar, whitespace */
        {"application/json", "{\"a\":", 5, EVB_CE_DATA_BASE64},            /* unparseable */
        {"application/json", "{\"a\":1,\"a\":2}", 13, EVB_CE_DATA_BASE64}, /* duplicate */
        {"application/json", "plain text", 10, EVB_CE_DATA_BASE64},
        {"text/plain", "hello \xE2\x82\xAC", 9, EVB_CE_DATA_STRING},
        {"text/plain", "bad \xFF", 5, EVB_CE_DATA_BASE64},
        {"application/xml", "<a/>", 4, EVB_CE_DATA_STRING},
        {"application/octet-stream", "\x00\x01\x02\xFF", 4, EVB_CE_DATA_BASE64},
        {"application/octet-stream", "ascii", 5, EVB_CE_DATA_BASE64},
        {"application/json", "", 0, EVB_CE_DATA_NONE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        evb_event *ev = make_event(rows[i].ct, rows[i].data, rows[i].n);
        EVB_CHECK_ROW(evb_ce_json_data_kind(ev) == rows[i].kind, "row %zu kind %d", i,
                      (int)evb_ce_json_data_kind(ev));
        json_t *j = encode_parse(ev, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(j);
        json_t *data = json_object_get(j, "data"), *b64 = json_object_get(j, "data_base64");
        switch (rows[i].kind) {
        case EVB_CE_DATA_NONE:
            CU_ASSERT(data == NULL && b64 == NULL);
            break;
        case EVB_CE_DATA_JSON:
            CU_ASSERT(data != NULL && b64 == NULL);
            break;
        case EVB_CE_DATA_STRING:
            CU_ASSERT(json_is_string(data) && b64 == NULL);
            CU_ASSERT(json_string_length(data) == rows[i].n &&
                      memcmp(json_string_value(data), rows[i].data, rows[i].n) == 0);
            break;
        case EVB_CE_DATA_BASE64:
            CU_ASSERT(data == NULL && json_is_string(b64));
            break;
        }
        /* and back */
        char *text = NULL;
        CU_ASSERT_EQUAL_FATAL(evb_ce_json_encode(ev, &text, NULL), EVB_OK);
        evb_event *back = NULL;
        evb_error err;
        evb_err rc = evb_ce_json_decode(text, strlen(text), &back, &err);
        EVB_CHECK_ROW(rc == EVB_OK, "row %zu decode: %s (%s)", i, err.message, err.pointer);
        if (back != NULL && rows[i].kind != EVB_CE_DATA_JSON) {
            EVB_CHECK_ROW(back->data_len == rows[i].n &&
                              (rows[i].n == 0 || memcmp(back->data, rows[i].data, rows[i].n) == 0),
                          "row %zu data differs after round trip", i);
        }
        evb_event_free(back);
        free(text);
        json_decref(j);
        evb_event_free(ev);
    }
}

static void test_round_trip(void)
{
    const char *payload = "{\"name\":\"Acme \\u00e9\",\"n\":[1,2,{\"k\":null}]}";
    evb_event *ev = make_event("application/json", payload, strlen(payload));
    char *text = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_ce_json_encode(ev, &text, NULL), EVB_OK);
    evb_event *back = NULL;
    evb_error err;
    CU_ASSERT_EQUAL_FATAL(evb_ce_json_decode(text, strlen(text), &back, &err), EVB_OK);
    CU_ASSERT_STRING_EQUAL(back->id, ev->id);
    CU_ASSERT_STRING_EQUAL(back->source, ev->source);
    CU_ASSERT_STRING_EQUAL(back->type, ev->type);
    CU_ASSERT_STRING_EQUAL(back->subject, ev->subject);
    CU_ASSERT_STRING_EQUAL(back->time, ev->time);
    CU_ASSERT_EQUAL(back->time_ms, 1705314600123);
    CU_ASSERT_STRING_EQUAL(back->datacontenttype, ev->datacontenttype);
    CU_ASSERT_PTR_NULL(back->dataschema);
    CU_ASSERT_STRING_EQUAL(back->org, "org-1");
    CU_ASSERT_STRING_EQUAL(back->connector, "xbongbong-crm");
    CU_ASSERT_EQUAL_FATAL(back->n_ext, 2);
    CU_ASSERT_STRING_EQUAL(back->ext[0].name, "priority");
    CU_ASSERT_STRING_EQUAL(back->ext[1].name, "traceparent");
    /* JSON data comes back as an equal JSON value */
    json_t *a = json_loadb((const char *)back->data, back->data_len, 0, NULL);
    json_t *b = json_loads(payload, 0, NULL);
    CU_ASSERT(a != NULL && json_equal(a, b));
    json_decref(a);
    json_decref(b);
    /* re-encoding the decoded event gives an equal document (the payload's "\u00e9" is
     * spelt as UTF-8 after decoding, so the texts may differ) */
    char *again = NULL;
    CU_ASSERT_EQUAL(evb_ce_json_encode(back, &again, NULL), EVB_OK);
    json_t *x = json_loads(again, 0, NULL), *y = json_loads(text, 0, NULL);
    CU_ASSERT(x != NULL && y != NULL && json_equal(x, y));
    json_decref(x);
    json_decref(y);
    free(again);
    free(text);
    evb_event_free(back);
    evb_event_free(ev);
}

static void test_binary_round_trip(void)
{
    uint8_t bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (uint8_t)(255 - i);
    evb_event *ev = make_event("application/octet-stream", bin, sizeof bin);
    json_t *j = encode_parse(ev, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_PTR_NULL(json_object_get(j, "data"));
    CU_ASSERT_EQUAL(strlen(jstr(j, "data_base64")), 344);
    json_decref(j);
    char *text = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_ce_json_encode(ev, &text, NULL), EVB_OK);
    evb_event *back = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_ce_json_decode(text, strlen(text), &back, NULL), EVB_OK);
    CU_ASSERT_EQUAL(back->data_len, sizeof bin);
    CU_ASSERT_EQUAL(memcmp(back->data, bin, sizeof bin), 0);
    free(text);
    evb_event_free(back);
    evb_event_free(ev);
}

static void test_batch(void)
{
    evb_event *evs[3];
    evs[0] = make_event("application/json", "{\"i\":0}", 7);
    evs[1] = make_event("text/plain", "one", 3);
    evs[2] = make_event("application/octet-stream", "\x01\x02", 2);
    free(evs[1]->id);
    evs[1]->id = evb_strdup("second");
    char *text = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(evb_ce_json_encode_batch((const evb_event *const *)evs, 3, &text, &len),
                          EVB_OK);
    json_t *arr = json_loads(text, 0, NULL);
    CU_ASSERT(json_is_array(arr) && json_array_size(arr) == 3);
    CU_ASSERT_STRING_EQUAL(jstr(json_array_get(arr, 1), "id"), "second");
    CU_ASSERT_STRING_EQUAL(jstr(json_array_get(arr, 1), "data"), "one");
    json_decref(arr);
    evb_event **back = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_ce_json_decode_batch(text, len, &back, &n, NULL), EVB_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_STRING_EQUAL(back[1]->id, "second");
    CU_ASSERT_EQUAL(back[2]->data_len, 2);
    evb_event_array_free(back, n);
    free(text);

    CU_ASSERT_EQUAL(evb_ce_json_encode_batch(NULL, 0, &text, &len), EVB_OK);
    CU_ASSERT_STRING_EQUAL(text, "[]");
    free(text);

    /* an error names the index */
    const char *bad =
        "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"},"
        "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"bad uri\",\"type\":\"t\"}]";
    evb_error err;
    CU_ASSERT_EQUAL(evb_ce_json_decode_batch(bad, strlen(bad), &back, &n, &err), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(err.pointer, "[1].source");
    for (int i = 0; i < 3; i++)
        evb_event_free(evs[i]);
}

static void test_decode_rejects(void)
{
    static const struct {
        const char *json;
        evb_err rc;
        const char *pointer;
    } rows[] = {
        {"not json", EVB_ERR_PARSE, ""},
        {"[]", EVB_ERR_INVALID, ""},
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", EVB_ERR_INVALID, "specversion"},
        {"{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", EVB_ERR_INVALID,
         "specversion"},
        {"{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}", EVB_ERR_INVALID, "id"},
        {"{\"specversion\":\"1.0\",\"id\":1,\"source\":\"/s\",\"type\":\"t\"}", EVB_ERR_INVALID,
         "id"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\"}",
         EVB_ERR_PARSE, ""},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"Bad\":\"x\"}",
         EVB_ERR_INVALID, "Bad"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"ext\":{}}",
         EVB_ERR_INVALID, "ext"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":1,"
         "\"data_base64\":\"AA==\"}",
         EVB_ERR_INVALID, "data_base64"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"data_base64\":\"AA=\"}",
         EVB_ERR_INVALID, "data_base64"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
         "\"time\":\"2024-13-01T00:00:00Z\"}",
         EVB_ERR_INVALID, "time"},
        {"{\"specversion\":\"1.0\",\"id\":\"a\\u0000b\",\"source\":\"/s\",\"type\":\"t\"}",
         EVB_ERR_PARSE, ""},
        {"{\"specversion\":\"1.0\",\"id\":\"a\\u0001b\",\"source\":\"/s\",\"type\":\"t\"}",
         EVB_ERR_INVALID, "id"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        evb_event *ev = NULL;
        evb_error err;
        evb_error_clear(&err);
        evb_err rc = evb_ce_json_decode(rows[i].json, strlen(rows[i].json), &ev, &err);
        EVB_CHECK_ROW(rc == rows[i].rc, "row %zu rc %d (%s)", i, rc, err.message);
        EVB_CHECK_ROW(strcmp(err.pointer, rows[i].pointer) == 0, "row %zu pointer '%s'", i,
                      err.pointer);
        CU_ASSERT_PTR_NULL(ev);
        evb_event_free(ev);
    }
}

static void test_decode_extension_types(void)
{
    const char *json = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\","
                       "\"zflag\":true,\"count\":-5,\"nothing\":null,\"subject\":null,"
                       "\"data\":\"text\",\"datacontenttype\":\"text/plain\"}";
    evb_event *ev = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_ce_json_decode(json, strlen(json), &ev, NULL), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(ev->n_ext, 2);
    CU_ASSERT_STRING_EQUAL(ev->ext[0].name, "count");
    CU_ASSERT_STRING_EQUAL(ev->ext[0].value, "-5");
    CU_ASSERT_STRING_EQUAL(ev->ext[1].name, "zflag");
    CU_ASSERT_STRING_EQUAL(ev->ext[1].value, "true");
    CU_ASSERT_PTR_NULL(ev->subject);
    CU_ASSERT_EQUAL(ev->data_len, 4);
    CU_ASSERT_EQUAL(memcmp(ev->data, "text", 4), 0);
    evb_event_free(ev);
}

static void test_encode_rejects_collision(void)
{
    evb_event *ev = make_event("application/json", "{}", 2);
    free(ev->ext[0].name);
    ev->ext[0].name = evb_strdup("orgid"); /* would shadow our own extension */
    char *text = NULL;
    CU_ASSERT_EQUAL(evb_ce_json_encode(ev, &text, NULL), EVB_ERR_INVALID);
    CU_ASSERT_PTR_NULL(text);
    free(ev->ext[0].name);
    ev->ext[0].name = evb_strdup("data");
    CU_ASSERT_EQUAL(evb_ce_json_encode(ev, &text, NULL), EVB_ERR_INVALID);
    evb_event_free(ev);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"json_data_embedded", test_json_data_embedded},
        {"json_data_kinds", test_json_data_kinds},
        {"round_trip", test_round_trip},
        {"binary_round_trip", test_binary_round_trip},
        {"batch", test_batch},
        {"decode_rejects", test_decode_rejects},
        {"decode_extension_types", test_decode_extension_types},
        {"encode_rejects_collision", test_encode_rejects_collision},
        {NULL, NULL},
    };
    return evb_unit_run("cloudevents/json", cases);
}
