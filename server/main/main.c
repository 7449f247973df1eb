/* evbridge — evbridged: wiring only.
 *
 * Order of start: block SIGINT/SIGTERM (so every later thread inherits the mask and one
 * sigwait() sees them), parse the configuration, open the store, load keys (creating the
 * first admin key), start the gRPC server, announce readiness. Order of stop: health goes
 * NOT_SERVING, the gRPC server finishes in-flight calls (their commits still run), every
 * publish job ends (a cancelled stream's jobs may still be queued in the store), delivery
 * stops, then the store drains and commits whatever is queued and closes.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "server/admin/admin_http.h"
#include "server/metrics/catalog.h"
#include "common/timeutil.h"
#include "server/auth/auth.h"
#include "server/auth/ratelimit.h"
#include "server/config/config.h"
#include "server/rpc/conn_cache.h"
#include "server/rpc/rpc.h"
#include "server/delivery/dispatcher.h"
#include "server/delivery/ssrf.h"
#include "server/delivery/stream_hub.h"
#include "server/router/router.h"
#include "server/rpc/svc.h"
#include "server/schemas/schemas.h"
#include "server/store/store.h"

#define COMP "main"

/* Reads a whole (small) file into a NUL-terminated malloc'd string. */
static char *read_file(const char *path, const char *what)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        evb_log_error(COMP, "cannot open %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *nb = cap <= (1 << 20) ? realloc(buf, cap + 1) : NULL;
            if (nb == NULL) {
                evb_log_error(COMP, "%s %s is too large", what, path);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Starts the admin listener unless --admin-listen is "off"; 0 when it cannot. */
static int start_admin(const evb_config *cfg, evb_store *store, const atomic_int *serving,
                       evb_admin_http **out, int *port)
{
    *out = NULL;
    *port = 0;
    if (strcmp(cfg->admin_listen, "off") == 0 || cfg->admin_listen[0] == '\0')
        return 1;
    evb_admin_options ao = {.listen = cfg->admin_listen, .store = store, .serving = serving};
    evb_err rc = evb_admin_http_start(&ao, out, port);
    if (rc != EVB_OK) {
        evb_log_error("admin", "cannot listen on %s for /metrics: %s", cfg->admin_listen,
                      rc == EVB_ERR_INVALID ? "not a host:port address" : "address in use?");
        return 0;
    }
    return 1;
}

/* Writes the port atomically (temporary file + rename), so readers never see half. */
static int write_port_file(const char *path, int port)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return 0;
    int ok = fprintf(f, "%d\n", port) > 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0;
}

typedef struct tls_files {
    char *cert, *key, *ca;
} tls_files;

static int load_tls(const evb_config *cfg, tls_files *t, evb_rpc_options *ro)
{
    memset(t, 0, sizeof *t);
    if (cfg->tls_cert == NULL)
        return 1;
    t->cert = read_file(cfg->tls_cert, "TLS certificate");
    t->key = read_file(cfg->tls_key, "TLS key");
    if (cfg->tls_client_ca != NULL)
        t->ca = read_file(cfg->tls_client_ca, "TLS client CA");
    ro->tls_cert_pem = t->cert;
    ro->tls_key_pem = t->key;
    ro->tls_client_ca_pem = t->ca;
    return t->cert != NULL && t->key != NULL && (cfg->tls_client_ca == NULL || t->ca != NULL);
}

static void free_tls(tls_files *t)
{
    free(t->cert);
    free(t->key);
    free(t->ca);
}

static evb_store *open_store(const evb_config *cfg)
{
    evb_store_options so = {
        .url = cfg->store,
        .data_dir = cfg->data_dir,
        .dedup_window_ms = cfg->dedup_window_s * 1000,
        .retention_ms = cfg->retention_s > 0 ? cfg->retention_s * 1000 : -1,
        .synchronous_normal = strcmp(cfg->sync, "normal") == 0,
    };
    evb_store *store = NULL;
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = evb_store_open(&so, &store, &e);
    if (rc != EVB_OK) {
        if (strcmp(cfg->store, "sqlite") == 0)
            evb_log_error("store", "cannot open the store in %s: %s", cfg->data_dir,
                          e.message[0] ? e.message : evb_strerror(rc));
        else /* never the URL: it may hold a password */
            evb_log_error("store", "cannot open the PostgreSQL store: %s",
                          e.message[0] ? e.message : evb_strerror(rc));
        return NULL;
    }
    if (strcmp(cfg->store, "sqlite") != 0)
        evb_log_info("store", "PostgreSQL store open (shared by every node on it)");
    return store;
}

static evb_auth *open_auth(evb_store *store, const char *data_dir)
{
    evb_auth *auth = NULL;
    if (evb_auth_new(store, &auth) != EVB_OK) {
        evb_log_error("auth", "cannot load API keys");
        return NULL;
    }
    char path[4096];
    int created = 0;
    evb_error e;
    evb_error_clear(&e);
    if (evb_auth_bootstrap(auth, data_dir, &created, path, &e) != EVB_OK) {
        evb_log_error("auth", "cannot create the first admin key: %s", e.message);
        evb_auth_free(auth);
        return NULL;
    }
    if (created)
        evb_log_info("auth", "first start: admin API key written to %s (mode 0600)", path);
    else
        evb_log_info("auth", "admin API keys exist; the first one was written to %s", path);
    return auth;
}

static evb_schemas *open_schemas(evb_store *store)
{
    evb_schemas *schemas = NULL;
    if (evb_schemas_new(store, NULL, &schemas) != EVB_OK) {
        evb_log_error("registry", "cannot create the schema registry");
        return NULL;
    }
    int n = 0;
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = evb_schemas_register_builtin(schemas, &n, &e);
    if (rc != EVB_OK) {
        evb_log_error("registry", "cannot register the standard data models: %s%s%s",
                      evb_strerror(rc), e.message[0] ? ": " : "", e.message);
        evb_schemas_free(schemas);
        return NULL;
    }
    if (n > 0)
        evb_log_info("registry", "registered %d standard data models", n);
    return schemas;
}

/* New deliveries: both the dispatcher (HTTP, robots) and the stream hub (Subscribe). */
typedef struct delivery_wakers {
    evb_dispatcher *dispatcher;
    evb_stream_hub *hub;
} delivery_wakers;

static void wake_deliveries(void *arg)
{
    delivery_wakers *w = arg;
    evb_dispatcher_wake(w->dispatcher);
    evb_stream_hub_wake(w->hub);
}

static evb_dispatcher *start_dispatcher(const evb_config *cfg, evb_store *store,
                                        evb_cidr_list **allow)
{
    evb_error e;
    evb_error_clear(&e);
    *allow = NULL;
    if (cfg->allow_target_cidrs != NULL &&
        evb_cidr_list_parse(cfg->allow_target_cidrs, allow, &e) != EVB_OK) {
        evb_log_error("delivery", "--allow-target-cidr: %s", e.message);
        return NULL;
    }
    /* the lease: how soon another node takes over what a dead one had claimed */
    evb_dispatcher_options o = {
        .max_in_flight = cfg->max_deliveries, .lease_ms = cfg->delivery_lease_ms, .allow = *allow};
    evb_dispatcher *d = NULL;
    if (evb_dispatcher_start(store, &o, &d) != EVB_OK) {
        evb_log_error("delivery", "cannot start the dispatcher");
        evb_cidr_list_free(*allow);
        *allow = NULL;
        return NULL;
    }
    return d;
}

static int serve(const evb_config *cfg, evb_store *store, evb_auth *auth, evb_schemas *schemas,
                 sigset_t *sigs)
{
    evb_router *router = NULL;
    if (evb_router_new(store, &router) != EVB_OK) {
        evb_log_error("router", "cannot create the router");
        return 1;
    }
    evb_cidr_list *allow = NULL;
    evb_dispatcher *dispatcher = start_dispatcher(cfg, store, &allow);
    if (dispatcher == NULL) {
        evb_router_free(router);
        return 1;
    }
    evb_stream_hub *hub = NULL;
    if (evb_stream_hub_start(store, NULL, &hub) != EVB_OK) {
        evb_log_error("delivery", "cannot start the stream hub");
        evb_dispatcher_stop(dispatcher, 0);
        evb_cidr_list_free(allow);
        evb_router_free(router);
        return 1;
    }
    delivery_wakers wakers = {.dispatcher = dispatcher, .hub = hub};
    evb_ratelimit *ratelimit = NULL;
    if (cfg->key_rate > 0 &&
        evb_ratelimit_new(cfg->key_rate, cfg->key_burst, 0, &ratelimit) != EVB_OK) {
        evb_log_error(COMP, "cannot create the per-key rate limiter");
        evb_stream_hub_stop(hub);
        evb_dispatcher_stop(dispatcher, 0);
        evb_cidr_list_free(allow);
        evb_router_free(router);
        return 1;
    }
    evb_conn_cache *connectors = NULL;
    if (evb_conn_cache_new(store, &connectors) != EVB_OK) {
        evb_log_error("rpc", "cannot create the connector cache");
        evb_ratelimit_free(ratelimit);
        evb_stream_hub_stop(hub);
        evb_dispatcher_stop(dispatcher, 0);
        evb_cidr_list_free(allow);
        evb_router_free(router);
        return 1;
    }
    if (ratelimit != NULL)
        evb_log_info(COMP, "per-key rate limit: %d calls per second, burst %d",
                     evb_ratelimit_rate(ratelimit), evb_ratelimit_burst(ratelimit));
    /* Deliveries committed by other nodes (PostgreSQL) wake ours too; cleared at out. */
    evb_store_set_remote_wake(store, wake_deliveries, &wakers);
    evb_services svc = {
        .router = router,
        .connectors = connectors,
        .deliveries_hook = wake_deliveries,
        .deliveries_hook_arg = &wakers,
        .stream_hub = hub,
        .store = store,
        .auth = auth,
        .schemas = schemas,
        .limits = {.max_entries = cfg->max_entries,
                   .max_entry_bytes = (size_t)cfg->max_entry_bytes,
                   .max_request_bytes = (size_t)cfg->max_request_bytes},
        .stream_max_inflight = cfg->stream_max_inflight,
        .max_pattern_bytes = (size_t)cfg->max_pattern_bytes,
        .threads = cfg->threads,
        .start_ms = evb_now_ms(),
        .ratelimit = ratelimit,
    };
    atomic_init(&svc.serving, 0);
    atomic_init(&svc.put_jobs, 0);
    evb_rpc_options ro = {
        .listen = cfg->listen,
        .threads = cfg->threads,
        .max_message_bytes = (size_t)cfg->max_message_bytes,
        .max_concurrent_streams = cfg->max_calls_per_connection,
        .grace_ms = cfg->grace_ms,
    };
    tls_files tls;
    evb_rpc_server *server = NULL;
    evb_admin_http *admin = NULL;
    int port = 0, admin_port = 0, status = 1;
    if (!load_tls(cfg, &tls, &ro))
        goto out;
    if (evb_rpc_server_new(&ro, &server) != EVB_OK ||
        evb_services_register(server, &svc) != EVB_OK) {
        evb_log_error("rpc", "cannot set up the gRPC server");
        goto out;
    }
    if (evb_rpc_server_start(server, &port) != EVB_OK) {
        evb_log_error("rpc", "cannot listen on %s", cfg->listen);
        goto out;
    }
    if (!start_admin(cfg, store, &svc.serving, &admin, &admin_port))
        goto out;
    atomic_store(&svc.serving, 1);
    if (admin != NULL) {
        if (cfg->admin_port_file != NULL && !write_port_file(cfg->admin_port_file, admin_port))
            evb_log_warn(COMP, "cannot write the admin port file %s: %s", cfg->admin_port_file,
                         strerror(errno));
        evb_log_info("admin", "admin listener on %s (port %d): /metrics, /healthz, /readyz",
                     cfg->admin_listen, admin_port);
    }
    if (cfg->port_file != NULL && !write_port_file(cfg->port_file, port))
        evb_log_warn(COMP, "cannot write the port file %s: %s", cfg->port_file, strerror(errno));
    evb_log_info("rpc", "listening on %s (port %d, %s)", cfg->listen, port,
                 cfg->tls_cert ? (cfg->tls_client_ca ? "mutual TLS" : "TLS") : "plaintext");
    int sig = 0;
    sigwait(sigs, &sig);
    evb_log_info(COMP, "signal %d: shutting down (grace %d ms)", sig, cfg->grace_ms);
    atomic_store(&svc.serving, 0);
    evb_rpc_server_shutdown(server);
    status = 0;
out:
    evb_store_set_remote_wake(store, NULL, NULL);
    evb_rpc_server_free(server);
    evb_services_wait_idle(&svc); /* stream jobs may outlive their calls: see svc.h */
    evb_admin_http_stop(admin);
    evb_stream_hub_stop(hub); /* streams are gone: record their returns */
    evb_dispatcher_stop(dispatcher, cfg->grace_ms);
    evb_cidr_list_free(allow);
    evb_router_free(router);
    evb_conn_cache_free(connectors); /* calls are over: put jobs hold no reference */
    evb_ratelimit_free(ratelimit);
    free_tls(&tls);
    return status;
}

int main(int argc, char **argv)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    evb_config cfg;
    evb_config_outcome oc = evb_config_parse(&cfg, argc, argv, stdout, stderr);
    if (oc != EVB_CONFIG_RUN)
        return oc == EVB_CONFIG_EXIT_OK ? 0 : 2;
    evb_log_configure((evb_log_level)evb_log_level_parse(cfg.log_level),
                      strcmp(cfg.log_format, "text") == 0 ? EVB_LOG_TEXT : EVB_LOG_JSON);
    evb_log_configure_components(cfg.log_levels); /* checked by the config parser */
    if (evb_mx_init(cfg.metrics_per_org) != EVB_OK) {
        evb_log_error(COMP, "out of memory creating the metrics registry");
        evb_config_fini(&cfg);
        return 1;
    }

    int status = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread */
    evb_rpc_global_init();
    evb_store *store = open_store(&cfg);
    evb_auth *auth = store ? open_auth(store, cfg.data_dir) : NULL;
    evb_schemas *schemas = auth ? open_schemas(store) : NULL;
    if (schemas != NULL)
        status = serve(&cfg, store, auth, schemas, &sigs);
    evb_schemas_free(schemas);
    evb_auth_free(auth);
    evb_store_close(store); /* commits whatever is still queued */
    evb_rpc_global_fini();
    curl_global_cleanup();
    if (status == 0)
        evb_log_info(COMP, "stopped cleanly");
    evb_mx_fini();
    evb_config_fini(&cfg);
    return status;
}
