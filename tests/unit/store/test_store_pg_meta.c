/* evbridge — unit tests of the PostgreSQL store's configuration records across nodes: two
 * stores opened on the same schema act as two evbridged nodes sharing one database.
 *
 * Covered: a connection created, paused and deleted through one node is seen through the
 * other, whose routing and configuration generations advance within 2 s (LISTEN/NOTIFY);
 * a resume on one node releases held deliveries and wakes the other node's dispatchers;
 * a schema registered on one node bumps the other's configuration generation; concurrent
 * registrations from both nodes on one subject get distinct versions (and identical content
 * one version). Needs EVB_TEST_PG_URL (scripts/pg-cluster.sh); without it every test is
 * skipped and the binary passes.
 */
#include "server/store/store.h"
#include "server/store/store_routing.h"
#include "server/store/store_schemas.h"
#include "tests/unit/store/store_test_util.h"

#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 2000

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to WAIT_MS for f(s) to exceed before: 1 when it did. */
static int advances(evb_store *s, uint64_t (*f)(evb_store *), uint64_t before)
{
    for (int t = 0; t < WAIT_MS; t += 10) {
        if (f(s) > before)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

typedef struct node_pair {
    char *dir;
    evb_store *a, *b;
} node_pair;

static void pair_open(node_pair *p, const char *tag)
{
    p->dir = tmpdir_new(tag);
    p->a = open_store(p->dir);
    p->b = open_store(p->dir); /* same schema: a second node */
}

static void pair_close(node_pair *p)
{
    evb_store_close(p->a);
    evb_store_close(p->b);
    tmpdir_free(p->dir);
}

static int conn_state_on(evb_store *s, const char *id)
{
    evb_connection_rec *c = NULL;
    if (evb_store_connection_get(s, id, &c) != EVB_OK)
        return -1;
    int st = c->state;
    evb_connection_rec_free(c);
    return st;
}

static void test_routing_across_nodes(void)
{
    node_pair p;
    pair_open(&p, "pgmeta-routing");
    uint64_t rg = evb_store_routing_generation(p.b), cg = evb_store_config_generation(p.b);

    evb_action_rec a = {.name = "act", .isv = "i", .kind = 1, .config = "{\"url\":\"x\"}"};
    CU_ASSERT_EQUAL(evb_store_action_create(p.a, &a), EVB_OK);
    evb_connection_rec c = {
        .id = "c1", .org = "o", .name = "n", .connector = "crm", .action = "act", .state = 1};
    CU_ASSERT_EQUAL(evb_store_connection_create(p.a, &c), EVB_OK);
    CU_ASSERT_TRUE(advances(p.b, evb_store_routing_generation, rg));
    CU_ASSERT_TRUE(advances(p.b, evb_store_config_generation, cg));
    CU_ASSERT_EQUAL(conn_state_on(p.b, "c1"), 1);
    evb_action_rec *got = NULL;
    CU_ASSERT_EQUAL(evb_store_action_get(p.b, "act", &got), EVB_OK);
    if (got != NULL)
        CU_ASSERT_STRING_EQUAL(got->config, "{\"url\":\"x\"}");
    evb_action_rec_free(got);

    /* Pause on A: B sees it, and its generations move again. */
    rg = evb_store_routing_generation(p.b);
    cg = evb_store_config_generation(p.b);
    CU_ASSERT_EQUAL(evb_store_connection_set_state(p.a, "c1", 2, "maintenance"), EVB_OK);
    CU_ASSERT_TRUE(advances(p.b, evb_store_routing_generation, rg));
    CU_ASSERT_TRUE(advances(p.b, evb_store_config_generation, cg));
    CU_ASSERT_EQUAL(conn_state_on(p.b, "c1"), 2);

    /* The action is in use whichever node asks. */
    CU_ASSERT_EQUAL(evb_store_action_delete(p.b, "act"), EVB_ERR_PRECONDITION);

    /* Delete on B: A sees it gone, then the action can go. */
    rg = evb_store_routing_generation(p.a);
    CU_ASSERT_EQUAL(evb_store_connection_delete(p.b, "c1"), EVB_OK);
    CU_ASSERT_TRUE(advances(p.a, evb_store_routing_generation, rg));
    CU_ASSERT_EQUAL(conn_state_on(p.a, "c1"), -1);
    CU_ASSERT_EQUAL(evb_store_action_delete(p.a, "act"), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_action_delete(p.b, "act"), EVB_ERR_NOT_FOUND);
    pair_close(&p);
}

static void wake_count(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_resume_wakes_other_node(void)
{
    node_pair p;
    pair_open(&p, "pgmeta-resume");
    evb_action_rec a = {.name = "act", .org = "o", .kind = 1};
    CU_ASSERT_EQUAL(evb_store_action_create(p.a, &a), EVB_OK);
    evb_connection_rec c = {
        .id = "c1", .org = "o", .name = "n", .connector = "crm", .action = "act", .state = 2};
    CU_ASSERT_EQUAL(evb_store_connection_create(p.a, &c), EVB_OK);
    /* Two held deliveries and a delivered one, written directly. */
    CU_ASSERT_EQUAL(db_exec(p.dir, "INSERT INTO events(id, type, source, time_ms, recv_ms) "
                                   "VALUES('e1', 't', 's', 0, 0)"),
                    0);
    CU_ASSERT_EQUAL(db_exec(p.dir, "INSERT INTO deliveries(id, event_seq, event_id, "
                                   "connection_id, org, state, next_ms, create_ms, update_ms) "
                                   "SELECT d.id, e.seq, 'e1', 'c1', 'o', d.st, 0, 0, 0 "
                                   "FROM events e, (VALUES ('h1', 1), ('h2', 1), ('x', 3)) "
                                   "AS d(id, st) WHERE e.id = 'e1'"),
                    0);
    CU_ASSERT_EQUAL(db_int(p.dir, "SELECT count(*) FROM deliveries WHERE state = 1"), 2);

    atomic_int woken;
    atomic_init(&woken, 0);
    evb_store_set_remote_wake(p.b, wake_count, &woken);
    sleep_ms(300); /* let B's listener pass earlier notifications */
    atomic_store(&woken, 0);
    CU_ASSERT_EQUAL(evb_store_connection_set_state(p.a, "c1", 1, NULL), EVB_OK);
    CU_ASSERT_EQUAL(db_int(p.dir, "SELECT count(*) FROM deliveries WHERE state = 0 "
                                  "AND next_ms > 0 AND id IN ('h1', 'h2')"),
                    2);
    CU_ASSERT_EQUAL(db_int(p.dir, "SELECT state FROM deliveries WHERE id = 'x'"), 3);
    int ok = 0;
    for (int t = 0; t < WAIT_MS && !ok; t += 10) {
        ok = atomic_load(&woken) > 0;
        if (!ok)
            sleep_ms(10);
    }
    CU_ASSERT_TRUE(ok);
    evb_store_set_remote_wake(p.b, NULL, NULL);

    /* Deleting the connection on B takes its pending deliveries, keeps the delivered. */
    CU_ASSERT_EQUAL(evb_store_connection_delete(p.b, "c1"), EVB_OK);
    CU_ASSERT_EQUAL(db_int(p.dir, "SELECT count(*) FROM deliveries"), 1);
    pair_close(&p);
}

static void test_schema_config_across_nodes(void)
{
    node_pair p;
    pair_open(&p, "pgmeta-cfg");
    uint64_t cg = evb_store_config_generation(p.b);
    uint64_t rg = evb_store_routing_generation(p.b);
    evb_schema_rec *r = NULL;
    CU_ASSERT_EQUAL(evb_store_schema_register(p.a, "sub", "{}", "h1", -1, &r, NULL), EVB_OK);
    evb_schema_rec_free(r);
    CU_ASSERT_TRUE(advances(p.b, evb_store_config_generation, cg));
    r = NULL;
    CU_ASSERT_EQUAL(evb_store_schema_get(p.b, "sub", 0, 0, &r), EVB_OK);
    if (r != NULL)
        CU_ASSERT_EQUAL(r->version, 1);
    evb_schema_rec_free(r);

    cg = evb_store_config_generation(p.b);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(p.a, "sub", 4, 0), EVB_OK);
    CU_ASSERT_TRUE(advances(p.b, evb_store_config_generation, cg));
    int lv = 0;
    CU_ASSERT_EQUAL(evb_store_subject_config_get(p.b, "sub", &lv, NULL), EVB_OK);
    CU_ASSERT_EQUAL(lv, 4);

    cg = evb_store_config_generation(p.b);
    evb_api_key k = {.key_id = "k1", .hash = "h", .role = "admin"};
    CU_ASSERT_EQUAL(evb_store_key_create(p.a, &k), EVB_OK);
    CU_ASSERT_TRUE(advances(p.b, evb_store_config_generation, cg));
    int64_t n = 0;
    CU_ASSERT_EQUAL(evb_store_key_count_admin(p.b, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 1);
    /* Configuration that is not routing leaves the routing generation alone. */
    CU_ASSERT_EQUAL(evb_store_routing_generation(p.b), rg);
    pair_close(&p);
}

/* ---- concurrent registrations ---- */

#define THREADS 4 /* per node */
#define PER_THREAD 6

typedef struct reg_arg {
    evb_store *s;
    int node, thread;
    int same; /* 1: everyone registers the same content */
    int32_t versions[PER_THREAD];
    int64_t ids[PER_THREAD];
    int created, errors;
} reg_arg;

static void *reg_main(void *p)
{
    reg_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        char schema[64], hash[64];
        if (a->same) {
            snprintf(schema, sizeof schema, "{\"type\":\"object\"}");
            snprintf(hash, sizeof hash, "same");
        } else {
            snprintf(schema, sizeof schema, "{\"title\":\"n%d-t%d-%d\"}", a->node, a->thread, i);
            snprintf(hash, sizeof hash, "h-%d-%d-%d", a->node, a->thread, i);
        }
        evb_schema_rec *r = NULL;
        int created = 0;
        if (evb_store_schema_register(a->s, "race", schema, hash, -1, &r, &created) != EVB_OK) {
            a->errors++;
            continue;
        }
        a->versions[i] = r->version;
        a->ids[i] = r->id;
        a->created += created;
        evb_schema_rec_free(r);
    }
    return NULL;
}

static void run_registrations(node_pair *p, int same, reg_arg *args)
{
    pthread_t th[2 * THREADS];
    for (int i = 0; i < 2 * THREADS; i++) {
        args[i] = (reg_arg){.s = i % 2 ? p->b : p->a, .node = i % 2, .thread = i, .same = same};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, reg_main, &args[i]), 0);
    }
    for (int i = 0; i < 2 * THREADS; i++)
        pthread_join(th[i], NULL);
}

