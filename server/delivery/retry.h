/* evbridge — delivery retry policy: when (and whether) a failed delivery is tried again.
 *
 * Pure logic: no I/O, no clocks, no sleeping, no global state. The caller passes the
 * attempt count, the delivery's age, the receiver's Retry-After (already parsed) and random
 * bits; the policy answers "retry after N ms" or "dead". This keeps every schedule
 * reproducible in unit tests. docs/delivery.md ("Retries") has the user-facing tables.
 *
 * Strategies (proto evbridge.v1.RetryStrategy):
 *  - BACKOFF_RETRY (1, the default): 3 retries (4 attempts), each after a uniformly random
 *    10,000..20,000 ms (inclusive). No age limit of its own. Cap (for Retry-After): 20 s.
 *  - EXPONENTIAL_DECAY_RETRY (2): 176 retries (177 attempts). Retry n waits
 *    min(2^(n-1) s, 512 s): 1, 2, 4, ..., 256, 512 s (10 retries, 1,023 s in all), then 166
 *    retries of 512 s (84,992 s): 86,015 s = 23 h 53 min 35 s of waiting, within the
 *    strategy's age limit of one day (86,400 s). Cap: 512 s.
 *  - CUSTOM (3): retry n waits min(base_delay_ms * 2^(n-1), max_delay_ms), then jitter: the
 *    delay is multiplied by (1 + jitter * u), u uniform in [-1, 1), and clamped to
 *    [0, max_delay_ms]. Limits max_attempts (required, >= 1) and max_age_seconds (0 = none).
 *    Cap: max_delay_ms.
 *
 * Stored overrides (RetryPolicy.max_attempts / max_age_seconds): 0 keeps the strategy's own
 * limit; a non-zero value replaces it, for every strategy. max_attempts always counts every
 * attempt, the first one included (max_attempts 1 = never retry; BACKOFF_RETRY's own limit
 * is 4). base_delay_ms, max_delay_ms and jitter are used by CUSTOM only.
 *
 * Retry-After: the delay the receiver asked for is clamped to the strategy's cap and the
 * retry waits max(scheduled delay, clamped Retry-After): it never comes back earlier than
 * asked (up to the cap) nor earlier than its own schedule (so "Retry-After: 0" cannot turn
 * a schedule into a tight loop).
 *
 * Age: when the policy has an age limit, a retry whose start (age_ms + delay) would fall
 * after it is not made: the delivery is dead now (a Retry-After beyond the remaining age
 * therefore dead-letters at once rather than waiting for nothing). A retry exactly at the
 * limit is still made.
 */
#ifndef EVB_DELIVERY_RETRY_H
#define EVB_DELIVERY_RETRY_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"

/* Values of evb_retry_policy.strategy (equal to the proto enum's numbers). */
enum { EVB_RETRY_BACKOFF = 1, EVB_RETRY_EXPONENTIAL = 2, EVB_RETRY_CUSTOM = 3 };

/* Built-in schedules (see the top of this file). */
#define EVB_RETRY_BACKOFF_ATTEMPTS 4 /* 3 retries */
#define EVB_RETRY_BACKOFF_MIN_MS 10000LL
#define EVB_RETRY_BACKOFF_MAX_MS 20000LL
#define EVB_RETRY_EXP_ATTEMPTS 177 /* 176 retries */
#define EVB_RETRY_EXP_BASE_MS 1000LL
#define EVB_RETRY_EXP_CAP_MS 512000LL
#define EVB_RETRY_EXP_MAX_AGE_MS 86400000LL /* one day */

/* Limits accepted by evb_retry_policy_init (the same as the connection API's). */
#define EVB_RETRY_MAX_ATTEMPTS_LIMIT 1000
#define EVB_RETRY_MAX_AGE_S_LIMIT (7LL * 86400)
#define EVB_RETRY_DELAY_MS_LIMIT (EVB_RETRY_MAX_AGE_S_LIMIT * 1000)

/* The *effective* policy: strategy defaults and stored overrides already resolved, so every
 * field is what evb_retry_next uses. Plain value; copy freely.
 *  - max_attempts: every attempt counted, >= 1.
 *  - max_age_ms: 0 = no age limit.
 *  - base_delay_ms / max_delay_ms: BACKOFF: the random range (10000 / 20000); EXPONENTIAL
 *    and CUSTOM: the first retry's delay and the cap. max_delay_ms is the Retry-After cap.
 *  - jitter: 0..1, non-zero for CUSTOM only. */
