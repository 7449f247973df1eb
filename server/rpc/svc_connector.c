/* evbridge — evbridge.v1.ConnectorService: connectors (an ISV's event channels).
 *
 * An `isv` key manages only its own ISV's connectors (admin manages all); any
 * authenticated key may read them, since orgs wire connections to every ISV's connectors.
 * Actions and connections belong to a later issue and are not registered yet (the runtime
 * answers UNIMPLEMENTED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "evbridge/v1/connector.pb-c.h"
#include "server/cloudevents/ce_rules.h"
#include "server/rpc/svc.h"
#include "server/store/store_schemas.h"

#define MAX_EVENT_TYPES 256

typedef Evbridge__V1__Connector pb_connector;
typedef Evbridge__V1__EventType pb_type;

static int text_ok(const char *s, size_t max_chars)
{
    size_t n = strlen(s);
    return evb_utf8_valid(s, n) && evb_ce_string_valid(s, n) && evb_utf8_len(s, n) <= max_chars;
}

/* Checks the event types of a connector message. */
static evb_err check_types(const pb_connector *c, evb_error *e)
{
    if (c->n_event_types > MAX_EVENT_TYPES)
        return evb_error_set(e, EVB_ERR_INVALID, "connector.event_types",
                             "a connector declares at most %d event types", MAX_EVENT_TYPES);
    for (size_t i = 0; i < c->n_event_types; i++) {
        const pb_type *t = c->event_types[i];
        char ptr[64];
        snprintf(ptr, sizeof ptr, "connector.event_types[%zu]", i);
        if (t->type[0] == '\0' || !text_ok(t->type, 256))
            return evb_error_set(e, EVB_ERR_INVALID, ptr,
                                 "%s.type must be 1..256 characters of text", ptr);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->event_types[j]->type, t->type) == 0)
                return evb_error_set(e, EVB_ERR_INVALID, ptr, "%s.type \"%s\" is declared twice",
                                     ptr, t->type);
        if (t->subject[0] != '\0' &&
            !(evb_str_matches(t->subject, "a-z0-9._-", 1, 128) && t->subject[0] != '.' &&
              t->subject[0] != '_' && t->subject[0] != '-'))
            return evb_error_set(e, EVB_ERR_INVALID, ptr,
                                 "%s.subject must match [a-z0-9][a-z0-9._-]{0,127}", ptr);
        if (t->version < 0)
            return evb_error_set(e, EVB_ERR_INVALID, ptr,
                                 "%s.version must be >= 0 (0 = latest)", ptr);
        if (!text_ok(t->description, 1024))
            return evb_error_set(e, EVB_ERR_INVALID, ptr,
                                 "%s.description must be text of at most 1024 characters", ptr);
    }
    return EVB_OK;
}

/* Validates a connector message and converts it (strings borrowed from pc, types array
 * malloc'd into out->types; free with free(out->types) and free(out->source_buf)). */
