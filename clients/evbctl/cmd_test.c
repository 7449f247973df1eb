/* evbctl test-pattern, test-transform — try an event pattern or a transform on an event,
 * on the server (TestEventPattern / TestTransform) or offline with --local, which links the
 * server's pure routing library (server/routing: pattern.h, transform.h — pure logic, no
 * I/O), so both give the same answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/evbctl/evbctl.h"
#include "evbridge/v1/connector.pb-c.h"
#include "server/routing/pattern.h"
#include "server/routing/transform.h"

#define SVC "/evbridge.v1.ConnectorService/"

static int local_pattern(evbctl *ctx, const char *pattern, const char *event)
{
    evb_pattern *p = NULL;
    evb_error e;
    evb_error_clear(&e);
    if (evb_pattern_compile(pattern, strlen(pattern), 0, &p, &e) != EVB_OK) {
        fprintf(stderr, "evbctl: INVALID_ARGUMENT: pattern%s: %s\n", e.pointer, e.message);
        return EXIT_REJECTED;
    }
    int matched = 0;
    evb_err rc = evb_pattern_match_text(p, event, strlen(event), &matched, &e);
    evb_pattern_free(p);
    if (rc != EVB_OK) {
        fprintf(stderr, "evbctl: INVALID_ARGUMENT: event: %s\n", e.message);
        return EXIT_REJECTED;
    }
    json_t *out = json_pack("{s:b}", "matched", matched);
    evbctl_output(ctx, out, NULL, NULL);
    json_decref(out);
    return 0;
}

static int run_pattern(evbctl *ctx, const cli_args *a)
{
    const char *pa = cli_get(a, "pattern"), *ea = cli_get(a, "event");
    if (pa == NULL || ea == NULL)
        return cli_usage_error("test-pattern: --pattern and --event are required");
    char *pattern = evbctl_json_arg(pa, "--pattern");
    char *event = pattern ? evbctl_json_arg(ea, "--event") : NULL;
    int rc;
    if (pattern == NULL || event == NULL)
        rc = EXIT_REJECTED;
    else if (cli_flag(a, "local"))
        rc = local_pattern(ctx, pattern, event);
    else
        rc = evbctl_json_call(
            ctx, SVC "TestEventPattern", &evbridge__v1__test_event_pattern_request__descriptor,
            json_pack("{s:s, s:s}", "pattern", pattern, "event", event),
            &evbridge__v1__test_event_pattern_response__descriptor, NULL, NULL, NULL);
    free(pattern);
    free(event);
    return rc;
}

static void print_output(evbctl *ctx, const char *output)
{
    if (ctx->fmt == FMT_TABLE) {
        printf("%s\n", output);
        return;
    }
    json_t *out = json_pack("{s:s}", "output", output);
    if (out == NULL) /* binary output */
        out = json_pack("{s:s}", "output", "<not UTF-8>");
    evbctl_output(ctx, out, NULL, NULL);
    json_decref(out);
}

static int run_transform(evbctl *ctx, const cli_args *a)
{
    const char *ta = cli_get(a, "transform"), *ea = cli_get(a, "event");
    if (ta == NULL || ea == NULL)
        return cli_usage_error("test-transform: --transform and --event are required");
    char *transform = evbctl_json_arg(ta, "--transform");
    char *event = transform ? evbctl_json_arg(ea, "--event") : NULL;
    int rc = 0;
    if (transform == NULL || event == NULL) {
        rc = EXIT_REJECTED;
    } else if (cli_flag(a, "local")) {
        char *out = NULL;
        size_t out_len = 0;
        evb_error e;
        evb_error_clear(&e);
        evb_err err = evb_transform_test(transform, strlen(transform), event, strlen(event), &out,
                                         &out_len, &e);
        if (err != EVB_OK) {
            fprintf(stderr, "evbctl: INVALID_ARGUMENT: %s%s%s\n", e.pointer,
                    e.pointer[0] ? ": " : "", e.message[0] ? e.message : evb_strerror(err));
            rc = EXIT_REJECTED;
        } else {
            print_output(ctx, out);
        }
        free(out);
    } else {
        ProtobufCMessage *resp = NULL;
        rc = evbctl_json_call(
            ctx, SVC "TestTransform", &evbridge__v1__test_transform_request__descriptor,
            json_pack("{s:s, s:s}", "transform", transform, "event", event),
            &evbridge__v1__test_transform_response__descriptor, &resp, NULL, NULL);
        if (rc == 0) {
            print_output(ctx, ((Evbridge__V1__TestTransformResponse *)resp)->output);
            protobuf_c_message_free_unpacked(resp, NULL);
        }
    }
    free(transform);
    free(event);
    return rc;
}

static const cli_opt pattern_opts[] = {
    {"pattern", 'p', "JSON|@FILE", "the event pattern (required)"},
    {"event", 'e', "JSON|@FILE", "the CloudEvent as a JSON object (required)"},
    {"local", 0, NULL, "evaluate here, without a server"},
    {NULL, 0, NULL, NULL}};
const cli_node evbctl_test_pattern_node = {
    .name = "test-pattern",
    .summary = "Does an event pattern match an event?",
    .opts = pattern_opts,
    .max_pos = 0,
    .run = run_pattern,
    .help =
        "The event is the CloudEvent in JSON form: attributes and extensions (orgid,\n"
        "connector) at the top, the payload under \"data\" ('evbctl events get -o json' prints\n"
        "this form). @FILE reads JSON or YAML from a file.\nExample:\n"
        "  evbctl test-pattern --local -p '{\"data\":{\"level\":[\"vip\"]}}' \\\n"
        "      -e '{\"type\":\"t\",\"data\":{\"level\":\"vip\"}}'\n"};

static const cli_opt transform_opts[] = {
    {"transform", 't', "JSON|@FILE", "the Transform in proto JSON form (required)"},
    {"event", 'e', "JSON|@FILE", "the CloudEvent as a JSON object (required)"},
    {"local", 0, NULL, "apply here, without a server"},
    {NULL, 0, NULL, NULL}};
const cli_node evbctl_test_transform_node = {
    .name = "test-transform",
    .summary = "Show what a transform makes of an event",
    .opts = transform_opts,
    .max_pos = 0,
    .run = run_transform,
    .help = "Example:\n  evbctl test-transform --local -t "
            "'{\"mode\":\"JSONPATH\",\"value\":\"$.data.name\"}' "
            "\\\n      -e '{\"type\":\"t\",\"data\":{\"name\":\"Ada\"}}'\n"};
