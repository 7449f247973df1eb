/* evbridge — unit tests for server/cloudevents/ce_rules: names, reserved names, string
 * values, URI and URI-reference shapes, media types and the whole-event check. */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/cloudevents/ce_rules.h"
#include "tests/unit/common/unit.h"

static void test_names(void)
{
    static const struct {
        const char *name;
        int valid, reserved;
    } rows[] = {
        {"id", 1, 1},
        {"source", 1, 1},
        {"specversion", 1, 1},
        {"type", 1, 1},
        {"datacontenttype", 1, 1},
        {"dataschema", 1, 1},
        {"subject", 1, 1},
        {"time", 1, 1},
        {"data", 1, 1},
        {"data_base64", 0, 1},
        {"orgid", 1, 1},
        {"connector", 1, 1},
        {"traceparent", 1, 0},
        {"x", 1, 0},
        {"abc123", 1, 0},
        {"0", 1, 0},
        {"a2345678901234567890", 1, 0},
        {"a23456789012345678901", 0, 0},
        {"", 0, 0},
        {"Upper", 0, 0},
        {"with-dash", 0, 0},
        {"with_us", 0, 0},
        {"sp ace", 0, 0},
        {"caf\xC3\xA9", 0, 0},
        {"ID", 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        EVB_CHECK_ROW(evb_ce_name_valid(rows[i].name) == rows[i].valid, "valid '%s'", rows[i].name);
        EVB_CHECK_ROW(evb_ce_name_reserved(rows[i].name) == rows[i].reserved, "reserved '%s'",
                      rows[i].name);
    }
    CU_ASSERT_EQUAL(evb_ce_name_valid(NULL), 0);
    CU_ASSERT_EQUAL(evb_ce_name_reserved(NULL), 0);
}

static void test_strings(void)
{
    static const struct {
        const char *s;
        size_t n;
        int valid;
    } rows[] = {
        {"", 0, 1},
        {"hello world", 11, 1},
        {"Euro \xE2\x82\xAC \xF0\x9F\x98\x80", 13, 1},
        {"\xC2\xA0nbsp", 6, 1}, /* U+00A0 is allowed */
        {"tab\there", 8, 0},
        {"nl\n", 3, 0},
        {"nul\0x", 5, 0},
        {"\x1f", 1, 0},
        {"del\x7f", 4, 0},
        {"\xC2\x80", 2, 0},     /* U+0080 */
        {"x\xC2\x9F", 3, 0},    /* U+009F */
        {"\xC2\x85", 2, 0},     /* NEL */
        {"\xFF", 1, 0},         /* not UTF-8 */
        {"\xED\xA0\x80", 3, 0}, /* surrogate */
        {"\xC0\xA0", 2, 0},     /* overlong space */
        {"\xE2\x80\xA8", 3, 1}, /* U+2028 is not in the forbidden ranges */
        /* an ASCII prefix, then the rest (the ASCII fast path hands over mid-string) */
        {"abc\xC2\x80", 5, 0},        /* U+0080 after ASCII */
        {"abc\xFF", 4, 0},             /* invalid after ASCII */
        {"abc\xE2\x82", 5, 0},        /* truncated after ASCII */
        {"ab\xC3\xA9\x01", 5, 0},     /* control after non-ASCII */
        {"ab\xC3\xA9\x7f", 5, 0},     /* DEL after non-ASCII */
        {"ab\xC3\xA9" "cd\xC2\xA0", 8, 1}, /* valid mixed */
        {"\x01\xFF", 2, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        EVB_CHECK_ROW(evb_ce_string_valid(rows[i].s, rows[i].n) == rows[i].valid, "row %zu", i);
    CU_ASSERT_EQUAL(evb_ce_string_valid(NULL, 0), 0);
}

static const struct {
    const char *s;
    int ref, abs;
} uri_rows[] = {
    {"/connectors/xbongbong-crm", 1, 0},
    {"https://example.com/events", 1, 1},
    {"https://user:pw@example.com:8443/a/b?x=1&y=%20#frag", 1, 1},
    {"http://[::1]:8080/", 1, 1},
    {"http://[2001:db8::7]/c=GB?objectClass?one", 1, 1},
    {"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", 1, 1},
    {"mailto:John.Doe@example.com", 1, 1},
    {"tag:example.com,2024:events", 1, 1},
    {"urn:example:animal:ferret:nose", 1, 1},
    {"https://example.com", 1, 1},
    {"file:///etc/hosts", 1, 1},
    {"a+b.c-d:x", 1, 1},
    {"relative/path", 1, 0},
    {"./a:b", 1, 0},
    {"../up", 1, 0},
    {"?query", 1, 0},
    {"#frag", 1, 0},
    {"//example.com/path", 1, 0},
    {"my-app.example.com", 1, 0},
    {"%7Euser", 1, 0},
    {"", 0, 0},
    {"has space", 0, 0},
    {"https://example.com/a b", 0, 0},
    {"https://exa mple.com/", 0, 0},
    {"https://example.com/%zz", 0, 0},
    {"https://example.com/%4", 0, 0},
    {"%", 0, 0},
    {"a#b#c", 0, 0},
    {"http://example.com:80a/", 0, 0},
    {"http://[::1/", 0, 0},
    {"http://ex[ample].com/", 0, 0},
    {"/path[0]", 0, 0},
    {"1abc:foo", 0, 0},
    {":nothing", 0, 0},
    {"a:b", 1, 1},
    {"ab<c>", 0, 0},
    {"quo\"te", 0, 0},
    {"back\\slash", 0, 0},
    {"caf\xC3\xA9", 0, 0},
    {"new\nline", 0, 0},
    {"http://ex{ample}.com", 0, 0},
    {"http://a|b", 0, 0},
};

static void test_uris(void)
{
    for (size_t i = 0; i < sizeof uri_rows / sizeof uri_rows[0]; i++) {
        EVB_CHECK_ROW(evb_ce_uri_ref_valid(uri_rows[i].s) == uri_rows[i].ref, "ref '%s'",
                      uri_rows[i].s);
        EVB_CHECK_ROW(evb_ce_uri_valid(uri_rows[i].s) == uri_rows[i].abs, "abs '%s'",
                      uri_rows[i].s);
    }
    CU_ASSERT_EQUAL(evb_ce_uri_ref_valid(NULL), 0);
    CU_ASSERT_EQUAL(evb_ce_uri_valid(NULL), 0);
}

static void test_media_types(void)
{
    static const struct {
        const char *s;
        int valid, json, text;
    } rows[] = {
        {"application/json", 1, 1, 0},
        {"application/json; charset=utf-8", 1, 1, 0},
        {"Application/JSON", 1, 1, 0},
        {"application/cloudevents+json", 1, 1, 0},
        {"application/vnd.api+json;charset=\"utf-8\"", 1, 1, 0},
        {"application/json-seq", 1, 0, 0},
        {"application/jsonx", 1, 0, 0},
        {"text/plain", 1, 0, 1},
        {"text/plain;charset=us-ascii", 1, 0, 1},
        {"text/csv ; header=present", 1, 0, 1},
        {"application/xml", 1, 0, 1},
        {"image/svg+xml", 1, 0, 1},
        {"application/octet-stream", 1, 0, 0},
        {"application/x-protobuf", 1, 0, 0},
        {"multipart/form-data; boundary=\"a b\\\"c\"", 1, 0, 0},
        {"text/plain;", 1, 0, 1},
        {"", 0, 0, 0},
        {"json", 0, 0, 0},
        {"application/", 0, 1, 0},
        {"/json", 0, 0, 0},
        {"application /json", 0, 0, 0},
        {"application/json charset=utf-8", 0, 1, 0},
        {"application/json; charset", 0, 1, 0},
        {"application/json; charset=", 0, 1, 0},
        {"application/json; charset=\"utf-8", 0, 1, 0},
        {"text/plain; a=b c", 0, 0, 1},
        {"app(lication)/json", 0, 0, 0},
        {"application/json\r\nX-Injected: 1", 0, 1, 0},
        {"text/pl\xC3\xA4in", 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        EVB_CHECK_ROW(evb_ce_media_type_valid(rows[i].s) == rows[i].valid, "valid '%s'", rows[i].s);
        if (rows[i].valid) {
            EVB_CHECK_ROW(evb_ce_media_type_is_json(rows[i].s) == rows[i].json, "json '%s'",
                          rows[i].s);
            EVB_CHECK_ROW(evb_ce_media_type_is_text(rows[i].s) == rows[i].text, "text '%s'",
                          rows[i].s);
        }
    }
    CU_ASSERT_EQUAL(evb_ce_media_type_valid(NULL), 0);
    CU_ASSERT_EQUAL(evb_ce_media_type_is_json(NULL), 1); /* absent means JSON */
    CU_ASSERT_EQUAL(evb_ce_media_type_is_text(NULL), 0);
}

/* A valid event on the stack; tests break one attribute at a time. */
static evb_ce_ext good_ext[2];
static evb_event good_event(void)
{
    good_ext[0].name = "priority";
    good_ext[0].value = "high";
    good_ext[1].name = "traceparent";
    good_ext[1].value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    evb_event ev = {0};
    ev.id = "01890a5d-ac96-774b-bcce-b302099a8057";
    ev.source = "/connectors/xbongbong-crm";
    ev.type = "com.xbongbong.customer.changed";
    ev.subject = "customer/42";
    ev.time = "2024-01-15T10:30:00.123Z";
    ev.datacontenttype = "application/json";
    ev.dataschema = "https://schemas.example.com/std.customer/1";
    ev.org = "org-1";
    ev.connector = "xbongbong-crm";
    ev.ext = good_ext;
    ev.n_ext = 2;
    return ev;
}

static void test_event_check(void)
{
    evb_error err;
    evb_event ev = good_event();
    evb_error_clear(&err);
    CU_ASSERT_EQUAL(evb_ce_event_check(&ev, &err), EVB_OK);
    CU_ASSERT_EQUAL(evb_ce_event_check(&ev, NULL), EVB_OK);

    /* minimal event: only the required attributes */
    evb_event min = {0};
    min.id = "1";
    min.source = "a";
    min.type = "t";
    CU_ASSERT_EQUAL(evb_ce_event_check(&min, &err), EVB_OK);

    static const struct {
        int field;
        const char *value;
        const char *pointer;
    } rows[] = {
        {0, NULL, "id"},
        {0, "", "id"},
        {0, "id\nwith newline", "id"},
        {1, NULL, "source"},
        {1, "", "source"},
        {1, "not a uri", "source"},
        {2, NULL, "type"},
        {2, "", "type"},
        {2, "bad\x7f", "type"},
        {3, "", "subject"},
        {3, "\xC2\x9F", "subject"},
        {4, "2023-02-29T00:00:00Z", "time"},
        {4, "yesterday", "time"},
        {5, "json", "datacontenttype"},
        {6, "/relative/schema", "dataschema"},
        {7, "", "orgid"},
        {7, "org\x01", "orgid"},
        {8, "", "connector"},
        {9, "\xFF", "traceparent"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        evb_event e = good_event();
        char **slots[] = {&e.id,         &e.source, &e.type,
                          &e.subject,    &e.time,   &e.datacontenttype,
                          &e.dataschema, &e.org,    &e.connector};
        evb_ce_ext ext[2] = {good_ext[0], good_ext[1]};
        e.ext = ext;
        if (rows[i].field < 9)
            *slots[rows[i].field] = (char *)rows[i].value;
        else
            ext[1].value = (char *)rows[i].value;
        evb_error_clear(&err);
        evb_err rc = evb_ce_event_check(&e, &err);
        EVB_CHECK_ROW(rc == EVB_ERR_INVALID, "row %zu accepted", i);
        EVB_CHECK_ROW(strcmp(err.pointer, rows[i].pointer) == 0, "row %zu pointer '%s'", i,
                      err.pointer);
        EVB_CHECK_ROW(err.message[0] != '\0', "row %zu has no message", i);
    }
}

static void test_event_check_extensions(void)
{
    static const struct {
        const char *a, *b;
        const char *pointer;
    } rows[] = {
        {"zeta", "alpha", "alpha"}, /* out of order */
        {"same", "same", "same"},   /* duplicate */
        {"ok", "Bad", "Bad"},       /* upper case */
        {"ok", "time", "time"},     /* context attribute */
        {"ok", "orgid", "orgid"},   /* our own extension */
        {"ok", "data", "data"},
        {"ok", "a23456789012345678901", "a23456789012345678901"},
        {"", "ok", ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        evb_event e = good_event();
        evb_ce_ext ext[2] = {{(char *)rows[i].a, "v"}, {(char *)rows[i].b, "v"}};
        e.ext = ext;
        evb_error err;
        evb_error_clear(&err);
        EVB_CHECK_ROW(evb_ce_event_check(&e, &err) == EVB_ERR_INVALID, "row %zu accepted", i);
        EVB_CHECK_ROW(strcmp(err.pointer, rows[i].pointer) == 0, "row %zu pointer '%s'", i,
                      err.pointer);
    }
    evb_event e = good_event();
    evb_ce_ext ext[1] = {{"novalue", NULL}};
    e.ext = ext;
    e.n_ext = 1;
    CU_ASSERT_EQUAL(evb_ce_event_check(&e, NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_ce_event_check(NULL, NULL), EVB_ERR_INVALID);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"names", test_names},
        {"strings", test_strings},
        {"uris", test_uris},
        {"media_types", test_media_types},
        {"event_check", test_event_check},
        {"event_check_extensions", test_event_check_extensions},
        {NULL, NULL},
    };
    return evb_unit_run("cloudevents/rules", cases);
}
