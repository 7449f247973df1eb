/* evbridge registry — simple `pattern`s as byte automata, so the common shapes skip PCRE2.
 *
 * Schemas mostly anchor short character-class patterns: ^[A-Z]{3}$, ^[0-9]{4}-[0-9]{2}$,
 * ^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,4})?$. A PCRE2 call costs hundreds of instructions
 * before the first byte; a table walk costs a few per byte. regex_simple_compile accepts
 * only this subset of ECMA-262, and says "not simple" for everything else:
 *   - the whole pattern is ^...$ (anchored at both ends, nothing after $);
 *   - printable ASCII literals, escaped punctuation (\. \- \+ ...), \d, \w, and classes
 *     [...] of those and of ASCII ranges (no negation, no '.', no other escapes);
 *   - quantifiers ? * + {n} {n,} {n,m} (greedy, bounds up to 64) on a literal or class;
 *     groups ( ) and (?: ) with alternatives |, themselves optional (?) or not quantified.
 * It builds the Glushkov automaton of the pattern (one state per literal/class occurrence,
 * counted repeats written out as nested optional copies) and keeps the pattern only when
 * that automaton is deterministic: from every state, at most one next state accepts a given
 * byte. The automaton is then a DFA over bytes; since every accepted byte is ASCII and
 * instance strings are valid UTF-8, a byte walk and PCRE2's code-point match agree.
 *
 * PCRE2 runs with a match limit (EVB_REGEX_MATCH_LIMIT) and answers "could not be checked"
 * when a subject needs more backtracking. On a deterministic pattern every alternative but
 * one fails at the next character, so a backtracking matcher takes at most about
 * n * (states + 1) steps on a subject of n bytes; the automaton is used only for subjects
 * where that stays below half the limit (max_len), and PCRE2 decides longer ones, so the
 * answer is PCRE2's answer in every case. tests/unit/registry compares both on the standard
 * models' patterns and on random subjects.
 */
#include "registry/regex_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXPOS 192
#define WORDS (MAXPOS / 64)
#define MAXREP 64
#define BUDGET (EVB_REGEX_MATCH_LIMIT / 2)

typedef struct pset {
    uint64_t w[WORDS];
} pset;

typedef struct frag {
    pset first, last;
    bool nullable;
} frag;

typedef struct bld {
    const char *p, *end;
    bool bad;
    unsigned npos;
    uint64_t cls[MAXPOS][2]; /* ASCII bytes each position accepts */
    pset follow[MAXPOS];
} bld;

static void pset_or(pset *a, const pset *b)
{
    for (int i = 0; i < WORDS; i++)
        a->w[i] |= b->w[i];
}

static bool pset_has(const pset *a, unsigned p)
{
    return (a->w[p / 64] >> (p % 64)) & 1u;
}

static const frag EMPTY = {.nullable = true};

static frag cat(bld *b, frag x, frag y)
{
    for (unsigned p = 0; p < b->npos; p++)
        if (pset_has(&x.last, p))
            pset_or(&b->follow[p], &y.first);
    frag r = {.nullable = x.nullable && y.nullable, .first = x.first, .last = y.last};
    if (x.nullable)
        pset_or(&r.first, &y.first);
    if (y.nullable)
        pset_or(&r.last, &x.last);
    return r;
}

static frag alt(frag x, frag y)
{
    pset_or(&x.first, &y.first);
    pset_or(&x.last, &y.last);
    x.nullable = x.nullable || y.nullable;
    return x;
}

static frag loop(bld *b, frag x) /* x+ */
{
    for (unsigned p = 0; p < b->npos; p++)
        if (pset_has(&x.last, p))
            pset_or(&b->follow[p], &x.first);
    return x;
}

static frag pos(bld *b, const uint64_t cls[2])
{
    frag r = {.nullable = false};
    if (b->npos >= MAXPOS) {
        b->bad = true;
        return r;
    }
    unsigned p = b->npos++;
    b->cls[p][0] = cls[0];
    b->cls[p][1] = cls[1];
    r.first.w[p / 64] |= 1ull << (p % 64);
    r.last = r.first;
    return r;
}

static void add(uint64_t cls[2], unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        cls[c / 64] |= 1ull << (c % 64);
}

static void add_class_escape(uint64_t cls[2], char e)
{
    add(cls, '0', '9');
    if (e == 'w') {
        add(cls, 'A', 'Z');
        add(cls, 'a', 'z');
        add(cls, '_', '_');
    }
}

/* Escaped characters that stand for themselves, in and out of classes. */
static bool is_punct_escape(char c)
{
    return c != '\0' && strchr("^$\\.*+?()[]{}|/-", c) != NULL;
}

