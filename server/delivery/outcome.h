/* evbridge — what one delivery attempt's answer means: delivered, retry, or dead.
 *
 * Pure classification of HTTP statuses (and of DingTalk robot error codes, which arrive
 * with HTTP 200), so the dispatcher's decisions are one table, unit-tested apart from I/O.
 * The rules follow the webhook conventions of the CloudEvents HTTP binding and Standard
 * Webhooks: 2xx = processed; 3xx is a failure (redirects are never followed); 410 = stop
 * sending; 408, 425, 429 and 5xx are transient. docs/delivery.md ("Retries") has the table.
 * All functions are pure and thread-safe.
 */
#ifndef EVB_DELIVERY_OUTCOME_H
#define EVB_DELIVERY_OUTCOME_H

typedef enum evb_outcome {
    EVB_OUTCOME_DELIVERED = 0, /* done */
    EVB_OUTCOME_RETRY,         /* transient: ask evb_retry_next (retry.h) */
    EVB_OUTCOME_DEAD,          /* permanent: dead-letter now */
    EVB_OUTCOME_GONE,          /* HTTP 410: dead-letter and disable the connection */
    EVB_OUTCOME_DISABLE_ACTION /* robot rejects the action itself: dead-letter and disable
                                  the action (and so every connection using it) */
} evb_outcome;

/* Classifies an HTTP attempt. http_status 0 means no HTTP answer: connection error,
 * timeout, TLS failure. (A target refused by the SSRF guard or the scheme check is not a
 * transient failure; the caller dead-letters it without asking here.)
 *   2xx                       DELIVERED
 *   0, 408, 425, 429, 5xx     RETRY
 *   410                       GONE
 *   3xx, other 4xx            DEAD
 *   1xx, < 0, >= 600          RETRY (not a valid final answer: treated as a transport error)
 */
evb_outcome evb_http_outcome(int http_status);

/* Classifies a DingTalk custom robot attempt. A non-2xx http_status is classified by
 * evb_http_outcome. With 2xx: no errcode in the reply (have_errcode 0) is DELIVERED (the
 * HTTP answer is authoritative); errcode 0 DELIVERED; 130101 (sending too fast) and -1
 * (busy) RETRY; any other errcode (310000 keyword/signature/IP check, 300005 no such token,
 * 400102 robot stopped, ...) DISABLE_ACTION. */
evb_outcome evb_robot_outcome(int http_status, long long errcode, int have_errcode);

/* A short stable name: "delivered", "retry", "dead", "gone", "disable_action"; "unknown"
 * for other values. Never NULL. */
const char *evb_outcome_name(evb_outcome o);

/* The DingTalk robot error codes named above. */
#define EVB_ROBOT_ERR_TOO_FAST 130101LL
#define EVB_ROBOT_ERR_BUSY (-1LL)

#endif
