/* evbridge registry — the JSON parser behind evb_json_parse (json_value.h).
 *
 * Why our own: parsing was 65-75 % of validating an event, and most of that went into
 * jansson's tree (a malloc per value, a hash table per object) that was then copied into
 * evb_json and freed. This parser writes evb_json values directly, in one pass: values,
 * strings and child arrays are bump-allocated in the document's arena, whose first chunk also
 * holds the document header, so an ordinary event costs one malloc and one free. Containers
 * collect their children on scratch stacks (on the C stack unless the document is big) and
 * get exact-size arrays when they close. The loop is iterative: the depth limit is a counter,
 * not the C stack. Figures and the decision: docs/benchmarks.md, section Validation.
 *
 * Strict RFC 8259 (https://www.rfc-editor.org/rfc/rfc8259): exactly one value, whitespace
 * (space, tab, CR, LF) only around tokens; no comments, trailing commas, NaN/Infinity, '+'
 * or leading zeros; strings are UTF-8 as RFC 3629 defines it (no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF) with no raw control characters, and \u escapes of
 * surrogates must pair. Duplicate keys and keys holding U+0000 are errors. Numbers give the
 * results json_value.h documents, the same as the jansson-based parser this replaces;
 * tests/fuzz/fuzz_json.c checks the two against each other.
 */
#include "registry/json_value_int.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(evb_json) % 8 == 0, "values are bump-allocated 8-byte aligned");
_Static_assert(sizeof(evb_json_member) % 8 == 0, "members follow their object 8-byte aligned");

#define ROUND8(n) (((n) + 7) & ~(size_t)7)
#define BLOCK_MAX ((size_t)1 << 20)
#define TWO53 9007199254740992.0

/* An open array or object. */
typedef struct frame {
    size_t base; /* its first child on the vals (array) or mems (object) stack */
    size_t n;    /* children so far; for objects, members whose key has been read */
    bool obj;
} frame;

#define INLINE_VALS 128
#define INLINE_MEMS 64
#define INLINE_FRAMES 32
#define INLINE_IX 64

typedef struct parser {
    const unsigned char *text, *p, *end;
    arena *mem;
    unsigned char *blk, *blk_end; /* the current bump block */
    size_t next_blk;              /* size of the next one */
    size_t max_depth;
    bool big_int; /* an integer beyond int64 was read (see demote_big) */

    /* scratch stacks: inline storage first, the heap past it */
    evb_json **vals; /* children of open arrays */
    size_t nvals, cap_vals;
    evb_json_member *mems; /* members of open objects ... */
    size_t *kpos;          /* ... and the text offsets of their keys */
    size_t nmems, cap_mems;
    frame *frames;
    size_t depth, cap_frames;
    uint32_t *ix; /* merge-sort scratch */
    size_t cap_ix;

    evb_err err; /* the first error */
    size_t err_at;
    const char *why;

    evb_json *vals_inline[INLINE_VALS];
    evb_json_member mems_inline[INLINE_MEMS];
    size_t kpos_inline[INLINE_MEMS];
    frame frames_inline[INLINE_FRAMES];
    uint32_t ix_inline[INLINE_IX];
} parser;

/* ---- memory --------------------------------------------------------------------------- */

static void *bump_slow(parser *ps, size_t size)
{
    size_t want = size > ps->next_blk ? size : ps->next_blk;
    unsigned char *b = arena_alloc_uninit(ps->mem, want);
    if (b == NULL) {
        ps->err = EVB_ERR_NOMEM;
        return NULL;
    }
    if (ps->next_blk < BLOCK_MAX)
        ps->next_blk *= 2;
    if (want - size >= (size_t)(ps->blk_end - ps->blk)) { /* keep the roomier block */
        ps->blk = b + size;
        ps->blk_end = b + want;
    }
    return b;
}

/* size: a multiple of 8. NULL (ps->err set) when out of memory. */
static inline void *bump(parser *ps, size_t size)
{
    if ((size_t)(ps->blk_end - ps->blk) >= size) {
        void *r = ps->blk;
        ps->blk += size;
        return r;
    }
    return bump_slow(ps, size);
}

/* Doubles a scratch stack's capacity; moves it off the inline storage. NULL when out of
 * memory (the stack is unchanged). */
