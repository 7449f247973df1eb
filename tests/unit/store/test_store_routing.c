/* evbridge — unit tests for the routing storage (server/store/store_routing.h and the
 * deliveries of evb_put_item): actions, connections, the routing generation, deliveries
 * and filter traces created with their event (never for duplicates, never without their
 * event), pause/resume, connection delete, group commit with many deliveries, and
 * migration step 3 on new and pre-existing databases. Each test works in its own mkdtemp
 * directory, removed afterwards. */
#define _XOPEN_SOURCE 700 /* strdup */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/store.h"
#include "server/store/store_int.h"
#include "server/store/store_routing.h"
#include "tests/unit/store/store_test_util.h"

/* ---- helpers ---- */

static evb_event *make_event(const char *id, const char *org, int64_t recv_ms)
{
    evb_event *ev = calloc(1, sizeof *ev);
    ev->id = strdup(id);
    ev->source = strdup("/connectors/crm");
    ev->type = strdup("customer.changed");
    ev->org = org != NULL ? strdup(org) : NULL;
    ev->connector = strdup("crm");
    ev->subject = strdup("cust-1");
    ev->time = strdup("2026-01-01T00:00:00Z");
    ev->time_ms = recv_ms - 5;
    ev->recv_ms = recv_ms;
    ev->data = (uint8_t *)strdup("{}");
    ev->data_len = 2;
    return ev;
}

static evb_err action_add(evb_store *s, const char *name, const char *isv, const char *org)
{
    evb_action_rec a = {.name = (char *)name,
                        .isv = (char *)isv,
                        .org = (char *)org,
                        .kind = 1,
                        .config = "{\"url\":\"https://example.com/hook\",\"secret\":\"s\"}"};
    return evb_store_action_create(s, &a);
}

static evb_err conn_add(evb_store *s, const char *id, const char *org, const char *name,
                        const char *connector, const char *action, int state)
{
    evb_connection_rec c = {.id = (char *)id,
                            .org = (char *)org,
                            .name = (char *)name,
                            .connector = (char *)connector,
                            .action = (char *)action,
                            .config = "{\"types\":[\"customer.changed\"]}",
                            .state = state};
    return evb_store_connection_create(s, &c);
}

/* The names of a list joined with ',' into buf. */
static void action_names(evb_store *s, const char *isv, const char *org, char *buf, size_t cap)
{
    evb_action_rec **as = NULL;
    size_t n = 99;
    buf[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(evb_store_action_list(s, isv, org, &as, &n), EVB_OK);
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "," : "", as[i]->name);
    if (n == 0)
        CU_ASSERT_PTR_NULL(as);
    evb_action_rec_array_free(as, n);
}

/* "org/name" of each connection joined with ',' into buf (all = connection_all, by id). */
static void conn_names(evb_store *s, int all, const char *org, const char *connector, char *buf,
                       size_t cap)
{
    evb_connection_rec **cs = NULL;
    size_t n = 99;
    buf[0] = '\0';
    evb_err e = all ? evb_store_connection_all(s, &cs, &n)
                    : evb_store_connection_list(s, org, connector, &cs, &n);
    CU_ASSERT_EQUAL_FATAL(e, EVB_OK);
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s/%s", i ? "," : "", cs[i]->org,
                 all ? cs[i]->id : cs[i]->name);
    evb_connection_rec_array_free(cs, n);
}

/* State of a delivery by id (-1 when absent). */
static int delivery_state(const char *dir, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT state FROM deliveries WHERE id = '%s'", id);
    return (int)db_int(dir, sql);
}

/* ---- actions ---- */