/* The escape at b->p ('\\' and one character), in and out of classes: \d \w are added to
 * cls (*ch -1), an escaped punctuation character is put in *ch. False for anything else. */
static bool take_escape(bld *b, uint64_t cls[2], int *ch)
{
    *ch = -1;
    if (b->end - b->p < 2)
        return false;
    char e = b->p[1];
    b->p += 2;
    if (e == 'd' || e == 'w') {
        add_class_escape(cls, e);
        return true;
    }
    if (!is_punct_escape(e))
        return false;
    *ch = (unsigned char)e;
    return true;
}

/* One class member: a literal or escaped literal in *ch (true), or \d \w added to cls. */
static bool class_char(bld *b, uint64_t cls[2], int *ch)
{
    *ch = -1;
    if (b->p >= b->end)
        return false;
    char c = *b->p;
    if (c == '\\')
        return take_escape(b, cls, ch);
    if (c < 0x20 || c > 0x7e || c == '[' || c == ']')
        return false;
    b->p++;
    *ch = (unsigned char)c;
    return true;
}

static bool parse_class(bld *b, uint64_t cls[2])
{
    b->p++; /* '[' */
    const char *open = b->p;
    if (b->p >= b->end || *b->p == '^' || *b->p == ']')
        return false;
    while (b->p < b->end && *b->p != ']') {
        int lo;
        if (*b->p == '-' && b->p != open && b->end - b->p >= 2 && b->p[1] != ']')
            return false; /* a '-' inside, not a range: ECMA and PCRE2 may differ */
        if (!class_char(b, cls, &lo))
            return false;
        if (lo < 0) {
            if (b->p < b->end && *b->p == '-' && b->end - b->p >= 2 && b->p[1] != ']')
                return false; /* [\d-z] */
            continue;
        }
        if (b->end - b->p >= 2 && b->p[0] == '-' && b->p[1] != ']') {
            b->p++;
            int hi;
            if (!class_char(b, cls, &hi) || hi < lo)
                return false;
            add(cls, (unsigned)lo, (unsigned)hi);
        } else {
            add(cls, (unsigned)lo, (unsigned)lo);
        }
    }
    if (b->p >= b->end)
        return false;
    b->p++; /* ']' */
    return true;
}

static bool parse_atom(bld *b, uint64_t cls[2])
{
    char c = *b->p;
    if (c == '[')
        return parse_class(b, cls);
    if (c == '\\') {
        int e;
        if (!take_escape(b, cls, &e))
            return false;
        if (e >= 0)
            add(cls, (unsigned char)e, (unsigned char)e);
        return true;
    }
    if (c < 0x20 || c > 0x7e || strchr("^$.*+?()[]{}|", c) != NULL)
        return false;
    b->p++;
    add(cls, (unsigned char)c, (unsigned char)c);
    return true;
}

static bool number(bld *b, unsigned *out)
{
    unsigned v = 0;
    const char *s = b->p;
    while (b->p < b->end && *b->p >= '0' && *b->p <= '9' && v <= MAXREP)
        v = v * 10 + (unsigned)(*b->p++ - '0');
    *out = v;
    return b->p > s && v <= MAXREP;
}

/* Quantifier after an atom: *lo, *hi (-1: unbounded); false when malformed or lazy. */
static bool quantifier(bld *b, unsigned *lo, int *hi)
{
    *lo = 1;
    *hi = 1;
    if (b->p >= b->end)
        return true;
    char c = *b->p;
    if (c == '?' || c == '*' || c == '+') {
        b->p++;
        *lo = c == '+' ? 1 : 0;
        *hi = c == '?' ? 1 : -1;
    } else if (c == '{') {
        b->p++;
        unsigned m;
        if (!number(b, lo))
            return false;
        *hi = (int)*lo;
        if (b->p < b->end && *b->p == ',') {
            b->p++;
            *hi = -1;
            if (b->p < b->end && *b->p != '}') {
                if (!number(b, &m) || m < *lo)
                    return false;
                *hi = (int)m;
            }
        }
        if (b->p >= b->end || *b->p != '}')
            return false;
        b->p++;
    } else {
        return true;
    }
    return b->p >= b->end || (*b->p != '?' && *b->p != '*' && *b->p != '+' && *b->p != '{');
}

static frag parse_alt(bld *b, int depth);

