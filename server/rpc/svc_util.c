/* evbridge — helpers shared by the service handlers: authentication, replies, arena. */
#include "server/rpc/svc.h"

#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/timeutil.h"
#include "server/auth/ratelimit.h"

evb_err evb_svc_add_methods(evb_rpc_server *server, evb_services *svc, const evb_svc_method *m,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        evb_err rc = evb_rpc_server_add_unary(server, m[i].name, m[i].fn, svc);
        if (rc != EVB_OK)
            return rc;
    }
    return EVB_OK;
}

int evb_svc_auth(evb_services *svc, evb_rpc_call *call, evb_principal *p)
{
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = evb_auth_authenticate(svc->auth, evb_rpc_call_metadata(call, "authorization"),
                                       p, &e);
    if (rc != EVB_OK) {
        evb_rpc_reply_error(call, EVB_RPC_UNAUTHENTICATED, e.message);
        return 0;
    }
    char msg[192];
    if (!evb_svc_rate_take(svc, p, msg, sizeof msg)) {
        evb_rpc_reply_error(call, EVB_RPC_RESOURCE_EXHAUSTED, msg);
        return 0;
    }
    return 1;
}

int evb_svc_rate_take(evb_services *svc, const evb_principal *p, char *msg, size_t msglen)
{
    if (svc->ratelimit == NULL)
        return 1;
    int64_t wait_ms = 0;
    if (evb_ratelimit_take(svc->ratelimit, p->key_id, evb_mono_ms(), &wait_ms))
        return 1;
    snprintf(msg, msglen,
             "rate limit: API key %s may make %d calls per second (burst %d); retry after "
             "%lld ms",
             p->key_id, evb_ratelimit_rate(svc->ratelimit), evb_ratelimit_burst(svc->ratelimit),
             (long long)wait_ms);
    return 0;
}

void evb_svc_reply_err(evb_rpc_call *call, evb_err code, const evb_error *e)
{
    if (e != NULL && e->code != EVB_OK)
        code = e->code;
    char msg[sizeof e->message];
    snprintf(msg, sizeof msg, "%s",
             e != NULL && e->message[0] != '\0' ? e->message : evb_strerror(code));
    evb_rpc_reply_error(call, evb_rpc_status_from_err(code), evb_utf8_sanitize(msg));
}

void evb_svc_reply_msg(evb_rpc_call *call, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t stackbuf[4096];
    uint8_t *buf = n <= sizeof stackbuf ? stackbuf : malloc(n);
    if (buf == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
        return;
    }
    protobuf_c_message_pack(msg, buf);
    evb_rpc_reply(call, buf, n);
    if (buf != stackbuf)
        free(buf);
}

int evb_svc_allowed(const evb_principal *p, evb_role r, const char *scope)
{
    if (p->role == EVB_ROLE_ADMIN)
        return 1;
    if (p->role != r)
        return 0;
    return scope == NULL || strcmp(p->scope, scope) == 0;
}

void evb_svc_deny(evb_rpc_call *call, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, "permission denied: %s", what);
    evb_rpc_reply_error(call, EVB_RPC_PERMISSION_DENIED, msg);
}

/* ---- arena ---- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, size;
    max_align_t data[];
} arena_block;

struct evb_arena {
    arena_block *head;
};

evb_arena *evb_arena_new(void)
{
    return calloc(1, sizeof(evb_arena));
}

void evb_arena_free(evb_arena *a)
{
    if (a == NULL)
        return;
    arena_block *b = a->head;
    while (b != NULL) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *evb_arena_alloc(evb_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    arena_block *b = a->head;
    if (b == NULL || b->size - b->used < n) {
        size_t size = n > 16384 ? n : 16384;
        b = malloc(sizeof *b + size);
        if (b == NULL)
            return NULL;
        b->size = size;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *evb_arena_strdup(evb_arena *a, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s) + 1;
    char *p = evb_arena_alloc(a, n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

char *evb_arena_time(evb_arena *a, int64_t ms)
{
    char buf[40];
    return evb_arena_strdup(a, evb_time_format_rfc3339(ms, buf, sizeof buf));
}
