/* evbridge — metadata records kept by the store (connectors, API keys).
 *
 * Plain structs with malloc'd strings, shared by the store and the services. The store
 * validates nothing about their content: services check names and scopes before writing.
 */
#ifndef EVB_SERVER_STORE_RECORDS_H
#define EVB_SERVER_STORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

/* An event type a connector declares, bound to a data model. */
typedef struct evb_event_type_def {
    char *type;        /* CloudEvents type */
    char *subject;     /* data model subject ("" or NULL = no model bound) */
    int32_t version;   /* pinned model version; 0 = latest */
    char *description; /* may be NULL */
} evb_event_type_def;

typedef struct evb_connector {
    char *name;
    char *display_name; /* may be NULL */
    char *isv;
    char *source;       /* CloudEvents source */
    evb_event_type_def *types;
    size_t n_types;
    int64_t create_ms;  /* set by the store */
    int64_t update_ms;  /* set by the store */
} evb_connector;

void evb_connector_free(evb_connector *c);
void evb_connector_array_free(evb_connector **cs, size_t n);

typedef struct evb_api_key {
    char *key_id;      /* public identifier, part of the key text */
    char *hash;        /* hex SHA-256 of the secret; never the secret itself */
    char *role;        /* admin | isv | schema-owner | org-admin | subscriber */
    char *scope;       /* ISV name or org; "" when the role has none */
    char *description; /* may be NULL */
    int64_t create_ms;
    int64_t revoke_ms; /* 0 = active */
} evb_api_key;

void evb_api_key_free(evb_api_key *k);
void evb_api_key_array_free(evb_api_key **ks, size_t n);

#endif
