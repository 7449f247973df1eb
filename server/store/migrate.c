/* evbridge — numbered schema migrations (SQLite).
 *
 * MIGRATIONS is append-only: step N is applied once, in its own transaction together with
 * its row in schema_version (version, name, applied_ms), so a crash leaves either all of a
 * step or none of it. Later issues add steps (schemas, actions, connections, deliveries,
 * traces) at the end; never edit a step that has shipped. A database whose recorded
 * version is newer than this binary knows is refused rather than guessed at.
 *
 * Design notes on step 1:
 *  - events.seq is AUTOINCREMENT: sequence numbers never go backwards or get reused, even
 *    after the newest rows are deleted (paging, replay and deliveries rely on it).
 *  - extensions are a JSON object text {"name":"value",...} (NULL when there are none).
 *  - dedup_keys is WITHOUT ROWID keyed by (connector, org, id) (one b-tree write per
 *    event), with an index on created_ms for the bounded purge of expired keys.
 *  - connectors keep their event types as a JSON array text: always read and written whole.
 *  - api_keys keep only the hash of the secret.
 *
 * Design notes on step 2 (schema registry, store_schemas.h):
 *  - schemas.id is AUTOINCREMENT: global ids are never reused, even after the newest rows
 *    are permanently deleted (stored events' dataschema may name them).
 *  - schema_subjects keeps each subject's high-water mark (the largest version ever
 *    assigned), so a permanently deleted version number is never handed out again.
 *  - subject_config: subject "" is the global configuration; 0 = not set (a row whose
 *    values are both 0 is deleted rather than kept).
 *
 * Design notes on step 3 (routing, store_routing.h):
 *  - action and connection settings are JSON text the store does not interpret, so a new
 *    setting needs no migration. connections_by_action serves the "still in use" check
 *    that refuses an action delete.
 *  - deliveries.id is the caller's UUIDv7 (stable across retries). No foreign key to
 *    connections: delivered and dead deliveries outlive a deleted connection (traces).
 *    Indexes: due work (state, next_ms); a connection's deliveries in a state, in event
 *    order (connection_id, state, event_seq); an event's deliveries (event_seq); ordering
 *    (connection_id, ordering_key, state, event_seq) to find the head of an ordering key
 *    (dropped in step 6: dispatch_heads does that since step 4).
 *  - deliveries, delivery_attempts and event_filter cascade from their parent, so a later
 *    retention purge of events (or of deliveries) takes what hangs off them along.
 *  - delivery_attempts (one row per attempt, for TraceEvent) and event_filter (the Filter
 *    step's JSON, one row per event) are keyed by their parent's key.
 *
 * Design notes on step 5 (retention.h): events_by_recv serves the pruning of old events.
 *
 * Design notes on step 6: deliveries_by_order (step 3) has had no reader since step 4's
 * dispatch_heads finds a key's head, yet every delivery insert and every state change
 * (claim, completion) maintained it: ~15 % of the outbox bookkeeping's CPU
 * (docs/benchmarks.md, "Delivery path"). The PostgreSQL schema never had it.
 *
 * Design notes on step 4 (dispatch, store_dispatch.h):
 *  - deliveries.strict (fault tolerance NONE: a DEAD delivery blocks its ordering key) and
 *    deliveries.park_ms (0, or the due time of a delivery set aside because an older one of
 *    its ordering key is in flight; see dispatch.c). Create order is the rowid.
 *  - dispatch_leases: leased rows by lease expiry (expired leases are due again).
 *    dispatch_heads: only the rows that block an ordering key (PENDING, HELD, LEASED, and
 *    strict DEAD), so the head of a key is one index seek however long its history.
 *    dead_by_org / dead_by_connection: dead letters newest first (list, redrive by time).
 *    All partial, so they stay about as big as the work in flight or dead.
 *  - delivery_attempts is recreated (no release wrote it): outcome is text ("DELIVERED",
 *    "RETRY", ...), and it is a rowid table (insert order = attempt order) indexed by
 *    delivery, since a redrive resets a delivery's attempt numbers (no unique attempt).
 */
#include "server/store/store_int.h"

#include <stdio.h>

typedef struct migration {
    int version;
    const char *name;
    const char *sql;
} migration;

