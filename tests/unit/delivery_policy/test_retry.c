/* evbridge tests — retry schedules (server/delivery/retry.h): every strategy's full schedule
 * walked attempt by attempt with injected random bits, limits and overrides, Retry-After
 * clamping, and the resolution of stored policies (fields and JSON), table-driven.
 */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy_test.h"
#include "server/delivery/retry.h"

/* A deterministic stream of random bits (splitmix64). */
static uint64_t next_rnd(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static evb_retry_policy make(int strategy, int64_t attempts, int64_t age_s, int64_t base,
                             int64_t cap, double jitter)
{
    evb_retry_policy p;
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = evb_retry_policy_init(&p, strategy, attempts, age_s, base, cap, jitter, &e);
    if (rc != EVB_OK)
        fprintf(stderr, "\n  policy_init: %s\n", e.message);
    CU_ASSERT_EQUAL_FATAL(rc, EVB_OK);
    return p;
}

/* Walks a schedule from the first attempt: each attempt takes attempt_ms, then waits the
 * returned delay. Fills delays[] (up to max) and returns the number of retries. */
static int walk(const evb_retry_policy *p, int64_t attempt_ms, int64_t retry_after_ms,
                uint64_t seed, int64_t *delays, int max)
{
    int64_t age = 0, d = -1;
    int n = 0;
    for (int done = 1; done < 100000; done++) {
        age += attempt_ms;
        if (!evb_retry_next(p, done, age, retry_after_ms, next_rnd(&seed), &d))
            return n;
        CU_ASSERT(d >= 0);
        if (n < max)
            delays[n] = d;
        n++;
        age += d;
    }
    CU_FAIL("schedule never ends");
    return n;
}

static void test_default_policy(void)
{
    evb_retry_policy p;
    evb_retry_policy_default(&p);
    CU_ASSERT_EQUAL(p.strategy, EVB_RETRY_BACKOFF);
    CU_ASSERT_EQUAL(p.max_attempts, 4);
    CU_ASSERT_EQUAL(p.max_age_ms, 0);
    CU_ASSERT_EQUAL(p.base_delay_ms, 10000);
    CU_ASSERT_EQUAL(p.max_delay_ms, 20000);
    CU_ASSERT_EQUAL(p.jitter, 0.0);
    evb_retry_policy q = make(0, 0, 0, 0, 0, 0.0); /* UNSPECIFIED = BACKOFF_RETRY */
    CU_ASSERT(memcmp(&p, &q, sizeof p) == 0);
}

static void test_exponential_schedule(void)
{
    evb_retry_policy p = make(EVB_RETRY_EXPONENTIAL, 0, 0, 0, 0, 0.0);
    int64_t d[200];
    int n = walk(&p, 0, -1, 1, d, 200);
    CU_ASSERT_EQUAL(n, 176);
    int64_t total = 0;
    for (int i = 0; i < n && i < 200; i++) {
        int64_t want = i < 10 ? (1000LL << i) : 512000LL;
        if (d[i] != want)
            fprintf(stderr, "\n  retry %d: %lld ms, want %lld\n", i + 1, (long long)d[i],
                    (long long)want);
        CU_ASSERT_EQUAL(d[i], want);
        total += d[i];
    }
    CU_ASSERT_EQUAL(d[0], 1000);
    CU_ASSERT_EQUAL(d[9], 512000);
    CU_ASSERT_EQUAL(d[175], 512000);
    CU_ASSERT_EQUAL(total, 86015000); /* 1,023 s + 166 * 512 s */
    CU_ASSERT(total <= 86400000);
    /* the same schedule whatever the random bits */
    int64_t d2[200];
    CU_ASSERT_EQUAL(walk(&p, 0, -1, 99, d2, 200), 176);
    CU_ASSERT(memcmp(d, d2, 176 * sizeof d[0]) == 0);
}

static void test_exponential_age_limit(void)
{
    evb_retry_policy p = make(EVB_RETRY_EXPONENTIAL, 0, 0, 0, 0, 0.0);
    int64_t d[200];
    /* 1 s per attempt: 86,015 + 177 s > one day, but each retry's *start* is checked:
     * the 176th retry would start at 86,015 + 176 = 86,191 s <= 86,400 s. */
    CU_ASSERT_EQUAL(walk(&p, 1000, -1, 1, d, 200), 176);
    /* 5 s per attempt: 86,015 + 5 * n grows past a day before the 176th retry */
    int n = walk(&p, 5000, -1, 1, d, 200);
    CU_ASSERT(n < 176);
    CU_ASSERT(n > 160);
    int64_t age = 0;
    for (int i = 0; i < n; i++)
        age += 5000 + d[i];
    CU_ASSERT(age <= 86400000);
    CU_ASSERT(age + 5000 + 512000 > 86400000);
    /* the boundary: a retry starting exactly at the age limit is made, 1 ms later is not */
    int64_t out = -1;
    CU_ASSERT_EQUAL(evb_retry_next(&p, 20, 86400000 - 512000, -1, 0, &out), 1);
    CU_ASSERT_EQUAL(out, 512000);
    out = -1;
    CU_ASSERT_EQUAL(evb_retry_next(&p, 20, 86400000 - 511999, -1, 0, &out), 0);
    CU_ASSERT_EQUAL(out, -1); /* untouched when dead */
    CU_ASSERT_EQUAL(evb_retry_next(&p, 177, 0, -1, 0, &out), 0);
    CU_ASSERT_EQUAL(evb_retry_next(&p, 176, 0, -1, 0, &out), 1);
}

static void test_backoff_schedule(void)
{
    evb_retry_policy p;
    evb_retry_policy_default(&p);
    for (uint64_t seed = 0; seed < 2000; seed++) {
        int64_t d[8];
        int n = walk(&p, 0, -1, seed, d, 8);
        CU_ASSERT_EQUAL(n, 3);
        for (int i = 0; i < 3; i++)
            CU_ASSERT(d[i] >= 10000 && d[i] <= 20000);
    }
    /* the ends of the range are reachable, and huge random values stay in it */
    static const struct {
        uint64_t rnd;
        int64_t want;
    } ROWS[] = {
        {0, 10000},
        {1, 10001},
        {10000, 20000},
        {10001, 10000},
        {20001, 20000},
        {20002, 10000},
        {UINT64_MAX, 10000 + (int64_t)(UINT64_MAX % 10001)},
    };
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        int64_t d = -1;
        CU_ASSERT_EQUAL(evb_retry_next(&p, 1, 0, -1, ROWS[i].rnd, &d), 1);
        CU_ASSERT_EQUAL(d, ROWS[i].want);
    }
    /* the spread is used: low and high halves both occur */
    int low = 0, high = 0;
    uint64_t st = 7;
    for (int i = 0; i < 1000; i++) {
        int64_t d;
        CU_ASSERT_EQUAL(evb_retry_next(&p, 2, 0, -1, next_rnd(&st), &d), 1);
        low += d < 15000;
        high += d > 15000;
    }
    CU_ASSERT(low > 400 && high > 400);
    int64_t d = -1;
    CU_ASSERT_EQUAL(evb_retry_next(&p, 4, 0, -1, 0, &d), 0);
    CU_ASSERT_EQUAL(evb_retry_next(&p, 1000, 0, -1, 0, &d), 0);
    /* no age limit of its own */
    CU_ASSERT_EQUAL(evb_retry_next(&p, 3, INT64_MAX, -1, 0, &d), 1);
}

