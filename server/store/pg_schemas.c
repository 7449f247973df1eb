/* evbridge — PostgreSQL backend: the schema registry's storage (subjects, versions, global
 * ids, soft and permanent deletes) and subject configuration. Contracts in store_schemas.h.
 *
 * Writes are configuration transactions (pg_config_tx): they commit with a NOTIFY so every
 * node's schema caches reload. A registration first locks its subject's row in
 * schema_subjects (INSERT ... ON CONFLICT DO UPDATE, which creates the row or waits for and
 * locks it), so registrations of one subject run one at a time across all nodes, while
 * different subjects never wait for each other. Holding that lock, each later statement
 * (READ COMMITTED: a fresh snapshot each) sees every version committed before it: the
 * identical-content lookup, the expect_latest check and the next version number (the
 * subject's high-water mark max_version, raised with every registration, so numbers are
 * never reused even after a permanent delete). Global ids come from the schemas.id
 * identity sequence, which never hands a value out twice.
 * Deletes are one statement each: a soft delete marks and returns the versions it marked; a
 * permanent delete removes the targeted rows and returns them, and when one of them was not
 * soft-deleted yet the transaction rolls back (EVB_ERR_PRECONDITION), so nothing is half
 * done. Out-values are rebuilt by every run of a transaction (pg_tx may retry it).
 * Subject names sort and compare by bytes (COLLATE "C", bytea prefix), as in SQLite.
 */
#include "server/store/pg_common_meta.h"

#include "common/timeutil.h"

#include <stdlib.h>
#include <string.h>

/* ---- register ---- */

typedef struct reg_tx {
    const char *subject, *schema, *canon_hash;
    int32_t expect_latest;
    evb_schema_rec *rec; /* out */
    int created;         /* out */
} reg_tx;

/* Locks the subject's schema_subjects row (creating it): *hwm = its max_version. */
static evb_err reg_lock(PGconn *c, const char *subject, int64_t *hwm)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, subject);
    PGresult *r = NULL;
    evb_err e = pg_exec(c,
                        "INSERT INTO schema_subjects(subject, max_version) VALUES($1, 0) "
                        "ON CONFLICT (subject) DO UPDATE SET max_version = "
                        "schema_subjects.max_version RETURNING max_version",
                        &p, &r);
    if (e == EVB_OK)
        *hwm = PQntuples(r) == 1 ? pg_i64(r, 0, 0) : 0;
    PQclear(r);
    return e;
}

static evb_err reg_insert(PGconn *c, reg_tx *x, int32_t version)
{
    int64_t now = evb_now_ms();
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->subject);
    pg_p_i64(&p, version);
    pg_p_text(&p, x->schema);
    pg_p_text(&p, x->canon_hash);
    pg_p_i64(&p, now);
    PGresult *r = NULL;
    evb_err e = pg_exec(c,
                        "WITH m AS (UPDATE schema_subjects SET max_version = "
                        "greatest(max_version, $2::int) WHERE subject = $1) "
                        "INSERT INTO schemas(subject, version, schema, canon_hash, deleted, "
                        "create_ms) VALUES($1, $2::int, $3, $4, 0, $5::bigint) RETURNING id",
                        &p, &r);
    if (e == EVB_OK && PQntuples(r) != 1)
        e = EVB_ERR_INTERNAL;
    int64_t id = e == EVB_OK ? pg_i64(r, 0, 0) : 0;
    PQclear(r);
    if (e != EVB_OK)
        return e;
    evb_schema_rec *rec = calloc(1, sizeof *rec);
    if (rec == NULL)
        return EVB_ERR_NOMEM;
    rec->id = id;
    rec->version = version;
    rec->create_ms = now;
    rec->subject = strdup(x->subject);
    rec->schema = strdup(x->schema);
    rec->canon_hash = strdup(x->canon_hash);
    if (rec->subject == NULL || rec->schema == NULL || rec->canon_hash == NULL) {
        evb_schema_rec_free(rec);
        return EVB_ERR_NOMEM;
    }
    x->rec = rec;
    x->created = 1;
    return EVB_OK;
}

