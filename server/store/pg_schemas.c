/* evbridge — PostgreSQL backend: NOT YET IMPLEMENTED placeholders (issue 9 in progress).
 * Every entry here answers EVB_ERR_UNIMPLEMENTED until its real implementation lands. */
#include "server/store/pg_int.h"

evb_err pg_schema_register(evb_store *s, const char *subject, const char *schema,
                           const char *canon_hash, int32_t expect_latest, evb_schema_rec **out,
                           int *created)
{
    (void)s;
    (void)subject;
    (void)schema;
    (void)canon_hash;
    (void)expect_latest;
    (void)out;
    (void)created;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_schema_get(evb_store *s, const char *subject, int32_t version, int include_deleted,
                      evb_schema_rec **out)
{
    (void)s;
    (void)subject;
    (void)version;
    (void)include_deleted;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_schema_get_by_id(evb_store *s, int64_t id, evb_schema_rec **out)
{
    (void)s;
    (void)id;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_schema_list(evb_store *s, const char *subject, int include_deleted,
                       evb_schema_rec ***out, size_t *n_out)
{
    (void)s;
    (void)subject;
    (void)include_deleted;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_schema_subjects(evb_store *s, const char *prefix, int include_deleted, char ***out,
                           size_t *n_out)
{
    (void)s;
    (void)prefix;
    (void)include_deleted;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_schema_delete(evb_store *s, const char *subject, int32_t version, int permanent,
                         int32_t **versions_out, size_t *n_out)
{
    (void)s;
    (void)subject;
    (void)version;
    (void)permanent;
    (void)versions_out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_subject_config_get(evb_store *s, const char *subject, int *level, int *format_mode)
{
    (void)s;
    (void)subject;
    (void)level;
    (void)format_mode;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_subject_config_set(evb_store *s, const char *subject, int level, int format_mode)
{
    (void)s;
    (void)subject;
    (void)level;
    (void)format_mode;
    return EVB_ERR_UNIMPLEMENTED;
}
