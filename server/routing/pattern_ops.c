/* evbridge — pattern value operations: does one leaf value satisfy one operation?
 *
 * Every operation but anything-but, exists and the exact literals (true/false/null/number)
 * applies to strings only; numeric and exact numbers apply to JSON numbers only (compared as
 * doubles). anything-but is the negation of its excluded operations over *present* values,
 * so it matches null, booleans and numbers when it excludes strings (event-ruler behaves
 * so). Case folding is Unicode simple case folding for the scripts listed in pattern.h;
 * both the pattern operand (at compile time) and the event value (here) are folded.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern_int.h"

/* ---- case folding ---------------------------------------------------------------------- */

static uint32_t fold_cp(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c < 0x100) {
        if (c == 0xB5)
            return 0x3BC; /* micro sign -> greek mu */
        return (c >= 0xC0 && c <= 0xDE && c != 0xD7) ? c + 32 : c;
    }
    if (c < 0x180) {
        if (c == 0x178)
            return 0xFF;
        if (c == 0x17F)
            return 's';
        if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149)
            return c; /* no simple folding */
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1) ? c + 1 : c;
        return (c & 1) ? c : c + 1;
    }
    if (c >= 0x386 && c <= 0x3AB) {
        if (c == 0x386)
            return 0x3AC;
        if (c >= 0x388 && c <= 0x38A)
            return c + 37;
        if (c == 0x38C)
            return 0x3CC;
        if (c == 0x38E || c == 0x38F)
            return c + 63;
        if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
            return c + 32;
        return c;
    }
    if (c == 0x3C2)
        return 0x3C3; /* final sigma */
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x4FF))
        return (c & 1) ? c : c + 1;
    if (c >= 0x531 && c <= 0x556)
        return c + 48;
    if (c == 0x1E9E)
        return 0xDF;
    if ((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF))
        return (c & 1) ? c : c + 1;
    if (c == 0x212A)
        return 'k';
    if (c == 0x212B)
        return 0xE5;
    if (c >= 0xFF21 && c <= 0xFF3A)
        return c + 32;
    return c;
}

/* Decodes one well-formed UTF-8 sequence at s[0..n); returns its length or 0 if malformed. */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = (s[0] >= 0xF0 && s[0] <= 0xF4) ? 4 : (s[0] >= 0xE0) ? 3 : (s[0] >= 0xC2) ? 2 : 0;
    if (len == 0 || s[0] > 0xF4 || len > n)
        return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
        (len == 4 && (c < 0x10000 || c > 0x10FFFF)))
        return 0;
    *cp = c;
    return len;
}

static size_t utf8_enc(uint32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* No folding above lengthens a code point's encoding (U+00B5 2 -> 2 bytes, U+017F 2 -> 1,
 * U+1E9E 3 -> 2, U+212A 3 -> 1, ...), so the output needs at most n + 1 bytes. */
char *evb_pm_fold_buf(const char *s, size_t n, char *buf, size_t cap, size_t *out_n)
{
    char *o = buf;
    if (n + 1 > cap) {
        o = malloc(n + 1);
        if (o == NULL)
            return NULL;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_dec(u + i, n - i, &cp);
        if (l == 0) {
            o[k++] = s[i++]; /* invalid byte: kept as is */
            continue;
        }
        uint32_t f = fold_cp(cp);
        if (f == cp) {
            memcpy(o + k, s + i, l);
            k += l;
        } else {
            k += utf8_enc(f, o + k);
        }
        i += l;
    }
    o[k] = '\0';
    *out_n = k;
    return o;
}

char *evb_pm_fold(const char *s, size_t n, size_t *out_n)
{
    return evb_pm_fold_buf(s, n, NULL, 0, out_n);
}

double evb_pm_canon_num(double d)
{
    return d == 0 ? 0.0 : d;
}

/* ---- matching ---------------------------------------------------------------------------- */

