/* evbridge — PostgreSQL backend: NOT YET IMPLEMENTED placeholders (issue 9 in progress).
 * Every entry here answers EVB_ERR_UNIMPLEMENTED until its real implementation lands. */
#include "server/store/pg_int.h"

evb_err pg_dead_list(evb_store *s, const char *org, const char *connection_id, int limit,
                     const char *after_token, evb_claim **out, size_t *n_out, char **next_token_out)
{
    (void)s;
    (void)org;
    (void)connection_id;
    (void)limit;
    (void)after_token;
    (void)out;
    (void)n_out;
    (void)next_token_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_dead_redrive(evb_store *s, const char *org, const char *connection_id,
                        const char *const *ids, size_t n_ids, int64_t start_ms, int64_t end_ms,
                        int64_t now_ms, int64_t *count_out)
{
    (void)s;
    (void)org;
    (void)connection_id;
    (void)ids;
    (void)n_ids;
    (void)start_ms;
    (void)end_ms;
    (void)now_ms;
    (void)count_out;
    return EVB_ERR_UNIMPLEMENTED;
}
