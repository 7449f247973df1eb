/* evbridge — evbridge.v1.AdminService: API keys (admin only) and server information. */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "evbridge/v1/admin.pb-c.h"
#include "server/rpc/svc.h"


/* Authenticates and requires the admin role. */
static int require_admin(evb_services *svc, evb_rpc_call *call)
{
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return 0;
    if (p.role != EVB_ROLE_ADMIN) {
        evb_svc_deny(call, "API keys are managed with an admin key");
        return 0;
    }
    return 1;
}

static void create_key(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!require_admin(svc, call))
        return;
    Evbridge__V1__CreateApiKeyRequest *r =
        evbridge__v1__create_api_key_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed CreateApiKeyRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    char key_id[EVB_KEY_ID_LEN + 1], key[100];
    evb_err rc;
    if (!evb_utf8_valid(r->description, strlen(r->description)))
        rc = evb_error_set(&e, EVB_ERR_INVALID, "description", "description is not UTF-8");
    else
        rc = evb_auth_create_key(svc->auth, r->role, r->scope, r->description, key_id, key, &e);
    evbridge__v1__create_api_key_request__free_unpacked(r, NULL);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
        return;
    }
    Evbridge__V1__CreateApiKeyResponse resp = EVBRIDGE__V1__CREATE_API_KEY_RESPONSE__INIT;
    resp.key_id = key_id;
    resp.key = key;
    evb_svc_reply_msg(call, &resp.base);
}

static void list_keys(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!require_admin(svc, call))
        return;
    Evbridge__V1__ListApiKeysRequest *r =
        evbridge__v1__list_api_keys_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ListApiKeysRequest");
        return;
    }
    int include_revoked = r->include_revoked;
    evbridge__v1__list_api_keys_request__free_unpacked(r, NULL);
    evb_api_key **ks = NULL;
    size_t n = 0;
    evb_err rc = evb_store_key_list(svc->store, include_revoked, &ks, &n);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, NULL);
        return;
    }
    evb_arena *a = evb_arena_new();
    Evbridge__V1__ListApiKeysResponse resp = EVBRIDGE__V1__LIST_API_KEYS_RESPONSE__INIT;
    resp.keys = a ? evb_arena_alloc(a, (n ? n : 1) * sizeof *resp.keys) : NULL;
    int ok = resp.keys != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        Evbridge__V1__ApiKey *k = evb_arena_alloc(a, sizeof *k);
        if (k == NULL) {
            ok = 0;
            break;
        }
        *k = (Evbridge__V1__ApiKey)EVBRIDGE__V1__API_KEY__INIT;
        k->key_id = evb_arena_strdup(a, ks[i]->key_id);
        k->role = evb_arena_strdup(a, ks[i]->role);
        k->scope = evb_arena_strdup(a, ks[i]->scope);
        k->description = evb_arena_strdup(a, ks[i]->description);
        k->create_time = evb_arena_time(a, ks[i]->create_ms);
        k->revoked = ks[i]->revoke_ms != 0;
        k->revoke_time = ks[i]->revoke_ms ? evb_arena_time(a, ks[i]->revoke_ms)
                                          : evb_arena_strdup(a, "");
        ok = k->key_id && k->role && k->scope && k->description && k->create_time &&
             k->revoke_time;
        resp.keys[resp.n_keys++] = k;
    }
    if (ok)
        evb_svc_reply_msg(call, &resp.base);
    else
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
    evb_arena_free(a);
    evb_api_key_array_free(ks, n);
}

static void revoke_key(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!require_admin(svc, call))
        return;
    Evbridge__V1__RevokeApiKeyRequest *r =
        evbridge__v1__revoke_api_key_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed RevokeApiKeyRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = EVB_OK;
    if (!evb_str_matches(r->key_id, "0-9a-f", EVB_KEY_ID_LEN, EVB_KEY_ID_LEN))
        rc = evb_error_set(&e, EVB_ERR_INVALID, "key_id", "key_id must be 16 hex characters");
    else if ((rc = evb_auth_revoke_key(svc->auth, r->key_id)) == EVB_ERR_NOT_FOUND)
        evb_error_set(&e, rc, "key_id", "no API key %s", r->key_id);
    evbridge__v1__revoke_api_key_request__free_unpacked(r, NULL);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
        return;
    }
    Evbridge__V1__RevokeApiKeyResponse resp = EVBRIDGE__V1__REVOKE_API_KEY_RESPONSE__INIT;
    evb_svc_reply_msg(call, &resp.base);
}

static void server_info(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return;
    Evbridge__V1__GetServerInfoRequest *r =
        evbridge__v1__get_server_info_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed GetServerInfoRequest");
        return;
    }
    evbridge__v1__get_server_info_request__free_unpacked(r, NULL);
    evb_arena *a = evb_arena_new();
    Evbridge__V1__ServerInfo resp = EVBRIDGE__V1__SERVER_INFO__INIT;
    resp.version = (char *)EVB_VERSION;
    resp.store = (char *)"sqlite";
    resp.start_time = a ? evb_arena_time(a, svc->start_ms) : NULL;
    resp.threads = svc->threads;
    if (resp.start_time != NULL)
        evb_svc_reply_msg(call, &resp.base);
    else
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
    evb_arena_free(a);
}

evb_err evb_svc_admin_register(evb_rpc_server *server, evb_services *svc)
{
    static const evb_svc_method m[] = {
        {"/evbridge.v1.AdminService/CreateApiKey", create_key},
        {"/evbridge.v1.AdminService/ListApiKeys", list_keys},
        {"/evbridge.v1.AdminService/RevokeApiKey", revoke_key},
        {"/evbridge.v1.AdminService/GetServerInfo", server_info},
    };
    return evb_svc_add_methods(server, svc, m, sizeof m / sizeof m[0]);
}
