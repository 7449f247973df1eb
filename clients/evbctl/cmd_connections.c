/* evbctl connections — an org's rules: create, get, list, update, delete, pause, resume.
 * Connections are addressed by id (create prints it; `list --org` finds it by name).
 */
#include <stdio.h>

#include "clients/evbctl/evbctl.h"
#include "evbridge/v1/connector.pb-c.h"

static const table_col cols[] = {{"ID", "id"},
                                 {"ORG", "org"},
                                 {"NAME", "name"},
                                 {"CONNECTOR", "connector"},
                                 {"ACTION", "action"},
                                 {"STATE", "state"},
                                 {"EVENT TYPES", "event_types"},
                                 {NULL, NULL}};

static const crud_kind kind = {.svc = "/evbridge.v1.ConnectorService/",
                               .noun = "Connection",
                               .wrap = "connection",
                               .key = "id",
                               .obj = &evbridge__v1__connection__descriptor,
                               .create_req = &evbridge__v1__create_connection_request__descriptor,
                               .get_req = &evbridge__v1__get_connection_request__descriptor,
                               .list_req = &evbridge__v1__list_connections_request__descriptor,
                               .list_resp = &evbridge__v1__list_connections_response__descriptor,
                               .update_req = &evbridge__v1__update_connection_request__descriptor,
                               .delete_req = &evbridge__v1__delete_connection_request__descriptor,
                               .delete_resp = &evbridge__v1__delete_connection_response__descriptor,
                               .list_key = "connections",
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
static int run_pause(evbctl *ctx, const cli_args *a)
{
    return crud_key_call(ctx, &kind, "Pause", a->pos[0], kind.obj);
}
static int run_resume(evbctl *ctx, const cli_args *a)
{
    return crud_key_call(ctx, &kind, "Resume", a->pos[0], kind.obj);
}
static int run_list(evbctl *ctx, const cli_args *a)
{
    const char *org = cli_get(a, "org"), *conn = cli_get(a, "connector");
    return crud_list(ctx, &kind,
                     json_pack("{s:s, s:s}", "org", org ? org : "", "connector", conn ? conn : ""));
}

static const cli_opt file_opts[] = {
    {"file", 'f', "FILE", "the Connection, JSON or YAML, proto field names (required)"},
    {NULL, 0, NULL, NULL}};
static const cli_opt list_opts[] = {{"org", 0, "ORG", "only this org's connections"},
                                    {"connector", 0, "NAME", "only connections of this connector"},
                                    {NULL, 0, NULL, NULL}};

static const cli_node n_create = {
    .name = "create",
    .summary = "Create a connection from a file",
    .opts = file_opts,
    .max_pos = 0,
    .run = run_create,
    .help = "Example file (YAML):\n  org: org1\n  name: vip-customers\n  connector: crm\n"
            "  event_types: [com.acme.crm.customer.changed]\n"
            "  pattern: '{\"data\": {\"level\": [\"vip\"]}}'\n  action: billing-hook\n"
            "  transform: {mode: DATA}\n  retry: {strategy: EXPONENTIAL_DECAY_RETRY, "
            "max_attempts: 10}\n  dead_letter: true\n"};
static const cli_node n_get = {.name = "get",
                               .summary = "Show a connection",
                               .args_usage = "ID",
                               .min_pos = 1,
                               .max_pos = 1,
                               .run = run_get};
static const cli_node n_list = {.name = "list",
                                .summary = "List connections",
                                .opts = list_opts,
                                .max_pos = 0,
                                .run = run_list};
static const cli_node n_update = {.name = "update",
                                  .summary = "Replace a connection (the file names its id)",
                                  .opts = file_opts,
                                  .max_pos = 0,
                                  .run = run_update};
static const cli_node n_delete = {.name = "delete",
                                  .summary = "Delete a connection",
                                  .args_usage = "ID",
                                  .min_pos = 1,
                                  .max_pos = 1,
                                  .run = run_delete};
static const cli_node n_pause = {.name = "pause",
                                 .summary = "Pause a connection (deliveries are held)",
                                 .args_usage = "ID",
                                 .min_pos = 1,
                                 .max_pos = 1,
                                 .run = run_pause};
static const cli_node n_resume = {.name = "resume",
                                  .summary = "Resume a paused connection (held deliveries go)",
                                  .args_usage = "ID",
                                  .min_pos = 1,
                                  .max_pos = 1,
                                  .run = run_resume};

static const cli_node *const children[] = {&n_create, &n_get,   &n_list,   &n_update,
                                           &n_delete, &n_pause, &n_resume, NULL};
const cli_node evbctl_connections_node = {
    .name = "connections",
    .summary = "Connections: an org's rules from a connector to an action",
    .children = children};
