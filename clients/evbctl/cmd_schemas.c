/* evbctl schemas — the SchemaRegistry: register, get, list, versions, check, compat get|set,
 * validate, delete. A schema file (-f) is JSON or YAML; its content is the schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/evbctl/evbctl.h"
#include "evbridge/v1/registry.pb-c.h"

#define SVC "/evbridge.v1.SchemaRegistry/"

/* The schema text of a file: JSON as written, YAML converted to JSON. */
static char *schema_text(const char *path)
{
    size_t len = 0;
    char *text = evbctl_read_file(path, &len);
    if (text == NULL)
        return NULL;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (j != NULL) {
        json_decref(j);
        return text;
    }
    j = evbctl_parse_text(text, len, path);
    free(text);
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

static int run_register(evbctl *ctx, const cli_args *a)
{
    char *schema = schema_text(cli_get(a, "file"));
    if (schema == NULL)
        return EXIT_REJECTED;
    json_t *req = json_pack("{s:s, s:s}", "subject", cli_get(a, "subject"), "schema", schema);
    free(schema);
    ProtobufCMessage *resp = NULL;
    int rc = evbctl_json_call(
        ctx, SVC "RegisterSchema", &evbridge__v1__register_schema_request__descriptor, req,
        &evbridge__v1__register_schema_response__descriptor, &resp, NULL, NULL);
    if (rc != 0)
        return rc;
    const Evbridge__V1__RegisterSchemaResponse *r = (const void *)resp;
    if (ctx->fmt == FMT_TABLE)
        printf("subject %s: version %d, id %lld\n", cli_get(a, "subject"), r->version,
               (long long)r->id);
    else
        evbctl_output_msg(ctx, resp, NULL, NULL);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int print_schema(evbctl *ctx, ProtobufCMessage *resp)
{
    const Evbridge__V1__Schema *s = (const void *)resp;
    if (ctx->fmt != FMT_TABLE) {
        evbctl_output_msg(ctx, resp, NULL, NULL);
        return 0;
    }
    printf("subject:      %s\nversion:      %d\nid:           %lld\ncreate_time:  %s\n", s->subject,
           s->version, (long long)s->id, s->create_time);
    if (s->deleted)
        printf("deleted:      true\n");
    json_t *j = json_loads(s->schema, JSON_DECODE_ANY, NULL);
    if (j != NULL) {
        evbctl_print_json(j, stdout);
        json_decref(j);
    } else {
        printf("%s\n", s->schema);
    }
    return 0;
}

static int run_get(evbctl *ctx, const cli_args *a)
{
    long long version, id;
    if (cli_int(a, "version", 0, 2147483647, 0, &version) || cli_int(a, "id", 0, INT64_MAX, 0, &id))
        return EXIT_USAGE;
    ProtobufCMessage *resp = NULL;
    int rc;
    if (id > 0) {
        if (a->npos > 0)
            return cli_usage_error("schemas get: give SUBJECT or --id, not both");
        rc = evbctl_json_call(ctx, SVC "GetSchemaById",
                              &evbridge__v1__get_schema_by_id_request__descriptor,
                              json_pack("{s:I}", "id", (json_int_t)id),
                              &evbridge__v1__schema__descriptor, &resp, NULL, NULL);
    } else {
        if (a->npos != 1)
            return cli_usage_error("schemas get: SUBJECT (or --id) is required");
        rc = evbctl_json_call(
            ctx, SVC "GetSchema", &evbridge__v1__get_schema_request__descriptor,
            json_pack("{s:s, s:I}", "subject", a->pos[0], "version", (json_int_t)version),
            &evbridge__v1__schema__descriptor, &resp, NULL, NULL);
    }
    if (rc != 0)
        return rc;
    print_schema(ctx, resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int run_list(evbctl *ctx, const cli_args *a)
{
    static const table_col cols[] = {{"SUBJECT", ""}, {NULL, NULL}};
    const char *prefix = cli_get(a, "prefix");
    return evbctl_json_call(
        ctx, SVC "ListSubjects", &evbridge__v1__list_subjects_request__descriptor,
        json_pack("{s:s, s:b}", "prefix", prefix ? prefix : "", "include_deleted",
                  cli_flag(a, "deleted")),
        &evbridge__v1__list_subjects_response__descriptor, NULL, "subjects", cols);
}

static int run_versions(evbctl *ctx, const cli_args *a)
{
    static const table_col cols[] = {{"VERSION", ""}, {NULL, NULL}};
    return evbctl_json_call(
        ctx, SVC "ListVersions", &evbridge__v1__list_versions_request__descriptor,
        json_pack("{s:s, s:b}", "subject", a->pos[0], "include_deleted", cli_flag(a, "deleted")),
        &evbridge__v1__list_versions_response__descriptor, NULL, "versions", cols);
}

static int run_check(evbctl *ctx, const cli_args *a)
{
    long long version;
    if (cli_int(a, "version", 0, 2147483647, 0, &version))
        return EXIT_USAGE;
    char *schema = schema_text(cli_get(a, "file"));
    if (schema == NULL)
        return EXIT_REJECTED;
    json_t *req = json_pack("{s:s, s:s, s:I}", "subject", cli_get(a, "subject"), "schema", schema,
                            "version", (json_int_t)version);
    free(schema);
    ProtobufCMessage *resp = NULL;
    int rc = evbctl_json_call(
        ctx, SVC "CheckCompatibility", &evbridge__v1__check_compatibility_request__descriptor, req,
        &evbridge__v1__check_compatibility_response__descriptor, &resp, NULL, NULL);
    if (rc != 0)
        return rc;
    const Evbridge__V1__CheckCompatibilityResponse *r = (const void *)resp;
    if (ctx->fmt == FMT_TABLE) {
        printf("%s\n", r->compatible ? "compatible" : "incompatible");
        for (size_t i = 0; i < r->n_messages; i++)
            printf("  - %s\n", r->messages[i]);
    } else {
        evbctl_output_msg(ctx, resp, NULL, NULL);
    }
    rc = r->compatible ? 0 : EXIT_REJECTED;
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

static int run_compat_get(evbctl *ctx, const cli_args *a)
{
    return evbctl_json_call(
        ctx, SVC "GetCompatibility", &evbridge__v1__get_compatibility_request__descriptor,
        json_pack("{s:s}", "subject", a->npos ? a->pos[0] : ""),
        &evbridge__v1__get_compatibility_response__descriptor, NULL, NULL, NULL);
}

static int run_compat_set(evbctl *ctx, const cli_args *a)
{
    const char *level = cli_get(a, "level"), *fm = cli_get(a, "format-mode");
    if (level == NULL && fm == NULL)
        return cli_usage_error("schemas compat set: give --level and/or --format-mode");
    return evbctl_json_call(
        ctx, SVC "SetCompatibility", &evbridge__v1__set_compatibility_request__descriptor,
        json_pack("{s:s, s:s, s:s}", "subject", a->npos ? a->pos[0] : "", "level",
                  level ? level : "COMPATIBILITY_LEVEL_UNSPECIFIED", "format_mode",
                  fm ? fm : "FORMAT_MODE_UNSPECIFIED"),
        &evbridge__v1__set_compatibility_response__descriptor, NULL, NULL, NULL);
}

static int run_validate(evbctl *ctx, const cli_args *a)
{
    long long version;
    if (cli_int(a, "version", 0, 2147483647, 0, &version))
        return EXIT_USAGE;
    const char *file = cli_get(a, "file"), *data = cli_get(a, "data");
    if ((file == NULL) == (data == NULL))
        return cli_usage_error("schemas validate: give one of -f FILE or --data JSON");
    size_t len = 0;
    char *payload = file ? evbctl_read_file(file, &len) : strdup(data);
    if (payload == NULL)
        return EXIT_REJECTED;
    if (data != NULL)
        len = strlen(payload);
    Evbridge__V1__ValidatePayloadRequest req = EVBRIDGE__V1__VALIDATE_PAYLOAD_REQUEST__INIT;
    req.subject = (char *)cli_get(a, "subject");
    req.version = (int32_t)version;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = len;
    ProtobufCMessage *resp = NULL;
    int rc =
        evbctl_call(ctx, SVC "ValidatePayload", &req.base,
                    &evbridge__v1__validate_payload_response__descriptor, &resp, 0, NULL, NULL);
    free(payload);
    if (rc != 0)
        return rc;
    const Evbridge__V1__ValidatePayloadResponse *r = (const void *)resp;
    if (ctx->fmt == FMT_TABLE) {
        printf("%s\n", r->valid ? "valid" : "invalid");
        for (size_t i = 0; i < r->n_violations; i++)
            printf("  %s: %s (%s)\n",
                   r->violations[i]->instance_path[0] ? r->violations[i]->instance_path : "/",
                   r->violations[i]->message, r->violations[i]->keyword_location);
    } else {
        evbctl_output_msg(ctx, resp, NULL, NULL);
    }
    rc = r->valid ? 0 : EXIT_REJECTED;
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

static int run_delete(evbctl *ctx, const cli_args *a)
{
    long long version;
    if (cli_int(a, "version", 0, 2147483647, 0, &version))
        return EXIT_USAGE;
    static const table_col cols[] = {{"DELETED VERSION", ""}, {NULL, NULL}};
    return evbctl_json_call(
        ctx, SVC "DeleteSchema", &evbridge__v1__delete_schema_request__descriptor,
        json_pack("{s:s, s:I, s:b}", "subject", a->pos[0], "version", (json_int_t)version,
                  "permanent", cli_flag(a, "permanent")),
        &evbridge__v1__delete_schema_response__descriptor, NULL, "versions", cols);
}

static const cli_opt register_opts[] = {
    {"subject", 's', "SUBJECT", "the subject to register under (required)"},
    {"file", 'f', "FILE", "the schema, JSON or YAML ('-' = stdin; required)"},
    {NULL, 0, NULL, NULL}};
static int run_register_checked(evbctl *ctx, const cli_args *a)
{
    if (!cli_get(a, "subject") || !cli_get(a, "file"))
        return cli_usage_error("schemas register: --subject and -f are required");
    return run_register(ctx, a);
}
static const cli_node n_register = {
    .name = "register",
    .summary = "Register a schema version under a subject (idempotent)",
    .opts = register_opts,
    .max_pos = 0,
    .run = run_register_checked,
    .help =
        "Example:\n  evbctl schemas register --subject acme.customer -f customer.schema.json\n"};

static const cli_opt get_opts[] = {{"version", 'v', "N", "the version (default: latest)"},
                                   {"id", 0, "ID", "get by global schema id instead of SUBJECT"},
                                   {NULL, 0, NULL, NULL}};
static const cli_node n_get = {.name = "get",
                               .summary = "Show a schema version",
                               .args_usage = "[SUBJECT]",
                               .opts = get_opts,
                               .max_pos = 1,
                               .run = run_get};

static const cli_opt list_opts[] = {{"prefix", 0, "PREFIX", "only subjects starting with PREFIX"},
                                    {"deleted", 0, NULL, "include soft-deleted subjects"},
                                    {NULL, 0, NULL, NULL}};
static const cli_node n_list = {
    .name = "list", .summary = "List subjects", .opts = list_opts, .max_pos = 0, .run = run_list};

static const cli_opt versions_opts[] = {{"deleted", 0, NULL, "include soft-deleted versions"},
                                        {NULL, 0, NULL, NULL}};
static const cli_node n_versions = {.name = "versions",
                                    .summary = "List the versions of a subject",
                                    .args_usage = "SUBJECT",
                                    .opts = versions_opts,
                                    .min_pos = 1,
                                    .max_pos = 1,
                                    .run = run_versions};

static const cli_opt check_opts[] = {
    {"subject", 's', "SUBJECT", "the subject (required)"},
    {"file", 'f', "FILE", "the candidate schema, JSON or YAML (required)"},
    {"version", 'v', "N", "check against this version only (default: what the level requires)"},
    {NULL, 0, NULL, NULL}};
static int run_check_checked(evbctl *ctx, const cli_args *a)
{
    if (!cli_get(a, "subject") || !cli_get(a, "file"))
        return cli_usage_error("schemas check: --subject and -f are required");
    return run_check(ctx, a);
}
static const cli_node n_check = {.name = "check",
                                 .summary =
                                     "Check a schema's compatibility (exit 2 when incompatible)",
                                 .opts = check_opts,
                                 .max_pos = 0,
                                 .run = run_check_checked};

static const cli_node n_compat_get = {.name = "get",
                                      .summary =
                                          "Show the effective compatibility level and format mode",
                                      .args_usage = "[SUBJECT]",
                                      .max_pos = 1,
                                      .run = run_compat_get,
                                      .help = "Without SUBJECT: the global level.\n"};
static const cli_opt compat_set_opts[] = {
    {"level", 'l', "LEVEL",
     "NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE "
     "or COMPATIBILITY_LEVEL_UNSPECIFIED (remove the subject's own level)"},
    {"format-mode", 0, "MODE", "ANNOTATE or ASSERT"},
    {NULL, 0, NULL, NULL}};
static const cli_node n_compat_set = {
    .name = "set",
    .summary = "Set the compatibility level and/or format mode",
    .args_usage = "[SUBJECT]",
    .opts = compat_set_opts,
    .max_pos = 1,
    .run = run_compat_set,
    .help = "Without SUBJECT: the global level.\nExample:\n  evbctl schemas compat set "
            "acme.customer --level FULL\n"};
static const cli_node *const compat_children[] = {&n_compat_get, &n_compat_set, NULL};
static const cli_node n_compat = {
    .name = "compat", .summary = "Compatibility level: get | set", .children = compat_children};

static const cli_opt validate_opts[] = {{"subject", 's', "SUBJECT", "the subject (required)"},
                                        {"version", 'v', "N", "the version (default: latest)"},
                                        {"file", 'f', "FILE", "the payload file (sent as is)"},
                                        {"data", 'd', "JSON", "the payload as text"},
                                        {NULL, 0, NULL, NULL}};
static int run_validate_checked(evbctl *ctx, const cli_args *a)
{
    if (!cli_get(a, "subject"))
        return cli_usage_error("schemas validate: --subject is required");
    return run_validate(ctx, a);
}
static const cli_node n_validate = {
    .name = "validate",
    .summary = "Validate a payload against a schema (exit 2 when invalid)",
    .opts = validate_opts,
    .max_pos = 0,
    .run = run_validate_checked,
    .help = "Example:\n  evbctl schemas validate -s std.customer --data '{\"id\":\"c1\"}'\n"};

static const cli_opt delete_opts[] = {
    {"version", 'v', "N", "the version (default: every version)"},
    {"permanent", 0, NULL, "delete for good (only after a soft delete)"},
    {NULL, 0, NULL, NULL}};
static const cli_node n_delete = {.name = "delete",
                                  .summary = "Delete a subject or a version",
                                  .args_usage = "SUBJECT",
                                  .opts = delete_opts,
                                  .min_pos = 1,
                                  .max_pos = 1,
                                  .run = run_delete};

static const cli_node *const children[] = {
    &n_register, &n_get, &n_list, &n_versions, &n_check, &n_compat, &n_validate, &n_delete, NULL};
const cli_node evbctl_schemas_node = {.name = "schemas",
                                      .summary = "Data models (JSON Schemas) in the registry",
                                      .children = children};
