/* evbctl keys — API keys: create, list, revoke (admin). The secret of a new key is printed
 * once, by create; list never shows secrets (the server does not keep them).
 */
#include <stdio.h>

#include "clients/evbctl/evbctl.h"
#include "evbridge/v1/admin.pb-c.h"

#define SVC "/evbridge.v1.AdminService/"

static int run_create(evbctl *ctx, const cli_args *a)
{
    const char *role = cli_get(a, "role"), *scope = cli_get(a, "scope"),
               *desc = cli_get(a, "description");
    if (role == NULL)
        return cli_usage_error("keys create: --role is required");
    ProtobufCMessage *resp = NULL;
    int rc =
        evbctl_json_call(ctx, SVC "CreateApiKey", &evbridge__v1__create_api_key_request__descriptor,
                         json_pack("{s:s, s:s, s:s}", "role", role, "scope", scope ? scope : "",
                                   "description", desc ? desc : ""),
                         &evbridge__v1__create_api_key_response__descriptor, &resp, NULL, NULL);
    if (rc != 0)
        return rc;
    const Evbridge__V1__CreateApiKeyResponse *r = (const void *)resp;
    if (ctx->fmt == FMT_TABLE) {
        printf("key_id: %s\nkey:    %s\n", r->key_id, r->key);
        fputs("The key is shown only now; store it safely.\n", stderr);
    } else {
        evbctl_output_msg(ctx, resp, NULL, NULL);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int run_list(evbctl *ctx, const cli_args *a)
{
    static const table_col cols[] = {{"KEY ID", "key_id"},
                                     {"ROLE", "role"},
                                     {"SCOPE", "scope"},
                                     {"CREATED", "create_time"},
                                     {"REVOKED", "revoked"},
                                     {"DESCRIPTION", "description"},
                                     {NULL, NULL}};
    return evbctl_json_call(ctx, SVC "ListApiKeys",
                            &evbridge__v1__list_api_keys_request__descriptor,
                            json_pack("{s:b}", "include_revoked", cli_flag(a, "all")),
                            &evbridge__v1__list_api_keys_response__descriptor, NULL, "keys", cols);
}

static int run_revoke(evbctl *ctx, const cli_args *a)
{
    int rc =
        evbctl_json_call(ctx, SVC "RevokeApiKey", &evbridge__v1__revoke_api_key_request__descriptor,
                         json_pack("{s:s}", "key_id", a->pos[0]),
                         &evbridge__v1__revoke_api_key_response__descriptor, NULL, NULL, NULL);
    if (rc == 0 && ctx->fmt == FMT_TABLE)
        printf("revoked %s\n", a->pos[0]);
    return rc;
}

static const cli_opt create_opts[] = {
    {"role", 'r', "ROLE", "admin, isv, schema-owner, org-admin or subscriber (required)"},
    {"scope", 0, "SCOPE", "isv: the ISV; org-admin, subscriber: the org"},
    {"description", 'd', "TEXT", "a note for people"},
    {NULL, 0, NULL, NULL}};
static const cli_node n_create = {
    .name = "create",
    .summary = "Create an API key (its secret is printed once)",
    .opts = create_opts,
    .max_pos = 0,
    .run = run_create,
    .help = "Example:\n  evbctl keys create --role isv --scope acme -d 'ACME CRM publisher'\n"};
static const cli_opt list_opts[] = {{"all", 0, NULL, "include revoked keys"},
                                    {NULL, 0, NULL, NULL}};
static const cli_node n_list = {.name = "list",
                                .summary = "List API keys (never secrets)",
                                .opts = list_opts,
                                .max_pos = 0,
                                .run = run_list};
static const cli_node n_revoke = {.name = "revoke",
                                  .summary = "Revoke an API key",
                                  .args_usage = "KEY_ID",
                                  .min_pos = 1,
                                  .max_pos = 1,
                                  .run = run_revoke};

static const cli_node *const children[] = {&n_create, &n_list, &n_revoke, NULL};
const cli_node evbctl_keys_node = {
    .name = "keys", .summary = "API keys (admin)", .children = children};
