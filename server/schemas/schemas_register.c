/* evbridge — registering data models: validate, deduplicate, check compatibility, store.
 * See schemas.h.
 *
 * Registration is optimistic: read the subject's versions, check compatibility outside any
 * lock, then store with the version the check was made against; if another registration
 * won the race the store says so and the check is repeated (a few times at most).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "registry/std_models.h"
#include "server/schemas/schemas_int.h"

#define REGISTER_TRIES 5

/* Checks the subject, compiles the schema and computes its canonical hash. */
static evb_err prepare(evb_schemas *r, const char *subject, const char *json, char hash[65],
                       evb_error *err)
{
    if (!evb_schemas_subject_valid(subject))
        return evb_error_set(err, EVB_ERR_INVALID, "subject",
                             "subject must match [a-z0-9][a-z0-9._-]{0,127}");
    if (json == NULL || json[0] == '\0')
        return evb_error_set(err, EVB_ERR_INVALID, "schema", "schema is required");
    evb_schema *compiled = NULL;
    evb_error cerr;
    evb_error_clear(&cerr);
    evb_err rc = evb_schemas_compile_text(r, json, 0, &compiled, &cerr);
    evb_schema_free(compiled);
    if (rc != EVB_OK)
        return evb_error_set(err, rc == EVB_ERR_NOMEM ? rc : EVB_ERR_INVALID, "schema",
                             "invalid schema at \"%s\": %s", cerr.pointer, cerr.message);
    char *canon = NULL;
    size_t canon_len = 0;
    rc = evb_schema_canonicalize(json, strlen(json), &canon, &canon_len, &cerr);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, "schema", "cannot canonicalise the schema: %s",
                             cerr.message);
    evb_sha256_hex(canon, canon_len, hash);
    free(canon);
    return EVB_OK;
}

/* Runs the compatibility check of `level` against the listed versions. */
static evb_err check_against(evb_compat_level level, int format_mode, const char *json,
                             evb_schema_rec *const *vs, size_t n, evb_compat_report *rep,
                             evb_error *err)
{
    const char **texts = calloc(n ? n : 1, sizeof *texts);
    int *versions = calloc(n ? n : 1, sizeof *versions);
    evb_err rc = EVB_ERR_NOMEM;
    if (texts != NULL && versions != NULL) {
        for (size_t i = 0; i < n; i++) {
            texts[i] = vs[i]->schema;
            versions[i] = vs[i]->version;
        }
        evb_compat_options opt = {.flags = format_mode == 2 ? EVB_COMPAT_FORMAT_ASSERT : 0};
        rc = evb_compat_check_ex(level, json, texts, versions, n, &opt, rep, err);
    }
    free(texts);
    free(versions);
    return rc;
}

evb_err evb_schemas_register(evb_schemas *r, const char *subject, const char *json,
                             evb_schema_rec **out, int *created, evb_compat_report *incompat,
                             evb_error *err)
{
    char hash[65];
    evb_compat_report_init(incompat);
    evb_err rc = prepare(r, subject, json, hash, err);
    for (int attempt = 0; rc == EVB_OK && attempt < REGISTER_TRIES; attempt++) {
        evb_schema_rec **vs = NULL;
        size_t n = 0;
        rc = evb_store_schema_list(r->store, subject, 0, &vs, &n);
        if (rc == EVB_ERR_NOT_FOUND) /* a new subject */
            rc = EVB_OK, vs = NULL, n = 0;
        if (rc != EVB_OK)
            break;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(vs[i]->canon_hash, hash) == 0) { /* identical content: same id */
                *out = vs[i];
                vs[i] = NULL;
                *created = 0;
                evb_schema_rec_array_free(vs, n);
                return EVB_OK;
            }
        }
        evb_compat_level level;
        int fmt;
        rc = evb_schemas_config(r, subject, &level, &fmt);
        if (rc == EVB_OK)
            rc = check_against(level, fmt, json, vs, n, incompat, err);
        int32_t latest = n > 0 ? vs[n - 1]->version : 0;
        evb_schema_rec_array_free(vs, n);
        if (rc != EVB_OK)
            break;
        if (incompat->n > 0)
            return evb_error_set(err, EVB_ERR_PRECONDITION, "schema",
                                 "schema is not %s compatible with subject %s: %s",
                                 evb_compat_level_name(level), subject, incompat->messages[0]);
        rc = evb_store_schema_register(r->store, subject, json, hash, latest, out, created);
        if (rc == EVB_ERR_PRECONDITION) { /* a concurrent registration: check again */
            rc = EVB_OK;
            continue;
        }
        if (rc == EVB_OK)
            evb_schemas_invalidate(r, subject);
        return rc;
    }
    if (rc == EVB_OK)
        rc = evb_error_set(err, EVB_ERR_UNAVAILABLE, "subject",
                           "subject %s is being changed concurrently; retry", subject);
    return rc;
}