static evb_err from_pb(const pb_connector *pc, evb_connector *out, char **source_buf,
                       evb_error *e)
{
    memset(out, 0, sizeof *out);
    *source_buf = NULL;
    if (!evb_str_matches(pc->name, "a-z0-9-", 1, 64))
        return evb_error_set(e, EVB_ERR_INVALID, "connector.name",
                             "connector.name must match [a-z0-9-]{1,64}");
    if (!evb_str_matches(pc->isv, "A-Za-z0-9_.-", 1, 64))
        return evb_error_set(e, EVB_ERR_INVALID, "connector.isv",
                             "connector.isv must match [A-Za-z0-9_.-]{1,64}");
    if (!text_ok(pc->display_name, 256))
        return evb_error_set(e, EVB_ERR_INVALID, "connector.display_name",
                             "connector.display_name must be text of at most 256 characters");
    const char *source = pc->source;
    if (source[0] == '\0') {
        size_t n = strlen(pc->name) + 13;
        if ((*source_buf = malloc(n)) == NULL)
            return evb_error_set(e, EVB_ERR_NOMEM, NULL, "out of memory");
        snprintf(*source_buf, n, "/connectors/%s", pc->name);
        source = *source_buf;
    } else if (!text_ok(source, 1024) || !evb_ce_uri_ref_valid(source)) {
        return evb_error_set(e, EVB_ERR_INVALID, "connector.source",
                             "connector.source must be a URI-reference (e.g. /connectors/%s)",
                             pc->name);
    }
    evb_err rc = check_types(pc, e);
    if (rc != EVB_OK)
        return rc;
    out->name = pc->name;
    out->isv = pc->isv;
    out->display_name = pc->display_name;
    out->source = (char *)source;
    if (pc->n_event_types > 0) {
        out->types = calloc(pc->n_event_types, sizeof *out->types);
        if (out->types == NULL)
            return evb_error_set(e, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < pc->n_event_types; i++) {
        out->types[i].type = pc->event_types[i]->type;
        out->types[i].subject = pc->event_types[i]->subject;
        out->types[i].version = pc->event_types[i]->version;
        out->types[i].description = pc->event_types[i]->description;
    }
    out->n_types = pc->n_event_types;
    return EVB_OK;
}

static pb_connector *to_pb(evb_arena *a, const evb_connector *c)
{
    pb_connector *p = evb_arena_alloc(a, sizeof *p);
    if (p == NULL)
        return NULL;
    *p = (pb_connector)EVBRIDGE__V1__CONNECTOR__INIT;
    p->name = evb_arena_strdup(a, c->name);
    p->display_name = evb_arena_strdup(a, c->display_name);
    p->isv = evb_arena_strdup(a, c->isv);
    p->source = evb_arena_strdup(a, c->source);
    p->create_time = evb_arena_time(a, c->create_ms);
    p->update_time = evb_arena_time(a, c->update_ms);
    p->event_types = evb_arena_alloc(a, (c->n_types + 1) * sizeof *p->event_types);
    if (!p->name || !p->display_name || !p->isv || !p->source || !p->create_time ||
        !p->update_time || !p->event_types)
        return NULL;
    for (size_t i = 0; i < c->n_types; i++) {
        pb_type *t = evb_arena_alloc(a, sizeof *t);
        if (t == NULL)
            return NULL;
        *t = (pb_type)EVBRIDGE__V1__EVENT_TYPE__INIT;
        t->type = evb_arena_strdup(a, c->types[i].type);
        t->subject = evb_arena_strdup(a, c->types[i].subject);
        t->version = c->types[i].version;
        t->description = evb_arena_strdup(a, c->types[i].description);
        if (!t->type || !t->subject || !t->description)
            return NULL;
        p->event_types[p->n_event_types++] = t;
    }
    return p;
}

/* Every event type bound to a data model must name an existing subject (and version). */
static evb_err check_models(evb_services *svc, const evb_connector *c, evb_error *e)
{
    for (size_t i = 0; i < c->n_types; i++) {
        const evb_event_type_def *t = &c->types[i];
        if (t->subject == NULL || t->subject[0] == '\0')
            continue;
        evb_schema_rec *rec = NULL;
        evb_err rc = evb_store_schema_get(svc->store, t->subject, t->version, 0, &rec);
        evb_schema_rec_free(rec);
        if (rc == EVB_ERR_NOT_FOUND)
            return evb_error_set(e, EVB_ERR_INVALID, "connector.event_types",
                                 "connector.event_types[%zu]: data model %s %s%d does not exist",
                                 i, t->subject, t->version ? "version " : "(latest) ",
                                 (int)t->version);
        if (rc != EVB_OK)
            return evb_error_set(e, rc, NULL, "cannot read data model %s", t->subject);
    }
    return EVB_OK;
}

/* Replies with the stored connector `name`. */
static void reply_connector(evb_services *svc, evb_rpc_call *call, const char *name)
{
    evb_connector *c = NULL;
    evb_err rc = evb_store_connector_get(svc->store, name, &c);
    if (rc != EVB_OK) {
        evb_error e;
        evb_error_set(&e, rc, "name", "connector %s: %s", name, evb_strerror(rc));
        evb_svc_reply_err(call, rc, &e);
        return;
    }
    evb_arena *a = evb_arena_new();
    pb_connector *p = a ? to_pb(a, c) : NULL;
    if (p != NULL)
        evb_svc_reply_msg(call, &p->base);
    else
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
    evb_arena_free(a);
    evb_connector_free(c);
}

/* Create and update share everything but the store call. */
static void write_connector(evb_rpc_call *call, const uint8_t *req, size_t len,
                            evb_services *svc, int create)
{
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    /* Create and Update requests have the same shape: { Connector connector = 1; }. */
    Evbridge__V1__CreateConnectorRequest *r =
        evbridge__v1__create_connector_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed request");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = EVB_OK;
    evb_connector c = {0};
    char *source_buf = NULL;
    pb_connector *pc = r->connector;
    if (pc == NULL) {
        rc = evb_error_set(&e, EVB_ERR_INVALID, "connector", "connector is required");
        goto out;
    }
    if (p.role == EVB_ROLE_ISV && pc->isv[0] == '\0')
        pc->isv = p.scope; /* an ISV key publishes under its own ISV by default */
    if (!evb_svc_allowed(&p, EVB_ROLE_ISV, pc->isv)) {
        rc = evb_error_set(&e, EVB_ERR_DENIED, "connector.isv",
                           "only an admin or an isv key of ISV \"%.64s\" may manage this "
                           "connector", pc->isv);
        goto out;
    }
    if ((rc = from_pb(pc, &c, &source_buf, &e)) != EVB_OK)
        goto out;
    if ((rc = check_models(svc, &c, &e)) != EVB_OK)
        goto out;
    if (!create) {
        evb_connector *old = NULL;
        rc = evb_store_connector_get(svc->store, c.name, &old);
        if (rc == EVB_OK && strcmp(old->isv, c.isv) != 0)
            rc = evb_error_set(&e, EVB_ERR_INVALID, "connector.isv",
                               "connector.isv cannot change (it is \"%s\")", old->isv);
        evb_connector_free(old);
        if (rc == EVB_OK)
            rc = evb_store_connector_update(svc->store, &c);
    } else {
        rc = evb_store_connector_create(svc->store, &c);
    }
    if (rc == EVB_ERR_EXISTS)
        evb_error_set(&e, rc, "connector.name", "connector %s already exists", c.name);
    else if (rc == EVB_ERR_NOT_FOUND)
        evb_error_set(&e, rc, "connector.name", "no connector %s", c.name);
out:
    if (rc == EVB_OK)
        reply_connector(svc, call, c.name);
    else
        evb_svc_reply_err(call, rc, &e);
    free(c.types);
    free(source_buf);
    if (pc != NULL && pc->isv == p.scope)
        pc->isv = NULL; /* borrowed from p: do not let free_unpacked free it */
    evbridge__v1__create_connector_request__free_unpacked(r, NULL);
}

static void create_connector(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    write_connector(call, req, len, arg, 1);
}

static void update_connector(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    write_connector(call, req, len, arg, 0);
}

static void get_connector(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__GetConnectorRequest *r =
        evbridge__v1__get_connector_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed GetConnectorRequest");
        return;
    }
    if (!evb_str_matches(r->name, "a-z0-9-", 1, 64))
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "name must match [a-z0-9-]{1,64}");
    else
        reply_connector(svc, call, r->name);
    evbridge__v1__get_connector_request__free_unpacked(r, NULL);
}

