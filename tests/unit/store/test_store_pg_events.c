/* evbridge — unit tests of the PostgreSQL event store across nodes (pg_events.c,
 * pg_deliveries.c): two stores opened on the same schema act as two evbridged nodes.
 *  - the same (connector, org, id) put through both at once: exactly one PUBLISHED and one
 *    DEDUPLICATED (the dedup window holds across nodes), also for whole submissions that
 *    take the same keys in opposite orders (a deadlock between the writers is retried);
 *  - what is put through one node is read through the other (event, listing, count,
 *    deliveries, filter trace, stats);
 *  - a delivery's HELD/PENDING state follows the connection's state committed by another
 *    session while the put runs, and its ordering key stays locked (shared) until the put
 *    commits; a PENDING delivery wakes the other node.
 * Without EVB_TEST_PG_URL the suite prints "SKIPPED: EVB_TEST_PG_URL not set" and passes.
 */
#define _XOPEN_SOURCE 700 /* strdup, nanosleep */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/store/store.h"
#include "server/store/store_routing.h"
#include "server/store/store_stats.h"
#include "tests/unit/store/store_test_util.h"

/* ---- helpers ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wall clock when the suite started: events are "received" just after it (far older
 * ones could be pruned by the store's retention). */
static int64_t t0_ms;

static int64_t at(int64_t offset_ms)
{
    return t0_ms + offset_ms;
}

static evb_event *make_event(const char *id, const char *org, int64_t recv_ms)
{
    evb_event *ev = calloc(1, sizeof *ev);
    ev->id = strdup(id);
    ev->source = strdup("/connectors/crm");
    ev->type = strdup("customer.changed");
    ev->org = org != NULL ? strdup(org) : NULL;
    ev->connector = strdup("crm");
    ev->time = strdup("2026-01-01T00:00:00Z");
    ev->time_ms = recv_ms - 5;
    ev->recv_ms = recv_ms;
    ev->data = (uint8_t *)strdup("{\"n\":1}");
    ev->data_len = 7;
    return ev;
}

/* Two nodes on one schema (dir names it); window_ms 0 = the default window. */
static void open_nodes(const char *dir, int64_t window_ms, evb_store **a, evb_store **b)
{
    *a = open_store_opts(dir, window_ms, 0);
    *b = open_store_opts(dir, window_ms, 0);
}

/* ---- dedup across nodes ---- */

/* A submission of one node, started together with the other node's. */
typedef struct racer {
    evb_store *s;
    evb_put_item *items;
    size_t n;
    pthread_barrier_t *start;
    evb_err err;
} racer;

static void *race_main(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->start);
    r->err = put_wait(r->s, r->items, r->n);
    return NULL;
}

/* Runs the submissions (a) through node sa and (b) through node sb at the same time. */
static void race(evb_store *sa, evb_put_item *a, size_t na, evb_store *sb, evb_put_item *b,
                 size_t nb)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    racer ra = {sa, a, na, &start, EVB_ERR_INTERNAL}, rb = {sb, b, nb, &start, EVB_ERR_INTERNAL};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race_main, &ra);
    pthread_create(&tb, NULL, race_main, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&start);
    CU_ASSERT_EQUAL(ra.err, EVB_OK);
    CU_ASSERT_EQUAL(rb.err, EVB_OK);
}

