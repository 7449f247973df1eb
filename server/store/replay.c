/* evbridge — replaying stored events to a connection: new deliveries for events that are
 * already stored (EventService.ReplayEvents).
 *
 * Each replayed event gets a fresh delivery (a new id: receivers see it as a new attempt
 * chain), due now, created with the same insert the ingest path uses; all of one call in
 * one transaction.
 */
#include "server/store/store_dispatch.h"
#include "server/store/store_int.h"

typedef struct replay_job {
    store_sync_job sync;
    const evb_event *const *evs;
    const evb_delivery_new *ds;
    size_t n;
} replay_job;

static evb_err replay_run(evb_store *s, store_job *j)
{
    replay_job *x = (replay_job *)j;
    int64_t now = store_now_ms();
    for (size_t i = 0; i < x->n; i++) {
        evb_put_item it = {.ev = (evb_event *)x->evs[i], .deliveries = &x->ds[i],
                           .n_deliveries = 1};
        evb_err e = store_put_item_check(&it);
        if (e == EVB_OK)
            e = store_put_item_routing(s, &it, now);
        if (e != EVB_OK)
            return e;
    }
    return EVB_OK;
}

static const store_job_ops replay_ops = {.run = replay_run, .complete = store_sync_complete};

evb_err sq_delivery_replay(evb_store *s, const evb_event *const *evs,
                                  const evb_delivery_new *ds, size_t n)
{
    if (s == NULL || (n > 0 && (evs == NULL || ds == NULL)))
        return EVB_ERR_INVALID;
    if (n == 0)
        return EVB_OK;
    replay_job x = {.sync.job.ops = &replay_ops, .evs = evs, .ds = ds, .n = n};
    return store_run_sync(s, &x.sync);
}