static const migration MIGRATIONS[] = {
    {1, "events, dedup keys, connectors, api keys",
     "CREATE TABLE events ("
     " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
     " id TEXT NOT NULL,"
     " org TEXT,"
     " connector TEXT,"
     " type TEXT NOT NULL,"
     " source TEXT NOT NULL,"
     " subject TEXT,"
     " time TEXT,"
     " time_ms INTEGER NOT NULL,"
     " datacontenttype TEXT,"
     " dataschema TEXT,"
     " extensions TEXT,"
     " data BLOB,"
     " recv_ms INTEGER NOT NULL);"
     "CREATE INDEX events_by_id ON events(id);"
     "CREATE INDEX events_by_oct ON events(org, connector, type, time_ms);"
     "CREATE TABLE dedup_keys ("
     " connector TEXT NOT NULL,"
     " org TEXT NOT NULL,"
     " id TEXT NOT NULL,"
     " first_id TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " PRIMARY KEY (connector, org, id)) WITHOUT ROWID;"
     "CREATE INDEX dedup_keys_by_created ON dedup_keys(created_ms);"
     "CREATE TABLE connectors ("
     " name TEXT PRIMARY KEY,"
     " display_name TEXT,"
     " isv TEXT,"
     " source TEXT,"
     " types TEXT NOT NULL,"
     " create_ms INTEGER NOT NULL,"
     " update_ms INTEGER NOT NULL);"
     "CREATE INDEX connectors_by_isv ON connectors(isv, name);"
     "CREATE TABLE api_keys ("
     " key_id TEXT PRIMARY KEY,"
     " hash TEXT NOT NULL,"
     " role TEXT NOT NULL,"
     " scope TEXT NOT NULL DEFAULT '',"
     " description TEXT,"
     " create_ms INTEGER NOT NULL,"
     " revoke_ms INTEGER NOT NULL DEFAULT 0);"},
    {2, "schema registry: schemas, schema subjects, subject config",
     "CREATE TABLE schemas ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " subject TEXT NOT NULL,"
     " version INTEGER NOT NULL,"
     " schema TEXT NOT NULL,"
     " canon_hash TEXT NOT NULL,"
     " deleted INTEGER NOT NULL DEFAULT 0,"
     " create_ms INTEGER NOT NULL,"
     " UNIQUE (subject, version));"
     "CREATE INDEX schemas_by_hash ON schemas(subject, canon_hash);"
     "CREATE TABLE schema_subjects ("
     " subject TEXT PRIMARY KEY,"
     " max_version INTEGER NOT NULL) WITHOUT ROWID;"
     "CREATE TABLE subject_config ("
     " subject TEXT PRIMARY KEY,"
     " level INTEGER NOT NULL DEFAULT 0,"
     " format_mode INTEGER NOT NULL DEFAULT 0);"},
    {3, "routing: actions, connections, deliveries, delivery attempts, event filter traces",
     "CREATE TABLE actions ("
     " name TEXT PRIMARY KEY,"
     " isv TEXT NOT NULL DEFAULT '',"
     " org TEXT NOT NULL DEFAULT '',"
     " kind INTEGER NOT NULL,"
     " config TEXT NOT NULL,"
     " disabled INTEGER NOT NULL DEFAULT 0,"
     " disabled_reason TEXT NOT NULL DEFAULT '',"
     " create_ms INTEGER NOT NULL,"
     " update_ms INTEGER NOT NULL);"
     "CREATE TABLE connections ("
     " id TEXT PRIMARY KEY,"
     " org TEXT NOT NULL,"
     " name TEXT NOT NULL,"
     " connector TEXT NOT NULL,"
     " action TEXT NOT NULL,"
     " config TEXT NOT NULL,"
     " state INTEGER NOT NULL,"
     " state_reason TEXT NOT NULL DEFAULT '',"
     " create_ms INTEGER NOT NULL,"
     " update_ms INTEGER NOT NULL,"
     " UNIQUE (org, name));"
     "CREATE INDEX connections_by_connector ON connections(org, connector);"
     "CREATE INDEX connections_by_action ON connections(action);"
     "CREATE TABLE deliveries ("
     " id TEXT PRIMARY KEY,"
     " event_seq INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,"
     " event_id TEXT NOT NULL,"
     " connection_id TEXT NOT NULL,"
     " org TEXT NOT NULL,"
     " state INTEGER NOT NULL,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " next_ms INTEGER NOT NULL,"
     " lease_ms INTEGER NOT NULL DEFAULT 0,"
     " ordering_key TEXT NOT NULL DEFAULT '',"
     " last_status INTEGER NOT NULL DEFAULT 0,"
     " last_error TEXT NOT NULL DEFAULT '',"
     " create_ms INTEGER NOT NULL,"
     " update_ms INTEGER NOT NULL);"
     "CREATE INDEX deliveries_due ON deliveries(state, next_ms);"
     "CREATE INDEX deliveries_by_connection ON deliveries(connection_id, state, event_seq);"
     "CREATE INDEX deliveries_by_event ON deliveries(event_seq);"
     "CREATE INDEX deliveries_by_order ON deliveries(connection_id, ordering_key, state, "
     "event_seq);"
     "CREATE TABLE delivery_attempts ("
     " delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,"
     " attempt INTEGER NOT NULL,"
     " time_ms INTEGER NOT NULL,"
     " outcome INTEGER NOT NULL,"
     " http_status INTEGER NOT NULL DEFAULT 0,"
     " errcode INTEGER NOT NULL DEFAULT 0,"
     " latency_ms INTEGER NOT NULL DEFAULT 0,"
     " error TEXT NOT NULL DEFAULT '',"
     " PRIMARY KEY (delivery_id, attempt)) WITHOUT ROWID;"
     "CREATE TABLE event_filter ("
     " event_seq INTEGER PRIMARY KEY REFERENCES events(seq) ON DELETE CASCADE,"
     " trace TEXT NOT NULL);"},
    {4, "dispatch: strict ordering, parking, lease/head/dead-letter indexes, attempts",
     "ALTER TABLE deliveries ADD COLUMN strict INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE deliveries ADD COLUMN park_ms INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX dispatch_leases ON deliveries(lease_ms) WHERE state = 2;"
     "CREATE INDEX dispatch_heads ON deliveries(connection_id, ordering_key) "
     "WHERE ordering_key <> '' AND (state IN (0, 1, 2) OR (state = 4 AND strict = 1));"
     "CREATE INDEX dead_by_org ON deliveries(org, update_ms, id) WHERE state = 4;"
     "CREATE INDEX dead_by_connection ON deliveries(connection_id, update_ms, id) "
     "WHERE state = 4;"
     "DROP TABLE delivery_attempts;"
     "CREATE TABLE delivery_attempts ("
     " delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,"
     " attempt INTEGER NOT NULL,"
     " time_ms INTEGER NOT NULL,"
     " outcome TEXT NOT NULL,"
     " http_status INTEGER NOT NULL DEFAULT 0,"
     " errcode INTEGER NOT NULL DEFAULT 0,"
     " latency_ms INTEGER NOT NULL DEFAULT 0,"
     " error TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts(delivery_id);"},
    {5, "retention: events by receive time", "CREATE INDEX events_by_recv ON events(recv_ms);"},
    {6, "dispatch: drop deliveries_by_order (dispatch_heads finds a key's head)",
     "DROP INDEX IF EXISTS deliveries_by_order;"},
};