static void test_dedup_across_nodes(void)
{
    char *dir = tmpdir_new("pgev");
    evb_store *a, *b;
    open_nodes(dir, 0, &a, &b);

    /* one event, the same key through both nodes at once, many times */
    enum { ROUNDS = 30 };
    int published = 0;
    for (int i = 0; i < ROUNDS; i++) {
        char id[32];
        snprintf(id, sizeof id, "race-%d", i);
        evb_event *ea = make_event(id, "o", at(1000 + i)), *eb = make_event(id, "o", at(1000 + i));
        evb_put_item ia = {.ev = ea}, ib = {.ev = eb};
        race(a, &ia, 1, b, &ib, 1);
        int pub = (ia.status == EVB_PUT_PUBLISHED) + (ib.status == EVB_PUT_PUBLISHED);
        int dup = (ia.status == EVB_PUT_DEDUPLICATED) + (ib.status == EVB_PUT_DEDUPLICATED);
        CU_ASSERT_EQUAL(pub, 1);
        CU_ASSERT_EQUAL(dup, 1);
        evb_put_item *d = ia.status == EVB_PUT_DEDUPLICATED ? &ia : &ib;
        CU_ASSERT_STRING_EQUAL(d->first_id, id);
        CU_ASSERT_EQUAL(d->ev->seq, 0);
        published += pub;
        evb_event_free(ea);
        evb_event_free(eb);
    }
    int64_t n = -1;
    CU_ASSERT_EQUAL(evb_store_count_events(a, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, published);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM dedup_keys"), ROUNDS);

    /* whole submissions taking the same keys in opposite orders: every key is stored
     * once, whichever node wins it (the writers may deadlock; the loser reruns) */
    enum { K = 12 };
    evb_event *ea[K], *eb[K];
    evb_put_item ia[K], ib[K];
    for (int i = 0; i < K; i++) {
        char id[32];
        snprintf(id, sizeof id, "batch-%d", i);
        ea[i] = make_event(id, "o", at(2000 + i));
        ia[i] = (evb_put_item){.ev = ea[i]};
        snprintf(id, sizeof id, "batch-%d", K - 1 - i);
        eb[i] = make_event(id, "o", at(2000 + i));
        ib[i] = (evb_put_item){.ev = eb[i]};
    }
    race(a, ia, K, b, ib, K);
    for (int i = 0; i < K; i++) {
        evb_put_item *x = &ia[i], *y = &ib[K - 1 - i]; /* the same key */
        CU_ASSERT_STRING_EQUAL(x->ev->id, y->ev->id);
        CU_ASSERT_EQUAL((x->status == EVB_PUT_PUBLISHED) + (y->status == EVB_PUT_PUBLISHED), 1);
        CU_ASSERT_EQUAL((x->status == EVB_PUT_DEDUPLICATED) + (y->status == EVB_PUT_DEDUPLICATED),
                        1);
    }
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM events WHERE id LIKE 'batch-%'"), K);
    for (int i = 0; i < K; i++) {
        evb_event_free(ea[i]);
        evb_event_free(eb[i]);
    }
    evb_store_close(a);
    evb_store_close(b);
    tmpdir_free(dir);
}

/* After the window, a key put through one node is new to the other; expired keys go. */
static void test_window_across_nodes(void)
{
    char *dir = tmpdir_new("pgev");
    evb_store *a, *b;
    open_nodes(dir, 300, &a, &b);
    evb_event *e1 = make_event("w1", "o", at(10)), *e2 = make_event("w1", "o", at(20));
    evb_put_item i1 = {.ev = e1}, i2 = {.ev = e2};
    CU_ASSERT_EQUAL(put_wait(a, &i1, 1), EVB_OK);
    CU_ASSERT_EQUAL(i1.status, EVB_PUT_PUBLISHED);
    CU_ASSERT_EQUAL(put_wait(b, &i2, 1), EVB_OK);
    CU_ASSERT_EQUAL(i2.status, EVB_PUT_DEDUPLICATED);
    sleep_ms(400);
    CU_ASSERT_EQUAL(put_wait(b, &i2, 1), EVB_OK);
    CU_ASSERT_EQUAL(i2.status, EVB_PUT_PUBLISHED);
    CU_ASSERT_TRUE(e2->seq > e1->seq);
    int64_t left = -1;
    for (int i = 0; i < 60 && left != 0; i++) {
        sleep_ms(100);
        left = db_int(dir, "SELECT count(*) FROM dedup_keys");
    }
    CU_ASSERT_EQUAL(left, 0);
    evb_event_free(e1);
    evb_event_free(e2);
    evb_store_close(a);
    evb_store_close(b);
    tmpdir_free(dir);
}

/* ---- reads through the other node ---- */

static void test_reads_across_nodes(void)
{
    char *dir = tmpdir_new("pgev");
    evb_store *a, *b;
    open_nodes(dir, 0, &a, &b);
    CU_ASSERT_EQUAL(db_exec(dir, "INSERT INTO connections(id, org, name, connector, action, "
                                 "config, state, create_ms, update_ms) VALUES "
                                 "('c-on', 'acme', 'on', 'crm', 'hook', '{}', 1, 1, 1), "
                                 "('c-paused', 'acme', 'paused', 'crm', 'hook', '{}', 2, 1, 1)"),
                    0);

    evb_event *ev = make_event("r1", "acme", at(5000));
    ev->subject = strdup("cust-9");
    ev->n_ext = 1;
    ev->ext = calloc(1, sizeof *ev->ext);
    ev->ext[0] = (evb_ce_ext){strdup("traceparent"), strdup("00-ab-cd-01")};
    evb_delivery_new ds[] = {
        {.id = "r1-on", .connection_id = "c-on", .ordering_key = "cust-9"},
        {.id = "r1-paused", .connection_id = "c-paused"}, /* the stored state: HELD */
        {.id = "r1-gone", .connection_id = "gone", .held = 1, .strict = 1},
    };
    evb_put_item it = {.ev = ev, .deliveries = ds, .n_deliveries = 3, .filter_trace = "{\"m\":2}"};
    CU_ASSERT_EQUAL_FATAL(put_wait(a, &it, 1), EVB_OK);
    CU_ASSERT_EQUAL(it.status, EVB_PUT_PUBLISHED);

    evb_event *got = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_get_event(b, "r1", "acme", "crm", &got), EVB_OK);
    CU_ASSERT_EQUAL(got->seq, ev->seq);
    CU_ASSERT_STRING_EQUAL(got->subject, "cust-9");
    CU_ASSERT_EQUAL_FATAL(got->n_ext, 1);
    CU_ASSERT_STRING_EQUAL(got->ext[0].value, "00-ab-cd-01");
    CU_ASSERT_EQUAL_FATAL(got->data_len, 7);
    CU_ASSERT_EQUAL(memcmp(got->data, "{\"n\":1}", 7), 0);
    evb_event_free(got);

    evb_event_query q = {.org = "acme", .start_ms = INT64_MIN, .end_ms = INT64_MAX, .limit = 10};
    evb_event **evs = NULL;
    size_t n = 0;
    int64_t next = -1;
    CU_ASSERT_EQUAL(evb_store_list_events(b, &q, &evs, &n, &next), EVB_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(next, 0);
    evb_event_array_free(evs, n);
    int64_t count = -1;
    CU_ASSERT_EQUAL(evb_store_count_events(b, &count), EVB_OK);
    CU_ASSERT_EQUAL(count, 1);

    evb_delivery_rec **recs = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_list_for_event(b, ev->seq, &recs, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(recs[0]->id, "r1-on");
    CU_ASSERT_EQUAL(recs[0]->state, EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(recs[0]->next_ms, at(5000));
    CU_ASSERT_STRING_EQUAL(recs[0]->ordering_key, "cust-9");
    CU_ASSERT_STRING_EQUAL(recs[1]->id, "r1-paused");
    CU_ASSERT_EQUAL(recs[1]->state, EVB_DELIVERY_HELD);
    CU_ASSERT_STRING_EQUAL(recs[2]->id, "r1-gone");
    CU_ASSERT_EQUAL(recs[2]->state, EVB_DELIVERY_HELD);
    evb_delivery_rec_array_free(recs, n);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT strict FROM deliveries WHERE id = 'r1-gone'"), 1);
    CU_ASSERT_EQUAL(evb_store_delivery_list(b, "c-paused", EVB_DELIVERY_HELD, 10, &recs, &n),
                    EVB_OK);
    CU_ASSERT_EQUAL(n, 1);
    evb_delivery_rec_array_free(recs, n);

    char *trace = NULL;
    CU_ASSERT_EQUAL(evb_store_event_filter_trace(b, ev->seq, &trace), EVB_OK);
    CU_ASSERT_STRING_EQUAL(trace, "{\"m\":2}");
    free(trace);

    evb_delivery_stats st;
    CU_ASSERT_EQUAL(evb_store_delivery_stats(b, at(6000), &st), EVB_OK);
    CU_ASSERT_EQUAL(st.pending, 1);
    CU_ASSERT_EQUAL(st.held, 2);
    CU_ASSERT_EQUAL(st.in_flight, 0);
    CU_ASSERT_EQUAL(st.dead, 0);
    CU_ASSERT_EQUAL(st.oldest_due_ms, at(5000));
    CU_ASSERT_EQUAL(evb_store_delivery_stats(b, at(4000), &st), EVB_OK);
    CU_ASSERT_EQUAL(st.oldest_due_ms, 0); /* not due yet */

    evb_event_free(ev);
    evb_store_close(a);
    evb_store_close(b);
    tmpdir_free(dir);
}

/* ---- the connection's state at commit; waking the other node ---- */

typedef struct locker {
    const char *dir;
    int rc;
} locker;

/* Another session resumes connection p and keeps its row locked for a while. */
static void *resume_slowly(void *arg)
{
    locker *l = arg;
    l->rc = db_exec(l->dir, "BEGIN; UPDATE connections SET state = 1 WHERE id = 'p'; "
                            "SELECT pg_sleep(0.6); COMMIT");
    return NULL;
}

static atomic_int wakes;

static void wake_cb(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

static void test_state_at_commit_and_wake(void)
{
    char *dir = tmpdir_new("pgev");
    evb_store *a, *b;
    open_nodes(dir, 0, &a, &b);
    CU_ASSERT_EQUAL(db_exec(dir, "INSERT INTO connections(id, org, name, connector, action, "
                                 "config, state, create_ms, update_ms) VALUES "
                                 "('p', 'o', 'p', 'crm', 'hook', '{}', 2, 1, 1)"),
                    0);

    /* The resume commits while the put waits for the connection's row: the put sees it. */
    locker l = {dir, -1};
    pthread_t t;
    pthread_create(&t, NULL, resume_slowly, &l);
    sleep_ms(200); /* the other session holds the row */
    evb_event *ev = make_event("s1", "o", at(100));
    evb_delivery_new d = {.id = "s1-p", .connection_id = "p", .held = 1, .ordering_key = "k1"};
    evb_put_item it = {.ev = ev, .deliveries = &d, .n_deliveries = 1};
    int64_t t0 = mono_ms();
    waiter w;
    waiter_init(&w);
    CU_ASSERT_EQUAL_FATAL(evb_store_put_events(a, &it, 1, waiter_cb, &w), EVB_OK);
    /* Meanwhile the put holds its ordering key's lock shared (pg_dispatch_int.h), so no
     * claim of any node decides on that key before the put commits. */
    sleep_ms(150);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND mode = 'ShareLock' AND granted AND objsubid = 2 "
                                "AND classid = 74539 AND objid::bigint = (hashtext("
                                "current_schema() || chr(1) || 'p' || chr(1) || 'k1')::bigint "
                                "& 4294967295)"),
                    1);
    CU_ASSERT_EQUAL(waiter_wait(&w), EVB_OK);
    int64_t waited = mono_ms() - t0;
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(l.rc, 0);
    CU_ASSERT_TRUE(waited >= 200); /* it waited for the other session's commit */
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND classid = 74539"),
                    0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT state FROM deliveries WHERE id = 's1-p'"),
                    EVB_DELIVERY_PENDING);

    /* A PENDING delivery put through a wakes b (NOTIFY at commit). */
    atomic_store(&wakes, 0);
    evb_store_set_remote_wake(b, wake_cb, NULL);
    evb_event *ev2 = make_event("s2", "o", at(200));
    evb_delivery_new d2 = {.id = "s2-p", .connection_id = "p"};
    evb_put_item it2 = {.ev = ev2, .deliveries = &d2, .n_deliveries = 1};
    CU_ASSERT_EQUAL(put_wait(a, &it2, 1), EVB_OK);
    for (int i = 0; i < 50 && atomic_load(&wakes) == 0; i++)
        sleep_ms(50);
    CU_ASSERT_TRUE(atomic_load(&wakes) > 0);
    evb_store_set_remote_wake(b, NULL, NULL);

    /* A delivery id taken on one node fails a submission on the other as a whole. */
    evb_event *ev3 = make_event("s3", "o", at(300)), *ev4 = make_event("s4", "o", at(300));
    evb_delivery_new d3 = {.id = "s3-p", .connection_id = "p"};
    evb_put_item two[] = {{.ev = ev3, .deliveries = &d3, .n_deliveries = 1},
                          {.ev = ev4, .deliveries = &d2, .n_deliveries = 1}};
    CU_ASSERT_EQUAL(put_wait(b, two, 2), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(two[0].status, EVB_PUT_PENDING);
    CU_ASSERT_EQUAL(two[1].status, EVB_PUT_PENDING);
    CU_ASSERT_EQUAL(ev3->seq, 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM events"), 2);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM dedup_keys"), 2);

    evb_event_free(ev);
    evb_event_free(ev2);
    evb_event_free(ev3);
    evb_event_free(ev4);
    evb_store_close(a);
    evb_store_close(b);
    tmpdir_free(dir);
}

static const store_test tests[] = {
    {"dedup across nodes", test_dedup_across_nodes},
    {"dedup window across nodes", test_window_across_nodes},
    {"reads across nodes", test_reads_across_nodes},
    {"connection state at commit, wake", test_state_at_commit_and_wake},
    {NULL, NULL},
};

int main(void)
{
    if (test_pg_url() == NULL) {
        printf("SKIPPED: EVB_TEST_PG_URL not set\n");
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    t0_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return run_suite("store_pg_events", tests);
}
