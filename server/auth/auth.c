/* evbridge — API key authentication over an in-memory snapshot. See auth.h.
 *
 * The snapshot is an immutable sorted array of (key_id, hash, role, scope, revoked)
 * swapped under a mutex; readers take a reference-free copy of the pointer while holding
 * the lock only for the lookup (lookups are short), so no reader ever sees a half-built
 * snapshot.
 * Keys changed elsewhere — by another node on a shared (PostgreSQL) store — are picked up
 * through the store's configuration generation: a call that finds it moved reloads the
 * snapshot first (one caller at a time; the others keep using the current snapshot, and a
 * failed reload is retried at most once a second).
 */
#include "server/auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/id.h"
#include "common/text.h"
#include "common/timeutil.h"

#define SECRET_HEX_LEN 64

typedef struct key_entry {
    char key_id[EVB_KEY_ID_LEN + 1];
    char hash[65];
    evb_role role;
    char scope[EVB_SCOPE_MAX + 1];
    int revoked;
} key_entry;

struct evb_auth {
    evb_store *store;
    pthread_mutex_t mu;
    key_entry *keys; /* sorted by key_id */
    size_t n_keys;
    pthread_mutex_t reload_mu;    /* one reload at a time */
    atomic_uint_fast64_t gen;     /* the store's configuration generation of the snapshot */
    atomic_int_fast64_t retry_ms; /* after a failed reload: not before this time */
};

#define RELOAD_RETRY_MS 1000

static const char *const role_names[] = {
    [EVB_ROLE_ADMIN] = "admin",
    [EVB_ROLE_ISV] = "isv",
    [EVB_ROLE_SCHEMA_OWNER] = "schema-owner",
    [EVB_ROLE_ORG_ADMIN] = "org-admin",
    [EVB_ROLE_SUBSCRIBER] = "subscriber",
};

const char *evb_role_name(evb_role r)
{
    if (r <= EVB_ROLE_NONE || r > EVB_ROLE_SUBSCRIBER)
        return NULL;
    return role_names[r];
}

evb_role evb_role_parse(const char *s)
{
    for (int r = EVB_ROLE_ADMIN; s != NULL && r <= EVB_ROLE_SUBSCRIBER; r++)
        if (strcmp(s, role_names[r]) == 0)
            return (evb_role)r;
    return EVB_ROLE_NONE;
}

int evb_role_scoped(evb_role r)
{
    return r == EVB_ROLE_ISV || r == EVB_ROLE_ORG_ADMIN || r == EVB_ROLE_SUBSCRIBER;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const key_entry *)a)->key_id, ((const key_entry *)b)->key_id);
}

/* Rebuilds the snapshot from the store. */
static evb_err reload(evb_auth *a)
{
    evb_api_key **ks = NULL;
    size_t n = 0;
    uint64_t gen = evb_store_config_generation(a->store); /* before reading the keys */
    evb_err rc = evb_store_key_list(a->store, 1, &ks, &n);
    if (rc != EVB_OK) {
        atomic_store(&a->retry_ms, evb_now_ms() + RELOAD_RETRY_MS);
        return rc;
    }
    key_entry *arr = calloc(n ? n : 1, sizeof *arr);
    if (arr == NULL) {
        evb_api_key_array_free(ks, n);
        return EVB_ERR_NOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const evb_api_key *k = ks[i];
        if (strlen(k->key_id) != EVB_KEY_ID_LEN || strlen(k->hash) != 64)
            continue;
        key_entry *e = &arr[m++];
        memcpy(e->key_id, k->key_id, EVB_KEY_ID_LEN + 1);
        memcpy(e->hash, k->hash, 65);
        e->role = evb_role_parse(k->role);
        snprintf(e->scope, sizeof e->scope, "%s", k->scope ? k->scope : "");
        e->revoked = k->revoke_ms != 0;
    }
    evb_api_key_array_free(ks, n);
    qsort(arr, m, sizeof *arr, cmp_entry);
    pthread_mutex_lock(&a->mu);
    key_entry *old = a->keys;
    a->keys = arr;
    a->n_keys = m;
    pthread_mutex_unlock(&a->mu);
    free(old);
    atomic_store(&a->gen, gen);
    return EVB_OK;
}

