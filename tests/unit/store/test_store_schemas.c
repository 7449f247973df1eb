/* evbridge — unit tests for the schema registry's storage (server/store/store_schemas.h):
 * registration (versions, global ids, idempotence, optimistic concurrency), reads, soft and
 * permanent deletes, subject listing, subject configuration, migration step 2 on new and
 * pre-existing databases, and a failed commit. Each test works in its own mkdtemp
 * directory, removed afterwards. */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/store.h"
#include "server/store/store_int.h"
#include "server/store/store_schemas.h"
#include "tests/unit/store/store_test_util.h"

/* ---- helpers ---- */

/* Registers and returns the record (NULL on error); *e gets the outcome. */
static evb_schema_rec *reg(evb_store *s, const char *subject, const char *schema, const char *hash,
                           int32_t expect, int *created, evb_err *e)
{
    evb_schema_rec *r = NULL;
    int c = -1;
    *e = evb_store_schema_register(s, subject, schema, hash, expect, &r, &c);
    if (created != NULL)
        *created = c;
    return *e == EVB_OK ? r : NULL;
}

/* Registers expecting success; returns the version. */
static int32_t reg_ok(evb_store *s, const char *subject, const char *hash, int64_t *id)
{
    char schema[128];
    snprintf(schema, sizeof schema, "{\"title\":\"%s\"}", hash);
    evb_err e;
    evb_schema_rec *r = reg(s, subject, schema, hash, -1, NULL, &e);
    CU_ASSERT_EQUAL_FATAL(e, EVB_OK);
    int32_t v = r->version;
    if (id != NULL)
        *id = r->id;
    evb_schema_rec_free(r);
    return v;
}

static evb_err get_version(evb_store *s, const char *subject, int32_t version, int incl,
                           int32_t *got)
{
    evb_schema_rec *r = NULL;
    evb_err e = evb_store_schema_get(s, subject, version, incl, &r);
    if (e == EVB_OK) {
        *got = r->version;
        evb_schema_rec_free(r);
    }
    return e;
}

static size_t list_count(evb_store *s, const char *subject, int incl)
{
    evb_schema_rec **rs = NULL;
    size_t n = 0;
    evb_err e = evb_store_schema_list(s, subject, incl, &rs, &n);
    evb_schema_rec_array_free(rs, n);
    return e == EVB_OK ? n : 0;
}

/* The subjects joined with ',' into buf. */
static evb_err subjects_str(evb_store *s, const char *prefix, int incl, char *buf, size_t cap)
{
    char **v = NULL;
    size_t n = 0;
    evb_err e = evb_store_schema_subjects(s, prefix, incl, &v, &n);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, v[i], cap - strlen(buf) - 1);
        free(v[i]);
    }
    free(v);
    return e;
}

static evb_err del(evb_store *s, const char *subject, int32_t version, int permanent, char *buf,
                   size_t cap)
{
    int32_t *vs = NULL;
    size_t n = 99;
    evb_err e = evb_store_schema_delete(s, subject, version, permanent, &vs, &n);
    buf[0] = '\0';
    if (e == EVB_OK)
        for (size_t i = 0; i < n; i++)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%d", i ? "," : "", (int)vs[i]);
    free(vs);
    return e;
}

/* ---- register ---- */

