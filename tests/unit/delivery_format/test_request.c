/* evbridge tests — HTTP action requests (request.h): target parsing, binary and
 * structured mode, transforms, auth, custom headers, trace headers, Standard Webhooks
 * headers, and that nothing from the config or the event can inject a header line. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "fmt_test.h"
#include "server/cloudevents/ce_json.h"
#include "server/delivery/request.h"
#include "server/delivery/signing.h"

#define URL "https://hooks.example.com/in"
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define JSON_DATA "{\"name\":\"Zoë\",\"n\":1}"

static evb_http_target *target(const char *http_members)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "{\"description\":\"\",\"http\":{\"url\":\"" URL "\"%s%s}}",
             http_members[0] ? "," : "", http_members);
    evb_http_target *t = NULL;
    evb_error e;
    evb_err rc = evb_http_target_parse(cfg, &t, &e);
    if (rc != EVB_OK)
        fprintf(stderr, "target parse: %s (%s)\n", e.message, cfg);
    CU_ASSERT_EQUAL_FATAL(rc, EVB_OK);
    return t;
}

static evb_transform *transform(evb_transform_mode mode, const char *value, const char *var,
                                const char *path)
{
    evb_transform *tr = NULL;
    const char *names[] = {var}, *paths[] = {path};
    CU_ASSERT_EQUAL_FATAL(evb_transform_compile(mode, value, names, paths, var ? 1 : 0, &tr, NULL),
                          EVB_OK);
    return tr;
}

/* Builds with delivery id "d1" at t=1700000000; asserts success. */
static void build(const evb_http_target *t, const evb_transform *tr, const evb_event *ev,
                  evb_http_request *r)
{
    evb_error e;
    evb_err rc = evb_http_request_build(t, tr, ev, "d1", 1700000000, r, &e);
    if (rc != EVB_OK)
        fprintf(stderr, "build: %s\n", e.message);
    CU_ASSERT_EQUAL_FATAL(rc, EVB_OK);
}

static int no_crlf(const evb_http_request *r)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strpbrk(r->headers[i], "\r\n") != NULL)
            return 0;
    return 1;
}

static void binary_headers(void)
{
    evb_http_target *t = target("");
    evb_event *ev =
        ev_make("application/json", "Euro € 😀 \"q\" 100%", JSON_DATA, strlen(JSON_DATA));
    ev_ext(ev, "region", "华东");
    ev_ext(ev, "tenant", "t 1");
    evb_http_request r;
    build(t, NULL, ev, &r);
    static const char *const want[] = {
        "Content-Type: application/json",
        "ce-specversion: 1.0",
        "ce-id: e1",
        "ce-source: /connectors/crm",
        "ce-type: customer.changed",
        "ce-subject: Euro%20%E2%82%AC%20%F0%9F%98%80%20%22q%22%20100%25",
        "ce-time: 2024-01-02T03:04:05Z",
        "ce-orgid: o1",
        "ce-connector: crm",
        "ce-region: %E5%8D%8E%E4%B8%9C",
        "ce-tenant: t%201",
        "webhook-id: d1",
    };
    CU_ASSERT_EQUAL_FATAL(r.n_headers, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < r.n_headers; i++)
        CU_ASSERT_STRING_EQUAL(r.headers[i], want[i]);
    CU_ASSERT_STRING_EQUAL(r.url, URL);
    CU_ASSERT_STRING_EQUAL(r.method, "POST");
    CU_ASSERT_EQUAL(r.timeout_ms, EVB_HTTP_TIMEOUT_DEFAULT_MS);
    CU_ASSERT_EQUAL(r.body_len, strlen(JSON_DATA));
    CU_ASSERT_STRING_EQUAL(r.body, JSON_DATA);
    evb_http_request_fini(&r);
    evb_event_free(ev);
    evb_http_target_free(t);
}

