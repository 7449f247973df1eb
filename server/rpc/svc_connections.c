/* evbridge — ConnectorService connections (an org's rules) and the debugging RPCs
 * TestEventPattern / TestTransform.
 *
 * Only the org's org-admin key (or admin) may manage or read its connections; another
 * org's connection is NOT_FOUND so existence does not leak. Changes take effect for the
 * next PutEvents: the router notices the store's routing generation moved.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/id.h"
#include "common/text.h"
#include "server/routing/pattern.h"
#include "server/routing/transform.h"
#include "server/rpc/connection_codec.h"


static void reply_connection(evb_services *svc, evb_rpc_call *call, const char *id)
{
    evb_connection_rec *rec = NULL;
    evb_err rc = evb_store_connection_get(svc->store, id, &rec);
    evb_arena *a = rc == EVB_OK ? evb_arena_new() : NULL;
    Evbridge__V1__Connection *p = a ? evb_connection_to_pb(a, rec) : NULL;
    if (rc != EVB_OK)
        evb_svc_reply_err(call, rc, NULL);
    else if (p == NULL)
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "cannot read the connection");
    else
        evb_svc_reply_msg(call, &p->base);
    evb_arena_free(a);
    evb_connection_rec_free(rec);
}

/* The connector must exist, the action must exist and be usable by the org. */
static evb_err check_refs(evb_services *svc, const Evbridge__V1__Connection *c,
                          evb_connector **conn, evb_error *e)
{
    if (!evb_str_matches(c->connector, "a-z0-9-", 1, 64))
        return evb_error_set(e, EVB_ERR_INVALID, "connection.connector",
                             "connection.connector must match [a-z0-9-]{1,64}");
    evb_err rc = evb_store_connector_get(svc->store, c->connector, conn);
    if (rc == EVB_ERR_NOT_FOUND)
        return evb_error_set(e, EVB_ERR_INVALID, "connection.connector",
                             "connection.connector: no connector %s", c->connector);
    if (rc != EVB_OK)
        return evb_error_set(e, rc, NULL, "cannot read connector %s", c->connector);
    evb_action_rec *act = NULL;
    rc = evb_str_matches(c->action, "a-z0-9-", 1, 64)
             ? evb_store_action_get(svc->store, c->action, &act)
             : EVB_ERR_NOT_FOUND;
    evb_principal org_view = {.role = EVB_ROLE_ORG_ADMIN};
    snprintf(org_view.scope, sizeof org_view.scope, "%s", c->org);
    if (rc == EVB_OK && !evb_svc_action_visible(&org_view, act))
        rc = EVB_ERR_NOT_FOUND;
    evb_action_rec_free(act);
    if (rc == EVB_ERR_NOT_FOUND)
        return evb_error_set(e, EVB_ERR_INVALID, "connection.action",
                             "connection.action: no action %.64s usable by org %s", c->action,
                             c->org);
    return rc == EVB_OK ? EVB_OK : evb_error_set(e, rc, NULL, "cannot read the action");
}