static int find_sub(const char *h, size_t hn, const char *nd, size_t nn, size_t from, size_t *at)
{
    if (nn == 0) {
        *at = from;
        return 1;
    }
    for (size_t i = from; i + nn <= hn; i++) {
        if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

/* Glob match with '*' (marked in star[]) as the only metacharacter: the literal runs between
 * stars are found leftmost in order, the first anchored at the start unless a star leads, the
 * last anchored at the end unless a star trails. */
static int wildcard_match(const evb_pm_op *op, const char *s, size_t n)
{
    const char *p = op->s;
    size_t pn = op->n, pi = 0, si = 0;
    /* leading literal run */
    while (pi < pn && !op->star[pi]) {
        if (si >= n || s[si] != p[pi])
            return 0;
        pi++, si++;
    }
    if (pi == pn)
        return si == n;
    /* trailing literal run */
    size_t tail = 0;
    while (tail < pn - pi && !op->star[pn - 1 - tail])
        tail++;
    if (n - si < tail || memcmp(s + n - tail, p + pn - tail, tail) != 0)
        return 0;
    size_t end = n - tail, pend = pn - tail;
    /* middle runs, each after a star */
    while (pi < pend) {
        while (pi < pend && op->star[pi])
            pi++;
        size_t run = pi;
        while (run < pend && !op->star[run])
            run++;
        size_t at;
        if (!find_sub(s, end, p + pi, run - pi, si, &at))
            return 0;
        si = at + (run - pi);
        pi = run;
    }
    return 1;
}

static int cidr_match(const evb_pm_op *op, const char *s, size_t n)
{
    char tmp[64];
    unsigned char a[16];
    if (n == 0 || n >= sizeof tmp || memchr(s, '\0', n) != NULL)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(op->family == 4 ? AF_INET : AF_INET6, tmp, a) != 1)
        return 0;
    unsigned full = op->bits / 8, rest = op->bits % 8;
    if (memcmp(a, op->addr, full) != 0)
        return 0;
    if (rest != 0) {
        unsigned char mask = (unsigned char)(0xFF << (8 - rest));
        if ((a[full] & mask) != op->addr[full])
            return 0;
    }
    return 1;
}

static int folded_match(const evb_pm_op *op, const char *s, size_t n)
{
    char buf[256];
    size_t fn;
    char *f = evb_pm_fold_buf(s, n, buf, sizeof buf, &fn);
    if (f == NULL)
        return 0;
    int r;
    if (op->kind == EVB_PM_EQUALS_IC)
        r = fn == op->n && memcmp(f, op->s, fn) == 0;
    else if (op->kind == EVB_PM_PREFIX_IC)
        r = fn >= op->n && memcmp(f, op->s, op->n) == 0;
    else
        r = fn >= op->n && memcmp(f + fn - op->n, op->s, op->n) == 0;
    if (f != buf)
        free(f);
    return r;
}

static int string_match(const evb_pm_op *op, const char *s, size_t n)
{
    size_t at;
    switch (op->kind) {
    case EVB_PM_EXACT_STR:
        return n == op->n && memcmp(s, op->s, n) == 0;
    case EVB_PM_PREFIX:
        return n >= op->n && memcmp(s, op->s, op->n) == 0;
    case EVB_PM_SUFFIX:
        return n >= op->n && memcmp(s + n - op->n, op->s, op->n) == 0;
    case EVB_PM_PREFIX_IC:
    case EVB_PM_SUFFIX_IC:
    case EVB_PM_EQUALS_IC:
        return folded_match(op, s, n);
    case EVB_PM_CONTAINS:
        return find_sub(s, n, op->s, op->n, 0, &at);
    case EVB_PM_WILDCARD:
        return wildcard_match(op, s, n);
    case EVB_PM_CIDR:
        return cidr_match(op, s, n);
    default:
        return 0;
    }
}

int evb_pm_op_match(const evb_pm_op *op, const evb_pm_val *v)
{
    switch (op->kind) {
    case EVB_PM_EXISTS:
        return 1;
    case EVB_PM_ANYBUT:
        for (size_t i = 0; i < op->nsub; i++)
            if (evb_pm_op_match(&op->sub[i], v))
                return 0;
        return 1;
    case EVB_PM_EXACT_TRUE:
        return v->kind == EVB_PMV_TRUE;
    case EVB_PM_EXACT_FALSE:
        return v->kind == EVB_PMV_FALSE;
    case EVB_PM_EXACT_NULL:
        return v->kind == EVB_PMV_NULL;
    case EVB_PM_EXACT_NUM:
        return v->kind == EVB_PMV_NUM && v->u.num == op->num;
    case EVB_PM_NUMERIC: {
        if (v->kind != EVB_PMV_NUM)
            return 0;
        double d = v->u.num;
        if (op->has_lo && (op->lo_incl ? d < op->lo : d <= op->lo))
            return 0;
        if (op->has_hi && (op->hi_incl ? d > op->hi : d >= op->hi))
            return 0;
        return 1;
    }
    default:
        if (v->kind != EVB_PMV_STR)
            return 0;
        return string_match(op, v->u.s, v->n);
    }
}

void evb_pm_op_fini(evb_pm_op *op)
{
    if (op == NULL)
        return;
    free(op->s);
    free(op->star);
    for (size_t i = 0; i < op->nsub; i++)
        evb_pm_op_fini(&op->sub[i]);
    free(op->sub);
    memset(op, 0, sizeof *op);
}