static void binary_content_type(void)
{
    static const struct {
        const char *dct, *data;
        size_t len;
        const char *want; /* NULL = no Content-Type */
    } cases[] = {
        {"application/json", "{}", 2, "application/json"},
        {"text/plain; charset=utf-8", "hi", 2, "text/plain; charset=utf-8"},
        {"application/vnd.crm+json", "[1]", 3, "application/vnd.crm+json"},
        {"application/octet-stream", "\x00\x01\xff", 3, "application/octet-stream"},
        {NULL, "{\"a\":1}", 7, "application/json"},            /* absent: JSON when it is */
        {NULL, "\x00\x01\xff", 3, "application/octet-stream"}, /* absent, not JSON */
        {"application/json", NULL, 0, "application/json"},     /* no data: the attribute stays */
        {NULL, NULL, 0, NULL},                                 /* nothing to say: no header */
    };
    evb_http_target *t = target("\"method\":\"PUT\",\"timeout_ms\":2500");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_event *ev = ev_make(cases[i].dct, NULL, cases[i].data, cases[i].len);
        evb_http_request r;
        build(t, NULL, ev, &r);
        const char *ct = evb_http_request_header(&r, "content-type");
        if (cases[i].want == NULL) {
            CU_ASSERT_PTR_NULL(ct);
        } else {
            CU_ASSERT(ct != NULL && strcmp(ct, cases[i].want) == 0);
        }
        CU_ASSERT_EQUAL(r.body_len, cases[i].len);
        CU_ASSERT(cases[i].len == 0 || memcmp(r.body, cases[i].data, cases[i].len) == 0);
        CU_ASSERT_EQUAL(hdr_count(&r, "ce-datacontenttype"), 0);
        CU_ASSERT_STRING_EQUAL(r.method, "PUT");
        CU_ASSERT_EQUAL(r.timeout_ms, 2500);
        evb_http_request_fini(&r);
        evb_event_free(ev);
    }
    evb_http_target_free(t);
}

static void structured_body(void)
{
    static const struct {
        const char *dct, *data;
        size_t len;
        const char *member; /* "data" (JSON), "data_base64" or NULL (no data) */
        json_type type;
    } cases[] = {
        {"application/json", JSON_DATA, sizeof JSON_DATA - 1, "data", JSON_OBJECT},
        {"application/json", "[1,2]", 5, "data", JSON_ARRAY},
        {"text/plain", "hello", 5, "data", JSON_STRING},
        {"application/octet-stream", "\x00\x01\xff", 3, "data_base64", JSON_STRING},
        {"application/json", NULL, 0, NULL, JSON_NULL},
    };
    evb_http_target *t = target("\"content_mode\":2");
    CU_ASSERT_EQUAL(evb_http_target_content_mode(t), EVB_CONTENT_STRUCTURED);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_event *ev = ev_make(cases[i].dct, "s", cases[i].data, cases[i].len);
        ev_ext(ev, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        evb_http_request r;
        build(t, NULL, ev, &r);
        CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "Content-Type"),
                               "application/cloudevents+json; charset=UTF-8");
        CU_ASSERT_EQUAL(hdr_count(&r, "ce-id"), 0);
        CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "traceparent"),
                               "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        json_t *j = json_loadb(r.body, r.body_len, JSON_REJECT_DUPLICATES, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(j);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "specversion")), "1.0");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "id")), "e1");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "orgid")), "o1");
        CU_ASSERT_PTR_NOT_NULL(json_object_get(j, "traceparent"));
        if (cases[i].member == NULL) {
            CU_ASSERT_PTR_NULL(json_object_get(j, "data"));
            CU_ASSERT_PTR_NULL(json_object_get(j, "data_base64"));
        } else {
            json_t *d = json_object_get(j, cases[i].member);
            CU_ASSERT(d != NULL && json_typeof(d) == cases[i].type);
        }
        /* the body reads back as the same event */
        evb_event *back = NULL;
        CU_ASSERT_EQUAL(evb_ce_json_decode(r.body, r.body_len, &back, NULL), EVB_OK);
        if (back != NULL && cases[i].member != NULL && cases[i].type != JSON_OBJECT)
            CU_ASSERT(back->data_len == cases[i].len &&
                      memcmp(back->data, cases[i].data, cases[i].len) == 0);
        evb_event_free(back);
        json_decref(j);
        evb_http_request_fini(&r);
        evb_event_free(ev);
    }
    evb_http_target_free(t);
}