/* Overrides of the stored policy for non-CUSTOM strategies, and CUSTOM schedules. */
typedef struct sched_row {
    const char *name;
    int strategy;
    int64_t attempts, age_s, base, cap;
    int64_t attempt_ms; /* duration of each attempt */
    int want_retries;
    int64_t want[12]; /* first delays (jitter-free strategies), 0-terminated */
} sched_row;

static const sched_row SCHED_ROWS[] = {
    {"backoff, max_attempts 1: never retry", 1, 1, 0, 0, 0, 0, 0, {0}},
    {"backoff, max_attempts 2", 1, 2, 0, 0, 0, 0, 1, {0}},
    {"backoff, max_attempts 10", 1, 10, 0, 0, 0, 0, 9, {0}},
    {"backoff ignores delays", 1, 0, 0, 5, 6, 0, 3, {0}},
    {"exponential, max_attempts 5", 2, 5, 0, 0, 0, 0, 4, {1000, 2000, 4000, 8000}},
    {"exponential, max_age 60 s", 2, 0, 60, 0, 0, 0, 5, {1000, 2000, 4000, 8000, 16000}},
    {"exponential, max_attempts 1000, max_age 7 d",
     2,
     1000,
     7 * 86400,
     0,
     0,
     0,
     999,
     {1000, 2000, 4000}},
    {"exponential ignores delays", 2, 0, 0, 7, 9, 0, 176, {1000, 2000}},
    {"custom 100 ms doubling to 1 s, 10 attempts",
     3,
     10,
     0,
     100,
     1000,
     0,
     9,
     {100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000}},
    {"custom base == cap", 3, 4, 0, 250, 250, 0, 3, {250, 250, 250}},
    {"custom cap not a power of two", 3, 6, 0, 3, 10, 0, 5, {3, 6, 10, 10, 10}},
    {"custom max_age 10 s", 3, 100, 10, 1000, 4000, 0, 3, {1000, 2000, 4000}},
    {"custom max_age with slow attempts", 3, 100, 10, 1000, 4000, 2000, 2, {1000, 2000}},
    {"custom 1 attempt", 3, 1, 0, 1, 1, 0, 0, {0}},
    {"custom 1000 attempts, 1 ms to 7 d",
     3,
     1000,
     0,
     1,
     604800000,
     0,
     999,
     {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048}},
};