static void test_register(void)
{
    char *dir = tmpdir_new("schemas");
    evb_store *s = open_store(dir);
    evb_err e;
    int created = -1;

    evb_schema_rec *v1 = reg(s, "std.customer", "{\"type\":\"object\"}", "h1", 0, &created, &e);
    CU_ASSERT_EQUAL_FATAL(e, EVB_OK);
    CU_ASSERT_EQUAL(created, 1);
    CU_ASSERT_EQUAL(v1->version, 1);
    CU_ASSERT_TRUE(v1->id > 0);
    CU_ASSERT_STRING_EQUAL(v1->subject, "std.customer");
    CU_ASSERT_STRING_EQUAL(v1->schema, "{\"type\":\"object\"}");
    CU_ASSERT_STRING_EQUAL(v1->canon_hash, "h1");
    CU_ASSERT_EQUAL(v1->deleted, 0);
    CU_ASSERT_TRUE(v1->create_ms > 0);

    evb_schema_rec *v2 =
        reg(s, "std.customer", "{\"type\": \"object\", \"x\":1}", "h2", 1, &created, &e);
    CU_ASSERT_EQUAL_FATAL(e, EVB_OK);
    CU_ASSERT_EQUAL(created, 1);
    CU_ASSERT_EQUAL(v2->version, 2);
    CU_ASSERT_TRUE(v2->id > v1->id);

    /* Identical canonical content (different text): the existing version, not a new one,
     * whatever expect_latest says. */
    evb_schema_rec *again =
        reg(s, "std.customer", "{ \"type\" : \"object\" }", "h1", 0, &created, &e);
    CU_ASSERT_EQUAL_FATAL(e, EVB_OK);
    CU_ASSERT_EQUAL(created, 0);
    CU_ASSERT_EQUAL(again->id, v1->id);
    CU_ASSERT_EQUAL(again->version, 1);
    CU_ASSERT_STRING_EQUAL(again->schema, "{\"type\":\"object\"}"); /* as first registered */
    CU_ASSERT_EQUAL(again->create_ms, v1->create_ms);
    evb_schema_rec_free(again);

    /* created may be NULL. */
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "std.customer", "{}", "h2", -1, &again, NULL),
                    EVB_OK);
    CU_ASSERT_EQUAL(again->id, v2->id);
    evb_schema_rec_free(again);

    /* expect_latest: another registration won the race. */
    evb_schema_rec *r = NULL;
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "std.customer", "{}", "h3", 1, &r, &created),
                    EVB_ERR_PRECONDITION);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "std.customer", "{}", "h3", 0, &r, &created),
                    EVB_ERR_PRECONDITION);
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "new.subject", "{}", "h3", 1, &r, &created),
                    EVB_ERR_PRECONDITION); /* 0 = the subject has none */
    CU_ASSERT_EQUAL(list_count(s, "new.subject", 1), 0);
    r = reg(s, "std.customer", "{}", "h3", 2, &created, &e);
    CU_ASSERT_EQUAL(e, EVB_OK);
    CU_ASSERT_EQUAL(r != NULL ? r->version : 0, 3);
    evb_schema_rec_free(r);

    /* Ids are global across subjects; the same content in another subject is a new id. */
    int64_t id_other = 0;
    CU_ASSERT_EQUAL(reg_ok(s, "std.product", "h1", &id_other), 1);
    CU_ASSERT_TRUE(id_other > v2->id);

    /* Bad arguments. */
    CU_ASSERT_EQUAL(evb_store_schema_register(s, NULL, "{}", "h", -1, &r, NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "", "{}", "h", -1, &r, NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "x", NULL, "h", -1, &r, NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "x", "{}", NULL, -1, &r, NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "x", "{}", "h", -1, NULL, NULL), EVB_ERR_INVALID);

    evb_schema_rec_free(v1);
    evb_schema_rec_free(v2);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- concurrent registrations: one writer job each, so exactly one wins ---- */

#define RACERS 8

typedef struct racer {
    evb_store *s;
    int n;
    evb_err e;
    int32_t version;
    int64_t id;
} racer;

static void *racer_main(void *arg)
{
    racer *r = arg;
    char hash[32];
    snprintf(hash, sizeof hash, "race-%d", r->n);
    evb_schema_rec *rec = NULL;
    r->e = evb_store_schema_register(r->s, "race", "{}", hash, 0, &rec, NULL);
    if (r->e == EVB_OK) {
        r->version = rec->version;
        r->id = rec->id;
    }
    evb_schema_rec_free(rec);
    return NULL;
}

static void *free_main(void *arg)
{
    racer *r = arg;
    char subject[32];
    snprintf(subject, sizeof subject, "free-%d", r->n % 2);
    char hash[32];
    snprintf(hash, sizeof hash, "free-%d", r->n);
    evb_schema_rec *rec = NULL;
    r->e = evb_store_schema_register(r->s, subject, "{}", hash, -1, &rec, NULL);
    if (r->e == EVB_OK) {
        r->version = rec->version;
        r->id = rec->id;
    }
    evb_schema_rec_free(rec);
    return NULL;
}