static void delete_connector(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__DeleteConnectorRequest *r =
        evbridge__v1__delete_connector_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed DeleteConnectorRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_connector *c = NULL;
    evb_err rc = evb_store_connector_get(svc->store, r->name, &c);
    if (rc == EVB_ERR_NOT_FOUND)
        evb_error_set(&e, rc, "name", "no connector %.64s", r->name);
    else if (rc == EVB_OK && !evb_svc_allowed(&p, EVB_ROLE_ISV, c->isv))
        rc = evb_error_set(&e, EVB_ERR_DENIED, "name",
                           "only an admin or an isv key of ISV \"%s\" may delete it", c->isv);
    if (rc == EVB_OK)
        rc = evb_store_connector_delete(svc->store, r->name);
    evb_connector_free(c);
    evbridge__v1__delete_connector_request__free_unpacked(r, NULL);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
        return;
    }
    Evbridge__V1__DeleteConnectorResponse resp = EVBRIDGE__V1__DELETE_CONNECTOR_RESPONSE__INIT;
    evb_svc_reply_msg(call, &resp.base);
}

static void list_connectors(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__ListConnectorsRequest *r =
        evbridge__v1__list_connectors_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ListConnectorsRequest");
        return;
    }
    evb_connector **cs = NULL;
    size_t n = 0;
    evb_err rc = evb_store_connector_list(svc->store, r->isv[0] ? r->isv : NULL, &cs, &n);
    evbridge__v1__list_connectors_request__free_unpacked(r, NULL);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, NULL);
        return;
    }
    evb_arena *a = evb_arena_new();
    Evbridge__V1__ListConnectorsResponse resp = EVBRIDGE__V1__LIST_CONNECTORS_RESPONSE__INIT;
    resp.connectors = a ? evb_arena_alloc(a, (n + 1) * sizeof *resp.connectors) : NULL;
    int ok = resp.connectors != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (resp.connectors[resp.n_connectors++] = to_pb(a, cs[i])) != NULL;
    if (ok)
        evb_svc_reply_msg(call, &resp.base);
    else
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
    evb_arena_free(a);
    evb_connector_array_free(cs, n);
}

evb_err evb_svc_connector_register(evb_rpc_server *server, evb_services *svc)
{
    static const evb_svc_method m[] = {
        {"/evbridge.v1.ConnectorService/CreateConnector", create_connector},
        {"/evbridge.v1.ConnectorService/GetConnector", get_connector},
        {"/evbridge.v1.ConnectorService/ListConnectors", list_connectors},
        {"/evbridge.v1.ConnectorService/UpdateConnector", update_connector},
        {"/evbridge.v1.ConnectorService/DeleteConnector", delete_connector},
    };
    return evb_svc_add_methods(server, svc, m, sizeof m / sizeof m[0]);
}
