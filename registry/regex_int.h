/* evbridge registry — ECMA-262 regular expressions on PCRE2, private to registry/.
 *
 * JSON Schema says `pattern` is ECMA-262. PCRE2 (UTF mode, no UCP, so \d and \w stay ASCII
 * as in ECMAScript; PCRE2_DOLLAR_ENDONLY so `$` matches at the end of input only) is close;
 * the remaining differences are translated: \uXXXX (and surrogate pairs, \u{...}) become
 * \x{...}, \s/\S use ECMAScript's Unicode white-space set, `[^]` and `[]` mean "any" and
 * "nothing". Patterns are JIT-compiled once. Every match runs with a match limit and a depth
 * limit, so a catastrophic pattern ("(a+)+$") fails fast instead of stalling a thread.
 *
 * A compiled evb_regex is immutable; regex_match may run concurrently on one evb_regex as
 * long as each thread passes its own match data.
 */
#ifndef EVB_REGISTRY_REGEX_INT_H
#define EVB_REGISTRY_REGEX_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVB_REGEX_MATCH_LIMIT 200000u
#define EVB_REGEX_DEPTH_LIMIT 2000u
#define EVB_REGEX_HEAP_LIMIT_KIB 8192u

typedef struct evb_regex evb_regex;

/* Compiles ECMA-262 pattern pat[0..len). On failure returns NULL and writes a reason into
 * errbuf (errlen bytes) — "out of memory" or PCRE2's message with the offset. */
evb_regex *regex_compile(const char *pat, size_t len, char *errbuf, size_t errlen);

/* 1 = matches somewhere in s[0..n), 0 = no match, -1 = limit hit or error (treat as a
 * failure: the input could not be checked). md: from pcre2_match_data_create(1, NULL). */
int regex_match(const evb_regex *re, const char *s, size_t n, pcre2_match_data *md);

/* The same answer as regex_match, 1 or 0, when re is a simple pattern that compiled to a
 * byte automaton (regex_simple.c) and s is short enough; -1 when PCRE2 has to decide. */
int regex_match_simple(const evb_regex *re, const char *s, size_t n);

/* regex_simple.c: a deterministic byte automaton for an anchored pattern of literals and
 * ASCII classes (see the file's top comment for the subset). NULL when the pattern is not
 * in the subset, not deterministic, or out of memory: then PCRE2 alone matches it. */
typedef struct regex_simple {
    size_t max_len;    /* longer subjects: PCRE2 decides */
    uint8_t bmap[256]; /* byte -> column */
    uint16_t *trans;   /* row + column -> next row; a row is state * columns; REGEX_DEAD */
    uint8_t *accept;   /* indexed by row */
} regex_simple;
#define REGEX_DEAD 0xFFFFu

regex_simple *regex_simple_compile(const char *pat, size_t len);
void regex_simple_free(regex_simple *rs);
/* The automaton of re, or NULL. */
const regex_simple *regex_simple_of(const evb_regex *re);

/* 1 match, 0 no match, -1 subject too long to decide here (PCRE2 decides). */
static inline int regex_simple_match(const regex_simple *rs, const char *s, size_t n)
{
    if (n > rs->max_len)
        return -1;
    unsigned row = 0;
    for (size_t i = 0; i < n; i++) {
        row = rs->trans[row + rs->bmap[(unsigned char)s[i]]];
        if (row == REGEX_DEAD)
            return 0;
    }
    return rs->accept[row];
}

void regex_free(evb_regex *re);

#endif
