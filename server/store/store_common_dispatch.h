/* evbridge — private header of server/store/: the backend-neutral pieces of the
 * dispatcher's outbox (store_dispatch.h), shared by the SQLite files (dispatch.c,
 * dead_letters.c, lease_release.c) and the PostgreSQL ones (pg_dispatch.c, pg_dead.c).
 *
 * Both backends must refuse exactly the same arguments, page dead letters with the same
 * token text and record an attempt the same way, so the checks, the token codec, the
 * string list encoding and the copy an asynchronous completion keeps live once, here
 * (store_common_dispatch.c). Nothing here touches a database. Thread-safe (no state).
 */
#ifndef EVB_SERVER_STORE_COMMON_DISPATCH_H
#define EVB_SERVER_STORE_COMMON_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "server/store/store_dispatch.h"

#define STORE_CLAIM_MAX 1000     /* largest claim limit */
#define STORE_CLAIM_CANDIDATES 4 /* candidates read per claimed slot */
#define STORE_PARK_MS 60000      /* how far a blocked candidate is parked */
#define STORE_DEAD_LIST_MAX 1000 /* largest dead-letter page */
#define STORE_REDRIVE_IDS_MAX 1000

/* The argument checks of the entries (1 when valid), as store_dispatch.h states them; the
 * out-pointers are only tested for NULL. */
int store_claim_args_ok(int64_t lease_ms, int limit, const char *const *skip, size_t n_skip,
                        const void *out, const void *n_out);
int store_complete_args_ok(const char *delivery_id, const evb_attempt *a, int new_state);
int store_dead_list_args_ok(const char *org, int limit, const void *out, const void *n_out,
                            const void *next_token_out);
int store_redrive_args_ok(const char *org, const char *connection_id, const char *const *ids,
                          size_t n_ids, const void *count_out);

/* A completion in new_state of a delivery with this strict flag unblocks its ordering key:
 * DELIVERED, or DEAD without strict. */
int store_complete_unblocks(int new_state, int strict);
/* The delivery's last_status after the attempt: http_status, or errcode without one. */
int64_t store_attempt_status(const evb_attempt *a);
/* The end of the attempt (update_ms): time_ms + latency_ms, or now when time_ms is 0. */
int64_t store_attempt_end_ms(const evb_attempt *a);

/* A JSON array text of the strings (for json_each / json_array_elements_text); NULL strings
 * are EVB_ERR_INVALID, as are strings that are not UTF-8. *out is malloc'd. */
evb_err store_json_str_array(const char *const *v, size_t n, char **out);

/* An asynchronous completion's own copy of its arguments (the caller's are borrowed only
 * for the call). init copies (EVB_ERR_NOMEM: nothing held); fini frees; fini on a zeroed
 * copy is a no-op. */
typedef struct store_attempt_copy {
    evb_attempt a; /* its strings point into the copy */
    char *id, *outcome, *error;
} store_attempt_copy;
evb_err store_attempt_copy_init(store_attempt_copy *c, const char *delivery_id,
                                const evb_attempt *a);
void store_attempt_copy_fini(store_attempt_copy *c);

/* The dead-letter page token: "<update_ms>.<id>" of the last row of a page. parse: NULL or
 * "" is the first page (*ms INT64_MAX, *id ""); *id points into t; a malformed token is
 * EVB_ERR_INVALID. next: *out (malloc'd) is last's token when more rows follow, else "". */
evb_err store_dead_token_parse(const char *t, int64_t *ms, const char **id);
evb_err store_dead_token_next(int more, const evb_delivery_rec *last, char **out);

/* The end of a dead-letter page: e is the outcome so far (token made, events loaded; kept
 * of the n claims remain). On EVB_OK hands cs out (*out NULL when none is kept); on error
 * frees cs and the token and returns e. */
evb_err store_dead_page_hand_out(evb_err e, evb_claim *cs, size_t n, size_t kept, evb_claim **out,
                                 size_t *n_out, char **next_token_out);

#endif
