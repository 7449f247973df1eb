/* evbridge — PostgreSQL backend: numbered schema migrations.
 *
 * As for SQLite (migrate.c): MIGRATIONS is append-only; step N runs once, in one
 * transaction with its schema_version row, and a database recorded newer than this binary
 * is refused. Nodes may start together: the whole check-and-apply runs under a session
 * advisory lock, so one node migrates while the others wait and then find nothing to do.
 *
 * Steps 1-2 are the SQLite schema of steps 1-4 in PostgreSQL types, with these differences:
 *  - events.seq and schemas.id are identity columns (sequences never hand a value out
 *    twice, as SQLite's AUTOINCREMENT); data is bytea; times are bigint milliseconds;
 *  - deliveries.rid (identity) is the create order SQLite takes from the rowid, and
 *    delivery_attempts.aid the attempt order;
 *  - with several nodes, seq order is the order rows were inserted, which can differ from
 *    the order transactions committed (see docs/operations.md on paging).
 * Upgrade path: a new binary adds step N+1 here; the first node that starts applies it.
 * Steps must keep older nodes working during a rolling upgrade (add columns with defaults,
 * add tables and indexes; never drop or rename what a running node reads).
 */
#include "server/store/pg_int.h"

#include "common/timeutil.h"

#include <stdio.h>
#include <string.h>

/* An arbitrary constant of ours: the advisory lock that serializes migrations. */
#define MIGRATE_LOCK "7453982211"

typedef struct pg_migration {
    int version;
    const char *name;
    const char *sql;
} pg_migration;

static const pg_migration MIGRATIONS[] = {
    {1, "events, dedup keys, connectors, api keys",
     "CREATE TABLE events ("
     " seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     " id TEXT NOT NULL,"
     " org TEXT,"
     " connector TEXT,"
     " type TEXT NOT NULL,"
     " source TEXT NOT NULL,"
     " subject TEXT,"
     " time TEXT,"
     " time_ms BIGINT NOT NULL,"
     " datacontenttype TEXT,"
     " dataschema TEXT,"
     " extensions TEXT,"
     " data BYTEA,"
     " recv_ms BIGINT NOT NULL);"
     "CREATE INDEX events_by_id ON events(id);"
     "CREATE INDEX events_by_oct ON events(org, connector, type, time_ms);"
     "CREATE INDEX events_by_recv ON events(recv_ms);"
     "CREATE TABLE dedup_keys ("
     " connector TEXT NOT NULL,"
     " org TEXT NOT NULL,"
     " id TEXT NOT NULL,"
     " first_id TEXT NOT NULL,"
     " created_ms BIGINT NOT NULL,"
     " PRIMARY KEY (connector, org, id));"
     "CREATE INDEX dedup_keys_by_created ON dedup_keys(created_ms);"
     "CREATE TABLE connectors ("
     " name TEXT PRIMARY KEY,"
     " display_name TEXT,"
     " isv TEXT,"
     " source TEXT,"
     " types TEXT NOT NULL,"
     " create_ms BIGINT NOT NULL,"
     " update_ms BIGINT NOT NULL);"
     "CREATE INDEX connectors_by_isv ON connectors(isv, name);"
     "CREATE TABLE api_keys ("
     " key_id TEXT PRIMARY KEY,"
     " hash TEXT NOT NULL,"
     " role TEXT NOT NULL,"
     " scope TEXT NOT NULL DEFAULT '',"
     " description TEXT,"
     " create_ms BIGINT NOT NULL,"
     " revoke_ms BIGINT NOT NULL DEFAULT 0);"},
    {2, "schema registry, routing, deliveries, attempts, filter traces",
     "CREATE TABLE schemas ("
     " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     " subject TEXT NOT NULL,"
     " version INTEGER NOT NULL,"
     " schema TEXT NOT NULL,"
     " canon_hash TEXT NOT NULL,"
     " deleted INTEGER NOT NULL DEFAULT 0,"
     " create_ms BIGINT NOT NULL,"
     " UNIQUE (subject, version));"
     "CREATE INDEX schemas_by_hash ON schemas(subject, canon_hash);"
     "CREATE TABLE schema_subjects ("
     " subject TEXT PRIMARY KEY,"
     " max_version INTEGER NOT NULL);"
     "CREATE TABLE subject_config ("
     " subject TEXT PRIMARY KEY,"
     " level INTEGER NOT NULL DEFAULT 0,"
     " format_mode INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE actions ("
     " name TEXT PRIMARY KEY,"
     " isv TEXT NOT NULL DEFAULT '',"
     " org TEXT NOT NULL DEFAULT '',"
     " kind INTEGER NOT NULL,"
     " config TEXT NOT NULL,"
     " disabled INTEGER NOT NULL DEFAULT 0,"
     " disabled_reason TEXT NOT NULL DEFAULT '',"
     " create_ms BIGINT NOT NULL,"
     " update_ms BIGINT NOT NULL);"
     "CREATE TABLE connections ("
     " id TEXT PRIMARY KEY,"
     " org TEXT NOT NULL,"
     " name TEXT NOT NULL,"
     " connector TEXT NOT NULL,"
     " action TEXT NOT NULL,"
     " config TEXT NOT NULL,"
     " state INTEGER NOT NULL,"
     " state_reason TEXT NOT NULL DEFAULT '',"
     " create_ms BIGINT NOT NULL,"
     " update_ms BIGINT NOT NULL,"
     " UNIQUE (org, name));"
     "CREATE INDEX connections_by_connector ON connections(org, connector);"
     "CREATE INDEX connections_by_action ON connections(action);"
     "CREATE TABLE deliveries ("
     " id TEXT PRIMARY KEY,"
     " rid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,"
     " event_seq BIGINT NOT NULL REFERENCES events(seq) ON DELETE CASCADE,"
     " event_id TEXT NOT NULL,"
     " connection_id TEXT NOT NULL,"
     " org TEXT NOT NULL,"
     " state INTEGER NOT NULL,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " next_ms BIGINT NOT NULL,"
     " lease_ms BIGINT NOT NULL DEFAULT 0,"
     " ordering_key TEXT NOT NULL DEFAULT '',"
     " last_status BIGINT NOT NULL DEFAULT 0,"
     " last_error TEXT NOT NULL DEFAULT '',"
     " create_ms BIGINT NOT NULL,"
     " update_ms BIGINT NOT NULL,"
     " strict INTEGER NOT NULL DEFAULT 0,"
     " park_ms BIGINT NOT NULL DEFAULT 0);"
     "CREATE INDEX deliveries_due ON deliveries(state, next_ms);"
     "CREATE INDEX deliveries_by_connection ON deliveries(connection_id, state, event_seq);"
     "CREATE INDEX deliveries_by_event ON deliveries(event_seq);"
     "CREATE INDEX dispatch_leases ON deliveries(lease_ms) WHERE state = 2;"
     "CREATE INDEX dispatch_heads ON deliveries(connection_id, ordering_key, rid) "
     "WHERE ordering_key <> '' AND (state IN (0, 1, 2) OR (state = 4 AND strict = 1));"
     "CREATE INDEX dead_by_org ON deliveries(org, update_ms, id) WHERE state = 4;"
     "CREATE INDEX dead_by_connection ON deliveries(connection_id, update_ms, id) "
     "WHERE state = 4;"
     "CREATE TABLE delivery_attempts ("
     " aid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
     " delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,"
     " attempt INTEGER NOT NULL,"
     " time_ms BIGINT NOT NULL,"
     " outcome TEXT NOT NULL,"
     " http_status INTEGER NOT NULL DEFAULT 0,"
     " errcode BIGINT NOT NULL DEFAULT 0,"
     " latency_ms BIGINT NOT NULL DEFAULT 0,"
     " error TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts(delivery_id);"
     "CREATE TABLE event_filter ("
     " event_seq BIGINT PRIMARY KEY REFERENCES events(seq) ON DELETE CASCADE,"
     " trace TEXT NOT NULL);"},
};

