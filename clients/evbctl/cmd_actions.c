/* evbctl actions — delivery targets (HTTP, DingTalk robot, STREAM): create, get,
 * list, update, delete. Secrets are write-only: the server never returns them. */
#include <stdio.h>

#include "clients/evbctl/evbctl.h"
#include "evbridge/v1/connector.pb-c.h"

static const table_col cols[] = {
    {"NAME", "name"}, {"KIND", "kind"},         {"ISV", "isv"},
    {"ORG", "org"},   {"DISABLED", "disabled"}, {"DESCRIPTION", "description"},
    {NULL, NULL}};

static const crud_kind kind = {.svc = "/evbridge.v1.ConnectorService/",
                               .noun = "Action",
                               .wrap = "action",
                               .key = "name",
                               .obj = &evbridge__v1__action__descriptor,
                               .create_req = &evbridge__v1__create_action_request__descriptor,
                               .get_req = &evbridge__v1__get_action_request__descriptor,
                               .list_req = &evbridge__v1__list_actions_request__descriptor,
                               .list_resp = &evbridge__v1__list_actions_response__descriptor,
                               .update_req = &evbridge__v1__update_action_request__descriptor,
                               .delete_req = &evbridge__v1__delete_action_request__descriptor,
                               .delete_resp = &evbridge__v1__delete_action_response__descriptor,
                               .list_key = "actions",
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
    const char *isv = cli_get(a, "isv"), *org = cli_get(a, "org");
    return crud_list(ctx, &kind,
                     json_pack("{s:s, s:s}", "isv", isv ? isv : "", "org", org ? org : ""));
}

static const cli_opt file_opts[] = {
    {"file", 'f', "FILE", "the Action, JSON or YAML, proto field names (required)"},
    {NULL, 0, NULL, NULL}};
static const cli_opt list_opts[] = {{"isv", 0, "ISV", "only actions offered by this ISV"},
                                    {"org", 0, "ORG", "only actions owned by this org"},
                                    {NULL, 0, NULL, NULL}};

static const cli_node n_create = {
    .name = "create",
    .summary = "Create an action from a file",
    .opts = file_opts,
    .max_pos = 0,
    .run = run_create,
    .help = "Example file (YAML):\n  name: billing-hook\n  org: org1\n  kind: HTTP\n"
            "  http:\n    url: https://billing.example.com/events\n"
            "    signing_secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"};
static const cli_node n_get = {.name = "get",
                               .summary = "Show an action (secrets are never shown)",
                               .args_usage = "NAME",
                               .min_pos = 1,
                               .max_pos = 1,
                               .run = run_get};
static const cli_node n_list = {
    .name = "list", .summary = "List actions", .opts = list_opts, .max_pos = 0, .run = run_list};
static const cli_node n_update = {
    .name = "update",
    .summary = "Replace an action's target (empty secrets keep the stored ones)",
    .opts = file_opts,
    .max_pos = 0,
    .run = run_update};
static const cli_node n_delete = {.name = "delete",
                                  .summary = "Delete an action",
                                  .args_usage = "NAME",
                                  .min_pos = 1,
                                  .max_pos = 1,
                                  .run = run_delete};

static const cli_node *const children[] = {&n_create, &n_get, &n_list, &n_update, &n_delete, NULL};
const cli_node evbctl_actions_node = {
    .name = "actions", .summary = "Actions: delivery targets", .children = children};
