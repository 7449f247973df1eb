/* evbridge — helpers shared by the pattern unit tests.
 *
 * Rows are written with single quotes for readability: dq() turns every ' into " (no test
 * needs a literal apostrophe). check_row() compiles a pattern, matches an event both with
 * evb_pattern_match_text and through a one-rule matcher, and reports the row on mismatch.
 */
#ifndef EVB_TESTS_ROUTING_PATTERN_TEST_H
#define EVB_TESTS_ROUTING_PATTERN_TEST_H

#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern.h"
#include "tests/unit/common/unit.h"

static inline char *dq(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; p != NULL && *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

/* Returns the match result (0/1) or -1 when the pattern or event was rejected. */
static inline int match_rows(const char *pattern, const char *event)
{
    char *p = dq(pattern), *e = dq(event);
    evb_pattern *pat = NULL;
    evb_error err;
    int r = -1, matched = 0;
    if (evb_pattern_compile(p, strlen(p), 0, &pat, &err) != EVB_OK) {
        fprintf(stderr, "  compile failed: %s: %s at '%s'\n", p, err.message, err.pointer);
        goto out;
    }
    if (evb_pattern_match_text(pat, e, strlen(e), &matched, &err) != EVB_OK) {
        fprintf(stderr, "  event rejected: %s: %s\n", e, err.message);
        goto out;
    }
    r = matched;
    /* the same answer through the indexed matcher */
    json_t *ev = json_loads(e, JSON_DECODE_INT_AS_REAL, NULL);
    evb_matcher *m = NULL;
    uint64_t ids[2];
    size_t n = 9;
    if (ev == NULL || evb_matcher_new(&m) != EVB_OK || evb_matcher_add(m, pat, 42) != EVB_OK ||
        evb_matcher_build(m) != EVB_OK || evb_matcher_match(m, ev, ids, 2, &n) != EVB_OK ||
        (int)n != matched || (n == 1 && ids[0] != 42)) {
        fprintf(stderr, "  matcher disagrees (%zu): %s vs %s\n", n, p, e);
        r = -1;
    }
    evb_matcher_free(m);
    json_decref(ev);
out:
    evb_pattern_free(pat);
    free(p);
    free(e);
    return r;
}

typedef struct match_row {
    const char *pattern, *event;
    int expect;
} match_row;

static inline void run_rows(const match_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int got = match_rows(rows[i].pattern, rows[i].event);
        EVB_CHECK_ROW(got == rows[i].expect, "pattern %s event %s: want %d got %d", rows[i].pattern,
                      rows[i].event, rows[i].expect, got);
    }
}

#define RUN_ROWS(rows) run_rows(rows, sizeof rows / sizeof rows[0])

#endif