static void test_concurrent_register(void)
{
    char *dir = tmpdir_new("schemas");
    evb_store *s = open_store(dir);
    pthread_t th[RACERS];
    racer rs[RACERS];

    /* Everyone expects an empty subject: one wins, the others get PRECONDITION. */
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){.s = s, .n = i};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, racer_main, &rs[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        if (rs[i].e == EVB_OK) {
            won++;
            CU_ASSERT_EQUAL(rs[i].version, 1);
        } else {
            CU_ASSERT_EQUAL(rs[i].e, EVB_ERR_PRECONDITION);
        }
    }
    CU_ASSERT_EQUAL(won, 1);
    CU_ASSERT_EQUAL(list_count(s, "race", 1), 1);

    /* Without expect_latest every one is stored, with distinct versions and ids. */
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){.s = s, .n = i};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, free_main, &rs[i]), 0);
    }
    unsigned seen[2] = {0, 0};
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL_FATAL(rs[i].e, EVB_OK);
        CU_ASSERT_TRUE(rs[i].version >= 1 && rs[i].version <= RACERS / 2);
        seen[i % 2] |= 1u << rs[i].version;
        for (int k = 0; k < i; k++)
            CU_ASSERT_NOT_EQUAL(rs[k].id, rs[i].id);
    }
    unsigned all = ((1u << (RACERS / 2)) - 1) << 1; /* versions 1..RACERS/2 */
    CU_ASSERT_EQUAL(seen[0], all);
    CU_ASSERT_EQUAL(seen[1], all);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- reads ---- */

