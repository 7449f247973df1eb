/* evbridge — PostgreSQL backend: actions and connections. Contracts in store_routing.h.
 *
 * Every write is one routing configuration transaction (pg_config_tx(routing = 1)): it
 * commits with a NOTIFY on the routing channel, so every node's routing generation moves
 * and its routing snapshot reloads. With several nodes, the races SQLite's single writer
 * rules out are settled by row locks:
 *  - an action delete first locks the action row (FOR UPDATE), then deletes it only if no
 *    connection names it; connection creates and updates lock the action they name
 *    (FOR KEY SHARE), so a connection committed (or committing) on another node is always
 *    seen by the check, and the delete never leaves a connection behind;
 *  - a state change updates the connection row first (its row lock orders it against a
 *    put that reads the state FOR SHARE), then, becoming ENABLED, turns the connection's
 *    HELD deliveries PENDING and due now in the same transaction, announcing them on the
 *    deliveries channel so every node's dispatchers look at once;
 *  - a delete removes the connection and its PENDING and HELD deliveries; a delivery a
 *    dispatcher holds locked is waited for and left alone once it is LEASED.
 * The argument checks and row decoders are shared with SQLite (store_common_meta.c); lists
 * sort with COLLATE "C" (byte order, as SQLite).
 */
#include "server/store/pg_common_meta.h"

#include "common/timeutil.h"

#include <stdlib.h>

static const char *or_empty(const char *v)
{
    return v != NULL ? v : "";
}

static const char *config_or_empty(const char *v)
{
    return v != NULL ? v : "{}";
}

/* ---- actions ---- */

enum { OP_CREATE, OP_UPDATE, OP_STATE, OP_DELETE };

typedef struct action_tx {
    int op;                  /* OP_STATE: set_disabled */
    const evb_action_rec *a; /* create, update */
    const char *name;        /* set_disabled, delete */
    int disabled;
    const char *reason;
} action_tx;

static evb_err action_create(PGconn *c, const evb_action_rec *a)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, a->name);
    pg_p_text(&p, or_empty(a->isv));
    pg_p_text(&p, or_empty(a->org));
    pg_p_i64(&p, a->kind);
    pg_p_text(&p, config_or_empty(a->config));
    pg_p_i64(&p, a->disabled != 0);
    pg_p_text(&p, a->disabled ? or_empty(a->disabled_reason) : "");
    pg_p_i64(&p, a->create_ms > 0 ? a->create_ms : evb_now_ms());
    int64_t changes = 0;
    evb_err e = pg_cmd(c,
                       "INSERT INTO actions(" STORE_ACTION_COLS ") VALUES($1, $2, $3, $4::int, "
                       "$5, $6::int, $7, $8::bigint, $8::bigint) ON CONFLICT (name) DO NOTHING",
                       &p, &changes);
    return e == EVB_OK && changes == 0 ? EVB_ERR_EXISTS : e;
}

/* The action exists and no connection names it: delete it. The lock comes first, so the
 * check below (a new statement, a new snapshot) sees every connection committed before it
 * was granted, and connections written after it wait for this transaction. */
static evb_err action_delete(PGconn *c, const char *name)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, name);
    int64_t n = 0;
    evb_err e = pg_cmd(c, "SELECT 1 FROM actions WHERE name = $1 FOR UPDATE", &p, &n);
    if (e != EVB_OK)
        return e;
    if (n == 0)
        return EVB_ERR_NOT_FOUND;
    e = pg_cmd(c,
               "DELETE FROM actions WHERE name = $1 "
               "AND NOT EXISTS (SELECT 1 FROM connections WHERE action = $1)",
               &p, &n);
    return e == EVB_OK && n == 0 ? EVB_ERR_PRECONDITION : e;
}

