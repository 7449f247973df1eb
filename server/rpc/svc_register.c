/* evbridge — registers every service of evbridged on the rpc runtime. */
#include "server/rpc/svc.h"

evb_err evb_services_register(evb_rpc_server *server, evb_services *svc)
{
    evb_err (*const regs[])(evb_rpc_server *, evb_services *) = {
        evb_svc_health_register,    evb_svc_admin_register, evb_svc_connector_register,
        evb_svc_events_register,    evb_svc_events_read_register, evb_svc_registry_register,
        evb_svc_actions_register, evb_svc_connections_register, evb_svc_trace_register,
        evb_svc_deadletters_register, evb_svc_replay_register, evb_svc_subscribe_register,
    };
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        evb_err rc = regs[i](server, svc);
        if (rc != EVB_OK)
            return rc;
    }
    return EVB_OK;
}
