/* evbridge registry — schema compatibility checker (public API).
 *
 * Decides whether a new version of a data model may be registered under a subject, given the
 * subject's compatibility level (NONE, BACKWARD (default), FORWARD, FULL and their
 * _TRANSITIVE forms; the numbering matches the proto enum evbridge.v1.CompatibilityLevel).
 *
 * The check is structural and conservative: it works on the JSON Schema documents themselves
 * (jansson values; no compiled schema needed) and answers "is every instance valid under the
 * writer schema also valid under the reader schema?". Keywords it understands are compared
 * rule by rule (bounds, types, enums, properties, required, items, $ref'd definitions, ...);
 * applicators it cannot reason about (differing oneOf/not/if, unevaluated*) are reported as
 * "could not be proven compatible". Annotations (title, description, examples, default,
 * $comment, deprecated, readOnly, writeOnly, content*) never matter; "format" is treated as an
 * annotation unless EVB_COMPAT_FORMAT_ASSERT is set. docs/data-models.md lists the rules.
 *
 * Every incompatibility is reported, not just the first, as one message each:
 * "<JSON pointer into the schema>: <change>", e.g. "/properties/age/maximum: lowered from 150
 * to 120". Changes are phrased from the older to the newer schema.
 *
 * Threads: every function is reentrant and keeps no global state.
 */
#ifndef EVB_REGISTRY_COMPAT_H
#define EVB_REGISTRY_COMPAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

typedef enum evb_compat_level {
    EVB_COMPAT_NONE = 1,            /* any change is allowed */
    EVB_COMPAT_BACKWARD,            /* data written with the previous version validates now */
    EVB_COMPAT_BACKWARD_TRANSITIVE, /* ... with every earlier version */
    EVB_COMPAT_FORWARD,             /* data written now validates under the previous version */
    EVB_COMPAT_FORWARD_TRANSITIVE,  /* ... under every earlier version */
    EVB_COMPAT_FULL,                /* BACKWARD and FORWARD */
    EVB_COMPAT_FULL_TRANSITIVE,     /* BACKWARD_TRANSITIVE and FORWARD_TRANSITIVE */
} evb_compat_level;

#define EVB_COMPAT_DEFAULT EVB_COMPAT_BACKWARD

/* Upper-case proto name of level ("BACKWARD_TRANSITIVE"), or NULL when level is not one of
 * the seven levels. Thread-safe. */
const char *evb_compat_level_name(evb_compat_level level);

/* Parses a level name, case-insensitively, with '_' or '-' as separator ("full-transitive").
 * EVB_OK and *out set, or EVB_ERR_INVALID (unknown name, or NULL name/out; *out unchanged).
 * Thread-safe. */
evb_err evb_compat_level_parse(const char *name, evb_compat_level *out);

/* The incompatibilities found; n == 0 means compatible. Owned by the caller; release with
 * evb_compat_report_fini. The check functions initialise *rep themselves (an uninitialised
 * struct is fine) and leave it empty on error. */
typedef struct evb_compat_report {
    size_t n;        /* messages[0..n) */
    char **messages; /* each malloc()ed, NUL-terminated, distinct */
    bool truncated;  /* more incompatibilities than max_messages were found */
    size_t cap_;     /* private */
} evb_compat_report;

/* Sets *rep to the empty report. NULL is a no-op. */
void evb_compat_report_init(evb_compat_report *rep);

/* Frees the messages and empties *rep (it may be reused). NULL is a no-op. */
void evb_compat_report_fini(evb_compat_report *rep);

enum {
    /* the subject validates "format" as an assertion: adding or changing a format is then a
     * tightening, removing one a relaxation. Without it "format" is ignored. */
    EVB_COMPAT_FORMAT_ASSERT = 1u << 0,
};

typedef struct evb_compat_options {
    unsigned flags;      /* EVB_COMPAT_FORMAT_ASSERT */
    size_t max_messages; /* 0 = 256; further ones set rep->truncated */
} evb_compat_options;

/* Can data written with `writer` be read (validated) by `reader`? Both are JSON Schema texts
 * (NUL-terminated; an object or a boolean schema). BACKWARD(new, old) is
 * check_pair(reader = new, writer = old); FORWARD is the other way round. Messages describe
 * the change from writer to reader.
 * Returns EVB_OK when the check ran (then rep->n == 0 iff compatible), else:
 *   EVB_ERR_PARSE    a schema is not JSON (err->pointer "reader" or "writer"),
 *   EVB_ERR_INVALID  NULL argument, or a schema that is neither an object nor a boolean,
 *   EVB_ERR_NOMEM.
 * err may be NULL. Thread-safe. */
evb_err evb_compat_check_pair(const char *reader_schema_json, const char *writer_schema_json,
                              evb_compat_report *rep, evb_error *err);

/* As evb_compat_check_pair for parsed documents (borrowed). opt may be NULL. `reader_is_new`
 * only chooses the wording: true phrases changes from writer to reader (BACKWARD), false
 * from reader to writer (FORWARD). */
evb_err evb_compat_check_pair_json(const json_t *reader, const json_t *writer, bool reader_is_new,
                                   const evb_compat_options *opt, evb_compat_report *rep,
                                   evb_error *err);

/* Checks new_schema against the earlier versions of its subject as `level` requires.
 * previous[0..n_previous) are the schema texts, oldest first. Non-transitive levels compare
 * with previous[n_previous - 1] only, transitive ones with all; NONE and n_previous == 0
 * compare nothing. Each message is prefixed with the version it was found against:
 * "against version 2: /properties/age/maximum: lowered from 150 to 120"; FULL reports the
 * findings of both directions (identical ones once). Version numbers are 1..n_previous.
 * Returns as evb_compat_check_pair (err->pointer names "new" or "version N"); an unknown level
 * is EVB_ERR_INVALID. err may be NULL. Thread-safe. */
evb_err evb_compat_check(evb_compat_level level, const char *new_schema,
                         const char *const *previous, size_t n_previous, evb_compat_report *rep,
                         evb_error *err);

/* As evb_compat_check, with the actual version numbers of previous[] (may be NULL: 1..n, as
 * gaps appear once versions are deleted) and options (may be NULL). */
evb_err evb_compat_check_ex(evb_compat_level level, const char *new_schema,
                            const char *const *previous, const int *versions, size_t n_previous,
                            const evb_compat_options *opt, evb_compat_report *rep, evb_error *err);

#endif
