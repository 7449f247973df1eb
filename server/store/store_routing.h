/* evbridge — storage of actions, connections and deliveries (issue 4 routing; the
 * dispatcher of issue 5 builds on the delivery rows).
 *
 * Part of the store: callers see only this header. Action and connection *settings* are
 * kept as JSON text the store does not interpret (the service layer validates and parses
 * them), so adding a setting needs no migration. Deliveries are created in the SAME
 * transaction as their event (see evb_put_item.deliveries in store.h), so an acknowledged
 * event never lacks its deliveries. Writes ride the writer's group commit; reads use the
 * reader pool. Thread-safe.
 *
 * Common rules. Action and connection writes are synchronous, as connector writes are: they
 * wait for their commit, so they must not be called from a put completion
 * (EVB_ERR_INTERNAL); EVB_ERR_UNAVAILABLE when closing or when the commit failed (then
 * nothing was written). EVB_ERR_INVALID for a NULL store, a missing required field or
 * out-pointer. Records handed out are malloc'd (free with the matching _free); lists with
 * no match are EVB_OK with *out NULL and *n_out 0. The store does not check references
 * between records (that a connection's action or connector exists): the service layer does;
 * only an action delete refuses while a connection names it.
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

/* EVB_ERR_EXISTS when the name is taken. Sets create/update times (create_ms 0 = now;
 * update_ms = create_ms). name is required; isv/org NULL are stored as "", config NULL as
 * "{}"; disabled/disabled_reason are taken as given (the reason is stored only when
 * disabled). kind is not checked. */
evb_err evb_store_action_create(evb_store *s, const evb_action_rec *a);
/* Replaces kind and config (name, isv, org, disabled state, create time kept); sets
 * update_ms. EVB_ERR_NOT_FOUND. */
evb_err evb_store_action_update(evb_store *s, const evb_action_rec *a);
/* Sets or clears disabled with a reason (NULL = ""; cleared with the flag).
 * EVB_ERR_NOT_FOUND. */
evb_err evb_store_action_set_disabled(evb_store *s, const char *name, int disabled,
                                      const char *reason);
/* EVB_ERR_NOT_FOUND when absent, else EVB_ERR_PRECONDITION while a connection (of any
 * org) still names the action; the check and the delete are atomic. */
evb_err evb_store_action_delete(evb_store *s, const char *name);
evb_err evb_store_action_get(evb_store *s, const char *name, evb_action_rec **out);
/* Filters may be NULL (both given: both apply): by ISV, by org (org-owned ones of that
 * org); sorted by name. */
evb_err evb_store_action_list(evb_store *s, const char *isv, const char *org, evb_action_rec ***out,
                              size_t *n_out);

/* ---- connections ---- */

typedef struct evb_connection_rec {
    char *id; /* assigned by the caller (UUIDv7) */
    char *org;
    char *name; /* unique within the org */
    char *connector;
    char *action;       /* action name */
    char *config;       /* JSON text: event types, pattern, transform, retry, ordering, ... */
    int state;          /* ConnectionState: 1 ENABLED, 2 PAUSED, 3 DISABLED */
    char *state_reason; /* "" when none */
    int64_t create_ms, update_ms;
} evb_connection_rec;

void evb_connection_rec_free(evb_connection_rec *c);
void evb_connection_rec_array_free(evb_connection_rec **cs, size_t n);

/* EVB_ERR_EXISTS when (org, name) or the id is taken. id, org, name, connector and action
 * are required and state must be 1..3 (EVB_ERR_INVALID); config NULL is stored as "{}",
 * state_reason NULL as "". create_ms 0 = now; update_ms = create_ms. */
evb_err evb_store_connection_create(evb_store *s, const evb_connection_rec *c);
/* Replaces name, connector, action, config, state and reason, by id (org and create time
 * kept; org is still required in c but ignored); sets update_ms. Same field rules as
 * create. A state of ENABLED releases held deliveries as set_state does.
 * EVB_ERR_NOT_FOUND; EVB_ERR_EXISTS when the new name is taken in the org. */
