/* evbridge — store retention (retention.h), on SQLite and, with EVB_TEST_PG_URL, on
 * PostgreSQL: old events go with their deliveries, attempts and traces once nothing of
 * theirs can still be delivered; pending ones stay; a store that keeps forever keeps all. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <time.h>

#include "common/timeutil.h"
#include "server/store/store.h"
#include "server/store/store_dispatch.h"
#include "server/store/store_routing.h"
#include "tests/unit/store/store_test_util.h"

/* Puts event ev_id received at recv_ms with a delivery did (NULL = none). */
static void put_old(evb_store *s, const char *ev_id, const char *did, int64_t recv_ms)
{
    evb_event ev = {.id = (char *)ev_id,
                    .source = "/connectors/crm",
                    .type = "customer.changed",
                    .org = "org-a",
                    .connector = "crm",
                    .time_ms = recv_ms,
                    .recv_ms = recv_ms,
                    .data = (uint8_t *)"{}",
                    .data_len = 2};
    evb_delivery_new dn = {.id = did, .connection_id = "conn-1"};
    evb_put_item it = {.ev = &ev,
                       .deliveries = did ? &dn : NULL,
                       .n_deliveries = did ? 1 : 0,
                       .filter_trace = "{\"matched\":[]}"};
    CU_ASSERT_EQUAL_FATAL(put_wait(s, &it, 1), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(it.status, EVB_PUT_PUBLISHED);
}

static int64_t count_events(evb_store *s)
{
    int64_t n = -1;
    CU_ASSERT_EQUAL(evb_store_count_events(s, &n), EVB_OK);
    return n;
}

/* Waits (up to 10 s) until the store holds `want` events; returns the count seen last. */
static int64_t wait_count(evb_store *s, int64_t want)
{
    int64_t n = count_events(s);
    for (int i = 0; i < 200 && n != want; i++) {
        nanosleep(&(struct timespec){0, 50000000L}, NULL);
        n = count_events(s);
    }
    return n;
}

static void test_prunes_old_done_events(void)
{
    char *dir = tmpdir_new("retention");
    evb_store_options o = {.retention_ms = 60000}; /* one minute */
    evb_store *s = open_store_with(dir, &o);
    int64_t now = evb_now_ms();
    int64_t old = now - 3600 * 1000;                /* an hour ago */
    put_old(s, "ev-pending", "d-pending", old);     /* still to deliver: kept */
    put_old(s, "ev-delivered", "d-delivered", old); /* delivered below: pruned */
    put_old(s, "ev-plain", NULL, old);              /* no delivery: pruned */
    put_old(s, "ev-new", "d-new", now);             /* recent: kept */

    /* Deliver d-delivered: claim everything due, complete that one, give the rest back. */
    evb_claim *cs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_claim(s, now, 30000, 10, NULL, 0, &cs, &n), EVB_OK);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        const evb_delivery_rec *d = cs[i].delivery;
        if (strcmp(d->id, "d-delivered") == 0) {
            evb_attempt a = {
                .attempt = d->attempts, .time_ms = now, .outcome = "DELIVERED", .http_status = 200};
            CU_ASSERT_EQUAL(evb_store_delivery_complete(s, d->id, &a, EVB_DELIVERY_DELIVERED, 0),
                            EVB_OK);
            found = 1;
        } else {
            const char *id = d->id;
            int att = d->attempts;
            CU_ASSERT_EQUAL(evb_store_delivery_give_back(s, &id, &att, 1, now), EVB_OK);
        }
    }
    evb_claim_array_free(cs, n);
    CU_ASSERT_TRUE(found);

    CU_ASSERT_EQUAL(wait_count(s, 2), 2);
    evb_event *ev = NULL;
    CU_ASSERT_EQUAL(evb_store_get_event(s, "ev-pending", NULL, NULL, &ev), EVB_OK);
    evb_event_free(ev);
    ev = NULL;
    CU_ASSERT_EQUAL(evb_store_get_event(s, "ev-new", NULL, NULL, &ev), EVB_OK);
    evb_event_free(ev);
    ev = NULL;
    CU_ASSERT_EQUAL(evb_store_get_event(s, "ev-delivered", NULL, NULL, &ev), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_store_get_event(s, "ev-plain", NULL, NULL, &ev), EVB_ERR_NOT_FOUND);
    /* The delivery, its attempt and the event's filter trace went with it. */
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries WHERE id = 'd-delivered'"), 0);
    CU_ASSERT_EQUAL(
        db_int(dir, "SELECT count(*) FROM delivery_attempts WHERE delivery_id = 'd-delivered'"), 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM event_filter"), 2);
    evb_store_close(s);
    tmpdir_free(dir);
}

static void test_keep_forever(void)
{
    char *dir = tmpdir_new("retention");
    evb_store_options o = {.retention_ms = -1};
    evb_store *s = open_store_with(dir, &o);
    int64_t old = evb_now_ms() - 400LL * 24 * 3600 * 1000; /* over a year ago */
    put_old(s, "ev-a", NULL, old);
    put_old(s, "ev-b", NULL, old);
    /* The background purge runs about once a second: give it two rounds. */
    nanosleep(&(struct timespec){2, 200000000L}, NULL);
    CU_ASSERT_EQUAL(count_events(s), 2);
    evb_store_close(s);
    tmpdir_free(dir);
}

int main(void)
{
    static const store_test tests[] = {
        {"old events without pending deliveries are pruned", test_prunes_old_done_events},
        {"retention < 0 keeps every event", test_keep_forever},
        {NULL, NULL},
    };
    printf("backend: %s\n", test_pg_url() != NULL ? "postgres" : "sqlite");
    return run_suite("store retention", tests);
}
