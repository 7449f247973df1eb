/* evbridge registry — format checks (see format_int.h for the RFCs followed).
 *
 * Hand-written recognisers over the exact bytes; no locale, no allocation (except the regex
 * format, which compiles the pattern). Strings with embedded NULs never match.
 */
#include "registry/format_int.h"
#include "registry/regex_int.h"

#include <string.h>

static const struct {
    const char *name;
    fmt_id id;
} FORMATS[] = {
    {"date-time", FMT_DATE_TIME},
    {"date", FMT_DATE},
    {"time", FMT_TIME},
    {"duration", FMT_DURATION},
    {"email", FMT_EMAIL},
    {"hostname", FMT_HOSTNAME},
    {"ipv4", FMT_IPV4},
    {"ipv6", FMT_IPV6},
    {"uri", FMT_URI},
    {"uri-reference", FMT_URI_REFERENCE},
    {"uuid", FMT_UUID},
    {"regex", FMT_REGEX},
    {"json-pointer", FMT_JSON_POINTER},
};

fmt_id fmt_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (strcmp(FORMATS[i].name, name) == 0)
            return FORMATS[i].id;
    return FMT_UNKNOWN;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* n fixed digits at s; -1 when not all digits. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool check_date(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1)
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int max = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        max = 29;
    return d <= max;
}

static bool check_time(const char *s, size_t n)
{
    if (n < 9 || s[2] != ':' || s[5] != ':')
        return false;
    int h = digits(s, 2), mi = digits(s + 3, 2), se = digits(s + 6, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return false;
    size_t i = 8;
    if (i < n && s[i] == '.') {
        size_t k = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == k)
            return false;
    }
    if (i >= n)
        return false;
    int off = 0; /* minutes east of UTC */
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        if (n - i != 6 || s[i + 3] != ':')
            return false;
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    if (se == 60) { /* leap second: only at 23:59:60 UTC */
        int utc = ((h * 60 + mi - off) % 1440 + 1440) % 1440;
        return utc == 23 * 60 + 59;
    }
    return true;
}

static bool check_date_time(const char *s, size_t n)
{
    if (n < 20 || (s[10] != 'T' && s[10] != 't'))
        return false;
    return check_date(s, 10) && check_time(s + 11, n - 11);
}

/* RFC 3339 Appendix A: P (date [T time] | T time | week); units in order, none skipped. */
static bool check_duration(const char *s, size_t n)
{
    if (n < 2 || s[0] != 'P')
        return false;
    static const char date_units[] = "YMD", time_units[] = "HMS";
    size_t i = 1;
    bool in_time = false, any = false, any_time = false;
    int last = -1; /* index of the last unit within the current part */
    while (i < n) {
        if (s[i] == 'T') {
            if (in_time)
                return false;
            in_time = true;
            last = -1;
            i++;
            if (i == n)
                return false;
            continue;
        }
        size_t k = i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == k || i == n)
            return false;
        char u = s[i++];
        if (u == 'W') {
            return !in_time && !any && i == n;
        }
        const char *units = in_time ? time_units : date_units;
        const char *p = strchr(units, u);
        if (p == NULL || u == '\0')
            return false;
        int idx = (int)(p - units);
        if (last >= 0 && idx != last + 1)
            return false;
        last = idx;
        any = true;
        if (in_time)
            any_time = true;
    }
    return any && (!in_time || any_time);
}

static bool check_hostname(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        char c = s[i];
        if (!(is_alpha(c) || is_digit(c) || c == '-'))
            return false;
        if (label == 0 && c == '-')
            return false;
        label++;
    }
    return true;
}

static bool check_ipv4(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        size_t k = i;
        int v = 0;
        while (i < n && is_digit(s[i]) && i - k < 4)
            v = v * 10 + (s[i++] - '0');
        if (i == k || i - k > 3 || v > 255 || (i - k > 1 && s[k] == '0'))
            return false;
    }
    return i == n;
}

static bool check_ipv6(const char *s, size_t n)
{
    if (n < 2)
        return false;
    int groups = 0;
    bool gap = false;
    size_t i = 0;
    if (s[0] == ':') {
        if (s[1] != ':')
            return false;
        gap = true;
        i = 2;
        if (i == n)
            return true;
    }
    while (i < n) {
        size_t k = i;
        while (i < n && is_hex(s[i]) && i - k < 5)
            i++;
        if (i < n && s[i] == '.') { /* embedded IPv4 as the last two groups */
            if (!check_ipv4(s + k, n - k))
                return false;
            groups += 2;
            break;
        }
        if (i == k || i - k > 4)
            return false;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < n && s[i] == ':') {
            if (gap)
                return false;
            gap = true;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return false;
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

static bool check_email(const char *s, size_t n)
{
    const char *at = NULL;
    size_t local_n;
    if (n > 0 && s[0] == '"') {
        size_t i = 1;
        while (i < n && s[i] != '"') {
            if (s[i] == '\\')
                i++;
            i++;
        }
        if (i >= n || i + 1 >= n || s[i + 1] != '@')
            return false;
        at = s + i + 1;
        local_n = i + 1;
    } else {
        at = memchr(s, '@', n);
        if (at == NULL)
            return false;
        local_n = (size_t)(at - s);
        if (local_n == 0 || s[0] == '.' || s[local_n - 1] == '.')
            return false;
        for (size_t i = 0; i < local_n; i++) {
            char c = s[i];
            if (c == '.' && s[i + 1] == '.')
                return false;
            if (!(is_alpha(c) || is_digit(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c)) || c == 0)
                return false;
        }
    }
    const char *d = at + 1;
    size_t dn = n - local_n - 1;
    if (dn >= 2 && d[0] == '[' && d[dn - 1] == ']') {
        if (dn > 7 && memcmp(d + 1, "IPv6:", 5) == 0)
            return check_ipv6(d + 6, dn - 7);
        return check_ipv4(d + 1, dn - 2);
    }
    return check_hostname(d, dn);
}

static bool check_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return true;
}

static bool check_json_pointer(const char *s, size_t n)
{
    if (n > 0 && s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')))
            return false;
    return true;
}

static bool check_regex(const char *s, size_t n)
{
    char err[64];
    evb_regex *re = regex_compile(s, n, err, sizeof err);
    regex_free(re);
    return re != NULL;
}

bool fmt_check(fmt_id f, const char *s, size_t n)
{
    if (f != FMT_UNKNOWN && f != FMT_JSON_POINTER && memchr(s, 0, n) != NULL)
        return false;
    switch (f) {
    case FMT_UNKNOWN:
        return true;
    case FMT_DATE_TIME:
        return check_date_time(s, n);
    case FMT_DATE:
        return check_date(s, n);
    case FMT_TIME:
        return check_time(s, n);
    case FMT_DURATION:
        return check_duration(s, n);
    case FMT_EMAIL:
        return check_email(s, n);
    case FMT_HOSTNAME:
        return check_hostname(s, n);
    case FMT_IPV4:
        return check_ipv4(s, n);
    case FMT_IPV6:
        return check_ipv6(s, n);
    case FMT_URI:
        return uri_syntax_ok(s, n, true);
    case FMT_URI_REFERENCE:
        return uri_syntax_ok(s, n, false);
    case FMT_UUID:
        return check_uuid(s, n);
    case FMT_REGEX:
        return check_regex(s, n);
    case FMT_JSON_POINTER:
        return check_json_pointer(s, n);
    }
    return true;
}
