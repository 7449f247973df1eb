/* evbridge — multi-node tests of the PostgreSQL outbox (server/store/pg_dispatch.c): two
 * stores opened on one schema act as two nodes.
 *  - a pool of 500 due deliveries claimed by both nodes at once: each is claimed exactly
 *    once (never by both), and all end DELIVERED with one attempt;
 *  - ordering keys: while both nodes claim and complete, at most one delivery of a key is
 *    LEASED at any time (checked in memory and by a watcher querying the table) and each
 *    key's deliveries go in create order — also while both nodes keep putting deliveries
 *    of the same keys;
 *  - a writer that holds a key (an insert not yet committed, holding the key lock as
 *    pg_dispatch_int.h requires) makes claims skip the key until it commits, so a newer
 *    delivery that committed first is not leased before the older one;
 *  - replay, give back and redrive through one node wake the other (NOTIFY at commit);
 *    replay creates deliveries as a put does (HELD for a paused connection, due at the
 *    event's receipt), all or nothing;
 *  - a node that dies with leases (a store closed without completing): its deliveries are
 *    claimable by the other node once the lease has expired, not before; release_leases
 *    leaves them alone; an ordering key's head stays the head.
 * Time is simulated (claims pass their own now) except in the put race. Without
 * EVB_TEST_PG_URL it prints "SKIPPED: EVB_TEST_PG_URL not set" and passes.
 */
#define _XOPEN_SOURCE 700 /* strdup */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timeutil.h"
#include "server/store/pg_dispatch_int.h"
#include "server/store/store.h"
#include "server/store/store_dispatch.h"
#include "server/store/store_routing.h"
#include "tests/unit/store/store_test_util.h"

#define POOL 500
#define LEASE 600000
#define DUE 1000
#define NOW 2000
#define KEYS 4
#define PER_KEY 30
#define FREE 30
#define DEADLINE_S 90

/* ---- helpers ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static time_t deadline(void)
{
    return time(NULL) + DEADLINE_S;
}

/* Puts n events, one delivery each: ids[i] on connection conn with keys[i] (NULL = none),
 * received at recv_ms; in submissions of up to 50 items. */
static void put_deliveries(evb_store *s, char *const *ids, const char *const *keys, size_t n,
                           const char *conn, int64_t recv_ms)
{
    enum { BATCH = 50 };
    evb_event evs[BATCH];
    evb_delivery_new ds[BATCH];
    evb_put_item its[BATCH];
    char ev_ids[BATCH][64];
    for (size_t from = 0; from < n; from += BATCH) {
        size_t m = n - from < BATCH ? n - from : BATCH;
        for (size_t i = 0; i < m; i++) {
            snprintf(ev_ids[i], sizeof ev_ids[i], "ev-%s", ids[from + i]);
            evs[i] = (evb_event){.id = ev_ids[i],
                                 .source = "/connectors/crm",
                                 .type = "customer.changed",
                                 .org = "o1",
                                 .connector = "crm",
                                 .time_ms = recv_ms,
                                 .recv_ms = recv_ms,
                                 .data = (uint8_t *)"{}",
                                 .data_len = 2};
            ds[i] = (evb_delivery_new){.id = ids[from + i],
                                       .connection_id = conn,
                                       .ordering_key = keys != NULL ? keys[from + i] : NULL};
            its[i] = (evb_put_item){.ev = &evs[i], .deliveries = &ds[i], .n_deliveries = 1};
        }
        CU_ASSERT_EQUAL_FATAL(put_wait(s, its, m), EVB_OK);
        for (size_t i = 0; i < m; i++)
            CU_ASSERT_EQUAL(its[i].status, EVB_PUT_PUBLISHED);
    }
}

static evb_err complete_delivered(evb_store *s, const evb_delivery_rec *d, int64_t now)
{
    evb_attempt a = {
        .attempt = d->attempts, .time_ms = now, .outcome = "DELIVERED", .http_status = 200};
    return evb_store_delivery_complete(s, d->id, &a, EVB_DELIVERY_DELIVERED, 0);
}