/* Reloads when the store's configuration moved since the snapshot (see the top). */
static void refresh(evb_auth *a)
{
    if (evb_store_config_generation(a->store) == atomic_load(&a->gen) ||
        evb_now_ms() < atomic_load(&a->retry_ms))
        return;
    if (pthread_mutex_trylock(&a->reload_mu) != 0)
        return; /* another caller is reloading */
    if (evb_store_config_generation(a->store) != atomic_load(&a->gen))
        reload(a); /* a failure keeps the current snapshot */
    pthread_mutex_unlock(&a->reload_mu);
}

evb_err evb_auth_new(evb_store *store, evb_auth **out)
{
    evb_auth *a = calloc(1, sizeof *a);
    if (a == NULL)
        return EVB_ERR_NOMEM;
    a->store = store;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->reload_mu, NULL);
    atomic_init(&a->gen, 0);
    atomic_init(&a->retry_ms, 0);
    evb_err rc = reload(a);
    if (rc != EVB_OK) {
        evb_auth_free(a);
        return rc;
    }
    *out = a;
    return EVB_OK;
}

void evb_auth_free(evb_auth *a)
{
    if (a == NULL)
        return;
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->reload_mu);
    free(a->keys);
    free(a);
}

/* Splits "evb_<16 hex>_<64 hex>". Returns 1 on the right shape. */
static int split_key(const char *key, char *key_id, const char **secret)
{
    if (strncmp(key, "evb_", 4) != 0 || strlen(key) != 4 + EVB_KEY_ID_LEN + 1 + SECRET_HEX_LEN)
        return 0;
    if (key[4 + EVB_KEY_ID_LEN] != '_')
        return 0;
    memcpy(key_id, key + 4, EVB_KEY_ID_LEN);
    key_id[EVB_KEY_ID_LEN] = '\0';
    *secret = key + 4 + EVB_KEY_ID_LEN + 1;
    return evb_str_matches(key_id, "0-9a-f", EVB_KEY_ID_LEN, EVB_KEY_ID_LEN) &&
           evb_str_matches(*secret, "0-9a-f", SECRET_HEX_LEN, SECRET_HEX_LEN);
}

evb_err evb_auth_authenticate(evb_auth *a, const char *authorization, evb_principal *out,
                              evb_error *err)
{
    if (authorization == NULL || authorization[0] == '\0')
        return evb_error_set(err, EVB_ERR_UNAUTHENTICATED, "authorization",
                             "missing API key: send metadata \"authorization: Bearer <key>\"");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return evb_error_set(err, EVB_ERR_UNAUTHENTICATED, "authorization",
                             "authorization metadata must be \"Bearer <key>\"");
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    char key_id[EVB_KEY_ID_LEN + 1];
    const char *secret = NULL;
    if (!split_key(key, key_id, &secret))
        return evb_error_set(err, EVB_ERR_UNAUTHENTICATED, "authorization", "malformed API key");
    char hash[65];
    evb_sha256_hex(secret, SECRET_HEX_LEN, hash);
    refresh(a);
    key_entry probe;
    memcpy(probe.key_id, key_id, sizeof probe.key_id);
    evb_err rc = EVB_ERR_UNAUTHENTICATED;
    pthread_mutex_lock(&a->mu);
    const key_entry *e = bsearch(&probe, a->keys, a->n_keys, sizeof *a->keys, cmp_entry);
    if (e != NULL && !e->revoked && evb_ct_equal(e->hash, hash, 64) && e->role != EVB_ROLE_NONE) {
        memcpy(out->key_id, e->key_id, sizeof out->key_id);
        out->role = e->role;
        memcpy(out->scope, e->scope, sizeof out->scope);
        rc = EVB_OK;
    } else if (e != NULL && e->revoked) {
        evb_error_set(err, rc, "authorization", "API key %s is revoked", key_id);
    } else {
        evb_error_set(err, rc, "authorization", "unknown API key");
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* evb_auth_create_key; first_admin: only while the store has no active admin key
 * (EVB_ERR_EXISTS otherwise, nothing created). */
static evb_err create_key(evb_auth *a, const char *role, const char *scope, const char *description,
                          int first_admin, char *key_id_out, char *key_out, evb_error *err)
{
    evb_role r = evb_role_parse(role);
    if (r == EVB_ROLE_NONE)
        return evb_error_set(err, EVB_ERR_INVALID, "role",
                             "role must be one of admin, isv, schema-owner, org-admin, "
                             "subscriber");
    if (scope == NULL)
        scope = "";
    if (evb_role_scoped(r) && !evb_str_matches(scope, "A-Za-z0-9_.-", 1, EVB_SCOPE_MAX))
        return evb_error_set(err, EVB_ERR_INVALID, "scope",
                             "role %s needs a scope matching [A-Za-z0-9_.-]{1,64}", role);
    if (!evb_role_scoped(r) && scope[0] != '\0')
        return evb_error_set(err, EVB_ERR_INVALID, "scope", "role %s takes no scope", role);
    if (description != NULL && strlen(description) > 1024)
        return evb_error_set(err, EVB_ERR_INVALID, "description",
                             "description is longer than 1024 bytes");
    char key_id[EVB_KEY_ID_LEN + 1], secret[SECRET_HEX_LEN + 1], hash[65];
    evb_err rc = evb_random_hex(key_id, sizeof key_id, EVB_KEY_ID_LEN / 2);
    if (rc == EVB_OK)
        rc = evb_random_hex(secret, sizeof secret, SECRET_HEX_LEN / 2);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, NULL, "cannot generate a key: %s", evb_strerror(rc));
    evb_sha256_hex(secret, SECRET_HEX_LEN, hash);
    evb_api_key k = {
        .key_id = key_id,
        .hash = hash,
        .role = (char *)evb_role_name(r),
        .scope = (char *)scope,
        .description = (char *)description,
        .create_ms = evb_now_ms(),
    };
    rc = first_admin ? evb_store_key_create_first_admin(a->store, &k)
                     : evb_store_key_create(a->store, &k);
    if (rc == EVB_ERR_EXISTS && first_admin)
        return rc;
    if (rc != EVB_OK)
        return evb_error_set(err, rc, NULL, "cannot store the key: %s", evb_strerror(rc));
    rc = reload(a);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, NULL, "cannot reload keys: %s", evb_strerror(rc));
    memcpy(key_id_out, key_id, sizeof key_id);
    snprintf(key_out, 100, "evb_%s_%s", key_id, secret);
    return EVB_OK;
}