static evb_err action_run(pg_store *ps, PGconn *c, void *arg)
{
    (void)ps;
    const action_tx *x = arg;
    if (x->op == OP_CREATE)
        return action_create(c, x->a);
    if (x->op == OP_DELETE)
        return action_delete(c, x->name);
    pg_params p;
    pg_params_init(&p);
    const char *sql;
    if (x->op == OP_UPDATE) {
        pg_p_text(&p, x->a->name);
        pg_p_i64(&p, x->a->kind);
        pg_p_text(&p, config_or_empty(x->a->config));
        sql = "UPDATE actions SET kind = $2::int, config = $3, update_ms = $4::bigint "
              "WHERE name = $1";
    } else {
        pg_p_text(&p, x->name);
        pg_p_i64(&p, x->disabled != 0);
        pg_p_text(&p, x->disabled ? or_empty(x->reason) : "");
        sql = "UPDATE actions SET disabled = $2::int, disabled_reason = $3, "
              "update_ms = $4::bigint WHERE name = $1";
    }
    pg_p_i64(&p, evb_now_ms());
    int64_t changes = 0;
    evb_err e = pg_cmd(c, sql, &p, &changes);
    return e == EVB_OK && changes == 0 ? EVB_ERR_NOT_FOUND : e;
}

evb_err pg_action_create(evb_store *s, const evb_action_rec *a)
{
    if (a == NULL || a->name == NULL)
        return EVB_ERR_INVALID;
    action_tx x = {.op = OP_CREATE, .a = a};
    return pg_config_tx(PG_STORE(s), 1, action_run, &x);
}

evb_err pg_action_update(evb_store *s, const evb_action_rec *a)
{
    if (a == NULL || a->name == NULL)
        return EVB_ERR_INVALID;
    action_tx x = {.op = OP_UPDATE, .a = a};
    return pg_config_tx(PG_STORE(s), 1, action_run, &x);
}

evb_err pg_action_set_disabled(evb_store *s, const char *name, int disabled, const char *reason)
{
    if (name == NULL)
        return EVB_ERR_INVALID;
    action_tx x = {.op = OP_STATE, .name = name, .disabled = disabled, .reason = reason};
    return pg_config_tx(PG_STORE(s), 1, action_run, &x);
}

evb_err pg_action_delete(evb_store *s, const char *name)
{
    if (name == NULL)
        return EVB_ERR_INVALID;
    action_tx x = {.op = OP_DELETE, .name = name};
    return pg_config_tx(PG_STORE(s), 1, action_run, &x);
}

evb_err pg_action_get(evb_store *s, const char *name, evb_action_rec **out)
{
    if (name == NULL || out == NULL)
        return EVB_ERR_INVALID;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, name);
    return pg_rec_get(PG_STORE(s), "SELECT " STORE_ACTION_COLS " FROM actions WHERE name = $1", &p,
                      store_action_from_row, out);
}

evb_err pg_action_list(evb_store *s, const char *isv, const char *org, evb_action_rec ***out,
                       size_t *n_out)
{
    if (out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, isv);
    pg_p_text(&p, org);
    void *as = NULL;
    size_t n = 0;
    evb_err e = pg_rec_list(PG_STORE(s),
                            "SELECT " STORE_ACTION_COLS " FROM actions "
                            "WHERE ($1::text IS NULL OR isv = $1) "
                            "AND ($2::text IS NULL OR org = $2) ORDER BY name COLLATE \"C\"",
                            &p, sizeof(evb_action_rec *), store_action_from_row, &as, &n);
    if (e != EVB_OK) {
        evb_action_rec_array_free(as, n);
        return e;
    }
    *out = as;
    *n_out = n;
    return EVB_OK;
}

/* ---- connections ---- */

typedef struct connection_tx {
    int op;
    const evb_connection_rec *c; /* create, update */
    const char *id;              /* state, delete */
    int state;
    const char *reason;
} connection_tx;

/* Holds the named action against a concurrent delete until this transaction ends (no
 * error when it does not exist: the service layer checks references). */
static evb_err action_hold(PGconn *c, const char *action)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, action);
    return pg_cmd(c, "SELECT 1 FROM actions WHERE name = $1 FOR KEY SHARE", &p, NULL);
}