evb_err evb_store_connection_update(evb_store *s, const evb_connection_rec *c);
/* Sets the state (1..3, else EVB_ERR_INVALID) and reason (NULL = ""). Setting ENABLED
 * turns the connection's HELD deliveries into PENDING, due now, in the same transaction.
 * PAUSED and DISABLED leave existing deliveries as they are (a dispatcher checks the
 * connection's state before sending); deliveries created while the connection is PAUSED
 * are HELD (see evb_delivery_new.held). EVB_ERR_NOT_FOUND. */
evb_err evb_store_connection_set_state(evb_store *s, const char *id, int state, const char *reason);
/* Deletes the connection; its pending and held deliveries are deleted with it (delivered,
 * dead and leased ones are kept: traces, and a dispatcher may be finishing a leased one).
 * EVB_ERR_NOT_FOUND. */
evb_err evb_store_connection_delete(evb_store *s, const char *id);
evb_err evb_store_connection_get(evb_store *s, const char *id, evb_connection_rec **out);
/* Filters may be NULL; sorted by org then name. */
evb_err evb_store_connection_list(evb_store *s, const char *org, const char *connector,
                                  evb_connection_rec ***out, size_t *n_out);
/* Every connection (for building the routing snapshot), sorted by id. */
evb_err evb_store_connection_all(evb_store *s, evb_connection_rec ***out, size_t *n_out);
/* A counter bumped by every successful action/connection change (create, update,
 * set_disabled, set_state, delete), after its commit and before the write call returns,
 * so a routing snapshot can tell it is stale: read the generation, then the records; the
 * snapshot is current while the generation is unchanged. PostgreSQL: also bumped within
 * about a second of such a change committed by another node (store.h). Starts at 1 when
 * the store opens (not persisted); 0 for a NULL store. Lock-free. */
uint64_t evb_store_routing_generation(evb_store *s);

/* ---- deliveries ---- */

typedef enum evb_delivery_state {
    EVB_DELIVERY_PENDING = 0, /* due at next_ms */
    EVB_DELIVERY_HELD = 1,    /* connection paused: not due until resumed */
    EVB_DELIVERY_LEASED = 2,  /* claimed by a dispatcher until lease_ms */
    EVB_DELIVERY_DELIVERED = 3,
    EVB_DELIVERY_DEAD = 4, /* dead letter */
} evb_delivery_state;

typedef struct evb_delivery_rec {
    char *id; /* stable across attempts (UUIDv7) */
    int64_t event_seq;
    char *event_id;
    char *connection_id;
    char *org;
    int state; /* evb_delivery_state */
    int attempts;
    int64_t next_ms;    /* due time (PENDING) */
    int64_t lease_ms;   /* lease expiry (LEASED) */
    char *ordering_key; /* e.g. the CloudEvents subject under PER_SUBJECT; "" = none */
    int last_status;    /* HTTP status or robot errcode of the last attempt */
    char *last_error;   /* "" when none */
    int64_t create_ms, update_ms;
} evb_delivery_rec;

void evb_delivery_rec_free(evb_delivery_rec *d);
void evb_delivery_rec_array_free(evb_delivery_rec **ds, size_t n);

/* Deliveries of one event (trace, tests), in the order the put gave them. */
evb_err evb_store_delivery_list_for_event(evb_store *s, int64_t event_seq, evb_delivery_rec ***out,
                                          size_t *n_out);
/* Deliveries of a connection in a state (-1 = any), oldest event first (event_seq), at
 * most `limit` (1..1000; EVB_ERR_INVALID otherwise, or for a state outside -1..4). */
evb_err evb_store_delivery_list(evb_store *s, const char *connection_id, int state, int limit,
                                evb_delivery_rec ***out, size_t *n_out);

/* The routing decision recorded with an event for its trace: the connections of the
 * event's (org, connector) that matched and those that did not (JSON text, as given with
 * evb_put_item.filter_trace). *json_out is malloc'd (free). EVB_ERR_NOT_FOUND when the
 * event has none (no such event, a put without a trace). */
evb_err evb_store_event_filter_trace(evb_store *s, int64_t event_seq, char **json_out);

#endif