evb_err evb_auth_revoke_key(evb_auth *a, const char *key_id)
{
    evb_err rc = evb_store_key_revoke(a->store, key_id, evb_now_ms());
    if (rc == EVB_OK)
        rc = reload(a);
    return rc;
}

/* Writes text + "\n" to path with mode 0600 via a temporary file and rename. */
static evb_err write_secret_file(const char *path, const char *text, evb_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return evb_error_set(err, EVB_ERR_IO, NULL, "cannot create %s: %s", tmp, strerror(errno));
    size_t n = strlen(text);
    int ok = fchmod(fd, 0600) == 0 && write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
             fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        saved = ok ? errno : saved;
        unlink(tmp);
        return evb_error_set(err, EVB_ERR_IO, NULL, "cannot write %s: %s", path, strerror(saved));
    }
    return EVB_OK;
}

evb_err evb_auth_create_key(evb_auth *a, const char *role, const char *scope,
                            const char *description, char *key_id_out, char *key_out,
                            evb_error *err)
{
    return create_key(a, role, scope, description, 0, key_id_out, key_out, err);
}

evb_err evb_auth_bootstrap(evb_auth *a, const char *data_dir, int *created_out, char *path_out,
                           evb_error *err)
{
    snprintf(path_out, 4096, "%s/admin.key", data_dir);
    *created_out = 0;
    int64_t n_admin = 0;
    evb_err rc = evb_store_key_count_admin(a->store, &n_admin);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, NULL, "cannot count admin keys: %s", evb_strerror(rc));
    if (n_admin > 0)
        return EVB_OK;
    char key_id[EVB_KEY_ID_LEN + 1], key[100];
    /* Atomic in the store: of several nodes starting at once on one database, one makes it. */
    rc = create_key(a, "admin", "", "created at first start", 1, key_id, key, err);
    if (rc == EVB_ERR_EXISTS) { /* another node was first: its key is the admin key */
        reload(a);              /* a failure here is retried by the next call's refresh */
        return EVB_OK;
    }
    if (rc != EVB_OK)
        return rc;
    rc = write_secret_file(path_out, key, err);
    if (rc != EVB_OK) {
        evb_auth_revoke_key(a, key_id);
        return rc;
    }
    *created_out = 1;
    return EVB_OK;
}
