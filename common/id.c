/* evbridge — UUIDv7 and random hex identifiers (id.h).
 *
 * Layout (RFC 9562 §5.7): unix_ts_ms (48) | ver=7 (4) | rand_a (12) | var=10 (2) | rand_b (62).
 * rand_a is a per-process counter (§6.2 method 1): on a new millisecond it is re-seeded
 * with 11 random bits (top bit clear, leaving at least 2048 increments of headroom), within
 * the same millisecond it is incremented. On overflow, or when the wall clock steps back,
 * the timestamp is advanced from the last one issued, so (timestamp, counter) — and hence
 * the string form — strictly increases within the process. rand_b comes from the CSPRNG,
 * drawn POOL bytes at a time: one RAND_bytes call costs as much as ~50 ids' worth of bytes
 * (OpenSSL's DRBG locks and layers per call), and ids are made per event and per delivery.
 * The pool is refilled after a fork (a child must not reuse the parent's bytes). A mutex
 * guards the state. Spec: https://www.rfc-editor.org/rfc/rfc9562#section-5.7
 */
#include "common/id.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "common/crypto.h"
#include "common/timeutil.h"

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;  /* guarded by uuid_lock */
static uint32_t last_ctr; /* guarded by uuid_lock; 12 bits */

#define POOL 500                /* a multiple of the 10 random bytes an id takes */
static uint8_t pool[POOL];      /* guarded by uuid_lock: CSPRNG bytes not handed out yet */
static size_t pool_used = POOL; /* guarded by uuid_lock; POOL = empty */
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/* In a forked child (single-threaded there): forget the parent's bytes. */
static void pool_forget(void)
{
    memset(pool, 0, sizeof pool);
    pool_used = POOL;
}

static void pool_init(void)
{
    pthread_atfork(NULL, NULL, pool_forget);
}

/* n (<= POOL) bytes of the pool into out, refilling it when short. uuid_lock held. */
static evb_err pool_take(uint8_t *out, size_t n)
{
    pthread_once(&pool_once, pool_init);
    if (POOL - pool_used < n) {
        if (evb_random_bytes(pool, sizeof pool) != EVB_OK)
            return EVB_ERR_INTERNAL;
        pool_used = 0;
    }
    memcpy(out, pool + pool_used, n);
    memset(pool + pool_used, 0, n); /* handed out: not kept in memory */
    pool_used += n;
    return EVB_OK;
}

static const char hexdig[] = "0123456789abcdef";

evb_err evb_uuid7(char *out, size_t outlen)
{
    if (out == NULL || outlen < EVB_UUID_STRLEN + 1)
        return EVB_ERR_INVALID;
    uint8_t rnd[10];
    uint64_t now = (uint64_t)evb_now_ms() & 0xFFFFFFFFFFFFull;

    pthread_mutex_lock(&uuid_lock);
    if (pool_take(rnd, sizeof rnd) != EVB_OK) {
        pthread_mutex_unlock(&uuid_lock);
        return EVB_ERR_INTERNAL;
    }
    uint32_t seed = ((uint32_t)rnd[8] << 8 | rnd[9]) & 0x7FF;
    uint64_t ts;
    uint32_t ctr;
    if (now > last_ms) {
        ts = now;
        ctr = seed;
    } else if (last_ctr < 0xFFF) {
        ts = last_ms;
        ctr = last_ctr + 1;
    } else {
        ts = last_ms + 1;
        ctr = seed;
    }
    last_ms = ts;
    last_ctr = ctr;
    pthread_mutex_unlock(&uuid_lock);

    uint8_t u[16];
    for (int i = 0; i < 6; i++)
        u[i] = (uint8_t)(ts >> (40 - 8 * i));
    u[6] = (uint8_t)(0x70 | (ctr >> 8));
    u[7] = (uint8_t)(ctr & 0xFF);
    for (int i = 0; i < 8; i++)
        u[8 + i] = rnd[i];
    u[8] = (uint8_t)(0x80 | (u[8] & 0x3F));

    size_t j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hexdig[u[i] >> 4];
        out[j++] = hexdig[u[i] & 0xF];
    }
    out[j] = '\0';
    return EVB_OK;
}

evb_err evb_random_hex(char *out, size_t outlen, size_t n)
{
    if (out == NULL || n > (SIZE_MAX - 1) / 2 || outlen < 2 * n + 1)
        return EVB_ERR_INVALID;
    uint8_t chunk[64];
    size_t j = 0;
    while (n > 0) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        if (evb_random_bytes(chunk, k) != EVB_OK)
            return EVB_ERR_INTERNAL;
        for (size_t i = 0; i < k; i++) {
            out[j++] = hexdig[chunk[i] >> 4];
            out[j++] = hexdig[chunk[i] & 0xF];
        }
        n -= k;
    }
    out[j] = '\0';
    return EVB_OK;
}
