/* evbridge — delivery retry policy (retry.h): resolving a connection's stored RetryPolicy,
 * computing the next delay, and parsing Retry-After.
 *
 * Design: the three strategies share one shape. EXPONENTIAL_DECAY_RETRY is CUSTOM with
 * fixed numbers (1 s doubling, 512 s cap, no jitter, 177 attempts, one day), and
 * BACKOFF_RETRY draws from a range instead of doubling; so after evb_retry_policy_init the
 * struct holds the effective numbers and evb_retry_next is a few lines of integer
 * arithmetic, saturating instead of overflowing. Randomness comes from the caller.
 * Retry-After parsing follows RFC 9110 §10.2.3 and §5.6.7 (the three HTTP-date forms);
 * dates become epoch times with the days-from-civil algorithm (no timegm, no locale).
 */
#include "server/delivery/retry.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

void evb_retry_policy_default(evb_retry_policy *out)
{
    out->strategy = EVB_RETRY_BACKOFF;
    out->max_attempts = EVB_RETRY_BACKOFF_ATTEMPTS;
    out->max_age_ms = 0;
    out->base_delay_ms = EVB_RETRY_BACKOFF_MIN_MS;
    out->max_delay_ms = EVB_RETRY_BACKOFF_MAX_MS;
    out->jitter = 0.0;
}

evb_err evb_retry_policy_init(evb_retry_policy *out, int strategy, int64_t max_attempts,
                              int64_t max_age_seconds, int64_t base_delay_ms, int64_t max_delay_ms,
                              double jitter, evb_error *err)
{
    if (strategy == 0)
        strategy = EVB_RETRY_BACKOFF;
    if (strategy < EVB_RETRY_BACKOFF || strategy > EVB_RETRY_CUSTOM)
        return evb_error_set(err, EVB_ERR_INVALID, "retry.strategy", "unknown retry strategy %d",
                             strategy);
    if (max_attempts < 0 || max_attempts > EVB_RETRY_MAX_ATTEMPTS_LIMIT)
        return evb_error_set(err, EVB_ERR_INVALID, "retry.max_attempts",
                             "retry.max_attempts must be 0..%d", EVB_RETRY_MAX_ATTEMPTS_LIMIT);
    if (max_age_seconds < 0 || max_age_seconds > EVB_RETRY_MAX_AGE_S_LIMIT)
        return evb_error_set(err, EVB_ERR_INVALID, "retry.max_age_seconds",
                             "retry.max_age_seconds must be 0..%lld",
                             (long long)EVB_RETRY_MAX_AGE_S_LIMIT);
    if (base_delay_ms < 0 || base_delay_ms > EVB_RETRY_DELAY_MS_LIMIT)
        return evb_error_set(err, EVB_ERR_INVALID, "retry.base_delay_ms",
                             "retry.base_delay_ms must be 0..%lld",
                             (long long)EVB_RETRY_DELAY_MS_LIMIT);
    if (max_delay_ms < 0 || max_delay_ms > EVB_RETRY_DELAY_MS_LIMIT)
        return evb_error_set(err, EVB_ERR_INVALID, "retry.max_delay_ms",
                             "retry.max_delay_ms must be 0..%lld",
                             (long long)EVB_RETRY_DELAY_MS_LIMIT);
    if (!(jitter >= 0.0 && jitter <= 1.0)) /* also rejects NaN */
        return evb_error_set(err, EVB_ERR_INVALID, "retry.jitter", "retry.jitter must be 0..1");

    evb_retry_policy p;
    switch (strategy) {
    case EVB_RETRY_BACKOFF:
        evb_retry_policy_default(&p);
        break;
    case EVB_RETRY_EXPONENTIAL:
        p.strategy = EVB_RETRY_EXPONENTIAL;
        p.max_attempts = EVB_RETRY_EXP_ATTEMPTS;
        p.max_age_ms = EVB_RETRY_EXP_MAX_AGE_MS;
        p.base_delay_ms = EVB_RETRY_EXP_BASE_MS;
        p.max_delay_ms = EVB_RETRY_EXP_CAP_MS;
        p.jitter = 0.0;
        break;
    default:
        if (max_attempts < 1)
            return evb_error_set(err, EVB_ERR_INVALID, "retry.max_attempts",
                                 "a CUSTOM retry policy needs max_attempts >= 1");
        if (base_delay_ms < 1)
            return evb_error_set(err, EVB_ERR_INVALID, "retry.base_delay_ms",
                                 "a CUSTOM retry policy needs base_delay_ms >= 1");
        if (max_delay_ms < base_delay_ms)
            return evb_error_set(err, EVB_ERR_INVALID, "retry.max_delay_ms",
                                 "a CUSTOM retry policy needs max_delay_ms >= base_delay_ms");
        p.strategy = EVB_RETRY_CUSTOM;
        p.max_attempts = 0;
        p.max_age_ms = 0;
        p.base_delay_ms = base_delay_ms;
        p.max_delay_ms = max_delay_ms;
        p.jitter = jitter;
        break;
    }
    if (max_attempts > 0)
        p.max_attempts = (int)max_attempts;
    if (max_age_seconds > 0)
        p.max_age_ms = max_age_seconds * 1000;
    *out = p;
    return EVB_OK;
}