static void *grow(void *data, const void *inl, size_t *cap, size_t size, size_t used)
{
    size_t ncap = *cap * 2;
    if (ncap > SIZE_MAX / size)
        return NULL;
    void *nd;
    if (data == inl) {
        nd = malloc(ncap * size);
        if (nd != NULL)
            memcpy(nd, data, used * size);
    } else {
        nd = realloc(data, ncap * size);
    }
    if (nd != NULL)
        *cap = ncap;
    return nd;
}

static void scratch_fini(parser *ps)
{
    if (ps->vals != ps->vals_inline)
        free(ps->vals);
    if (ps->mems != ps->mems_inline)
        free(ps->mems);
    if (ps->kpos != ps->kpos_inline)
        free(ps->kpos);
    if (ps->frames != ps->frames_inline)
        free(ps->frames);
    if (ps->ix != ps->ix_inline)
        free(ps->ix);
}

/* ---- errors --------------------------------------------------------------------------- */

static void *fail(parser *ps, const unsigned char *at, const char *why)
{
    if (ps->err == EVB_OK) {
        ps->err = EVB_ERR_PARSE;
        ps->err_at = (size_t)(at - ps->text);
        ps->why = why;
    }
    return NULL;
}

static void *nomem(parser *ps)
{
    ps->err = EVB_ERR_NOMEM;
    return NULL;
}

static evb_err report(const parser *ps, evb_error *err)
{
    if (ps->err == EVB_ERR_NOMEM)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory parsing JSON");
    size_t line = 1, col = 1;
    for (size_t i = 0; i < ps->err_at; i++) {
        if (ps->text[i] == '\n') {
            line++;
            col = 1;
        } else if ((ps->text[i] & 0xC0) != 0x80) { /* characters, not bytes */
            col++;
        }
    }
    return evb_error_set(err, EVB_ERR_PARSE, NULL,
                         "invalid JSON at line %zu column %zu (byte %zu): %s", line, col,
                         ps->err_at, ps->why);
}

/* The JSON pointer to the container being opened at depth ps->depth. */
static evb_err report_depth(const parser *ps, evb_error *err)
{
    sbuf where;
    sbuf_init(&where);
    for (size_t i = 0; i < ps->depth; i++) {
        const frame *f = &ps->frames[i];
        if (f->obj) {
            const evb_json_member *m = &ps->mems[f->base + f->n - 1];
            sbuf_putc(&where, '/');
            sbuf_put_ptr_token(&where, m->key, m->klen);
        } else {
            sbuf_printf(&where, "/%zu", f->n);
        }
    }
    evb_err rc = evb_error_set(err, EVB_ERR_LIMIT, where.data ? where.data : "",
                               "JSON nested deeper than %zu levels", ps->max_depth);
    sbuf_fini(&where);
    return rc;
}

/* ---- scanning ------------------------------------------------------------------------- */

static inline void skip_ws(parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 §4), 0 if there is none. */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t avail = (size_t)(end - s);
    if (c < 0xC2 || c > 0xF4)
        return 0; /* ASCII is not asked; continuation bytes, overlong C0/C1, beyond U+10FFFF */
    if (c < 0xE0)
        return avail >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3 || (s[2] & 0xC0) != 0x80)
            return 0;
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80,
                 hi = c == 0xED ? 0x9F : 0xBF; /* overlong; surrogates */
        return s[1] >= lo && s[1] <= hi ? 3 : 0;
    }
    if (avail < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
        return 0;
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF; /* overlong; > U+10FFFF */
    return s[1] >= lo && s[1] <= hi ? 4 : 0;
}

/* Offset of the first byte of s[0..n) (n >= 8, and 16 with SSE2) that ends a run of plain
 * string characters: '"', '\\', below 0x20 or above 0x7F; n when none of the first 8 (16) is. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define SCAN_WIDTH 16
static inline size_t scan_block(const unsigned char *s)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i m =
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
    m = _mm_or_si128(m, _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))); /* signed: >= 0x80 too */
    unsigned bits = (unsigned)_mm_movemask_epi8(m);
    return bits ? (size_t)__builtin_ctz(bits) : SCAN_WIDTH;
}
#else
#define SCAN_WIDTH 8
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
static inline size_t scan_block(const unsigned char *s)
{
    uint64_t w, q, b;
    memcpy(&w, s, sizeof w);
    q = w ^ (ONES * '"');
    b = w ^ (ONES * '\\');
    /* the lowest flagged byte is exact (borrows only flag bytes above a real hit) */
    uint64_t m = (((q - ONES) & ~q) | ((b - ONES) & ~b) | (w - ONES * 0x20) | w) & HIGHS;
    if (m == 0)
        return SCAN_WIDTH;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) / 8;
