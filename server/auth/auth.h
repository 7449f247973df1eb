/* evbridge — API keys and roles (DESIGN.md §6).
 *
 * A key reads "evb_<key_id>_<secret>": key_id is 16 hex chars (public, shown in lists),
 * secret 64 hex chars (256 random bits). The store keeps only SHA-256(secret) — a fast
 * hash is enough for 256-bit random secrets. Keys arrive as `authorization: Bearer <key>`.
 * evb_auth keeps an in-memory snapshot of the keys (sorted by key_id) so authenticating a
 * call costs one hash and one binary search; the snapshot is rebuilt after any change
 * made through this module (create, revoke). Thread-safe.
 */
#ifndef EVB_SERVER_AUTH_H
#define EVB_SERVER_AUTH_H

#include <stddef.h>

#include "common/err.h"
#include "server/store/store.h"

typedef enum evb_role {
    EVB_ROLE_NONE = 0,
    EVB_ROLE_ADMIN,
    EVB_ROLE_ISV,          /* scope: ISV name */
    EVB_ROLE_SCHEMA_OWNER, /* no scope */
    EVB_ROLE_ORG_ADMIN,    /* scope: org */
    EVB_ROLE_SUBSCRIBER    /* scope: org */
} evb_role;

#define EVB_KEY_ID_LEN 16
#define EVB_SCOPE_MAX 64

/* Who is calling. Plain value; copy freely. */
typedef struct evb_principal {
    char key_id[EVB_KEY_ID_LEN + 1];
    evb_role role;
    char scope[EVB_SCOPE_MAX + 1];
} evb_principal;

/* "admin", "isv", ... ; NULL for EVB_ROLE_NONE or unknown. */
const char *evb_role_name(evb_role r);
/* Parses a role name; EVB_ROLE_NONE when unknown. */
evb_role evb_role_parse(const char *s);
/* 1 when the role takes a scope (isv, org-admin, subscriber). */
int evb_role_scoped(evb_role r);

typedef struct evb_auth evb_auth;

/* Creates the key cache over the store (borrowed; must outlive the cache) and loads it. */
evb_err evb_auth_new(evb_store *store, evb_auth **out);
void evb_auth_free(evb_auth *a);

/* Checks an `authorization` metadata value ("Bearer <key>"; NULL = absent).
 * EVB_OK fills *out; EVB_ERR_UNAUTHENTICATED for absent, malformed, unknown or revoked
 * keys (err->message says which, without echoing the key). */
evb_err evb_auth_authenticate(evb_auth *a, const char *authorization, evb_principal *out,
                              evb_error *err);

/* Creates a key. Validates role and scope (scope required for scoped roles,
 * [A-Za-z0-9_.-]{1,64}; must be empty otherwise). On EVB_OK writes the key id and the full
 * key text (shown once) into the out buffers (>= 17 and >= 100 bytes). */
evb_err evb_auth_create_key(evb_auth *a, const char *role, const char *scope,
                            const char *description, char *key_id_out, char *key_out,
                            evb_error *err);

/* Revokes a key by id. EVB_ERR_NOT_FOUND when absent. */
evb_err evb_auth_revoke_key(evb_auth *a, const char *key_id);

/* First start: when the store holds no active admin key, creates one and writes the key
 * text to <data_dir>/admin.key with mode 0600 (replacing a stale file). *created_out is set
 * to 1 when a key was made. path_out (>= 4096 bytes) receives the file path either way. */
evb_err evb_auth_bootstrap(evb_auth *a, const char *data_dir, int *created_out, char *path_out,
                           evb_error *err);

#endif