/* The connection's HELD deliveries become PENDING, due now; announced to every node. */
static evb_err release_held(pg_store *ps, PGconn *c, const char *id, int64_t now)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    pg_p_i64(&p, EVB_DELIVERY_PENDING);
    pg_p_i64(&p, EVB_DELIVERY_HELD);
    pg_p_i64(&p, now);
    int64_t changes = 0;
    evb_err e = pg_cmd(c,
                       "UPDATE deliveries SET state = $2::int, next_ms = $4::bigint, "
                       "update_ms = $4::bigint WHERE connection_id = $1 AND state = $3::int",
                       &p, &changes);
    if (e == EVB_OK && changes > 0)
        e = pg_notify_deliveries(ps, c);
    return e;
}

static evb_err connection_create(PGconn *c, const evb_connection_rec *r)
{
    evb_err e = action_hold(c, r->action);
    if (e != EVB_OK)
        return e;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, r->id);
    pg_p_text(&p, r->org);
    pg_p_text(&p, r->name);
    pg_p_text(&p, r->connector);
    pg_p_text(&p, r->action);
    pg_p_text(&p, config_or_empty(r->config));
    pg_p_i64(&p, r->state);
    pg_p_text(&p, or_empty(r->state_reason));
    pg_p_i64(&p, r->create_ms > 0 ? r->create_ms : evb_now_ms());
    int64_t changes = 0;
    e = pg_cmd(c,
               "INSERT INTO connections(" STORE_CONNECTION_COLS ") VALUES($1, $2, $3, $4, $5, "
               "$6, $7::int, $8, $9::bigint, $9::bigint) ON CONFLICT DO NOTHING",
               &p, &changes);
    return e == EVB_OK && changes == 0 ? EVB_ERR_EXISTS : e;
}

static evb_err connection_update(pg_store *ps, PGconn *c, const evb_connection_rec *r)
{
    evb_err e = action_hold(c, r->action);
    if (e != EVB_OK)
        return e;
    int64_t now = evb_now_ms();
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, r->id);
    pg_p_text(&p, r->name);
    pg_p_text(&p, r->connector);
    pg_p_text(&p, r->action);
    pg_p_text(&p, config_or_empty(r->config));
    pg_p_i64(&p, r->state);
    pg_p_text(&p, or_empty(r->state_reason));
    pg_p_i64(&p, now);
    int64_t changes = 0;
    /* A name taken in the org is a unique violation: EVB_ERR_EXISTS from pg_cmd. */
    e = pg_cmd(c,
               "UPDATE connections SET name = $2, connector = $3, action = $4, config = $5, "
               "state = $6::int, state_reason = $7, update_ms = $8::bigint WHERE id = $1",
               &p, &changes);
    if (e == EVB_OK && changes == 0)
        return EVB_ERR_NOT_FOUND;
    if (e == EVB_OK && r->state == STORE_CONN_ENABLED)
        e = release_held(ps, c, r->id, now);
    return e;
}

static evb_err connection_state(pg_store *ps, PGconn *c, const connection_tx *x)
{
    int64_t now = evb_now_ms();
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->id);
    pg_p_i64(&p, x->state);
    pg_p_text(&p, or_empty(x->reason));
    pg_p_i64(&p, now);
    int64_t changes = 0;
    evb_err e = pg_cmd(c,
                       "UPDATE connections SET state = $2::int, state_reason = $3, "
                       "update_ms = $4::bigint WHERE id = $1",
                       &p, &changes);
    if (e == EVB_OK && changes == 0)
        return EVB_ERR_NOT_FOUND;
    if (e == EVB_OK && x->state == STORE_CONN_ENABLED)
        e = release_held(ps, c, x->id, now);
    return e;
}

