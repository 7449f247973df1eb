/* evbridge — storage of actions, connections and deliveries (issue 4 routing; the
 * dispatcher of issue 5 builds on the delivery rows).
 *
 * Part of the store: callers see only this header. Action and connection *settings* are
 * kept as JSON text the store does not interpret (the service layer validates and parses
 * them), so adding a setting needs no migration. Deliveries are created in the SAME
 * transaction as their event (see evb_put_item.deliveries in store.h), so an acknowledged
 * event never lacks its deliveries. Writes ride the writer's group commit; reads use the
 * reader pool. Thread-safe.
 */
#ifndef EVB_SERVER_STORE_ROUTING_H
#define EVB_SERVER_STORE_ROUTING_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/store/store.h"

/* ---- actions ---- */

typedef struct evb_action_rec {
    char *name;            /* unique across the server */
    char *isv;             /* owner ISV ("" when org-owned) */
    char *org;             /* owner org ("" when ISV-owned) */
    int kind;              /* ActionKind: 1 HTTP, 2 DINGTALK_ROBOT, 3 STREAM */
    char *config;          /* JSON text of the target, secrets included (never log it) */
    int disabled;          /* set when a target refuses for good */
    char *disabled_reason; /* "" when enabled */
    int64_t create_ms, update_ms;
} evb_action_rec;

void evb_action_rec_free(evb_action_rec *a);
void evb_action_rec_array_free(evb_action_rec **as, size_t n);

/* EVB_ERR_EXISTS when the name is taken. Sets create/update times (create_ms 0 = now). */
evb_err evb_store_action_create(evb_store *s, const evb_action_rec *a);
/* Replaces kind and config (name, isv, org, create time kept). EVB_ERR_NOT_FOUND. */
evb_err evb_store_action_update(evb_store *s, const evb_action_rec *a);
/* Sets or clears disabled with a reason. EVB_ERR_NOT_FOUND. */
evb_err evb_store_action_set_disabled(evb_store *s, const char *name, int disabled,
                                      const char *reason);
/* EVB_ERR_PRECONDITION when a connection still uses the action; EVB_ERR_NOT_FOUND. */
evb_err evb_store_action_delete(evb_store *s, const char *name);
evb_err evb_store_action_get(evb_store *s, const char *name, evb_action_rec **out);
/* Filters may be NULL: by ISV, by org (org-owned ones of that org), sorted by name. */
evb_err evb_store_action_list(evb_store *s, const char *isv, const char *org,
                              evb_action_rec ***out, size_t *n_out);

/* ---- connections ---- */

typedef struct evb_connection_rec {
    char *id;           /* assigned by the caller (UUIDv7) */
    char *org;
    char *name;         /* unique within the org */
    char *connector;
    char *action;       /* action name */
    char *config;       /* JSON text: event types, pattern, transform, retry, ordering, ... */
    int state;          /* ConnectionState: 1 ENABLED, 2 PAUSED, 3 DISABLED */
    char *state_reason; /* "" when none */
    int64_t create_ms, update_ms;
} evb_connection_rec;

void evb_connection_rec_free(evb_connection_rec *c);
void evb_connection_rec_array_free(evb_connection_rec **cs, size_t n);

/* EVB_ERR_EXISTS when (org, name) or the id is taken. */
evb_err evb_store_connection_create(evb_store *s, const evb_connection_rec *c);
/* Replaces name, connector, action, config, state and reason, by id. EVB_ERR_NOT_FOUND;
 * EVB_ERR_EXISTS when the new name is taken in the org. */
evb_err evb_store_connection_update(evb_store *s, const evb_connection_rec *c);
/* Sets the state (and reason). When a connection becomes ENABLED again, its held
 * deliveries become pending (due now); when it is PAUSED, new deliveries are held. */
evb_err evb_store_connection_set_state(evb_store *s, const char *id, int state,
                                       const char *reason);
/* Deletes the connection; its pending and held deliveries are deleted with it (delivered
 * and dead ones are kept for traces). EVB_ERR_NOT_FOUND. */
evb_err evb_store_connection_delete(evb_store *s, const char *id);
evb_err evb_store_connection_get(evb_store *s, const char *id, evb_connection_rec **out);
/* Filters may be NULL; sorted by org then name. */
evb_err evb_store_connection_list(evb_store *s, const char *org, const char *connector,
                                  evb_connection_rec ***out, size_t *n_out);
/* Every connection (for building the routing snapshot), sorted by id. */
evb_err evb_store_connection_all(evb_store *s, evb_connection_rec ***out, size_t *n_out);
/* A counter bumped by every action/connection change (create, update, state, delete), so
 * a routing snapshot can tell it is stale. Starts at 1 when the store opens. */
uint64_t evb_store_routing_generation(evb_store *s);

/* ---- deliveries ---- */

typedef enum evb_delivery_state {
    EVB_DELIVERY_PENDING = 0,  /* due at next_ms */
    EVB_DELIVERY_HELD = 1,     /* connection paused: not due until resumed */
    EVB_DELIVERY_LEASED = 2,   /* claimed by a dispatcher until lease_ms */
    EVB_DELIVERY_DELIVERED = 3,
    EVB_DELIVERY_DEAD = 4,     /* dead letter */
} evb_delivery_state;

typedef struct evb_delivery_rec {
    char *id;            /* stable across attempts (UUIDv7) */
    int64_t event_seq;
    char *event_id;
    char *connection_id;
    char *org;
    int state;           /* evb_delivery_state */
    int attempts;
    int64_t next_ms;     /* due time (PENDING) */
    int64_t lease_ms;    /* lease expiry (LEASED) */
    char *ordering_key;  /* e.g. the CloudEvents subject under PER_SUBJECT; "" = none */
    int last_status;     /* HTTP status or robot errcode of the last attempt */
    char *last_error;    /* "" when none */
    int64_t create_ms, update_ms;
} evb_delivery_rec;

void evb_delivery_rec_free(evb_delivery_rec *d);
void evb_delivery_rec_array_free(evb_delivery_rec **ds, size_t n);

/* Deliveries of one event (trace, tests), oldest first. */
evb_err evb_store_delivery_list_for_event(evb_store *s, int64_t event_seq,
                                          evb_delivery_rec ***out, size_t *n_out);
/* Deliveries of a connection in a state (-1 = any), oldest first, at most `limit`. */
evb_err evb_store_delivery_list(evb_store *s, const char *connection_id, int state, int limit,
                                evb_delivery_rec ***out, size_t *n_out);

/* The routing decision recorded with an event for its trace: the connections of the
 * event's (org, connector) that matched and those that did not (JSON text, as given). */
evb_err evb_store_event_filter_trace(evb_store *s, int64_t event_seq, char **json_out);

#endif