#define N_MIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

static evb_err fail(PGconn *c, evb_err e, const char *what, evb_error *err)
{
    evb_error_set(err, e, "store", "PostgreSQL: %s failed: %s", what,
                  PQstatus(c) == CONNECTION_OK ? "see the log" : "connection lost");
    return e;
}

static evb_err current_version(PGconn *c, int *out)
{
    PGresult *r = NULL;
    evb_err e = pg_exec(c,
                        "CREATE TABLE IF NOT EXISTS schema_version ("
                        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                        " applied_ms BIGINT NOT NULL)",
                        NULL, NULL);
    if (e == EVB_OK)
        e = pg_exec(c, "SELECT coalesce(max(version), 0) FROM schema_version", NULL, &r);
    if (e == EVB_OK)
        *out = (int)pg_i64(r, 0, 0);
    PQclear(r);
    return e;
}

static evb_err apply(PGconn *c, const pg_migration *m)
{
    evb_err e = pg_cmd(c, "BEGIN", NULL, NULL);
    if (e == EVB_OK)
        e = pg_cmd(c, m->sql, NULL, NULL);
    if (e == EVB_OK) {
        pg_params p;
        pg_params_init(&p);
        pg_p_i64(&p, m->version);
        pg_p_text(&p, m->name);
        pg_p_i64(&p, evb_now_ms());
        e = pg_cmd(c, "INSERT INTO schema_version(version, name, applied_ms) VALUES($1, $2, $3)",
                   &p, NULL);
    }
    if (e == EVB_OK)
        e = pg_cmd(c, "COMMIT", NULL, NULL);
    if (e != EVB_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        pg_cmd(c, "ROLLBACK", NULL, NULL);
    return e;
}

evb_err pg_migrate(PGconn *c, evb_error *err)
{
    /* Session lock: taken before reading the version, released at the end either way. */
    evb_err e = pg_cmd(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", NULL, NULL);
    if (e != EVB_OK)
        return fail(c, e, "taking the migration lock", err);
    int have = 0;
    e = current_version(c, &have);
    if (e != EVB_OK) {
        fail(c, e, "reading the schema version", err);
    } else if (have > N_MIGRATIONS) {
        e = evb_error_set(err, EVB_ERR_PRECONDITION, "store",
                          "PostgreSQL database schema version %d is newer than this evbridged "
                          "knows (%d): upgrade evbridged",
                          have, N_MIGRATIONS);
    } else {
        for (int i = have; i < N_MIGRATIONS && e == EVB_OK; i++) {
            e = apply(c, &MIGRATIONS[i]);
            if (e != EVB_OK) {
                char what[128];
                snprintf(what, sizeof what, "migration %d (%s)", MIGRATIONS[i].version,
                         MIGRATIONS[i].name);
                fail(c, e, what, err);
            }
        }
    }
    pg_cmd(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", NULL, NULL);
    return e;
}
