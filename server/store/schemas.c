/* evbridge — the schema registry's storage (SQLite): subjects, versions, global ids, soft
 * and permanent deletes. Contract in store_schemas.h; subject configuration is in
 * subject_config.c.
 *
 * Registration and deletion are synchronous write jobs on the writer queue (as connectors
 * are): the whole read-check-insert of a registration runs inside the writer's
 * transaction, so it is atomic with respect to every other registration without any lock
 * of ours. Out-values are built inside the job and freed by its reset hook, because the
 * writer may roll a batch back and run the job again (or fail it) after it succeeded once.
 *
 * Version numbers come from schema_subjects.max_version (the subject's high-water mark,
 * raised on every registration), so numbers stay unique even after a permanent delete;
 * global ids come from the AUTOINCREMENT of schemas.id. Schema statements are prepared per
 * call rather than cached: schema writes and reads are rare (callers cache compiled
 * schemas), and this keeps the store's statement slots untouched.
 */
#include "server/store/store_common_meta.h"
#include "server/store/store_int.h"
#include "server/store/store_schemas.h"

#include <stdlib.h>
#include <string.h>

#define SCHEMA_COLS STORE_SCHEMA_COLS

/* ---- records ---- */

void evb_schema_rec_free(evb_schema_rec *r)
{
    if (r == NULL)
        return;
    free(r->subject);
    free(r->schema);
    free(r->canon_hash);
    free(r);
}