/* Reads member `name` of o as an integer into *v (0 when missing). */
static evb_err member_int(const json_t *o, const char *name, int64_t *v, evb_error *err)
{
    const json_t *m = json_object_get(o, name);
    *v = 0;
    if (m == NULL)
        return EVB_OK;
    if (!json_is_integer(m)) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "retry.%s", name);
        return evb_error_set(err, EVB_ERR_INVALID, ptr, "retry.%s must be an integer", name);
    }
    *v = (int64_t)json_integer_value(m);
    return EVB_OK;
}

evb_err evb_retry_policy_from_json(const json_t *retry, evb_retry_policy *out, evb_error *err)
{
    if (retry == NULL) {
        evb_retry_policy_default(out);
        return EVB_OK;
    }
    if (!json_is_object(retry))
        return evb_error_set(err, EVB_ERR_INVALID, "retry", "retry must be an object");
    int64_t strategy, attempts, age, base, cap;
    evb_err rc;
    if ((rc = member_int(retry, "strategy", &strategy, err)) != EVB_OK ||
        (rc = member_int(retry, "max_attempts", &attempts, err)) != EVB_OK ||
        (rc = member_int(retry, "max_age_seconds", &age, err)) != EVB_OK ||
        (rc = member_int(retry, "base_delay_ms", &base, err)) != EVB_OK ||
        (rc = member_int(retry, "max_delay_ms", &cap, err)) != EVB_OK)
        return rc;
    double jitter = 0.0;
    const json_t *j = json_object_get(retry, "jitter");
    if (j != NULL) {
        if (!json_is_number(j))
            return evb_error_set(err, EVB_ERR_INVALID, "retry.jitter",
                                 "retry.jitter must be a number");
        jitter = json_number_value(j);
    }
    if (strategy < INT_MIN || strategy > INT_MAX)
        return evb_error_set(err, EVB_ERR_INVALID, "retry.strategy", "unknown retry strategy");
    return evb_retry_policy_init(out, (int)strategy, attempts, age, base, cap, jitter, err);
}

/* a + b for non-negative a, b, saturating at INT64_MAX. */
static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* min(base * 2^n, cap) for 0 <= base <= cap, without overflow. */
static int64_t doubled(int64_t base, int n, int64_t cap)
{
    int64_t d = base;
    for (int i = 0; i < n && d < cap; i++)
        d = d > cap / 2 ? cap : d * 2;
    return d < cap ? d : cap;
}

/* The top 53 bits of rnd as a double in [0, 1). */
static double unit_interval(uint64_t rnd)
{
    return (double)(rnd >> 11) * (1.0 / 9007199254740992.0);
}

