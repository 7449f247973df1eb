/* evbridge — unit tests for server/cloudevents/ce_http: header value percent-encoding (the
 * binding's example vector), decoding, and the binary-mode header list. */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/cloudevents/ce_http.h"
#include "tests/unit/common/unit.h"

static const struct {
    const char *raw, *enc;
} pct_rows[] = {
    {"Euro \xE2\x82\xAC \xF0\x9F\x98\x80", "Euro%20%E2%82%AC%20%F0%9F%98%80"},
    {"", ""},
    {"plain-ASCII_1.0~!#$&'()*+,/:;<=>?@[\\]^`{|}", "plain-ASCII_1.0~!#$&'()*+,/:;<=>?@[\\]^`{|}"},
    {"100%", "100%25"},
    {"say \"hi\"", "say%20%22hi%22"},
    {"tab\there\r\n", "tab%09here%0D%0A"},
    {"\x7f", "%7F"},
    {"caf\xC3\xA9", "caf%C3%A9"},
};

static void test_value_encode(void)
{
    for (size_t i = 0; i < sizeof pct_rows / sizeof pct_rows[0]; i++) {
        char *got = evb_ce_http_value_encode(pct_rows[i].raw, strlen(pct_rows[i].raw));
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        EVB_CHECK_ROW(strcmp(got, pct_rows[i].enc) == 0, "'%s' -> '%s'", pct_rows[i].raw, got);
        free(got);
    }
    CU_ASSERT_PTR_NULL(evb_ce_http_value_encode(NULL, 0));
}

static void test_value_decode(void)
{
    for (size_t i = 0; i < sizeof pct_rows / sizeof pct_rows[0]; i++) {
        if (strchr(pct_rows[i].raw, '\t') || strchr(pct_rows[i].raw, '\x7f'))
            continue; /* decoding does not judge control characters */
        char *got = NULL;
        CU_ASSERT_EQUAL(evb_ce_http_value_decode(pct_rows[i].enc, strlen(pct_rows[i].enc), &got),
                        EVB_OK);
        EVB_CHECK_ROW(got != NULL && strcmp(got, pct_rows[i].raw) == 0, "'%s'", pct_rows[i].enc);
        free(got);
    }
    char *got = NULL;
    CU_ASSERT_EQUAL(evb_ce_http_value_decode("%e2%82%ac", 9, &got), EVB_OK); /* lower hex */
    CU_ASSERT_STRING_EQUAL(got, "\xE2\x82\xAC");
    free(got);
    static const char *const bad[] = {"%",   "%2",  "%zz",    "a%2g",
                                      "%FF", "%00", "%C0%AF", "%ED%A0%80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        got = NULL;
        EVB_CHECK_ROW(evb_ce_http_value_decode(bad[i], strlen(bad[i]), &got) == EVB_ERR_PARSE,
                      "'%s' accepted", bad[i]);
        CU_ASSERT_PTR_NULL(got);
    }
}

static const char *find(const evb_ce_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

static void test_binary_headers(void)
{
    evb_ce_ext ext[2] = {{"priority", "very high"}, {"traceparent", "00-abc-01"}};
    evb_event ev = {0};
    ev.id = "id-1";
    ev.source = "/connectors/crm";
    ev.type = "com.example.customer.changed";
    ev.subject = "Kunde M\xC3\xBCller";
    ev.time = "2024-01-15T10:30:00Z";
    ev.dataschema = "https://schemas.example.com/c/1";
    ev.datacontenttype = "application/json; charset=utf-8";
    ev.org = "org-1";
    ev.connector = "crm";
    ev.ext = ext;
    ev.n_ext = 2;
    evb_ce_header *h = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_ce_http_binary_headers(&ev, &h, &n), EVB_OK);
    static const char *const order[] = {
        "ce-specversion", "ce-id",       "ce-source",      "ce-type",
        "ce-subject",     "ce-time",     "ce-dataschema",  "ce-orgid",
        "ce-connector",   "ce-priority", "ce-traceparent", "Content-Type",
    };
    CU_ASSERT_EQUAL_FATAL(n, sizeof order / sizeof order[0]);
    for (size_t i = 0; i < n; i++)
        EVB_CHECK_ROW(strcmp(h[i].name, order[i]) == 0, "header %zu is %s", i, h[i].name);
    CU_ASSERT_STRING_EQUAL(find(h, n, "ce-specversion"), "1.0");
    CU_ASSERT_STRING_EQUAL(find(h, n, "ce-source"), "/connectors/crm");
    CU_ASSERT_STRING_EQUAL(find(h, n, "ce-subject"), "Kunde%20M%C3%BCller");
    CU_ASSERT_STRING_EQUAL(find(h, n, "ce-priority"), "very%20high");
    CU_ASSERT_STRING_EQUAL(find(h, n, "ce-time"), "2024-01-15T10:30:00Z");
    CU_ASSERT_STRING_EQUAL(find(h, n, "Content-Type"), "application/json; charset=utf-8");
    CU_ASSERT_PTR_NULL(find(h, n, "ce-datacontenttype"));
    evb_ce_http_headers_free(h, n);

    /* minimal event: only required attributes, no Content-Type */
    evb_event min = {0};
    min.id = "1";
    min.source = "/s";
    min.type = "t";
    CU_ASSERT_EQUAL_FATAL(evb_ce_http_binary_headers(&min, &h, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_PTR_NULL(find(h, n, "Content-Type"));
    evb_ce_http_headers_free(h, n);
    evb_ce_http_headers_free(NULL, 0);

    /* header injection through Content-Type is refused; a missing type is invalid */
    min.datacontenttype = "text/plain\r\nX-Evil: 1";
    CU_ASSERT_EQUAL(evb_ce_http_binary_headers(&min, &h, &n), EVB_ERR_INVALID);
    min.datacontenttype = NULL;
    min.type = NULL;
    CU_ASSERT_EQUAL(evb_ce_http_binary_headers(&min, &h, &n), EVB_ERR_INVALID);
    /* CR/LF in other attributes are percent-encoded, never sent raw */
    min.type = "t\r\nX-Evil: 1";
    CU_ASSERT_EQUAL_FATAL(evb_ce_http_binary_headers(&min, &h, &n), EVB_OK);
    CU_ASSERT_STRING_EQUAL(find(h, n, "ce-type"), "t%0D%0AX-Evil:%201");
    evb_ce_http_headers_free(h, n);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"value_encode", test_value_encode},
        {"value_decode", test_value_decode},
        {"binary_headers", test_binary_headers},
        {NULL, NULL},
    };
    return evb_unit_run("cloudevents/http", cases);
}