static void test_schedule_table(void)
{
    for (size_t i = 0; i < sizeof SCHED_ROWS / sizeof SCHED_ROWS[0]; i++) {
        const sched_row *r = &SCHED_ROWS[i];
        evb_retry_policy p = make(r->strategy, r->attempts, r->age_s, r->base, r->cap, 0.0);
        int64_t d[1000];
        int n = walk(&p, r->attempt_ms, -1, i, d, 1000);
        if (n != r->want_retries)
            fprintf(stderr, "\n  %s: %d retries, want %d\n", r->name, n, r->want_retries);
        CU_ASSERT_EQUAL(n, r->want_retries);
        if (r->strategy == EVB_RETRY_BACKOFF)
            continue;
        for (int k = 0; k < 12 && k < n && r->want[k] != 0; k++) {
            if (d[k] != r->want[k])
                fprintf(stderr, "\n  %s: retry %d: %lld, want %lld\n", r->name, k + 1,
                        (long long)d[k], (long long)r->want[k]);
            CU_ASSERT_EQUAL(d[k], r->want[k]);
        }
        for (int k = 1; k < n && k < 1000; k++)
            CU_ASSERT(d[k] >= d[k - 1] && d[k] <= p.max_delay_ms);
    }
}

static void test_custom_jitter(void)
{
    static const double JITTERS[] = {0.0, 0.1, 0.5, 1.0};
    for (size_t j = 0; j < sizeof JITTERS / sizeof JITTERS[0]; j++) {
        double jit = JITTERS[j];
        evb_retry_policy p = make(EVB_RETRY_CUSTOM, 20, 0, 1000, 30000, jit);
        uint64_t st = 42 + j;
        for (int done = 1; done < 20; done++) {
            int64_t nominal = 1000LL << (done - 1);
            if (nominal > 30000)
                nominal = 30000;
            int64_t lo = (int64_t)((double)nominal * (1.0 - jit)) - 1;
            int64_t hi = (int64_t)((double)nominal * (1.0 + jit)) + 1;
            if (hi > 30000)
                hi = 30000;
            int64_t min_seen = INT64_MAX, max_seen = -1;
            for (int k = 0; k < 500; k++) {
                int64_t d = -1;
                CU_ASSERT_EQUAL(evb_retry_next(&p, done, 0, -1, next_rnd(&st), &d), 1);
                CU_ASSERT(d >= lo && d <= hi && d >= 0 && d <= 30000);
                min_seen = d < min_seen ? d : min_seen;
                max_seen = d > max_seen ? d : max_seen;
            }
            if (jit == 0.0) {
                CU_ASSERT(min_seen == nominal && max_seen == nominal);
            } else {
                CU_ASSERT(max_seen > min_seen); /* it does jitter */
            }
        }
        /* the extremes of the random bits give the ends of the interval */
        int64_t d = -1;
        CU_ASSERT_EQUAL(evb_retry_next(&p, 2, 0, -1, 0, &d), 1);
        CU_ASSERT_EQUAL(d, (int64_t)(2000.0 * (1.0 - jit)));
        CU_ASSERT_EQUAL(evb_retry_next(&p, 2, 0, -1, UINT64_MAX, &d), 1);
        CU_ASSERT(d >= (int64_t)(2000.0 * (1.0 + jit)) - 1 && d <= 2000 + (int64_t)(2000 * jit));
    }
}