/* Counts asynchronous completions. */
typedef struct pending {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, failed;
} pending;

static void pending_cb(void *arg, evb_err err)
{
    pending *p = arg;
    pthread_mutex_lock(&p->mu);
    p->n--;
    if (err != EVB_OK)
        p->failed++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void pending_wait(pending *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->n > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* ---- a pool claimed by two nodes ---- */

typedef struct pool {
    pthread_mutex_t mu;
    pthread_barrier_t start;
    int claims[POOL]; /* times each delivery was claimed */
    int by[POOL];     /* the node that claimed it (1, 2) */
    int total;        /* claims so far */
    int errors;
} pool;

typedef struct node {
    evb_store *s;
    int id;
    int limit;
    int async; /* completes with delivery_complete_async */
    pool *p;
    pending done;
    int claimed;
} node;

static void *pool_node(void *arg)
{
    node *nd = arg;
    pool *p = nd->p;
    pthread_barrier_wait(&p->start);
    time_t until = deadline();
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int total = p->total;
        pthread_mutex_unlock(&p->mu);
        if (total >= POOL || time(NULL) > until)
            break;
        evb_claim *cs = NULL;
        size_t n = 0;
        if (evb_store_delivery_claim(nd->s, NOW, LEASE, nd->limit, NULL, 0, &cs, &n) != EVB_OK) {
            pthread_mutex_lock(&p->mu);
            p->errors++;
            pthread_mutex_unlock(&p->mu);
            break;
        }
        if (n == 0)
            sleep_ms(1); /* the rest are in the other node's claim right now */
        for (size_t i = 0; i < n; i++) {
            int ix = atoi(cs[i].delivery->id + 1);
            pthread_mutex_lock(&p->mu);
            if (ix >= 0 && ix < POOL) {
                p->claims[ix]++;
                p->by[ix] = nd->id;
            }
            p->total++;
            pthread_mutex_unlock(&p->mu);
            nd->claimed++;
            evb_err e;
            if (nd->async) {
                evb_attempt a = {.attempt = cs[i].delivery->attempts,
                                 .time_ms = NOW,
                                 .outcome = "DELIVERED",
                                 .http_status = 200};
                pthread_mutex_lock(&nd->done.mu);
                nd->done.n++;
                pthread_mutex_unlock(&nd->done.mu);
                e = evb_store_delivery_complete_async(nd->s, cs[i].delivery->id, &a,
                                                      EVB_DELIVERY_DELIVERED, 0, pending_cb,
                                                      &nd->done);
                if (e != EVB_OK)
                    pending_cb(&nd->done, e);
            } else {
                e = complete_delivered(nd->s, cs[i].delivery, NOW);
            }
            if (e != EVB_OK) {
                pthread_mutex_lock(&p->mu);
                p->errors++;
                pthread_mutex_unlock(&p->mu);
            }
        }
        evb_claim_array_free(cs, n);
    }
    pending_wait(&nd->done);
    return NULL;
}

static void test_pool_two_nodes(void)
{
    char *dir = tmpdir_new("pgdisp");
    evb_store *s1 = open_store(dir);
    evb_store *s2 = open_store(dir); /* the same schema: a second node */
    char *ids[POOL];
    for (int i = 0; i < POOL; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%03d", i);
        ids[i] = strdup(id);
    }
    put_deliveries(s1, ids, NULL, POOL / 2, "c1", DUE);
    put_deliveries(s2, ids + POOL / 2, NULL, POOL - POOL / 2, "c2", DUE);

    pool p = {.total = 0};
    pthread_mutex_init(&p.mu, NULL);
    pthread_barrier_init(&p.start, NULL, 2);
    node n1 = {.s = s1, .id = 1, .limit = 7, .async = 0, .p = &p};
    node n2 = {.s = s2, .id = 2, .limit = 5, .async = 1, .p = &p};
    pthread_mutex_init(&n2.done.mu, NULL);
    pthread_cond_init(&n2.done.cv, NULL);
    pthread_mutex_init(&n1.done.mu, NULL);
    pthread_cond_init(&n1.done.cv, NULL);
    pthread_t t1, t2;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t1, NULL, pool_node, &n1), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t2, NULL, pool_node, &n2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);

    printf("\n    node 1 claimed %d, node 2 claimed %d ", n1.claimed, n2.claimed);
    CU_ASSERT_EQUAL(p.errors, 0);
    CU_ASSERT_EQUAL(n2.done.failed, 0);
    CU_ASSERT_EQUAL(p.total, POOL);
    int once = 0;
    for (int i = 0; i < POOL; i++)
        once += p.claims[i] == 1;
    CU_ASSERT_EQUAL(once, POOL); /* each exactly once: never by both */
    CU_ASSERT_TRUE(n1.claimed > 0 && n2.claimed > 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries WHERE state = 3 AND attempts = 1"),
                    POOL);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM delivery_attempts"), POOL);
    int64_t due = 0;
    CU_ASSERT_EQUAL(evb_store_delivery_next_due(s2, &due), EVB_OK);
    CU_ASSERT_EQUAL(due, INT64_MAX);

    pthread_barrier_destroy(&p.start);
    pthread_mutex_destroy(&p.mu);
    pthread_mutex_destroy(&n1.done.mu);
    pthread_cond_destroy(&n1.done.cv);
    pthread_mutex_destroy(&n2.done.mu);
    pthread_cond_destroy(&n2.done.cv);
    for (int i = 0; i < POOL; i++)
        free(ids[i]);
    evb_store_close(s1);
    evb_store_close(s2);
    tmpdir_free(dir);
}

