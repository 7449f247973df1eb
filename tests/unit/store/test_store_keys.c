/* evbridge — the first admin key (evb_store_key_create_first_admin) on SQLite and, with
 * EVB_TEST_PG_URL, on PostgreSQL: created once while no active admin key exists, refused
 * after, again possible once every admin key is revoked; threads racing on two stores of
 * one database (two nodes starting together on PostgreSQL; one store on SQLite, which
 * allows one process per data directory) create exactly one. */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "server/store/store.h"
#include "tests/unit/store/store_test_util.h"

static evb_api_key admin_key(const char *id)
{
    return (evb_api_key){.key_id = (char *)id,
                         .hash = "0000000000000000000000000000000000000000000000000000000000000000",
                         .role = "admin",
                         .scope = "",
                         .description = "test"};
}

static void test_first_admin_once(void)
{
    char *dir = tmpdir_new("keys");
    evb_store *s = open_store(dir);
    evb_api_key k1 = admin_key("a000000000000001"), k2 = admin_key("a000000000000002");
    CU_ASSERT_EQUAL(evb_store_key_create_first_admin(s, &k1), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_key_create_first_admin(s, &k2), EVB_ERR_EXISTS);
    int64_t n = 0;
    CU_ASSERT_EQUAL(evb_store_key_count_admin(s, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 1);
    evb_api_key *got = NULL;
    CU_ASSERT_EQUAL(evb_store_key_get(s, "a000000000000002", &got), EVB_ERR_NOT_FOUND);
    /* Revoked: a new first admin may be made (a lost key is replaced by a restart). */
    CU_ASSERT_EQUAL(evb_store_key_revoke(s, "a000000000000001", 0), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_key_create_first_admin(s, &k2), EVB_OK);
    /* Not an admin key: refused before the store. */
    evb_api_key isv = admin_key("a000000000000003");
    isv.role = "isv";
    CU_ASSERT_EQUAL(evb_store_key_create_first_admin(s, &isv), EVB_ERR_INVALID);
    evb_store_close(s);
    tmpdir_free(dir);
}

#define RACERS 8

typedef struct racer {
    evb_store *s;
    int i;
    evb_err got;
} racer;

static atomic_int go;

static void *race(void *arg)
{
    racer *r = arg;
    char id[17];
    snprintf(id, sizeof id, "b%015d", r->i);
    evb_api_key k = admin_key(id);
    while (!atomic_load(&go))
        ;
    r->got = evb_store_key_create_first_admin(r->s, &k);
    return NULL;
}

static void test_first_admin_race(void)
{
    char *dir = tmpdir_new("keys");
    evb_store *a = open_store(dir);
    /* PostgreSQL: a second node on the same database; SQLite: the same store. */
    evb_store *b = test_pg_url() != NULL ? open_store(dir) : a;
    racer rs[RACERS];
    pthread_t th[RACERS];
    atomic_store(&go, 0);
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){.s = i % 2 ? b : a, .i = i};
        pthread_create(&th[i], NULL, race, &rs[i]);
    }
    atomic_store(&go, 1);
    int ok = 0, exists = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        ok += rs[i].got == EVB_OK;
        exists += rs[i].got == EVB_ERR_EXISTS;
    }
    CU_ASSERT_EQUAL(ok, 1);
    CU_ASSERT_EQUAL(exists, RACERS - 1);
    int64_t n = 0;
    CU_ASSERT_EQUAL(evb_store_key_count_admin(a, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 1);
    if (b != a)
        evb_store_close(b);
    evb_store_close(a);
    tmpdir_free(dir);
}

int main(void)
{
    static const store_test tests[] = {
        {"first admin key: once, until revoked", test_first_admin_once},
        {"first admin key: racing creators make one", test_first_admin_race},
        {NULL, NULL},
    };
    printf("backend: %s\n", test_pg_url() != NULL ? "postgres" : "sqlite");
    return run_suite("store keys", tests);
}
