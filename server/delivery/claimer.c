/* evbridge — the dispatcher's claimer: a helper thread that runs the store's claim so the
 * dispatcher thread never waits on a commit.
 *
 * A claim is a write (it leases rows), so on SQLite it waits for a group commit of the
 * writer — with synchronous=FULL one or two fdatasyncs, 5–40 ms under publish load — and
 * on PostgreSQL for a transaction's round trips. Measured before this thread existed, the
 * dispatcher spent nearly all its time blocked in claims, driving no transfers meanwhile
 * (docs/benchmarks.md, "Delivery path"). Here the dispatcher posts one request at a time
 * (the limit and the connections to skip, copied), keeps sending while the claim commits,
 * and picks the result up when the claimer wakes its curl multi handle. Ownership of the
 * claimed rows moves to the dispatcher when it takes them; a result nobody takes (stop) is
 * handed back by evb_claimer_stop so the dispatcher can give the leases back.
 */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/timeutil.h"
#include "server/delivery/dispatch_int.h"

struct claimer {
    evb_store *store;
    CURLM *wake; /* borrowed: curl_multi_wakeup is thread-safe */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping, requested, done; /* under mu */
    /* the request (set by the dispatcher while idle, read by the claimer) */
    int64_t lease_ms;
    int limit;
    char **skip;
    size_t n_skip;
    /* the result */
    evb_claim *cs;
    size_t n;
    evb_err rc;
};

static void skip_free(claimer *c)
{
    for (size_t i = 0; i < c->n_skip; i++)
        free(c->skip[i]);
    free(c->skip);
    c->skip = NULL;
    c->n_skip = 0;
}

static void *claimer_main(void *arg)
{
    claimer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->requested && !c->stopping)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->mu);
        evb_claim *cs = NULL;
        size_t n = 0;
        evb_err rc = evb_store_delivery_claim(c->store, evb_now_ms(), c->lease_ms, c->limit,
                                              (const char *const *)c->skip, c->n_skip, &cs, &n);
        pthread_mutex_lock(&c->mu);
        skip_free(c);
        c->cs = cs;
        c->n = n;
        c->rc = rc;
        c->requested = 0;
        c->done = 1;
        pthread_mutex_unlock(&c->mu);
        curl_multi_wakeup(c->wake);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

evb_err evb_claimer_start(evb_store *store, CURLM *wake, claimer **out)
{
    claimer *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EVB_ERR_NOMEM;
    c->store = store;
    c->wake = wake;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return EVB_ERR_NOMEM;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return EVB_ERR_NOMEM;
    }
    if (pthread_create(&c->thread, NULL, claimer_main, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return EVB_ERR_INTERNAL;
    }
    *out = c;
    return EVB_OK;
}

int evb_claimer_idle(claimer *c)
{
    pthread_mutex_lock(&c->mu);
    int idle = !c->requested && !c->done;
    pthread_mutex_unlock(&c->mu);
    return idle;
}

evb_err evb_claimer_request(claimer *c, int64_t lease_ms, int limit, const char *const *skip,
                            size_t n_skip)
{
    char **copy = calloc(n_skip + 1, sizeof *copy);
    if (copy == NULL)
        return EVB_ERR_NOMEM;
    for (size_t i = 0; i < n_skip; i++) {
        if ((copy[i] = evb_strdup(skip[i])) == NULL) {
            for (size_t k = 0; k < i; k++)
                free(copy[k]);
            free(copy);
            return EVB_ERR_NOMEM;
        }
    }
    evb_err e = EVB_OK;
    pthread_mutex_lock(&c->mu);
    if (c->requested || c->done || c->stopping) {
        e = EVB_ERR_LIMIT; /* one claim at a time */
    } else {
        c->lease_ms = lease_ms;
        c->limit = limit;
        c->skip = copy;
        c->n_skip = n_skip;
        c->requested = 1;
        copy = NULL;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    if (copy != NULL) {
        for (size_t i = 0; i < n_skip; i++)
            free(copy[i]);
        free(copy);
    }
    return e;
}

int evb_claimer_take(claimer *c, evb_claim **cs, size_t *n, evb_err *rc)
{
    pthread_mutex_lock(&c->mu);
    int done = c->done;
    if (done) {
        *cs = c->cs;
        *n = c->n;
        *rc = c->rc;
        c->cs = NULL;
        c->n = 0;
        c->done = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return done;
}

void evb_claimer_stop(claimer *c, evb_claim **cs, size_t *n)
{
    *cs = NULL;
    *n = 0;
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL); /* a claim in progress finishes first */
    if (c->done && c->rc == EVB_OK) {
        *cs = c->cs;
        *n = c->n;
    } else {
        evb_claim_array_free(c->cs, c->n);
    }
    skip_free(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
