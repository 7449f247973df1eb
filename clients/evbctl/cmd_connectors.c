/* evbctl connectors — an ISV's event channels: create, get, list, update, delete. */
#include <stdio.h>

#include "clients/evbctl/evbctl.h"
#include "evbridge/v1/connector.pb-c.h"

static const table_col cols[] = {{"NAME", "name"},
                                 {"ISV", "isv"},
                                 {"SOURCE", "source"},
                                 {"TYPES", "#event_types"},
                                 {"DISPLAY NAME", "display_name"},
                                 {NULL, NULL}};

static const crud_kind kind = {.svc = "/evbridge.v1.ConnectorService/",
                               .noun = "Connector",
                               .wrap = "connector",
                               .key = "name",
                               .obj = &evbridge__v1__connector__descriptor,
                               .create_req = &evbridge__v1__create_connector_request__descriptor,
                               .get_req = &evbridge__v1__get_connector_request__descriptor,
                               .list_req = &evbridge__v1__list_connectors_request__descriptor,
                               .list_resp = &evbridge__v1__list_connectors_response__descriptor,
                               .update_req = &evbridge__v1__update_connector_request__descriptor,
                               .delete_req = &evbridge__v1__delete_connector_request__descriptor,
                               .delete_resp = &evbridge__v1__delete_connector_response__descriptor,
                               .list_key = "connectors",
                               .cols = cols};

static int run_create(evbctl *ctx, const cli_args *a)
{
    return crud_write(ctx, &kind, "Create", cli_get(a, "file"));
}
static int run_update(evbctl *ctx, const cli_args *a)
{
    return crud_write(ctx, &kind, "Update", cli_get(a, "file"));
}
static int run_get(evbctl *ctx, const cli_args *a)
{
    return crud_key_call(ctx, &kind, "Get", a->pos[0], kind.obj);
}
static int run_delete(evbctl *ctx, const cli_args *a)
{
    return crud_key_call(ctx, &kind, "Delete", a->pos[0], kind.delete_resp);
}
static int run_list(evbctl *ctx, const cli_args *a)
{
    const char *isv = cli_get(a, "isv");
    return crud_list(ctx, &kind, json_pack("{s:s}", "isv", isv ? isv : ""));
}

static const cli_opt file_opts[] = {
    {"file", 'f', "FILE", "the Connector, JSON or YAML, proto field names (required)"},
    {NULL, 0, NULL, NULL}};
static const cli_opt list_opts[] = {{"isv", 0, "ISV", "only this ISV's connectors"},
                                    {NULL, 0, NULL, NULL}};

static const cli_node n_create = {
    .name = "create",
    .summary = "Create a connector from a file",
    .opts = file_opts,
    .max_pos = 0,
    .run = run_create,
    .help = "Example file (YAML):\n  name: crm\n  isv: acme\n  display_name: ACME CRM\n"
            "  event_types:\n    - type: com.acme.crm.customer.changed\n"
            "      subject: std.customer\n"};
static const cli_node n_get = {.name = "get",
                               .summary = "Show a connector",
                               .args_usage = "NAME",
                               .min_pos = 1,
                               .max_pos = 1,
                               .run = run_get};
static const cli_node n_list = {
    .name = "list", .summary = "List connectors", .opts = list_opts, .max_pos = 0, .run = run_list};
static const cli_node n_update = {.name = "update",
                                  .summary = "Replace a connector's fields (name and isv stay)",
                                  .opts = file_opts,
                                  .max_pos = 0,
                                  .run = run_update};
static const cli_node n_delete = {.name = "delete",
                                  .summary = "Delete a connector",
                                  .args_usage = "NAME",
                                  .min_pos = 1,
                                  .max_pos = 1,
                                  .run = run_delete};

static const cli_node *const children[] = {&n_create, &n_get, &n_list, &n_update, &n_delete, NULL};
const cli_node evbctl_connectors_node = {
    .name = "connectors", .summary = "Connectors: an ISV's event channels", .children = children};