static void write_connection(evb_rpc_call *call, const uint8_t *req, size_t len,
                             evb_services *svc, int create)
{
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__CreateConnectionRequest *r =
        evbridge__v1__create_connection_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed request");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = EVB_OK;
    evb_connector *conn = NULL;
    evb_connection_rec *old = NULL;
    char *config = NULL, *saved_org = NULL;
    char id[EVB_UUID_STRLEN + 1] = "";
    Evbridge__V1__Connection *c = r->connection;
    if (c == NULL) {
        rc = evb_error_set(&e, EVB_ERR_INVALID, "connection", "connection is required");
        goto out;
    }
    saved_org = c->org;
    if (p.role != EVB_ROLE_ADMIN && p.role != EVB_ROLE_ORG_ADMIN) {
        rc = evb_error_set(&e, EVB_ERR_DENIED, "connection",
                           "permission denied: connections are managed with an org-admin or "
                           "admin key");
        goto out;
    }
    if (!create) {
        rc = evb_store_connection_get(svc->store, c->id, &old);
        if (rc == EVB_OK && !evb_svc_allowed(&p, EVB_ROLE_ORG_ADMIN, old->org))
            rc = EVB_ERR_NOT_FOUND;
        if (rc == EVB_ERR_NOT_FOUND)
            evb_error_set(&e, rc, "connection.id", "no connection %.64s", c->id);
        if (rc != EVB_OK)
            goto out;
        if (c->org[0] == '\0')
            c->org = old->org;
        else if (strcmp(c->org, old->org) != 0) {
            rc = evb_error_set(&e, EVB_ERR_INVALID, "connection.org",
                               "connection.org cannot change");
            goto out;
        }
        snprintf(id, sizeof id, "%s", old->id);
    } else if (evb_uuid7(id, sizeof id) != EVB_OK) {
        rc = evb_error_set(&e, EVB_ERR_INTERNAL, NULL, "cannot make an id");
        goto out;
    }
    if (c->org[0] == '\0' && p.role == EVB_ROLE_ORG_ADMIN)
        c->org = p.scope;
    if (!evb_str_matches(c->org, "A-Za-z0-9_.-", 1, 64)) {
        rc = evb_error_set(&e, EVB_ERR_INVALID, "connection.org",
                           "connection.org must match [A-Za-z0-9_.-]{1,64}");
        goto out;
    }
    if (!evb_svc_allowed(&p, EVB_ROLE_ORG_ADMIN, c->org)) {
        rc = evb_error_set(&e, EVB_ERR_DENIED, "connection.org",
                           "permission denied: connections of org %s are managed by its "
                           "org-admin key", c->org);
        goto out;
    }
    if (!evb_str_matches(c->name, "A-Za-z0-9_.-", 1, 64)) {
        rc = evb_error_set(&e, EVB_ERR_INVALID, "connection.name",
                           "connection.name must match [A-Za-z0-9_.-]{1,64}");
        goto out;
    }
    int state = old ? old->state : (int)c->state;
    if (state == 0)
        state = EVBRIDGE__V1__CONNECTION_STATE__ENABLED;
    if (create && state != EVBRIDGE__V1__CONNECTION_STATE__ENABLED &&
        state != EVBRIDGE__V1__CONNECTION_STATE__PAUSED) {
        rc = evb_error_set(&e, EVB_ERR_INVALID, "connection.state",
                           "connection.state: a new connection is ENABLED or PAUSED");
        goto out;
    }
    if ((rc = check_refs(svc, c, &conn, &e)) != EVB_OK ||
        (rc = evb_connection_config_from_pb(c, conn, svc->max_pattern_bytes, &config, &e)) != EVB_OK)
        goto out;
    evb_connection_rec rec = {.id = id, .org = c->org, .name = c->name,
                              .connector = c->connector, .action = c->action, .config = config,
                              .state = state,
                              .state_reason = old ? old->state_reason : (char *)""};
    rc = create ? evb_store_connection_create(svc->store, &rec)
                : evb_store_connection_update(svc->store, &rec);
    if (rc == EVB_ERR_EXISTS)
        evb_error_set(&e, rc, "connection.name", "org %s already has a connection named %s",
                      c->org, c->name);
out:
    if (rc == EVB_OK)
        reply_connection(svc, call, id);
    else
        evb_svc_reply_err(call, rc, &e);
    if (c != NULL)
        c->org = saved_org;
    free(config);
    evb_connector_free(conn);
    evb_connection_rec_free(old);
    evbridge__v1__create_connection_request__free_unpacked(r, NULL);
}

static void create_connection(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    write_connection(call, req, len, arg, 1);
}

static void update_connection(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    write_connection(call, req, len, arg, 0);
}

