/* Unit tests for server/ingest: every PutEvents entry rule, table-driven. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ingest/ingest.h"

static evb_event_type_def types[] = {
    {.type = "com.example.customer.changed", .subject = "std.customer", .version = 0},
    {.type = "com.example.contract.signed", .subject = "", .version = 0},
};
static evb_connector conn = {.name = "crm", .isv = "example", .source = "/connectors/crm",
                             .types = types, .n_types = 2};
static const evb_ingest_limits limits = {.max_entries = 100, .max_entry_bytes = 64,
                                         .max_request_bytes = 1 << 20};

static evb_ingest_entry base_entry(void)
{
    return (evb_ingest_entry){.id = "e-1", .org = "acme", .type = "com.example.contract.signed",
                              .data = (const uint8_t *)"{\"a\":1}", .data_len = 7};
}

static void test_valid_minimal(void)
{
    evb_ingest_entry e = base_entry();
    e.id = "";
    evb_event ev;
    const char *code = NULL;
    evb_error err;
    const evb_event_type_def *td = NULL;
    CU_ASSERT_EQUAL_FATAL(
        evb_ingest_build_event(&conn, &e, 0, &limits, 1700000000123, &ev, &td, &code, &err),
        EVB_OK);
    CU_ASSERT_EQUAL(strlen(ev.id), 36); /* a generated UUIDv7 */
    CU_ASSERT_EQUAL(ev.id[14], '7');
    CU_ASSERT_STRING_EQUAL(ev.source, "/connectors/crm");
    CU_ASSERT_STRING_EQUAL(ev.org, "acme");
    CU_ASSERT_STRING_EQUAL(ev.connector, "crm");
    CU_ASSERT_STRING_EQUAL(ev.datacontenttype, "application/json");
    CU_ASSERT_STRING_EQUAL(ev.time, "2023-11-14T22:13:20.123Z");
    CU_ASSERT_EQUAL(ev.time_ms, 1700000000123);
    CU_ASSERT_PTR_NULL(ev.subject);
    CU_ASSERT_PTR_EQUAL(td, &types[1]);
    CU_ASSERT_EQUAL(ev.data_len, 7);
    evb_event_fini(&ev);
}

static void test_valid_full(void)
{
    const char *names[] = {"zeta", "traceparent"}, *values[] = {"z", "00-abc"};
    evb_ingest_entry e = base_entry();
    e.subject = "customer/42";
    e.time = "2024-02-29T10:00:00.5+08:00";
    e.datacontenttype = "application/octet-stream";
    e.data = (const uint8_t *)"\x00\x01\xff";
    e.data_len = 3;
    e.ext_names = names;
    e.ext_values = values;
    e.n_ext = 2;
    evb_event ev;
    const char *code = NULL;
    evb_error err;
    CU_ASSERT_EQUAL_FATAL(
        evb_ingest_build_event(&conn, &e, 0, &limits, 0, &ev, NULL, &code, &err), EVB_OK);
    CU_ASSERT_STRING_EQUAL(ev.time, "2024-02-29T10:00:00.5+08:00"); /* kept as sent */
    CU_ASSERT_EQUAL(ev.time_ms, 1709172000500);
    CU_ASSERT_STRING_EQUAL(ev.subject, "customer/42");
    CU_ASSERT_EQUAL_FATAL(ev.n_ext, 2);
    CU_ASSERT_STRING_EQUAL(ev.ext[0].name, "traceparent"); /* sorted */
    CU_ASSERT_STRING_EQUAL(ev.ext[1].name, "zeta");
    CU_ASSERT_EQUAL(ev.data_len, 3);
    evb_event_fini(&ev);
}

typedef struct bad_case {
    const char *what;
    void (*mutate)(evb_ingest_entry *e);
    const char *code;
    const char *field; /* expected in the message */
} bad_case;

static char long_id[200], long_subject[600];
static const char *bad_ext_names[] = {"Upper"}, *bad_ext_values[] = {"v"};
static const char *res_ext_names[] = {"source"}, *orgid_names[] = {"orgid"};
static const char *dup_names[] = {"aa", "aa"}, *dup_values[] = {"1", "2"};