static void transforms(void)
{
    static const struct {
        int structured;
        evb_transform_mode mode;
        const char *value, *var, *path;
        const char *want_body, *want_ct;
    } cases[] = {
        {0, EVB_TRANSFORM_DATA, "", NULL, NULL, JSON_DATA, "application/json"},
        {1, EVB_TRANSFORM_DATA, "", NULL, NULL, JSON_DATA, "application/json"},
        {0, EVB_TRANSFORM_JSONPATH, "$.data.name", NULL, NULL, "\"Zoë\"", "application/json"},
        {1, EVB_TRANSFORM_JSONPATH, "$.subject", NULL, NULL, "\"sub\"", "application/json"},
        {0, EVB_TRANSFORM_JSONPATH, "$.data.missing", NULL, NULL, "null", "application/json"},
        {0, EVB_TRANSFORM_TEMPLATE, "Hello ${n}!", "n", "$.data.name", "Hello Zoë!",
         "text/plain; charset=utf-8"},
        {1, EVB_TRANSFORM_TEMPLATE, "{\"who\":\"${n}\",\"id\":${i}}", NULL, NULL, NULL, NULL},
        {0, EVB_TRANSFORM_CONSTANT, "{\"ping\":true}", NULL, NULL, "{\"ping\":true}",
         "application/json"},
    };
    evb_http_target *bin = target(""), *st = target("\"content_mode\":2");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_transform *tr = NULL;
        if (cases[i].want_body == NULL) { /* two vars: compile directly */
            const char *names[] = {"n", "i"}, *paths[] = {"$.data.name", "$.id"};
            CU_ASSERT_EQUAL_FATAL(
                evb_transform_compile(cases[i].mode, cases[i].value, names, paths, 2, &tr, NULL),
                EVB_OK);
        } else {
            tr = transform(cases[i].mode, cases[i].value, cases[i].var, cases[i].path);
        }
        evb_event *ev = ev_make("application/json", "sub", JSON_DATA, strlen(JSON_DATA));
        evb_http_request r;
        build(cases[i].structured ? st : bin, tr, ev, &r);
        const char *want =
            cases[i].want_body ? cases[i].want_body : "{\"who\":\"Zoë\",\"id\":\"e1\"}";
        const char *ct = cases[i].want_ct ? cases[i].want_ct : "application/json";
        CU_ASSERT_STRING_EQUAL(r.body, want);
        CU_ASSERT_EQUAL(r.body_len, strlen(want));
        CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "Content-Type"), ct);
        CU_ASSERT_EQUAL(hdr_count(&r, "Content-Type"), 1);
        /* binary mode: the ce- headers still describe the event; structured: none */
        CU_ASSERT_EQUAL(hdr_count(&r, "ce-id"), cases[i].structured ? 0 : 1);
        CU_ASSERT_EQUAL(hdr_count(&r, "ce-type"), cases[i].structured ? 0 : 1);
        evb_http_request_fini(&r);
        evb_event_free(ev);
        evb_transform_free(tr);
    }
    /* ORIGINAL is "no transform": the content mode decides */
    evb_transform *orig = transform(EVB_TRANSFORM_ORIGINAL, "", NULL, NULL);
    evb_event *ev = ev_make("application/json", NULL, JSON_DATA, strlen(JSON_DATA));
    evb_http_request r;
    build(bin, orig, ev, &r);
    CU_ASSERT_STRING_EQUAL(r.body, JSON_DATA);
    CU_ASSERT_EQUAL(hdr_count(&r, "ce-id"), 1);
    evb_http_request_fini(&r);
    build(st, orig, ev, &r);
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "Content-Type"), EVB_CE_JSON_CONTENT_TYPE);
    evb_http_request_fini(&r);
    evb_event_free(ev);
    /* DATA of a binary payload: the bytes and the datacontenttype */
    evb_transform *data = transform(EVB_TRANSFORM_DATA, "", NULL, NULL);
    ev = ev_make("image/png", NULL, "\x89PNG\x00\xff", 6);
    build(bin, data, ev, &r);
    CU_ASSERT_EQUAL(r.body_len, 6);
    CU_ASSERT(memcmp(r.body, "\x89PNG\x00\xff", 6) == 0);
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "Content-Type"), "image/png");
    evb_http_request_fini(&r);
    evb_event_free(ev);
    evb_transform_free(data);
    evb_transform_free(orig);
    evb_http_target_free(bin);
    evb_http_target_free(st);
}

