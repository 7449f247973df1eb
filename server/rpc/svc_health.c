/* evbridge — grpc.health.v1.Health/Check (no key needed).
 *
 * SERVING once the store is open and until shutdown begins; the overall server ("") and
 * each evbridge.v1 service name are known; other names answer NOT_FOUND as the health
 * protocol asks.
 */
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "server/rpc/svc.h"

static const char *const known[] = {
    "",
    "evbridge.v1.EventService",
    "evbridge.v1.SchemaRegistry",
    "evbridge.v1.ConnectorService",
    "evbridge.v1.AdminService",
};

static void check(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    Grpc__Health__V1__HealthCheckRequest *r =
        grpc__health__v1__health_check_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed HealthCheckRequest");
        return;
    }
    int found = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        found |= strcmp(r->service, known[i]) == 0;
    grpc__health__v1__health_check_request__free_unpacked(r, NULL);
    if (!found) {
        evb_rpc_reply_error(call, EVB_RPC_NOT_FOUND, "unknown service");
        return;
    }
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = atomic_load(&svc->serving)
                      ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                      : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    evb_svc_reply_msg(call, &resp.base);
}

evb_err evb_svc_health_register(evb_rpc_server *server, evb_services *svc)
{
    return evb_rpc_server_add_unary(server, "/grpc.health.v1.Health/Check", check, svc);
}