#else
    return 0; /* the caller goes on byte by byte */
#endif
}
#endif

static int hex4(const unsigned char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static char *put_utf8(char *w, unsigned cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xC0 | cp >> 6);
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xE0 | cp >> 12);
        *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (char)(0xF0 | cp >> 18);
        *w++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    }
    return w;
}

/* Decodes the escapes of raw string text s[0..q) into w (room for q - s bytes: no escape
 * decodes longer than it is written). Returns the end of the output, NULL on a bad escape. */
static char *unescape(parser *ps, const unsigned char *s, const unsigned char *q, char *w,
                      bool *has_nul)
{
    while (s < q) {
        const unsigned char *bs = memchr(s, '\\', (size_t)(q - s));
        size_t run = (size_t)((bs != NULL ? bs : q) - s);
        memcpy(w, s, run);
        w += run;
        s += run;
        if (s == q)
            break;
        unsigned cp; /* the scanner saw a byte after every backslash, before q */
        switch (s[1]) {
        case '"':
        case '\\':
        case '/':
            *w++ = (char)s[1];
            s += 2;
            continue;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u': {
            int hi = q - s >= 6 ? hex4(s + 2) : -1;
            if (hi < 0)
                return fail(ps, s, "invalid \\u escape (four hex digits expected)");
            cp = (unsigned)hi;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(ps, s, "lone UTF-16 low surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int lo = q - s >= 12 && s[6] == '\\' && s[7] == 'u' ? hex4(s + 8) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(ps, s,
                                "UTF-16 high surrogate in a \\u escape without its low half");
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
                s += 6;
            }
            *has_nul |= cp == 0;
            w = put_utf8(w, cp);
            s += 6;
            continue;
        }
        default:
            return fail(ps, s, "invalid escape in a string");
        }
        *w++ = (char)cp;
        s += 2;
    }
    return w;
}

/* Reads the string whose opening quote is at ps->p: its bytes, NUL-terminated, in the arena.
 * *has_nul tells whether it contains U+0000. NULL on error. */
static const char *parse_string(parser *ps, size_t *len, bool *has_nul)
{
    const unsigned char *s = ps->p + 1, *q = s, *end = ps->end;
    bool esc = false;
    for (;;) {
        while (end - q >= SCAN_WIDTH) {
            size_t k = scan_block(q);
            q += k;
            if (k < SCAN_WIDTH)
                break;
        }
        if (q >= end)
            return fail(ps, ps->p, "unterminated string");
        unsigned c = *q;
        if (c == '"')
            break;
        if (c == '\\') {
            if (end - q < 2)
                return fail(ps, ps->p, "unterminated string");
            if (strchr("\"\\/bfnrtu", q[1]) == NULL || q[1] == '\0')
                return fail(ps, q, "invalid escape in a string");
            esc = true;
            q += 2;
        } else if (c < 0x20) {
            return fail(ps, q, "control character in a string (escape it)");
        } else if (c < 0x80) {
            q++;
        } else {
            size_t n = utf8_seq(q, end);
            if (n == 0)
                return fail(ps, q, "invalid UTF-8");
            q += n;
        }
    }
    size_t raw = (size_t)(q - s);
    *has_nul = false;
    char *d;
#if defined(__SSE2__)
    if (!esc && raw < 16 && end - s >= 16) { /* most keys and values: one 16-byte copy */
        if ((d = bump(ps, 16)) == NULL)
            return NULL;
        _mm_storeu_si128((__m128i *)(void *)d, _mm_loadu_si128((const __m128i *)(const void *)s));
        *len = raw;
        d[raw] = '\0';
        ps->p = q + 1;
        return d;
    }
#endif
    if ((d = bump(ps, ROUND8(raw + 1))) == NULL)
        return NULL;
    if (!esc) {
        memcpy(d, s, raw);
        *len = raw;
    } else {
        char *w = unescape(ps, s, q, d, has_nul);
        if (w == NULL)
            return NULL;
        *len = (size_t)(w - d);
    }
    d[*len] = '\0';
    ps->p = q + 1;
    return d;
}