/* Retry-After against each strategy's cap and the age limit. */
typedef struct ra_row {
    const char *name;
    int strategy;
    int64_t attempts, age_s, base, cap;
    int done;
    int64_t age_ms, retry_after_ms;
    uint64_t rnd;
    int want_ok;
    int64_t want_delay;
} ra_row;

static const ra_row RA_ROWS[] = {
    {"exp: none", 2, 0, 0, 0, 0, 1, 0, -1, 0, 1, 1000},
    {"exp: larger than schedule", 2, 0, 0, 0, 0, 1, 0, 10000, 0, 1, 10000},
    {"exp: smaller than schedule keeps schedule", 2, 0, 0, 0, 0, 5, 0, 3000, 0, 1, 16000},
    {"exp: zero keeps schedule", 2, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1000},
    {"exp: clamped to 512 s", 2, 0, 0, 0, 0, 1, 0, 3600000, 0, 1, 512000},
    {"exp: huge clamped", 2, 0, 0, 0, 0, 1, 0, INT64_MAX, 0, 1, 512000},
    {"exp: other negative = none", 2, 0, 0, 0, 0, 1, 0, -5000, 0, 1, 1000},
    {"exp: beyond remaining age: dead", 2, 0, 0, 0, 0, 3, 86400000 - 100000, 200000, 0, 0, 0},
    {"exp: exactly the remaining age", 2, 0, 0, 0, 0, 3, 86400000 - 200000, 200000, 0, 1, 200000},
    {"backoff: clamped to 20 s", 1, 0, 0, 0, 0, 1, 0, 60000, 0, 1, 20000},
    {"backoff: 15 s over a 10 s draw", 1, 0, 0, 0, 0, 1, 0, 15000, 0, 1, 15000},
    {"backoff: 5 s under a draw", 1, 0, 0, 0, 0, 1, 0, 5000, 5, 1, 10005},
    {"backoff: attempts exhausted", 1, 0, 0, 0, 0, 4, 0, 1000, 0, 0, 0},
    {"backoff: overridden age exceeded", 1, 0, 30, 0, 0, 1, 15000, 20000, 0, 0, 0},
    {"custom: clamped to max_delay", 3, 5, 0, 100, 800, 1, 0, 5000, 0, 1, 800},
    {"custom: within cap", 3, 5, 0, 100, 800, 1, 0, 500, 0, 1, 500},
    {"custom: beyond age", 3, 5, 2, 100, 800, 1, 1500, 800, 0, 0, 0},
};

static void test_retry_after_table(void)
{
    for (size_t i = 0; i < sizeof RA_ROWS / sizeof RA_ROWS[0]; i++) {
        const ra_row *r = &RA_ROWS[i];
        evb_retry_policy p = make(r->strategy, r->attempts, r->age_s, r->base, r->cap, 0.0);
        int64_t d = -7;
        int ok = evb_retry_next(&p, r->done, r->age_ms, r->retry_after_ms, r->rnd, &d);
        if (ok != r->want_ok || (ok && d != r->want_delay))
            fprintf(stderr, "\n  %s: ok %d delay %lld, want %d %lld\n", r->name, ok, (long long)d,
                    r->want_ok, (long long)r->want_delay);
        CU_ASSERT_EQUAL(ok, r->want_ok);
        CU_ASSERT_EQUAL(d, ok ? r->want_delay : -7);
    }
}

static void test_odd_arguments(void)
{
    evb_retry_policy p = make(EVB_RETRY_EXPONENTIAL, 0, 0, 0, 0, 0.0);
    int64_t d = -1;
    CU_ASSERT_EQUAL(evb_retry_next(&p, 0, 0, -1, 0, &d), 1); /* counts as 1 */
    CU_ASSERT_EQUAL(d, 1000);
    CU_ASSERT_EQUAL(evb_retry_next(&p, -5, -100, -1, 0, &d), 1);
    CU_ASSERT_EQUAL(d, 1000);
    CU_ASSERT_EQUAL(evb_retry_next(&p, 60, 0, -1, 0, &d), 1); /* 2^59 s: capped, no overflow */
    CU_ASSERT_EQUAL(d, 512000);
    CU_ASSERT_EQUAL(evb_retry_next(&p, 100, INT64_MAX - 10, -1, 0, &d), 0);
    evb_retry_policy c =
        make(EVB_RETRY_CUSTOM, 1000, 0, EVB_RETRY_DELAY_MS_LIMIT, EVB_RETRY_DELAY_MS_LIMIT, 1.0);
    CU_ASSERT_EQUAL(evb_retry_next(&c, 999, 0, INT64_MAX, UINT64_MAX, &d), 1);
    CU_ASSERT_EQUAL(d, EVB_RETRY_DELAY_MS_LIMIT);
}

