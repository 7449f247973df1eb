/* evbridge — unit tests for common/id: UUIDv7 shape, version, variant, embedded time,
 * strict monotonic order (also across threads) and random hex. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/id.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "tests/unit/common/unit.h"

static int uuid_shape_ok(const char *u)
{
    if (strlen(u) != EVB_UUID_STRLEN)
        return 0;
    for (int i = 0; i < EVB_UUID_STRLEN; i++) {
        char c = u[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static void test_uuid7_format(void)
{
    int64_t before = evb_now_ms();
    char u[EVB_UUID_STRLEN + 1];
    CU_ASSERT_EQUAL_FATAL(evb_uuid7(u, sizeof u), EVB_OK);
    int64_t after = evb_now_ms();
    CU_ASSERT(uuid_shape_ok(u));
    CU_ASSERT_EQUAL(u[14], '7');                   /* version */
    CU_ASSERT_PTR_NOT_NULL(strchr("89ab", u[19])); /* variant 10xx */
    /* the first 48 bits are the Unix ms timestamp */
    char hex[13];
    memcpy(hex, u, 8);
    memcpy(hex + 8, u + 9, 4);
    hex[12] = '\0';
    int64_t ts = (int64_t)strtoll(hex, NULL, 16);
    CU_ASSERT(ts >= before);
    CU_ASSERT(ts <= after + 1); /* +1: a counter overflow may advance it */
    char small[EVB_UUID_STRLEN];
    CU_ASSERT_EQUAL(evb_uuid7(small, sizeof small), EVB_ERR_INVALID);
}

static void test_uuid7_monotonic(void)
{
    enum { N = 20000 };
    char prev[EVB_UUID_STRLEN + 1], cur[EVB_UUID_STRLEN + 1];
    CU_ASSERT_EQUAL_FATAL(evb_uuid7(prev, sizeof prev), EVB_OK);
    int ordered = 1, shaped = 1;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL_FATAL(evb_uuid7(cur, sizeof cur), EVB_OK);
        if (strcmp(prev, cur) >= 0)
            ordered = 0;
        if (!uuid_shape_ok(cur) || cur[14] != '7' || !strchr("89ab", cur[19]))
            shaped = 0;
        memcpy(prev, cur, sizeof cur);
    }
    CU_ASSERT(ordered);
    CU_ASSERT(shaped);
}

enum { THREADS = 4, PER_THREAD = 5000 };
static char thread_ids[THREADS][PER_THREAD][EVB_UUID_STRLEN + 1];

static void *gen_thread(void *arg)
{
    char(*ids)[EVB_UUID_STRLEN + 1] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        evb_uuid7(ids[i], EVB_UUID_STRLEN + 1);
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_uuid7_threads_unique(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, gen_thread, thread_ids[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int per_thread_ordered = 1;
    for (int i = 0; i < THREADS; i++)
        for (int j = 1; j < PER_THREAD; j++)
            if (strcmp(thread_ids[i][j - 1], thread_ids[i][j]) >= 0)
                per_thread_ordered = 0;
    CU_ASSERT(per_thread_ordered);
    qsort(thread_ids, THREADS * PER_THREAD, EVB_UUID_STRLEN + 1, cmp_str);
    char(*all)[EVB_UUID_STRLEN + 1] = &thread_ids[0][0];
    int unique = 1;
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        if (strcmp(all[i - 1], all[i]) == 0)
            unique = 0;
    CU_ASSERT(unique);
}

/* The random part (rand_b: the last 16 hex digits after the variant nibble) of ids made
 * across several refills of the pool is never repeated. */
static void test_uuid7_random_part_fresh(void)
{
    enum { N = 1200 }; /* 12,000 random bytes: 24 refills of the 500-byte pool */
    static char tails[N][18];
    for (int i = 0; i < N; i++) {
        char u[EVB_UUID_STRLEN + 1];
        CU_ASSERT_EQUAL_FATAL(evb_uuid7(u, sizeof u), EVB_OK);
        memcpy(tails[i], u + 19, 17); /* "vxxx-xxxxxxxxxxxx" */
        tails[i][17] = '\0';
    }
    qsort(tails, N, sizeof tails[0], cmp_str);
    int repeated = 0;
    for (int i = 1; i < N; i++)
        repeated += strcmp(tails[i - 1], tails[i]) == 0;
    CU_ASSERT_EQUAL(repeated, 0);
}

/* A forked child does not hand out the random bytes the parent still holds. */
static void test_uuid7_fork(void)
{
    char u[EVB_UUID_STRLEN + 1];
    CU_ASSERT_EQUAL_FATAL(evb_uuid7(u, sizeof u), EVB_OK); /* the pool holds bytes now */
    int fd[2];
    CU_ASSERT_EQUAL_FATAL(pipe(fd), 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        for (int i = 0; i < 10; i++) {
            if (evb_uuid7(u, sizeof u) != EVB_OK || write(fd[1], u + 19, 17) != 17)
                _exit(1);
        }
        _exit(0);
    }
    close(fd[1]);
    char parent[10][18], child[10][18];
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL_FATAL(evb_uuid7(u, sizeof u), EVB_OK);
        memcpy(parent[i], u + 19, 17);
        parent[i][17] = '\0';
    }
    size_t got = 0;
    while (got < 10 * 17) { /* 17 bytes per id; each row has room for a NUL too */
        char *dst = &child[got / 17][got % 17];
        ssize_t r = read(fd[0], dst, 17 - got % 17);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got % 17 == 0)
            child[got / 17 - 1][17] = '\0';
    }
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_EQUAL_FATAL(got, 10 * 17);
    int shared = 0;
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++)
            shared += strcmp(parent[i], child[j]) == 0;
    CU_ASSERT_EQUAL(shared, 0);
}

static void test_random_hex(void)
{
    char a[33], b[33];
    CU_ASSERT_EQUAL(evb_random_hex(a, sizeof a, 16), EVB_OK);
    CU_ASSERT_EQUAL(evb_random_hex(b, sizeof b, 16), EVB_OK);
    CU_ASSERT_EQUAL(strlen(a), 32);
    CU_ASSERT(evb_str_matches(a, "0-9a-f", 32, 32));
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(evb_random_hex(a, 32, 16), EVB_ERR_INVALID);
    char big[2 * 200 + 1];
    CU_ASSERT_EQUAL(evb_random_hex(big, sizeof big, 200), EVB_OK);
    CU_ASSERT_EQUAL(strlen(big), 400);
    char z[1];
    CU_ASSERT_EQUAL(evb_random_hex(z, sizeof z, 0), EVB_OK);
    CU_ASSERT_STRING_EQUAL(z, "");
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"uuid7_format", test_uuid7_format},
        {"uuid7_monotonic", test_uuid7_monotonic},
        {"uuid7_threads_unique", test_uuid7_threads_unique},
        {"uuid7_random_part_fresh", test_uuid7_random_part_fresh},
        {"uuid7_fork", test_uuid7_fork},
        {"random_hex", test_random_hex},
        {NULL, NULL},
    };
    return evb_unit_run("common/id", cases);
}