static void m_long_id(evb_ingest_entry *e) { e->id = long_id; }
static void m_no_org(evb_ingest_entry *e) { e->org = ""; }
static void m_bad_org(evb_ingest_entry *e) { e->org = "ac me"; }
static void m_no_type(evb_ingest_entry *e) { e->type = ""; }
static void m_unknown_type(evb_ingest_entry *e) { e->type = "com.example.other"; }
static void m_long_subject(evb_ingest_entry *e) { e->subject = long_subject; }
static void m_bad_time(evb_ingest_entry *e) { e->time = "yesterday"; }
static void m_bad_date(evb_ingest_entry *e) { e->time = "2023-02-29T00:00:00Z"; }
static void m_bad_ct(evb_ingest_entry *e) { e->datacontenttype = "not a type"; }
/* found by fuzz_put_events: a control character inside a quoted media-type parameter */
static void m_ct_ctrl(evb_ingest_entry *e) { e->datacontenttype = "text/plain; a=\"b\x01c\""; }
static void m_ct_c1(evb_ingest_entry *e) { e->datacontenttype = "text/plain; a=\"\xc2\x85\""; }
/* found by fuzz_put_events: non-ASCII in a quoted parameter cannot go out as Content-Type */
static void m_ct_non_ascii(evb_ingest_entry *e) { e->datacontenttype = "text/plain; a=\"\xc3\xa9\""; }
static void m_bad_json(evb_ingest_entry *e) { e->data = (const uint8_t *)"{\"a\":"; e->data_len = 5; }
static void m_dup_json(evb_ingest_entry *e)
{
    e->data = (const uint8_t *)"{\"a\":1,\"a\":2}";
    e->data_len = 13;
}
static void m_too_large(evb_ingest_entry *e)
{
    static char big[65];
    memset(big, 'x', 64);
    e->datacontenttype = "text/plain";
    e->data = (const uint8_t *)big;
    e->data_len = 65;
}
static void m_bad_utf8(evb_ingest_entry *e) { e->subject = "caf\xc3"; }
static void m_ctrl(evb_ingest_entry *e) { e->subject = "a\x01b"; }
static void m_ext_name(evb_ingest_entry *e)
{
    e->ext_names = bad_ext_names, e->ext_values = bad_ext_values, e->n_ext = 1;
}
static void m_ext_reserved(evb_ingest_entry *e)
{
    e->ext_names = res_ext_names, e->ext_values = bad_ext_values, e->n_ext = 1;
}
static void m_ext_orgid(evb_ingest_entry *e)
{
    e->ext_names = orgid_names, e->ext_values = bad_ext_values, e->n_ext = 1;
}
static void m_ext_dup(evb_ingest_entry *e)
{
    e->ext_names = dup_names, e->ext_values = dup_values, e->n_ext = 2;
}

static const bad_case bad[] = {
    {"id over 128", m_long_id, "INVALID_ARGUMENT", "entries[3].id"},
    {"org missing", m_no_org, "INVALID_ARGUMENT", "entries[3].org"},
    {"org charset", m_bad_org, "INVALID_ARGUMENT", "entries[3].org"},
    {"type missing", m_no_type, "INVALID_ARGUMENT", "entries[3].type"},
    {"type unknown", m_unknown_type, "UNKNOWN_TYPE", "entries[3].type"},
    {"subject over 512", m_long_subject, "INVALID_ARGUMENT", "entries[3].subject"},
    {"time not RFC 3339", m_bad_time, "INVALID_ARGUMENT", "entries[3].time"},
    {"time impossible date", m_bad_date, "INVALID_ARGUMENT", "entries[3].time"},
    {"content type", m_bad_ct, "INVALID_ARGUMENT", "entries[3].datacontenttype"},
    {"content type control char", m_ct_ctrl, "INVALID_ARGUMENT", "entries[3].datacontenttype"},
    {"content type C1 char", m_ct_c1, "INVALID_ARGUMENT", "entries[3].datacontenttype"},
    {"content type non-ASCII", m_ct_non_ascii, "INVALID_ARGUMENT", "entries[3].datacontenttype"},
    {"bad JSON", m_bad_json, "INVALID_ARGUMENT", "entries[3].data"},
    {"duplicate JSON keys", m_dup_json, "INVALID_ARGUMENT", "entries[3].data"},
    {"data too large", m_too_large, "TOO_LARGE", "entries[3].data"},
    {"invalid UTF-8", m_bad_utf8, "INVALID_ARGUMENT", "entries[3].subject"},
    {"control character", m_ctrl, "INVALID_ARGUMENT", "entries[3].subject"},
    {"extension name", m_ext_name, "INVALID_ARGUMENT", "extensions"},
    {"extension reserved", m_ext_reserved, "INVALID_ARGUMENT", "source"},
    {"extension orgid", m_ext_orgid, "INVALID_ARGUMENT", "orgid"},
    {"extension twice", m_ext_dup, "INVALID_ARGUMENT", "aa"},
};

