/* evbridge — clocks and RFC 3339 timestamps (timeutil.h).
 *
 * The parser accepts exactly the RFC 3339 §5.6 `date-time` production: full-date "T"
 * partial-time time-offset, with 'T'/'t' and 'Z'/'z', optional fraction of one or more
 * digits and a numeric offset ±HH:MM. Fields are range-checked (month 1–12, day within the
 * month incl. leap years, hour 0–23, minute 0–59, offset hours 0–23). Second 60 is
 * accepted only where a leap second can occur — 23:59:60 in UTC once the offset is applied
 * (§5.7) — and is folded to :59. Calendar arithmetic uses the days-from-civil algorithm
 * (proleptic Gregorian), so no timegm()/TZ state is touched and everything is thread-safe.
 * Spec: https://www.rfc-editor.org/rfc/rfc3339#section-5.6
 */
#include "common/timeutil.h"

#include <stdio.h>
#include <time.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t evb_now_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000;
}

int64_t evb_mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t evb_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n decimal digits at *p; -1 when they are not all digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return 0;
    (*p)++;
    return 1;
}

evb_err evb_time_parse_rfc3339(const char *s, int64_t *ms_out, int32_t *nanos_out)
{
    if (s == NULL)
        return EVB_ERR_PARSE;
    const char *p = s;
    int year = digits(&p, 4);
    if (year < 0 || !expect(&p, '-'))
        return EVB_ERR_PARSE;
    int mon = digits(&p, 2);
    if (mon < 1 || mon > 12 || !expect(&p, '-'))
        return EVB_ERR_PARSE;
    int day = digits(&p, 2);
    if (day < 1 || day > days_in_month(year, mon))
        return EVB_ERR_PARSE;
    if (*p != 'T' && *p != 't')
        return EVB_ERR_PARSE;
    p++;
    int hour = digits(&p, 2);
    if (hour < 0 || hour > 23 || !expect(&p, ':'))
        return EVB_ERR_PARSE;
    int min = digits(&p, 2);
    if (min < 0 || min > 59 || !expect(&p, ':'))
        return EVB_ERR_PARSE;
    int sec = digits(&p, 2);
    if (sec < 0 || sec > 60)
        return EVB_ERR_PARSE;
    int32_t nanos = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 9)
                nanos = nanos * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return EVB_ERR_PARSE;
        for (int i = nd; i < 9; i++)
            nanos *= 10;
    }
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh = digits(&p, 2);
        if (oh < 0 || oh > 23 || !expect(&p, ':'))
            return EVB_ERR_PARSE;
        int om = digits(&p, 2);
        if (om < 0 || om > 59)
            return EVB_ERR_PARSE;
        off_min = sign * (oh * 60 + om);
    } else {
        return EVB_ERR_PARSE;
    }
    if (*p != '\0')
        return EVB_ERR_PARSE;

    /* seconds since the epoch of the local wall time, then shift by the offset to UTC */
    int64_t local_min = days_from_civil(year, mon, day) * 1440 + (int64_t)hour * 60 + min;
    int64_t utc_min = local_min - off_min;
    if (sec == 60) {
        /* RFC 3339 §5.7: a leap second is the last second of a UTC day (23:59:60Z) */
        int64_t mod = ((utc_min % 1440) + 1440) % 1440;
        if (mod != 23 * 60 + 59)
            return EVB_ERR_PARSE;
        sec = 59;
    }
    int64_t secs = utc_min * 60 + sec;
    *ms_out = secs * 1000 + nanos / 1000000;
    if (nanos_out != NULL)
        *nanos_out = nanos;
    return EVB_OK;
}

void evb_time_split(int64_t ms, int64_t *seconds, int32_t *nanos)
{
    int64_t s = ms / 1000, r = ms % 1000;
    if (r < 0) {
        r += 1000;
        s -= 1;
    }
    *seconds = s;
    *nanos = (int32_t)(r * 1000000);
}

char *evb_time_format_rfc3339(int64_t ms, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return out;
    int64_t secs;
    int32_t nanos;
    evb_time_split(ms, &secs, &nanos);
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || outlen < 25) { /* rare: let snprintf pad, sign and truncate */
        snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
                 (int)(nanos / 1000000));
        return out;
    }
    /* The same text digit by digit: this runs for every event received without a time. */
    int ms3 = (int)(nanos / 1000000), hh = (int)(rem / 3600), mi = (int)(rem / 60 % 60),
        ss = (int)(rem % 60), yy = (int)y;
    char *p = out;
    *p++ = (char)('0' + yy / 1000);
    *p++ = (char)('0' + yy / 100 % 10);
    *p++ = (char)('0' + yy / 10 % 10);
    *p++ = (char)('0' + yy % 10);
    const int two[5] = {m, d, hh, mi, ss};
    const char sep[5] = {'-', '-', 'T', ':', ':'};
    for (int i = 0; i < 5; i++) {
        *p++ = sep[i];
        *p++ = (char)('0' + two[i] / 10);
        *p++ = (char)('0' + two[i] % 10);
    }
    *p++ = '.';
    *p++ = (char)('0' + ms3 / 100);
    *p++ = (char)('0' + ms3 / 10 % 10);
    *p++ = (char)('0' + ms3 % 10);
    *p++ = 'Z';
    *p = '\0';
    return out;
}