int evb_retry_next(const evb_retry_policy *p, int attempts_done, int64_t age_ms,
                   int64_t retry_after_ms, uint64_t rnd, int64_t *delay_ms)
{
    if (attempts_done < 1)
        attempts_done = 1;
    if (age_ms < 0)
        age_ms = 0;
    if (attempts_done >= p->max_attempts)
        return 0;
    int64_t cap = p->max_delay_ms > 0 ? p->max_delay_ms : 0;
    int64_t base = p->base_delay_ms > 0 ? p->base_delay_ms : 0;
    if (base > cap)
        base = cap;
    int64_t d;
    if (p->strategy == EVB_RETRY_BACKOFF) {
        uint64_t span = (uint64_t)(cap - base) + 1;
        d = base + (int64_t)(rnd % span);
    } else {
        d = doubled(base, attempts_done - 1, cap);
        if (p->jitter > 0.0) {
            double u = 2.0 * unit_interval(rnd) - 1.0; /* [-1, 1) */
            double jd = (double)d * (1.0 + p->jitter * u);
            d = jd <= 0.0 ? 0 : jd >= (double)cap ? cap : (int64_t)jd;
        }
    }
    if (retry_after_ms >= 0) {
        int64_t ra = retry_after_ms < cap ? retry_after_ms : cap;
        if (ra > d)
            d = ra;
    }
    if (p->max_age_ms > 0 && sat_add(age_ms, d) > p->max_age_ms)
        return 0;
    *delay_ms = d;
    return 1;
}

/* ---- Retry-After ---------------------------------------------------------------------- */

static const char *const MONTHS[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const DAYS_SHORT[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const DAYS_LONG[7] = {"monday", "tuesday",  "wednesday", "thursday",
                                         "friday", "saturday", "sunday"};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Matches word (lower case) at *s, case-insensitively; advances *s on a match. */
static int eat_word(const char **s, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)(*s)[i]) != word[i])
            return 0;
    *s += n;
    return 1;
}

static int eat_char(const char **s, char c)
{
    if (**s != c)
        return 0;
    (*s)++;
    return 1;
}

/* Exactly n digits. */
static int eat_digits(const char **s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return 0;
        x = x * 10 + (c - '0');
    }
    *s += n;
    *v = x;
    return 1;
}

/* One of the names in list; returns its index or -1. Longest names are listed first where
 * one is a prefix of another (never the case for the tables above). */
static int eat_name(const char **s, const char *const *list, int n)
{
    for (int i = 0; i < n; i++)
        if (eat_word(s, list[i]))
            return i;
    return -1;
}

