/* Unit tests for server/rpc/conn_cache.c on a real SQLite store in a temporary directory:
 * a cached connector is the store's, and every change made through the store (create,
 * update, delete, a change of something else) is seen by the next lookup; references
 * outlive invalidation and the cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/rpc/conn_cache.h"
#include "tests/unit/common/unit.h"

static char dir[] = "/tmp/evb-conn-cache-XXXXXX";
static evb_store *store;

static void open_store(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    evb_store_options o = {.data_dir = dir, .synchronous_normal = 1};
    evb_error e;
    evb_error_clear(&e);
    CU_ASSERT_EQUAL_FATAL(evb_store_open(&o, &store, &e), EVB_OK);
}

static void close_store(void)
{
    evb_store_close(store);
    store = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    strcpy(dir, "/tmp/evb-conn-cache-XXXXXX");
}

static evb_err put_connector(const char *name, const char *isv, const char *type, int update)
{
    evb_event_type_def td = {.type = (char *)type, .subject = (char *)"std.customer"};
    char source[96];
    snprintf(source, sizeof source, "/connectors/%s", name);
    evb_connector c = {
        .name = (char *)name, .isv = (char *)isv, .source = source, .types = &td, .n_types = 1};
    return update ? evb_store_connector_update(store, &c) : evb_store_connector_create(store, &c);
}

static void test_hit_is_the_stores(void)
{
    open_store();
    evb_conn_cache *c = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_conn_cache_new(store, &c), EVB_OK);
    CU_ASSERT_EQUAL(put_connector("crm", "acme", "a.changed", 0), EVB_OK);
    evb_conn_ref *r1 = NULL, *r2 = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_conn_cache_get(c, "crm", &r1), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_conn_cache_get(c, "crm", &r2), EVB_OK);
    CU_ASSERT_PTR_EQUAL(r1, r2); /* the second lookup is served from the cache */
    const evb_connector *k = evb_conn_ref_connector(r1);
    CU_ASSERT_STRING_EQUAL(k->name, "crm");
    CU_ASSERT_STRING_EQUAL(k->isv, "acme");
    CU_ASSERT_STRING_EQUAL(k->source, "/connectors/crm");
    CU_ASSERT_EQUAL_FATAL(k->n_types, 1);
    CU_ASSERT_STRING_EQUAL(k->types[0].type, "a.changed");
    evb_conn_ref_release(r1);
    evb_conn_ref_release(r2);
    evb_conn_ref *r = NULL;
    CU_ASSERT_EQUAL(evb_conn_cache_get(c, "nope", &r), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_conn_cache_get(c, NULL, &r), EVB_ERR_INVALID);
    evb_conn_cache_free(c);
    close_store();
}

static void test_changes_are_seen(void)
{
    open_store();
    evb_conn_cache *c = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_conn_cache_new(store, &c), EVB_OK);
    evb_conn_ref *r = NULL, *old = NULL;
    /* not found, then created: the negative answer is not cached */
    CU_ASSERT_EQUAL(evb_conn_cache_get(c, "crm", &r), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(put_connector("crm", "acme", "a.changed", 0), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_conn_cache_get(c, "crm", &old), EVB_OK);
    /* updated: the next lookup has the new event types; the old reference is unchanged */
    CU_ASSERT_EQUAL(put_connector("crm", "acme", "b.changed", 1), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_conn_cache_get(c, "crm", &r), EVB_OK);
    CU_ASSERT_PTR_NOT_EQUAL(r, old);
    CU_ASSERT_STRING_EQUAL(evb_conn_ref_connector(r)->types[0].type, "b.changed");
    CU_ASSERT_STRING_EQUAL(evb_conn_ref_connector(old)->types[0].type, "a.changed");
    evb_conn_ref_release(old);
    /* another connector changes: still the same answer, read again */
    CU_ASSERT_EQUAL(put_connector("erp", "acme", "c.changed", 0), EVB_OK);
    evb_conn_ref *r2 = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_conn_cache_get(c, "crm", &r2), EVB_OK);
    CU_ASSERT_STRING_EQUAL(evb_conn_ref_connector(r2)->types[0].type, "b.changed");
    evb_conn_ref_release(r2);
    /* deleted: NOT_FOUND at once; a reference taken before stays valid */
    CU_ASSERT_EQUAL(evb_store_connector_delete(store, "crm"), EVB_OK);
    CU_ASSERT_EQUAL(evb_conn_cache_get(c, "crm", &r2), EVB_ERR_NOT_FOUND);
    CU_ASSERT_STRING_EQUAL(evb_conn_ref_connector(r)->name, "crm");
    /* the cache may go before the references it handed out */
    evb_conn_cache_free(c);
    CU_ASSERT_STRING_EQUAL(evb_conn_ref_connector(r)->types[0].type, "b.changed");
    evb_conn_ref_release(r);
    evb_conn_ref_release(NULL);
    evb_conn_cache_free(NULL);
    close_store();
}

static void test_many_connectors(void)
{
    open_store();
    evb_conn_cache *c = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_conn_cache_new(store, &c), EVB_OK);
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "c-%d", i);
        CU_ASSERT_EQUAL(put_connector(name, "acme", "a.changed", 0), EVB_OK);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(name, sizeof name, "c-%d", i);
            evb_conn_ref *r = NULL;
            CU_ASSERT_EQUAL_FATAL(evb_conn_cache_get(c, name, &r), EVB_OK);
            CU_ASSERT_STRING_EQUAL(evb_conn_ref_connector(r)->name, name);
            evb_conn_ref_release(r);
        }
    }
    evb_conn_cache_free(c);
    close_store();
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"a hit is the store's connector", test_hit_is_the_stores},
        {"create, update, delete are seen at once", test_changes_are_seen},
        {"many connectors", test_many_connectors},
        {NULL, NULL},
    };
    return evb_unit_run("conn_cache", cases);
}