/* ---- scalars -------------------------------------------------------------------------- */

static inline evb_json *new_value(parser *ps, evb_json_type t)
{
    evb_json *v = bump(ps, sizeof *v);
    if (v != NULL) {
        v->type = t;
        v->b = false;
        v->n = 0;
        v->u.i = 0;
        v->sorted = NULL;
    }
    return v;
}

/* Exact powers of ten as doubles (10^22 is the last one a double holds exactly). */
static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The number text[start..end) read by strtod, correctly rounded, in the C locale's syntax
 * (as jansson does: a '.' becomes the locale's decimal point first). */
static double slow_strtod(parser *ps, const unsigned char *start, const unsigned char *end,
                          bool *ok)
{
    size_t n = (size_t)(end - start);
    char small[64], *buf = small;
    if (n >= sizeof small && (buf = bump(ps, ROUND8(n + 1))) == NULL) { /* rare: the arena */
        *ok = false;
        return 0;
    }
    memcpy(buf, start, n);
    buf[n] = '\0';
    const char *point = localeconv()->decimal_point;
    if (point[0] != '.') {
        char *dot = memchr(buf, '.', n);
        if (dot != NULL)
            *dot = point[0];
    }
    *ok = true;
    return strtod(buf, NULL);
}

/* Reads the number at ps->p (json_value.h: exact int64 integers; other numbers as doubles,
 * integral ones up to 2^53 turned back into integers; an overflow to infinity is an error). */
static evb_json *parse_number(parser *ps)
{
    const unsigned char *start = ps->p, *p = start, *end = ps->end;
    bool neg = *p == '-';
    p += neg;
    if (p == end || *p < '0' || *p > '9')
        return fail(ps, start, "invalid number");
    uint64_t m = 0; /* the first 19 significant digits */
    int nd = 0, dropped = 0, e10 = 0;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return fail(ps, start, "leading zero in a number");
    } else {
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
            } else if (dropped < 100000) {
                dropped++;
            }
        }
    }
    bool integer = true;
    if (p < end && *p == '.') {
        integer = false;
        p++;
        if (p == end || *p < '0' || *p > '9')
            return fail(ps, p, "digit expected after the decimal point");
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (nd == 0 && *p == '0') { /* leading zeros of the fraction only scale */
                if (e10 > -100000)
                    e10--;
            } else if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
                e10--;
            } else {
                dropped = dropped ? dropped : 1; /* inexact: strtod decides */
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = false;
        p++;
        bool eneg = p < end && *p == '-';
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || *p < '0' || *p > '9')
            return fail(ps, p, "digit expected in the exponent");
        int ex = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            if (ex < 100000)
                ex = ex * 10 + (*p - '0');
        e10 += eneg ? -ex : ex;
    }
    ps->p = p;
    evb_json *v = new_value(ps, EVB_JSON_INTEGER);
    if (v == NULL)
        return NULL;
    if (integer && dropped == 0) {
        if (!neg && m <= (uint64_t)INT64_MAX) {
            v->u.i = (int64_t)m;
            return v;
        }
        if (neg && m <= (uint64_t)INT64_MAX + 1) {
            v->u.i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
            return v;
        }
    }
    double d;
    if (integer) {
        ps->big_int = true; /* beyond int64: a double, and the whole document follows suit */
    }
    if (m == 0) {
        d = neg ? -0.0 : 0.0;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    } else if (!integer && dropped == 0 && m <= (uint64_t)1 << 53 && e10 >= -22 && e10 <= 22) {
        /* Clinger's fast path: both operands exact, so one IEEE operation rounds correctly */
        d = e10 < 0 ? (double)m / POW10[-e10] : (double)m * POW10[e10];
        d = neg ? -d : d;
#endif
    } else {
        bool ok;
        d = slow_strtod(ps, start, p, &ok);
        if (!ok)
            return NULL;
    }
    if (isinf(d))
        return fail(ps, start, "number out of range");
    if (d == floor(d) && fabs(d) <= TWO53) {
        v->u.i = (int64_t)d;
    } else {
        v->type = EVB_JSON_REAL;
        v->u.d = d;
    }
    return v;
}

