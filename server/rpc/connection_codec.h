/* evbridge — connections: validation of the protobuf Connection and its stored JSON form.
 *
 * A connection's settings (event types, pattern, transform, retry, dead letter, ordering,
 * rate, fault tolerance, concurrency) are stored as JSON text (store_routing.h). The
 * pattern and transform are compiled here once to reject invalid ones at create/update
 * time with the reason; the routing snapshot compiles them again when it is rebuilt.
 */
#ifndef EVB_SERVER_RPC_CONNECTION_CODEC_H
#define EVB_SERVER_RPC_CONNECTION_CODEC_H

#include "evbridge/v1/connector.pb-c.h"
#include "server/rpc/svc.h"
#include "server/store/store_routing.h"

/* Checks the settings of c against its connector (event types must be declared by it)
 * and builds the stored JSON (*config_out, malloc'd). err names the field. */
evb_err evb_connection_config_from_pb(const Evbridge__V1__Connection *c,
                                      const evb_connector *connector, size_t max_pattern_bytes,
                                      char **config_out, evb_error *err);

/* Builds the reply form of a stored connection in the arena. NULL when out of memory or
 * the stored config is unreadable. */
Evbridge__V1__Connection *evb_connection_to_pb(evb_arena *arena, const evb_connection_rec *rec);

#endif
