/* evbridge — unit tests for the dispatcher's store contract (server/store/store_dispatch.h):
 * claim with lease (due or not, lease expiry, skipped connections, HELD never, paused then
 * resumed), ordering keys (one in flight per key, next after DELIVERED or non-strict DEAD,
 * blocked after a strict DEAD until redriven, parking), complete (transitions, attempts,
 * stale leases), next_due, dead letters (paging, org isolation, events) and redrive (by
 * connection, ids, time range; other orgs untouched), asynchronous completions sharing a
 * writer batch (one stale among them), and migration step 4. Time is
 * simulated: deliveries are due at their event's recv_ms and claims pass their own now.
 * Each test works in its own mkdtemp directory, removed afterwards. */
#define _XOPEN_SOURCE 700 /* strdup */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/store.h"
#include "server/store/store_dispatch.h"
#include "server/store/store_int.h"
#include "server/store/store_routing.h"
#include "tests/unit/store/store_test_util.h"

#define LEASE 30000

/* ---- helpers ---- */

/* A column of one delivery (-1 when absent). */
static int64_t dcol(const char *dir, const char *id, const char *col)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM deliveries WHERE id = '%s'", col, id);
    return db_int(dir, sql);
}

/* One delivery to create with an event. */
typedef struct dspec {
    const char *id;
    const char *connection_id;
    const char *key; /* NULL = none */
    int strict;
} dspec;

/* Puts one event (id ev_id, org, due at recv_ms) with its deliveries. */
static void put_event(evb_store *s, const char *ev_id, const char *org, int64_t recv_ms,
                      const dspec *ds, size_t n)
{
    evb_event ev = {.id = (char *)ev_id,
                    .source = "/connectors/crm",
                    .type = "customer.changed",
                    .org = (char *)org,
                    .connector = "crm",
                    .subject = "cust-1",
                    .time_ms = recv_ms,
                    .recv_ms = recv_ms,
                    .data = (uint8_t *)"{\"n\":1}",
                    .data_len = 7};
    evb_delivery_new dn[8];
    CU_ASSERT_FATAL(n <= 8);
    for (size_t i = 0; i < n; i++)
        dn[i] = (evb_delivery_new){.id = ds[i].id,
                                   .connection_id = ds[i].connection_id,
                                   .ordering_key = ds[i].key,
                                   .strict = ds[i].strict};
    evb_put_item it = {.ev = &ev, .deliveries = dn, .n_deliveries = n};
    CU_ASSERT_EQUAL_FATAL(put_wait(s, &it, 1), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(it.status, EVB_PUT_PUBLISHED);
}

/* One event with one delivery. */
static void put1(evb_store *s, const char *did, const char *org, const char *conn, const char *key,
                 int strict, int64_t recv_ms)
{
    char ev_id[64];
    snprintf(ev_id, sizeof ev_id, "ev-%s", did);
    dspec d = {did, conn, key, strict};
    put_event(s, ev_id, org, recv_ms, &d, 1);
}

/* Claims; the claimed ids joined with ',' into buf; returns how many. Checks each claim's
 * event and lease. */
static size_t claim(evb_store *s, int64_t now, int limit, const char *const *skip, size_t n_skip,
                    char *buf, size_t cap)
{
    evb_claim *cs = NULL;
    size_t n = 99;
    buf[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_claim(s, now, LEASE, limit, skip, n_skip, &cs, &n),
                          EVB_OK);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(cs[i].delivery);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cs[i].event);
        CU_ASSERT_STRING_EQUAL(cs[i].event->id, cs[i].delivery->event_id);
        CU_ASSERT_EQUAL(cs[i].event->seq, cs[i].delivery->event_seq);
        CU_ASSERT_EQUAL(cs[i].event->data_len, 7);
        CU_ASSERT_EQUAL(cs[i].delivery->state, EVB_DELIVERY_LEASED);
        CU_ASSERT_EQUAL(cs[i].delivery->lease_ms, now + LEASE);
        CU_ASSERT_EQUAL(cs[i].delivery->update_ms, now);
        CU_ASSERT_TRUE(cs[i].delivery->attempts >= 1);
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "," : "", cs[i].delivery->id);
    }
    if (n == 0)
        CU_ASSERT_PTR_NULL(cs);
    evb_claim_array_free(cs, n);
    return n;
}

static evb_err complete(evb_store *s, const char *id, int attempt, int state, int64_t next_ms,
                        int64_t time_ms)
{
    static const char *const names[] = {"RETRY", "", "", "DELIVERED", "DEAD"};
    evb_attempt a = {.attempt = attempt,
                     .time_ms = time_ms,
                     .outcome = names[state],
                     .http_status = state == EVB_DELIVERY_DELIVERED ? 200 : 503,
                     .latency_ms = 5,
                     .error = state == EVB_DELIVERY_DELIVERED ? NULL : "upstream unavailable"};
    return evb_store_delivery_complete(s, id, &a, state, next_ms);
}

