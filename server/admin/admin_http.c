/* evbridge — the HTTP admin listener on libmicrohttpd (admin_http.h).
 *
 * libmicrohttpd runs one internal polling thread (MHD_USE_AUTO_INTERNAL_THREAD picks
 * epoll/poll): scrapes are rare and cheap, so one thread serving them in turn is enough,
 * and a connection limit and timeout keep a slow client from holding it. Each /metrics
 * response is rendered into a capped buffer handed to libmicrohttpd to free.
 * Spec: https://www.gnu.org/software/libmicrohttpd/manual/libmicrohttpd.html
 */
#include "server/admin/admin_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "server/admin/procstat.h"
#include "server/metrics/catalog.h"
#include "server/store/store_stats.h"

#define COMP "admin"
#define METRICS_CAP (64u << 20) /* a bounded registry stays far below this */
#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct evb_admin_http {
    struct MHD_Daemon *d;
    evb_store *store;
    const atomic_int *serving;
};

static int is_ready(const evb_admin_http *a)
{
    int serving = a->serving == NULL || atomic_load(a->serving);
    return serving && a->store != NULL && evb_store_ready(a->store);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             char *body, size_t len, int owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", (char *)msg, strlen(msg), 0);
}

static void refresh_gauges(evb_admin_http *a)
{
    evb_mx_process p;
    evb_procstat_read(&p);
    evb_mx_set_process(&p);
    evb_mx_set_ready(is_ready(a));
    if (a->store == NULL)
        return;
    int64_t now = evb_now_ms();
    evb_delivery_stats st;
    if (evb_store_delivery_stats(a->store, now, &st) != EVB_OK)
        return; /* keep the last figures; readiness says the store is in trouble */
    evb_mx_outbox o = {.pending = st.pending,
                       .held = st.held,
                       .in_flight = st.in_flight,
                       .dead = st.dead,
                       .oldest_due_age_s =
                           st.oldest_due_ms > 0 && st.oldest_due_ms < now
                               ? (double)(now - st.oldest_due_ms) / 1000.0
                               : 0.0};
    evb_mx_set_outbox(&o);
}

static enum MHD_Result metrics(evb_admin_http *a, struct MHD_Connection *c)
{
    refresh_gauges(a);
    evb_buf b;
    evb_buf_init(&b, METRICS_CAP);
    evb_err rc = evb_mx_registry() != NULL ? evb_metrics_write(evb_mx_registry(), &b)
                                           : EVB_ERR_UNAVAILABLE;
    char *body = NULL;
    size_t len = 0;
    if (rc == EVB_OK)
        rc = evb_buf_detach(&b, &body, &len);
    evb_buf_fini(&b);
    if (rc != EVB_OK) {
        evb_log_warn(COMP, "cannot render /metrics: %s", evb_strerror(rc));
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n");
    }
    return reply(c, MHD_HTTP_OK, CONTENT_TYPE_METRICS, body, len, 1);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    evb_admin_http *a = cls;
    if (*con_cls == NULL) { /* first call: headers only; answer on the next */
        *con_cls = a;
        return MHD_YES;
    }
    if (*upload_size != 0) { /* a body is not expected: discard it */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0)
        return metrics(a, c);
    if (strcmp(url, "/healthz") == 0)
        return text(c, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0)
        return is_ready(a) ? text(c, MHD_HTTP_OK, "ready\n")
                           : text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    return text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    vsnprintf(msg, sizeof msg, fmt, ap);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    evb_log_warn(COMP, "libmicrohttpd: %s", msg);
}

/* Splits "host:port" / "[v6]:port" and resolves it (numeric or a name such as localhost). */
static evb_err resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *port;
    if (listen == NULL || listen[0] == '\0')
        return EVB_ERR_INVALID;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof host)
            return EVB_ERR_INVALID;
        memcpy(host, listen + 1, (size_t)(end - listen - 1));
        host[end - listen - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL || (size_t)(colon - listen) >= sizeof host)
            return EVB_ERR_INVALID;
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    char *end = NULL;
    long p = strtol(port, &end, 10);
    if (port[0] == '\0' || *end != '\0' || p < 0 || p > 65535)
        return EVB_ERR_INVALID;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || res == NULL)
        return EVB_ERR_INVALID;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return EVB_OK;
}

evb_err evb_admin_http_start(const evb_admin_options *opt, evb_admin_http **out, int *port_out)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    memset(&ss, 0, sizeof ss);
    if (opt == NULL || out == NULL || resolve(opt->listen, &ss, &sl) != EVB_OK)
        return EVB_ERR_INVALID;
    evb_admin_http *a = calloc(1, sizeof *a);
    if (a == NULL)
        return EVB_ERR_NOMEM;
    a->store = opt->store;
    a->serving = opt->serving;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, a,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, as asked */
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_END);
    if (a->d == NULL) {
        free(a);
        return EVB_ERR_IO;
    }
    if (port_out != NULL) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
        *port_out = info != NULL ? (int)info->port : 0;
    }
    *out = a;
    return EVB_OK;
}

void evb_admin_http_stop(evb_admin_http *a)
{
    if (a == NULL)
        return;
    MHD_stop_daemon(a->d);
    free(a);
}
