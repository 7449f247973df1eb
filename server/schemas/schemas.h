/* evbridge — the schema registry inside evbridged: data models over the store, compiled
 * once per version and cached, with compatibility checks on registration.
 *
 * Ingest asks for the model of an event type — (subject, pinned version or 0 = latest) —
 * and gets a reference-counted, immutable compiled model it can validate with on any
 * thread without locks. Registering a new version never blocks ingestion: compilation and
 * compatibility checks happen outside the cache lock, and the "latest" mapping of a
 * subject is dropped only after the new version is committed.
 * References between registered schemas use registry URIs (evb://registry/schemas/ids/<id>
 * or evb://registry/subjects/<subject>/versions/<n>), resolved from the store; the network
 * is never used. Thread-safe.
 */
#ifndef EVB_SERVER_SCHEMAS_H
#define EVB_SERVER_SCHEMAS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "registry/compat.h"
#include "registry/schema.h"
#include "server/store/store_schemas.h"

typedef struct evb_schemas evb_schemas;

/* A compiled data model version. Immutable; shared by reference. */
typedef struct evb_model {
    int64_t id;
    char *subject;
    int32_t version;
    char *dataschema;   /* absolute URI stored on accepted events: <base><id> */
    evb_schema *schema; /* compiled */
    int format_assert;  /* compiled with format assertion */
    atomic_int refs;
} evb_model;

typedef struct evb_schemas_options {
    const char *dataschema_base; /* NULL = "evb://registry/schemas/ids/" */
    int max_violations;          /* per validation; 0 = 10 */
} evb_schemas_options;

evb_err evb_schemas_new(evb_store *store, const evb_schemas_options *opt, evb_schemas **out);
/* Frees the cache; models still referenced stay valid until released. NULL is a no-op. */
void evb_schemas_free(evb_schemas *r);

/* The model of subject at version (0 = the latest non-deleted version). *out holds a
 * reference: release it with evb_model_release. EVB_ERR_NOT_FOUND (err names subject and
 * version), or the compile error of a stored schema (should not happen: schemas are
 * compiled before they are stored). */
evb_err evb_schemas_model(evb_schemas *r, const char *subject, int32_t version,
                          evb_model **out, evb_error *err);
void evb_model_release(evb_model *m);

/* Validates JSON text against m (max_violations as configured). */
evb_err evb_model_validate(const evb_schemas *r, const evb_model *m, const char *json,
                           size_t len, evb_schema_result *res, evb_error *err);

/* As evb_model_validate, and when it returns EVB_OK (valid or not) the parsed instance is
 * the caller's in *doc (evb_json_doc_free), e.g. for routing to match patterns against
 * without parsing the payload again; on error *doc is NULL. */
evb_err evb_model_validate_keep(const evb_schemas *r, const evb_model *m, const char *json,
                                size_t len, evb_schema_result *res, evb_json_doc **doc,
                                evb_error *err);

/* Registers a schema: checks the subject name, compiles (an invalid schema is
 * EVB_ERR_INVALID naming the location), returns the existing version for identical
 * content, checks compatibility with the subject's effective level (EVB_ERR_PRECONDITION;
 * the incompatibilities are in *incompat, caller frees with evb_compat_report_fini), and
 * stores a new version. *out is malloc'd (evb_schema_rec_free). */
evb_err evb_schemas_register(evb_schemas *r, const char *subject, const char *schema_json,
                             evb_schema_rec **out, int *created, evb_compat_report *incompat,
                             evb_error *err);

/* CheckCompatibility: schema_json against `version` of the subject (0 = the versions the
 * subject's level requires). *rep empty = compatible. EVB_ERR_INVALID for an invalid
 * schema; a subject without versions is compatible. */
evb_err evb_schemas_check(evb_schemas *r, const char *subject, const char *schema_json,
                          int32_t version, evb_compat_report *rep, evb_error *err);

/* The effective compatibility level and format mode of a subject ("" = global): its own
 * value, else the global one, else BACKWARD / ANNOTATE(1). */
evb_err evb_schemas_config(evb_schemas *r, const char *subject, evb_compat_level *level,
                           int *format_mode);
/* Sets the subject's (or the global) level and/or format mode (0 = unchanged) and drops
 * cached models of the subject (all when global). */
evb_err evb_schemas_set_config(evb_schemas *r, const char *subject, int level,
                               int format_mode);

/* Compiles schema text with registry references resolved from the store (used to check
 * a schema before it is stored). */
evb_err evb_schemas_compile_text(evb_schemas *r, const char *json, int format_assert,
                                 evb_schema **out, evb_error *err);

/* Drops cached models and "latest" mappings of a subject (after deletes). */
void evb_schemas_invalidate(evb_schemas *r, const char *subject);

/* 1 when subject matches [a-z0-9][a-z0-9._-]{0,127}. */
int evb_schemas_subject_valid(const char *subject);

/* Registers every built-in standard model whose subject has no version yet (first start).
 * *n_registered (may be NULL) counts the new ones. */
evb_err evb_schemas_register_builtin(evb_schemas *r, int *n_registered, evb_error *err);

#endif