/* Get, Delete, Pause and Resume take { string id = 1; }: loads one the caller may manage. */
static evb_connection_rec *load_own(evb_services *svc, evb_rpc_call *call, const uint8_t *req,
                                    size_t len)
{
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return NULL;
    Evbridge__V1__GetConnectionRequest *r =
        evbridge__v1__get_connection_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed request");
        return NULL;
    }
    evb_connection_rec *rec = NULL;
    if (p.role != EVB_ROLE_ADMIN && p.role != EVB_ROLE_ORG_ADMIN) {
        evb_svc_deny(call, "connections are managed with an org-admin or admin key");
    } else if (r->id[0] == '\0' || strlen(r->id) > 64) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "id is required");
    } else if (evb_store_connection_get(svc->store, r->id, &rec) != EVB_OK ||
               !evb_svc_allowed(&p, EVB_ROLE_ORG_ADMIN, rec->org)) {
        char msg[128];
        snprintf(msg, sizeof msg, "no connection %.64s", r->id);
        evb_rpc_reply_error(call, EVB_RPC_NOT_FOUND, evb_utf8_sanitize(msg));
        evb_connection_rec_free(rec);
        rec = NULL;
    }
    evbridge__v1__get_connection_request__free_unpacked(r, NULL);
    return rec;
}

static void get_connection(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_connection_rec *rec = load_own(arg, call, req, len);
    if (rec != NULL)
        reply_connection(arg, call, rec->id);
    evb_connection_rec_free(rec);
}

static void delete_connection(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_connection_rec *rec = load_own(svc, call, req, len);
    if (rec == NULL)
        return;
    evb_err rc = evb_store_connection_delete(svc->store, rec->id);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, NULL);
    } else {
        Evbridge__V1__DeleteConnectionResponse resp =
            EVBRIDGE__V1__DELETE_CONNECTION_RESPONSE__INIT;
        evb_svc_reply_msg(call, &resp.base);
    }
    evb_connection_rec_free(rec);
}

static void set_state(evb_rpc_call *call, const uint8_t *req, size_t len, evb_services *svc,
                      int state)
{
    evb_connection_rec *rec = load_own(svc, call, req, len);
    if (rec == NULL)
        return;
    evb_err rc = evb_store_connection_set_state(svc->store, rec->id, state, "");
    if (rc != EVB_OK)
        evb_svc_reply_err(call, rc, NULL);
    else
        reply_connection(svc, call, rec->id);
    evb_connection_rec_free(rec);
}

static void pause_connection(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    set_state(call, req, len, arg, EVBRIDGE__V1__CONNECTION_STATE__PAUSED);
}

static void resume_connection(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    set_state(call, req, len, arg, EVBRIDGE__V1__CONNECTION_STATE__ENABLED);
}

static void list_connections(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__ListConnectionsRequest *r =
        evbridge__v1__list_connections_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ListConnectionsRequest");
        return;
    }
    const char *org = r->org[0] ? r->org : NULL;
    evb_connection_rec **cs = NULL;
    size_t n = 0;
    evb_err rc = EVB_OK;
    if (p.role == EVB_ROLE_ORG_ADMIN && org == NULL)
        org = p.scope;
    if (p.role != EVB_ROLE_ADMIN && (p.role != EVB_ROLE_ORG_ADMIN || strcmp(org, p.scope) != 0))
        evb_svc_deny(call, "an org-admin key lists only its own org's connections");
    else if ((rc = evb_store_connection_list(svc->store, org,
                                             r->connector[0] ? r->connector : NULL, &cs,
                                             &n)) != EVB_OK)
        evb_svc_reply_err(call, rc, NULL);
    else {
        evb_arena *a = evb_arena_new();
        Evbridge__V1__ListConnectionsResponse resp =
            EVBRIDGE__V1__LIST_CONNECTIONS_RESPONSE__INIT;
        resp.connections = a ? evb_arena_alloc(a, (n + 1) * sizeof *resp.connections) : NULL;
        int ok = resp.connections != NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = (resp.connections[resp.n_connections++] = evb_connection_to_pb(a, cs[i])) != NULL;
        if (ok)
            evb_svc_reply_msg(call, &resp.base);
        else
            evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
        evb_arena_free(a);
    }
    evb_connection_rec_array_free(cs, n);
    evbridge__v1__list_connections_request__free_unpacked(r, NULL);
}