static void test_actions(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);

    CU_ASSERT_EQUAL(action_add(s, "crm-hook", "xbb", NULL), EVB_OK);
    CU_ASSERT_EQUAL(action_add(s, "acme-robot", NULL, "acme"), EVB_OK);
    CU_ASSERT_EQUAL(action_add(s, "beta-fn", NULL, "beta"), EVB_OK);
    CU_ASSERT_EQUAL(action_add(s, "crm-hook", "other", NULL), EVB_ERR_EXISTS);
    CU_ASSERT_EQUAL(action_add(s, NULL, "x", NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_action_create(s, NULL), EVB_ERR_INVALID);

    evb_action_rec *a = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_action_get(s, "crm-hook", &a), EVB_OK);
    CU_ASSERT_STRING_EQUAL(a->name, "crm-hook");
    CU_ASSERT_STRING_EQUAL(a->isv, "xbb");
    CU_ASSERT_STRING_EQUAL(a->org, "");
    CU_ASSERT_EQUAL(a->kind, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(a->config, "example.com"));
    CU_ASSERT_EQUAL(a->disabled, 0);
    CU_ASSERT_STRING_EQUAL(a->disabled_reason, "");
    CU_ASSERT_TRUE(a->create_ms > 0);
    CU_ASSERT_EQUAL(a->update_ms, a->create_ms);
    int64_t created = a->create_ms;
    evb_action_rec_free(a);
    a = NULL;
    CU_ASSERT_EQUAL(evb_store_action_get(s, "nope", &a), EVB_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(a);

    /* update: kind and config replaced; isv/org/create kept */
    evb_action_rec u = {.name = "crm-hook",
                        .isv = "ignored",
                        .org = "ignored",
                        .kind = 2,
                        .config = "{\"webhook\":\"w\"}"};
    CU_ASSERT_EQUAL(evb_store_action_update(s, &u), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_store_action_get(s, "crm-hook", &a), EVB_OK);
    CU_ASSERT_EQUAL(a->kind, 2);
    CU_ASSERT_STRING_EQUAL(a->config, "{\"webhook\":\"w\"}");
    CU_ASSERT_STRING_EQUAL(a->isv, "xbb");
    CU_ASSERT_STRING_EQUAL(a->org, "");
    CU_ASSERT_EQUAL(a->create_ms, created);
    CU_ASSERT_TRUE(a->update_ms >= created);
    evb_action_rec_free(a);
    u.name = "nope";
    CU_ASSERT_EQUAL(evb_store_action_update(s, &u), EVB_ERR_NOT_FOUND);

    /* set_disabled: with a reason, then cleared (the reason goes with the flag) */
    CU_ASSERT_EQUAL(evb_store_action_set_disabled(s, "beta-fn", 1, "410 Gone"), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_store_action_get(s, "beta-fn", &a), EVB_OK);
    CU_ASSERT_EQUAL(a->disabled, 1);
    CU_ASSERT_STRING_EQUAL(a->disabled_reason, "410 Gone");
    evb_action_rec_free(a);
    CU_ASSERT_EQUAL(evb_store_action_set_disabled(s, "beta-fn", 0, "ignored"), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_store_action_get(s, "beta-fn", &a), EVB_OK);
    CU_ASSERT_EQUAL(a->disabled, 0);
    CU_ASSERT_STRING_EQUAL(a->disabled_reason, "");
    evb_action_rec_free(a);
    CU_ASSERT_EQUAL(evb_store_action_set_disabled(s, "nope", 1, NULL), EVB_ERR_NOT_FOUND);

    /* list filters, sorted by name */
    char buf[256];
    action_names(s, NULL, NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme-robot,beta-fn,crm-hook");
    action_names(s, "xbb", NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "crm-hook");
    action_names(s, NULL, "acme", buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme-robot");
    action_names(s, "xbb", "acme", buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "");
    action_names(s, "nobody", NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "");

    /* delete: refused while a connection (of any org) uses the action */
    CU_ASSERT_EQUAL(conn_add(s, "c1", "acme", "to-crm", "crm", "crm-hook", 1), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_action_delete(s, "crm-hook"), EVB_ERR_PRECONDITION);
    CU_ASSERT_EQUAL_FATAL(evb_store_action_get(s, "crm-hook", &a), EVB_OK); /* still there */
    evb_action_rec_free(a);
    CU_ASSERT_EQUAL(evb_store_action_delete(s, "nope"), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_store_action_delete(s, "acme-robot"), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_action_delete(s, "acme-robot"), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_store_connection_delete(s, "c1"), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_action_delete(s, "crm-hook"), EVB_OK);
    action_names(s, NULL, NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "beta-fn");

    /* an action created disabled keeps its reason; create_ms given is kept */
    evb_action_rec d = {
        .name = "off", .kind = 3, .disabled = 1, .disabled_reason = "r", .create_ms = 1234};
    CU_ASSERT_EQUAL(evb_store_action_create(s, &d), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_store_action_get(s, "off", &a), EVB_OK);
    CU_ASSERT_EQUAL(a->disabled, 1);
    CU_ASSERT_STRING_EQUAL(a->disabled_reason, "r");
    CU_ASSERT_STRING_EQUAL(a->config, "{}");
    CU_ASSERT_EQUAL(a->create_ms, 1234);
    evb_action_rec_free(a);

    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- connections ---- */

static void test_connections(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);
    CU_ASSERT_EQUAL(action_add(s, "hook", "xbb", NULL), EVB_OK);

    CU_ASSERT_EQUAL(conn_add(s, "id-b1", "beta", "to-crm", "crm", "hook", 1), EVB_OK);
    CU_ASSERT_EQUAL(conn_add(s, "id-a1", "acme", "to-crm", "crm", "hook", 1), EVB_OK); /* same
                                                                      name, other org */
    CU_ASSERT_EQUAL(conn_add(s, "id-a2", "acme", "to-erp", "erp", "hook", 2), EVB_OK);
    CU_ASSERT_EQUAL(conn_add(s, "id-a3", "acme", "audit", "crm", "hook", 1), EVB_OK);
    CU_ASSERT_EQUAL(conn_add(s, "id-x", "acme", "to-crm", "crm", "hook", 1), EVB_ERR_EXISTS);
    CU_ASSERT_EQUAL(conn_add(s, "id-a1", "gamma", "new", "crm", "hook", 1), EVB_ERR_EXISTS);
    CU_ASSERT_EQUAL(conn_add(s, "id-y", "acme", "bad", "crm", "hook", 0), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(conn_add(s, "id-y", "acme", "bad", "crm", "hook", 4), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(conn_add(s, NULL, "acme", "bad", "crm", "hook", 1), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(conn_add(s, "id-y", NULL, "bad", "crm", "hook", 1), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(conn_add(s, "id-y", "acme", NULL, "crm", "hook", 1), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(conn_add(s, "id-y", "acme", "bad", NULL, "hook", 1), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(conn_add(s, "id-y", "acme", "bad", "crm", NULL, 1), EVB_ERR_INVALID);

    evb_connection_rec *c = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_connection_get(s, "id-a2", &c), EVB_OK);
    CU_ASSERT_STRING_EQUAL(c->id, "id-a2");
    CU_ASSERT_STRING_EQUAL(c->org, "acme");
    CU_ASSERT_STRING_EQUAL(c->name, "to-erp");
    CU_ASSERT_STRING_EQUAL(c->connector, "erp");
    CU_ASSERT_STRING_EQUAL(c->action, "hook");
    CU_ASSERT_STRING_EQUAL(c->config, "{\"types\":[\"customer.changed\"]}");
    CU_ASSERT_EQUAL(c->state, 2);
    CU_ASSERT_STRING_EQUAL(c->state_reason, "");
    CU_ASSERT_TRUE(c->create_ms > 0);
    CU_ASSERT_EQUAL(c->update_ms, c->create_ms);
    int64_t created = c->create_ms;
    evb_connection_rec_free(c);
    c = NULL;
    CU_ASSERT_EQUAL(evb_store_connection_get(s, "nope", &c), EVB_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(c);

    /* list filters: sorted by org then name; all: by id */
    char buf[512];
    conn_names(s, 0, NULL, NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme/audit,acme/to-crm,acme/to-erp,beta/to-crm");
    conn_names(s, 0, "acme", NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme/audit,acme/to-crm,acme/to-erp");
    conn_names(s, 0, NULL, "crm", buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme/audit,acme/to-crm,beta/to-crm");
    conn_names(s, 0, "acme", "crm", buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme/audit,acme/to-crm");
    conn_names(s, 0, "gamma", NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "");
    conn_names(s, 1, NULL, NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme/id-a1,acme/id-a2,acme/id-a3,beta/id-b1");

    /* update by id: fields replaced, org and create time kept; a name clash is EXISTS */
    evb_connection_rec u = {.id = "id-a2",
                            .org = "ignored",
                            .name = "to-erp2",
                            .connector = "erp2",
                            .action = "hook2",
                            .config = "{\"v\":2}",
                            .state = 3,
                            .state_reason = "target gone"};
    CU_ASSERT_EQUAL(evb_store_connection_update(s, &u), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_store_connection_get(s, "id-a2", &c), EVB_OK);
    CU_ASSERT_STRING_EQUAL(c->org, "acme");
    CU_ASSERT_STRING_EQUAL(c->name, "to-erp2");
    CU_ASSERT_STRING_EQUAL(c->connector, "erp2");
    CU_ASSERT_STRING_EQUAL(c->action, "hook2");
    CU_ASSERT_STRING_EQUAL(c->config, "{\"v\":2}");
    CU_ASSERT_EQUAL(c->state, 3);
    CU_ASSERT_STRING_EQUAL(c->state_reason, "target gone");
    CU_ASSERT_EQUAL(c->create_ms, created);
    evb_connection_rec_free(c);
    u.name = "audit"; /* taken in acme */
    CU_ASSERT_EQUAL(evb_store_connection_update(s, &u), EVB_ERR_EXISTS);
    u.id = "id-b1"; /* beta has no "audit": fine there */
    u.org = "beta";
    CU_ASSERT_EQUAL(evb_store_connection_update(s, &u), EVB_OK);
    u.id = "nope";
    u.name = "zzz";
    CU_ASSERT_EQUAL(evb_store_connection_update(s, &u), EVB_ERR_NOT_FOUND);
    u.id = "id-a2";
    u.state = 9;
    CU_ASSERT_EQUAL(evb_store_connection_update(s, &u), EVB_ERR_INVALID);
    conn_names(s, 0, NULL, NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme/audit,acme/to-crm,acme/to-erp2,beta/audit");

    /* set_state */
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "id-a1", 2, "maintenance"), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_store_connection_get(s, "id-a1", &c), EVB_OK);
    CU_ASSERT_EQUAL(c->state, 2);
    CU_ASSERT_STRING_EQUAL(c->state_reason, "maintenance");
    evb_connection_rec_free(c);
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "id-a1", 1, NULL), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_store_connection_get(s, "id-a1", &c), EVB_OK);
    CU_ASSERT_EQUAL(c->state, 1);
    CU_ASSERT_STRING_EQUAL(c->state_reason, "");
    evb_connection_rec_free(c);
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "nope", 1, NULL), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "id-a1", 0, NULL), EVB_ERR_INVALID);

    /* delete */
    CU_ASSERT_EQUAL(evb_store_connection_delete(s, "id-a3"), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_connection_delete(s, "id-a3"), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(conn_add(s, "id-a4", "acme", "audit", "crm", "hook", 1), EVB_OK); /* name
                                                                       free again */
    conn_names(s, 1, NULL, NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "acme/id-a1,acme/id-a2,acme/id-a4,beta/id-b1");

    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- routing generation ---- */

static void test_generation(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);
    CU_ASSERT_EQUAL(evb_store_routing_generation(NULL), 0);
    uint64_t g = evb_store_routing_generation(s);
    CU_ASSERT_EQUAL(g, 1);

#define BUMPS(call)                                                                                \
    do {                                                                                           \
        CU_ASSERT_EQUAL(call, EVB_OK);                                                             \
        uint64_t g2 = evb_store_routing_generation(s);                                             \
        CU_ASSERT_TRUE(g2 > g);                                                                    \
        g = g2;                                                                                    \
    } while (0)
#define SAME(call, err)                                                                            \
    do {                                                                                           \
        CU_ASSERT_EQUAL(call, err);                                                                \
        CU_ASSERT_EQUAL(evb_store_routing_generation(s), g);                                       \
    } while (0)

    BUMPS(action_add(s, "a", "i", NULL));
    SAME(action_add(s, "a", "i", NULL), EVB_ERR_EXISTS);
    evb_action_rec au = {.name = "a", .kind = 2};
    BUMPS(evb_store_action_update(s, &au));
    BUMPS(evb_store_action_set_disabled(s, "a", 1, "x"));
    BUMPS(conn_add(s, "c", "o", "n", "crm", "a", 1));
    SAME(conn_add(s, "c", "o", "n", "crm", "a", 1), EVB_ERR_EXISTS);
    evb_connection_rec cu = {
        .id = "c", .org = "o", .name = "n2", .connector = "crm", .action = "a", .state = 1};
    BUMPS(evb_store_connection_update(s, &cu));
    BUMPS(evb_store_connection_set_state(s, "c", 2, NULL));
    SAME(evb_store_connection_set_state(s, "zz", 2, NULL), EVB_ERR_NOT_FOUND);
    SAME(evb_store_action_delete(s, "a"), EVB_ERR_PRECONDITION);
    BUMPS(evb_store_connection_delete(s, "c"));
    BUMPS(evb_store_action_delete(s, "a"));
    /* event puts are not routing changes */
    evb_event *ev = make_event("e", "o", 10);
    evb_put_item it = {.ev = ev};
    CU_ASSERT_EQUAL(put_wait(s, &it, 1), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_routing_generation(s), g);
    evb_event_free(ev);
#undef BUMPS
#undef SAME

    /* a new store starts at 1 again */
    evb_store_close(s);
    s = open_store(dir);
    CU_ASSERT_EQUAL(evb_store_routing_generation(s), 1);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- deliveries created with their event ---- */

static void test_put_with_deliveries(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);
    CU_ASSERT_EQUAL(action_add(s, "hook", "xbb", NULL), EVB_OK);
    CU_ASSERT_EQUAL(conn_add(s, "c-on", "acme", "on", "crm", "hook", 1), EVB_OK);
    CU_ASSERT_EQUAL(conn_add(s, "c-paused", "acme", "paused", "crm", "hook", 2), EVB_OK);

    evb_event *ev1 = make_event("e1", "acme", 1000);
    evb_event *ev2 = make_event("e1", "acme", 2000); /* same id: DEDUPLICATED */
    evb_event *ev3 = make_event("e3", NULL, 3000);   /* no org; no trace */
    evb_delivery_new d1[] = {
        {.id = "d1-on", .connection_id = "c-on", .ordering_key = "cust-1"},
        {.id = "d1-paused", .connection_id = "c-paused", .held = 1},
    };
    evb_delivery_new d2[] = {{.id = "d2-on", .connection_id = "c-on"}};
    evb_delivery_new d3[] = {{.id = "d3-x", .connection_id = "unknown", .ordering_key = ""}};
    evb_put_item items[] = {
        {.ev = ev1, .deliveries = d1, .n_deliveries = 2, .filter_trace = "{\"matched\":[1]}"},
        {.ev = ev2, .deliveries = d2, .n_deliveries = 1, .filter_trace = "{\"dup\":true}"},
        {.ev = ev3, .deliveries = d3, .n_deliveries = 1},
    };
    CU_ASSERT_EQUAL_FATAL(put_wait(s, items, 3), EVB_OK);
    CU_ASSERT_EQUAL(items[0].status, EVB_PUT_PUBLISHED);
    CU_ASSERT_EQUAL(items[1].status, EVB_PUT_DEDUPLICATED);
    CU_ASSERT_EQUAL(items[2].status, EVB_PUT_PUBLISHED);
    CU_ASSERT_TRUE(ev1->seq > 0);

    evb_delivery_rec **ds = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_list_for_event(s, ev1->seq, &ds, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(ds[0]->id, "d1-on");
    CU_ASSERT_EQUAL(ds[0]->event_seq, ev1->seq);
    CU_ASSERT_STRING_EQUAL(ds[0]->event_id, "e1");
    CU_ASSERT_STRING_EQUAL(ds[0]->connection_id, "c-on");
    CU_ASSERT_STRING_EQUAL(ds[0]->org, "acme");
    CU_ASSERT_EQUAL(ds[0]->state, EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(ds[0]->attempts, 0);
    CU_ASSERT_EQUAL(ds[0]->next_ms, 1000); /* due at receipt */
    CU_ASSERT_EQUAL(ds[0]->lease_ms, 0);
    CU_ASSERT_STRING_EQUAL(ds[0]->ordering_key, "cust-1");
    CU_ASSERT_EQUAL(ds[0]->last_status, 0);
    CU_ASSERT_STRING_EQUAL(ds[0]->last_error, "");
    CU_ASSERT_TRUE(ds[0]->create_ms > 0);
    CU_ASSERT_EQUAL(ds[0]->update_ms, ds[0]->create_ms);
    CU_ASSERT_STRING_EQUAL(ds[1]->id, "d1-paused");
    CU_ASSERT_EQUAL(ds[1]->state, EVB_DELIVERY_HELD);
    CU_ASSERT_STRING_EQUAL(ds[1]->ordering_key, "");
    evb_delivery_rec_array_free(ds, n);

    char *trace = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_event_filter_trace(s, ev1->seq, &trace), EVB_OK);
    CU_ASSERT_STRING_EQUAL(trace, "{\"matched\":[1]}");
    free(trace);

    /* the duplicate got nothing: no delivery, no trace */
    CU_ASSERT_EQUAL(delivery_state(dir, "d2-on"), -1);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM event_filter"), 1);

    /* no org: ""; unknown connection: the caller's flag; no trace: NOT_FOUND */
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_list_for_event(s, ev3->seq, &ds, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(ds[0]->org, "");
    CU_ASSERT_EQUAL(ds[0]->state, EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(ds[0]->next_ms, 3000);
    evb_delivery_rec_array_free(ds, n);
    trace = (char *)"x";
    CU_ASSERT_EQUAL(evb_store_event_filter_trace(s, ev3->seq, &trace), EVB_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(trace);
    CU_ASSERT_EQUAL(evb_store_event_filter_trace(s, 999999, &trace), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_store_delivery_list_for_event(s, 999999, &ds, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(ds);

    /* bad submissions are refused before queueing */
    evb_event *ev4 = make_event("e4", "acme", 4000);
    evb_put_item bad = {.ev = ev4, .deliveries = NULL, .n_deliveries = 1};
    CU_ASSERT_EQUAL(evb_store_put_events(s, &bad, 1, NULL, NULL), EVB_ERR_INVALID);
    evb_delivery_new noid[] = {{.id = NULL, .connection_id = "c-on"}};
    bad = (evb_put_item){.ev = ev4, .deliveries = noid, .n_deliveries = 1};
    CU_ASSERT_EQUAL(evb_store_put_events(s, &bad, 1, NULL, NULL), EVB_ERR_INVALID);
    evb_delivery_new noconn[] = {{.id = "d4", .connection_id = NULL}};
    bad = (evb_put_item){.ev = ev4, .deliveries = noconn, .n_deliveries = 1};
    CU_ASSERT_EQUAL(evb_store_put_events(s, &bad, 1, NULL, NULL), EVB_ERR_INVALID);

    /* a taken delivery id fails the whole submission: nothing stored, items reset */
    evb_event *ev5 = make_event("e5", "acme", 5000);
    evb_delivery_new d4[] = {{.id = "d4", .connection_id = "c-on"}};
    evb_delivery_new taken[] = {{.id = "d1-on", .connection_id = "c-on"}};
    evb_put_item two[] = {
        {.ev = ev4, .deliveries = d4, .n_deliveries = 1, .filter_trace = "{}"},
        {.ev = ev5, .deliveries = taken, .n_deliveries = 1},
    };
    int64_t events_before = db_int(dir, "SELECT count(*) FROM events");
    CU_ASSERT_EQUAL(put_wait(s, two, 2), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(two[0].status, EVB_PUT_PENDING);
    CU_ASSERT_EQUAL(ev4->seq, 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM events"), events_before);
    CU_ASSERT_EQUAL(delivery_state(dir, "d4"), -1);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM event_filter"), 1);
    /* and the ids are not burnt: the first item alone goes through */
    CU_ASSERT_EQUAL(put_wait(s, two, 1), EVB_OK);
    CU_ASSERT_EQUAL(two[0].status, EVB_PUT_PUBLISHED);
    CU_ASSERT_EQUAL(delivery_state(dir, "d4"), EVB_DELIVERY_PENDING);

    evb_event_free(ev1);
    evb_event_free(ev2);
    evb_event_free(ev3);
    evb_event_free(ev4);
    evb_event_free(ev5);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* The stored connection state wins over the caller's (possibly stale) held flag. */
static void test_held_follows_store(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);
    CU_ASSERT_EQUAL(conn_add(s, "on", "o", "on", "crm", "a", 1), EVB_OK);
    CU_ASSERT_EQUAL(conn_add(s, "paused", "o", "paused", "crm", "a", 2), EVB_OK);
    CU_ASSERT_EQUAL(conn_add(s, "off", "o", "off", "crm", "a", 3), EVB_OK);
    evb_event *ev = make_event("h1", "o", 10);
    evb_delivery_new d[] = {
        {.id = "on-held", .connection_id = "on", .held = 1},     /* resumed since: pending */
        {.id = "paused-not", .connection_id = "paused"},         /* paused since: held */
        {.id = "off-held", .connection_id = "off", .held = 1},   /* not paused: pending */
        {.id = "gone-held", .connection_id = "gone", .held = 1}, /* unknown: as given */
        {.id = "gone-not", .connection_id = "gone"},
    };
    evb_put_item it = {.ev = ev, .deliveries = d, .n_deliveries = 5};
    CU_ASSERT_EQUAL_FATAL(put_wait(s, &it, 1), EVB_OK);
    CU_ASSERT_EQUAL(delivery_state(dir, "on-held"), EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(delivery_state(dir, "paused-not"), EVB_DELIVERY_HELD);
    CU_ASSERT_EQUAL(delivery_state(dir, "off-held"), EVB_DELIVERY_PENDING);
    CU_ASSERT_EQUAL(delivery_state(dir, "gone-held"), EVB_DELIVERY_HELD);
    CU_ASSERT_EQUAL(delivery_state(dir, "gone-not"), EVB_DELIVERY_PENDING);
    evb_event_free(ev);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- pause / resume, listing by connection, delete ---- */

static void put_for(evb_store *s, const char *event_id, const char *conn, const char *did, int held,
                    int64_t recv_ms)
{
    evb_event *ev = make_event(event_id, "o", recv_ms);
    evb_delivery_new d = {.id = did, .connection_id = conn, .held = held};
    evb_put_item it = {.ev = ev, .deliveries = &d, .n_deliveries = 1};
    CU_ASSERT_EQUAL(put_wait(s, &it, 1), EVB_OK);
    CU_ASSERT_EQUAL(it.status, EVB_PUT_PUBLISHED);
    evb_event_free(ev);
}

static size_t list_n(evb_store *s, const char *conn, int state, int limit, char *ids, size_t cap)
{
    evb_delivery_rec **ds = NULL;
    size_t n = 0;
    ids[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_list(s, conn, state, limit, &ds, &n), EVB_OK);
    for (size_t i = 0; i < n; i++)
        snprintf(ids + strlen(ids), cap - strlen(ids), "%s%s", i ? "," : "", ds[i]->id);
    evb_delivery_rec_array_free(ds, n);
    return n;
}

static void test_pause_resume_delete(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);
    CU_ASSERT_EQUAL(conn_add(s, "c", "o", "c", "crm", "a", 1), EVB_OK);
    CU_ASSERT_EQUAL(conn_add(s, "k", "o", "k", "crm", "a", 1), EVB_OK);

    put_for(s, "e1", "c", "p1", 0, 100);
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "c", 2, "paused by admin"), EVB_OK);
    put_for(s, "e2", "c", "h1", 1, 200);
    put_for(s, "e3", "c", "h2", 1, 300);
    put_for(s, "e4", "k", "k1", 0, 400);
    /* pausing leaves the pending one pending */
    CU_ASSERT_EQUAL(delivery_state(dir, "p1"), EVB_DELIVERY_PENDING);

    char ids[256];
    CU_ASSERT_EQUAL(list_n(s, "c", EVB_DELIVERY_HELD, 10, ids, sizeof ids), 2);
    CU_ASSERT_STRING_EQUAL(ids, "h1,h2");
    CU_ASSERT_EQUAL(list_n(s, "c", -1, 10, ids, sizeof ids), 3);
    CU_ASSERT_STRING_EQUAL(ids, "p1,h1,h2"); /* oldest event first */
    CU_ASSERT_EQUAL(list_n(s, "c", -1, 2, ids, sizeof ids), 2);
    CU_ASSERT_STRING_EQUAL(ids, "p1,h1");
    CU_ASSERT_EQUAL(list_n(s, "c", EVB_DELIVERY_DEAD, 10, ids, sizeof ids), 0);
    CU_ASSERT_EQUAL(list_n(s, "nope", -1, 10, ids, sizeof ids), 0);
    evb_delivery_rec **ds = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(evb_store_delivery_list(s, "c", -1, 0, &ds, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_list(s, "c", -1, 1001, &ds, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_list(s, "c", 5, 10, &ds, &n), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_delivery_list(s, NULL, -1, 10, &ds, &n), EVB_ERR_INVALID);

    /* resume: held -> pending, due now; the other connection is untouched */
    int64_t before = store_now_ms();
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "c", 1, NULL), EVB_OK);
    CU_ASSERT_EQUAL(list_n(s, "c", EVB_DELIVERY_HELD, 10, ids, sizeof ids), 0);
    CU_ASSERT_EQUAL(list_n(s, "c", EVB_DELIVERY_PENDING, 10, ids, sizeof ids), 3);
    CU_ASSERT_STRING_EQUAL(ids, "p1,h1,h2");
    CU_ASSERT_EQUAL(db_int(dir, "SELECT next_ms FROM deliveries WHERE id = 'p1'"), 100);
    CU_ASSERT_TRUE(db_int(dir, "SELECT next_ms FROM deliveries WHERE id = 'h1'") >= before);
    CU_ASSERT_TRUE(db_int(dir, "SELECT update_ms FROM deliveries WHERE id = 'h2'") >= before);
    CU_ASSERT_EQUAL(delivery_state(dir, "k1"), EVB_DELIVERY_PENDING);

    /* an update that enables releases held deliveries too */
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "c", 2, NULL), EVB_OK);
    put_for(s, "e5", "c", "h3", 1, 500);
    CU_ASSERT_EQUAL(delivery_state(dir, "h3"), EVB_DELIVERY_HELD);
    evb_connection_rec u = {
        .id = "c", .org = "o", .name = "c", .connector = "crm", .action = "a", .state = 1};
    CU_ASSERT_EQUAL(evb_store_connection_update(s, &u), EVB_OK);
    CU_ASSERT_EQUAL(delivery_state(dir, "h3"), EVB_DELIVERY_PENDING);

    /* delete: pending and held go, delivered, dead and leased stay, other connections too */
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "c", 2, NULL), EVB_OK);
    put_for(s, "e6", "c", "h4", 1, 600);
    CU_ASSERT_EQUAL(store_sql(s, dir, "UPDATE deliveries SET state = 3 WHERE id = 'p1'"), EVB_OK);
    CU_ASSERT_EQUAL(store_sql(s, dir, "UPDATE deliveries SET state = 4 WHERE id = 'h1'"), EVB_OK);
    CU_ASSERT_EQUAL(store_sql(s, dir, "UPDATE deliveries SET state = 2 WHERE id = 'h2'"), EVB_OK);
    CU_ASSERT_EQUAL(store_sql(s, dir,
                              "INSERT INTO delivery_attempts(delivery_id, attempt, "
                              "time_ms, outcome) VALUES('h3', 1, 1, 1), ('h1', 1, 1, 1)"),
                    EVB_OK);
    CU_ASSERT_EQUAL(evb_store_connection_delete(s, "c"), EVB_OK);
    CU_ASSERT_EQUAL(delivery_state(dir, "p1"), EVB_DELIVERY_DELIVERED);
    CU_ASSERT_EQUAL(delivery_state(dir, "h1"), EVB_DELIVERY_DEAD);
    CU_ASSERT_EQUAL(delivery_state(dir, "h2"), EVB_DELIVERY_LEASED);
    CU_ASSERT_EQUAL(delivery_state(dir, "h3"), -1); /* pending */
    CU_ASSERT_EQUAL(delivery_state(dir, "h4"), -1); /* held */
    CU_ASSERT_EQUAL(delivery_state(dir, "k1"), EVB_DELIVERY_PENDING);
    /* the attempts of a removed delivery go with it; those of a kept one stay */
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM delivery_attempts WHERE delivery_id = 'h3'"),
                    0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM delivery_attempts WHERE delivery_id = 'h1'"),
                    1);
    CU_ASSERT_EQUAL(list_n(s, "c", -1, 10, ids, sizeof ids), 3);
    CU_ASSERT_STRING_EQUAL(ids, "p1,h1,h2");

    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- a failed commit stores neither the event nor its deliveries ---- */

static void test_commit_failure(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);
    CU_ASSERT_EQUAL(conn_add(s, "c", "o", "c", "crm", "a", 1), EVB_OK);
    evb_event *ev = make_event("f1", "o", 10);
    evb_delivery_new d[] = {{.id = "fd1", .connection_id = "c"},
                            {.id = "fd2", .connection_id = "c"}};
    evb_put_item it = {.ev = ev, .deliveries = d, .n_deliveries = 2, .filter_trace = "{\"f\":1}"};

    fail_commits(s, dir, 1);
    CU_ASSERT_EQUAL(put_wait(s, &it, 1), EVB_ERR_UNAVAILABLE);
    CU_ASSERT_EQUAL(it.status, EVB_PUT_PENDING);
    CU_ASSERT_EQUAL(ev->seq, 0);
    CU_ASSERT_EQUAL(evb_store_connection_set_state(s, "c", 2, NULL), EVB_ERR_UNAVAILABLE);
    fail_commits(s, dir, 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM events"), 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries"), 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM event_filter"), 0);
    evb_connection_rec *c = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_connection_get(s, "c", &c), EVB_OK);
    CU_ASSERT_EQUAL(c->state, 1); /* the failed state change is not there either */
    evb_connection_rec_free(c);

    /* once the fault clears the same submission stores everything */
    CU_ASSERT_EQUAL(put_wait(s, &it, 1), EVB_OK);
    CU_ASSERT_EQUAL(it.status, EVB_PUT_PUBLISHED);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries"), 2);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM event_filter"), 1);
    evb_event_free(ev);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- many deliveries per event, several puts in one group commit ---- */

enum { MANY_CONNS = 200, MANY_PUTS = 5 };

static void test_many_deliveries(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);
    static char ids[MANY_PUTS][MANY_CONNS][40];
    static char conns[MANY_CONNS][16];
    static evb_delivery_new d[MANY_PUTS][MANY_CONNS];
    for (int c = 0; c < MANY_CONNS; c++)
        snprintf(conns[c], sizeof conns[c], "conn-%03d", c);
    evb_event *evs[MANY_PUTS];
    evb_put_item items[MANY_PUTS];
    waiter w[MANY_PUTS];

    gate g;
    gate_close(s, &g, make_event("gate", "gate", 1));
    uint64_t c0 = commits_mark(s);
    for (int p = 0; p < MANY_PUTS; p++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", p);
        evs[p] = make_event(id, "o", 100 + p);
        for (int c = 0; c < MANY_CONNS; c++) {
            snprintf(ids[p][c], sizeof ids[p][c], "del-%d-%03d", p, c);
            d[p][c] =
                (evb_delivery_new){.id = ids[p][c], .connection_id = conns[c], .ordering_key = "k"};
        }
        items[p] = (evb_put_item){.ev = evs[p],
                                  .deliveries = d[p],
                                  .n_deliveries = MANY_CONNS,
                                  .filter_trace = "{\"matched\":200}"};
        waiter_init(&w[p]);
        CU_ASSERT_EQUAL_FATAL(evb_store_put_events(s, &items[p], 1, waiter_cb, &w[p]), EVB_OK);
    }
    gate_open(&g);
    for (int p = 0; p < MANY_PUTS; p++) {
        CU_ASSERT_EQUAL(waiter_wait(&w[p]), EVB_OK);
        CU_ASSERT_EQUAL(items[p].status, EVB_PUT_PUBLISHED);
    }
    gate_fini(&g);
    CU_ASSERT_COMMITS(s, c0, 1); /* all five puts in one transaction */
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM deliveries"),
                    (int64_t)MANY_PUTS * MANY_CONNS);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM event_filter"), MANY_PUTS);

    evb_delivery_rec **ds = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_store_delivery_list_for_event(s, evs[3]->seq, &ds, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, MANY_CONNS);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_STRING_EQUAL(ds[i]->id, ids[3][i]);
        CU_ASSERT_EQUAL(ds[i]->event_seq, evs[3]->seq);
        CU_ASSERT_EQUAL(ds[i]->next_ms, 103);
    }
    evb_delivery_rec_array_free(ds, n);
    char buf[256];
    CU_ASSERT_EQUAL(list_n(s, "conn-007", EVB_DELIVERY_PENDING, 10, buf, sizeof buf), MANY_PUTS);
    CU_ASSERT_STRING_EQUAL(buf, "del-0-007,del-1-007,del-2-007,del-3-007,del-4-007");
    for (int p = 0; p < MANY_PUTS; p++)
        evb_event_free(evs[p]);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- migration step 3 ---- */

static void test_migration(void)
{
    char *dir = tmpdir_new("routing");
    evb_store *s = open_store(dir);
    CU_ASSERT_EQUAL(action_add(s, "kept", "i", NULL), EVB_OK);
    evb_store_close(s);
    char q_step[128], q_applied[128];
    snprintf(q_step, sizeof q_step, "SELECT count(*) FROM schema_version WHERE version = %d",
             test_step(3));
    snprintf(q_applied, sizeof q_applied,
             "SELECT applied_ms FROM schema_version WHERE version = %d", test_step(3));
    CU_ASSERT_EQUAL(db_int(dir, q_step), 1);
    int64_t applied = db_int(dir, q_applied);
    CU_ASSERT_TRUE(applied > 0);
    /* no deliveries_by_order on either: SQLite's step 6 drops it, PostgreSQL never had it
     * (dispatch_heads finds a key's head) */
    CU_ASSERT_EQUAL(db_index_count(dir, "'deliveries_due', 'deliveries_by_connection', "
                                        "'deliveries_by_event', 'deliveries_by_order'"),
                    3);
    if (test_pg_url() == NULL)
        CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                    "tbl_name = 'deliveries' AND name LIKE 'deliveries_%'"),
                        3);

    s = open_store(dir); /* reopen: step 3 is not applied again, data kept */
    evb_action_rec *a = NULL;
    CU_ASSERT_EQUAL(evb_store_action_get(s, "kept", &a), EVB_OK);
    evb_action_rec_free(a);
    evb_store_close(s);
    CU_ASSERT_EQUAL(db_int(dir, q_step), 1);
    CU_ASSERT_EQUAL(db_int(dir, q_applied), applied);

    /* A database as the previous evbridged left it (steps 1-2 only, with an event;
     * PostgreSQL: its step 1). */
    CU_ASSERT_EQUAL_FATAL(db_rewind(dir, 3,
                                    "DROP TABLE event_filter; DROP TABLE delivery_attempts;"
                                    "DROP TABLE deliveries; DROP TABLE connections;"
                                    "DROP TABLE actions;"
                                    "DROP INDEX events_by_recv;" /* step 5 */
                                    "DELETE FROM schema_version WHERE version >= 3;"),
                          SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(db_exec(dir, "INSERT INTO events(id, type, source, time_ms, recv_ms) "
                                       "VALUES('old', 't', '/s', 1, 1);"),
                          SQLITE_OK);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT max(version) FROM schema_version"), test_step(3) - 1);
    s = open_store(dir);
    evb_event *old = NULL;
    CU_ASSERT_EQUAL(evb_store_get_event(s, "old", NULL, NULL, &old), EVB_OK); /* data kept */
    evb_event_free(old);
    CU_ASSERT_EQUAL(conn_add(s, "c", "o", "c", "crm", "a", 1), EVB_OK);
    put_for(s, "new", "c", "d-new", 0, 50);
    CU_ASSERT_EQUAL(delivery_state(dir, "d-new"), EVB_DELIVERY_PENDING);
    evb_store_close(s);
    CU_ASSERT_EQUAL(db_int(dir, q_step), 1);
    tmpdir_free(dir);
}

static const store_test tests[] = {
    {"actions", test_actions},
    {"connections", test_connections},
    {"routing generation", test_generation},
    {"put with deliveries", test_put_with_deliveries},
    {"held follows the stored state", test_held_follows_store},
    {"pause, resume, delete", test_pause_resume_delete},
    {"commit failure", test_commit_failure},
    {"many deliveries in one group commit", test_many_deliveries},
    {"migration", test_migration},
    {NULL, NULL},
};

int main(void)
{
    return run_suite("store_routing", tests);
}
