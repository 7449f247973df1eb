/* evbctl — shared declarations of the command-line client: the command tree, option
 * parsing, input files, output (table / json / yaml), RPC calls and exit codes.
 *
 * Every command group lives in its own cmd_<group>.c and exports one cli_node; main.c
 * holds the root of the tree and dispatches. Help is generated from the tree, so every
 * level answers --help. Exit codes (docs/cli.md): 0 ok, 1 usage, 2 rejected input,
 * 3 not found or denied, 4 unavailable, 5 any other failure.
 */
#ifndef EVB_CLIENTS_EVBCTL_EVBCTL_H
#define EVB_CLIENTS_EVBCTL_EVBCTL_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "clients/evbctl/rpc_client.h"

enum {
    EXIT_OK_ = 0,
    EXIT_USAGE = 1,
    EXIT_REJECTED = 2,
    EXIT_NOTFOUND = 3,
    EXIT_UNAVAILABLE = 4,
    EXIT_FAILURE_ = 5
};

typedef enum evbctl_format { FMT_TABLE = 0, FMT_JSON, FMT_YAML } evbctl_format;

typedef struct evbctl {
    const char *addr;
    const char *key; /* API key (from --key, --key-file, EVB_API_KEY, EVB_API_KEY_FILE) */
    char *key_owned; /* read from a key file */
    const char *key_file;
    int tls;
    const char *ca_file, *cert_file, *cert_key_file, *server_name;
    int timeout_ms;
    evbctl_format fmt;
    evb_rpc_client *rpc; /* connected on first use */
} evbctl;

/* ---- options and the command tree ---- */

#define CLI_MAX_OPTS 24
#define CLI_MAX_POS 64

typedef struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0: none */
    const char *arg;  /* NULL: a flag; else the value's name for help ("FILE") */
    const char *help;
} cli_opt;

typedef struct cli_args {
    const char *val[CLI_MAX_OPTS]; /* by index in the command's option table; "1" for flags */
    const char *pos[CLI_MAX_POS];
    int npos;
    const cli_opt *opts;
} cli_args;

typedef struct cli_node cli_node;
struct cli_node {
    const char *name;
    const char *summary;
    const cli_node *const *children; /* NULL-terminated; NULL for a command */
    /* commands: */
    const char *args_usage; /* positional arguments, e.g. "SUBJECT" */
    const cli_opt *opts;    /* terminated by {NULL} */
    int min_pos, max_pos;
    int (*run)(evbctl *ctx, const cli_args *a);
    const char *help; /* details and examples, may be NULL */
};

/* Runs node with argv (argv[0] is the first word after node's name). */
int cli_dispatch(evbctl *ctx, const cli_node *node, const char *path, int argc, char **argv);

/* The value of option `name` or NULL. */
const char *cli_get(const cli_args *a, const char *name);
int cli_flag(const cli_args *a, const char *name);
/* Parses an integer option; def when absent. -1 (after printing an error) when invalid. */
int cli_int(const cli_args *a, const char *name, long long lo, long long hi, long long def,
            long long *out);
/* Prints "evbctl: <msg>" and a hint to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_print_global_help(FILE *f);

/* ---- input ---- */

/* Reads a whole file ("-" = stdin) into a malloc'd NUL-terminated buffer. NULL after
 * printing an error. */
char *evbctl_read_file(const char *path, size_t *len);
/* Reads a JSON or YAML file into a JSON value (the first document; an object with "kind"
 * and "spec" gives its spec). NULL after printing an error. */
json_t *evbctl_load_object(const char *path);
/* Parses text that is JSON, or else YAML (first document). NULL after printing an error. */
json_t *evbctl_parse_text(const char *text, size_t len, const char *what);
/* A JSON argument: "@file" reads the file (JSON or YAML), else the text itself is JSON.
 * Returns compact JSON text (malloc'd) or NULL after printing an error. */
char *evbctl_json_arg(const char *arg, const char *what);
/* Builds a message from a JSON value; prints the error and returns NULL when invalid. */
ProtobufCMessage *evbctl_message_from_json(const json_t *j, const ProtobufCMessageDescriptor *d,
                                           const char *what);