static void test_get_list_subjects(void)
{
    char *dir = tmpdir_new("schemas");
    evb_store *s = open_store(dir);
    int64_t id1 = 0, id2 = 0;
    reg_ok(s, "std.customer", "c1", &id1);
    reg_ok(s, "std.customer", "c2", &id2);
    reg_ok(s, "std.contract", "k1", NULL);
    reg_ok(s, "acme.order", "o1", NULL);
    reg_ok(s, "std", "s1", NULL);

    int32_t v = 0;
    CU_ASSERT_EQUAL(get_version(s, "std.customer", 0, 0, &v), EVB_OK);
    CU_ASSERT_EQUAL(v, 2);
    CU_ASSERT_EQUAL(get_version(s, "std.customer", 1, 0, &v), EVB_OK);
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_EQUAL(get_version(s, "std.customer", 3, 1, &v), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(get_version(s, "nope", 0, 1, &v), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(get_version(s, "std.customer", -1, 0, &v), EVB_ERR_INVALID);

    evb_schema_rec *r = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_schema_get_by_id(s, id2, &r), EVB_OK);
    CU_ASSERT_STRING_EQUAL(r->subject, "std.customer");
    CU_ASSERT_EQUAL(r->version, 2);
    CU_ASSERT_STRING_EQUAL(r->canon_hash, "c2");
    CU_ASSERT_STRING_EQUAL(r->schema, "{\"title\":\"c2\"}");
    evb_schema_rec_free(r);
    r = NULL;
    CU_ASSERT_EQUAL(evb_store_schema_get_by_id(s, 9999, &r), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_store_schema_get_by_id(s, 0, &r), EVB_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(r);

    evb_schema_rec **rs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(evb_store_schema_list(s, "std.customer", 0, &rs, &n), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(rs[0]->version, 1); /* oldest first */
    CU_ASSERT_EQUAL(rs[0]->id, id1);
    CU_ASSERT_EQUAL(rs[1]->version, 2);
    evb_schema_rec_array_free(rs, n);
    rs = NULL;
    CU_ASSERT_EQUAL(evb_store_schema_list(s, "nope", 1, &rs, &n), EVB_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(rs);
    CU_ASSERT_EQUAL(n, 0);

    char buf[256];
    CU_ASSERT_EQUAL(subjects_str(s, NULL, 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "acme.order,std,std.contract,std.customer");
    CU_ASSERT_EQUAL(subjects_str(s, "", 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "acme.order,std,std.contract,std.customer");
    CU_ASSERT_EQUAL(subjects_str(s, "std.", 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "std.contract,std.customer");
    CU_ASSERT_EQUAL(subjects_str(s, "std", 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "std,std.contract,std.customer");
    CU_ASSERT_EQUAL(subjects_str(s, "STD", 0, buf, sizeof buf), EVB_OK); /* case matters */
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(subjects_str(s, "%", 0, buf, sizeof buf), EVB_OK); /* no wildcards */
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(subjects_str(s, "std.c_", 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(subjects_str(s, "zzz", 1, buf, sizeof buf), EVB_OK); /* empty, not error */
    CU_ASSERT_STRING_EQUAL(buf, "");

    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- deletes ---- */

static void test_delete(void)
{
    char *dir = tmpdir_new("schemas");
    evb_store *s = open_store(dir);
    int64_t id1 = 0, id2 = 0, id3 = 0;
    reg_ok(s, "sub", "a", &id1);
    reg_ok(s, "sub", "b", &id2);
    reg_ok(s, "sub", "c", &id3);
    reg_ok(s, "other", "a", NULL);
    char buf[128];
    int32_t v = 0;

    /* Permanent before soft. */
    CU_ASSERT_EQUAL(del(s, "sub", 3, 1, buf, sizeof buf), EVB_ERR_PRECONDITION);
    CU_ASSERT_EQUAL(del(s, "sub", 0, 1, buf, sizeof buf), EVB_ERR_PRECONDITION);
    CU_ASSERT_EQUAL(list_count(s, "sub", 0), 3);

    /* Soft delete of the latest: hidden from latest, list and (alone) subjects. */
    CU_ASSERT_EQUAL(del(s, "sub", 3, 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "3");
    CU_ASSERT_EQUAL(get_version(s, "sub", 0, 0, &v), EVB_OK);
    CU_ASSERT_EQUAL(v, 2);
    CU_ASSERT_EQUAL(get_version(s, "sub", 3, 0, &v), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(get_version(s, "sub", 3, 1, &v), EVB_OK);
    CU_ASSERT_EQUAL(list_count(s, "sub", 0), 2);
    CU_ASSERT_EQUAL(list_count(s, "sub", 1), 3);
    evb_schema_rec *r = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_store_schema_get_by_id(s, id3, &r), EVB_OK);
    CU_ASSERT_EQUAL(r->deleted, 1);
    evb_schema_rec_free(r);
    CU_ASSERT_EQUAL(del(s, "sub", 3, 0, buf, sizeof buf), EVB_ERR_NOT_FOUND); /* already */
    CU_ASSERT_EQUAL(del(s, "sub", 7, 0, buf, sizeof buf), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(del(s, "nope", 0, 0, buf, sizeof buf), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(del(s, "nope", 0, 1, buf, sizeof buf), EVB_ERR_NOT_FOUND);

    /* Re-registering soft-deleted content makes a new version (4, not 3). */
    evb_err e;
    int created = -1;
    r = reg(s, "sub", "{}", "c", 2, &created, &e);
    CU_ASSERT_EQUAL_FATAL(e, EVB_OK);
    CU_ASSERT_EQUAL(created, 1);
    CU_ASSERT_EQUAL(r->version, 4);
    CU_ASSERT_TRUE(r->id > id3);
    evb_schema_rec_free(r);

    /* Permanent after soft removes the row; get_by_id no longer finds it. */
    CU_ASSERT_EQUAL(del(s, "sub", 3, 1, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "3");
    CU_ASSERT_EQUAL(get_version(s, "sub", 3, 1, &v), EVB_ERR_NOT_FOUND);
    r = NULL;
    CU_ASSERT_EQUAL(evb_store_schema_get_by_id(s, id3, &r), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(list_count(s, "sub", 1), 3);
    CU_ASSERT_EQUAL(del(s, "sub", 3, 1, buf, sizeof buf), EVB_ERR_NOT_FOUND);

    /* Soft delete of every version: only the ones not yet deleted are reported. */
    CU_ASSERT_EQUAL(del(s, "sub", 1, 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_EQUAL(del(s, "sub", 0, 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "2,4");
    CU_ASSERT_EQUAL(del(s, "sub", 0, 0, buf, sizeof buf), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(get_version(s, "sub", 0, 0, &v), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(get_version(s, "sub", 0, 1, &v), EVB_ERR_NOT_FOUND); /* latest = live */
    CU_ASSERT_EQUAL(get_version(s, "sub", 2, 1, &v), EVB_OK);
    CU_ASSERT_EQUAL(list_count(s, "sub", 0), 0);
    CU_ASSERT_EQUAL(list_count(s, "sub", 1), 3);
    CU_ASSERT_EQUAL(subjects_str(s, NULL, 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "other");
    CU_ASSERT_EQUAL(subjects_str(s, NULL, 1, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "other,sub");
    CU_ASSERT_EQUAL_FATAL(evb_store_schema_get_by_id(s, id1, &r), EVB_OK); /* still resolvable */
    CU_ASSERT_EQUAL(r->deleted, 1);
    evb_schema_rec_free(r);

    /* Permanent delete of every version. */
    CU_ASSERT_EQUAL(del(s, "sub", 0, 1, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "1,2,4");
    CU_ASSERT_EQUAL(list_count(s, "sub", 1), 0);
    CU_ASSERT_EQUAL(subjects_str(s, NULL, 1, buf, sizeof buf), EVB_OK);
    CU_ASSERT_STRING_EQUAL(buf, "other");
    CU_ASSERT_EQUAL(del(s, "sub", 0, 1, buf, sizeof buf), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_store_schema_get_by_id(s, id1, &r), EVB_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_store_schema_get_by_id(s, id2, &r), EVB_ERR_NOT_FOUND);

    /* Versions and ids are never reused, even after everything (including the newest
     * version and the newest id) was permanently deleted. */
    int64_t id_next = 0;
    CU_ASSERT_EQUAL(reg_ok(s, "sub", "a", &id_next), 5);
    CU_ASSERT_TRUE(id_next > id3);
    CU_ASSERT_EQUAL(del(s, "sub", 5, 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_EQUAL(del(s, "sub", 5, 1, buf, sizeof buf), EVB_OK);
    int64_t id_after = 0;
    CU_ASSERT_EQUAL(reg_ok(s, "sub", "z", &id_after), 6);
    CU_ASSERT_TRUE(id_after > id_next);

    /* ... and across a reopen. */
    CU_ASSERT_EQUAL(del(s, "sub", 6, 0, buf, sizeof buf), EVB_OK);
    CU_ASSERT_EQUAL(del(s, "sub", 6, 1, buf, sizeof buf), EVB_OK);
    evb_store_close(s);
    s = open_store(dir);
    int64_t id_reopen = 0;
    CU_ASSERT_EQUAL(reg_ok(s, "sub", "y", &id_reopen), 7);
    CU_ASSERT_TRUE(id_reopen > id_after);

    /* versions_out and n_out may be NULL; bad arguments. */
    CU_ASSERT_EQUAL(evb_store_schema_delete(s, "sub", 7, 0, NULL, NULL), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_schema_delete(s, NULL, 0, 0, NULL, NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_schema_delete(s, "sub", -1, 0, NULL, NULL), EVB_ERR_INVALID);

    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- subject configuration ---- */

static void cfg_expect(evb_store *s, const char *subject, int level, int format_mode)
{
    int lv = -9, fm = -9;
    CU_ASSERT_EQUAL(evb_store_subject_config_get(s, subject, &lv, &fm), EVB_OK);
    CU_ASSERT_EQUAL(lv, level);
    CU_ASSERT_EQUAL(fm, format_mode);
}

static void test_subject_config(void)
{
    char *dir = tmpdir_new("schemas");
    evb_store *s = open_store(dir);

    cfg_expect(s, "", 0, 0); /* nothing set: 0, not NOT_FOUND */
    cfg_expect(s, "std.customer", 0, 0);

    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "", 2, 0), EVB_OK); /* global */
    cfg_expect(s, "", 2, 0);
    cfg_expect(s, "std.customer", 0, 0); /* no inheritance in the store */

    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "std.customer", 7, 0), EVB_OK);
    cfg_expect(s, "std.customer", 7, 0);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "std.customer", 0, 2), EVB_OK); /* keeps */
    cfg_expect(s, "std.customer", 7, 2);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "std.customer", 1, 0), EVB_OK);
    cfg_expect(s, "std.customer", 1, 2);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "std.customer", -1, 0), EVB_OK); /* clear */
    cfg_expect(s, "std.customer", 0, 2);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "std.customer", 0, -1), EVB_OK);
    cfg_expect(s, "std.customer", 0, 0);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM subject_config WHERE subject = "
                                "'std.customer'"),
                    0); /* an empty row is removed */
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "std.customer", -1, -1), EVB_OK);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "std.customer", 0, 0), EVB_OK);
    cfg_expect(s, "std.customer", 0, 0);
    cfg_expect(s, "", 2, 0);

    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "", 3, 1), EVB_OK);
    cfg_expect(s, "", 3, 1);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "", -1, -1), EVB_OK);
    cfg_expect(s, "", 0, 0);

    /* Either output may be NULL. */
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "x", 4, 1), EVB_OK);
    int lv = 0;
    CU_ASSERT_EQUAL(evb_store_subject_config_get(s, "x", &lv, NULL), EVB_OK);
    CU_ASSERT_EQUAL(lv, 4);

    /* Out of range. */
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "x", 8, 0), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "x", -2, 0), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "x", 0, 3), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, NULL, 1, 0), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_store_subject_config_get(s, NULL, &lv, NULL), EVB_ERR_INVALID);
    cfg_expect(s, "x", 4, 1);

    /* Survives a reopen. */
    evb_store_close(s);
    s = open_store(dir);
    cfg_expect(s, "x", 4, 1);
    evb_store_close(s);
    tmpdir_free(dir);
}

