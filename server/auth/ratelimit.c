/* evbridge — per-API-key token buckets. See ratelimit.h.
 *
 * A shard is a dense array of buckets plus a chained hash index (bucket heads and `next`
 * links hold array index + 1, 0 = end). Removing a bucket moves the last one into its slot
 * and relinks it, so the array stays dense and a sweep is one pass. Tokens are counted in
 * milli-tokens: a bucket gains `rate` milli-tokens per millisecond and a call costs 1000.
 */
#include "server/auth/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SHARDS 16
#define ID_MAX 32
#define COST 1000 /* milli-tokens per call */
#define SWEEP_EVERY_MS 1000

typedef struct bucket {
    char id[ID_MAX + 1];
    uint32_t hash;
    uint32_t next;  /* index + 1 of the next bucket in the chain; 0 = end */
    int64_t tokens; /* milli-tokens at `stamp` */
    int64_t stamp;  /* ms of the last refill */
} bucket;

typedef struct shard {
    pthread_mutex_t mu;
    uint32_t *heads; /* n_heads chain heads */
    bucket *b;       /* cap buckets, n in use */
    uint32_t n, cap, n_heads;
    int64_t last_sweep;
} shard;

struct evb_ratelimit {
    int64_t rate;     /* tokens per second = milli-tokens per ms */
    int64_t capacity; /* milli-tokens */
    int burst;
    shard shards[N_SHARDS];
};

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; s[i] != '\0' && i < ID_MAX; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

evb_err evb_ratelimit_new(int rate, int burst, size_t max_keys, evb_ratelimit **out)
{
    *out = NULL;
    if (rate < 1 || burst < 0)
        return EVB_ERR_INVALID;
    if (max_keys == 0)
        max_keys = 65536;
    evb_ratelimit *rl = calloc(1, sizeof *rl);
    if (rl == NULL)
        return EVB_ERR_NOMEM;
    rl->rate = rate;
    rl->burst = burst > 0 ? burst : rate;
    rl->capacity = (int64_t)rl->burst * COST;
    uint32_t cap = (uint32_t)((max_keys + N_SHARDS - 1) / N_SHARDS);
    if (cap < 4)
        cap = 4;
    int i;
    for (i = 0; i < N_SHARDS; i++) {
        shard *s = &rl->shards[i];
        s->cap = cap;
        s->n_heads = 1;
        while (s->n_heads < cap)
            s->n_heads <<= 1;
        s->heads = calloc(s->n_heads, sizeof *s->heads);
        s->b = calloc(cap, sizeof *s->b);
        if (s->heads == NULL || s->b == NULL || pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->heads);
            free(s->b);
            break;
        }
    }
    if (i < N_SHARDS) {
        while (i-- > 0) {
            free(rl->shards[i].heads);
            free(rl->shards[i].b);
            pthread_mutex_destroy(&rl->shards[i].mu);
        }
        free(rl);
        return EVB_ERR_NOMEM;
    }
    *out = rl;
    return EVB_OK;
}

void evb_ratelimit_free(evb_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < N_SHARDS; i++) {
        free(rl->shards[i].heads);
        free(rl->shards[i].b);
        pthread_mutex_destroy(&rl->shards[i].mu);
    }
    free(rl);
}

/* Tokens of b at now (capped); does not modify b. */
static int64_t level(const evb_ratelimit *rl, const bucket *b, int64_t now)
{
    int64_t dt = now - b->stamp;
    if (dt < 0)
        dt = 0;
    /* dt * rate can only overflow after ~292 years / rate: cap dt first */
    int64_t full_after = (rl->capacity - b->tokens) / rl->rate + 1;
    if (dt >= full_after)
        return rl->capacity;
    int64_t t = b->tokens + dt * rl->rate;
    return t > rl->capacity ? rl->capacity : t;
}

/* Unlinks bucket i and moves the last bucket into its slot. */
static void remove_at(shard *s, uint32_t i)
{
    uint32_t *pp = &s->heads[s->b[i].hash & (s->n_heads - 1)];
    while (*pp != i + 1)
        pp = &s->b[*pp - 1].next;
    *pp = s->b[i].next;
    uint32_t last = s->n - 1;
    if (i != last) {
        pp = &s->heads[s->b[last].hash & (s->n_heads - 1)];
        while (*pp != last + 1)
            pp = &s->b[*pp - 1].next;
        *pp = i + 1;
        s->b[i] = s->b[last];
    }
    s->n--;
}

/* Drops every bucket that has refilled completely (a new bucket would be the same). */
static void sweep(const evb_ratelimit *rl, shard *s, int64_t now)
{
    s->last_sweep = now;
    for (uint32_t i = s->n; i-- > 0;)
        if (level(rl, &s->b[i], now) >= rl->capacity)
            remove_at(s, i);
}

/* A free slot: after a sweep, or by dropping the least recently used bucket. */
static uint32_t make_room(const evb_ratelimit *rl, shard *s, int64_t now)
{
    if (s->n == s->cap)
        sweep(rl, s, now);
    if (s->n == s->cap) {
        uint32_t lru = 0;
        for (uint32_t i = 1; i < s->n; i++)
            if (s->b[i].stamp < s->b[lru].stamp)
                lru = i;
        remove_at(s, lru);
    }
    return s->n++;
}

int evb_ratelimit_take(evb_ratelimit *rl, const char *key_id, int64_t now_ms,
                       int64_t *retry_after_ms)
{
    if (key_id == NULL)
        key_id = "";
    uint32_t h = hash_id(key_id);
    shard *s = &rl->shards[(h >> 24) % N_SHARDS];
    pthread_mutex_lock(&s->mu);
    if (now_ms - s->last_sweep >= SWEEP_EVERY_MS)
        sweep(rl, s, now_ms);
    bucket *b = NULL;
    for (uint32_t i = s->heads[h & (s->n_heads - 1)]; i != 0; i = s->b[i - 1].next) {
        bucket *c = &s->b[i - 1];
        if (c->hash == h && strncmp(c->id, key_id, ID_MAX) == 0) {
            b = c;
            break;
        }
    }
    if (b == NULL) {
        uint32_t i = make_room(rl, s, now_ms);
        b = &s->b[i];
        *b = (bucket){.hash = h, .tokens = rl->capacity, .stamp = now_ms};
        snprintf(b->id, sizeof b->id, "%.*s", ID_MAX, key_id);
        uint32_t *head = &s->heads[h & (s->n_heads - 1)];
        b->next = *head;
        *head = i + 1;
    }
    int64_t t = level(rl, b, now_ms);
    if (now_ms > b->stamp)
        b->stamp = now_ms;
    int ok = t >= COST;
    if (ok) {
        b->tokens = t - COST;
    } else {
        b->tokens = t;
        if (retry_after_ms != NULL)
            *retry_after_ms = (COST - t + rl->rate - 1) / rl->rate;
    }
    pthread_mutex_unlock(&s->mu);
    if (!ok && retry_after_ms != NULL && *retry_after_ms < 1)
        *retry_after_ms = 1;
    return ok;
}

size_t evb_ratelimit_size(evb_ratelimit *rl)
{
    size_t n = 0;
    for (int i = 0; i < N_SHARDS; i++) {
        pthread_mutex_lock(&rl->shards[i].mu);
        n += rl->shards[i].n;
        pthread_mutex_unlock(&rl->shards[i].mu);
    }
    return n;
}

int evb_ratelimit_rate(const evb_ratelimit *rl)
{
    return (int)rl->rate;
}

int evb_ratelimit_burst(const evb_ratelimit *rl)
{
    return rl->burst;
}
