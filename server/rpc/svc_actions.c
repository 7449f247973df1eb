/* evbridge — ConnectorService actions: delivery targets owned by an ISV (offered to every
 * org) or by one org.
 *
 * Who may do what: admin everything; an isv key manages its ISV's actions; an org-admin
 * key manages its org's actions. Reading: an org-admin sees its org's actions and every
 * ISV-offered one (it may wire them); an isv key sees its own. Secrets never come back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/rpc/action_codec.h"

/* Fills the owner from the key when the request leaves it empty; checks the right. */
static evb_err check_owner(const evb_principal *p, Evbridge__V1__Action *a, char *scope_buf,
                           evb_error *e)
{
    if (a->isv[0] == '\0' && a->org[0] == '\0' && p->role != EVB_ROLE_ADMIN) {
        snprintf(scope_buf, EVB_SCOPE_MAX + 1, "%s", p->scope);
        if (p->role == EVB_ROLE_ISV)
            a->isv = scope_buf;
        else if (p->role == EVB_ROLE_ORG_ADMIN)
            a->org = scope_buf;
    }
    if ((a->isv[0] != '\0') == (a->org[0] != '\0'))
        return evb_error_set(e, EVB_ERR_INVALID, "action.isv",
                             "an action is owned by exactly one of action.isv or action.org");
    if (a->isv[0] && !evb_str_matches(a->isv, "A-Za-z0-9_.-", 1, 64))
        return evb_error_set(e, EVB_ERR_INVALID, "action.isv",
                             "action.isv must match [A-Za-z0-9_.-]{1,64}");
    if (a->org[0] && !evb_str_matches(a->org, "A-Za-z0-9_.-", 1, 64))
        return evb_error_set(e, EVB_ERR_INVALID, "action.org",
                             "action.org must match [A-Za-z0-9_.-]{1,64}");
    int ok = a->isv[0] ? evb_svc_allowed(p, EVB_ROLE_ISV, a->isv)
                       : evb_svc_allowed(p, EVB_ROLE_ORG_ADMIN, a->org);
    if (!ok)
        return evb_error_set(e, EVB_ERR_DENIED, "action",
                             "permission denied: an action of %s %s is managed by its %s key "
                             "or an admin", a->isv[0] ? "ISV" : "org",
                             a->isv[0] ? a->isv : a->org, a->isv[0] ? "isv" : "org-admin");
    return EVB_OK;
}

/* 1 when p may see (and an org may use) the stored action. */
int evb_svc_action_visible(const evb_principal *p, const evb_action_rec *a)
{
    if (p->role == EVB_ROLE_ADMIN)
        return 1;
    if (p->role == EVB_ROLE_ISV)
        return a->isv[0] != '\0' && strcmp(a->isv, p->scope) == 0;
    if (p->role == EVB_ROLE_ORG_ADMIN)
        return a->isv[0] != '\0' || strcmp(a->org, p->scope) == 0;
    return 0;
}

static void reply_action(evb_services *svc, evb_rpc_call *call, const char *name)
{
    evb_action_rec *rec = NULL;
    evb_err rc = evb_store_action_get(svc->store, name, &rec);
    if (rc != EVB_OK) {
        evb_error e;
        evb_error_set(&e, rc, "name", "action %s: %s", name, evb_strerror(rc));
        evb_svc_reply_err(call, rc, &e);
        return;
    }
    evb_arena *a = evb_arena_new();
    Evbridge__V1__Action *pa = a ? evb_action_to_pb(a, rec) : NULL;
    if (pa != NULL)
        evb_svc_reply_msg(call, &pa->base);
    else
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "cannot read the action");
    evb_arena_free(a);
    evb_action_rec_free(rec);
}

static void write_action(evb_rpc_call *call, const uint8_t *req, size_t len, evb_services *svc,
                         int create)
{
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    /* Create and Update requests share the shape { Action action = 1; }. */
    Evbridge__V1__CreateActionRequest *r =
        evbridge__v1__create_action_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed request");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = EVB_OK;
    char scope_buf[EVB_SCOPE_MAX + 1];
    char *saved_isv = NULL, *saved_org = NULL, *config = NULL;
    evb_action_rec *old = NULL;
    Evbridge__V1__Action *a = r->action;
    if (a == NULL) {
        rc = evb_error_set(&e, EVB_ERR_INVALID, "action", "action is required");
        goto out;
    }
    saved_isv = a->isv;
    saved_org = a->org;
    if (!evb_str_matches(a->name, "a-z0-9-", 1, 64)) {
        rc = evb_error_set(&e, EVB_ERR_INVALID, "action.name",
                           "action.name must match [a-z0-9-]{1,64}");
        goto out;
    }
    if (!create) {
        rc = evb_store_action_get(svc->store, a->name, &old);
        if (rc == EVB_OK && !evb_svc_action_visible(&p, old))
            rc = EVB_ERR_NOT_FOUND; /* another owner's action stays invisible */
        if (rc == EVB_ERR_NOT_FOUND)
            evb_error_set(&e, rc, "action.name", "no action %s", a->name);
        if (rc != EVB_OK)
            goto out;
        if (a->isv[0] == '\0' && a->org[0] == '\0') { /* owner cannot change: default to it */
            a->isv = old->isv;
            a->org = old->org;
        } else if (strcmp(a->isv, old->isv) != 0 || strcmp(a->org, old->org) != 0) {
            rc = evb_error_set(&e, EVB_ERR_INVALID, "action.isv",
                               "the owner of an action (isv/org) cannot change");
            goto out;
        }
    }
    if ((rc = check_owner(&p, a, scope_buf, &e)) != EVB_OK)
        goto out;
    if ((rc = evb_action_config_from_pb(a, old ? old->config : NULL, &config, &e)) != EVB_OK)
        goto out;
    evb_action_rec rec = {.name = a->name, .isv = a->isv, .org = a->org, .kind = (int)a->kind,
                          .config = config, .disabled_reason = (char *)""};
    rc = create ? evb_store_action_create(svc->store, &rec)
                : evb_store_action_update(svc->store, &rec);
    if (rc == EVB_ERR_EXISTS)
        evb_error_set(&e, rc, "action.name", "action %s already exists", a->name);
out:
    if (rc == EVB_OK)
        reply_action(svc, call, a->name);
    else
        evb_svc_reply_err(call, rc, &e);
    free(config);
    if (a != NULL) { /* give back the strings free_unpacked owns */
        a->isv = saved_isv;
        a->org = saved_org;
    }
    evb_action_rec_free(old);
    evbridge__v1__create_action_request__free_unpacked(r, NULL);
}