/* ---- ordering keys across two nodes ---- */

#define MAX_KEYED (2 * KEYS * PER_KEY + FREE)

typedef struct keyed {
    pthread_mutex_t mu;
    pthread_barrier_t start;
    const char *dir;
    int total;     /* deliveries that will exist */
    int delivered; /* completed so far */
    int inflight[KEYS];
    int overlaps; /* a key claimed while another of it was in flight */
    int errors;
    char *seq[KEYS][2 * PER_KEY]; /* each key's deliveries in the order they were claimed */
    int n_seq[KEYS];
    atomic_int stop;
    int watch_hits; /* the watcher saw two LEASED of one key */
    int watch_reads;
    int64_t now; /* 0: the wall clock */
} keyed;

typedef struct knode {
    evb_store *s;
    keyed *k;
    int limit;
} knode;

/* "k<key>-..." -> key, else -1. */
static int key_of(const char *id)
{
    return id[0] == 'k' ? id[1] - '0' : -1;
}

static void keyed_claimed(keyed *k, const evb_delivery_rec *d)
{
    int key = key_of(d->id);
    pthread_mutex_lock(&k->mu);
    if (key >= 0) {
        if (k->inflight[key] != 0)
            k->overlaps++;
        k->inflight[key]++;
        if (k->n_seq[key] < 2 * PER_KEY)
            k->seq[key][k->n_seq[key]++] = strdup(d->id);
    }
    pthread_mutex_unlock(&k->mu);
}

/* Before the completion commits: the delivery is still LEASED until then, so no other
 * delivery of its key can be claimed before this runs. */
static void keyed_completing(keyed *k, const evb_delivery_rec *d)
{
    int key = key_of(d->id);
    pthread_mutex_lock(&k->mu);
    if (key >= 0)
        k->inflight[key]--;
    pthread_mutex_unlock(&k->mu);
}

