/* evbridge — the schema registry's subject configuration (SQLite): compatibility level and
 * format mode per subject, subject "" being the global default. Contract in
 * store_schemas.h.
 *
 * One row per subject that has a value of its own; 0 means "not set" (the caller falls
 * back to the global row, then to its built-in default). A set that leaves both values at
 * 0 deletes the row, so the table never fills with empty rows. The configuration is
 * independent of the subject's versions: it may be set before the first registration and
 * survives deletes. Writes are synchronous jobs on the writer queue; reads use the pool.
 */
#include "server/store/store_common_meta.h"
#include "server/store/store_int.h"
#include "server/store/store_schemas.h"

typedef struct cfg_job {
    store_sync_job sync;
    const char *subject;
    int level, format_mode;
} cfg_job;

static evb_err cfg_exec(evb_store *s, cfg_job *x, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->wdb, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        store_bind_text(st, 1, x->subject);
        if (sqlite3_bind_parameter_count(st) >= 3) {
            sqlite3_bind_int(st, 2, x->level);
            sqlite3_bind_int(st, 3, x->format_mode);
        }
        rc = store_step_done(st);
    }
    sqlite3_finalize(st);
    return store_map_rc(rc);
}

static evb_err cfg_run(evb_store *s, store_job *j)
{
    cfg_job *x = (cfg_job *)j;
    /* ?2 / ?3: 0 keeps the stored value, -1 clears it (0), anything else replaces it. */
    evb_err e = cfg_exec(s, x,
                         "INSERT INTO subject_config(subject, level, format_mode) "
                         "VALUES(?1, max(?2, 0), max(?3, 0)) "
                         "ON CONFLICT(subject) DO UPDATE SET "
                         "level = CASE WHEN ?2 = 0 THEN level ELSE max(?2, 0) END, "
                         "format_mode = CASE WHEN ?3 = 0 THEN format_mode ELSE max(?3, 0) END");
    if (e == EVB_OK)
        e = cfg_exec(s, x,
                     "DELETE FROM subject_config WHERE subject = ?1 AND level = 0 "
                     "AND format_mode = 0");
    return e;
}

static const store_job_ops cfg_ops = {cfg_run, NULL, store_sync_complete};

evb_err sq_subject_config_set(evb_store *s, const char *subject, int level, int format_mode)
{
    if (s == NULL || subject == NULL || !store_subject_config_ok(level, format_mode))
        return EVB_ERR_INVALID;
    if (level == 0 && format_mode == 0)
        return EVB_OK; /* nothing to change */
    cfg_job x = {.sync = {.job = {.ops = &cfg_ops}},
                 .subject = subject,
                 .level = level,
                 .format_mode = format_mode};
    return store_config_run_sync(s, &x.sync);
}

evb_err sq_subject_config_get(evb_store *s, const char *subject, int *level, int *format_mode)
{
    if (s == NULL || subject == NULL)
        return EVB_ERR_INVALID;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_begin(
        s, "SELECT level, format_mode FROM subject_config WHERE subject = ?1", &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, subject);
    int lv = 0, fm = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        lv = sqlite3_column_int(st, 0);
        fm = sqlite3_column_int(st, 1);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    store_read_end(s, r, st);
    e = store_map_rc(rc);
    if (e != EVB_OK)
        return e;
    if (level != NULL)
        *level = lv;
    if (format_mode != NULL)
        *format_mode = fm;
    return EVB_OK;
}
