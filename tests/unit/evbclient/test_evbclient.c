/* Unit tests of the libevbclient codec (no server): requests encoded by nanopb are decoded
 * with the project's protobuf-c code (evb_proto) and compared field by field; responses
 * packed by protobuf-c are decoded by the library (truncation, violations, result caps);
 * argument checks and buffer limits. Allocation counting is in test_evbclient_alloc.c.
 */
#include <CUnit/Basic.h>
#include <evbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbridge/v1/events.pb-c.h"

/* ---- request encoding ------------------------------------------------------------------ */

static const uint8_t bin[] = {0x00, 0x01, 0xff, 0x7b, 0x00, 0x22};

static void test_encode_round_trip(void)
{
    evb_client_extension ext[] = {{"region", "cn"}, {"seq", "1"}, {"empty", ""}};
    evb_client_entry e[3];
    memset(e, 0, sizeof e);
    e[0] = (evb_client_entry){.id = "evt-1",
                              .org = "org-a",
                              .type = "t.changed",
                              .subject = "customer/c1",
                              .time = "2024-05-01T10:20:30Z",
                              .datacontenttype = "application/json",
                              .data = "{\"k\":1}",
                              .data_len = 7,
                              .extensions = ext,
                              .n_extensions = 3};
    e[1] = (evb_client_entry){.org = "org-b",
                              .type = "t.bin",
                              .datacontenttype = "application/octet-stream",
                              .data = bin,
                              .data_len = sizeof bin};
    e[2] = (evb_client_entry){.id = "\xe4\xb8\xad\xe6\x96\x87", .org = "org-c"}; /* no data */

    uint8_t buf[1024];
    size_t len = 0, size = 0;
    evb_client_error err;
    CU_ASSERT_EQUAL_FATAL(
        evb_client_encode_put_events("crm", e, 3, "req-1", buf, sizeof buf, &len, &err),
        EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(evb_client_encoded_size("crm", e, 3, "req-1", &size, &err), EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(size, len);
    CU_ASSERT_EQUAL(err.code, EVB_CLIENT_OK);

    Evbridge__V1__PutEventsRequest *r = evbridge__v1__put_events_request__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r->connector, "crm");
    CU_ASSERT_STRING_EQUAL(r->request_id, "req-1");
    CU_ASSERT_EQUAL_FATAL(r->n_entries, 3);
    Evbridge__V1__PutEventsEntry *a = r->entries[0], *b = r->entries[1], *c = r->entries[2];
    CU_ASSERT_STRING_EQUAL(a->id, "evt-1");
    CU_ASSERT_STRING_EQUAL(a->org, "org-a");
    CU_ASSERT_STRING_EQUAL(a->type, "t.changed");
    CU_ASSERT_STRING_EQUAL(a->subject, "customer/c1");
    CU_ASSERT_STRING_EQUAL(a->time, "2024-05-01T10:20:30Z");
    CU_ASSERT_STRING_EQUAL(a->datacontenttype, "application/json");
    CU_ASSERT_EQUAL(a->data.len, 7);
    CU_ASSERT(memcmp(a->data.data, "{\"k\":1}", 7) == 0);
    CU_ASSERT_EQUAL_FATAL(a->n_extensions, 3);
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(a->extensions[i]->key, ext[i].key);
        CU_ASSERT_STRING_EQUAL(a->extensions[i]->value, ext[i].value);
    }
    CU_ASSERT_STRING_EQUAL(b->id, "");
    CU_ASSERT_STRING_EQUAL(b->subject, "");
    CU_ASSERT_EQUAL(b->data.len, sizeof bin);
    CU_ASSERT(memcmp(b->data.data, bin, sizeof bin) == 0);
    CU_ASSERT_EQUAL(b->n_extensions, 0);
    CU_ASSERT_STRING_EQUAL(c->id, "\xe4\xb8\xad\xe6\x96\x87");
    CU_ASSERT_STRING_EQUAL(c->type, "");
    CU_ASSERT_EQUAL(c->data.len, 0);
    evbridge__v1__put_events_request__free_unpacked(r, NULL);
}