static void auth_headers(void)
{
    static const struct {
        const char *members, *name, *value;
    } cases[] = {
        {"\"auth\":{\"kind\":2,\"username\":\"Aladdin\",\"password\":\"open sesame\"}",
         "Authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
        {"\"auth\":{\"kind\":2,\"username\":\"u\",\"password\":\"\"}", "Authorization",
         "Basic dTo="},
        {"\"auth\":{\"kind\":3,\"token\":\"tok.en-1\"}", "Authorization", "Bearer tok.en-1"},
        {"\"auth\":{\"kind\":4,\"header\":\"X-Api-Key\",\"api_key\":\"k 1\"}", "X-Api-Key", "k 1"},
        {"\"auth\":{\"kind\":1}", NULL, NULL},
        {"\"auth\":{\"kind\":0}", NULL, NULL},
    };
    evb_event *ev = ev_make("application/json", NULL, "{}", 2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_http_target *t = target(cases[i].members);
        evb_http_request r;
        build(t, NULL, ev, &r);
        if (cases[i].name == NULL) {
            CU_ASSERT_EQUAL(hdr_count(&r, "Authorization"), 0);
        } else {
            CU_ASSERT_EQUAL(hdr_count(&r, cases[i].name), 1);
            const char *v = evb_http_request_header(&r, cases[i].name);
            CU_ASSERT(v != NULL && strcmp(v, cases[i].value) == 0);
        }
        evb_http_request_fini(&r);
        evb_http_target_free(t);
    }
    evb_event_free(ev);
}

static void custom_headers(void)
{
    evb_http_target *t = target("\"headers\":{\"X-Team\":\"billing\",\"X-Empty\":\"\","
                                "\"traceparent\":\"00-custom\"}");
    evb_event *ev = ev_make("application/json", NULL, "{}", 2);
    ev_ext(ev, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    ev_ext(ev, "tracestate", "congo=t61rcWkgMzE");
    evb_http_request r;
    build(t, NULL, ev, &r);
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "X-Team"), "billing");
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "X-Empty"), "");
    /* the event's trace context wins over a configured header of the same name */
    CU_ASSERT_EQUAL(hdr_count(&r, "traceparent"), 1);
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "traceparent"),
                           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "tracestate"), "congo=t61rcWkgMzE");
    /* binary mode keeps the extension as ce-traceparent too */
    CU_ASSERT_EQUAL(hdr_count(&r, "ce-traceparent"), 1);
    CU_ASSERT_EQUAL(hdr_count(&r, "ce-tracestate"), 1);
    evb_http_request_fini(&r);
    evb_event_free(ev);
    evb_http_target_free(t);
}