/* "HH:MM:SS" */
static int eat_time(const char **s, int *h, int *m, int *sec)
{
    return eat_digits(s, 2, h) && eat_char(s, ':') && eat_digits(s, 2, m) && eat_char(s, ':') &&
           eat_digits(s, 2, sec);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The proleptic Gregorian year of a time (H. Hinnant's civil_from_days, year only). */
static int64_t year_of_ms(int64_t ms)
{
    int64_t days = ms / 86400000LL - (ms % 86400000LL < 0);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static int days_in_month(int y, int m)
{
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : DAYS[m - 1];
}

/* Checks the fields and converts them to ms since the epoch. */
static int date_ms(int y, int mon /* 1..12 */, int d, int h, int mi, int s, int64_t *ms)
{
    if (d < 1 || d > days_in_month(y, mon) || h > 23 || mi > 59 || s > 60)
        return 0;
    if (s == 60)
        s = 59;
    *ms = ((days_from_civil(y, mon, d) * 24 + h) * 60 + mi) * 60000LL + s * 1000LL;
    return 1;
}

/* IMF-fixdate, after the day name: ", DD Mon YYYY HH:MM:SS GMT" */
static int parse_imf(const char *s, int64_t *ms)
{
    int d, mon, y, h, mi, sec;
    if (!eat_char(&s, ',') || !eat_char(&s, ' ') || !eat_digits(&s, 2, &d) || !eat_char(&s, ' ') ||
        (mon = eat_name(&s, MONTHS, 12)) < 0 || !eat_char(&s, ' ') || !eat_digits(&s, 4, &y) ||
        !eat_char(&s, ' ') || !eat_time(&s, &h, &mi, &sec) || !eat_char(&s, ' ') ||
        !eat_word(&s, "gmt") || *s != '\0')
        return 0;
    return date_ms(y, mon + 1, d, h, mi, sec, ms);
}

/* RFC 850, after the long day name: ", DD-Mon-YY HH:MM:SS GMT" */
static int parse_rfc850(const char *s, int64_t now_ms, int64_t *ms)
{
    int d, mon, yy, h, mi, sec;
    if (!eat_char(&s, ',') || !eat_char(&s, ' ') || !eat_digits(&s, 2, &d) || !eat_char(&s, '-') ||
        (mon = eat_name(&s, MONTHS, 12)) < 0 || !eat_char(&s, '-') || !eat_digits(&s, 2, &yy) ||
        !eat_char(&s, ' ') || !eat_time(&s, &h, &mi, &sec) || !eat_char(&s, ' ') ||
        !eat_word(&s, "gmt") || *s != '\0')
        return 0;
    /* RFC 9110 §5.6.7: a year that appears more than 50 years in the future is the most
     * recent past year with the same last two digits. */
    int64_t now_year = year_of_ms(now_ms);
    int64_t y = now_year - now_year % 100 + yy;
    if (y > now_year + 50)
        y -= 100;
    if (y < 0 || y > 9999)
        return 0;
    return date_ms((int)y, mon + 1, d, h, mi, sec, ms);
}

/* asctime, after the day name: " Mon DD HH:MM:SS YYYY" with DD = 2DIGIT or SP DIGIT */
static int parse_asctime(const char *s, int64_t *ms)
{
    int d, mon, y, h, mi, sec;
    if (!eat_char(&s, ' ') || (mon = eat_name(&s, MONTHS, 12)) < 0 || !eat_char(&s, ' '))
        return 0;
    if (!(eat_char(&s, ' ') ? eat_digits(&s, 1, &d) : eat_digits(&s, 2, &d)) ||
        !eat_char(&s, ' ') || !eat_time(&s, &h, &mi, &sec) || !eat_char(&s, ' ') ||
        !eat_digits(&s, 4, &y) || *s != '\0')
        return 0;
    return date_ms(y, mon + 1, d, h, mi, sec, ms);
}

/* Any HTTP-date form. */
static int parse_http_date(const char *s, int64_t now_ms, int64_t *ms)
{
    const char *p = s;
    if (eat_name(&p, DAYS_LONG, 7) >= 0)
        return parse_rfc850(p, now_ms, ms);
    p = s;
    if (eat_name(&p, DAYS_SHORT, 7) < 0)
        return 0;
    return *p == ',' ? parse_imf(p, ms) : parse_asctime(p, ms);
}

int evb_retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms)
{
    if (value == NULL)
        return 0;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    if (value[0] >= '0' && value[0] <= '9') {
        const int64_t limit_s = 2147483648LL; /* 2^31 s, as RFC 9111 §1.2.2 */
        int64_t secs = 0;
        for (size_t i = 0; i < n; i++) {
            if (value[i] < '0' || value[i] > '9')
                return 0;
            if (secs < limit_s)
                secs = secs * 10 + (value[i] - '0');
        }
        *delay_ms = (secs < limit_s ? secs : limit_s) * 1000;
        return 1;
    }
    char buf[64]; /* every HTTP-date form is shorter */
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, value, n);
    buf[n] = '\0';
    int64_t at;
    if (!parse_http_date(buf, now_ms, &at))
        return 0;
    *delay_ms = at > now_ms ? at - now_ms : 0;
    return 1;
}