static void *keyed_node(void *arg)
{
    knode *nd = arg;
    keyed *k = nd->k;
    pthread_barrier_wait(&k->start);
    time_t until = deadline();
    for (;;) {
        pthread_mutex_lock(&k->mu);
        int done = k->delivered >= k->total;
        pthread_mutex_unlock(&k->mu);
        if (done || time(NULL) > until)
            break;
        evb_claim *cs = NULL;
        size_t n = 0;
        int64_t now = k->now != 0 ? k->now : evb_now_ms();
        if (evb_store_delivery_claim(nd->s, now, LEASE, nd->limit, NULL, 0, &cs, &n) != EVB_OK) {
            pthread_mutex_lock(&k->mu);
            k->errors++;
            pthread_mutex_unlock(&k->mu);
            break;
        }
        if (n == 0)
            sleep_ms(1);
        for (size_t i = 0; i < n; i++)
            keyed_claimed(k, cs[i].delivery);
        for (size_t i = 0; i < n; i++) {
            keyed_completing(k, cs[i].delivery);
            evb_err e = complete_delivered(nd->s, cs[i].delivery, now);
            pthread_mutex_lock(&k->mu);
            if (e == EVB_OK)
                k->delivered++;
            else
                k->errors++;
            pthread_mutex_unlock(&k->mu);
        }
        evb_claim_array_free(cs, n);
    }
    return NULL;
}

/* Polls the table: never two LEASED deliveries of one (connection, key). */
static void *keyed_watcher(void *arg)
{
    keyed *k = arg;
    while (!atomic_load(&k->stop)) {
        int64_t v = db_int(k->dir, "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE state = 2 "
                                   "AND ordering_key <> '' GROUP BY connection_id, ordering_key "
                                   "HAVING count(*) > 1) x");
        k->watch_reads++;
        if (v != 0)
            k->watch_hits++;
    }
    return NULL;
}

static void keyed_init(keyed *k, const char *dir, int total, int64_t now)
{
    memset(k, 0, sizeof *k);
    pthread_mutex_init(&k->mu, NULL);
    pthread_barrier_init(&k->start, NULL, 2);
    k->dir = dir;
    k->total = total;
    k->now = now;
    atomic_init(&k->stop, 0);
}

static void keyed_fini(keyed *k)
{
    for (int key = 0; key < KEYS; key++)
        for (int i = 0; i < k->n_seq[key]; i++)
            free(k->seq[key][i]);
    pthread_barrier_destroy(&k->start);
    pthread_mutex_destroy(&k->mu);
}

/* Runs both nodes (and the watcher) to the end; checks the invariants. */
static void keyed_run(keyed *k, evb_store *s1, evb_store *s2)
{
    knode n1 = {s1, k, 3}, n2 = {s2, k, 4};
    pthread_t t1, t2, w;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&w, NULL, keyed_watcher, k), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t1, NULL, keyed_node, &n1), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t2, NULL, keyed_node, &n2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    atomic_store(&k->stop, 1);
    pthread_join(w, NULL);
    printf("\n    %d delivered, watcher looked %d times ", k->delivered, k->watch_reads);
    CU_ASSERT_EQUAL(k->errors, 0);
    CU_ASSERT_EQUAL(k->delivered, k->total);
    CU_ASSERT_EQUAL(k->overlaps, 0);
    CU_ASSERT_EQUAL(k->watch_hits, 0);
    CU_ASSERT_TRUE(k->watch_reads > 0);
}

/* Each key was claimed in create (rid) order, each delivery once. */
static void keyed_check_order(keyed *k, const char *dir)
{
    for (int key = 0; key < KEYS; key++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM deliveries WHERE ordering_key = 'key%d'",
                 key);
        CU_ASSERT_EQUAL(k->n_seq[key], db_int(dir, sql));
        for (int i = 0; i < k->n_seq[key]; i++) {
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM deliveries WHERE ordering_key = 'key%d' AND rid < "
                     "(SELECT rid FROM deliveries WHERE id = '%s')",
                     key, k->seq[key][i]);
            CU_ASSERT_EQUAL(db_int(dir, sql), i);
        }
    }
}