static void target_errors(void)
{
    static const struct {
        const char *cfg, *pointer;
        evb_err code;
    } cases[] = {
        {"not json", "", EVB_ERR_PARSE},
        {"{\"robot\":{}}", "http", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"ftp://x/\"}}", "http.url", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/a b\"}}", "http.url", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\\r\\nX-Evil: 1\"}}", "http.url", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"method\":\"GET\"}}", "http.method", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"content_mode\":3}}", "http.content_mode",
         EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"timeout_ms\":-1}}", "http.timeout_ms",
         EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"signing_secret\":\"nope\"}}", "http.signing_secret",
         EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"headers\":{\"X-A\":\"v\\r\\nX-Evil: 1\"}}}",
         "http.headers", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"headers\":{\"X-A\":\"v\\nw\"}}}", "http.headers",
         EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"headers\":{\"Bad Name\":\"v\"}}}", "http.headers",
         EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"headers\":{\"ce-id\":\"v\"}}}", "http.headers",
         EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"headers\":{\"Webhook-Signature\":\"v\"}}}",
         "http.headers", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"headers\":{\"X-A\":1}}}", "http.headers",
         EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"auth\":{\"kind\":2,\"username\":\"a:b\"}}}",
         "http.auth.username", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"auth\":{\"kind\":2,\"username\":\"a\","
         "\"password\":\"p\\r\\n\"}}}",
         "http.auth.username", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"auth\":{\"kind\":3,\"token\":\"a\\r\\nb\"}}}",
         "http.auth.token", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"auth\":{\"kind\":3}}}", "http.auth.token",
         EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"auth\":{\"kind\":4,\"header\":\"Authorization\","
         "\"api_key\":\"k\"}}}",
         "http.auth", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"auth\":{\"kind\":4,\"header\":\"X-K\","
         "\"api_key\":\"k\\n\"}}}",
         "http.auth", EVB_ERR_INVALID},
        {"{\"http\":{\"url\":\"https://x/\",\"auth\":{\"kind\":9}}}", "http.auth.kind",
         EVB_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_http_target *t = NULL;
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_http_target_parse(cases[i].cfg, &t, &e);
        CU_ASSERT_EQUAL(rc, cases[i].code);
        CU_ASSERT_STRING_EQUAL(e.pointer, cases[i].pointer);
        CU_ASSERT_PTR_NULL(t);
        if (rc != cases[i].code || strcmp(e.pointer, cases[i].pointer) != 0)
            fprintf(stderr, "case %zu: rc %d pointer '%s' (%s)\n", i, rc, e.pointer, e.message);
        evb_http_target_free(t);
    }
    evb_http_target *t = NULL;
    CU_ASSERT_EQUAL(evb_http_target_parse(NULL, &t, NULL), EVB_ERR_INVALID);
}

static void no_injection(void)
{
    evb_http_target *t = target("\"signing_secret\":\"" SECRET "\"");
    evb_event *ev = ev_make("application/json", "a\r\nX-Evil: 1", "{}", 2);
    ev_ext(ev, "note", "x\ny\r\n\r\nbody");
    ev_ext(ev, "traceparent", "00-abc\r\nX-Evil: 1");
    evb_http_request r;
    build(t, NULL, ev, &r);
    CU_ASSERT(no_crlf(&r));
    CU_ASSERT_EQUAL(hdr_count(&r, "X-Evil"), 0);
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "ce-subject"), "a%0D%0AX-Evil:%201");
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "ce-note"), "x%0Ay%0D%0A%0D%0Abody");
    CU_ASSERT_EQUAL(hdr_count(&r, "traceparent"), 0); /* not a plain value: ce- only */
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "ce-traceparent"),
                           "00-abc%0D%0AX-Evil:%201");
    evb_http_request_fini(&r);
    /* a delivery id that is not a plain token is refused */
    static const char *const bad_ids[] = {"d\r\n1", "a.b", "", "with space", NULL};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        evb_error e;
        memset(&r, 0x5a, sizeof r);
        CU_ASSERT_EQUAL(evb_http_request_build(t, NULL, ev, bad_ids[i], 1, &r, &e),
                        EVB_ERR_INVALID);
        CU_ASSERT_STRING_EQUAL(e.pointer, "delivery_id");
        CU_ASSERT_PTR_NULL(r.url);
        CU_ASSERT_EQUAL(r.n_headers, 0);
    }
    /* a datacontenttype with a line break (stored text the rules would refuse) */
    free(ev->datacontenttype);
    ev->datacontenttype = strdup("application/json\r\nX-Evil: 1");
    CU_ASSERT_EQUAL(evb_http_request_build(t, NULL, ev, "d1", 1, &r, NULL), EVB_ERR_INVALID);
    evb_event_free(ev);
    /* an event missing a required attribute cannot be sent in binary mode */
    ev = ev_make("application/json", NULL, "{}", 2);
    free(ev->source);
    ev->source = NULL;
    evb_error e;
    CU_ASSERT_EQUAL(evb_http_request_build(t, NULL, ev, "d1", 1, &r, &e), EVB_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(e.pointer, "event");
    evb_event_free(ev);
    evb_http_target_free(t);
}

