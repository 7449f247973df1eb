/* Unit tests for server/auth/ratelimit: burst, refill, retry time, per-key independence,
 * bounded memory (idle keys swept, LRU reuse when full), concurrent takers. */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/auth/ratelimit.h"

static void test_args(void)
{
    evb_ratelimit *rl = NULL;
    CU_ASSERT_EQUAL(evb_ratelimit_new(0, 0, 0, &rl), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_ratelimit_new(5, -1, 0, &rl), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL_FATAL(evb_ratelimit_new(5, 0, 0, &rl), EVB_OK);
    CU_ASSERT_EQUAL(evb_ratelimit_rate(rl), 5);
    CU_ASSERT_EQUAL(evb_ratelimit_burst(rl), 5); /* 0 = the rate */
    evb_ratelimit_free(rl);
    evb_ratelimit_free(NULL);
}

static void test_burst_refill_retry(void)
{
    evb_ratelimit *rl = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_ratelimit_new(10, 3, 0, &rl), EVB_OK);
    int64_t t = 1000000, wait = -1;
    for (int i = 0; i < 3; i++)
        CU_ASSERT_TRUE(evb_ratelimit_take(rl, "k1", t, &wait));
    CU_ASSERT_FALSE(evb_ratelimit_take(rl, "k1", t, &wait));
    CU_ASSERT_EQUAL(wait, 100); /* 10/s: one token every 100 ms */
    CU_ASSERT_FALSE(evb_ratelimit_take(rl, "k1", t + 60, &wait));
    CU_ASSERT_EQUAL(wait, 40);
    CU_ASSERT_TRUE(evb_ratelimit_take(rl, "k1", t + 100, &wait));
    CU_ASSERT_FALSE(evb_ratelimit_take(rl, "k1", t + 100, &wait));
    /* another key has its own bucket */
    CU_ASSERT_TRUE(evb_ratelimit_take(rl, "k2", t + 100, &wait));
    /* a long idle time refills to the burst, not beyond */
    int ok = 0;
    for (int i = 0; i < 10; i++)
        ok += evb_ratelimit_take(rl, "k1", t + 1000000, &wait);
    CU_ASSERT_EQUAL(ok, 3);
    /* the clock going backwards never adds tokens */
    CU_ASSERT_FALSE(evb_ratelimit_take(rl, "k1", t, &wait));
    CU_ASSERT_TRUE(wait >= 1);
    evb_ratelimit_free(rl);
}

static void test_bounded(void)
{
    evb_ratelimit *rl = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_ratelimit_new(1, 2, 64, &rl), EVB_OK);
    char id[32];
    int64_t t = 5000;
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "key%05d", i);
        CU_ASSERT_TRUE(evb_ratelimit_take(rl, id, t, NULL));
    }
    CU_ASSERT_TRUE(evb_ratelimit_size(rl) <= 64);
    /* after the refill time, idle keys are swept */
    for (int i = 0; i < 64; i++) {
        snprintf(id, sizeof id, "late%03d", i);
        evb_ratelimit_take(rl, id, t + 10000, NULL);
    }
    CU_ASSERT_TRUE(evb_ratelimit_size(rl) <= 64);
    evb_ratelimit_free(rl);
}

static evb_ratelimit *shared;
static void *taker(void *arg)
{
    int *allowed = arg;
    for (int i = 0; i < 5000; i++)
        *allowed += evb_ratelimit_take(shared, "same", 42, NULL);
    return NULL;
}

static void test_threads(void)
{
    CU_ASSERT_EQUAL_FATAL(evb_ratelimit_new(1, 1000, 0, &shared), EVB_OK);
    pthread_t th[4];
    int allowed[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, taker, &allowed[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(allowed[0] + allowed[1] + allowed[2] + allowed[3], 1000);
    evb_ratelimit_free(shared);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("ratelimit", NULL, NULL);
    CU_add_test(s, "arguments", test_args);
    CU_add_test(s, "burst, refill, retry time", test_burst_refill_retry);
    CU_add_test(s, "bounded memory", test_bounded);
    CU_add_test(s, "threads", test_threads);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
