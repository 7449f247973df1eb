/* evbridge — JSONPath subset compiler and evaluator (jsonpath.h).
 *
 * Design: a one-pass recursive-free parser turns the text into an array of steps (member
 * name or array index); decoded member names live in one pool allocated up front, which is
 * never longer than the source (every escape decodes to fewer bytes than it spells).
 * Evaluation walks the steps over borrowed jansson values with json_object_getn (names may
 * contain NUL via \u0000), so it allocates nothing, cannot fail and is thread-safe.
 * Errors say where (in code points, from 1) and what, and name the unsupported RFC 9535
 * feature when the user reached for one.
 */
#include "server/routing/jsonpath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

#define MAX_INDEX 9007199254740991LL /* 2^53 - 1, the I-JSON range RFC 9535 uses */

typedef struct step {
    int is_index;
    long long index;
    size_t name_off, name_len;
} step;

struct evb_jsonpath {
    step *steps;
    size_t n, alloc;
    char *names; /* pool of decoded member names */
    size_t names_len;
};

typedef struct parser {
    const char *s;
    size_t len, i;
    evb_jsonpath *p;
    evb_error *err;
} parser;

static evb_err fail(parser *ps, size_t at, const char *reason)
{
    size_t pos = evb_utf8_len(ps->s, at < ps->len ? at : ps->len) + 1;
    return evb_error_set(ps->err, EVB_ERR_INVALID, NULL, "invalid JSONPath at character %zu: %s",
                         pos, reason);
}

static evb_err push(parser *ps, int is_index, long long index, size_t name_off, size_t name_len)
{
    evb_jsonpath *p = ps->p;
    if (p->n == p->alloc) {
        size_t na = p->alloc ? p->alloc * 2 : 4;
        step *ns = realloc(p->steps, na * sizeof *ns);
        if (ns == NULL)
            return evb_error_set(ps->err, EVB_ERR_NOMEM, NULL, "out of memory");
        p->steps = ns;
        p->alloc = na;
    }
    p->steps[p->n++] = (step){is_index, index, name_off, name_len};
    return EVB_OK;
}

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c >= 0x80;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at s[i..]; -1 when they are not there. */
static long hex4(const parser *ps, size_t i)
{
    if (ps->len - i < 4)
        return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(ps->s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static void put_utf8(evb_jsonpath *p, unsigned long cp)
{
    char *o = p->names + p->names_len;
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)), o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18)), o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    p->names_len += n;
}