static void test_encode_no_request_id(void)
{
    evb_client_entry e = {.org = "o", .type = "t"};
    uint8_t buf[64];
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(
        evb_client_encode_put_events("c", &e, 1, NULL, buf, sizeof buf, &len, NULL), EVB_CLIENT_OK);
    Evbridge__V1__PutEventsRequest *r = evbridge__v1__put_events_request__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r->request_id, "");
    CU_ASSERT_EQUAL(r->n_entries, 1);
    evbridge__v1__put_events_request__free_unpacked(r, NULL);
}

/* 100 entries of 256 KiB each (the server's per-entry data limit): 25 MiB encoded exactly. */
static void test_encode_max_batch(void)
{
    size_t dlen = (size_t)256 * 1024;
    uint8_t *data = malloc(dlen);
    evb_client_entry *e = calloc(EVB_CLIENT_MAX_ENTRIES, sizeof *e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    for (size_t i = 0; i < dlen; i++)
        data[i] = (uint8_t)(i * 31u);
    for (size_t i = 0; i < EVB_CLIENT_MAX_ENTRIES; i++)
        e[i] = (evb_client_entry){.org = "org", .type = "t", .data = data, .data_len = dlen};
    size_t size = 0, len = 0;
    CU_ASSERT_EQUAL_FATAL(evb_client_encoded_size("c", e, EVB_CLIENT_MAX_ENTRIES, "r", &size, NULL),
                          EVB_CLIENT_OK);
    CU_ASSERT(size > EVB_CLIENT_MAX_ENTRIES * dlen);
    uint8_t *buf = malloc(size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    CU_ASSERT_EQUAL(
        evb_client_encode_put_events("c", e, EVB_CLIENT_MAX_ENTRIES, "r", buf, size, &len, NULL),
        EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(len, size);
    Evbridge__V1__PutEventsRequest *r = evbridge__v1__put_events_request__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->n_entries, EVB_CLIENT_MAX_ENTRIES);
    CU_ASSERT_EQUAL(r->entries[99]->data.len, dlen);
    CU_ASSERT(memcmp(r->entries[99]->data.data, data, dlen) == 0);
    evbridge__v1__put_events_request__free_unpacked(r, NULL);
    free(buf);
    free(e);
    free(data);
}

static void test_encode_nospace(void)
{
    evb_client_entry e = {.org = "org", .type = "type", .data = "12345678", .data_len = 8};
    uint8_t buf[256];
    size_t need = 0, len = 7;
    evb_client_error err;
    CU_ASSERT_EQUAL_FATAL(evb_client_encoded_size("c", &e, 1, "rid", &need, NULL), EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(evb_client_encode_put_events("c", &e, 1, "rid", buf, need - 1, &len, &err),
                    EVB_CLIENT_ERR_NOSPACE);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(err.code, EVB_CLIENT_ERR_NOSPACE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "bytes"));
    CU_ASSERT_EQUAL(evb_client_encode_put_events("c", &e, 1, "rid", NULL, 0, &len, NULL),
                    EVB_CLIENT_ERR_NOSPACE);
    CU_ASSERT_EQUAL(evb_client_encode_put_events("c", &e, 1, "rid", buf, need, &len, NULL),
                    EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(len, need);
}

/* Table: argument errors, all EVB_CLIENT_ERR_INVALID with a message naming the field. */
static void test_encode_argument_checks(void)
{
    evb_client_entry ok = {.org = "o", .type = "t"};
    evb_client_entry nodata = {.org = "o", .data = NULL, .data_len = 3};
    evb_client_entry noext = {.org = "o", .extensions = NULL, .n_extensions = 1};
    evb_client_extension badkey[] = {{NULL, "v"}};
    evb_client_entry extkey = {.org = "o", .extensions = badkey, .n_extensions = 1};
    static evb_client_entry many[EVB_CLIENT_MAX_ENTRIES + 1];
    struct {
        const char *connector;
        const evb_client_entry *e;
        size_t n;
        const char *word;
    } cases[] = {
        {NULL, &ok, 1, "connector"},
        {"", &ok, 1, "connector"},
        {"c", NULL, 1, "entries"},
        {"c", &ok, 0, "entries"},
        {"c", many, EVB_CLIENT_MAX_ENTRIES + 1, "entries"},
        {"c", &nodata, 1, "entries[0].data"},
        {"c", &noext, 1, "entries[0].extensions"},
        {"c", &extkey, 1, "entries[0].extensions[0].key"},
    };
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_client_error err;
        size_t len = 99, size = 99;
        CU_ASSERT_EQUAL(evb_client_encode_put_events(cases[i].connector, cases[i].e, cases[i].n,
                                                     NULL, buf, sizeof buf, &len, &err),
                        EVB_CLIENT_ERR_INVALID);
        CU_ASSERT_EQUAL(len, 0);
        if (strstr(err.message, cases[i].word) == NULL)
            fprintf(stderr, "case %zu: %s\n", i, err.message);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].word));
        CU_ASSERT_EQUAL(
            evb_client_encoded_size(cases[i].connector, cases[i].e, cases[i].n, NULL, &size, NULL),
            EVB_CLIENT_ERR_INVALID);
    }
    /* exactly the maximum is fine */
    for (size_t i = 0; i < EVB_CLIENT_MAX_ENTRIES; i++)
        many[i] = ok;
    size_t size = 0;
    CU_ASSERT_EQUAL(evb_client_encoded_size("c", many, EVB_CLIENT_MAX_ENTRIES, NULL, &size, NULL),
                    EVB_CLIENT_OK);
}