/* ---- migration ---- */

static void test_migration(void)
{
    char *dir = tmpdir_new("schemas");
    evb_store *s = open_store(dir);
    evb_store_close(s);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM schema_version WHERE version = 2"), 1);
    int64_t applied = db_int(dir, "SELECT applied_ms FROM schema_version WHERE version = 2");
    s = open_store(dir); /* reopen: step 2 is not applied again */
    reg_ok(s, "kept", "k", NULL);
    evb_store_close(s);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM schema_version WHERE version = 2"), 1);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT applied_ms FROM schema_version WHERE version = 2"),
                    applied);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM schemas"), 1);

    /* A database as the previous evbridged left it (step 1 only, with data). */
    CU_ASSERT_EQUAL_FATAL(db_rewind(dir, 2,
                                    "DROP TABLE event_filter; DROP TABLE delivery_attempts;"
                                    "DROP TABLE deliveries; DROP TABLE connections;"
                                    "DROP TABLE actions;" /* step 3 */
                                    "DROP TABLE schemas; DROP TABLE schema_subjects;"
                                    "DROP TABLE subject_config;"
                                    "DROP INDEX events_by_recv;" /* step 5 */
                                    "DELETE FROM schema_version WHERE version >= 2;"),
                          SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(db_exec(dir, "INSERT INTO connectors(name, types, create_ms, "
                                       "update_ms) VALUES('crm', '[]', 1, 1);"),
                          SQLITE_OK);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT max(version) FROM schema_version"), 1);
    s = open_store(dir);
    evb_connector *c = NULL;
    CU_ASSERT_EQUAL(evb_store_connector_get(s, "crm", &c), EVB_OK); /* data kept */
    evb_connector_free(c);
    int64_t id = 0;
    CU_ASSERT_EQUAL(reg_ok(s, "std.customer", "h", &id), 1);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "", 2, 1), EVB_OK);
    cfg_expect(s, "", 2, 1);
    evb_store_close(s);
    CU_ASSERT_EQUAL(db_int(dir, "SELECT count(*) FROM schema_version WHERE version = 2"), 1);
    CU_ASSERT_TRUE(db_int(dir, "SELECT applied_ms FROM schema_version WHERE version = 2") > 0);
    tmpdir_free(dir);
}