static evb_err reg_run(pg_store *ps, PGconn *c, void *arg)
{
    (void)ps;
    reg_tx *x = arg;
    evb_schema_rec_free(x->rec); /* a retried run starts afresh */
    x->rec = NULL;
    x->created = 0;

    int64_t hwm = 0;
    evb_err e = reg_lock(c, x->subject, &hwm);
    if (e != EVB_OK)
        return e;

    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->subject);
    pg_p_text(&p, x->canon_hash);
    e = pg_rec_one(c,
                   "SELECT " STORE_SCHEMA_COLS " FROM schemas WHERE subject = $1 "
                   "AND canon_hash = $2 AND deleted = 0 ORDER BY version LIMIT 1",
                   &p, store_schema_from_row, &x->rec);
    if (e != EVB_ERR_NOT_FOUND)
        return e; /* EVB_OK: identical content is already registered (created = 0) */

    /* The latest live version and the highest row (in case the mark is behind). */
    PGresult *r = NULL;
    pg_params_init(&p);
    pg_p_text(&p, x->subject);
    e = pg_exec(c,
                "SELECT coalesce(max(version) FILTER (WHERE deleted = 0), 0), "
                "coalesce(max(version), 0) FROM schemas WHERE subject = $1",
                &p, &r);
    int64_t latest = 0, max_row = 0;
    if (e == EVB_OK) {
        latest = pg_i64(r, 0, 0);
        max_row = pg_i64(r, 0, 1);
    }
    PQclear(r);
    if (e != EVB_OK)
        return e;
    if (x->expect_latest >= 0 && latest != x->expect_latest)
        return EVB_ERR_PRECONDITION;
    int64_t next = (hwm > max_row ? hwm : max_row) + 1;
    if (next > INT32_MAX)
        return EVB_ERR_LIMIT;
    return reg_insert(c, x, (int32_t)next);
}

evb_err pg_schema_register(evb_store *s, const char *subject, const char *schema,
                           const char *canon_hash, int32_t expect_latest, evb_schema_rec **out,
                           int *created)
{
    if (!store_schema_register_ok(subject, schema, canon_hash) || out == NULL)
        return EVB_ERR_INVALID;
    reg_tx x = {.subject = subject,
                .schema = schema,
                .canon_hash = canon_hash,
                .expect_latest = expect_latest};
    evb_err e = pg_config_tx(PG_STORE(s), 0, reg_run, &x);
    if (e != EVB_OK) {
        evb_schema_rec_free(x.rec); /* built by a run that did not commit */
        return e;
    }
    *out = x.rec;
    if (created != NULL)
        *created = x.created;
    return EVB_OK;
}

/* ---- delete ---- */

typedef struct del_tx {
    const char *subject;
    int32_t version;
    int permanent;
    int32_t *versions; /* out, ascending */
    size_t n;          /* out */
} del_tx;

static evb_err del_run(pg_store *ps, PGconn *c, void *arg)
{
    (void)ps;
    del_tx *x = arg;
    free(x->versions); /* a retried run starts afresh */
    x->versions = NULL;
    x->n = 0;

    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->subject);
    pg_p_i64(&p, x->version);
    PGresult *r = NULL;
    evb_err e =
        pg_exec(c,
                x->permanent ? "WITH d AS (DELETE FROM schemas WHERE subject = $1 "
                               "AND ($2::int = 0 OR version = $2::int) RETURNING version, deleted) "
                               "SELECT version, deleted FROM d ORDER BY version"
                             : "WITH d AS (UPDATE schemas SET deleted = 1 WHERE subject = $1 "
                               "AND ($2::int = 0 OR version = $2::int) AND deleted = 0 "
                               "RETURNING version, 0 AS deleted) "
                               "SELECT version, deleted FROM d ORDER BY version",
                &p, &r);
    if (e != EVB_OK)
        return e;
    int rows = PQntuples(r);
    if (rows == 0)
        e = EVB_ERR_NOT_FOUND;
    for (int i = 0; i < rows && e == EVB_OK; i++)
        if (x->permanent && pg_i64(r, i, 1) == 0)
            e = EVB_ERR_PRECONDITION; /* not soft-deleted yet: the delete rolls back */
    if (e == EVB_OK) {
        x->versions = malloc((size_t)rows * sizeof *x->versions);
        if (x->versions == NULL)
            e = EVB_ERR_NOMEM;
    }
    for (int i = 0; i < rows && e == EVB_OK; i++)
        x->versions[x->n++] = (int32_t)pg_i64(r, i, 0);
    PQclear(r);
    return e;
}

evb_err pg_schema_delete(evb_store *s, const char *subject, int32_t version, int permanent,
                         int32_t **versions_out, size_t *n_out)
{
    if (subject == NULL || version < 0)
        return EVB_ERR_INVALID;
    del_tx x = {.subject = subject, .version = version, .permanent = permanent != 0};
    evb_err e = pg_config_tx(PG_STORE(s), 0, del_run, &x);
    if (e != EVB_OK) {
        free(x.versions);
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

evb_err pg_schema_get(evb_store *s, const char *subject, int32_t version, int include_deleted,
                      evb_schema_rec **out)
{
    if (subject == NULL || version < 0 || out == NULL)
        return EVB_ERR_INVALID;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, subject);
    if (version == 0)
        return pg_rec_get(PG_STORE(s),
                          "SELECT " STORE_SCHEMA_COLS " FROM schemas WHERE subject = $1 "
                          "AND deleted = 0 ORDER BY version DESC LIMIT 1",
                          &p, store_schema_from_row, out);
    pg_p_i64(&p, version);
    pg_p_i64(&p, include_deleted != 0);
    return pg_rec_get(PG_STORE(s),
                      "SELECT " STORE_SCHEMA_COLS " FROM schemas WHERE subject = $1 "
                      "AND version = $2::int AND ($3::int <> 0 OR deleted = 0)",
                      &p, store_schema_from_row, out);
}

evb_err pg_schema_get_by_id(evb_store *s, int64_t id, evb_schema_rec **out)
{
    if (out == NULL)
        return EVB_ERR_INVALID;
    if (id <= 0)
        return EVB_ERR_NOT_FOUND;
    pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, id);
    return pg_rec_get(PG_STORE(s),
                      "SELECT " STORE_SCHEMA_COLS " FROM schemas WHERE id = $1::bigint", &p,
                      store_schema_from_row, out);
}