/* A quoted member name starting at the quote; leaves ps->i after the closing quote. */
static evb_err parse_quoted(parser *ps)
{
    char q = ps->s[ps->i++];
    size_t off = ps->p->names_len;
    for (;;) {
        if (ps->i >= ps->len)
            return fail(ps, ps->i, "unterminated quoted name");
        unsigned char c = (unsigned char)ps->s[ps->i];
        if (c == (unsigned char)q) {
            ps->i++;
            return push(ps, 0, 0, off, ps->p->names_len - off);
        }
        if (c < 0x20)
            return fail(ps, ps->i, "control characters in a quoted name must be escaped");
        if (c != '\\') {
            ps->p->names[ps->p->names_len++] = (char)c;
            ps->i++;
            continue;
        }
        size_t at = ps->i++;
        if (ps->i >= ps->len)
            return fail(ps, at, "unterminated escape");
        char e = ps->s[ps->i++];
        const char *from = "'\"\\/bfnrt", *to = "'\"\\/\b\f\n\r\t";
        const char *hit = e != '\0' ? strchr(from, e) : NULL;
        if (hit != NULL) {
            ps->p->names[ps->p->names_len++] = to[hit - from];
            continue;
        }
        if (e != 'u')
            return fail(ps, at,
                        "unknown escape (use \\' \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        long cp = hex4(ps, ps->i);
        if (cp < 0)
            return fail(ps, at, "\\u needs 4 hex digits");
        ps->i += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(ps, at, "unpaired low surrogate");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo = -1;
            if (ps->len - ps->i >= 6 && ps->s[ps->i] == '\\' && ps->s[ps->i + 1] == 'u')
                lo = hex4(ps, ps->i + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(ps, at, "unpaired high surrogate");
            ps->i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        put_utf8(ps->p, (unsigned long)cp);
    }
}

/* An index ("-"? digits) at ps->i. */
static evb_err parse_index(parser *ps)
{
    size_t start = ps->i;
    int neg = 0;
    if (ps->s[ps->i] == '-') {
        neg = 1;
        ps->i++;
    }
    size_t d0 = ps->i;
    long long v = 0;
    while (ps->i < ps->len && ps->s[ps->i] >= '0' && ps->s[ps->i] <= '9') {
        if (v > MAX_INDEX / 10)
            return fail(ps, start, "index out of range (at most 2^53-1)");
        v = v * 10 + (ps->s[ps->i] - '0');
        ps->i++;
    }
    if (ps->i == d0)
        return fail(ps, start, "expected digits after '-'");
    if (v > MAX_INDEX)
        return fail(ps, start, "index out of range (at most 2^53-1)");
    if (ps->s[d0] == '0' && ps->i - d0 > 1)
        return fail(ps, start, "leading zeros are not allowed in an index");
    if (neg && v == 0)
        return fail(ps, start, "-0 is not a valid index");
    return push(ps, 1, neg ? -v : v, 0, 0);
}

static evb_err parse_bracket(parser *ps)
{
    size_t open = ps->i++;
    while (ps->i < ps->len && is_blank(ps->s[ps->i]))
        ps->i++;
    if (ps->i >= ps->len)
        return fail(ps, open, "unterminated '['");
    char c = ps->s[ps->i];
    evb_err rc;
    if (c == '\'' || c == '"')
        rc = parse_quoted(ps);
    else if (c == '-' || (c >= '0' && c <= '9'))
        rc = parse_index(ps);
    else if (c == '*')
        return fail(ps, ps->i, "wildcards ([*]) are not supported");
    else if (c == '?')
        return fail(ps, ps->i, "filters ([?...]) are not supported");
    else if (c == ':')
        return fail(ps, ps->i, "slices ([a:b]) are not supported");
    else
        return fail(ps, ps->i, "expected a quoted name or an index after '['");
    if (rc != EVB_OK)
        return rc;
    while (ps->i < ps->len && is_blank(ps->s[ps->i]))
        ps->i++;
    if (ps->i < ps->len && ps->s[ps->i] == ',')
        return fail(ps, ps->i, "unions (several selectors in one [...]) are not supported");
    if (ps->i < ps->len && ps->s[ps->i] == ':')
        return fail(ps, ps->i, "slices ([a:b]) are not supported");
    if (ps->i >= ps->len || ps->s[ps->i] != ']')
        return fail(ps, ps->i, "expected ']'");
    ps->i++;
    return EVB_OK;
}

static evb_err parse_dot(parser *ps)
{
    size_t dot = ps->i++;
    if (ps->i < ps->len && ps->s[ps->i] == '.')
        return fail(ps, dot, "recursive descent (..) is not supported");
    if (ps->i < ps->len && ps->s[ps->i] == '*')
        return fail(ps, ps->i, "wildcards (.*) are not supported");
    size_t start = ps->i;
    while (ps->i < ps->len && name_char((unsigned char)ps->s[ps->i]))
        ps->i++;
    if (ps->i == start)
        return fail(ps, start,
                    "expected a member name after '.' (letters, digits, '_', '-'; use "
                    "['...'] for other names)");
    size_t off = ps->p->names_len;
    memcpy(ps->p->names + off, ps->s + start, ps->i - start);
    ps->p->names_len += ps->i - start;
    return push(ps, 0, 0, off, ps->i - start);
}

evb_err evb_jsonpath_compile(const char *path, size_t len, evb_jsonpath **out, evb_error *err)
{
    parser ps = {path, len, 0, NULL, err};
    if (path == NULL || len == 0)
        return evb_error_set(err, EVB_ERR_INVALID, NULL,
                             "JSONPath is empty (use \"$\" for "
                             "the whole event)");
    if (!evb_utf8_valid(path, len))
        return evb_error_set(err, EVB_ERR_INVALID, NULL, "JSONPath is not valid UTF-8");
    if (path[0] != '$')
        return fail(&ps, 0, "a JSONPath starts with '$'");
    evb_jsonpath *p = calloc(1, sizeof *p);
    if (p == NULL || (p->names = malloc(len + 1)) == NULL) {
        free(p);
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    ps.p = p;
    ps.i = 1;
    evb_err rc = EVB_OK;
    while (rc == EVB_OK && ps.i < len) {
        char c = path[ps.i];
        if (c == '.')
            rc = parse_dot(&ps);
        else if (c == '[')
            rc = parse_bracket(&ps);
        else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            rc = fail(&ps, ps.i, "unexpected blank (blanks are allowed only inside [...])");
        else
            rc = fail(&ps, ps.i, "expected '.' or '['");
    }
    if (rc != EVB_OK) {
        evb_jsonpath_free(p);
        return rc;
    }
    *out = p;
    return EVB_OK;
}

const json_t *evb_jsonpath_eval(const evb_jsonpath *p, const json_t *root)
{
    const json_t *cur = root;
    for (size_t k = 0; cur != NULL && k < p->n; k++) {
        const step *st = &p->steps[k];
        if (st->is_index) {
            if (!json_is_array(cur))
                return NULL;
            long long n = (long long)json_array_size(cur);
            long long i = st->index < 0 ? n + st->index : st->index;
            if (i < 0 || i >= n)
                return NULL;
            cur = json_array_get(cur, (size_t)i);
        } else {
            if (!json_is_object(cur))
                return NULL;
            cur = json_object_getn(cur, p->names + st->name_off, st->name_len);
        }
    }
    return cur;
}

size_t evb_jsonpath_depth(const evb_jsonpath *p)
{
    return p->n;
}

void evb_jsonpath_free(evb_jsonpath *p)
{
    if (p == NULL)
        return;
    free(p->steps);
    free(p->names);
    free(p);
}
