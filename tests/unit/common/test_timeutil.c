/* evbridge — unit tests for common/timeutil: strict RFC 3339 parsing (valid and invalid
 * tables), formatting, splitting and the clocks. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/timeutil.h"
#include "tests/unit/common/unit.h"

static const struct {
    const char *s;
    int64_t ms;
    int32_t nanos;
} valid_rows[] = {
    {"1970-01-01T00:00:00Z", 0, 0},
    {"1970-01-01T00:00:00.001Z", 1, 1000000},
    {"2024-02-29T12:00:00Z", 1709208000000, 0},
    {"2000-02-29T00:00:00Z", 951782400000, 0},
    {"2023-03-01T00:00:00Z", 1677628800000, 0},
    {"2024-01-15T10:30:00.123456789Z", 1705314600123, 123456789},
    {"2024-01-15T10:30:00.1Z", 1705314600100, 100000000},
    {"2024-01-15T10:30:00.9999999999Z", 1705314600999, 999999999},
    {"2024-01-15t10:30:00z", 1705314600000, 0},
    {"2024-01-15T10:30:00+00:00", 1705314600000, 0},
    {"2024-01-15T10:30:00-00:00", 1705314600000, 0},
    {"2024-01-15T18:30:00+08:00", 1705314600000, 0},
    {"2024-01-15T05:00:00-05:30", 1705314600000, 0},
    {"2024-01-16T00:00:00+13:30", 1705314600000, 0},
    {"2024-01-15T10:30:00.5+08:00", 1705285800500, 500000000},
    {"1969-12-31T23:59:59.999Z", -1, 999000000},
    {"1900-01-01T00:00:00Z", -2208988800000, 0},
    {"0001-01-01T00:00:00Z", -62135596800000, 0},
    {"9999-12-31T23:59:59Z", 253402300799000, 0},
    {"2024-12-31T23:59:59Z", 1735689599000, 0},
    /* leap second: the last second of a UTC day, folded to :59 */
    {"2016-12-31T23:59:60Z", 1483228799000, 0},
    {"2016-12-31T23:59:60.5Z", 1483228799500, 500000000},
    {"2017-01-01T07:59:60+08:00", 1483228799000, 0},
    {"2016-12-31T18:59:60-05:00", 1483228799000, 0},
};

static void test_parse_valid(void)
{
    for (size_t i = 0; i < sizeof valid_rows / sizeof valid_rows[0]; i++) {
        int64_t ms = 42;
        int32_t nanos = -1;
        evb_err rc = evb_time_parse_rfc3339(valid_rows[i].s, &ms, &nanos);
        EVB_CHECK_ROW(rc == EVB_OK, "%s: rc %d", valid_rows[i].s, rc);
        EVB_CHECK_ROW(ms == valid_rows[i].ms, "%s: ms %lld", valid_rows[i].s, (long long)ms);
        EVB_CHECK_ROW(nanos == valid_rows[i].nanos, "%s: nanos %d", valid_rows[i].s, nanos);
    }
    int64_t ms;
    CU_ASSERT_EQUAL(evb_time_parse_rfc3339("2024-01-15T10:30:00Z", &ms, NULL), EVB_OK);
}

static const char *const invalid_rows[] = {
    "",
    "2024",
    "2024-01-15",
    "2024-01-15T10:30Z",    /* missing seconds */
    "2024-01-15T10:30:00",  /* missing offset */
    "2024-01-15 10:30:00Z", /* space separator */
    "2024-01-15_10:30:00Z",
    "2023-02-29T00:00:00Z", /* not a leap year */
    "1900-02-29T00:00:00Z", /* century, not a leap year */
    "2024-02-30T00:00:00Z",
    "2024-04-31T00:00:00Z",
    "2024-06-31T00:00:00Z",
    "2024-09-31T00:00:00Z",
    "2024-11-31T00:00:00Z",
    "2024-01-32T00:00:00Z",
    "2024-00-10T00:00:00Z",
    "2024-13-10T00:00:00Z",
    "2024-01-00T00:00:00Z",
    "2024-01-15T24:00:00Z",
    "2024-01-15T23:60:00Z",
    "2024-01-15T23:59:61Z",
    "2024-01-15T12:00:60Z",      /* leap second not at the end of a UTC day */
    "2016-12-31T23:59:60+01:00", /* 22:59:60Z */
    "2024-01-15T10:30:00.Z",     /* empty fraction */
    "2024-01-15T10:30:00,5Z",    /* comma fraction */
    "2024-01-15T10:30:00+08",    /* offset without minutes */
    "2024-01-15T10:30:00+0800",
    "2024-01-15T10:30:00+24:00",
    "2024-01-15T10:30:00+08:60",
    "2024-01-15T10:30:00ZZ",
    "2024-01-15T10:30:00Z ",
    " 2024-01-15T10:30:00Z",
    "2024-1-15T10:30:00Z",
    "2024-01-5T10:30:00Z",
    "2024-01-15T1:30:00Z",
    "24-01-15T10:30:00Z",
    "+2024-01-15T10:30:00Z",
    "2024/01/15T10:30:00Z",
    "2024-01-15T10-30-00Z",
    "2024-01-15T10:30:00UTC",
    "2024-01-15T10:30:00+08:00Z",
    "２０２４-01-15T10:30:00Z",
    "2024-01-15T10:30:0aZ",
};