/* ---- a failed commit: nothing stored, no out-values leaked, numbering unaffected ---- */

static void test_commit_failure(void)
{
    char *dir = tmpdir_new("schemas");
    evb_store *s = open_store(dir);
    reg_ok(s, "sub", "a", NULL);

    fail_commits(s, dir, 1);
    evb_schema_rec *r = NULL;
    CU_ASSERT_EQUAL(evb_store_schema_register(s, "sub", "{}", "b", 1, &r, NULL),
                    EVB_ERR_UNAVAILABLE);
    CU_ASSERT_PTR_NULL(r);
    int32_t *vs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(evb_store_schema_delete(s, "sub", 1, 0, &vs, &n), EVB_ERR_UNAVAILABLE);
    CU_ASSERT_PTR_NULL(vs);
    CU_ASSERT_EQUAL(evb_store_subject_config_set(s, "sub", 1, 0), EVB_ERR_UNAVAILABLE);
    fail_commits(s, dir, 0);

    cfg_expect(s, "sub", 0, 0);
    CU_ASSERT_EQUAL(list_count(s, "sub", 1), 1);
    CU_ASSERT_EQUAL(reg_ok(s, "sub", "b", NULL), 2);
    evb_store_close(s);
    tmpdir_free(dir);
}

static const store_test tests[] = {
    {"register", test_register},
    {"concurrent register", test_concurrent_register},
    {"get, list, subjects", test_get_list_subjects},
    {"delete", test_delete},
    {"subject config", test_subject_config},
    {"migration", test_migration},
    {"commit failure", test_commit_failure},
    {NULL, NULL},
};

int main(void)
{
    return run_suite("store_schemas", tests);
}