evb_err pg_schema_list(evb_store *s, const char *subject, int include_deleted,
                       evb_schema_rec ***out, size_t *n_out)
{
    if (subject == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, subject);
    pg_p_i64(&p, include_deleted != 0);
    void *rs = NULL;
    size_t n = 0;
    evb_err e = pg_rec_list(PG_STORE(s),
                            "SELECT " STORE_SCHEMA_COLS " FROM schemas WHERE subject = $1 "
                            "AND ($2::int <> 0 OR deleted = 0) ORDER BY version",
                            &p, sizeof(evb_schema_rec *), store_schema_from_row, &rs, &n);
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

evb_err pg_schema_subjects(evb_store *s, const char *prefix, int include_deleted, char ***out,
                           size_t *n_out)
{
    if (out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    /* The prefix as bytes (no LIKE: no wildcards, no case folding; and a prefix that ends
     * inside a UTF-8 character still compares as SQLite does). */
    const char *pre = prefix != NULL ? prefix : "";
    pg_params p;
    pg_params_init(&p);
    pg_p_bytes(&p, pre, strlen(pre));
    pg_p_i64(&p, include_deleted != 0);
    void *v = NULL;
    size_t n = 0;
    evb_err e = pg_rec_list(PG_STORE(s),
                            "SELECT subject FROM schemas "
                            "WHERE substring(convert_to(subject, 'UTF8') FROM 1 "
                            "FOR length($1::bytea)) = $1::bytea "
                            "AND ($2::int <> 0 OR deleted = 0) "
                            "GROUP BY subject ORDER BY subject COLLATE \"C\"",
                            &p, sizeof(char *), store_string_from_row, &v, &n);
    if (e != EVB_OK) {
        store_strv_free(v, n);
        return e;
    }
    *out = v;
    *n_out = n;
    return EVB_OK;
}

/* ---- subject configuration ---- */

typedef struct cfg_tx {
    const char *subject;
    int level, format_mode;
} cfg_tx;

static evb_err cfg_run(pg_store *ps, PGconn *c, void *arg)
{
    (void)ps;
    const cfg_tx *x = arg;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->subject);
    pg_p_i64(&p, x->level);
    pg_p_i64(&p, x->format_mode);
    /* $2 / $3: 0 keeps the stored value, -1 clears it (0), anything else replaces it. */
    evb_err e = pg_cmd(c,
                       "INSERT INTO subject_config(subject, level, format_mode) "
                       "VALUES($1, greatest($2::int, 0), greatest($3::int, 0)) "
                       "ON CONFLICT (subject) DO UPDATE SET "
                       "level = CASE WHEN $2::int = 0 THEN subject_config.level "
                       "ELSE greatest($2::int, 0) END, "
                       "format_mode = CASE WHEN $3::int = 0 THEN subject_config.format_mode "
                       "ELSE greatest($3::int, 0) END",
                       &p, NULL);
    if (e != EVB_OK)
        return e;
    pg_params_init(&p);
    pg_p_text(&p, x->subject);
    return pg_cmd(c,
                  "DELETE FROM subject_config WHERE subject = $1 AND level = 0 "
                  "AND format_mode = 0",
                  &p, NULL);
}

evb_err pg_subject_config_set(evb_store *s, const char *subject, int level, int format_mode)
{
    if (subject == NULL || !store_subject_config_ok(level, format_mode))
        return EVB_ERR_INVALID;
    if (level == 0 && format_mode == 0)
        return EVB_OK; /* nothing to change */
    cfg_tx x = {.subject = subject, .level = level, .format_mode = format_mode};
    return pg_config_tx(PG_STORE(s), 0, cfg_run, &x);
}

evb_err pg_subject_config_get(evb_store *s, const char *subject, int *level, int *format_mode)
{
    if (subject == NULL)
        return EVB_ERR_INVALID;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, subject);
    PGresult *r = NULL;
    evb_err e = pg_query(
        PG_STORE(s), "SELECT level, format_mode FROM subject_config WHERE subject = $1", &p, &r);
    if (e != EVB_OK)
        return e;
    int lv = 0, fm = 0;
    if (PQntuples(r) > 0) {
        lv = (int)pg_i64(r, 0, 0);
        fm = (int)pg_i64(r, 0, 1);
    }
    PQclear(r);
    if (level != NULL)
        *level = lv;
    if (format_mode != NULL)
        *format_mode = fm;
    return EVB_OK;
}