/* ---- response decoding ----------------------------------------------------------------- */

/* Packs a response with protobuf-c. */
static uint8_t *pack_response(Evbridge__V1__PutEventsResponse *m, size_t *len)
{
    *len = evbridge__v1__put_events_response__get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    CU_ASSERT_EQUAL(evbridge__v1__put_events_response__pack(m, buf), *len);
    return buf;
}

static void test_decode_response(void)
{
    /* a long message whose cut point falls inside a 3-byte UTF-8 character */
    char longmsg[600];
    memset(longmsg, 'm', sizeof longmsg);
    memcpy(longmsg + EVB_CLIENT_ERROR_MESSAGE_SIZE - 2, "\xe4\xb8\xad", 3);
    longmsg[sizeof longmsg - 1] = '\0';

    Evbridge__V1__Violation v[5];
    Evbridge__V1__Violation *vp[5];
    char paths[5][16];
    for (int i = 0; i < 5; i++) {
        evbridge__v1__violation__init(&v[i]);
        snprintf(paths[i], sizeof paths[i], "/f%d", i);
        v[i].instance_path = paths[i];
        v[i].keyword_location = (char *)"/properties/f/type";
        v[i].message = (char *)"must be a string";
        vp[i] = &v[i];
    }
    Evbridge__V1__PutEventsResult r[3], *rp[3];
    for (int i = 0; i < 3; i++) {
        evbridge__v1__put_events_result__init(&r[i]);
        rp[i] = &r[i];
    }
    r[0].status = EVBRIDGE__V1__RESULT_STATUS__PUBLISHED;
    r[0].event_id = (char *)"0190a0b1-0000-7000-8000-000000000001";
    r[1].status = EVBRIDGE__V1__RESULT_STATUS__REJECTED;
    r[1].error_code = (char *)"SCHEMA_VIOLATION";
    r[1].error_message = longmsg;
    r[1].n_violations = 5;
    r[1].violations = vp;
    r[2].status = EVBRIDGE__V1__RESULT_STATUS__DEDUPLICATED;
    r[2].event_id = (char *)"dup-1";
    Evbridge__V1__PutEventsResponse m;
    evbridge__v1__put_events_response__init(&m);
    m.failed_entry_count = 1;
    m.n_results = 3;
    m.results = rp;
    m.request_id = (char *)"req-42";
    size_t len;
    uint8_t *buf = pack_response(&m, &len);

    static evb_client_result res[3];
    evb_client_reply reply = {.results = res, .results_cap = 3};
    evb_client_error err;
    CU_ASSERT_EQUAL_FATAL(evb_client_decode_put_events_response(buf, len, &reply, &err),
                          EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(reply.n_results, 3);
    CU_ASSERT_EQUAL(reply.n_received, 3);
    CU_ASSERT_EQUAL(reply.failed_entry_count, 1);
    CU_ASSERT_STRING_EQUAL(reply.request_id, "req-42");
    CU_ASSERT_EQUAL(reply.flags, 0);
    CU_ASSERT_EQUAL(res[0].status, EVB_CLIENT_PUBLISHED);
    CU_ASSERT_STRING_EQUAL(res[0].event_id, "0190a0b1-0000-7000-8000-000000000001");
    CU_ASSERT_STRING_EQUAL(res[0].error_code, "");
    CU_ASSERT_EQUAL(res[0].flags, 0);
    CU_ASSERT_EQUAL(res[1].status, EVB_CLIENT_REJECTED);
    CU_ASSERT_STRING_EQUAL(res[1].error_code, "SCHEMA_VIOLATION");
    CU_ASSERT(res[1].flags & EVB_CLIENT_TRUNCATED);
    /* cut before the 3-byte character, which would not fit whole */
    CU_ASSERT_EQUAL(strlen(res[1].error_message), EVB_CLIENT_ERROR_MESSAGE_SIZE - 2);
    CU_ASSERT_EQUAL(res[1].n_violations, 5);
    for (int i = 0; i < EVB_CLIENT_MAX_VIOLATIONS; i++) {
        CU_ASSERT_STRING_EQUAL(res[1].violations[i].instance_path, paths[i]);
        CU_ASSERT_STRING_EQUAL(res[1].violations[i].keyword_location, "/properties/f/type");
        CU_ASSERT_STRING_EQUAL(res[1].violations[i].message, "must be a string");
    }
    CU_ASSERT_EQUAL(res[2].status, EVB_CLIENT_DEDUPLICATED);
    CU_ASSERT_STRING_EQUAL(res[2].event_id, "dup-1");

    /* fewer slots than results: counted, not stored */
    static evb_client_result one[1];
    evb_client_reply small = {.results = one, .results_cap = 1};
    CU_ASSERT_EQUAL(evb_client_decode_put_events_response(buf, len, &small, NULL), EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(small.n_results, 1);
    CU_ASSERT_EQUAL(small.n_received, 3);
    CU_ASSERT_STRING_EQUAL(one[0].event_id, "0190a0b1-0000-7000-8000-000000000001");
    evb_client_reply none = {.results = NULL, .results_cap = 0};
    CU_ASSERT_EQUAL(evb_client_decode_put_events_response(buf, len, &none, NULL), EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(none.n_received, 3);
    CU_ASSERT_EQUAL(none.n_results, 0);
    free(buf);
}

static void test_decode_long_request_id_and_empty(void)
{
    char rid[300];
    memset(rid, 'r', sizeof rid);
    rid[sizeof rid - 1] = '\0';
    Evbridge__V1__PutEventsResponse m;
    evbridge__v1__put_events_response__init(&m);
    m.request_id = rid;
    size_t len;
    uint8_t *buf = pack_response(&m, &len);
    evb_client_reply reply = {0};
    CU_ASSERT_EQUAL(evb_client_decode_put_events_response(buf, len, &reply, NULL), EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(strlen(reply.request_id), EVB_CLIENT_REQUEST_ID_SIZE - 1);
    CU_ASSERT(reply.flags & EVB_CLIENT_TRUNCATED);
    free(buf);
    /* the empty message is a valid empty response */
    CU_ASSERT_EQUAL(evb_client_decode_put_events_response((const uint8_t *)"", 0, &reply, NULL),
                    EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(reply.n_received, 0);
    CU_ASSERT_STRING_EQUAL(reply.request_id, "");
}

static void test_decode_malformed(void)
{
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\x12\x05\x0a\x01", 4},         /* results: length beyond the end */
        {"\x1a\xff\xff\xff\xff\x0f", 6}, /* request_id: huge length */
        {"\x08", 1},                     /* failed_entry_count: varint missing */
        {"\x12\x02\x12\x7f", 4},         /* result.event_id: length beyond the submessage */
        {"\x0f", 1},                     /* invalid wire type 7 */
    };
    static evb_client_result res[2];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_client_reply reply = {.results = res, .results_cap = 2};
        evb_client_error err;
        CU_ASSERT_EQUAL(evb_client_decode_put_events_response((const uint8_t *)cases[i].bytes,
                                                              cases[i].len, &reply, &err),
                        EVB_CLIENT_ERR_DECODE);
        CU_ASSERT_EQUAL(err.code, EVB_CLIENT_ERR_DECODE);
    }
    CU_ASSERT_EQUAL(evb_client_decode_put_events_response(NULL, 3, &(evb_client_reply){0}, NULL),
                    EVB_CLIENT_ERR_INVALID);
}

static void test_strerror(void)
{
    CU_ASSERT_STRING_EQUAL(evb_client_strerror(EVB_CLIENT_OK), "ok");
    CU_ASSERT_STRING_EQUAL(evb_client_strerror(EVB_CLIENT_ERR_EOF), "end of stream");
    CU_ASSERT_STRING_EQUAL(evb_client_strerror((evb_client_err)999), "unknown error");
    for (int i = 0; i <= EVB_CLIENT_ERR_TRANSPORT; i++)
        CU_ASSERT_STRING_NOT_EQUAL(evb_client_strerror((evb_client_err)i), "unknown error");
}

/* Opening needs no server (the channel connects lazily); bad options are refused. */
static void test_open_options(void)
{
    evb_client *c = (evb_client *)&c;
    evb_client_error err;
    evb_client_options bad = {.target = NULL};
    CU_ASSERT_EQUAL(evb_client_open(&bad, &c, &err), EVB_CLIENT_ERR_INVALID);
    CU_ASSERT_PTR_NULL(c);
    evb_client_options half = {.target = "127.0.0.1:1", .client_cert_pem = "x"};
    CU_ASSERT_EQUAL(evb_client_open(&half, &c, &err), EVB_CLIENT_ERR_INVALID);
    evb_client_options crlf = {.target = "127.0.0.1:1", .api_key = "k\r\nx: y"};
    CU_ASSERT_EQUAL(evb_client_open(&crlf, &c, &err), EVB_CLIENT_ERR_INVALID);
    evb_client_options ok = {.target = "127.0.0.1:1", .api_key = "k", .timeout_ms = 300};
    CU_ASSERT_EQUAL_FATAL(evb_client_open(&ok, &c, &err), EVB_CLIENT_OK);
    /* nothing listens on port 1: the call fails with a gRPC status, not a crash */
    evb_client_entry e = {.org = "o", .type = "t"};
    static evb_client_result res[1];
    CU_ASSERT_EQUAL(evb_client_put_events(c, "c", &e, 1, res, NULL, &err), EVB_CLIENT_ERR_RPC);
    CU_ASSERT(err.grpc_status == 14 || err.grpc_status == 4); /* UNAVAILABLE or DEADLINE */
    CU_ASSERT_EQUAL(evb_client_put_events(c, "c", &e, 0, res, NULL, &err), EVB_CLIENT_ERR_INVALID);
    evb_client_close(c);
    evb_client_close(NULL);
    evb_client_stream_close(NULL);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("evbclient", NULL, NULL);
    CU_add_test(s, "encode round trip (protobuf-c)", test_encode_round_trip);
    CU_add_test(s, "encode without request id", test_encode_no_request_id);
    CU_add_test(s, "encode 100 x 256 KiB", test_encode_max_batch);
    CU_add_test(s, "encode buffer too small", test_encode_nospace);
    CU_add_test(s, "encode argument checks", test_encode_argument_checks);
    CU_add_test(s, "decode response (protobuf-c)", test_decode_response);
    CU_add_test(s, "decode long request id, empty", test_decode_long_request_id_and_empty);
    CU_add_test(s, "decode malformed", test_decode_malformed);
    CU_add_test(s, "strerror", test_strerror);
    CU_add_test(s, "open options", test_open_options);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed > 0 ? 1 : 0;
}