/* evb_retry_policy_init argument checks. */
typedef struct init_row {
    int strategy;
    int64_t attempts, age_s, base, cap;
    double jitter;
    evb_err want;
    const char *pointer;
} init_row;

static const init_row INIT_ROWS[] = {
    {0, 0, 0, 0, 0, 0.0, EVB_OK, ""},
    {1, 0, 0, 0, 0, 0.0, EVB_OK, ""},
    {2, 0, 0, 0, 0, 0.0, EVB_OK, ""},
    {3, 1, 0, 1, 1, 0.0, EVB_OK, ""},
    {3, 1000, 604800, 604800000, 604800000, 1.0, EVB_OK, ""},
    {4, 0, 0, 0, 0, 0.0, EVB_ERR_INVALID, "retry.strategy"},
    {-1, 0, 0, 0, 0, 0.0, EVB_ERR_INVALID, "retry.strategy"},
    {1, -1, 0, 0, 0, 0.0, EVB_ERR_INVALID, "retry.max_attempts"},
    {1, 1001, 0, 0, 0, 0.0, EVB_ERR_INVALID, "retry.max_attempts"},
    {2, 0, -1, 0, 0, 0.0, EVB_ERR_INVALID, "retry.max_age_seconds"},
    {2, 0, 604801, 0, 0, 0.0, EVB_ERR_INVALID, "retry.max_age_seconds"},
    {1, 0, 0, -1, 0, 0.0, EVB_ERR_INVALID, "retry.base_delay_ms"},
    {1, 0, 0, 0, -1, 0.0, EVB_ERR_INVALID, "retry.max_delay_ms"},
    {3, 1, 0, 1, 604800001, 0.0, EVB_ERR_INVALID, "retry.max_delay_ms"},
    {1, 0, 0, 0, 0, -0.01, EVB_ERR_INVALID, "retry.jitter"},
    {3, 1, 0, 1, 1, 1.01, EVB_ERR_INVALID, "retry.jitter"},
    {3, 0, 0, 1, 1, 0.0, EVB_ERR_INVALID, "retry.max_attempts"},
    {3, 1, 0, 0, 1, 0.0, EVB_ERR_INVALID, "retry.base_delay_ms"},
    {3, 1, 0, 10, 9, 0.0, EVB_ERR_INVALID, "retry.max_delay_ms"},
};

static void test_policy_init_table(void)
{
    for (size_t i = 0; i < sizeof INIT_ROWS / sizeof INIT_ROWS[0]; i++) {
        const init_row *r = &INIT_ROWS[i];
        evb_retry_policy p, before;
        memset(&p, 0xab, sizeof p);
        before = p;
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_retry_policy_init(&p, r->strategy, r->attempts, r->age_s, r->base, r->cap,
                                           r->jitter, &e);
        if (rc != r->want)
            fprintf(stderr, "\n  init row %zu: %s\n", i, evb_strerror(rc));
        CU_ASSERT_EQUAL(rc, r->want);
        CU_ASSERT_STRING_EQUAL(e.pointer, r->pointer);
        if (rc != EVB_OK) {
            CU_ASSERT(memcmp(&p, &before, sizeof p) == 0);
            CU_ASSERT(e.message[0] != '\0');
        }
    }
    evb_retry_policy p;
    CU_ASSERT_EQUAL(evb_retry_policy_init(&p, 3, 1, 0, 1, 1, NAN, NULL), EVB_ERR_INVALID);
}

/* The stored connection config's "retry" object. */
typedef struct json_row {
    const char *json; /* NULL: no "retry" member */
    evb_err want;
    evb_retry_policy pol; /* when EVB_OK */
} json_row;

