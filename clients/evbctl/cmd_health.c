/* evbctl health — grpc.health.v1.Health/Check (no key needed) and, with a key, the
 * server's information (AdminService/GetServerInfo). Exit 4 when not serving.
 */
#include <stdio.h>
#include <stdlib.h>

#include "clients/evbctl/evbctl.h"
#include "clients/evbctl/pbjson.h"
#include "evbridge/v1/admin.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"

static int run_health(evbctl *ctx, const cli_args *a)
{
    const char *service = cli_get(a, "service");
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)(service ? service : "");
    ProtobufCMessage *resp = NULL;
    int rc =
        evbctl_call(ctx, "/grpc.health.v1.Health/Check", &req.base,
                    &grpc__health__v1__health_check_response__descriptor, &resp, 0, NULL, NULL);
    if (rc != 0)
        return rc;
    json_t *out = json_object();
    json_t *hj = evb_pbjson_from_message(resp);
    json_object_set(out, "status", json_object_get(hj, "status"));
    json_decref(hj);
    int serving = ((Grpc__Health__V1__HealthCheckResponse *)resp)->status ==
                  GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    protobuf_c_message_free_unpacked(resp, NULL);
    if (ctx->key != NULL && !cli_flag(a, "no-info")) {
        Evbridge__V1__GetServerInfoRequest ir = EVBRIDGE__V1__GET_SERVER_INFO_REQUEST__INIT;
        if (evbctl_call(ctx, "/evbridge.v1.AdminService/GetServerInfo", &ir.base,
                        &evbridge__v1__server_info__descriptor, &resp, 1, NULL, NULL) == 0) {
            json_object_set_new(out, "server", evb_pbjson_from_message(resp));
            protobuf_c_message_free_unpacked(resp, NULL);
        }
    }
    evbctl_output(ctx, out, NULL, NULL);
    json_decref(out);
    return serving ? 0 : EXIT_UNAVAILABLE;
}

static const cli_opt opts[] = {
    {"service", 0, "NAME", "a service name, e.g. evbridge.v1.EventService (default: the server)"},
    {"no-info", 0, NULL, "do not ask for the server information"},
    {NULL, 0, NULL, NULL}};
const cli_node evbctl_health_node = {
    .name = "health",
    .summary = "Check that the server is serving (exit 4 when not)",
    .opts = opts,
    .max_pos = 0,
    .run = run_health,
    .help = "No API key is needed for the check; with one, the server's version, store and\n"
            "start time are shown too.\n"};
