/* evbridge — actions: validation of the protobuf Action and its stored JSON form.
 *
 * An action's target settings are stored as JSON text (store_routing.h); this file owns the
 * mapping both ways. Secrets (signing secret, auth password/token/api key, robot secret,
 * the robot webhook's access_token) go into the stored form but never come back out in
 * replies: evb_action_to_pb masks them and sets has_signing_secret / has_secret.
 */
#ifndef EVB_SERVER_RPC_ACTION_CODEC_H
#define EVB_SERVER_RPC_ACTION_CODEC_H

#include "evbridge/v1/connector.pb-c.h"
#include "server/rpc/svc.h"
#include "server/store/store_routing.h"

/* Validates a (create or update) Action message. `old_config` (NULL on create) supplies
 * secrets the update leaves empty (write-only fields keep their stored value). On EVB_OK
 * *config_out is the malloc'd JSON text to store. err names the field. */
evb_err evb_action_config_from_pb(const Evbridge__V1__Action *a, const char *old_config,
                                  char **config_out, evb_error *err);

/* Builds the reply form of a stored action in the arena, secrets masked. NULL when out of
 * memory or the stored config is unreadable. */
Evbridge__V1__Action *evb_action_to_pb(evb_arena *arena, const evb_action_rec *rec);

#endif