/* ---- RPC ---- */

/* Calls method with req; on OK unpacks the response into *resp (free with
 * protobuf_c_message_free_unpacked) and returns 0. Otherwise prints the gRPC status and
 * the server's message (unless quiet) and returns the exit code; *status_out (may be NULL)
 * gets the grpc status code. */
int evbctl_call(evbctl *ctx, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, int quiet,
                int *status_out, char **details_out);
/* Connects on first use; NULL after printing an error. */
evb_rpc_client *evbctl_client(evbctl *ctx);
/* Exit code for a grpc status code. */
int evbctl_exit_for_status(int status);
const char *evbctl_status_name(int status);

/* ---- output ---- */

typedef struct table_col {
    const char *header;
    const char *path; /* dotted path into the JSON object; "a.b"; "#x" = array size of x */
} table_col;

/* Prints json according to ctx->fmt: json, yaml, or (table) with cols over the array at
 * list_key (when list_key), else a vertical "field  value" listing of the object. */
void evbctl_output(evbctl *ctx, json_t *j, const char *list_key, const table_col *cols);
/* Prints msg as above. */
void evbctl_output_msg(evbctl *ctx, const ProtobufCMessage *msg, const char *list_key,
                       const table_col *cols);
void evbctl_print_table(json_t *rows, const table_col *cols, FILE *f);
void evbctl_print_vertical(json_t *obj, FILE *f);
/* A short text of a scalar JSON value (caller frees). */
char *evbctl_cell(const json_t *v);
/* Prints JSON pretty (2-space indent, key order kept). */
void evbctl_print_json(const json_t *j, FILE *f);

/* ---- command groups ---- */
extern const cli_node evbctl_schemas_node;
extern const cli_node evbctl_connectors_node;
extern const cli_node evbctl_actions_node;
extern const cli_node evbctl_connections_node;
extern const cli_node evbctl_events_node;
extern const cli_node evbctl_deadletters_node;
extern const cli_node evbctl_keys_node;
extern const cli_node evbctl_test_pattern_node;
extern const cli_node evbctl_test_transform_node;
extern const cli_node evbctl_apply_node;
extern const cli_node evbctl_health_node;

/* Common CRUD helpers for the connector/action/connection groups. */
int evbctl_simple_call(evbctl *ctx, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, const char *list_key,
                       const table_col *cols);

/* Builds the request of req_desc from the JSON object req (stolen; built from command-line
 * flags), calls method and, when resp is NULL, prints the response (list_key, cols as in
 * evbctl_output) and frees it; else hands it over in *resp. Returns the exit code. */
int evbctl_json_call(evbctl *ctx, const char *method, const ProtobufCMessageDescriptor *req_desc,
                     json_t *req, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp, const char *list_key, const table_col *cols);

/* ---- create/get/list/update/delete of connectors, actions, connections (crud.c) ---- */

typedef struct crud_kind {
    const char *svc;  /* "/evbridge.v1.ConnectorService/" */
    const char *noun; /* "Connector": methods are Create<noun>, Get<noun>, ... */
    const char *wrap; /* request field holding the object: "connector" */
    const char *key;  /* request field of Get/Delete: "name" or "id" */
    const ProtobufCMessageDescriptor *obj, *create_req, *get_req, *list_req, *list_resp,
        *update_req, *delete_req, *delete_resp;
    const char *list_key; /* "connectors" */
    const table_col *cols;
} crud_kind;

/* -f FILE (JSON/YAML object in proto field names) -> Create/Update; prints the result. */
int crud_write(evbctl *ctx, const crud_kind *k, const char *verb, const char *file);
/* Get/Delete (or another verb taking the key, e.g. "Pause") with the key; prints. */
int crud_key_call(evbctl *ctx, const crud_kind *k, const char *verb, const char *keyval,
                  const ProtobufCMessageDescriptor *resp_desc);
/* List with filters (JSON object, stolen); prints a table. */
int crud_list(evbctl *ctx, const crud_kind *k, json_t *filters);

#endif
