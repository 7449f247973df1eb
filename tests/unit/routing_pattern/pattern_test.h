/* evbridge — helpers shared by the pattern unit tests.
 *
 * Rows are written with single quotes for readability: dq() turns every ' into " (no test
 * needs a literal apostrophe). match_rows() compiles a pattern, matches an event with
 * evb_pattern_match_text, through a one-rule matcher, and as an event view over the event
 * parsed by evb_json_parse (the routing path: evb_pattern_match_view and
 * evb_matcher_match_view), and reports the row when they disagree.
 */
#ifndef EVB_TESTS_ROUTING_PATTERN_TEST_H
#define EVB_TESTS_ROUTING_PATTERN_TEST_H

#include <stdlib.h>
#include <string.h>

#include "registry/json_value.h"
#include "server/routing/pattern.h"
#include "tests/unit/common/unit.h"

/* A view of the object doc's root: one member per top-level member, as evb_json values, or
 * top-level strings as plain strings when strings_plain (as routing gives attributes).
 * Returns the member count, or (size_t)-1 when the root is not an object or has more than
 * cap members. */
static inline size_t view_of_doc(const evb_json_doc *doc, int strings_plain, evb_pattern_member *ms,
                                 size_t cap)
{
    const evb_json *root = evb_json_root(doc);
    size_t n = evb_json_size(root);
    if (evb_json_typeof(root) != EVB_JSON_OBJECT || n > cap)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        evb_pattern_member *m = &ms[i];
        memset(m, 0, sizeof *m);
        m->name = evb_json_key_at(root, i, &m->name_len);
        m->json = evb_json_value_at(root, i);
        if (strings_plain && evb_json_typeof(m->json) == EVB_JSON_STRING) {
            m->str = evb_json_string(m->json, &m->str_len);
            m->json = NULL;
        }
    }
    return n;
}

/* The view answers (evb_pattern_match_view, one-rule evb_matcher_match_view, with strings
 * as values and as plain strings) for event text e: the common answer, or -1 when they
 * disagree with each other or with `want`, or the text does not parse. */
static inline int match_view_rows(const evb_pattern *pat, const char *e, int want)
{
    evb_json_doc *doc = NULL;
    if (evb_json_parse(e, strlen(e), 0, &doc, NULL) != EVB_OK) {
        fprintf(stderr, "  evb_json_parse rejects %s\n", e);
        return -1;
    }
    evb_pattern_member ms[64];
    evb_matcher *m = NULL;
    int r = want;
    if (evb_matcher_new(&m) != EVB_OK || evb_matcher_add(m, pat, 7) != EVB_OK ||
        evb_matcher_build(m) != EVB_OK)
        r = -1;
    for (int plain = 0; plain < 2 && r == want; plain++) {
        size_t n = view_of_doc(doc, plain, ms, 64);
        evb_pattern_view v = {ms, n};
        uint64_t ids[2];
        size_t k = 9;
        if (n == (size_t)-1 || evb_pattern_match_view(pat, &v) != want ||
            evb_matcher_match_view(m, &v, ids, 2, &k) != EVB_OK || (int)k != want ||
            (k == 1 && ids[0] != 7)) {
            fprintf(stderr, "  view disagrees (plain strings %d): %s\n", plain, e);
            r = -1;
        }
    }
    evb_matcher_free(m);
    evb_json_doc_free(doc);
    return r;
}

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
    if (r != -1)
        r = match_view_rows(pat, e, r);
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
