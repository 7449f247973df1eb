/* evbridge — data models: compiled-model cache, registration with compatibility checks.
 * See schemas.h.
 *
 * The cache maps (subject, requested version) to a reference-counted model; requested
 * version 0 is the subject's "latest" mapping. A global epoch, bumped by every
 * invalidation, keeps a lookup that raced with a registration from caching a stale
 * "latest": a model is inserted only if no invalidation happened since its lookup began.
 * Changes made elsewhere (another node on a shared store: new versions, deletes, subject
 * configuration) show as a new store configuration generation: the next lookup then drops
 * the whole cache before looking (models are recompiled on demand).
 */
#include "server/schemas/schemas.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

#include "server/schemas/schemas_int.h"

/* ---- models ---- */

static void model_free(evb_model *m)
{
    evb_schema_free(m->schema);
    free(m->subject);
    free(m->dataschema);
    free(m);
}

void evb_model_release(evb_model *m)
{
    if (m != NULL && atomic_fetch_sub(&m->refs, 1) == 1)
        model_free(m);
}

static unsigned bucket_of(const char *subject, int32_t version)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)subject; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ (uint32_t)version) * 16777619u;
    return h % N_BUCKETS;
}

int evb_schemas_subject_valid(const char *s)
{
    return s != NULL && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')) &&
           evb_str_matches(s, "a-z0-9._-", 1, 128);
}

