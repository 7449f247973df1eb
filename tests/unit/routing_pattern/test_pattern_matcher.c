/* evbridge — unit tests for evb_matcher: API contract (ids, duplicates, capacity, life cycle)
 * and a randomized differential test: many random patterns over a small vocabulary of paths
 * and values (so that they collide and index keys are shared) against many random events
 * with nested objects and arrays; the matcher must report exactly the rules whose pattern
 * matches alone. The seed is fixed (EVB_PATTERN_SEED overrides it) and printed on failure.
 */
#include <stdio.h>

#include "tests/unit/routing_pattern/pattern_test.h"

static evb_pattern *compile(const char *text)
{
    char *p = dq(text);
    evb_pattern *pat = NULL;
    evb_error err;
    if (evb_pattern_compile(p, strlen(p), 0, &pat, &err) != EVB_OK)
        fprintf(stderr, "  compile %s: %s\n", p, err.message);
    free(p);
    return pat;
}

static json_t *event(const char *text)
{
    char *e = dq(text);
    json_t *j = json_loads(e, JSON_DECODE_INT_AS_REAL, NULL);
    free(e);
    return j;
}

static void test_api(void)
{
    evb_matcher *m = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_matcher_new(&m), EVB_OK);
    evb_pattern *p[5] = {compile("{'type':['a']}"), compile("{}"),
                         compile("{'type':['b'],'n':[{'numeric':['>',1]}]}"),
                         compile("{'type':[{'prefix':'a'}]}"), compile("{'n':[2]}")};
    for (int i = 0; i < 5; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    uint64_t ids[8];
    size_t n = 99;
    CU_ASSERT_EQUAL(evb_matcher_match(m, NULL, ids, 8, &n), EVB_ERR_INVALID); /* not built */
    CU_ASSERT_EQUAL(evb_matcher_add(m, p[0], 10), EVB_OK);
    CU_ASSERT_EQUAL(evb_matcher_add(m, p[1], 20), EVB_OK);
    CU_ASSERT_EQUAL(evb_matcher_add(m, p[2], 30), EVB_OK);
    CU_ASSERT_EQUAL(evb_matcher_add(m, p[3], 10), EVB_OK); /* same id again: an OR */
    CU_ASSERT_EQUAL(evb_matcher_add(m, p[4], 5), EVB_OK);
    CU_ASSERT_EQUAL(evb_matcher_add(m, NULL, 1), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_matcher_count(m), 5);
    CU_ASSERT_EQUAL_FATAL(evb_matcher_build(m), EVB_OK);
    CU_ASSERT_EQUAL(evb_matcher_build(m), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_matcher_add(m, p[0], 11), EVB_ERR_INVALID);

    json_t *e = event("{'type':'a','n':2}");
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, ids, 8, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 3); /* 10 (twice, reported once), 20, 5 in order of adding */
    CU_ASSERT_EQUAL(ids[0], 10);
    CU_ASSERT_EQUAL(ids[1], 20);
    CU_ASSERT_EQUAL(ids[2], 5);
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, ids, 2, &n), EVB_ERR_LIMIT);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(ids[1], 20);
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, NULL, 0, &n), EVB_ERR_LIMIT);
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, NULL, 3, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, ids, 8, NULL), EVB_ERR_INVALID);
    json_decref(e);

    e = event("{'type':'abc'}"); /* only the prefix pattern of id 10, and {} */
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, ids, 8, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(ids[0], 10);
    CU_ASSERT_EQUAL(ids[1], 20);
    json_decref(e);

    e = event("{'type':'b','n':1.5}");
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, ids, 8, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(ids[0], 20);
    CU_ASSERT_EQUAL(ids[1], 30);
    json_decref(e);

    e = json_array(); /* not an object: nothing */
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, ids, 8, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 0);
    json_decref(e);
    evb_matcher_free(m);
    evb_matcher_free(NULL);

    /* an empty matcher matches nothing */
    CU_ASSERT_EQUAL_FATAL(evb_matcher_new(&m), EVB_OK);
    CU_ASSERT_EQUAL(evb_matcher_build(m), EVB_OK);
    e = event("{'type':'a'}");
    CU_ASSERT_EQUAL(evb_matcher_match(m, e, ids, 8, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 0);
    json_decref(e);
    evb_matcher_free(m);
    for (int i = 0; i < 5; i++)
        evb_pattern_free(p[i]);
}

/* ---- randomized differential test ------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const PATHS[] = {"a", "b", "c", "a.x", "a.y", "d.e", "d.f.g"};
static const char *const STRS[] = {"x", "y", "", "X", "xy", "yx", "10.0.0.7", "é", "É"};

static json_t *rand_scalar(void)
{
    switch (rnd(8)) {
    case 0:
    case 1:
    case 2:
        return json_string(STRS[rnd(sizeof STRS / sizeof STRS[0])]);
    case 3:
    case 4: {
        static const double nums[] = {0, 1, 1.5, -2, 300, 3e2, -0.0};
        return json_real(nums[rnd(7)]);
    }
    case 5:
        return json_true();
    case 6:
        return json_false();
    default:
        return json_null();
    }
}

static json_t *rand_op(void)
{
    const char *s = STRS[rnd(sizeof STRS / sizeof STRS[0])];
    switch (rnd(16)) {
    case 0:
        return json_pack("{s:s}", "prefix", s);
    case 1:
        return json_pack("{s:s}", "suffix", s);
    case 2:
        return json_pack("{s:{s:s}}", "prefix", "equals-ignore-case", s);
    case 3:
        return json_pack("{s:s}", "equals-ignore-case", s);
    case 4:
        return json_pack("{s:s}", "wildcard", rnd(2) ? "*y" : "x*");
    case 5:
        return json_pack("{s:s}", "contains", s);
    case 6:
        return json_pack("{s:s}", "anything-but", s);
    case 7:
        return json_pack("{s:[f,f]}", "anything-but", 1.0, 300.0);
    case 8:
        return json_pack("{s:{s:s}}", "anything-but", "prefix", s);
    case 9:
        return json_pack("{s:[s,f]}", "numeric", rnd(2) ? ">" : "<=", (double)rnd(3));
    case 10:
        return json_pack("{s:[s,f,s,f]}", "numeric", ">=", -2.0, "<", 1.5);
    case 11:
        return json_pack("{s:b}", "exists", (int)rnd(2));
    case 12:
        return json_pack("{s:s}", "cidr", "10.0.0.0/24");
    case 13:
        return json_pack("{s:f}", "anything-but", 1.5);
    default: /* exact values are the common case, so index keys are shared */
        return rand_scalar();
    }
}

