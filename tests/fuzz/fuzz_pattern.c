/* evbridge fuzz target — event pattern compile and match (server/routing/pattern.h).
 *
 * Input: <pattern A> "\n%%\n" <event JSON> "\n%%\n" <pattern B>
 * Both patterns are compiled (with the largest configurable size limit, 1 MiB, so the
 * fuzzer is not cut off at the 4 KiB default). A compiled pattern is matched against the
 * event three ways, which the contract says agree: evb_pattern_match_text, evb_pattern_match
 * on the event parsed with integers as reals, and a matcher holding A (rule 1) and B
 * (rule 2). A disagreement aborts (a differential check), as does a crash or a sanitizer
 * report.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/routing/pattern.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_BYTES (1u << 20)

static evb_pattern *compile(const fuzz_part *p)
{
    evb_pattern *pat = NULL;
    evb_error err;
    if (evb_pattern_compile(p->s, p->n, MAX_BYTES, &pat, &err) != EVB_OK)
        return NULL;
    if (pat == NULL || evb_pattern_branches(pat) == 0 ||
        evb_pattern_branches(pat) > EVB_PATTERN_MAX_BRANCHES)
        abort();
    return pat;
}

/* Matches pat against the event both ways; returns the agreed answer, or -1 when the event
 * text is not an object. */
static int match_one(const evb_pattern *pat, const fuzz_part *ev, const json_t *ev_json)
{
    int m_text = -1;
    evb_error err;
    evb_err rc = evb_pattern_match_text(pat, ev->s, ev->n, &m_text, &err);
    if (rc != EVB_OK) {
        if (ev_json != NULL && json_is_object(ev_json)) {
            fprintf(stderr, "match_text failed (%s) on an event jansson parses\n", err.message);
            abort();
        }
        return -1;
    }
    if (m_text != 0 && m_text != 1)
        abort();
    if (ev_json == NULL)
        return m_text; /* jansson rejected what match_text accepted: compared below */
    int m = evb_pattern_match(pat, ev_json);
    if (m != m_text) {
        fprintf(stderr, "evb_pattern_match %d != evb_pattern_match_text %d\n", m, m_text);
        abort();
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part p[3];
    fuzz_split(data, size, p, 3);

    evb_pattern *a = compile(&p[0]);
    evb_pattern *b = compile(&p[2]);
    json_error_t jerr;
    json_t *ev = json_loadb(
        p[1].s, p[1].n, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &jerr);
    int ma = a != NULL ? match_one(a, &p[1], ev) : 0;
    int mb = b != NULL ? match_one(b, &p[1], ev) : 0;

    evb_matcher *m = NULL;
    if ((a != NULL || b != NULL) && ma >= 0 && mb >= 0 && ev != NULL &&
        evb_matcher_new(&m) == EVB_OK) {
        int ok = (a == NULL || evb_matcher_add(m, a, 1) == EVB_OK) &&
                 (b == NULL || evb_matcher_add(m, b, 2) == EVB_OK) &&
                 evb_matcher_build(m) == EVB_OK;
        uint64_t ids[2] = {0, 0};
        size_t n = 0;
        if (ok && evb_matcher_match(m, ev, ids, 2, &n) == EVB_OK) {
            size_t want = (size_t)ma + (size_t)mb;
            int good = n == want;
            if (good && ma && ids[0] != 1)
                good = 0;
            if (good && mb && ids[ma ? 1 : 0] != 2)
                good = 0;
            if (!good) {
                fprintf(stderr, "matcher: %zu ids (%llu %llu), alone: A %d B %d\n", n,
                        (unsigned long long)ids[0], (unsigned long long)ids[1], ma, mb);
                abort();
            }
        }
        evb_matcher_free(m);
    }
    json_decref(ev);
    evb_pattern_free(a);
    evb_pattern_free(b);
    fuzz_parts_free(p, 3);
    return 0;
}
