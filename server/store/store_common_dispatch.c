/* evbridge — backend-neutral pieces of the dispatcher's outbox (contract in
 * store_common_dispatch.h), shared by the SQLite and PostgreSQL backends so both refuse the
 * same arguments, record attempts alike and page dead letters with the same tokens.
 *
 * The dead-letter token is "<update_ms>.<id>" of the last row of a page: the list is
 * ordered by (update_ms, id) descending, so the next page is the rows below that pair.
 * Callers treat it as opaque; only its parse is strict.
 */
#include "server/store/store_common_dispatch.h"

#include "common/timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- argument checks ---- */

int store_claim_args_ok(int64_t lease_ms, int limit, const char *const *skip, size_t n_skip,
                        const void *out, const void *n_out)
{
    return out != NULL && n_out != NULL && limit >= 1 && limit <= STORE_CLAIM_MAX && lease_ms > 0 &&
           (skip != NULL || n_skip == 0);
}

int store_complete_args_ok(const char *delivery_id, const evb_attempt *a, int new_state)
{
    return delivery_id != NULL && a != NULL && a->outcome != NULL &&
           (new_state == EVB_DELIVERY_DELIVERED || new_state == EVB_DELIVERY_PENDING ||
            new_state == EVB_DELIVERY_DEAD);
}

int store_dead_list_args_ok(const char *org, int limit, const void *out, const void *n_out,
                            const void *next_token_out)
{
    return org != NULL && out != NULL && n_out != NULL && next_token_out != NULL && limit >= 1 &&
           limit <= STORE_DEAD_LIST_MAX;
}

int store_redrive_args_ok(const char *org, const char *connection_id, const char *const *ids,
                          size_t n_ids, const void *count_out)
{
    return org != NULL && count_out != NULL && (ids != NULL || n_ids == 0) &&
           n_ids <= STORE_REDRIVE_IDS_MAX && (connection_id != NULL || n_ids > 0);
}

/* ---- attempts ---- */

int store_complete_unblocks(int new_state, int strict)
{
    return new_state == EVB_DELIVERY_DELIVERED || (new_state == EVB_DELIVERY_DEAD && !strict);
}

int64_t store_attempt_status(const evb_attempt *a)
{
    return a->http_status != 0 ? a->http_status : a->errcode;
}

int64_t store_attempt_end_ms(const evb_attempt *a)
{
    return a->time_ms != 0 ? a->time_ms + a->latency_ms : evb_now_ms();
}

evb_err store_attempt_copy_init(store_attempt_copy *c, const char *delivery_id,
                                const evb_attempt *a)
{
    *c = (store_attempt_copy){0};
    c->id = strdup(delivery_id);
    c->outcome = strdup(a->outcome);
    c->error = strdup(a->error != NULL ? a->error : "");
    if (c->id == NULL || c->outcome == NULL || c->error == NULL) {
        store_attempt_copy_fini(c);
        return EVB_ERR_NOMEM;
    }
    c->a = *a;
    c->a.outcome = c->outcome;
    c->a.error = c->error;
    return EVB_OK;
}

void store_attempt_copy_fini(store_attempt_copy *c)
{
    free(c->id);
    free(c->outcome);
    free(c->error);
    *c = (store_attempt_copy){0};
}

/* ---- string lists ---- */

evb_err store_json_str_array(const char *const *v, size_t n, char **out)
{
    *out = NULL;
    json_t *a = json_array();
    if (a == NULL)
        return EVB_ERR_NOMEM;
    evb_err e = EVB_OK;
    for (size_t i = 0; i < n && e == EVB_OK; i++) {
        json_t *x = v[i] != NULL ? json_string(v[i]) : NULL; /* NULL when not UTF-8 */
        if (x == NULL || json_array_append_new(a, x) != 0)
            e = EVB_ERR_INVALID;
    }
    if (e == EVB_OK) {
        *out = json_dumps(a, JSON_COMPACT);
        if (*out == NULL)
            e = EVB_ERR_NOMEM;
    }
    json_decref(a);
    return e;
}

/* ---- dead-letter page tokens ---- */

evb_err store_dead_token_parse(const char *t, int64_t *ms, const char **id)
{
    if (t == NULL || t[0] == '\0') {
        *ms = INT64_MAX;
        *id = "";
        return EVB_OK;
    }
    if ((t[0] < '0' || t[0] > '9') && t[0] != '-')
        return EVB_ERR_INVALID;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (errno != 0 || end == NULL || *end != '.')
        return EVB_ERR_INVALID;
    *ms = (int64_t)v;
    *id = end + 1;
    return EVB_OK;
}

evb_err store_dead_token_next(int more, const evb_delivery_rec *last, char **out)
{
    if (!more) {
        *out = calloc(1, 1);
        return *out != NULL ? EVB_OK : EVB_ERR_NOMEM;
    }
    size_t n = strlen(last->id) + 24;
    *out = malloc(n);
    if (*out == NULL)
        return EVB_ERR_NOMEM;
    snprintf(*out, n, "%" PRId64 ".%s", last->update_ms, last->id);
    return EVB_OK;
}

evb_err store_dead_page_hand_out(evb_err e, evb_claim *cs, size_t n, size_t kept, evb_claim **out,
                                 size_t *n_out, char **next_token_out)
{
    if (e != EVB_OK) {
        free(*next_token_out);
        *next_token_out = NULL;
        evb_claim_array_free(cs, n);
        return e;
    }
    if (kept == 0) {
        free(cs);
        cs = NULL;
    }
    *out = cs;
    *n_out = kept;
    return EVB_OK;
}