static int64_t next_due(evb_store *s)
{
    int64_t v = 0;
    CU_ASSERT_EQUAL(evb_store_delivery_next_due(s, &v), EVB_OK);
    return v;
}

/* ---- claim, lease, complete ---- */

static void test_claim_lease(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    CU_ASSERT_EQUAL(next_due(s), INT64_MAX);
    CU_ASSERT_EQUAL(claim(s, 5000, 10, NULL, 0, buf, sizeof buf), 0);

    put1(s, "d1", "o1", "c1", NULL, 0, 1000);
    put1(s, "d2", "o1", "c1", NULL, 0, 2000);
    put1(s, "d3", "o1", "c1", NULL, 0, 3000);
    put1(s, "d0", "o1", "c1", NULL, 0, 1500); /* created later, due earlier */
    CU_ASSERT_EQUAL(next_due(s), 1000);

    CU_ASSERT_EQUAL(claim(s, 500, 10, NULL, 0, buf, sizeof buf), 0); /* nothing due yet */
    CU_ASSERT_EQUAL(claim(s, 2500, 10, NULL, 0, buf, sizeof buf), 3);
    CU_ASSERT_STRING_EQUAL(buf, "d1,d0,d2"); /* (next_ms, create order) */
    CU_ASSERT_EQUAL(dcol(dir, "d1", "state"), EVB_DELIVERY_LEASED);
    CU_ASSERT_EQUAL(dcol(dir, "d1", "attempts"), 1);
    CU_ASSERT_EQUAL(dcol(dir, "d1", "lease_ms"), 2500 + LEASE);
    CU_ASSERT_EQUAL(dcol(dir, "d3", "state"), EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(claim(s, 2600, 10, NULL, 0, buf, sizeof buf), 0); /* leased, d3 not due */
    CU_ASSERT_EQUAL(next_due(s), 3000);
    CU_ASSERT_EQUAL(claim(s, 3000, 1, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "d3");
    CU_ASSERT_EQUAL(next_due(s), 2500 + LEASE);

    /* d0 is delivered; the others' leases expire and they are claimed again. */
    CU_ASSERT_EQUAL(complete(s, "d0", 1, EVB_DELIVERY_DELIVERED, 0, 2600), EVB_OK);
    CU_ASSERT_EQUAL(claim(s, 2500 + LEASE - 1, 10, NULL, 0, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(claim(s, 2500 + LEASE, 10, NULL, 0, buf, sizeof buf), 2);
    CU_ASSERT_STRING_EQUAL(buf, "d1,d2");
    CU_ASSERT_EQUAL(dcol(dir, "d1", "attempts"), 2);
    /* The first lease's completion is stale now. */
    CU_ASSERT_EQUAL(complete(s, "d1", 1, EVB_DELIVERY_DELIVERED, 0, 2600), EVB_ERR_PRECONDITION);
    CU_ASSERT_EQUAL(complete(s, "d1", 2, EVB_DELIVERY_DELIVERED, 0, 40000), EVB_OK);
    CU_ASSERT_EQUAL(complete(s, "d1", 2, EVB_DELIVERY_DELIVERED, 0, 40000), EVB_ERR_PRECONDITION);
    CU_ASSERT_EQUAL(complete(s, "nope", 1, EVB_DELIVERY_DELIVERED, 0, 1), EVB_ERR_PRECONDITION);
    CU_ASSERT_EQUAL(complete(s, "d2", 2, EVB_DELIVERY_HELD, 0, 1), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(complete(s, "d2", 2, EVB_DELIVERY_DELIVERED, 0, 40000), EVB_OK);
    CU_ASSERT_EQUAL(complete(s, "d3", 1, EVB_DELIVERY_DELIVERED, 0, 40000), EVB_OK);
    CU_ASSERT_EQUAL(dcol(dir, "d2", "state"), EVB_DELIVERY_DELIVERED);
    CU_ASSERT_EQUAL(dcol(dir, "d2", "update_ms"), 40005); /* end of the attempt */
    CU_ASSERT_EQUAL(next_due(s), INT64_MAX);
    CU_ASSERT_EQUAL(claim(s, INT64_MAX / 2, 10, NULL, 0, buf, sizeof buf), 0);

    /* Bad arguments. */
    evb_claim *cs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(evb_store_delivery_claim(s, 1, LEASE, 0, NULL, 0, &cs, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_claim(s, 1, LEASE, 1001, NULL, 0, &cs, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_claim(s, 1, 0, 1, NULL, 0, &cs, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_claim(s, 1, LEASE, 1, NULL, 2, &cs, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_claim(NULL, 1, LEASE, 1, NULL, 0, &cs, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_next_due(s, NULL), EVB_ERR_INVALID);
    evb_store_close(s);
    tmpdir_free(dir);
}

static void test_skip_connections(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    for (int i = 0; i < 6; i++) { /* c1's backlog comes first */
        char id[16];
        snprintf(id, sizeof id, "a%d", i);
        put1(s, id, "o1", "c1", NULL, 0, 1000 + i);
    }
    put1(s, "b0", "o1", "c2", NULL, 0, 2000);
    put1(s, "x0", "o1", "c3", NULL, 0, 2001);
    const char *skip[] = {"c1", "c3"};
    /* A skipped connection's backlog does not use up the bounded candidate scan. */
    CU_ASSERT_EQUAL(claim(s, 5000, 1, skip, 2, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "b0");
    CU_ASSERT_EQUAL(claim(s, 5000, 10, skip, 2, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(claim(s, 5000, 10, skip, 1, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "x0");
    CU_ASSERT_EQUAL(claim(s, 5000, 4, NULL, 0, buf, sizeof buf), 4);
    CU_ASSERT_STRING_EQUAL(buf, "a0,a1,a2,a3");
    /* Expired leases honour the skip list too. */
    CU_ASSERT_EQUAL(claim(s, 5000 + LEASE, 10, skip, 1, buf, sizeof buf), 2);
    CU_ASSERT_STRING_EQUAL(buf, "b0,x0");
    CU_ASSERT_EQUAL(claim(s, 5000 + LEASE, 10, NULL, 0, buf, sizeof buf), 6);
    CU_ASSERT_STRING_EQUAL(buf, "a0,a1,a2,a3,a4,a5"); /* expired leases and PENDING, in order */
    const char *bad[] = {"\xff"};
    evb_claim *cs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(evb_store_delivery_claim(s, 1, LEASE, 1, bad, 1, &cs, &n), EVB_ERR_INVALID);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- ordering keys ---- */

static void test_ordering(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    put1(s, "k1", "o1", "c1", "k", 0, 1000);
    put1(s, "k2", "o1", "c1", "k", 0, 1000);
    put1(s, "k3", "o1", "c1", "k", 0, 1000);
    put1(s, "j1", "o1", "c1", "j", 0, 1000);
    put1(s, "n1", "o1", "c1", NULL, 0, 1000);
    put1(s, "other", "o1", "c2", "k", 0, 1000); /* same key, other connection */
    put1(s, "j2", "o1", "c1", "j", 0, 1000);

    CU_ASSERT_EQUAL(claim(s, 2000, 10, NULL, 0, buf, sizeof buf), 4);
    CU_ASSERT_STRING_EQUAL(buf, "k1,j1,n1,other");
    /* The blocked ones are parked: not due again until their key moves (or 60 s). */
    CU_ASSERT_EQUAL(dcol(dir, "k2", "next_ms"), 2000 + 60000);
    CU_ASSERT_EQUAL(dcol(dir, "k2", "park_ms"), 1000);
    CU_ASSERT_EQUAL(next_due(s), 2000 + LEASE);
    CU_ASSERT_EQUAL(claim(s, 2100, 10, NULL, 0, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(complete(s, "n1", 1, EVB_DELIVERY_DELIVERED, 0, 2100), EVB_OK);
    CU_ASSERT_EQUAL(complete(s, "other", 1, EVB_DELIVERY_DELIVERED, 0, 2100), EVB_OK);
    CU_ASSERT_EQUAL(claim(s, 2100, 10, NULL, 0, buf, sizeof buf), 0); /* j2 still behind j1 */
    CU_ASSERT_EQUAL(complete(s, "j1", 1, EVB_DELIVERY_DELIVERED, 0, 2100), EVB_OK);
    CU_ASSERT_EQUAL(claim(s, 2100, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "j2");
    CU_ASSERT_EQUAL(complete(s, "j2", 1, EVB_DELIVERY_DELIVERED, 0, 2100), EVB_OK);

    /* DELIVERED: the next of the key goes (back at its due time). */
    CU_ASSERT_EQUAL(complete(s, "k1", 1, EVB_DELIVERY_DELIVERED, 0, 2100), EVB_OK);
    CU_ASSERT_EQUAL(dcol(dir, "k2", "next_ms"), 1000);
    CU_ASSERT_EQUAL(dcol(dir, "k3", "next_ms"), 2000 + 60000); /* still behind k2 */
    CU_ASSERT_EQUAL(claim(s, 2200, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "k2");
    CU_ASSERT_EQUAL(dcol(dir, "k2", "park_ms"), 0);
    /* A retry keeps its key: k3 waits for k2's next attempt. */
    CU_ASSERT_EQUAL(complete(s, "k2", 1, EVB_DELIVERY_PENDING, 2500, 2200), EVB_OK);
    CU_ASSERT_EQUAL(claim(s, 2400, 10, NULL, 0, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(claim(s, 2500, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "k2");
    /* DEAD without strict: the next goes. */
    CU_ASSERT_EQUAL(complete(s, "k2", 2, EVB_DELIVERY_DEAD, 0, 2500), EVB_OK);
    CU_ASSERT_EQUAL(claim(s, 2600, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "k3");
    /* An expired lease of the head: the head again (oldest first), not anything newer. */
    put1(s, "k4", "o1", "c1", "k", 0, 2600);
    CU_ASSERT_EQUAL(claim(s, 2600 + LEASE, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "k3");
    CU_ASSERT_EQUAL(dcol(dir, "k3", "attempts"), 2);
    CU_ASSERT_EQUAL(dcol(dir, "k4", "state"), EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(complete(s, "k3", 2, EVB_DELIVERY_DELIVERED, 0, 2600 + LEASE), EVB_OK);
    CU_ASSERT_EQUAL(claim(s, 2600 + LEASE, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "k4");
    evb_store_close(s);
    tmpdir_free(dir);
}

static void test_strict(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    put1(s, "s1", "o1", "c1", "k", 1, 1000);
    put1(s, "s2", "o1", "c1", "k", 1, 1000);
    put1(s, "s3", "o1", "c1", "k", 1, 1000);
    put1(s, "t1", "o1", "c1", "t", 1, 1000);
    CU_ASSERT_EQUAL(claim(s, 2000, 10, NULL, 0, buf, sizeof buf), 2);
    CU_ASSERT_STRING_EQUAL(buf, "s1,t1");
    CU_ASSERT_EQUAL(complete(s, "s1", 1, EVB_DELIVERY_DEAD, 0, 2000), EVB_OK);
    CU_ASSERT_EQUAL(complete(s, "t1", 1, EVB_DELIVERY_DELIVERED, 0, 2000), EVB_OK);
    /* s1 is dead and strict: its key stays blocked, however long we wait. */
    CU_ASSERT_EQUAL(claim(s, 3000, 10, NULL, 0, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(claim(s, 3000 + 10 * 60000, 10, NULL, 0, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(dcol(dir, "s2", "state"), EVB_DELIVERY_PENDING);
    CU_ASSERT_TRUE(next_due(s) > 3000 + 10 * 60000); /* parked: no busy polling */

    /* Redrive: s1 first again, then the rest in order. */
    const char *ids[] = {"s1"};
    int64_t count = 0;
    CU_ASSERT_EQUAL(
        evb_store_dead_redrive(s, "o1", NULL, ids, 1, INT64_MIN, INT64_MAX, 700000, &count),
        EVB_OK);
    CU_ASSERT_EQUAL(count, 1);
    CU_ASSERT_EQUAL(claim(s, 700000, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "s1");
    CU_ASSERT_EQUAL(dcol(dir, "s1", "attempts"), 1);
    CU_ASSERT_EQUAL(complete(s, "s1", 1, EVB_DELIVERY_DELIVERED, 0, 700000), EVB_OK);
    CU_ASSERT_EQUAL(claim(s, 700001, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "s2");

    /* Attempts of every round, oldest first. */
    evb_attempt_rec *as = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_attempts(s, "s1", &as, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(as[0].outcome, "DEAD");
    CU_ASSERT_EQUAL(as[0].attempt, 1);
    CU_ASSERT_EQUAL(as[0].http_status, 503);
    CU_ASSERT_STRING_EQUAL(as[0].error, "upstream unavailable");
    CU_ASSERT_STRING_EQUAL(as[1].outcome, "DELIVERED");
    CU_ASSERT_EQUAL(as[1].time_ms, 700000);
    CU_ASSERT_STRING_EQUAL(as[1].error, "");
    evb_attempt_rec_array_free(as, n);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- complete and attempts ---- */

static void test_complete_attempts(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    put1(s, "r1", "o1", "c1", NULL, 0, 1000);
    CU_ASSERT_EQUAL(claim(s, 1000, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_EQUAL(complete(s, "r1", 1, EVB_DELIVERY_PENDING, 5000, 1000), EVB_OK);
    CU_ASSERT_EQUAL(next_due(s), 5000);
    evb_delivery_rec **ds = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_list(s, "c1", -1, 10, &ds, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(ds[0]->state, EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(ds[0]->next_ms, 5000);
    CU_ASSERT_EQUAL(ds[0]->lease_ms, 0);
    CU_ASSERT_EQUAL(ds[0]->last_status, 503);
    CU_ASSERT_STRING_EQUAL(ds[0]->last_error, "upstream unavailable");
    evb_delivery_rec_array_free(ds, n);
    CU_ASSERT_EQUAL(complete(s, "r1", 1, EVB_DELIVERY_DELIVERED, 0, 1000), EVB_ERR_PRECONDITION);
    CU_ASSERT_EQUAL(claim(s, 4999, 10, NULL, 0, buf, sizeof buf), 0);
    CU_ASSERT_EQUAL(claim(s, 5000, 10, NULL, 0, buf, sizeof buf), 1);
    /* A robot errcode without HTTP status becomes last_status. */
    evb_attempt a = {.attempt = 2, .time_ms = 5000, .outcome = "DELIVERED", .errcode = 7};
    CU_ASSERT_EQUAL(evb_store_delivery_complete(s, "r1", &a, EVB_DELIVERY_DELIVERED, 0), EVB_OK);
    CU_ASSERT_EQUAL(dcol(dir, "r1", "last_status"), 7);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM delivery_attempts WHERE delivery_id = 'r1'"),
                    2);
    evb_attempt_rec *as = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_attempts(s, "r1", &as, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(as[0].outcome, "RETRY");
    CU_ASSERT_EQUAL(as[0].latency_ms, 5);
    CU_ASSERT_EQUAL(as[1].attempt, 2);
    CU_ASSERT_EQUAL(as[1].errcode, 7);
    evb_attempt_rec_array_free(as, n);
    CU_ASSERT_EQUAL(evb_store_delivery_attempts(s, "none", &as, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(as);
    a.outcome = NULL;
    CU_ASSERT_EQUAL(evb_store_delivery_complete(s, "r1", &a, EVB_DELIVERY_DELIVERED, 0),
                    EVB_ERR_INVALID);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- held, paused, resumed ---- */

static void test_held(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    evb_connection_rec c = {
        .id = "cp", .org = "o1", .name = "paused", .connector = "crm", .action = "a", .state = 2};
    CU_ASSERT_EQUAL_FATAL(evb_store_connection_create(s, &c), EVB_OK);
    put1(s, "h1", "o1", "cp", NULL, 0, 1000); /* the stored state wins: HELD */
    put_event(s, "ev-h2", "o1", 1000, &(dspec){"h2", "nowhere", NULL, 0}, 1);
    CU_ASSERT_EQUAL(dcol(dir, "h1", "state"), EVB_DELIVERY_HELD);
    CU_ASSERT_EQUAL(claim(s, 2000, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "h2");
    CU_ASSERT_EQUAL(claim(s, INT64_MAX / 2, 10, NULL, 0, buf, sizeof buf), 1); /* h2's lease */
    CU_ASSERT_STRING_EQUAL(buf, "h2");
    CU_ASSERT_EQUAL(complete(s, "h2", 2, EVB_DELIVERY_DELIVERED, 0, 3000), EVB_OK);
    CU_ASSERT_EQUAL(next_due(s), INT64_MAX); /* HELD is never due */

    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "cp", 1, NULL), EVB_OK);
    int64_t due = next_due(s); /* released: due at the resume (wall clock) */
    CU_ASSERT_TRUE(due > 1000 && due < INT64_MAX);
    CU_ASSERT_EQUAL(claim(s, due, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "h1");
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- dead letters ---- */

/* Claims everything due at now and completes it DEAD, dying at died_ms + 5. */
static void kill_all(evb_store *s, int64_t now, int64_t died_ms)
{
    evb_claim *cs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_claim(s, now, LEASE, 1000, NULL, 0, &cs, &n), EVB_OK);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(complete(s, cs[i].delivery->id, cs[i].delivery->attempts, EVB_DELIVERY_DEAD,
                                 0, died_ms),
                        EVB_OK);
    evb_claim_array_free(cs, n);
}

/* Lists all pages of size `page`; ids joined with ',' into buf; returns the number of pages. */
static int dead_pages(evb_store *s, const char *org, const char *conn, int page, char *buf,
                      size_t cap)
{
    char *token = strdup("");
    int pages = 0;
    buf[0] = '\0';
    for (;;) {
        evb_claim *cs = NULL;
        size_t n = 0;
        char *next = NULL;
        CU_ASSERT_EQUAL_FATAL(evb_store_dead_list(s, org, conn, page, token, &cs, &n, &next),
                              EVB_OK);
        pages++;
        for (size_t i = 0; i < n; i++) {
            CU_ASSERT_EQUAL(cs[i].delivery->state, EVB_DELIVERY_DEAD);
            CU_ASSERT_STRING_EQUAL(cs[i].delivery->org, org);
            CU_ASSERT_PTR_NOT_NULL_FATAL(cs[i].event);
            CU_ASSERT_STRING_EQUAL(cs[i].event->id, cs[i].delivery->event_id);
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? "," : "",
                     cs[i].delivery->id);
        }
        evb_claim_array_free(cs, n);
        free(token);
        token = next;
        CU_ASSERT_PTR_NOT_NULL_FATAL(token);
        if (token[0] == '\0' || pages > 50)
            break;
    }
    free(token);
    return pages;
}

static void test_dead_letters(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    /* Org A: a1, a2 die at 10005; a3 (c2) at 20005; a4 at 30005. Org B: b1 at 20005. */
    put1(s, "a1", "A", "c1", NULL, 0, 1000);
    put1(s, "a2", "A", "c1", NULL, 0, 1000);
    kill_all(s, 1000, 10000);
    put1(s, "a3", "A", "c2", NULL, 0, 2000);
    put1(s, "b1", "B", "cb", NULL, 0, 2000);
    kill_all(s, 2000, 20000);
    put1(s, "a4", "A", "c1", NULL, 0, 3000);
    kill_all(s, 3000, 30000);
    put1(s, "alive", "A", "c1", NULL, 0, 3000);

    CU_ASSERT_EQUAL(dead_pages(s, "A", NULL, 2, buf, sizeof buf), 2);
    CU_ASSERT_STRING_EQUAL(buf, "a4,a3,a2,a1"); /* newest first, then id descending */
    CU_ASSERT_EQUAL(dead_pages(s, "A", NULL, 1, buf, sizeof buf), 4);
    CU_ASSERT_STRING_EQUAL(buf, "a4,a3,a2,a1");
    CU_ASSERT_EQUAL(dead_pages(s, "A", NULL, 4, buf, sizeof buf), 1);
    CU_ASSERT_EQUAL(dead_pages(s, "A", "c1", 10, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "a4,a2,a1");
    CU_ASSERT_EQUAL(dead_pages(s, "B", NULL, 10, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "b1");
    dead_pages(s, "A", "cb", 10, buf, sizeof buf); /* B's connection, seen as A: nothing */
    CU_ASSERT_STRING_EQUAL(buf, "");
    dead_pages(s, "C", NULL, 10, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "");

    evb_claim *cs = NULL;
    size_t n = 0;
    char *next = NULL;
    CU_ASSERT_EQUAL(evb_store_dead_list(s, "A", NULL, 10, "garbage", &cs, &n, &next),
                    EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_dead_list(s, "A", NULL, 0, "", &cs, &n, &next), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_dead_list(s, NULL, NULL, 10, "", &cs, &n, &next), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_dead_list(s, "A", NULL, 10, NULL, &cs, &n, &next), EVB_OK);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_STRING_EQUAL(next, "");
    CU_ASSERT_EQUAL(cs[0].delivery->update_ms, 30005);
    CU_ASSERT_EQUAL(cs[0].delivery->last_status, 503);
    evb_claim_array_free(cs, n);
    free(next);
    evb_store_close(s);
    tmpdir_free(dir);
}

static void test_redrive(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    put1(s, "a1", "A", "c1", NULL, 0, 1000);
    put1(s, "a2", "A", "c1", NULL, 0, 1000);
    put1(s, "a3", "A", "c2", NULL, 0, 1000);
    put1(s, "b1", "B", "c1", NULL, 0, 1000); /* another org, same connection id */
    kill_all(s, 1000, 10000);
    put1(s, "a4", "A", "c1", NULL, 0, 2000);
    put1(s, "b2", "B", "cb", NULL, 0, 2000);
    kill_all(s, 2000, 20000);
    int64_t count = -1;

    /* By time range on the time they died: [10000, 20000) holds a1, a2, a3 of A. */
    CU_ASSERT_EQUAL(evb_store_dead_redrive(s, "A", "c1", NULL, 0, 10000, 20000, 50000, &count),
                    EVB_OK);
    CU_ASSERT_EQUAL(count, 2);
    CU_ASSERT_EQUAL(dcol(dir, "a1", "state"), EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(dcol(dir, "a1", "attempts"), 0);
    CU_ASSERT_EQUAL(dcol(dir, "a1", "next_ms"), 50000);
    CU_ASSERT_EQUAL(dcol(dir, "a1", "update_ms"), 50000);
    CU_ASSERT_EQUAL(dcol(dir, "a4", "state"), EVB_DELIVERY_DEAD); /* died at 20005 */
    CU_ASSERT_EQUAL(dcol(dir, "b1", "state"), EVB_DELIVERY_DEAD); /* other org */
    CU_ASSERT_EQUAL(dcol(dir, "a3", "state"), EVB_DELIVERY_DEAD); /* other connection */
    CU_ASSERT_EQUAL(claim(s, 50000, 10, NULL, 0, buf, sizeof buf), 2);
    CU_ASSERT_STRING_EQUAL(buf, "a1,a2");
    CU_ASSERT_EQUAL(dcol(dir, "a1", "attempts"), 1);

    /* By ids: other orgs' ids and ids that are not DEAD are ignored. */
    const char *ids[] = {"a3", "b2", "a1", "missing"};
    CU_ASSERT_EQUAL(
        evb_store_dead_redrive(s, "A", NULL, ids, 4, INT64_MIN, INT64_MAX, 60000, &count), EVB_OK);
    CU_ASSERT_EQUAL(count, 1);
    CU_ASSERT_EQUAL(dcol(dir, "a3", "state"), EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(dcol(dir, "b2", "state"), EVB_DELIVERY_DEAD);
    CU_ASSERT_EQUAL(dcol(dir, "a1", "state"), EVB_DELIVERY_LEASED);
    /* Ids within a connection: a4 is c1's, not c2's. */
    const char *ids2[] = {"a4"};
    CU_ASSERT_EQUAL(
        evb_store_dead_redrive(s, "A", "c2", ids2, 1, INT64_MIN, INT64_MAX, 60000, &count), EVB_OK);
    CU_ASSERT_EQUAL(count, 0);

    /* A whole connection, unbounded. */
    CU_ASSERT_EQUAL(
        evb_store_dead_redrive(s, "A", "c1", NULL, 0, INT64_MIN, INT64_MAX, 70000, &count), EVB_OK);
    CU_ASSERT_EQUAL(count, 1);
    CU_ASSERT_EQUAL(dcol(dir, "a4", "state"), EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(dcol(dir, "b1", "state"), EVB_DELIVERY_DEAD);
    CU_ASSERT_EQUAL(
        evb_store_dead_redrive(s, "B", "c1", NULL, 0, INT64_MIN, INT64_MAX, 70000, &count), EVB_OK);
    CU_ASSERT_EQUAL(count, 1);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries WHERE state = 4"), 1); /* b2 */

    CU_ASSERT_EQUAL(evb_store_dead_redrive(s, "A", NULL, NULL, 0, INT64_MIN, INT64_MAX, 1, &count),
                    EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_dead_redrive(s, NULL, "c1", NULL, 0, INT64_MIN, INT64_MAX, 1, &count),
                    EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_dead_redrive(s, "A", "c1", NULL, 3, INT64_MIN, INT64_MAX, 1, &count),
                    EVB_ERR_INVALID);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- a longer backlog: parking keeps claims moving ---- */

static void test_backlog(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[4096];
    /* 40 deliveries of one key come first, then 5 without a key. */
    for (int i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof id, "k%02d", i);
        put1(s, id, "o1", "c1", "hot", 0, 1000 + i);
    }
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "f%d", i);
        put1(s, id, "o1", "c1", NULL, 0, 2000 + i);
    }
    /* limit 2 scans 8 candidates: k00 and 7 parked; the next calls reach the free ones. */
    CU_ASSERT_EQUAL(claim(s, 5000, 2, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "k00");
    size_t got = 0;
    for (int i = 0; i < 10 && got < 5; i++)
        got += claim(s, 5000, 2, NULL, 0, buf, sizeof buf);
    CU_ASSERT_EQUAL(got, 5);
    /* The key drains in order as each head is delivered. */
    char want[16];
    for (int i = 0; i < 40; i++) {
        snprintf(want, sizeof want, "k%02d", i);
        if (i > 0) {
            CU_ASSERT_EQUAL(claim(s, 6000, 10, NULL, 0, buf, sizeof buf), 1);
            CU_ASSERT_STRING_EQUAL(buf, want);
        }
        CU_ASSERT_EQUAL(complete(s, want, 1, EVB_DELIVERY_DELIVERED, 0, 6000), EVB_OK);
    }
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries WHERE state = 3"), 40);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- asynchronous completions in one batch ---- */

static evb_event *gate_event(void)
{
    evb_event *ev = calloc(1, sizeof *ev);
    ev->id = strdup("gate");
    ev->source = strdup("/connectors/crm");
    ev->type = strdup("customer.changed");
    ev->org = strdup("gate");
    ev->connector = strdup("crm");
    ev->time_ms = ev->recv_ms = 1;
    return ev;
}

/* Completions queued together run in one writer batch (PostgreSQL: in one statement); a
 * stale one among them fails alone, the others commit, and a key they unblock is put back
 * (its parked next delivery is claimable at once). */
static void test_async_batch(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    char buf[512];
    put1(s, "a1", "o1", "c1", NULL, 0, 1000);
    put1(s, "a2", "o1", "c1", NULL, 0, 1001);
    put1(s, "a3", "o1", "c1", NULL, 0, 1002);
    put1(s, "b1", "o1", "c1", "k", 0, 1003);
    put1(s, "b2", "o1", "c1", "k", 0, 1004);
    CU_ASSERT_EQUAL(claim(s, 2000, 10, NULL, 0, buf, sizeof buf), 4);
    CU_ASSERT_STRING_EQUAL(buf, "a1,a2,a3,b1"); /* b2 parked behind b1 */
    CU_ASSERT_EQUAL(dcol(dir, "b2", "next_ms"), 2000 + 60000);
    static const char *const ids[] = {"a1", "a2", "a3", "b1"};
    static const int attempts[] = {1, 7, 1, 1}; /* a2: not its lease */
    static const evb_err want[] = {EVB_OK, EVB_ERR_PRECONDITION, EVB_OK, EVB_OK};
    waiter w[4];
    gate g;
    gate_close(s, &g, gate_event());
    for (int i = 0; i < 4; i++) {
        evb_attempt a = {.attempt = attempts[i], .time_ms = 2100, .outcome = "DELIVERED",
                         .http_status = 200, .latency_ms = 3};
        waiter_init(&w[i]);
        CU_ASSERT_EQUAL_FATAL(evb_store_delivery_complete_async(s, ids[i], &a,
                                                                EVB_DELIVERY_DELIVERED, 0,
                                                                waiter_cb, &w[i]),
                              EVB_OK);
    }
    gate_open(&g);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(waiter_wait(&w[i]), want[i]);
    gate_fini(&g);
    for (int i = 0; i < 4; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT count(*) FROM delivery_attempts WHERE delivery_id = '%s'",
                 ids[i]);
        CU_ASSERT_EQUAL(db_int(dir, q), i == 1 ? 0 : 1);
        CU_ASSERT_EQUAL(dcol(dir, ids[i], "state"),
                        i == 1 ? EVB_DELIVERY_LEASED : EVB_DELIVERY_DELIVERED);
    }
    CU_ASSERT_EQUAL(dcol(dir, "a3", "update_ms"), 2103);
    CU_ASSERT_EQUAL(dcol(dir, "b2", "next_ms"), 1004); /* unparked */
    CU_ASSERT_EQUAL(claim(s, 2200, 10, NULL, 0, buf, sizeof buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "b2");
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- migration step 4 ---- */

static void test_migration(void)
{
    char *dir = tmpdir_new("dispatch");
    evb_store *s = open_store(dir);
    put1(s, "m1", "o1", "c1", "k", 1, 1000);
    evb_store_close(s);
    char q_step[128];
    snprintf(q_step, sizeof q_step, "SELECT count(*) FROM schema_version WHERE version = %d",
             test_step(4));
    CU_ASSERT_EQUAL(db_int(dir, q_step), 1);
    CU_ASSERT_EQUAL(dcol(dir, "m1", "strict"), 1);
    CU_ASSERT_EQUAL(db_index_count(dir, "'dispatch_leases', 'dispatch_heads', 'dead_by_org', "
                                        "'dead_by_connection', 'delivery_attempts_by_delivery'"),
                    5);
    s = open_store(dir); /* reopen: not applied again, data kept */
    char buf[64];
    CU_ASSERT_EQUAL(claim(s, 1000, 1, NULL, 0, buf, sizeof buf), 1);
    evb_store_close(s);
    CU_ASSERT_EQUAL(db_int(dir, q_step), 1);
    tmpdir_free(dir);
}

static const store_test tests[] = {
    {"claim, lease expiry, complete", test_claim_lease},
    {"skip connections", test_skip_connections},
    {"ordering keys", test_ordering},
    {"strict ordering and redrive", test_strict},
    {"complete and attempts", test_complete_attempts},
    {"held, paused, resumed", test_held},
    {"dead letters", test_dead_letters},
    {"redrive", test_redrive},
    {"backlog behind one key", test_backlog},
    {"asynchronous completions in one batch", test_async_batch},
    {"migration", test_migration},
    {NULL, NULL},
};

int main(void)
{
    return run_suite("store_dispatch", tests);
}