static const json_row JSON_ROWS[] = {
    {NULL, EVB_OK, {1, 4, 0, 10000, 20000, 0.0}},
    {"{}", EVB_OK, {1, 4, 0, 10000, 20000, 0.0}},
    {"{\"strategy\":1,\"max_attempts\":0,\"max_age_seconds\":0,\"base_delay_ms\":0,"
     "\"max_delay_ms\":0,\"jitter\":0.0}",
     EVB_OK,
     {1, 4, 0, 10000, 20000, 0.0}},
    {"{\"strategy\":2}", EVB_OK, {2, 177, 86400000, 1000, 512000, 0.0}},
    {"{\"strategy\":2,\"max_attempts\":10,\"max_age_seconds\":3600}",
     EVB_OK,
     {2, 10, 3600000, 1000, 512000, 0.0}},
    {"{\"strategy\":1,\"max_attempts\":6,\"max_age_seconds\":120,\"jitter\":0.5}",
     EVB_OK,
     {1, 6, 120000, 10000, 20000, 0.0}},
    {"{\"strategy\":3,\"max_attempts\":8,\"max_age_seconds\":600,\"base_delay_ms\":500,"
     "\"max_delay_ms\":60000,\"jitter\":0.25,\"extra\":true}",
     EVB_OK,
     {3, 8, 600000, 500, 60000, 0.25}},
    {"{\"strategy\":3,\"max_attempts\":2,\"base_delay_ms\":5,\"max_delay_ms\":5,\"jitter\":1}",
     EVB_OK,
     {3, 2, 0, 5, 5, 1.0}},
    {"{\"strategy\":3}", EVB_ERR_INVALID, {0}},
    {"{\"strategy\":\"CUSTOM\"}", EVB_ERR_INVALID, {0}},
    {"{\"strategy\":9}", EVB_ERR_INVALID, {0}},
    {"{\"strategy\":4294967297}", EVB_ERR_INVALID, {0}},
    {"{\"max_attempts\":1.5}", EVB_ERR_INVALID, {0}},
    {"{\"max_age_seconds\":null}", EVB_ERR_INVALID, {0}},
    {"{\"jitter\":\"0.1\"}", EVB_ERR_INVALID, {0}},
    {"{\"jitter\":2}", EVB_ERR_INVALID, {0}},
    {"[]", EVB_ERR_INVALID, {0}},
    {"1", EVB_ERR_INVALID, {0}},
};

static void test_from_json_table(void)
{
    for (size_t i = 0; i < sizeof JSON_ROWS / sizeof JSON_ROWS[0]; i++) {
        const json_row *r = &JSON_ROWS[i];
        json_t *j = NULL;
        if (r->json != NULL) {
            json_error_t je;
            j = json_loads(r->json, JSON_DECODE_ANY, &je);
            CU_ASSERT_PTR_NOT_NULL_FATAL(j);
        }
        evb_retry_policy p;
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_retry_policy_from_json(j, &p, &e);
        if (rc != r->want)
            fprintf(stderr, "\n  %s: %s %s\n", r->json ? r->json : "(none)", evb_strerror(rc),
                    e.message);
        CU_ASSERT_EQUAL(rc, r->want);
        if (rc == EVB_OK && r->want == EVB_OK) {
            CU_ASSERT_EQUAL(p.strategy, r->pol.strategy);
            CU_ASSERT_EQUAL(p.max_attempts, r->pol.max_attempts);
            CU_ASSERT_EQUAL(p.max_age_ms, r->pol.max_age_ms);
            CU_ASSERT_EQUAL(p.base_delay_ms, r->pol.base_delay_ms);
            CU_ASSERT_EQUAL(p.max_delay_ms, r->pol.max_delay_ms);
            CU_ASSERT_EQUAL(p.jitter, r->pol.jitter);
        } else if (rc != EVB_OK) {
            CU_ASSERT(e.message[0] != '\0');
        }
        json_decref(j);
    }
}

const pt_case RETRY_CASES[] = {
    {"default policy is BACKOFF_RETRY", test_default_policy},
    {"EXPONENTIAL_DECAY_RETRY: 176 retries, 1 s doubling to 512 s, within a day",
     test_exponential_schedule},
    {"EXPONENTIAL_DECAY_RETRY: the one-day age limit", test_exponential_age_limit},
    {"BACKOFF_RETRY: 3 retries at 10-20 s", test_backoff_schedule},
    {"overrides and CUSTOM schedules (table)", test_schedule_table},
    {"CUSTOM jitter bounds", test_custom_jitter},
    {"Retry-After clamping and age (table)", test_retry_after_table},
    {"odd arguments saturate instead of overflowing", test_odd_arguments},
    {"policy_init checks (table)", test_policy_init_table},
    {"policy from the stored JSON (table)", test_from_json_table},
    {NULL, NULL},
};