static void test_keys_two_nodes(void)
{
    char *dir = tmpdir_new("pgdisp");
    evb_store *s1 = open_store(dir);
    evb_store *s2 = open_store(dir);
    int total = KEYS * PER_KEY + FREE;
    char *ids[KEYS * PER_KEY + FREE];
    const char *keys[KEYS * PER_KEY + FREE];
    static const char *const key_names[KEYS] = {"key0", "key1", "key2", "key3"};
    for (int i = 0; i < total; i++) { /* the keys interleaved, the free ones among them */
        char id[32];
        if (i % 5 == 4) {
            snprintf(id, sizeof id, "f%03d", i);
            keys[i] = NULL;
        } else {
            int key = i % KEYS;
            snprintf(id, sizeof id, "k%d-%03d", key, i);
            keys[i] = key_names[key];
        }
        ids[i] = strdup(id);
    }
    put_deliveries(s1, ids, keys, (size_t)total, "c1", DUE);
    keyed k;
    keyed_init(&k, dir, total, NOW);
    keyed_run(&k, s1, s2);
    keyed_check_order(&k, dir);
    keyed_fini(&k);
    for (int i = 0; i < total; i++)
        free(ids[i]);
    evb_store_close(s1);
    evb_store_close(s2);
    tmpdir_free(dir);
}

/* ---- ordering keys while both nodes put ---- */

typedef struct putter {
    evb_store *s;
    int node;
} putter;

static void *keyed_putter(void *arg)
{
    putter *pt = arg;
    static const char *const key_names[KEYS] = {"key0", "key1", "key2", "key3"};
    for (int round = 0; round < PER_KEY / 5; round++) {
        char *ids[KEYS * 5];
        const char *keys[KEYS * 5];
        for (int i = 0; i < KEYS * 5; i++) {
            char id[32];
            snprintf(id, sizeof id, "k%d-n%d-%03d", i % KEYS, pt->node, round * KEYS * 5 + i);
            ids[i] = strdup(id);
            keys[i] = key_names[i % KEYS];
        }
        put_deliveries(pt->s, ids, keys, (size_t)KEYS * 5, "c1", 0); /* due at the wall clock */
        for (int i = 0; i < KEYS * 5; i++)
            free(ids[i]);
    }
    return NULL;
}

static void test_keys_while_putting(void)
{
    char *dir = tmpdir_new("pgdisp");
    evb_store *s1 = open_store(dir);
    evb_store *s2 = open_store(dir);
    keyed k;
    keyed_init(&k, dir, 2 * KEYS * PER_KEY, 0);
    putter p1 = {s1, 1}, p2 = {s2, 2};
    pthread_t a, b;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&a, NULL, keyed_putter, &p1), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&b, NULL, keyed_putter, &p2), 0);
    keyed_run(&k, s1, s2);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    keyed_check_order(&k, dir);
    keyed_fini(&k);
    evb_store_close(s1);
    evb_store_close(s2);
    tmpdir_free(dir);
}

/* ---- a writer holding a key ---- */

/* A connection of our own on dir's schema (store_test_util.c: "t_" + the directory's base
 * name, lower-cased, '-' as '_'). */
static PGconn *raw_connect(const char *dir)
{
    char schema[96] = "t_", q[160];
    const char *b = strrchr(dir, '/');
    size_t n = strlen(schema);
    for (b = b != NULL ? b + 1 : dir; *b != '\0' && n + 1 < sizeof schema; b++)
        schema[n++] = (char)(*b == '-' ? '_' : tolower((unsigned char)*b));
    schema[n] = '\0';
    PGconn *c = PQconnectdb(test_pg_url());
    CU_ASSERT_EQUAL_FATAL(PQstatus(c), CONNECTION_OK);
    snprintf(q, sizeof q, "SET search_path TO %s", schema);
    PQclear(PQexec(c, q));
    return c;
}

