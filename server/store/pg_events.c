/* evbridge — PostgreSQL backend: NOT YET IMPLEMENTED placeholders (issue 9 in progress).
 * Every entry here answers EVB_ERR_UNIMPLEMENTED until its real implementation lands. */
#include "server/store/pg_int.h"

evb_err pg_put_events(evb_store *s, evb_put_item *items, size_t n, evb_store_put_cb cb, void *arg)
{
    (void)s;
    (void)items;
    (void)n;
    (void)cb;
    (void)arg;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_get_event(evb_store *s, const char *id, const char *org, const char *connector,
                     evb_event **out)
{
    (void)s;
    (void)id;
    (void)org;
    (void)connector;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_list_events(evb_store *s, const evb_event_query *q, evb_event ***out, size_t *n_out,
                       int64_t *next_after_seq)
{
    (void)s;
    (void)q;
    (void)out;
    (void)n_out;
    (void)next_after_seq;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_count_events(evb_store *s, int64_t *out)
{
    (void)s;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_dedup_purge(pg_store *ps, PGconn *c, int64_t now_ms, int *full)
{
    (void)ps;
    (void)c;
    (void)now_ms;
    *full = 0;
    return EVB_OK;
}