static evb_json *parse_literal(parser *ps)
{
    const unsigned char *p = ps->p;
    size_t avail = (size_t)(ps->end - p);
    evb_json *v;
    if (avail >= 4 && memcmp(p, "true", 4) == 0) {
        if ((v = new_value(ps, EVB_JSON_BOOL)) != NULL)
            v->b = true;
        ps->p += 4;
    } else if (avail >= 5 && memcmp(p, "false", 5) == 0) {
        v = new_value(ps, EVB_JSON_BOOL);
        ps->p += 5;
    } else if (avail >= 4 && memcmp(p, "null", 4) == 0) {
        v = new_value(ps, EVB_JSON_NULL);
        ps->p += 4;
    } else {
        return fail(ps, p, "invalid literal (true, false or null expected)");
    }
    return v;
}

/* ---- containers ----------------------------------------------------------------------- */

/* Sorts ix[0..n) by member key, stably (tmp: n entries of scratch). */
static void sort_index(const evb_json_member *m, uint32_t *ix, uint32_t *tmp, size_t n)
{
    if (n <= 8) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = ix[i];
            size_t j = i;
            while (j > 0 &&
                   evb_json_key_cmp(m[ix[j - 1]].key, m[ix[j - 1]].klen, m[x].key, m[x].klen) > 0) {
                ix[j] = ix[j - 1];
                j--;
            }
            ix[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    sort_index(m, ix, tmp, h);
    sort_index(m, ix + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        const evb_json_member *a = &m[ix[i]], *b = &m[ix[j]];
        tmp[k++] = evb_json_key_cmp(a->key, a->klen, b->key, b->klen) <= 0 ? ix[i++] : ix[j++];
    }
    while (i < h)
        tmp[k++] = ix[i++];
    while (j < n)
        tmp[k++] = ix[j++];
    memcpy(ix, tmp, n * sizeof *ix);
}

/* Gives object v (n members, copied already) its sorted index and rejects duplicate keys,
 * naming the first member that repeats an earlier key. */
static bool index_object(parser *ps, evb_json *v, const size_t *kpos)
{
    size_t n = v->n;
    if (n > UINT32_MAX)
        return fail(ps, ps->p, "object has too many members"), false;
    if (n > ps->cap_ix) {
        while (ps->cap_ix < n) {
            uint32_t *nix = grow(ps->ix, ps->ix_inline, &ps->cap_ix, sizeof *nix, 0);
            if (nix == NULL)
                return nomem(ps), false;
            ps->ix = nix;
        }
    }
    for (size_t k = 0; k < n; k++)
        v->sorted[k] = (uint32_t)k;
    sort_index(v->u.members, v->sorted, ps->ix, n);
    size_t dup = SIZE_MAX;
    for (size_t k = 1; k < n; k++) {
        const evb_json_member *a = &v->u.members[v->sorted[k - 1]];
        const evb_json_member *b = &v->u.members[v->sorted[k]];
        if (a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0 && v->sorted[k] < dup)
            dup = v->sorted[k]; /* stable sort: the later of the two */
    }
    if (dup != SIZE_MAX)
        return fail(ps, ps->text + kpos[dup], "duplicate object key"), false;
    return true;
}

/* Closes the innermost open container: its value with exact-size child arrays. */
static evb_json *close_container(parser *ps)
{
    frame *f = &ps->frames[--ps->depth];
    size_t n = f->n;
    bool sorted = f->obj && n > EVB_JSON_SORT_MIN;
    size_t csize = (n ? n : 1) * (f->obj ? sizeof(evb_json_member) : sizeof(evb_json *));
    evb_json *v = bump(ps, sizeof *v + ROUND8(csize) + (sorted ? ROUND8(n * sizeof(uint32_t)) : 0));
    if (v == NULL)
        return NULL;
    v->b = false;
    v->n = n;
    v->sorted = NULL;
    if (!f->obj) {
        v->type = EVB_JSON_ARRAY;
        v->u.items = (evb_json **)(v + 1);
        memcpy(v->u.items, ps->vals + f->base, n * sizeof(evb_json *));
        ps->nvals = f->base;
        return v;
    }
    v->type = EVB_JSON_OBJECT;
    v->u.members = (evb_json_member *)(v + 1);
    memcpy(v->u.members, ps->mems + f->base, n * sizeof(evb_json_member));
    if (sorted) {
        v->sorted = (uint32_t *)((char *)v->u.members + ROUND8(csize));
        if (!index_object(ps, v, ps->kpos + f->base))
            return NULL;
    }
    ps->nmems = f->base;
    return v;
}

static bool open_container(parser *ps, bool obj)
{
    if (ps->depth == ps->cap_frames) {
        frame *nf = grow(ps->frames, ps->frames_inline, &ps->cap_frames, sizeof *nf, ps->depth);
        if (nf == NULL)
            return nomem(ps), false;
        ps->frames = nf;
    }
    ps->frames[ps->depth++] = (frame){.base = obj ? ps->nmems : ps->nvals, .n = 0, .obj = obj};
    ps->p++;
    return true;
}

/* Reads a member's key and the ':' after it; the member goes on the mems stack. */
static bool parse_key(parser *ps, frame *f)
{
    const unsigned char *at = ps->p;
    if (at == ps->end)
        return fail(ps, at, "unexpected end of input"), false;
    if (*at != '"')
        return fail(ps, at, *at == '}' ? "trailing comma in an object" : "string key expected"),
               false;
    size_t klen;
    bool has_nul;
    const char *key = parse_string(ps, &klen, &has_nul);
    if (key == NULL)
        return false;
    if (has_nul)
        return fail(ps, at, "NUL character (\\u0000) in an object key"), false;
    /* Small objects are searched linearly, so check them as they grow; bigger ones are
     * checked when their sorted index is built. */
    if (f->n < EVB_JSON_SORT_MIN)
        for (size_t i = f->base; i < ps->nmems; i++)
            if (ps->mems[i].klen == klen && evb_json_key_cmp(ps->mems[i].key, klen, key, klen) == 0)
                return fail(ps, at, "duplicate object key"), false;
    if (ps->nmems == ps->cap_mems) {
        size_t cap = ps->cap_mems;
        evb_json_member *nm = grow(ps->mems, ps->mems_inline, &cap, sizeof *nm, ps->nmems);
        if (nm == NULL)
            return nomem(ps), false;
        ps->mems = nm;
        cap = ps->cap_mems;
        size_t *nk = grow(ps->kpos, ps->kpos_inline, &cap, sizeof *nk, ps->nmems);
        if (nk == NULL)
            return nomem(ps), false;
        ps->kpos = nk;
        ps->cap_mems = cap;
    }
    ps->mems[ps->nmems] = (evb_json_member){.key = key, .klen = klen, .val = NULL};
    ps->kpos[ps->nmems++] = (size_t)(at - ps->text);
    f->n++;
    skip_ws(ps);
    if (ps->p == ps->end || *ps->p != ':')
        return fail(ps, ps->p, "':' expected after an object key"), false;
    ps->p++;
    skip_ws(ps);
    return true;
}

/* The whole text: one value, then only whitespace. NULL with ps->err set on error. */
static evb_json *parse_text(parser *ps)
{
    evb_json *v;
    skip_ws(ps);
value:
    if (ps->p == ps->end)
        return fail(ps, ps->p, "unexpected end of input");
    switch (*ps->p) {
    case '{':
    case '[': {
        bool obj = *ps->p == '{';
        if (ps->depth >= ps->max_depth) {
            ps->err = EVB_ERR_LIMIT;
            return NULL;
        }
        if (!open_container(ps, obj))
            return NULL;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
            ps->p++;
            v = close_container(ps);
            break;
        }
        if (obj) {
            if (!parse_key(ps, &ps->frames[ps->depth - 1]))
                return NULL;
        }
        goto value;
    }
    case '"': {
        size_t len;
        bool has_nul;
        const char *s = parse_string(ps, &len, &has_nul);
        v = s != NULL ? new_value(ps, EVB_JSON_STRING) : NULL;
        if (v != NULL) {
            v->n = len;
            v->u.s = s;
        }
        break;
    }
    case 't':
    case 'f':
    case 'n':
        v = parse_literal(ps);
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        v = parse_number(ps);
        break;
    default:
        return fail(ps, ps->p,
                    *ps->p == ']'   ? "trailing comma or ']' without '['"
                    : *ps->p == '}' ? "'}' without '{'"
                                    : "unexpected character");
    }
    for (;;) { /* v is complete: hand it to its container */
        if (v == NULL)
            return NULL;
        if (ps->depth == 0)
            return v;
        frame *f = &ps->frames[ps->depth - 1];
        if (f->obj) {
            ps->mems[ps->nmems - 1].val = v;
        } else {
            if (ps->nvals == ps->cap_vals) {
                evb_json **nv =
                    grow(ps->vals, ps->vals_inline, &ps->cap_vals, sizeof(evb_json *), ps->nvals);
                if (nv == NULL)
                    return nomem(ps);
                ps->vals = nv;
            }
            ps->vals[ps->nvals++] = v;
            f->n++;
        }
        skip_ws(ps);
        if (ps->p == ps->end)
            return fail(ps, ps->p, "unexpected end of input");
        if (*ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            if (f->obj && !parse_key(ps, f))
                return NULL;
            goto value;
        }
        if (*ps->p != (f->obj ? '}' : ']'))
            return fail(ps, ps->p, f->obj ? "',' or '}' expected" : "',' or ']' expected");
        ps->p++;
        v = close_container(ps);
    }
}

