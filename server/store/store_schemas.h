/* evbridge — the schema registry's storage: subjects, versions, global ids, soft and
 * permanent deletes, per-subject (and global) compatibility level and format mode.
 *
 * Part of the store (server/store/): callers see only this header. Writes ride the writer
 * thread's group commit (synchronous wrappers); reads use the reader pool. The store does
 * no JSON Schema work: callers canonicalise, compile and check compatibility, and pass the
 * canonical hash so identical content is recognised.
 */
#ifndef EVB_SERVER_STORE_SCHEMAS_H
#define EVB_SERVER_STORE_SCHEMAS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/store/store.h"

typedef struct evb_schema_rec {
    int64_t id;        /* global id, unique across subjects, never reused */
    char *subject;
    int32_t version;   /* 1..n within the subject, never reused */
    char *schema;      /* JSON text as registered */
    char *canon_hash;  /* hex SHA-256 of the canonical form */
    int deleted;       /* soft-deleted */
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
 * *out is malloc'd (evb_schema_rec_free). */
evb_err evb_store_schema_register(evb_store *s, const char *subject, const char *schema,
                                  const char *canon_hash, int32_t expect_latest,
                                  evb_schema_rec **out, int *created);

/* Version `version` of subject (0 = the latest non-deleted). Deleted versions are found
 * only with include_deleted. EVB_ERR_NOT_FOUND otherwise. */
evb_err evb_store_schema_get(evb_store *s, const char *subject, int32_t version,
                             int include_deleted, evb_schema_rec **out);
/* By global id, deleted or not (ids stay resolvable for stored events' dataschema until a
 * permanent delete). */
evb_err evb_store_schema_get_by_id(evb_store *s, int64_t id, evb_schema_rec **out);

/* Every version of the subject, oldest first (include_deleted: soft-deleted ones too). */
evb_err evb_store_schema_list(evb_store *s, const char *subject, int include_deleted,
                              evb_schema_rec ***out, size_t *n_out);

/* Subject names (sorted) starting with prefix (NULL or "" = all) that have at least one
 * version (non-deleted unless include_deleted). *out is a malloc'd array of malloc'd
 * strings. */
evb_err evb_store_schema_subjects(evb_store *s, const char *prefix, int include_deleted,
                                  char ***out, size_t *n_out);

/* Deletes version `version` (0 = every version) of the subject. Soft delete marks them
 * deleted; permanent removes rows that are already soft-deleted (EVB_ERR_PRECONDITION if
 * a targeted version is not soft-deleted yet). EVB_ERR_NOT_FOUND when nothing matches.
 * *versions_out (malloc'd, may be NULL when n is 0) lists the versions affected. */
evb_err evb_store_schema_delete(evb_store *s, const char *subject, int32_t version,
                                int permanent, int32_t **versions_out, size_t *n_out);

/* Subject configuration; subject "" is the global one. level/format_mode are the proto
 * enum numbers (CompatibilityLevel 1..7, FormatMode 1..2); 0 = not set. */
evb_err evb_store_subject_config_get(evb_store *s, const char *subject, int *level,
                                     int *format_mode);
/* Sets either value (0 leaves it unchanged); level -1 / format_mode -1 clear the
 * subject's own value (so the global one applies). */
evb_err evb_store_subject_config_set(evb_store *s, const char *subject, int level,
                                     int format_mode);

#endif