evb_err evb_schemas_check(evb_schemas *r, const char *subject, const char *json,
                          int32_t version, evb_compat_report *rep, evb_error *err)
{
    char hash[65];
    evb_compat_report_init(rep);
    evb_err rc = prepare(r, subject, json, hash, err);
    if (rc != EVB_OK)
        return rc;
    evb_compat_level level;
    int fmt;
    if ((rc = evb_schemas_config(r, subject, &level, &fmt)) != EVB_OK)
        return rc;
    evb_schema_rec **vs = NULL;
    size_t n = 0;
    if (version > 0) {
        evb_schema_rec *one = NULL;
        rc = evb_store_schema_get(r->store, subject, version, 0, &one);
        if (rc == EVB_ERR_NOT_FOUND)
            return evb_error_set(err, rc, "version", "subject %s has no version %d", subject,
                                 (int)version);
        if (rc != EVB_OK)
            return rc;
        if (level == EVB_COMPAT_NONE)
            level = EVB_COMPAT_BACKWARD; /* an explicit version asks for a real check */
        else if (level == EVB_COMPAT_BACKWARD_TRANSITIVE)
            level = EVB_COMPAT_BACKWARD;
        else if (level == EVB_COMPAT_FORWARD_TRANSITIVE)
            level = EVB_COMPAT_FORWARD;
        else if (level == EVB_COMPAT_FULL_TRANSITIVE)
            level = EVB_COMPAT_FULL;
        rc = check_against(level, fmt, json, &one, 1, rep, err);
        evb_schema_rec_free(one);
        return rc;
    }
    rc = evb_store_schema_list(r->store, subject, 0, &vs, &n);
    if (rc == EVB_ERR_NOT_FOUND) /* nothing to be compatible with */
        rc = EVB_OK, vs = NULL, n = 0;
    if (rc == EVB_OK)
        rc = check_against(level, fmt, json, vs, n, rep, err);
    evb_schema_rec_array_free(vs, n);
    return rc;
}

evb_err evb_schemas_register_builtin(evb_schemas *r, int *n_registered, evb_error *err)
{
    size_t n = 0;
    const evb_std_model *models = evb_std_models(&n);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        evb_schema_rec *rec = NULL;
        evb_err rc = evb_store_schema_get(r->store, models[i].subject, 0, 1, &rec);
        evb_schema_rec_free(rec);
        if (rc == EVB_OK)
            continue; /* the subject exists: the operator owns it now */
        if (rc != EVB_ERR_NOT_FOUND)
            return evb_error_set(err, rc, models[i].subject, "cannot read subject %s",
                                 models[i].subject);
        evb_compat_report rep;
        int created = 0;
        rc = evb_schemas_register(r, models[i].subject, models[i].schema_json, &rec, &created,
                                  &rep, err);
        evb_compat_report_fini(&rep);
        evb_schema_rec_free(rec);
        if (rc != EVB_OK)
            return rc;
        count += created;
    }
    if (n_registered != NULL)
        *n_registered = count;
    return EVB_OK;
}
