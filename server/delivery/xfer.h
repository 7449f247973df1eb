/* evbridge — one delivery attempt as a libcurl easy transfer (private to the dispatcher).
 *
 * Setup: the built request (URL, method, headers, body, timeout), no redirects, no proxy
 * from the environment, http/https only, the SSRF guard on every address curl is about to
 * connect to (CURLOPT_OPENSOCKETFUNCTION), the response body read up to a cap and the
 * Retry-After header captured. Result: the outcome class, status, robot errcode and an
 * error text without secrets.
 */
#ifndef EVB_SERVER_DELIVERY_XFER_H
#define EVB_SERVER_DELIVERY_XFER_H

#include "server/delivery/dispatch_int.h"
#include "server/delivery/outcome.h"

#define EVB_XFER_RESPONSE_CAP (64 * 1024)

typedef struct evb_xfer_result {
    evb_outcome outcome;
    int http_status;    /* 0 when no HTTP answer */
    int64_t errcode;    /* DingTalk errcode; 0 when none */
    char error[256];    /* "" on success */
} evb_xfer_result;

/* Builds the transfer for claim c (ownership of c moves into the xfer on EVB_OK) to the
 * action's target, with the connection's transform. */
evb_err evb_xfer_new(evb_claim *c, const conn_entry *ce, const action_entry *a,
                     const evb_cidr_list *allow, xfer **out, evb_error *err);
/* Classifies the finished transfer. */
void evb_xfer_outcome(xfer *x, CURLcode cc, evb_xfer_result *res);
/* Frees the transfer, its claim and its easy handle (removed from any multi first by the
 * caller). NULL is a no-op. */
void evb_xfer_free(xfer *x);

#endif
