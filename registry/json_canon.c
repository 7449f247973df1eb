/* evbridge registry — canonical JSON text and exact decimal forms of numbers.
 *
 * Canonical form (used to detect identical schemas): keys sorted by code point (byte order
 * of UTF-8 is code point order), no whitespace, strings escaped minimally as in RFC 8785
 * (https://www.rfc-editor.org/rfc/rfc8785), integral numbers printed without a fraction and
 * other numbers in the shortest decimal form that reads back to the same double.
 *
 * evb_json_decimal gives that same shortest form as mantissa * 10^exp, which lets multipleOf
 * be decided exactly on the decimal the user wrote (0.01, 19.99) instead of on binary
 * approximations.
 */
#include "registry/json_value_int.h"
#include "registry/util_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool evb_json_decimal(double d, uint64_t *mant, int *exp10, bool *neg)
{
    if (!isfinite(d))
        return false;
    *neg = d < 0;
    if (d == 0) {
        *mant = 0;
        *exp10 = 0;
        return true;
    }
    char buf[40];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, fabs(d));
        if (strtod(buf, NULL) == fabs(d) || prec == 16)
            break;
    }
    /* buf is "D.DDDDe[+-]XX" */
    uint64_t m = 0;
    int digits_after = 0;
    bool after = false;
    const char *p = buf;
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            after = true;
            continue;
        }
        m = m * 10 + (uint64_t)(*p - '0');
        if (after)
            digits_after++;
    }
    int e = (*p == 'e') ? atoi(p + 1) : 0;
    e -= digits_after;
    while (m != 0 && m % 10 == 0) {
        m /= 10;
        e++;
    }
    *mant = m;
    *exp10 = e;
    return true;
}

static void put_string(sbuf *b, const char *s, size_t n)
{
    sbuf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            sbuf_puts(b, "\\\"");
            break;
        case '\\':
            sbuf_puts(b, "\\\\");
            break;
        case '\b':
            sbuf_puts(b, "\\b");
            break;
        case '\f':
            sbuf_puts(b, "\\f");
            break;
        case '\n':
            sbuf_puts(b, "\\n");
            break;
        case '\r':
            sbuf_puts(b, "\\r");
            break;
        case '\t':
            sbuf_puts(b, "\\t");
            break;
        default:
            if (c < 0x20)
                sbuf_printf(b, "\\u%04x", c);
            else
                sbuf_putc(b, (char)c);
        }
    }
    sbuf_putc(b, '"');
}

static void put_real(sbuf *b, double d)
{
    char buf[40];
    if (d == floor(d) && fabs(d) < 1e18) {
        snprintf(buf, sizeof buf, "%.0f", d);
        sbuf_puts(b, strcmp(buf, "-0") == 0 ? "0" : buf);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    sbuf_puts(b, buf);
}

static int member_cmp(const void *a, const void *b)
{
    const evb_json_member *x = *(const evb_json_member *const *)a;
    const evb_json_member *y = *(const evb_json_member *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    if (c != 0)
        return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static void put_value(sbuf *b, const evb_json *v);

static void put_object(sbuf *b, const evb_json *v)
{
    const evb_json_member **ms = malloc((v->n ? v->n : 1) * sizeof *ms);
    if (ms == NULL) {
        b->failed = true;
        return;
    }
    for (size_t i = 0; i < v->n; i++)
        ms[i] = &v->u.members[i];
    qsort(ms, v->n, sizeof *ms, member_cmp);
    sbuf_putc(b, '{');
    for (size_t i = 0; i < v->n && !b->failed; i++) {
        if (i)
            sbuf_putc(b, ',');
        put_string(b, ms[i]->key, ms[i]->klen);
        sbuf_putc(b, ':');
        put_value(b, ms[i]->val);
    }
    sbuf_putc(b, '}');
    free(ms);
}

static void put_value(sbuf *b, const evb_json *v)
{
    switch (v->type) {
    case EVB_JSON_NULL:
        sbuf_puts(b, "null");
        break;
    case EVB_JSON_BOOL:
        sbuf_puts(b, v->b ? "true" : "false");
        break;
    case EVB_JSON_INTEGER:
        sbuf_printf(b, "%lld", (long long)v->u.i);
        break;
    case EVB_JSON_REAL:
        put_real(b, v->u.d);
        break;
    case EVB_JSON_STRING:
        put_string(b, v->u.s, v->n);
        break;
    case EVB_JSON_ARRAY:
        sbuf_putc(b, '[');
        for (size_t i = 0; i < v->n && !b->failed; i++) {
            if (i)
                sbuf_putc(b, ',');
            put_value(b, v->u.items[i]);
        }
        sbuf_putc(b, ']');
        break;
    case EVB_JSON_OBJECT:
        put_object(b, v);
        break;
    }
}

evb_err evb_json_canonical(const evb_json *v, char **out, size_t *out_len)
{
    if (v == NULL || out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    sbuf b;
    sbuf_init(&b);
    put_value(&b, v);
    if (b.failed || b.data == NULL) {
        sbuf_fini(&b);
        return EVB_ERR_NOMEM;
    }
    *out = b.data;
    if (out_len)
        *out_len = b.len;
    return EVB_OK;
}