typedef struct evb_retry_policy {
    int strategy;
    int max_attempts;
    int64_t max_age_ms;
    int64_t base_delay_ms;
    int64_t max_delay_ms;
    double jitter;
} evb_retry_policy;

/* Sets *out to the default policy (BACKOFF_RETRY, no overrides). out must not be NULL.
 * Thread-safe. */
void evb_retry_policy_default(evb_retry_policy *out);

/* Resolves stored RetryPolicy fields into an effective policy. strategy 0 (UNSPECIFIED)
 * means BACKOFF_RETRY. Checks the connection API's rules: strategy 0..3, max_attempts
 * 0..1000, max_age_seconds 0..7 days, delays 0..7 days, jitter 0..1; CUSTOM needs
 * max_attempts >= 1, base_delay_ms >= 1 and max_delay_ms >= base_delay_ms. For BACKOFF and
 * EXPONENTIAL, base_delay_ms / max_delay_ms / jitter are ignored (but still range-checked).
 * Returns EVB_OK and fills *out, or EVB_ERR_INVALID (err names the field as
 * "retry.<field>") and leaves *out unchanged. err may be NULL. Thread-safe. */
evb_err evb_retry_policy_init(evb_retry_policy *out, int strategy, int64_t max_attempts,
                              int64_t max_age_seconds, int64_t base_delay_ms, int64_t max_delay_ms,
                              double jitter, evb_error *err);

/* Reads a stored connection config's "retry" object ({"strategy":1,"max_attempts":0,
 * "max_age_seconds":0,"base_delay_ms":0,"max_delay_ms":0,"jitter":0.0}) and resolves it as
 * evb_retry_policy_init does. retry NULL (no "retry" member) gives the default policy.
 * Missing members count as 0; unknown members are ignored. A member of the wrong type (the
 * integers must be JSON integers, jitter any JSON number) or a non-object gives
 * EVB_ERR_INVALID. retry is borrowed. err may be NULL. Thread-safe. */
evb_err evb_retry_policy_from_json(const json_t *retry, evb_retry_policy *out, evb_error *err);

/* Decides the next step after a failed attempt that may be retried.
 *  attempts_done   attempts made so far (>= 1; smaller values count as 1)
 *  age_ms          time since the delivery's first attempt (or since the event was received,
 *                  the caller's choice; negative counts as 0)
 *  retry_after_ms  the receiver's Retry-After as a delay (evb_retry_after_parse), or any
 *                  negative value for none
 *  rnd             uniformly random bits from the caller (used by BACKOFF and by CUSTOM with
 *                  jitter; ignored otherwise)
 * Returns 1 and sets *delay_ms (>= 0) when another attempt is due after that delay, or 0
 * when the delivery is dead (attempts or age exhausted); *delay_ms is then untouched.
 * p and delay_ms must not be NULL. Deterministic in its arguments; thread-safe. */
int evb_retry_next(const evb_retry_policy *p, int attempts_done, int64_t age_ms,
                   int64_t retry_after_ms, uint64_t rnd, int64_t *delay_ms);

/* Parses a Retry-After field value (RFC 9110 §10.2.3): delay-seconds (1*DIGIT) or an
 * HTTP-date in any of the three forms of RFC 9110 §5.6.7 — IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT"), obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT";
 * a two-digit year more than 50 years ahead of now_ms is taken as the previous century)
 * and asctime ("Sun Nov  6 08:49:37 1994"). Leading and trailing spaces/tabs are ignored;
 * names are matched without regard to case; the weekday is checked for form, not against
 * the date; second 60 is read as 59. now_ms is the current wall-clock time (ms since the
 * epoch).
 * Returns 1 and sets *delay_ms: seconds * 1000 (values above 2^31 s saturate at 2^31 s),
 * or date - now (0 when the date has passed). Returns 0 for anything else (empty,
 * negative, fractional, garbage, out-of-range fields); *delay_ms is then untouched.
 * value NULL gives 0. Thread-safe. */
int evb_retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms);

#endif