static frag parse_piece(bld *b, int depth)
{
    if (*b->p == '(') {
        b->p++;
        if (b->p < b->end && *b->p == '?') {
            if (b->end - b->p < 2 || b->p[1] != ':') {
                b->bad = true;
                return EMPTY;
            }
            b->p += 2;
        }
        frag g = parse_alt(b, depth + 1);
        if (b->bad || b->p >= b->end || *b->p != ')') {
            b->bad = true;
            return EMPTY;
        }
        b->p++;
        if (b->p < b->end && *b->p == '?') {
            b->p++;
            g.nullable = true;
        }
        if (b->p < b->end && strchr("?*+{", *b->p) != NULL)
            b->bad = true;
        return g;
    }
    uint64_t cls[2] = {0, 0};
    unsigned lo;
    int hi;
    if (!parse_atom(b, cls) || !quantifier(b, &lo, &hi)) {
        b->bad = true;
        return EMPTY;
    }
    frag f = EMPTY;
    for (unsigned i = 0; i < lo; i++)
        f = cat(b, f, pos(b, cls));
    if (hi < 0) {
        frag x = loop(b, pos(b, cls));
        x.nullable = true;
        return cat(b, f, x);
    }
    frag tail = EMPTY; /* x(x(x)?)? ... : deterministic, unlike x?x?x? */
    for (int i = (int)lo; i < hi; i++) {
        tail = cat(b, pos(b, cls), tail);
        tail.nullable = true;
    }
    return cat(b, f, tail);
}

static frag parse_seq(bld *b, int depth)
{
    frag f = EMPTY;
    while (!b->bad && b->p < b->end && *b->p != '|' && *b->p != ')')
        f = cat(b, f, parse_piece(b, depth));
    return f;
}

static frag parse_alt(bld *b, int depth)
{
    if (depth > 8) {
        b->bad = true;
        return EMPTY;
    }
    frag f = parse_seq(b, depth);
    while (!b->bad && b->p < b->end && *b->p == '|') {
        b->p++;
        f = alt(f, parse_seq(b, depth));
    }
    return f;
}

/* The position of set s that accepts byte c; -1 none, -2 more than one. */
static int next_of(const bld *b, const pset *s, unsigned c)
{
    int found = -1;
    for (unsigned p = 0; p < b->npos; p++)
        if (pset_has(s, p) && ((b->cls[p][c / 64] >> (c % 64)) & 1u)) {
            if (found >= 0)
                return -2;
            found = (int)p;
        }
    return found;
}

static regex_simple *build(bld *b, const frag *root)
{
    unsigned nstates = b->npos + 1;
    /* Columns: bytes accepted by the same positions behave alike (non-ASCII bytes and ASCII
     * bytes no position accepts share the column of the empty set). */
    static const pset none;
    pset sig[128], col[256];
    memset(sig, 0, sizeof sig);
    for (unsigned c = 0; c < 128; c++)
        for (unsigned p = 0; p < b->npos; p++)
            if ((b->cls[p][c / 64] >> (c % 64)) & 1u)
                sig[c].w[p / 64] |= 1ull << (p % 64);
    uint8_t bmap[256];
    unsigned ncls = 0, rep[256];
    for (unsigned c = 0; c < 256; c++) {
        const pset *sc = c < 128 ? &sig[c] : &none;
        unsigned k = 0;
        while (k < ncls && memcmp(&col[k], sc, sizeof *sc) != 0)
            k++;
        if (k == ncls) {
            col[ncls] = *sc;
            rep[ncls++] = c;
        }
        bmap[c] = (uint8_t)k;
    }
    size_t cells = (size_t)nstates * ncls;
    regex_simple *rs = calloc(1, sizeof *rs + cells * sizeof *rs->trans + cells);
    if (rs == NULL)
        return NULL;
    rs->trans = (uint16_t *)(rs + 1);
    rs->accept = (uint8_t *)(rs->trans + cells);
    memcpy(rs->bmap, bmap, sizeof bmap);
    for (unsigned st = 0; st < nstates; st++) {
        const pset *next = st == 0 ? &root->first : &b->follow[st - 1];
        rs->accept[(size_t)st * ncls] = st == 0 ? root->nullable : pset_has(&root->last, st - 1);
        for (unsigned k = 0; k < ncls; k++) {
            int q = rep[k] < 128 ? next_of(b, next, rep[k]) : -1;
            if (q == -2) {
                free(rs);
                return NULL; /* not deterministic */
            }
            rs->trans[(size_t)st * ncls + k] =
                q < 0 ? REGEX_DEAD : (uint16_t)((unsigned)(q + 1) * ncls);
        }
    }
    rs->max_len = BUDGET / nstates;
    return rs;
}

regex_simple *regex_simple_compile(const char *pat, size_t len)
{
    if (len < 2 || pat[0] != '^' || pat[len - 1] != '$')
        return NULL;
    bld *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->p = pat + 1;
    b->end = pat + len - 1;
    frag root = parse_alt(b, 0);
    regex_simple *rs = NULL;
    if (!b->bad && b->p == b->end)
        rs = build(b, &root);
    free(b);
    return rs;
}

void regex_simple_free(regex_simple *rs)
{
    free(rs);
}