void evb_schema_rec_array_free(evb_schema_rec **rs, size_t n)
{
    if (rs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        evb_schema_rec_free(rs[i]);
    free(rs);
}

/* store_row_fn: a schema row into *(evb_schema_rec **)slot. */
static evb_err rec_from_row(sqlite3_stmt *st, void *slot, void *arg)
{
    (void)arg;
    store_row r;
    store_row_sqlite(&r, st);
    return store_schema_from_row(&r, slot);
}

/* ---- statement helpers ---- */

/* Runs a one-integer query with text parameter ?1: *out = the value, or 0 when there is
 * no row or the value is NULL. */
static evb_err query_int(sqlite3 *db, const char *sql, const char *p1, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    evb_err e = store_prepare(db, sql, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, p1);
    int rc = sqlite3_step(st);
    *out = 0;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return store_map_rc(rc);
}

/* ---- register ---- */

typedef struct reg_job {
    store_sync_job sync;
    const char *subject, *schema, *canon_hash;
    int32_t expect_latest;
    evb_schema_rec *rec; /* out, built by run */
    int created;         /* out */
} reg_job;

static evb_err reg_existing(evb_store *s, reg_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_prepare(s->wdb,
                      "SELECT " SCHEMA_COLS " FROM schemas WHERE subject = ?1 AND canon_hash = ?2 "
                      "AND deleted = 0 ORDER BY version LIMIT 1",
                      &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->subject);
    store_bind_text(st, 2, x->canon_hash);
    e = store_one_row(st, rec_from_row, NULL, &x->rec);
    sqlite3_finalize(st);
    return e;
}

static evb_err reg_insert(evb_store *s, reg_job *x, int32_t version, int64_t now)
{
    sqlite3_stmt *st = NULL;
    evb_err e = store_prepare(s->wdb,
                              "INSERT INTO schemas(subject, version, schema, canon_hash, deleted, "
                              "create_ms) VALUES(?1, ?2, ?3, ?4, 0, ?5)",
                              &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->subject);
    sqlite3_bind_int(st, 2, version);
    store_bind_text(st, 3, x->schema);
    store_bind_text(st, 4, x->canon_hash);
    sqlite3_bind_int64(st, 5, now);
    int rc = store_step_done(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return store_map_rc(rc);
    int64_t id = sqlite3_last_insert_rowid(s->wdb);

    e = store_prepare(s->wdb,
                      "INSERT INTO schema_subjects(subject, max_version) VALUES(?1, ?2) "
                      "ON CONFLICT(subject) DO UPDATE SET max_version = max(max_version, ?2)",
                      &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->subject);
    sqlite3_bind_int(st, 2, version);
    rc = store_step_done(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return store_map_rc(rc);

    evb_schema_rec *r = calloc(1, sizeof *r);
    if (r == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    r->id = id;
    r->subject = store_strdup(x->subject, &ok);
    r->version = version;
    r->schema = store_strdup(x->schema, &ok);
    r->canon_hash = store_strdup(x->canon_hash, &ok);
    r->create_ms = now;
    if (!ok) {
        evb_schema_rec_free(r);
        return EVB_ERR_NOMEM;
    }
    x->rec = r;
    x->created = 1;
    return EVB_OK;
}

static evb_err reg_run(evb_store *s, store_job *j)
{
    reg_job *x = (reg_job *)j;
    evb_err e = reg_existing(s, x);
    if (e != EVB_ERR_NOT_FOUND)
        return e; /* EVB_OK: identical content is already registered (created = 0) */

    if (x->expect_latest >= 0) {
        int64_t latest = 0;
        e = query_int(s->wdb, "SELECT max(version) FROM schemas WHERE subject = ?1 AND deleted = 0",
                      x->subject, &latest);
        if (e != EVB_OK)
            return e;
        if (latest != x->expect_latest)
            return EVB_ERR_PRECONDITION;
    }

    /* The high-water mark, and the rows themselves in case the mark is missing. */
    int64_t hwm = 0, max_row = 0;
    e = query_int(s->wdb, "SELECT max_version FROM schema_subjects WHERE subject = ?1", x->subject,
                  &hwm);
    if (e == EVB_OK)
        e = query_int(s->wdb, "SELECT max(version) FROM schemas WHERE subject = ?1", x->subject,
                      &max_row);
    if (e != EVB_OK)
        return e;
    int64_t next = (hwm > max_row ? hwm : max_row) + 1;
    if (next > INT32_MAX)
        return EVB_ERR_LIMIT;
    return reg_insert(s, x, (int32_t)next, store_now_ms());
}

static void reg_reset(store_job *j)
{
    reg_job *x = (reg_job *)j;
    evb_schema_rec_free(x->rec);
    x->rec = NULL;
    x->created = 0;
}

static const store_job_ops reg_ops = {reg_run, reg_reset, store_sync_complete};

evb_err sq_schema_register(evb_store *s, const char *subject, const char *schema,
                           const char *canon_hash, int32_t expect_latest, evb_schema_rec **out,
                           int *created)
{
    if (s == NULL || !store_schema_register_ok(subject, schema, canon_hash) || out == NULL)
        return EVB_ERR_INVALID;
    reg_job x = {.sync = {.job = {.ops = &reg_ops}},
                 .subject = subject,
                 .schema = schema,
                 .canon_hash = canon_hash,
                 .expect_latest = expect_latest};
    evb_err e = store_config_run_sync(s, &x.sync);
    if (e != EVB_OK) {
        evb_schema_rec_free(x.rec); /* NULL: the writer's reset freed it */
        return e;
    }
    *out = x.rec;
    if (created != NULL)
        *created = x.created;
    return EVB_OK;
}

/* ---- delete ---- */

typedef struct del_job {
    store_sync_job sync;
    const char *subject;
    int32_t version;
    int permanent;
    int32_t *versions; /* out, built by run */
    size_t n;          /* out */
} del_job;

/* store_row_fn: the version of a (version, deleted) row into *(int32_t *)slot; counts the
 * rows not soft-deleted in *(int64_t *)arg. */
static evb_err version_from_row(sqlite3_stmt *st, void *slot, void *arg)
{
    *(int32_t *)slot = (int32_t)sqlite3_column_int64(st, 0);
    if (sqlite3_column_int(st, 1) == 0)
        (*(int64_t *)arg)++;
    return EVB_OK;
}

/* Collects the targeted versions (ascending) into x->versions; *not_soft counts those that
 * are not soft-deleted. Soft deletes target only rows not deleted yet. */
static evb_err del_collect(evb_store *s, del_job *x, int64_t *not_soft)
{
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_prepare(s->wdb,
                      "SELECT version, deleted FROM schemas WHERE subject = ?1 "
                      "AND (?2 = 0 OR version = ?2) AND (?3 OR deleted = 0) ORDER BY version",
                      &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->subject);
    sqlite3_bind_int(st, 2, x->version);
    sqlite3_bind_int(st, 3, x->permanent != 0);
    *not_soft = 0;
    void *v = NULL;
    e = store_collect(st, sizeof(int32_t), 8, version_from_row, not_soft, &v, &x->n);
    x->versions = v;
    sqlite3_finalize(st);
    return e;
}

static evb_err del_run(evb_store *s, store_job *j)
{
    del_job *x = (del_job *)j;
    int64_t not_soft = 0;
    evb_err e = del_collect(s, x, &not_soft);
    if (e != EVB_OK)
        return e;
    if (x->n == 0)
        return EVB_ERR_NOT_FOUND;
    if (x->permanent && not_soft > 0)
        return EVB_ERR_PRECONDITION;

    sqlite3_stmt *st = NULL;
    e = store_prepare(s->wdb,
                      x->permanent
                          ? "DELETE FROM schemas WHERE subject = ?1 AND (?2 = 0 OR version = ?2)"
                          : "UPDATE schemas SET deleted = 1 WHERE subject = ?1 "
                            "AND (?2 = 0 OR version = ?2) AND deleted = 0",
                      &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->subject);
    sqlite3_bind_int(st, 2, x->version);
    int rc = store_step_done(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return store_map_rc(rc);
    if ((size_t)sqlite3_changes(s->wdb) != x->n)
        return EVB_ERR_INTERNAL; /* cannot happen inside the writer's transaction */
    return EVB_OK;
}

static void del_reset(store_job *j)
{
    del_job *x = (del_job *)j;
    free(x->versions);
    x->versions = NULL;
    x->n = 0;
}

static const store_job_ops del_ops = {del_run, del_reset, store_sync_complete};

evb_err sq_schema_delete(evb_store *s, const char *subject, int32_t version, int permanent,
                         int32_t **versions_out, size_t *n_out)
{
    if (s == NULL || subject == NULL || version < 0)
        return EVB_ERR_INVALID;
    del_job x = {.sync = {.job = {.ops = &del_ops}},
                 .subject = subject,
                 .version = version,
                 .permanent = permanent != 0};
    evb_err e = store_config_run_sync(s, &x.sync);
    if (e != EVB_OK) {
        free(x.versions); /* NULL: the writer's reset freed it */
        return e;
    }
    if (versions_out != NULL)
        *versions_out = x.versions;
    else
        free(x.versions);
    if (n_out != NULL)
        *n_out = x.n;
    return EVB_OK;
}

/* ---- reads ---- */

evb_err sq_schema_get(evb_store *s, const char *subject, int32_t version, int include_deleted,
                      evb_schema_rec **out)
{
    if (s == NULL || subject == NULL || version < 0 || out == NULL)
        return EVB_ERR_INVALID;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_read_begin(s,
                         version == 0 ? "SELECT " SCHEMA_COLS " FROM schemas WHERE subject = ?1 "
                                        "AND deleted = 0 ORDER BY version DESC LIMIT 1"
                                      : "SELECT " SCHEMA_COLS " FROM schemas WHERE subject = ?1 "
                                        "AND version = ?2 AND (?3 OR deleted = 0)",
                         &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, subject);
    if (version != 0) {
        sqlite3_bind_int(st, 2, version);
        sqlite3_bind_int(st, 3, include_deleted != 0);
    }
    e = store_one_row(st, rec_from_row, NULL, out);
    store_read_end(s, r, st);
    return e;
}

evb_err sq_schema_get_by_id(evb_store *s, int64_t id, evb_schema_rec **out)
{
    if (s == NULL || out == NULL)
        return EVB_ERR_INVALID;
    if (id <= 0)
        return EVB_ERR_NOT_FOUND;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_begin(s, "SELECT " SCHEMA_COLS " FROM schemas WHERE id = ?1", &r, &st);
    if (e != EVB_OK)
        return e;
    sqlite3_bind_int64(st, 1, id);
    e = store_one_row(st, rec_from_row, NULL, out);
    store_read_end(s, r, st);
    return e;
}

evb_err sq_schema_list(evb_store *s, const char *subject, int include_deleted,
                       evb_schema_rec ***out, size_t *n_out)
{
    if (s == NULL || subject == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_begin(s,
                                 "SELECT " SCHEMA_COLS " FROM schemas WHERE subject = ?1 "
                                 "AND (?2 OR deleted = 0) ORDER BY version",
                                 &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, subject);
    sqlite3_bind_int(st, 2, include_deleted != 0);
    void *rs = NULL;
    size_t n = 0;
    e = store_collect(st, sizeof(evb_schema_rec *), 8, rec_from_row, NULL, &rs, &n);
    store_read_end(s, r, st);
    if (e == EVB_OK && n == 0)
        e = EVB_ERR_NOT_FOUND;
    if (e != EVB_OK) {
        evb_schema_rec_array_free(rs, n);
        return e;
    }
    *out = rs;
    *n_out = n;
    return EVB_OK;
}

evb_err sq_schema_subjects(evb_store *s, const char *prefix, int include_deleted, char ***out,
                           size_t *n_out)
{
    if (s == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    /* A byte-wise prefix test (no LIKE: no wildcards, no case folding); the range bound
     * lets the (subject, version) index skip the subjects sorting before the prefix. */
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_begin(
        s,
        "SELECT DISTINCT subject FROM schemas WHERE subject >= ?1 "
        "AND substr(CAST(subject AS BLOB), 1, length(CAST(?1 AS BLOB))) = CAST(?1 AS BLOB) "
        "AND (?2 OR deleted = 0) ORDER BY subject",
        &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, prefix != NULL ? prefix : "");
    sqlite3_bind_int(st, 2, include_deleted != 0);
    void *v = NULL;
    size_t n = 0;
    e = store_collect(st, sizeof(char *), 16, store_text_from_row, NULL, &v, &n);
    store_read_end(s, r, st);
    if (e != EVB_OK) {
        store_strv_free(v, n);
        return e;
    }
    *out = v;
    *n_out = n;
    return EVB_OK;
}
