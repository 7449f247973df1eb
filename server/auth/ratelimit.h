/* evbridge — per-API-key rate limits (token buckets), `--key-rate` / `--key-burst`.
 *
 * Every authenticated call (and every PublishStream request) takes one token from the
 * bucket of its key id. A bucket holds at most `burst` tokens and refills at `rate` tokens
 * per second; an empty bucket answers "not now" with the time until the next token.
 *
 * Memory is bounded: the table holds at most `max_keys` buckets. A bucket that has refilled
 * completely is indistinguishable from a new one, so idle keys are dropped (swept at most
 * once a second per shard, and whenever a shard is full); if a shard is still full, its
 * least recently used bucket is reused. Counts are integers (milli-tokens), so there is no
 * floating-point drift. Thread-safe: the table is split into shards with a mutex each.
 */
#ifndef EVB_SERVER_RATELIMIT_H
#define EVB_SERVER_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct evb_ratelimit evb_ratelimit;

/* Creates a limiter of `rate` tokens per second (>= 1) and `burst` tokens (0 = rate),
 * tracking at most `max_keys` keys (0 = 65536). EVB_ERR_INVALID for rate < 1 or a negative
 * burst; EVB_ERR_NOMEM. */
evb_err evb_ratelimit_new(int rate, int burst, size_t max_keys, evb_ratelimit **out);

/* NULL is a no-op. No call may be in progress. */
void evb_ratelimit_free(evb_ratelimit *rl);

/* Takes one token for `key_id` (any NUL-terminated id; copied, at most 32 bytes are
 * significant) at monotonic time `now_ms`. Returns 1 when allowed; 0 when the bucket is
 * empty, with *retry_after_ms (optional) set to the wait until a token is there (>= 1).
 * Thread-safe. */
int evb_ratelimit_take(evb_ratelimit *rl, const char *key_id, int64_t now_ms,
                       int64_t *retry_after_ms);

/* Buckets currently tracked (tests, metrics). Thread-safe. */
size_t evb_ratelimit_size(evb_ratelimit *rl);

/* The configured rate and burst (burst resolved: never 0). */
int evb_ratelimit_rate(const evb_ratelimit *rl);
int evb_ratelimit_burst(const evb_ratelimit *rl);

#endif
