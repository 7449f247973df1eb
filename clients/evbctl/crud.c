/* evbctl — create / get / list / update / delete shared by the connector, action and
 * connection groups: the object comes from a JSON or YAML file in proto field names and is
 * wrapped into the request ({"connector": {...}}) before the generic conversion, so input
 * errors name the full field path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/evbctl/evbctl.h"
#include "clients/evbctl/pbjson.h"
#include "evbridge/v1/connector.pb-c.h"

static void method_name(char *buf, size_t n, const crud_kind *k, const char *verb)
{
    snprintf(buf, n, "%s%s%s%s", k->svc, verb, k->noun, strcmp(verb, "List") == 0 ? "s" : "");
}

int crud_write(evbctl *ctx, const crud_kind *k, const char *verb, const char *file)
{
    if (file == NULL)
        return cli_usage_error("-f FILE is required");
    json_t *obj = evbctl_load_object(file);
    if (obj == NULL)
        return EXIT_REJECTED;
    json_t *req = json_object();
    json_object_set_new(req, k->wrap, obj);
    ProtobufCMessage *m = evbctl_message_from_json(
        req, strcmp(verb, "Create") == 0 ? k->create_req : k->update_req, "");
    json_decref(req);
    if (m == NULL)
        return EXIT_REJECTED;
    char method[128];
    method_name(method, sizeof method, k, verb);
    int rc = evbctl_simple_call(ctx, method, m, k->obj, NULL, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int crud_key_call(evbctl *ctx, const crud_kind *k, const char *verb, const char *keyval,
                  const ProtobufCMessageDescriptor *resp_desc)
{
    char method[128];
    method_name(method, sizeof method, k, verb);
    const ProtobufCMessageDescriptor *rq = k->get_req;
    if (strcmp(verb, "Delete") == 0)
        rq = k->delete_req;
    else if (strcmp(verb, "Get") != 0) {
        /* Pause/Resume of connections. */
        char name[128];
        snprintf(name, sizeof name, "%s%sRequest", verb, k->noun);
        rq = NULL;
        if (strcmp(name, "PauseConnectionRequest") == 0)
            rq = &evbridge__v1__pause_connection_request__descriptor;
        else if (strcmp(name, "ResumeConnectionRequest") == 0)
            rq = &evbridge__v1__resume_connection_request__descriptor;
        if (rq == NULL)
            return EXIT_FAILURE_;
    }
    int rc = evbctl_json_call(ctx, method, rq, json_pack("{s:s}", k->key, keyval), resp_desc, NULL,
                              NULL, NULL);
    if (rc == 0 && strcmp(verb, "Delete") == 0 && ctx->fmt == FMT_TABLE)
        printf("deleted %s %s\n", k->wrap, keyval);
    return rc;
}

int crud_list(evbctl *ctx, const crud_kind *k, json_t *filters)
{
    char method[128];
    method_name(method, sizeof method, k, "List");
    return evbctl_json_call(ctx, method, k->list_req, filters, k->list_resp, NULL, k->list_key,
                            k->cols);
}