static int raw_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Claims (skipping c9) at now; the ids joined with ',' into buf. */
static size_t claim_ids(evb_store *s, int64_t now, char *buf, size_t cap)
{
    const char *skip[] = {"c9"};
    evb_claim *cs = NULL;
    size_t n = 0;
    buf[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_claim(s, now, LEASE, 10, skip, 1, &cs, &n), EVB_OK);
    for (size_t i = 0; i < n; i++) {
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "," : "", cs[i].delivery->id);
        CU_ASSERT_EQUAL(complete_delivered(s, cs[i].delivery, now), EVB_OK);
    }
    evb_claim_array_free(cs, n);
    return n;
}

static void test_writer_holds_key(void)
{
    char *dir = tmpdir_new("pgdisp");
    evb_store *s = open_store(dir);
    char *x0[] = {"x0"};
    put_deliveries(s, x0, NULL, 1, "c9", DUE); /* an event for the raw insert */
    /* An insert of k1 in flight: the key locked shared first, as a put does. */
    PGconn *c = raw_connect(dir);
    CU_ASSERT_TRUE_FATAL(raw_ok(c, "BEGIN"));
    CU_ASSERT_TRUE_FATAL(raw_ok(
        c, "INSERT INTO deliveries(id, event_seq, event_id, connection_id, org, state, next_ms, "
           "ordering_key, create_ms, update_ms) SELECT 'k1', seq, id, 'c1', 'o1', 0, 1000, 'key', "
           "1000, 1000 FROM events WHERE id = 'ev-x0' AND " PG_KEY_LOCKED_SHARED("'c1'", "'key'")));
    /* k2 of the same key commits first, with a newer rid. */
    char *k2[] = {"k2"};
    const char *key[] = {"key"};
    put_deliveries(s, k2, key, 1, "c1", DUE);
    char buf[64];
    CU_ASSERT_EQUAL(claim_ids(s, NOW, buf, sizeof buf), 0); /* the key is busy: not k2 */
    CU_ASSERT_EQUAL(db_int(dir, "SELECT state FROM deliveries WHERE id = 'k2'"),
                    EVB_DELIVERY_PENDING);
    CU_ASSERT_TRUE(raw_ok(c, "COMMIT"));
    PQfinish(c);
    /* Now k1 is the head: it goes first (and is delivered), then k2. */
    CU_ASSERT_EQUAL(claim_ids(s, NOW, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "k1");
    CU_ASSERT_EQUAL(claim_ids(s, NOW, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "k2");
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- writes that make deliveries due wake the other node ---- */

static atomic_int wakes[2];

static void wake_cb(void *arg)
{
    atomic_fetch_add(&wakes[*(const int *)arg], 1);
}

/* Whether node n's wake hook ran (within 5 s) since the count was cleared. */
static int woken(int n)
{
    for (int i = 0; i < 500 && atomic_load(&wakes[n]) == 0; i++)
        sleep_ms(10);
    return atomic_load(&wakes[n]) > 0;
}

static void test_wakes(void)
{
    char *dir = tmpdir_new("pgdisp");
    evb_store *s1 = open_store(dir);
    evb_store *s2 = open_store(dir);
    static const int ix[2] = {0, 1};
    evb_store_set_remote_wake(s1, wake_cb, (void *)&ix[0]);
    evb_store_set_remote_wake(s2, wake_cb, (void *)&ix[1]);
    evb_connection_rec cp = {
        .id = "cp", .org = "o1", .name = "paused", .connector = "crm", .action = "a", .state = 2};
    CU_ASSERT_EQUAL_FATAL(evb_store_connection_create(s1, &cp), EVB_OK);
    char *r0[] = {"r0"};
    put_deliveries(s1, r0, NULL, 1, "c1", DUE);
    evb_event *ev = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_get_event(s2, "ev-r0", NULL, NULL, &ev), EVB_OK);

    /* Replay through node 1: a keyed delivery due at the event's receipt, a held one. */
    const evb_event *evs[2] = {ev, ev};
    evb_delivery_new ds[2] = {{.id = "r1", .connection_id = "c1", .ordering_key = "key"},
                              {.id = "r2", .connection_id = "cp"}};
    atomic_store(&wakes[1], 0);
    CU_ASSERT_EQUAL(evb_store_delivery_replay(s1, evs, ds, 2), EVB_OK);
    CU_ASSERT_TRUE(woken(1));
    CU_ASSERT_EQUAL(db_int(dir, "SELECT state FROM deliveries WHERE id = 'r1'"),
                    EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT next_ms FROM deliveries WHERE id = 'r1'"), DUE);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT state FROM deliveries WHERE id = 'r2'"), EVB_DELIVERY_HELD);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries WHERE event_seq = (SELECT seq "
                                "FROM events WHERE id = 'ev-r0') AND ordering_key = 'key'"),
                    1);
    /* A taken id: nothing of the call is written. */
    evb_delivery_new again[2] = {{.id = "r3", .connection_id = "c1"},
                                 {.id = "r1", .connection_id = "c1"}};
    CU_ASSERT_EQUAL(evb_store_delivery_replay(s1, evs, again, 2), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries"), 3);
    evb_delivery_new bad = {.id = NULL, .connection_id = "c1"};
    CU_ASSERT_EQUAL(evb_store_delivery_replay(s1, evs, &bad, 1), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_replay(s1, NULL, ds, 1), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_replay(s1, NULL, NULL, 0), EVB_OK);

    /* Node 2 claims both and gives r1 back: node 1 wakes; a stale give back changes nothing. */
    evb_claim *cs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_claim(s2, NOW, LEASE, 10, NULL, 0, &cs, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(cs[0].delivery->id, "r0");
    CU_ASSERT_STRING_EQUAL(cs[1].delivery->id, "r1");
    const char *back[] = {"r1"};
    int stale[] = {2}, att[] = {1};
    CU_ASSERT_EQUAL(evb_store_delivery_give_back(s2, back, stale, 1, NOW + 100), EVB_OK);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT state FROM deliveries WHERE id = 'r1'"),
                    EVB_DELIVERY_LEASED);
    atomic_store(&wakes[0], 0);
    CU_ASSERT_EQUAL(evb_store_delivery_give_back(s2, back, att, 1, NOW + 100), EVB_OK);
    CU_ASSERT_TRUE(woken(0));
    CU_ASSERT_EQUAL(db_int(dir, "SELECT state FROM deliveries WHERE id = 'r1'"),
                    EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT attempts FROM deliveries WHERE id = 'r1'"), 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT next_ms FROM deliveries WHERE id = 'r1'"), NOW + 100);
    CU_ASSERT_EQUAL(evb_store_delivery_give_back(s2, NULL, att, 1, NOW), EVB_ERR_INVALID);

    /* r0 dies on node 2; node 1 redrives it: node 2 wakes. */
    evb_attempt a = {.attempt = 1, .time_ms = NOW, .outcome = "DEAD", .http_status = 500};
    CU_ASSERT_EQUAL(evb_store_delivery_complete(s2, "r0", &a, EVB_DELIVERY_DEAD, 0), EVB_OK);
    evb_claim_array_free(cs, n);
    int64_t count = 0;
    atomic_store(&wakes[1], 0);
    CU_ASSERT_EQUAL(
        evb_store_dead_redrive(s1, "o1", "c1", NULL, 0, INT64_MIN, INT64_MAX, NOW, &count), EVB_OK);
    CU_ASSERT_EQUAL(count, 1);
    CU_ASSERT_TRUE(woken(1));
    evb_store_set_remote_wake(s1, NULL, NULL);
    evb_store_set_remote_wake(s2, NULL, NULL);
    evb_event_free(ev);
    evb_store_close(s1);
    evb_store_close(s2);
    tmpdir_free(dir);
}