static void create_action(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    write_action(call, req, len, arg, 1);
}

static void update_action(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    write_action(call, req, len, arg, 0);
}

/* Get and Delete take { string name = 1; }. Loads the action the caller may see. */
static evb_action_rec *load_visible(evb_services *svc, evb_rpc_call *call, const uint8_t *req,
                                    size_t len, evb_principal *p)
{
    if (!evb_svc_auth(svc, call, p))
        return NULL;
    Evbridge__V1__GetActionRequest *r = evbridge__v1__get_action_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed request");
        return NULL;
    }
    evb_action_rec *rec = NULL;
    char msg[160];
    snprintf(msg, sizeof msg, "no action %.64s", r->name);
    if (!evb_str_matches(r->name, "a-z0-9-", 1, 64))
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "name must match [a-z0-9-]{1,64}");
    else if (evb_store_action_get(svc->store, r->name, &rec) != EVB_OK ||
             !evb_svc_action_visible(p, rec)) {
        evb_action_rec_free(rec);
        rec = NULL;
        evb_rpc_reply_error(call, EVB_RPC_NOT_FOUND, msg);
    }
    evbridge__v1__get_action_request__free_unpacked(r, NULL);
    return rec;
}

static void get_action(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_principal p;
    evb_action_rec *rec = load_visible(arg, call, req, len, &p);
    if (rec == NULL)
        return;
    reply_action(arg, call, rec->name);
    evb_action_rec_free(rec);
}

static void delete_action(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    evb_action_rec *rec = load_visible(svc, call, req, len, &p);
    if (rec == NULL)
        return;
    evb_error e;
    evb_error_clear(&e);
    int allowed = rec->isv[0] ? evb_svc_allowed(&p, EVB_ROLE_ISV, rec->isv)
                              : evb_svc_allowed(&p, EVB_ROLE_ORG_ADMIN, rec->org);
    evb_err rc = allowed ? evb_store_action_delete(svc->store, rec->name)
                         : evb_error_set(&e, EVB_ERR_DENIED, "name",
                                         "permission denied: only the owner may delete action %s",
                                         rec->name);
    if (rc == EVB_ERR_PRECONDITION)
        evb_error_set(&e, rc, "name", "action %s is used by a connection", rec->name);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
    } else {
        Evbridge__V1__DeleteActionResponse resp = EVBRIDGE__V1__DELETE_ACTION_RESPONSE__INIT;
        evb_svc_reply_msg(call, &resp.base);
    }
    evb_action_rec_free(rec);
}

static void list_actions(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__ListActionsRequest *r =
        evbridge__v1__list_actions_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ListActionsRequest");
        return;
    }
    evb_action_rec **as = NULL;
    size_t n = 0;
    evb_err rc = evb_store_action_list(svc->store, r->isv[0] ? r->isv : NULL,
                                       r->org[0] ? r->org : NULL, &as, &n);
    evbridge__v1__list_actions_request__free_unpacked(r, NULL);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, NULL);
        return;
    }
    evb_arena *a = evb_arena_new();
    Evbridge__V1__ListActionsResponse resp = EVBRIDGE__V1__LIST_ACTIONS_RESPONSE__INIT;
    resp.actions = a ? evb_arena_alloc(a, (n + 1) * sizeof *resp.actions) : NULL;
    int ok = resp.actions != NULL;
    for (size_t i = 0; ok && i < n; i++)
        if (evb_svc_action_visible(&p, as[i]))
            ok = (resp.actions[resp.n_actions++] = evb_action_to_pb(a, as[i])) != NULL;
    if (ok)
        evb_svc_reply_msg(call, &resp.base);
    else
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
    evb_arena_free(a);
    evb_action_rec_array_free(as, n);
}

evb_err evb_svc_actions_register(evb_rpc_server *server, evb_services *svc)
{
    static const evb_svc_method m[] = {
        {"/evbridge.v1.ConnectorService/CreateAction", create_action},
        {"/evbridge.v1.ConnectorService/GetAction", get_action},
        {"/evbridge.v1.ConnectorService/ListActions", list_actions},
        {"/evbridge.v1.ConnectorService/UpdateAction", update_action},
        {"/evbridge.v1.ConnectorService/DeleteAction", delete_action},
    };
    return evb_svc_add_methods(server, svc, m, sizeof m / sizeof m[0]);
}
