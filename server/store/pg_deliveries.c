/* evbridge — PostgreSQL backend: NOT YET IMPLEMENTED placeholders (issue 9 in progress).
 * Every entry here answers EVB_ERR_UNIMPLEMENTED until its real implementation lands. */
#include "server/store/pg_int.h"

evb_err pg_delivery_list_for_event(evb_store *s, int64_t event_seq, evb_delivery_rec ***out,
                                   size_t *n_out)
{
    (void)s;
    (void)event_seq;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_list(evb_store *s, const char *connection_id, int state, int limit,
                         evb_delivery_rec ***out, size_t *n_out)
{
    (void)s;
    (void)connection_id;
    (void)state;
    (void)limit;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_event_filter_trace(evb_store *s, int64_t event_seq, char **json_out)
{
    (void)s;
    (void)event_seq;
    (void)json_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_attempts(evb_store *s, const char *delivery_id, evb_attempt_rec **out,
                             size_t *n_out)
{
    (void)s;
    (void)delivery_id;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_stats(evb_store *s, int64_t now_ms, evb_delivery_stats *out)
{
    (void)s;
    (void)now_ms;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}