static void webhook_signature(void)
{
    /* the notes' vector through a whole request: the body is the event's data */
    static const char body[] = "{\"test\": 2432232314}";
    evb_http_target *t = target("\"signing_secret\":\"" SECRET "\"");
    CU_ASSERT(evb_http_target_signs(t));
    evb_event *ev = ev_make("application/json", NULL, body, strlen(body));
    evb_http_request r;
    CU_ASSERT_EQUAL_FATAL(
        evb_http_request_build(t, NULL, ev, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, &r, NULL),
        EVB_OK);
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "webhook-id"),
                           "msg_p5jXN8AQM9LWM0D4loKWxJek");
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "webhook-timestamp"), "1614265330");
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "webhook-signature"),
                           "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* the last three headers, in this order */
    CU_ASSERT(strncmp(r.headers[r.n_headers - 3], "webhook-id:", 11) == 0);
    CU_ASSERT(strncmp(r.headers[r.n_headers - 1], "webhook-signature:", 18) == 0);
    evb_http_request_fini(&r);
    /* a retry: same id, new timestamp, new signature over the same body */
    CU_ASSERT_EQUAL_FATAL(
        evb_http_request_build(t, NULL, ev, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265400, &r, NULL),
        EVB_OK);
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "webhook-timestamp"), "1614265400");
    CU_ASSERT_STRING_NOT_EQUAL(evb_http_request_header(&r, "webhook-signature"),
                               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    evb_http_request_fini(&r);
    evb_event_free(ev);
    /* structured mode signs the JSON body it sends */
    evb_http_target *st = target("\"content_mode\":2,\"signing_secret\":\"" SECRET "\"");
    ev = ev_make("application/json", NULL, body, strlen(body));
    CU_ASSERT_EQUAL_FATAL(evb_http_request_build(st, NULL, ev, "d9", 1614265330, &r, NULL), EVB_OK);
    uint8_t key[EVB_WEBHOOK_KEY_MAX];
    size_t klen = 0;
    char want[EVB_WEBHOOK_SIG_LEN];
    CU_ASSERT_EQUAL(evb_webhook_secret_decode(SECRET, key, &klen), EVB_OK);
    CU_ASSERT_EQUAL(
        evb_webhook_sign(key, klen, "d9", 1614265330, r.body, r.body_len, want, sizeof want),
        EVB_OK);
    CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "webhook-signature"), want);
    evb_http_request_fini(&r);
    /* unsigned target: webhook-id only; no delivery id: none */
    evb_http_target *plain = target("");
    CU_ASSERT(!evb_http_target_signs(plain));
    build(plain, NULL, ev, &r);
    CU_ASSERT_EQUAL(hdr_count(&r, "webhook-id"), 1);
    CU_ASSERT_EQUAL(hdr_count(&r, "webhook-timestamp"), 0);
    CU_ASSERT_EQUAL(hdr_count(&r, "webhook-signature"), 0);
    evb_http_request_fini(&r);
    CU_ASSERT_EQUAL_FATAL(evb_http_request_build(plain, NULL, ev, NULL, 1, &r, NULL), EVB_OK);
    CU_ASSERT_EQUAL(hdr_count(&r, "webhook-id"), 0);
    evb_http_request_fini(&r);
    evb_event_free(ev);
    evb_http_target_free(plain);
    evb_http_target_free(st);
    evb_http_target_free(t);
}

static void transform_too_large(void)
{
    /* a JSONPATH of a payload over the transform cap fails with TOO_LARGE, nothing leaks */
    size_t n = EVB_TRANSFORM_MAX_OUTPUT + 16;
    char *big = malloc(n + 3);
    big[0] = '"';
    memset(big + 1, 'a', n);
    big[n + 1] = '"';
    big[n + 2] = '\0';
    evb_event *ev = ev_make("application/json", NULL, big, n + 2);
    evb_transform *tr = transform(EVB_TRANSFORM_JSONPATH, "$.data", NULL, NULL);
    evb_http_target *t = target("");
    evb_http_request r;
    CU_ASSERT_EQUAL(evb_http_request_build(t, tr, ev, "d1", 1, &r, NULL), EVB_ERR_TOO_LARGE);
    CU_ASSERT_PTR_NULL(r.body);
    evb_http_target_free(t);
    evb_transform_free(tr);
    evb_event_free(ev);
    free(big);
}

const fmt_case REQUEST_CASES[] = {
    {"binary mode: ce- headers, percent-encoding, order", binary_headers},
    {"binary mode: Content-Type from datacontenttype", binary_content_type},
    {"structured mode: CloudEvents JSON body", structured_body},
    {"transforms: DATA, JSONPATH, TEMPLATE, CONSTANT, ORIGINAL", transforms},
    {"auth: basic, bearer, api-key", auth_headers},
    {"custom and trace headers", custom_headers},
    {"target config errors", target_errors},
    {"no CR/LF injection", no_injection},
    {"Standard Webhooks headers", webhook_signature},
    {"transform output cap", transform_too_large},
    {NULL, NULL},
};