/* ---- debugging ---- */

static void test_pattern(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__TestEventPatternRequest *r =
        evbridge__v1__test_event_pattern_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed TestEventPatternRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_pattern *pat = NULL;
    int matched = 0;
    evb_err rc = evb_pattern_compile(r->pattern, strlen(r->pattern), svc->max_pattern_bytes, &pat,
                                     &e);
    if (rc != EVB_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "pattern%s%.200s: %.400s", e.pointer[0] ? " at " : "",
                 e.pointer, e.message);
        evb_error_set(&e, EVB_ERR_INVALID, "pattern", "%s", msg);
    } else {
        evb_error_clear(&e);
        rc = evb_pattern_match_text(pat, r->event, strlen(r->event), &matched, &e);
        if (rc != EVB_OK)
            evb_error_set(&e, EVB_ERR_INVALID, "event", "event must be a JSON object: %.400s",
                          e.message);
    }
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, EVB_ERR_INVALID, &e);
    } else {
        Evbridge__V1__TestEventPatternResponse resp =
            EVBRIDGE__V1__TEST_EVENT_PATTERN_RESPONSE__INIT;
        resp.matched = matched != 0;
        evb_svc_reply_msg(call, &resp.base);
    }
    evb_pattern_free(pat);
    evbridge__v1__test_event_pattern_request__free_unpacked(r, NULL);
}

static void test_transform(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__TestTransformRequest *r =
        evbridge__v1__test_transform_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed TestTransformRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_transform *t = NULL;
    json_t *event = NULL;
    char *out = NULL;
    size_t out_len = 0;
    const char *ctype = NULL;
    json_error_t jerr;
    evb_err rc = evb_transform_compile_json(r->transform, strlen(r->transform), &t, &e);
    if (rc != EVB_OK) {
        rc = EVB_ERR_INVALID;
    } else if ((event = json_loads(r->event, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
               !json_is_object(event)) {
        rc = evb_error_set(&e, EVB_ERR_INVALID, "event", "event must be a JSON object%s%s",
                           event ? "" : ": ", event ? "" : jerr.text);
    } else {
        rc = evb_transform_apply(t, event, &out, &out_len, &ctype, &e);
    }
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
    } else {
        Evbridge__V1__TestTransformResponse resp = EVBRIDGE__V1__TEST_TRANSFORM_RESPONSE__INIT;
        resp.output = out;
        evb_svc_reply_msg(call, &resp.base);
    }
    free(out);
    json_decref(event);
    evb_transform_free(t);
    evbridge__v1__test_transform_request__free_unpacked(r, NULL);
}

evb_err evb_svc_connections_register(evb_rpc_server *server, evb_services *svc)
{
    static const evb_svc_method m[] = {
        {"/evbridge.v1.ConnectorService/CreateConnection", create_connection},
        {"/evbridge.v1.ConnectorService/GetConnection", get_connection},
        {"/evbridge.v1.ConnectorService/ListConnections", list_connections},
        {"/evbridge.v1.ConnectorService/UpdateConnection", update_connection},
        {"/evbridge.v1.ConnectorService/DeleteConnection", delete_connection},
        {"/evbridge.v1.ConnectorService/PauseConnection", pause_connection},
        {"/evbridge.v1.ConnectorService/ResumeConnection", resume_connection},
        {"/evbridge.v1.ConnectorService/TestEventPattern", test_pattern},
        {"/evbridge.v1.ConnectorService/TestTransform", test_transform},
    };
    return evb_svc_add_methods(server, svc, m, sizeof m / sizeof m[0]);
}