#define N_MIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

static evb_err fail(sqlite3 *db, const char *path, const char *what, int rc, evb_error *err)
{
    int code = sqlite3_extended_errcode(db);
    if (rc == SQLITE_OK)
        code = SQLITE_ERROR;
    const char *hint = (code & 0xff) == SQLITE_BUSY       ? " (another process holds a lock on it)"
                       : (code & 0xff) == SQLITE_READONLY ? " (read-only)"
                       : (code & 0xff) == SQLITE_FULL     ? " (disk full)"
                                                          : "";
    evb_err e = store_map_rc(code);
    if (e == EVB_OK)
        e = EVB_ERR_INTERNAL;
    evb_error_set(err, e, NULL, "database %s: %s: %s%s", path, what, sqlite3_errmsg(db), hint);
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return e;
}

/* SELECT returning one integer (0 when no row). */
static int query_int(sqlite3 *db, const char *sql, int arg, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int(st, 1, arg);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc;
}

static int record(sqlite3 *db, const migration *m)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO schema_version(version, name, applied_ms) "
                                "VALUES(?1, ?2, ?3)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, store_now_ms());
    rc = store_step_done(st);
    sqlite3_finalize(st);
    return rc;
}

evb_err store_migrate(sqlite3 *db, const char *path, evb_error *err)
{
    int rc = sqlite3_exec(db,
                          "CREATE TABLE IF NOT EXISTS schema_version ("
                          " version INTEGER PRIMARY KEY,"
                          " name TEXT NOT NULL,"
                          " applied_ms INTEGER NOT NULL)",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail(db, path, "cannot create schema_version", rc, err);

    int64_t have = 0;
    rc = query_int(db, "SELECT coalesce(max(version), 0) FROM schema_version", 0, &have);
    if (rc != SQLITE_OK)
        return fail(db, path, "cannot read schema_version", rc, err);
    int latest = MIGRATIONS[N_MIGRATIONS - 1].version;
    if (have > latest)
        return evb_error_set(err, EVB_ERR_PRECONDITION, NULL,
                             "database %s has schema version %lld, newer than this evbridged "
                             "supports (%d): upgrade evbridged",
                             path, (long long)have, latest);

    for (int i = 0; i < N_MIGRATIONS; i++) {
        const migration *m = &MIGRATIONS[i];
        char what[160];
        snprintf(what, sizeof what, "migration %d (%s)", m->version, m->name);
        rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return fail(db, path, what, rc, err);
        int64_t done = 0;
        rc = query_int(db, "SELECT count(*) FROM schema_version WHERE version = ?1", m->version,
                       &done);
        if (rc == SQLITE_OK && !done) {
            rc = sqlite3_exec(db, m->sql, NULL, NULL, NULL);
            if (rc == SQLITE_OK)
                rc = record(db, m);
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return fail(db, path, what, rc, err);
    }
    return EVB_OK;
}
