/* evbridge registry — JSON Schema compiler and validator (public API).
 *
 * Compile a schema once, validate many instances against it. Supported dialects:
 * draft-04 (http://json-schema.org/draft-04/schema#), draft-06, draft-07 (the default when
 * "$schema" is absent) and 2020-12 (https://json-schema.org/draft/2020-12/schema), including
 * $defs, prefixItems, dependentRequired/dependentSchemas, unevaluatedProperties/Items and
 * $dynamicRef/$dynamicAnchor. Spec: https://json-schema.org/specification
 *
 * References: JSON pointers, $id / $anchor resolution inside the schema, the official
 * meta-schemas of the supported drafts (built in), and any other URI through the caller's
 * resolver callback (the server maps evb://registry/schemas/ids/<id>). Never the network.
 *
 * Threads: evb_schema_compile and evb_schema_canonicalize are reentrant. A compiled
 * evb_schema is immutable; any number of threads may call evb_schema_validate* on it at the
 * same time. Freeing must not race with validation.
 */
#ifndef EVB_REGISTRY_SCHEMA_H
#define EVB_REGISTRY_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "registry/json_value.h"

typedef struct evb_schema evb_schema; /* compiled, immutable; owned by whoever compiled it */

typedef enum evb_schema_dialect {
    EVB_SCHEMA_DIALECT_DEFAULT = 0, /* draft-07 */
    EVB_SCHEMA_DRAFT4,
    EVB_SCHEMA_DRAFT6,
    EVB_SCHEMA_DRAFT7,
    EVB_SCHEMA_DRAFT2020_12,
} evb_schema_dialect;

/* Resolver: returns the JSON text of the schema identified by `uri` (absolute, without
 * fragment) and its length in *len, or NULL when unknown. The text is borrowed: it must stay
 * valid until evb_schema_compile returns (compile copies what it keeps). Called only during
 * compile, from the compiling thread, at most once per distinct URI. */
typedef const char *(*evb_schema_resolve_fn)(void *arg, const char *uri, size_t *len);

enum {
    EVB_SCHEMA_FORMAT_ASSERT = 1u << 0, /* "format" fails invalid values instead of annotating */
};

typedef struct evb_schema_options {
    evb_schema_resolve_fn resolve; /* may be NULL: only built-in meta-schemas resolve */
    void *resolve_arg;
    unsigned flags;                     /* EVB_SCHEMA_FORMAT_ASSERT */
    evb_schema_dialect default_dialect; /* used when the root has no "$schema" */
    const char *base_uri;      /* retrieval URI of the schema (for relative $ref), may be NULL */
    size_t max_schema_depth;   /* nesting of schema documents; 0 = 64 */
    size_t max_instance_depth; /* nesting of instances; 0 = 64 */
} evb_schema_options;

/* Default limits. */
#define EVB_SCHEMA_DEFAULT_MAX_DEPTH 64
#define EVB_SCHEMA_MAX_VIOLATIONS 10

/* One reason an instance is invalid. Strings are NUL-terminated and truncated with "..."
 * when longer than the field. */
typedef struct evb_schema_violation {
    char instance_path[256];    /* JSON pointer into the instance ("" = the whole instance) */
    char keyword_location[256]; /* JSON pointer of the failing keyword along the evaluation
                                   path from the schema root, e.g. "/properties/a/$ref/type" */
    char message[256];          /* for people: "must be at least 3 characters long" */
} evb_schema_violation;

typedef struct evb_schema_result {
    /* in: stop after this many violations (1 = stop at the first). 0 or more than
     * EVB_SCHEMA_MAX_VIOLATIONS mean EVB_SCHEMA_MAX_VIOLATIONS. */
    size_t limit;
    /* out */
    bool valid;
    bool truncated; /* the limit was reached: validation stopped, more violations may exist */
    size_t count;   /* violations[0..count) are filled; count == 0 iff valid */
    evb_schema_violation violations[EVB_SCHEMA_MAX_VIOLATIONS];
} evb_schema_result;

/* Compiles json[0..len) into *out. opt may be NULL (defaults). On failure *out is NULL and
 * err (optional) says why, with err->pointer = JSON pointer of the problem in the schema:
 *   EVB_ERR_PARSE    malformed JSON (also in a resolved document),
 *   EVB_ERR_INVALID  not a valid schema: bad keyword value, unknown "$schema", a $ref that
 *                    cannot be resolved, an invalid regular expression,
 *   EVB_ERR_LIMIT    nested deeper than max_schema_depth,
 *   EVB_ERR_NOMEM.
 * Thread-safe (no shared state; the resolver is called from this thread). */
evb_err evb_schema_compile(const char *json, size_t len, const evb_schema_options *opt,
                           evb_schema **out, evb_error *err);

/* Frees a compiled schema. NULL is a no-op. Must not race with validation of s. */
void evb_schema_free(evb_schema *s);

/* The dialect the root schema was compiled as. */
evb_schema_dialect evb_schema_dialect_of(const evb_schema *s);

/* Validates instance text json[0..len) against s. Returns EVB_OK when the instance could be
 * checked; then res->valid tells the outcome and res->violations the reasons. Errors (res
 * then reports valid == false with no violations):
 *   EVB_ERR_PARSE  the instance is not JSON (err->message has line and column),
 *   EVB_ERR_LIMIT  the instance is nested deeper than max_instance_depth, or the schema
 *                  recurses without consuming the instance,
 *   EVB_ERR_NOMEM, EVB_ERR_INVALID (NULL s/json/res).
 * err may be NULL. Thread-safe for concurrent calls on the same s. */
evb_err evb_schema_validate(const evb_schema *s, const char *json, size_t len,
                            evb_schema_result *res, evb_error *err);

/* As evb_schema_validate, for an instance parsed already (borrowed). */
evb_err evb_schema_validate_value(const evb_schema *s, const evb_json *instance,
                                  evb_schema_result *res, evb_error *err);

/* Canonical text of JSON json[0..len) (see evb_json_canonical: sorted keys, no whitespace,
 * normalised numbers), used to detect identical schemas. *out is malloc()ed and
 * NUL-terminated, owned by the caller; *out_len may be NULL. Errors: EVB_ERR_PARSE,
 * EVB_ERR_LIMIT, EVB_ERR_NOMEM, EVB_ERR_INVALID. Thread-safe. */
evb_err evb_schema_canonicalize(const char *json, size_t len, char **out, size_t *out_len,
                                evb_error *err);

#endif
