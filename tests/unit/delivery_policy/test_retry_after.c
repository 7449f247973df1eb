/* evbridge tests — Retry-After parsing (server/delivery/retry.h, evb_retry_after_parse):
 * delay-seconds and the three HTTP-date forms of RFC 9110 §5.6.7, the RFC 850 two-digit
 * year rule, field ranges, and malformed values, table-driven against fixed clocks.
 */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>

#include "policy_test.h"
#include "server/delivery/retry.h"

#define T1994 784111777000LL  /* Sun, 06 Nov 1994 08:49:37 GMT */
#define T2024 1704067200000LL /* Mon, 01 Jan 2024 00:00:00 GMT */

typedef struct ra_row {
    const char *value;
    int64_t now_ms;
    int want_ok;
    int64_t want_delay;
} ra_row;

static const ra_row ROWS[] = {
    /* delay-seconds */
    {"120", T2024, 1, 120000},
    {"0", T2024, 1, 0},
    {"007", T2024, 1, 7000},
    {"  30\t", T2024, 1, 30000},
    {"\t1 ", T2024, 1, 1000},
    {"86400", T2024, 1, 86400000},
    {"2147483647", T2024, 1, 2147483647000LL},
    {"2147483648", T2024, 1, 2147483648000LL},
    {"2147483649", T2024, 1, 2147483648000LL},                    /* saturates at 2^31 s */
    {"99999999999999999999999999999", T2024, 1, 2147483648000LL}, /* huge */
    {"-5", T2024, 0, 0},                                          /* negative */
    {"-0", T2024, 0, 0},
    {"+5", T2024, 0, 0},
    {"1.5", T2024, 0, 0},
    {"5s", T2024, 0, 0},
    {"5 5", T2024, 0, 0},
    {"0x10", T2024, 0, 0},
    {"", T2024, 0, 0},
    {"   ", T2024, 0, 0},
    {"soon", T2024, 0, 0},
    /* IMF-fixdate */
    {"Sun, 06 Nov 1994 08:49:37 GMT", T1994 - 60000, 1, 60000},
    {"Sun, 06 Nov 1994 08:49:37 GMT", T1994, 1, 0},
    {"Sun, 06 Nov 1994 08:49:37 GMT", T1994 + 10000, 1, 0}, /* passed: retry now */
    {"Sun, 06 Nov 1994 08:49:37 GMT", T1994 - 250, 1, 250},
    {"sun, 06 nov 1994 08:49:37 gmt", T1994 - 60000, 1, 60000},
    {"SUN, 06 NOV 1994 08:49:37 GMT", T1994 - 60000, 1, 60000},
    {" Sun, 06 Nov 1994 08:49:37 GMT\t", T1994 - 60000, 1, 60000},
    {"Mon, 06 Nov 1994 08:49:37 GMT", T1994 - 60000, 1, 60000}, /* weekday not checked */
    {"Thu, 29 Feb 2024 00:00:00 GMT", T2024, 1, 5097600000LL},  /* leap day */
    {"Mon, 01 Jan 2024 23:59:59 GMT", T2024, 1, 86399000},
    {"Mon, 01 Jan 2024 23:59:60 GMT", T2024, 1, 86399000}, /* leap second */
    {"Fri, 31 Dec 9999 23:59:59 GMT", T2024, 1, 251698233599000LL},
    {"Wed, 29 Feb 2023 00:00:00 GMT", T2024, 0, 0},
    {"Tue, 31 Apr 2024 00:00:00 GMT", T2024, 0, 0},
    {"Mon, 00 Jan 2024 00:00:00 GMT", T2024, 0, 0},
    {"Mon, 01 Jan 2024 24:00:00 GMT", T2024, 0, 0},
    {"Mon, 01 Jan 2024 23:60:00 GMT", T2024, 0, 0},
    {"Mon, 01 Jan 2024 23:59:61 GMT", T2024, 0, 0},
    {"Mon, 01 Foo 2024 00:00:00 GMT", T2024, 0, 0},
    {"Sun, 06 Nov 1994 08:49:37 UTC", T1994, 0, 0},
    {"Sun, 06 Nov 1994 08:49:37 +0000", T1994, 0, 0},
    {"Sun, 06 Nov 1994 08:49:37", T1994, 0, 0},
    {"Sun, 06 Nov 1994 08:49:37 GMT junk", T1994, 0, 0},
    {"Sun, 6 Nov 1994 08:49:37 GMT", T1994, 0, 0},
    {"Sun, 06 Nov 94 08:49:37 GMT", T1994, 0, 0},
    {"Sun, 06 Nov 1994 8:49:37 GMT", T1994, 0, 0},
    {"Sun,06 Nov 1994 08:49:37 GMT", T1994, 0, 0},
    {"Sun,  06 Nov 1994 08:49:37 GMT", T1994, 0, 0},
    {"Foo, 06 Nov 1994 08:49:37 GMT", T1994, 0, 0},
    {"Sunday, 06 Nov 1994 08:49:37 GMT", T1994, 0, 0}, /* long name, IMF body */
    {"1994-11-06T08:49:37Z", T1994, 0, 0},
    /* RFC 850 (obsolete) */
    {"Sunday, 06-Nov-94 08:49:37 GMT", T1994 - 60000, 1, 60000},
    {"sunday, 06-nov-94 08:49:37 gmt", T1994 - 60000, 1, 60000},
    {"Tuesday, 01-Jan-30 00:00:00 GMT", T2024, 1, 189388800000LL},  /* 2030 */
    {"Tuesday, 01-Jan-70 00:00:00 GMT", T2024, 1, 1451692800000LL}, /* 2070: 46 years ahead */
    {"Tuesday, 01-Jan-80 00:00:00 GMT", T2024, 1, 0}, /* 2080 > 50 years ahead: 1980 */
    {"Monday, 01-Jan-24 00:00:00 GMT", T2024, 1, 0},
    {"Sun, 06-Nov-94 08:49:37 GMT", T1994, 0, 0}, /* short name, RFC 850 body */
    {"Sunday, 06-Nov-1994 08:49:37 GMT", T1994, 0, 0},
    {"Sunday, 06 Nov 94 08:49:37 GMT", T1994, 0, 0},
    {"Sunday, 31-Nov-94 08:49:37 GMT", T1994, 0, 0},
    /* asctime */
    {"Sun Nov  6 08:49:37 1994", T1994 - 60000, 1, 60000},
    {"Sun Nov 06 08:49:37 1994", T1994 - 60000, 1, 60000},
    {"Wed Nov 16 08:49:37 1994", T1994 - 60000, 1, 10LL * 86400000 + 60000},
    {"sun nov  6 08:49:37 1994", T1994 - 60000, 1, 60000},
    {"Sun Nov 6 08:49:37 1994", T1994, 0, 0},
    {"Sun Nov  6 08:49:37 1994 GMT", T1994, 0, 0},
    {"Sun Nov  6 08:49:37 94", T1994, 0, 0},
    {"Sun Nov   6 08:49:37 1994", T1994, 0, 0},
    {"Sun Nov  0 08:49:37 1994", T1994, 0, 0},
    {"Sun Feb 30 08:49:37 1994", T1994, 0, 0},
    {"Sun Nov  6 08:49 1994", T1994, 0, 0},
};

