/* evbridge — PostgreSQL backend: NOT YET IMPLEMENTED placeholders (issue 9 in progress).
 * Every entry here answers EVB_ERR_UNIMPLEMENTED until its real implementation lands. */
#include "server/store/pg_int.h"

evb_err pg_delivery_claim(evb_store *s, int64_t now_ms, int64_t lease_ms, int limit,
                          const char *const *skip_connections, size_t n_skip, evb_claim **out,
                          size_t *n_out)
{
    (void)s;
    (void)now_ms;
    (void)lease_ms;
    (void)limit;
    (void)skip_connections;
    (void)n_skip;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_next_due(evb_store *s, int64_t *next_ms_out)
{
    (void)s;
    (void)next_ms_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_complete(evb_store *s, const char *delivery_id, const evb_attempt *a,
                             int new_state, int64_t next_ms)
{
    (void)s;
    (void)delivery_id;
    (void)a;
    (void)new_state;
    (void)next_ms;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_complete_async(evb_store *s, const char *delivery_id, const evb_attempt *a,
                                   int new_state, int64_t next_ms, evb_store_complete_cb cb,
                                   void *arg)
{
    (void)s;
    (void)delivery_id;
    (void)a;
    (void)new_state;
    (void)next_ms;
    (void)cb;
    (void)arg;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_release_leases(evb_store *s, int64_t now_ms, int64_t *count_out)
{
    (void)s;
    (void)now_ms;
    (void)count_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_give_back(evb_store *s, const char *const *ids, const int *attempts, size_t n,
                              int64_t next_ms)
{
    (void)s;
    (void)ids;
    (void)attempts;
    (void)n;
    (void)next_ms;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_delivery_replay(evb_store *s, const evb_event *const *evs, const evb_delivery_new *ds,
                           size_t n)
{
    (void)s;
    (void)evs;
    (void)ds;
    (void)n;
    return EVB_ERR_UNIMPLEMENTED;
}
