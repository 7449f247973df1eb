/* evbridge — the one table from evb_err to gRPC status (DESIGN.md §5, STYLE.md "Errors").
 *
 * Designated initializers keep the table readable and let the static assertion below
 * catch a new evb_err added without a mapping.
 */
#include "server/rpc/rpc.h"

static const evb_rpc_status status_of[EVB_ERR__COUNT] = {
    [EVB_OK] = EVB_RPC_OK,
    [EVB_ERR_INVALID] = EVB_RPC_INVALID_ARGUMENT,
    [EVB_ERR_NOT_FOUND] = EVB_RPC_NOT_FOUND,
    [EVB_ERR_EXISTS] = EVB_RPC_ALREADY_EXISTS,
    [EVB_ERR_PRECONDITION] = EVB_RPC_FAILED_PRECONDITION,
    [EVB_ERR_DENIED] = EVB_RPC_PERMISSION_DENIED,
    [EVB_ERR_UNAUTHENTICATED] = EVB_RPC_UNAUTHENTICATED,
    [EVB_ERR_LIMIT] = EVB_RPC_RESOURCE_EXHAUSTED,
    [EVB_ERR_TOO_LARGE] = EVB_RPC_RESOURCE_EXHAUSTED,
    [EVB_ERR_UNAVAILABLE] = EVB_RPC_UNAVAILABLE,
    [EVB_ERR_NOMEM] = EVB_RPC_RESOURCE_EXHAUSTED,
    [EVB_ERR_IO] = EVB_RPC_INTERNAL,
    [EVB_ERR_PARSE] = EVB_RPC_INVALID_ARGUMENT,
    [EVB_ERR_UNIMPLEMENTED] = EVB_RPC_UNIMPLEMENTED,
    [EVB_ERR_CANCELLED] = EVB_RPC_CANCELLED,
    [EVB_ERR_TIMEOUT] = EVB_RPC_DEADLINE_EXCEEDED,
    [EVB_ERR_INTERNAL] = EVB_RPC_INTERNAL,
};

_Static_assert(EVB_ERR__COUNT == 17, "new evb_err: add it to status_of[] in status.c");

evb_rpc_status evb_rpc_status_from_err(evb_err e)
{
    if ((int)e < 0 || e >= EVB_ERR__COUNT)
        return EVB_RPC_UNKNOWN;
    return status_of[e];
}