static void test_retry_after_table(void)
{
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const ra_row *r = &ROWS[i];
        int64_t d = -7;
        int ok = evb_retry_after_parse(r->value, r->now_ms, &d);
        if (ok != r->want_ok || (ok && d != r->want_delay))
            fprintf(stderr, "\n  \"%s\": ok %d delay %lld, want %d %lld\n", r->value, ok,
                    (long long)d, r->want_ok, (long long)r->want_delay);
        CU_ASSERT_EQUAL(ok, r->want_ok);
        CU_ASSERT_EQUAL(d, ok ? r->want_delay : -7); /* untouched when invalid */
    }
}

static void test_retry_after_null_and_long(void)
{
    int64_t d = -7;
    CU_ASSERT_EQUAL(evb_retry_after_parse(NULL, T2024, &d), 0);
    CU_ASSERT_EQUAL(d, -7);
    char long_date[200];
    snprintf(long_date, sizeof long_date, "Sun, 06 Nov 1994 08:49:37 GMT%*s!", 120, "");
    CU_ASSERT_EQUAL(evb_retry_after_parse(long_date, T1994, &d), 0);
    char digits[300];
    for (size_t i = 0; i < sizeof digits - 1; i++)
        digits[i] = '9';
    digits[sizeof digits - 1] = '\0';
    CU_ASSERT_EQUAL(evb_retry_after_parse(digits, T2024, &d), 1);
    CU_ASSERT_EQUAL(d, 2147483648000LL);
}

/* A parsed Retry-After fed into the schedule: clamped to the strategy's cap. */
static void test_retry_after_into_schedule(void)
{
    evb_retry_policy exp_p;
    CU_ASSERT_EQUAL_FATAL(
        evb_retry_policy_init(&exp_p, EVB_RETRY_EXPONENTIAL, 0, 0, 0, 0, 0.0, NULL), EVB_OK);
    int64_t ra = -1, d = -1;
    CU_ASSERT_EQUAL(evb_retry_after_parse("Mon, 01 Jan 2024 01:00:00 GMT", T2024, &ra), 1);
    CU_ASSERT_EQUAL(ra, 3600000);
    CU_ASSERT_EQUAL(evb_retry_next(&exp_p, 1, 0, ra, 0, &d), 1);
    CU_ASSERT_EQUAL(d, 512000);
    CU_ASSERT_EQUAL(evb_retry_after_parse("99999999999", T2024, &ra), 1);
    CU_ASSERT_EQUAL(evb_retry_next(&exp_p, 1, 0, ra, 0, &d), 1);
    CU_ASSERT_EQUAL(d, 512000);
}

const pt_case RETRY_AFTER_CASES[] = {
    {"delay-seconds and HTTP-date forms (table)", test_retry_after_table},
    {"NULL, long values", test_retry_after_null_and_long},
    {"parsed values clamp in the schedule", test_retry_after_into_schedule},
    {NULL, NULL},
};