static void test_concurrent_register_two_nodes(void)
{
    node_pair p;
    pair_open(&p, "pgmeta-race");
    reg_arg args[2 * THREADS];
    run_registrations(&p, 0, args);

    enum { N = 2 * THREADS * PER_THREAD };
    int seen[N + 1] = {0};
    int64_t ids[N];
    size_t n_ids = 0;
    for (int i = 0; i < 2 * THREADS; i++) {
        CU_ASSERT_EQUAL(args[i].errors, 0);
        CU_ASSERT_EQUAL(args[i].created, PER_THREAD);
        for (int j = 0; j < PER_THREAD; j++) {
            int32_t v = args[i].versions[j];
            CU_ASSERT_TRUE(v >= 1 && v <= N);
            if (v >= 1 && v <= N)
                seen[v]++;
            ids[n_ids++] = args[i].ids[j];
        }
    }
    for (int v = 1; v <= N; v++)
        CU_ASSERT_EQUAL(seen[v], 1); /* every version once: none shared, none skipped */
    for (size_t i = 0; i < n_ids; i++)
        for (size_t j = i + 1; j < n_ids; j++)
            CU_ASSERT_NOT_EQUAL(ids[i], ids[j]);
    evb_schema_rec **rs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(evb_store_schema_list(p.b, "race", 0, &rs, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, (size_t)N);
    evb_schema_rec_array_free(rs, n);
    pair_close(&p);
}

static void test_concurrent_identical_two_nodes(void)
{
    node_pair p;
    pair_open(&p, "pgmeta-same");
    reg_arg args[2 * THREADS];
    run_registrations(&p, 1, args);
    int created = 0;
    for (int i = 0; i < 2 * THREADS; i++) {
        CU_ASSERT_EQUAL(args[i].errors, 0);
        created += args[i].created;
        for (int j = 0; j < PER_THREAD; j++) {
            CU_ASSERT_EQUAL(args[i].versions[j], 1);
            CU_ASSERT_EQUAL(args[i].ids[j], args[0].ids[0]);
        }
    }
    CU_ASSERT_EQUAL(created, 1);
    pair_close(&p);
}

static const store_test TESTS[] = {
    {"routing across nodes", test_routing_across_nodes},
    {"resume wakes the other node", test_resume_wakes_other_node},
    {"schema, subject config and keys across nodes", test_schema_config_across_nodes},
    {"concurrent registrations on two nodes", test_concurrent_register_two_nodes},
    {"concurrent identical registrations on two nodes", test_concurrent_identical_two_nodes},
    {NULL, NULL},
};

int main(void)
{
    if (test_pg_url() == NULL) {
        printf("SKIPPED: EVB_TEST_PG_URL not set\n");
        return 0;
    }
    return run_suite("store_pg_meta", TESTS);
}
