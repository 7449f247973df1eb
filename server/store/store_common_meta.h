/* evbridge — private header of server/store/: what both backends share for the metadata
 * records (connectors, API keys, actions, connections, schemas, subject configuration).
 *
 * The backends differ in how they run statements, not in what a record looks like: the
 * column lists, the argument checks of the write entries, the JSON text of a connector's
 * event types and the decoding of a row into a record live here once. A backend hands a row
 * to a decoder through a store_row (store_row_sqlite, defined in sqlite_util.c;
 * store_row_pg, in pg_common_meta.c), so both build records the same way. No SQL runs
 * here.
 */
#ifndef EVB_SERVER_STORE_COMMON_META_H
#define EVB_SERVER_STORE_COMMON_META_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/store/records.h"
#include "server/store/store_routing.h"
#include "server/store/store_schemas.h"

/* The columns each decoder expects, in this order, first in the row. */
#define STORE_CONNECTOR_COLS "name, display_name, isv, source, types, create_ms, update_ms"
#define STORE_KEY_COLS "key_id, hash, role, scope, description, create_ms, revoke_ms"
#define STORE_ACTION_COLS                                                                          \
    "name, isv, org, kind, config, disabled, disabled_reason, create_ms, update_ms"
#define STORE_CONNECTION_COLS                                                                      \
    "id, org, name, connector, action, config, state, state_reason, create_ms, update_ms"
#define STORE_SCHEMA_COLS "id, subject, version, schema, canon_hash, deleted, create_ms"

/* ConnectionState values (store_routing.h). */
enum { STORE_CONN_ENABLED = 1, STORE_CONN_PAUSED = 2, STORE_CONN_DISABLED = 3 };

/* ---- rows ---- */

/* One row of a result, whatever the backend. text: a malloc'd copy of column col (NULL for
 * SQL NULL; *ok cleared on allocation failure); i64: an integer column (0 for NULL). */
typedef struct store_row store_row;
struct store_row {
    char *(*text)(const store_row *r, int col, int *ok);
    int64_t (*i64)(const store_row *r, int col);
    void *src; /* the backend's statement or result */
    int row;   /* the row's index in src (PostgreSQL) */
};

struct sqlite3_stmt;
struct pg_result;
/* r reads the current row of st (SQLite) / row `row` of res (PostgreSQL). */
void store_row_sqlite(store_row *r, struct sqlite3_stmt *st);
void store_row_pg(store_row *r, struct pg_result *res, int row);

/* Decodes the row into *(T **)slot, T the record type of the decoder. On failure nothing
 * is left allocated: EVB_ERR_NOMEM, or EVB_ERR_INTERNAL for a corrupt row. */
typedef evb_err (*store_rec_fn)(const store_row *r, void *slot);

evb_err store_connector_from_row(const store_row *r, void *slot);  /* evb_connector */
evb_err store_key_from_row(const store_row *r, void *slot);        /* evb_api_key */
evb_err store_action_from_row(const store_row *r, void *slot);     /* evb_action_rec */
evb_err store_connection_from_row(const store_row *r, void *slot); /* evb_connection_rec */
evb_err store_schema_from_row(const store_row *r, void *slot);     /* evb_schema_rec */
/* Column 0 as a malloc'd string into *(char **)slot (SQL NULL: EVB_ERR_INTERNAL). */
evb_err store_string_from_row(const store_row *r, void *slot);

/* Frees n malloc'd strings and the array (NULL is a no-op). */
void store_strv_free(char **v, size_t n);

/* ---- writes: argument checks and encodings ---- */

/* A connector write's record: name, and types when n_types > 0. */
int store_connector_ok(const evb_connector *c);
/* The JSON text of c's event types: [{"type","subject","version","description"}...]
 * (members absent for NULL strings). *out is malloc'd. EVB_ERR_INVALID for a type without
 * a type name or a string that is not UTF-8. */
evb_err store_connector_types_encode(const evb_connector *c, char **out);
/* A key create's record: key_id, hash and role. */
int store_key_ok(const evb_api_key *k);
/* A connection state 1..3. */
int store_connection_state_ok(int state);
/* A connection create/update's record: id, org, name, connector, action, a valid state. */
int store_connection_ok(const evb_connection_rec *c);
/* A schema registration's arguments (store_schemas.h). */
int store_schema_register_ok(const char *subject, const char *schema, const char *canon_hash);
/* A subject configuration set's values: level -1..7, format_mode -1..2. */
int store_subject_config_ok(int level, int format_mode);

#endif