static json_t *rand_leaf_list(void)
{
    json_t *a = json_array();
    size_t n = 1 + rnd(3);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, rnd(3) ? rand_scalar() : rand_op());
    return a;
}

static json_t *rand_pattern(int depth)
{
    json_t *o = json_object();
    size_t n = 1 + rnd(3);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, PATHS[rnd(sizeof PATHS / sizeof PATHS[0])], rand_leaf_list());
    if (depth < 2 && rnd(4) == 0) {
        json_t *alts = json_array();
        size_t k = 2 + rnd(2);
        for (size_t i = 0; i < k; i++)
            json_array_append_new(alts, rand_pattern(depth + 1));
        json_object_set_new(o, "$or", alts);
    }
    if (depth == 0 && rnd(5) == 0) { /* the nested form of a dotted path */
        json_t *in = json_object();
        json_object_set_new(in, "x", rand_leaf_list());
        json_object_set_new(o, "a", in);
    }
    return o;
}

static json_t *rand_value(int depth);

static json_t *rand_object(int depth)
{
    static const char *const keys[] = {"a", "b", "c", "d", "e", "f", "g", "x", "y"};
    json_t *o = json_object();
    size_t n = rnd(5);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, keys[rnd(9)], rand_value(depth + 1));
    return o;
}

static json_t *rand_value(int depth)
{
    uint32_t r = depth > 3 ? 0 : rnd(6);
    if (r <= 2)
        return rand_scalar();
    if (r <= 4)
        return rand_object(depth);
    json_t *a = json_array();
    size_t n = rnd(4);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, rand_value(depth + 1));
    return a;
}

static void test_differential(void)
{
    enum { RULES = 400, EVENTS = 3000 };
    const char *env = getenv("EVB_PATTERN_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 20240611;
    rng_state = seed ? seed : 1;
    evb_pattern **pats = calloc(RULES, sizeof *pats);
    uint64_t *idof = calloc(RULES, sizeof *idof);
    evb_matcher *m = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_matcher_new(&m), EVB_OK);
    size_t compiled = 0;
    for (size_t i = 0; i < RULES; i++) {
        json_t *pj = rnd(40) == 0 ? json_object() : rand_pattern(0);
        char *text = json_dumps(pj, JSON_COMPACT);
        evb_error err;
        if (evb_pattern_compile(text, strlen(text), 0, &pats[i], &err) == EVB_OK) {
            idof[i] = 1000 + rnd(RULES * 3 / 4); /* some ids repeat */
            CU_ASSERT_EQUAL(evb_matcher_add(m, pats[i], idof[i]), EVB_OK);
            compiled++;
        }
        free(text);
        json_decref(pj);
    }
    CU_ASSERT(compiled > RULES * 9 / 10);
    CU_ASSERT_EQUAL_FATAL(evb_matcher_build(m), EVB_OK);
    uint64_t *got = malloc(RULES * sizeof *got), *want = malloc(RULES * sizeof *want);
    size_t failures = 0, total_matches = 0;
    for (size_t e = 0; e < EVENTS; e++) {
        json_t *ev = rand_object(0);
        size_t nw = 0, ng = 0, nhit = 0;
        for (size_t i = 0; i < RULES; i++) /* ids whose pattern matches alone */
            if (pats[i] != NULL && evb_pattern_match(pats[i], ev))
                got[nhit++] = idof[i];
        for (size_t i = 0; i < RULES; i++) { /* ordered by the first add of each id */
            int hit = 0, dup = 0;
            for (size_t q = 0; pats[i] != NULL && q < nhit && !hit; q++)
                hit = got[q] == idof[i];
            for (size_t q = 0; hit && q < nw && !dup; q++)
                dup = want[q] == idof[i];
            if (hit && !dup)
                want[nw++] = idof[i];
        }
        total_matches += nw;
        evb_err rc = evb_matcher_match(m, ev, got, RULES, &ng);
        int same = rc == EVB_OK && ng == nw && memcmp(got, want, nw * sizeof *got) == 0;
        if (!same && failures++ < 5) {
            char *t = json_dumps(ev, JSON_COMPACT);
            fprintf(stderr, "  seed %llu event %zu %s: matcher %zu rules, alone %zu\n",
                    (unsigned long long)seed, e, t, ng, nw);
            free(t);
        }
        CU_ASSERT(same);
        json_decref(ev);
    }
    /* the test means something only if events do match rules */
    CU_ASSERT(total_matches > EVENTS);
    free(got);
    free(want);
    evb_matcher_free(m);
    for (size_t i = 0; i < RULES; i++)
        evb_pattern_free(pats[i]);
    free(pats);
    free(idof);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"matcher api", test_api},
        {"differential: matcher == each pattern alone", test_differential},
        {NULL, NULL},
    };
    return evb_unit_run("routing_pattern_matcher", cases);
}
