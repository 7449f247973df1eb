/* evbridge — the schema registry's storage: subjects, versions, global ids, soft and
 * permanent deletes, per-subject (and global) compatibility level and format mode.
 *
 * Part of the store (server/store/): callers see only this header. Writes ride the writer
 * thread's group commit (synchronous wrappers); reads use the reader pool. The store does
 * no JSON Schema work: callers canonicalise, compile and check compatibility, and pass the
 * canonical hash so identical content is recognised.
 *
 * All functions are thread-safe. Writes (register, delete, config set) are synchronous
 * jobs on the writer queue, as connector writes are: they wait for their commit, so they
 * must not be called from a put completion (EVB_ERR_INTERNAL), and they fail with
 * EVB_ERR_UNAVAILABLE when closing or when the commit failed (then nothing was written).
 * Every function returns EVB_ERR_INVALID for a NULL store, subject or required out-pointer.
 */
#ifndef EVB_SERVER_STORE_SCHEMAS_H
#define EVB_SERVER_STORE_SCHEMAS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/store/store.h"

typedef struct evb_schema_rec {
    int64_t id; /* global id, unique across subjects, never reused */
    char *subject;
    int32_t version;  /* 1..n within the subject, never reused */
    char *schema;     /* JSON text as registered */
    char *canon_hash; /* hex SHA-256 of the canonical form */
    int deleted;      /* soft-deleted */
    int64_t create_ms;
} evb_schema_rec;

void evb_schema_rec_free(evb_schema_rec *r);
void evb_schema_rec_array_free(evb_schema_rec **rs, size_t n);

/* Registers `schema` under `subject`, in one transaction:
 * - when a version of the subject that is not deleted has the same canon_hash, nothing is
 *   written and *out is that version (*created = 0);
 * - otherwise, when expect_latest >= 0 and the subject's latest non-deleted version is not
 *   expect_latest (0 = the subject has none), EVB_ERR_PRECONDITION (another registration
 *   won the race: re-check compatibility and retry);
 * - otherwise a new version (max version ever used + 1) with a new global id is stored
 *   (*created = 1).
 * expect_latest < 0 skips the check. Soft-deleted versions never match, so registering
 * their content again makes a new version. EVB_ERR_INVALID for an empty subject ("" is the
 * global config's name), NULL schema or empty canon_hash; EVB_ERR_LIMIT when the subject's
 * versions are exhausted (INT32_MAX). created may be NULL.
 * *out is malloc'd (evb_schema_rec_free). */
evb_err evb_store_schema_register(evb_store *s, const char *subject, const char *schema,
                                  const char *canon_hash, int32_t expect_latest,
                                  evb_schema_rec **out, int *created);

/* Version `version` of subject (0 = the latest non-deleted, whatever include_deleted
 * says). Deleted versions are found only with include_deleted. EVB_ERR_NOT_FOUND
 * otherwise; EVB_ERR_INVALID for a negative version. */
evb_err evb_store_schema_get(evb_store *s, const char *subject, int32_t version,
                             int include_deleted, evb_schema_rec **out);
/* By global id, deleted or not (ids stay resolvable for stored events' dataschema until a
 * permanent delete). EVB_ERR_NOT_FOUND when absent (and for id <= 0). */
evb_err evb_store_schema_get_by_id(evb_store *s, int64_t id, evb_schema_rec **out);

/* Every version of the subject, oldest first (include_deleted: soft-deleted ones too).
 * *out is a malloc'd array (evb_schema_rec_array_free). EVB_ERR_NOT_FOUND when there is
 * no such version (unknown subject, or every version deleted without include_deleted). */
evb_err evb_store_schema_list(evb_store *s, const char *subject, int include_deleted,
                              evb_schema_rec ***out, size_t *n_out);

/* Subject names (sorted) starting with prefix (NULL or "" = all) that have at least one
 * version (non-deleted unless include_deleted). The prefix is compared byte for byte
 * (case-sensitive, no wildcards); sorting is by bytes. *out is a malloc'd array of malloc'd
 * strings (free each, then the array); none is EVB_OK with *out NULL and *n_out 0. */
evb_err evb_store_schema_subjects(evb_store *s, const char *prefix, int include_deleted,
                                  char ***out, size_t *n_out);

/* Deletes version `version` (0 = every version) of the subject. Soft delete marks them
 * deleted; permanent removes rows that are already soft-deleted (EVB_ERR_PRECONDITION if
 * a targeted version is not soft-deleted yet). EVB_ERR_NOT_FOUND when nothing matches.
 * Soft delete targets only versions not deleted yet (so deleting again is NOT_FOUND).
 * *versions_out (malloc'd, ascending; may be NULL when n is 0) lists the versions
 * affected; versions_out and n_out may be NULL. Version numbers and ids of removed rows are
 * never reused. The subject's configuration is kept. EVB_ERR_INVALID for version < 0. */
evb_err evb_store_schema_delete(evb_store *s, const char *subject, int32_t version, int permanent,
                                int32_t **versions_out, size_t *n_out);

/* Subject configuration; subject "" is the global one. level/format_mode are the proto
 * enum numbers (CompatibilityLevel 1..7, FormatMode 1..2); 0 = not set. The store does
 * not fall back to the global values: get gives the subject's own (0 when it has none,
 * still EVB_OK); the caller applies global, then built-in defaults. level and format_mode
 * may each be NULL. The configuration does not need the subject to have versions. */
evb_err evb_store_subject_config_get(evb_store *s, const char *subject, int *level,
                                     int *format_mode);
/* Sets either value (0 leaves it unchanged); level -1 / format_mode -1 clear the
 * subject's own value (so the global one applies). EVB_ERR_INVALID for values outside
 * -1..7 / -1..2. Both 0 is a no-op. */
evb_err evb_store_subject_config_set(evb_store *s, const char *subject, int level, int format_mode);

#endif
