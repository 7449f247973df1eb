/* evbridge — private to server/schemas/: the registry's state. */
#ifndef EVB_SERVER_SCHEMAS_INT_H
#define EVB_SERVER_SCHEMAS_INT_H

#include <pthread.h>
#include <stdint.h>

#include "server/schemas/schemas.h"

#define N_BUCKETS 1024
#define DEFAULT_BASE "evb://registry/schemas/ids/"

typedef struct cache_entry {
    struct cache_entry *next;
    char *subject;
    int32_t version; /* as requested: 0 = latest */
    evb_model *model;
} cache_entry;

struct evb_schemas {
    evb_store *store;
    char *base;
    int max_violations;
    pthread_mutex_t mu;
    uint64_t epoch;
    uint64_t store_gen; /* the store's configuration generation the cache was built at */
    cache_entry *buckets[N_BUCKETS];
};

#endif