static void test_parse_invalid(void)
{
    for (size_t i = 0; i < sizeof invalid_rows / sizeof invalid_rows[0]; i++) {
        int64_t ms = 0;
        evb_err rc = evb_time_parse_rfc3339(invalid_rows[i], &ms, NULL);
        EVB_CHECK_ROW(rc == EVB_ERR_PARSE, "'%s' accepted (ms %lld)", invalid_rows[i],
                      (long long)ms);
    }
    int64_t ms;
    CU_ASSERT_EQUAL(evb_time_parse_rfc3339(NULL, &ms, NULL), EVB_ERR_PARSE);
}

static void test_format(void)
{
    static const struct {
        int64_t ms;
        const char *s;
    } rows[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1, "1970-01-01T00:00:00.001Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {1709208000123, "2024-02-29T12:00:00.123Z"},
        {1735689599999, "2024-12-31T23:59:59.999Z"},
        {253402300799000, "9999-12-31T23:59:59.000Z"},
        {-62135596800000, "0001-01-01T00:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[25];
        char *r = evb_time_format_rfc3339(rows[i].ms, out, sizeof out);
        CU_ASSERT_PTR_EQUAL(r, out);
        EVB_CHECK_ROW(strcmp(out, rows[i].s) == 0, "%lld -> %s", (long long)rows[i].ms, out);
        int64_t back = 0;
        CU_ASSERT_EQUAL(evb_time_parse_rfc3339(out, &back, NULL), EVB_OK);
        CU_ASSERT_EQUAL(back, rows[i].ms);
    }
}

static void test_roundtrip_many(void)
{
    /* every day for 500 years at an odd time of day round-trips */
    for (int64_t d = -50000; d < 150000; d += 7) {
        int64_t ms = d * 86400000 + 45296789;
        char out[32];
        int64_t back = 0;
        evb_time_format_rfc3339(ms, out, sizeof out);
        CU_ASSERT_EQUAL_FATAL(evb_time_parse_rfc3339(out, &back, NULL), EVB_OK);
        CU_ASSERT_EQUAL_FATAL(back, ms);
    }
}

/* The digit-by-digit path gives printf's text, and printf's handling stays outside it
 * (years before 0000 or after 9999, buffers shorter than the text). */
static void ref_format(int64_t ms, char *out, size_t outlen)
{
    int64_t secs;
    int32_t nanos;
    evb_time_split(ms, &secs, &nanos);
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    /* days -> civil date (H. Hinnant's algorithm), independent of timeutil.c's copy */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, (int)m, (int)d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)(nanos / 1000000));
}

static void test_format_matches_printf(void)
{
    static const int64_t edges[] = {
        0, -1, 999, -62167219200000 /* 0000-01-01 */, -62167219200001, 253402300799999,
        253402300800000 /* 10000-01-01 */, -62198755200000 /* -0001 */, 4102444800000};
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 20000 + (int)(sizeof edges / sizeof edges[0]); i++) {
        int64_t ms;
        if (i < (int)(sizeof edges / sizeof edges[0])) {
            ms = edges[i];
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            ms = (int64_t)(x % 600000000000000u) - 300000000000000; /* +-9,500 years */
        }
        static const size_t lens[] = {1, 10, 24, 25, 26, 32};
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            size_t len = lens[k];
            char got[40], want[40];
            memset(got, 'x', sizeof got);
            memset(want, 'x', sizeof want);
            evb_time_format_rfc3339(ms, got, len);
            ref_format(ms, want, len);
            EVB_CHECK_ROW(memcmp(got, want, sizeof got) == 0, "%lld (len %zu): %.*s vs %.*s",
                          (long long)ms, len, (int)len, got, (int)len, want);
        }
    }
}

static void test_split(void)
{
    int64_t s;
    int32_t n;
    evb_time_split(1500, &s, &n);
    CU_ASSERT_EQUAL(s, 1);
    CU_ASSERT_EQUAL(n, 500000000);
    evb_time_split(-1, &s, &n);
    CU_ASSERT_EQUAL(s, -1);
    CU_ASSERT_EQUAL(n, 999000000);
    evb_time_split(-1000, &s, &n);
    CU_ASSERT_EQUAL(s, -1);
    CU_ASSERT_EQUAL(n, 0);
    evb_time_split(0, &s, &n);
    CU_ASSERT_EQUAL(s, 0);
    CU_ASSERT_EQUAL(n, 0);
}

static void test_clocks(void)
{
    int64_t now = evb_now_ms();
    CU_ASSERT(now > 1600000000000); /* after 2020 */
    int64_t a = evb_mono_ns(), b = evb_mono_ns();
    CU_ASSERT(b >= a);
    int64_t m = evb_mono_ms();
    CU_ASSERT(m >= a / 1000000);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"parse_valid", test_parse_valid},
        {"parse_invalid", test_parse_invalid},
        {"format", test_format},
        {"format_matches_printf", test_format_matches_printf},
        {"roundtrip_many", test_roundtrip_many},
        {"split", test_split},
        {"clocks", test_clocks},
        {NULL, NULL},
    };
    return evb_unit_run("common/timeutil", cases);
}
