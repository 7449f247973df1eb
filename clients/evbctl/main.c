/* evbctl — the evbridge command-line client: main (defaults, environment, dispatch).
 *
 * The command tree is declared here from the groups' nodes (one cmd_<group>.c each);
 * cli.c walks it. grpc_init() at start, grpc_shutdown_blocking() at exit so that leak
 * checkers see no asynchronous cleanup.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "clients/evbctl/evbctl.h"

static const cli_node *const root_children[] = {
    &evbctl_schemas_node,     &evbctl_connectors_node,   &evbctl_actions_node,
    &evbctl_connections_node, &evbctl_events_node,       &evbctl_deadletters_node,
    &evbctl_keys_node,        &evbctl_test_pattern_node, &evbctl_test_transform_node,
    &evbctl_apply_node,       &evbctl_health_node,       NULL};

static const cli_node root = {
    .name = "evbctl",
    .summary = "evbctl talks to evbridged: data models, connectors, actions, connections,\n"
               "events, dead letters and API keys.",
    .children = root_children,
    .help = "Exit codes: 0 ok, 1 usage, 2 rejected input, 3 not found or denied,\n"
            "4 unavailable, 5 other failure. See docs/cli.md.\n"};

int main(int argc, char **argv)
{
    evbctl ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.addr = getenv("EVB_ADDR");
    if (ctx.addr == NULL || ctx.addr[0] == 0)
        ctx.addr = "127.0.0.1:50051";
    ctx.timeout_ms = 30000;
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("evbctl %s\n", EVB_VERSION);
        return 0;
    }
    grpc_init();
    int rc = cli_dispatch(&ctx, &root, "evbctl", argc - 1, argv + 1);
    fflush(stdout);
    evb_rpc_client_free(ctx.rpc);
    if (ctx.key_owned != NULL) {
        memset(ctx.key_owned, 0, strlen(ctx.key_owned));
        free(ctx.key_owned);
    }
    grpc_shutdown_blocking();
    return rc;
}