static void test_rejections(void)
{
    memset(long_id, 'i', 129);
    memset(long_subject, 's', 513);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        evb_ingest_entry e = base_entry();
        bad[i].mutate(&e);
        evb_event ev;
        const char *code = NULL;
        evb_error err;
        evb_error_clear(&err);
        evb_err rc = evb_ingest_build_event(&conn, &e, 3, &limits, 0, &ev, NULL, &code, &err);
        CU_ASSERT_NOT_EQUAL(rc, EVB_OK);
        if (rc == EVB_OK) {
            fprintf(stderr, "case '%s' was accepted\n", bad[i].what);
            evb_event_fini(&ev);
            continue;
        }
        CU_ASSERT_STRING_EQUAL(code, bad[i].code);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i].field));
        if (strcmp(code, bad[i].code) != 0 || strstr(err.message, bad[i].field) == NULL)
            fprintf(stderr, "case '%s': code %s message %s\n", bad[i].what, code, err.message);
        /* nothing is left allocated in ev: evb_event_fini on a zeroed event is a no-op */
        CU_ASSERT_PTR_NULL(ev.id);
    }
}

/* With a data model bound to the type, the JSON check is the validator's (one parse). */
static void test_model_bound_type_defers_json(void)
{
    evb_ingest_entry e = base_entry();
    e.type = "com.example.customer.changed";
    e.data = (const uint8_t *)"{\"a\":";
    e.data_len = 5;
    evb_event ev;
    const char *code = NULL;
    evb_error err;
    const evb_event_type_def *td = NULL;
    CU_ASSERT_EQUAL_FATAL(
        evb_ingest_build_event(&conn, &e, 0, &limits, 0, &ev, &td, &code, &err), EVB_OK);
    CU_ASSERT_PTR_EQUAL(td, &types[0]);
    evb_event_fini(&ev);
}

/* More extensions than fit on the stack of the builder (16): sorted, copied, and freed
 * with the event; a duplicate among them is found. */
static void test_many_extensions(void)
{
    enum { N = 40 };
    char names[N][8], values[N][8];
    const char *np[N + 1], *vp[N + 1];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "e%02d", N - 1 - i); /* reverse order */
        snprintf(values[i], sizeof values[i], "v%d", N - 1 - i);
        np[i] = names[i];
        vp[i] = values[i];
    }
    evb_ingest_entry e = base_entry();
    e.ext_names = np;
    e.ext_values = vp;
    e.n_ext = N;
    evb_event ev;
    const char *code = NULL;
    evb_error err;
    CU_ASSERT_EQUAL_FATAL(
        evb_ingest_build_event(&conn, &e, 0, &limits, 1700000000123, &ev, NULL, &code, &err),
        EVB_OK);
    CU_ASSERT_EQUAL_FATAL(ev.n_ext, N);
    for (int i = 0; i < N; i++) {
        char want[8];
        snprintf(want, sizeof want, "e%02d", i);
        CU_ASSERT_STRING_EQUAL(ev.ext[i].name, want);
        snprintf(want, sizeof want, "v%d", i);
        CU_ASSERT_STRING_EQUAL(ev.ext[i].value, want);
    }
    /* a member set after the build (as PutEvents sets dataschema) is freed on its own */
    ev.dataschema = malloc(8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev.dataschema);
    strcpy(ev.dataschema, "x:/1");
    evb_event_fini(&ev);
    CU_ASSERT_PTR_NULL(ev.block);
    np[N] = "e07"; /* one more, a duplicate */
    vp[N] = "again";
    e.n_ext = N + 1;
    evb_error_clear(&err);
    CU_ASSERT_EQUAL(
        evb_ingest_build_event(&conn, &e, 5, &limits, 1700000000123, &ev, NULL, &code, &err),
        EVB_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "entries[5].extensions.e07 is given twice"));
    CU_ASSERT_PTR_NULL(ev.id);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("ingest", NULL, NULL);
    CU_add_test(s, "valid minimal entry", test_valid_minimal);
    CU_add_test(s, "valid full entry", test_valid_full);
    CU_add_test(s, "every rejection names its field", test_rejections);
    CU_add_test(s, "a model-bound type defers the JSON check", test_model_bound_type_defers_json);
    CU_add_test(s, "many extensions", test_many_extensions);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
