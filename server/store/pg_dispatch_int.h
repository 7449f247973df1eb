/* evbridge — private header of the PostgreSQL backend: the ordering-key lock that keeps
 * per-key ordering across nodes (pg_dispatch.c explains the protocol).
 *
 * A claim looks at an ordering key's head (its oldest blocking delivery, by rid) only while
 * it holds the key's lock EXCLUSIVELY (pg_try_advisory_xact_lock: a claim never waits; a
 * key it cannot lock is skipped this time, and claimed on a later pass). Every writer that
 * changes what a key's head is holds the same lock SHARED (writers never wait for each
 * other) until its commit: a put or replay takes it BEFORE it inserts a delivery with that
 * key (rids are allocated at insert, not at commit: without the lock a claim could lease a
 * newer row while an older one is still uncommitted); a completion that unblocks the key
 * takes it before the statement that unparks the new head (else a claim could park that
 * head on a stale view after the unpark had looked, and nothing would unpark it).
 * The lock is a transaction-level advisory lock (two-int form, class PG_KEY_LOCK_CLASS) on
 * a hash of (schema, connection, key): a collision only makes a claim skip a key once.
 */
#ifndef EVB_SERVER_STORE_PG_DISPATCH_INT_H
#define EVB_SERVER_STORE_PG_DISPATCH_INT_H

#include "server/store/pg_int.h"

#define PG_KEY_LOCK_CLASS "74539"
/* The lock's two arguments for SQL text expressions conn and key. */
#define PG_KEY_LOCK_ID(conn, key)                                                                  \
    PG_KEY_LOCK_CLASS ", hashtext(current_schema() || chr(1) || (" conn ") || chr(1) || (" key ")" \
                      ")"
/* A boolean SQL expression (always true) that takes the key's lock SHARED: for the WHERE of
 * an INSERT ... SELECT of deliveries, e.g. "WHERE (k = '' OR " PG_KEY_LOCKED_SHARED("c", "k")
 * ")" takes it for each keyed row before that row's rid is allocated. */
#define PG_KEY_LOCKED_SHARED(conn, key)                                                            \
    "(SELECT true FROM (SELECT pg_advisory_xact_lock_shared(" PG_KEY_LOCK_ID(conn, key) ")) l_)"

/* Loads the event of each claim (cs[i].delivery set, cs[i].event NULL) in one read;
 * claims whose event is gone (purged, the delivery with it) are dropped and *n shrinks.
 * On error the claims are left as they are (the caller frees them). */
evb_err pg_claims_load_events(pg_store *ps, evb_claim *cs, size_t *n);

#endif