/* After an integer beyond int64: the document reads as if every number were a double
 * (json_value.h), so integers that a double cannot hold exactly become doubles too. */
static void demote_big(evb_json *v)
{
    switch (v->type) {
    case EVB_JSON_INTEGER:
        if (v->u.i > (int64_t)TWO53 || v->u.i < -(int64_t)TWO53) {
            double d = (double)v->u.i; /* rounds as strtod of its text would */
            if (fabs(d) <= TWO53) {
                v->u.i = (int64_t)d; /* 2^53 + 1 rounds to 2^53: an integer again */
            } else {
                v->type = EVB_JSON_REAL;
                v->u.d = d;
            }
        }
        break;
    case EVB_JSON_ARRAY:
        for (size_t i = 0; i < v->n; i++)
            demote_big(v->u.items[i]);
        break;
    case EVB_JSON_OBJECT:
        for (size_t i = 0; i < v->n; i++)
            demote_big(v->u.members[i].val);
        break;
    default:
        break;
    }
}

/* The first block: enough for typical documents (values take about twice their text). */
static size_t first_block(size_t len)
{
    size_t b = len < BLOCK_MAX ? 2 * len + 512 : BLOCK_MAX;
    return ROUND8(b);
}

evb_err evb_json_parse(const char *text, size_t len, size_t max_depth, evb_json_doc **out,
                       evb_error *err)
{
    if (text == NULL || out == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, NULL, "no JSON text");
    *out = NULL;
    if (max_depth == 0)
        max_depth = EVB_JSON_DEFAULT_MAX_DEPTH;
    if (max_depth > EVB_JSON_HARD_MAX_DEPTH)
        max_depth = EVB_JSON_HARD_MAX_DEPTH;
    parser ps;
    ps.text = ps.p = (const unsigned char *)text;
    ps.end = ps.text + len;
    ps.blk = ps.blk_end = NULL;
    ps.next_blk = first_block(len);
    ps.max_depth = max_depth;
    ps.big_int = false;
    ps.vals = ps.vals_inline;
    ps.cap_vals = INLINE_VALS;
    ps.mems = ps.mems_inline;
    ps.kpos = ps.kpos_inline;
    ps.cap_mems = INLINE_MEMS;
    ps.frames = ps.frames_inline;
    ps.cap_frames = INLINE_FRAMES;
    ps.ix = ps.ix_inline;
    ps.cap_ix = INLINE_IX;
    ps.nvals = ps.nmems = ps.depth = 0;
    ps.err = EVB_OK;
    ps.err_at = 0;
    ps.why = NULL;

    arena a;
    arena_init(&a);
    ps.mem = &a;
    evb_json_doc *d = bump(&ps, ROUND8(sizeof *d));
    if (d == NULL) {
        arena_fini(&a);
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory parsing JSON");
    }
    d->mem = a; /* from here on the arena lives in the document it holds */
    ps.mem = &d->mem;
    d->root = parse_text(&ps);
    if (d->root != NULL) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            fail(&ps, ps.p, "unexpected text after the JSON value");
    }
    evb_err rc = EVB_OK;
    if (ps.err == EVB_ERR_LIMIT)
        rc = report_depth(&ps, err);
    else if (ps.err != EVB_OK)
        rc = report(&ps, err);
    scratch_fini(&ps);
    if (rc != EVB_OK) {
        evb_json_doc_free(d);
        return rc;
    }
    if (ps.big_int)
        demote_big(d->root);
    *out = d;
    return EVB_OK;
}