/* ---- a node dies with leases ---- */

static void test_dead_node(void)
{
    char *dir = tmpdir_new("pgdisp");
    evb_store *s1 = open_store(dir);
    evb_store *s2 = open_store(dir);
    char *ids[4] = {strdup("a1"), strdup("a2"), strdup("k1"), strdup("k2")};
    const char *keys[4] = {NULL, NULL, "key", "key"};
    put_deliveries(s1, ids, keys, 4, "c1", DUE);

    /* Node 1 claims a1, a2 and k1 (k2 is behind k1), then dies without completing. */
    evb_claim *cs = NULL;
    size_t n = 0;
    const int64_t lease = 5000;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_claim(s1, NOW, lease, 10, NULL, 0, &cs, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 3);
    evb_claim_array_free(cs, n);
    evb_store_close(s1);

    /* Its leases are not released by the other node's start... */
    int64_t released = -1;
    CU_ASSERT_EQUAL(evb_store_delivery_release_leases(s2, NOW, &released), EVB_OK);
    CU_ASSERT_EQUAL(released, 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries WHERE state = 2"), 3);
    int64_t due = 0;
    CU_ASSERT_EQUAL(evb_store_delivery_next_due(s2, &due), EVB_OK);
    CU_ASSERT_EQUAL(due, NOW + lease);
    /* ...nor claimable before they expire... */
    CU_ASSERT_EQUAL(evb_store_delivery_claim(s2, NOW + lease - 1, LEASE, 10, NULL, 0, &cs, &n),
                    EVB_OK);
    CU_ASSERT_EQUAL(n, 0);
    /* ...then the other node takes them: the key's head first, not the next one. */
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_claim(s2, NOW + lease, LEASE, 10, NULL, 0, &cs, &n),
                          EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    char got[64] = "";
    for (size_t i = 0; i < n; i++) {
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "",
                 cs[i].delivery->id);
        CU_ASSERT_EQUAL(cs[i].delivery->attempts, 2);
        CU_ASSERT_PTR_NOT_NULL(cs[i].event);
    }
    CU_ASSERT_STRING_EQUAL(got, "a1,a2,k1");
    /* The dead node's attempt is stale; this node's completes and lets k2 go. */
    evb_attempt stale = {.attempt = 1, .time_ms = NOW, .outcome = "DELIVERED", .http_status = 200};
    CU_ASSERT_EQUAL(evb_store_delivery_complete(s2, "k1", &stale, EVB_DELIVERY_DELIVERED, 0),
                    EVB_ERR_PRECONDITION);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(complete_delivered(s2, cs[i].delivery, NOW + lease), EVB_OK);
    evb_claim_array_free(cs, n);
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_claim(s2, NOW + lease, LEASE, 10, NULL, 0, &cs, &n),
                          EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(cs[0].delivery->id, "k2");
    evb_claim_array_free(cs, n);
    for (int i = 0; i < 4; i++)
        free(ids[i]);
    evb_store_close(s2);
    tmpdir_free(dir);
}

static const store_test tests[] = {
    {"500 deliveries, two nodes: each claimed once", test_pool_two_nodes},
    {"ordering keys across two nodes", test_keys_two_nodes},
    {"ordering keys while both nodes put", test_keys_while_putting},
    {"a writer holding a key makes claims skip it", test_writer_holds_key},
    {"replay, give back and redrive wake the other node", test_wakes},
    {"a dead node's leases expire to the other", test_dead_node},
    {NULL, NULL},
};

int main(void)
{
    if (test_pg_url() == NULL) {
        printf("SKIPPED: EVB_TEST_PG_URL not set\n");
        return 0;
    }
    return run_suite("store_pg_dispatch", tests);
}