evb_err evb_schemas_new(evb_store *store, const evb_schemas_options *opt, evb_schemas **out)
{
    evb_schemas *r = calloc(1, sizeof *r);
    if (r == NULL)
        return EVB_ERR_NOMEM;
    r->store = store;
    r->base = evb_strdup(opt && opt->dataschema_base ? opt->dataschema_base : DEFAULT_BASE);
    r->max_violations = opt && opt->max_violations > 0 ? opt->max_violations : 10;
    if (r->base == NULL) {
        free(r);
        return EVB_ERR_NOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return EVB_OK;
}

/* Removes entries of subject (NULL = all) from the cache. Called with r->mu held. */
static void drop_locked(evb_schemas *r, const char *subject)
{
    for (size_t b = 0; b < N_BUCKETS; b++) {
        cache_entry **pp = &r->buckets[b];
        while (*pp != NULL) {
            cache_entry *e = *pp;
            if (subject == NULL || strcmp(e->subject, subject) == 0) {
                *pp = e->next;
                evb_model_release(e->model);
                free(e->subject);
                free(e);
            } else {
                pp = &e->next;
            }
        }
    }
    r->epoch++;
}

void evb_schemas_invalidate(evb_schemas *r, const char *subject)
{
    pthread_mutex_lock(&r->mu);
    drop_locked(r, subject != NULL && subject[0] != '\0' ? subject : NULL);
    pthread_mutex_unlock(&r->mu);
}

void evb_schemas_free(evb_schemas *r)
{
    if (r == NULL)
        return;
    drop_locked(r, NULL);
    pthread_mutex_destroy(&r->mu);
    free(r->base);
    free(r);
}

/* ---- compiling with registry references ---- */

typedef struct resolve_ctx {
    evb_schemas *r;
    evb_schema_rec *held[32]; /* records whose text the compiler borrows */
    size_t n_held;
} resolve_ctx;

/* Resolves evb://registry/schemas/ids/<id> and
 * evb://registry/subjects/<subject>/versions/<n|latest> from the store. */
static const char *resolve_uri(void *arg, const char *uri, size_t *len)
{
    resolve_ctx *c = arg;
    if (c->n_held == sizeof c->held / sizeof c->held[0])
        return NULL;
    evb_schema_rec *rec = NULL;
    static const char ids[] = "evb://registry/schemas/ids/";
    static const char subjects[] = "evb://registry/subjects/";
    if (strncmp(uri, ids, sizeof ids - 1) == 0) {
        char *end = NULL;
        long long id = strtoll(uri + sizeof ids - 1, &end, 10);
        if (end == NULL || *end != '\0' || id <= 0 ||
            evb_store_schema_get_by_id(c->r->store, id, &rec) != EVB_OK)
            return NULL;
    } else if (strncmp(uri, subjects, sizeof subjects - 1) == 0) {
        char subject[129];
        const char *p = uri + sizeof subjects - 1;
        const char *slash = strstr(p, "/versions/");
        if (slash == NULL || (size_t)(slash - p) >= sizeof subject)
            return NULL;
        memcpy(subject, p, (size_t)(slash - p));
        subject[slash - p] = '\0';
        const char *v = slash + 10;
        char *end = NULL;
        long version = strcmp(v, "latest") == 0 ? 0 : strtol(v, &end, 10);
        if ((end != NULL && *end != '\0') || version < 0 || !evb_schemas_subject_valid(subject) ||
            evb_store_schema_get(c->r->store, subject, (int32_t)version, 0, &rec) != EVB_OK)
            return NULL;
    } else {
        return NULL;
    }
    c->held[c->n_held++] = rec;
    *len = strlen(rec->schema);
    return rec->schema;
}

evb_err evb_schemas_compile_text(evb_schemas *r, const char *json, int format_assert,
                                 evb_schema **out, evb_error *err)
{
    resolve_ctx ctx = {.r = r};
    evb_schema_options opt = {
        .resolve = resolve_uri,
        .resolve_arg = &ctx,
        .flags = format_assert ? EVB_SCHEMA_FORMAT_ASSERT : 0,
    };
    evb_err rc = evb_schema_compile(json, strlen(json), &opt, out, err);
    for (size_t i = 0; i < ctx.n_held; i++)
        evb_schema_rec_free(ctx.held[i]);
    return rc;
}

/* ---- configuration ---- */

evb_err evb_schemas_config(evb_schemas *r, const char *subject, evb_compat_level *level,
                           int *format_mode)
{
    int l = 0, f = 0, gl = 0, gf = 0;
    evb_err rc = EVB_OK;
    if (subject != NULL && subject[0] != '\0')
        rc = evb_store_subject_config_get(r->store, subject, &l, &f);
    if (rc == EVB_OK || rc == EVB_ERR_NOT_FOUND)
        rc = evb_store_subject_config_get(r->store, "", &gl, &gf);
    if (rc != EVB_OK && rc != EVB_ERR_NOT_FOUND)
        return rc;
    *level = (evb_compat_level)(l > 0 ? l : gl > 0 ? gl : EVB_COMPAT_DEFAULT);
    *format_mode = f > 0 ? f : gf > 0 ? gf : 1;
    return EVB_OK;
}

evb_err evb_schemas_set_config(evb_schemas *r, const char *subject, int level, int format_mode)
{
    evb_err rc = evb_store_subject_config_set(r->store, subject ? subject : "", level, format_mode);
    if (rc == EVB_OK)
        evb_schemas_invalidate(r, subject);
    return rc;
}

/* ---- lookups ---- */

static evb_model *cache_get_locked(evb_schemas *r, const char *subject, int32_t version)
{
    for (cache_entry *e = r->buckets[bucket_of(subject, version)]; e != NULL; e = e->next)
        if (e->version == version && strcmp(e->subject, subject) == 0) {
            atomic_fetch_add(&e->model->refs, 1);
            return e->model;
        }
    return NULL;
}

/* Builds a model from a stored record. */
static evb_err build_model(evb_schemas *r, const evb_schema_rec *rec, evb_model **out,
                           evb_error *err)
{
    evb_compat_level level;
    int fmt = 1;
    evb_err rc = evb_schemas_config(r, rec->subject, &level, &fmt);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, NULL, "cannot read the configuration of %s", rec->subject);
    evb_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    m->id = rec->id;
    m->version = rec->version;
    m->format_assert = fmt == 2;
    m->subject = evb_strdup(rec->subject);
    size_t n = strlen(r->base) + 24;
    m->dataschema = malloc(n);
    atomic_init(&m->refs, 1);
    if (m->subject == NULL || m->dataschema == NULL) {
        model_free(m);
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    snprintf(m->dataschema, n, "%s%lld", r->base, (long long)rec->id);
    rc = evb_schemas_compile_text(r, rec->schema, m->format_assert, &m->schema, err);
    if (rc != EVB_OK) {
        model_free(m);
        return rc;
    }
    *out = m;
    return EVB_OK;
}

evb_err evb_schemas_model(evb_schemas *r, const char *subject, int32_t version, evb_model **out,
                          evb_error *err)
{
    uint64_t gen = evb_store_config_generation(r->store); /* before any read */
    pthread_mutex_lock(&r->mu);
    if (gen != r->store_gen) {
        drop_locked(r, NULL);
        r->store_gen = gen;
    }
    evb_model *m = cache_get_locked(r, subject, version);
    uint64_t epoch = r->epoch;
    pthread_mutex_unlock(&r->mu);
    if (m != NULL) {
        *out = m;
        return EVB_OK;
    }
    evb_schema_rec *rec = NULL;
    evb_err rc = evb_store_schema_get(r->store, subject, version, 0, &rec);
    if (rc == EVB_ERR_NOT_FOUND && version != 0)
        return evb_error_set(err, rc, "subject", "data model %s version %d does not exist", subject,
                             (int)version);
    if (rc == EVB_ERR_NOT_FOUND)
        return evb_error_set(err, rc, "subject", "data model %s has no version", subject);
    if (rc == EVB_OK)
        rc = build_model(r, rec, &m, err);
    evb_schema_rec_free(rec);
    if (rc != EVB_OK)
        return rc;
    pthread_mutex_lock(&r->mu);
    evb_model *existing = cache_get_locked(r, subject, version);
    if (existing == NULL && r->epoch == epoch) {
        cache_entry *e = calloc(1, sizeof *e);
        if (e != NULL && (e->subject = evb_strdup(subject)) != NULL) {
            unsigned b = bucket_of(subject, version);
            e->version = version;
            e->model = m;
            atomic_fetch_add(&m->refs, 1);
            e->next = r->buckets[b];
            r->buckets[b] = e;
        } else {
            free(e);
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (existing != NULL) {
        evb_model_release(m);
        m = existing;
    }
    *out = m;
    return EVB_OK;
}

evb_err evb_model_validate(const evb_schemas *r, const evb_model *m, const char *json, size_t len,
                           evb_schema_result *res, evb_error *err)
{
    /* Not memset: violations[] is ~7.7 KB and only [0, count) is ever read. */
    res->valid = false;
    res->truncated = false;
    res->count = 0;
    res->limit = (size_t)r->max_violations;
    if (json == NULL || len == 0) /* proto3 sends empty bytes as nothing */
        return evb_error_set(err, EVB_ERR_PARSE, "", "empty, not a JSON document");
    return evb_schema_validate(m->schema, json, len, res, err);
}

evb_err evb_model_validate_keep(const evb_schemas *r, const evb_model *m, const char *json,
                                size_t len, evb_schema_result *res, evb_json_doc **doc,
                                evb_error *err)
{
    *doc = NULL;
    /* Not memset: violations[] is ~7.7 KB and only [0, count) is ever read. */
    res->valid = false;
    res->truncated = false;
    res->count = 0;
    res->limit = (size_t)r->max_violations;
    if (json == NULL || len == 0)
        return evb_error_set(err, EVB_ERR_PARSE, "", "empty, not a JSON document");
    /* the depth evb_schema_validate parses with: models are compiled with the default
     * max_instance_depth (evb_schemas_compile_text) */
    evb_json_doc *d = NULL;
    evb_err rc = evb_json_parse(json, len, EVB_SCHEMA_DEFAULT_MAX_DEPTH, &d, err);
    if (rc == EVB_OK)
        rc = evb_schema_validate_value(m->schema, evb_json_root(d), res, err);
    if (rc == EVB_OK)
        *doc = d;
    else
        evb_json_doc_free(d);
    return rc;
}