static evb_err connection_delete(PGconn *c, const char *id)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    int64_t changes = 0;
    evb_err e = pg_cmd(c, "DELETE FROM connections WHERE id = $1", &p, &changes);
    if (e != EVB_OK)
        return e;
    if (changes == 0)
        return EVB_ERR_NOT_FOUND;
    pg_p_i64(&p, EVB_DELIVERY_PENDING);
    pg_p_i64(&p, EVB_DELIVERY_HELD);
    return pg_cmd(c,
                  "DELETE FROM deliveries WHERE connection_id = $1 "
                  "AND state IN ($2::int, $3::int)",
                  &p, NULL);
}

static evb_err connection_run(pg_store *ps, PGconn *c, void *arg)
{
    const connection_tx *x = arg;
    switch (x->op) {
    case OP_CREATE:
        return connection_create(c, x->c);
    case OP_UPDATE:
        return connection_update(ps, c, x->c);
    case OP_STATE:
        return connection_state(ps, c, x);
    default:
        return connection_delete(c, x->id);
    }
}

evb_err pg_connection_create(evb_store *s, const evb_connection_rec *c)
{
    if (!store_connection_ok(c))
        return EVB_ERR_INVALID;
    connection_tx x = {.op = OP_CREATE, .c = c};
    return pg_config_tx(PG_STORE(s), 1, connection_run, &x);
}

evb_err pg_connection_update(evb_store *s, const evb_connection_rec *c)
{
    if (!store_connection_ok(c))
        return EVB_ERR_INVALID;
    connection_tx x = {.op = OP_UPDATE, .c = c};
    return pg_config_tx(PG_STORE(s), 1, connection_run, &x);
}

evb_err pg_connection_set_state(evb_store *s, const char *id, int state, const char *reason)
{
    if (id == NULL || !store_connection_state_ok(state))
        return EVB_ERR_INVALID;
    connection_tx x = {.op = OP_STATE, .id = id, .state = state, .reason = reason};
    return pg_config_tx(PG_STORE(s), 1, connection_run, &x);
}

evb_err pg_connection_delete(evb_store *s, const char *id)
{
    if (id == NULL)
        return EVB_ERR_INVALID;
    connection_tx x = {.op = OP_DELETE, .id = id};
    return pg_config_tx(PG_STORE(s), 1, connection_run, &x);
}

evb_err pg_connection_get(evb_store *s, const char *id, evb_connection_rec **out)
{
    if (id == NULL || out == NULL)
        return EVB_ERR_INVALID;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, id);
    return pg_rec_get(PG_STORE(s),
                      "SELECT " STORE_CONNECTION_COLS " FROM connections WHERE id = $1", &p,
                      store_connection_from_row, out);
}

static evb_err connection_query(evb_store *s, const char *sql, const pg_params *p,
                                evb_connection_rec ***out, size_t *n_out)
{
    if (out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    void *cs = NULL;
    size_t n = 0;
    evb_err e = pg_rec_list(PG_STORE(s), sql, p, sizeof(evb_connection_rec *),
                            store_connection_from_row, &cs, &n);
    if (e != EVB_OK) {
        evb_connection_rec_array_free(cs, n);
        return e;
    }
    *out = cs;
    *n_out = n;
    return EVB_OK;
}

evb_err pg_connection_list(evb_store *s, const char *org, const char *connector,
                           evb_connection_rec ***out, size_t *n_out)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, org);
    pg_p_text(&p, connector);
    return connection_query(s,
                            "SELECT " STORE_CONNECTION_COLS " FROM connections "
                            "WHERE ($1::text IS NULL OR org = $1) "
                            "AND ($2::text IS NULL OR connector = $2) "
                            "ORDER BY org COLLATE \"C\", name COLLATE \"C\"",
                            &p, out, n_out);
}

evb_err pg_connection_all(evb_store *s, evb_connection_rec ***out, size_t *n_out)
{
    return connection_query(
        s, "SELECT " STORE_CONNECTION_COLS " FROM connections ORDER BY id COLLATE \"C\"", NULL, out,
        n_out);
}
