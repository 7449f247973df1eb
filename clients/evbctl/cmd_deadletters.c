/* evbctl dead-letters — deliveries that ran out of retries: list, redrive. */
#include <stdio.h>
#include <stdlib.h>

#include "clients/evbctl/evbctl.h"
#include "evbridge/v1/events.pb-c.h"

#define SVC "/evbridge.v1.EventService/"

static const char *opt_or_empty(const cli_args *a, const char *n)
{
    const char *v = cli_get(a, n);
    return v ? v : "";
}

static int run_list(evbctl *ctx, const cli_args *a)
{
    static const table_col cols[] = {
        {"DELIVERY ID", "delivery_id"}, {"CONNECTION", "connection_id"},
        {"EVENT ID", "event_id"},       {"ATTEMPTS", "attempts"},
        {"HTTP", "last_http_status"},   {"DEAD TIME", "dead_time"},
        {"LAST ERROR", "last_error"},   {NULL, NULL}};
    long long page_size;
    if (cli_int(a, "page-size", 0, 1000, 0, &page_size))
        return EXIT_USAGE;
    return evbctl_json_call(
        ctx, SVC "ListDeadLetters", &evbridge__v1__list_dead_letters_request__descriptor,
        json_pack("{s:s, s:s, s:I, s:s}", "org", opt_or_empty(a, "org"), "connection_id",
                  opt_or_empty(a, "connection"), "page_size", (json_int_t)page_size, "page_token",
                  opt_or_empty(a, "page-token")),
        &evbridge__v1__list_dead_letters_response__descriptor, NULL, "dead_letters", cols);
}

static int run_redrive(evbctl *ctx, const cli_args *a)
{
    if (cli_get(a, "connection") == NULL)
        return cli_usage_error("dead-letters redrive: --connection is required");
    json_t *ids = json_array();
    for (int i = 0; i < a->npos; i++)
        json_array_append_new(ids, json_string(a->pos[i]));
    ProtobufCMessage *resp = NULL;
    int rc = evbctl_json_call(
        ctx, SVC "RedriveDeadLetters", &evbridge__v1__redrive_dead_letters_request__descriptor,
        json_pack("{s:s, s:s, s:o, s:s, s:s}", "org", opt_or_empty(a, "org"), "connection_id",
                  cli_get(a, "connection"), "delivery_ids", ids, "start_time",
                  opt_or_empty(a, "since"), "end_time", opt_or_empty(a, "until")),
        &evbridge__v1__redrive_dead_letters_response__descriptor, &resp, NULL, NULL);
    if (rc != 0)
        return rc;
    if (ctx->fmt == FMT_TABLE)
        printf("redriven: %lld\n",
               (long long)((Evbridge__V1__RedriveDeadLettersResponse *)resp)->redriven);
    else
        evbctl_output_msg(ctx, resp, NULL, NULL);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static const cli_opt list_opts[] = {
    {"org", 0, "ORG", "the org (required for org-admin keys' own org; admin: any)"},
    {"connection", 'c', "ID", "only this connection's dead letters"},
    {"page-size", 0, "N", "entries per page (default: the server's)"},
    {"page-token", 0, "TOKEN", "continue from a previous page"},
    {NULL, 0, NULL, NULL}};
static const cli_node n_list = {.name = "list",
                                .summary = "List dead letters",
                                .opts = list_opts,
                                .max_pos = 0,
                                .run = run_list};
static const cli_opt redrive_opts[] = {
    {"org", 0, "ORG", "the org of the connection"},
    {"connection", 'c', "ID", "the connection (required)"},
    {"since", 0, "RFC3339", "only dead letters from this time on"},
    {"until", 0, "RFC3339", "only dead letters before this time"},
    {NULL, 0, NULL, NULL}};
static const cli_node n_redrive = {
    .name = "redrive",
    .summary = "Deliver dead letters again (all of the connection, or the ids given)",
    .args_usage = "[DELIVERY_ID...]",
    .opts = redrive_opts,
    .max_pos = -1,
    .run = run_redrive};

static const cli_node *const children[] = {&n_list, &n_redrive, NULL};
const cli_node evbctl_deadletters_node = {
    .name = "dead-letters", .summary = "Dead letters: list and redrive", .children = children};
