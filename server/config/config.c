/* evbridge — evbridged flags and environment. See config.h.
 *
 * One table drives parsing, environment lookup and --help, so the three never disagree.
 * Numbers are checked for range and trailing garbage; the error names the flag.
 */
#include "server/config/config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* T_LIST: repeatable, comma-joined. T_BOOL: a flag without a value (env: 1/true/yes or
 * 0/false/no). */
typedef enum { T_STR, T_INT, T_I64, T_LIST, T_BOOL } opt_type;

typedef struct opt_def {
    const char *flag; /* without the leading "--" */
    const char *env;
    opt_type type;
    size_t off;       /* offset in evb_config */
    const char *def;  /* default as text; NULL = unset */
    int64_t min, max; /* for numbers */
    const char *help;
} opt_def;

#define OFF(f) offsetof(evb_config, f)

static const opt_def opts[] = {
    {"listen", "EVB_LISTEN", T_STR, OFF(listen), "127.0.0.1:50051", 0, 0,
     "gRPC listen address host:port (port 0 picks a free one)"},
    {"data-dir", "EVB_DATA_DIR", T_STR, OFF(data_dir), "./data", 0, 0,
     "data directory: the SQLite store and admin.key"},
    {"store", "EVB_STORE", T_STR, OFF(store), "sqlite", 0, 0,
     "sqlite (embedded, in --data-dir) | postgres://user[:password]@host:port/db (several "
     "nodes share one database; a password is better given in PGPASSWORD or ~/.pgpass)"},
    {"port-file", "EVB_PORT_FILE", T_STR, OFF(port_file), NULL, 0, 0,
     "write the bound gRPC port to this file once listening"},
    {"threads", "EVB_THREADS", T_INT, OFF(threads), "0", 0, 256,
     "gRPC worker threads (completion queues); 0 = number of cores"},
    {"log-level", "EVB_LOG_LEVEL", T_STR, OFF(log_level), "info", 0, 0,
     "debug | info | warn | error"},
    {"log-format", "EVB_LOG_FORMAT", T_STR, OFF(log_format), "json", 0, 0, "json | text"},
    {"max-entries", "EVB_MAX_ENTRIES", T_INT, OFF(max_entries), "100", 1, 10000,
     "max entries per PutEvents request"},
    {"max-entry-bytes", "EVB_MAX_ENTRY_BYTES", T_I64, OFF(max_entry_bytes), "262144", 1, 64 << 20,
     "max data bytes per entry (larger: TOO_LARGE)"},
    {"max-request-bytes", "EVB_MAX_REQUEST_BYTES", T_I64, OFF(max_request_bytes), "1048576", 1,
     256 << 20, "max bytes per PutEvents request (larger: INVALID_ARGUMENT)"},
    {"max-message-bytes", "EVB_MAX_MESSAGE_BYTES", T_I64, OFF(max_message_bytes), "4194304", 1024,
     512 << 20, "max gRPC message received (larger: RESOURCE_EXHAUSTED)"},
    {"dedup-window", "EVB_DEDUP_WINDOW", T_I64, OFF(dedup_window_s), "86400", 1, 366LL * 86400,
     "seconds during which (connector, org, id) is deduplicated"},
    {"retention", "EVB_RETENTION", T_I64, OFF(retention_s), "604800", 0, 100LL * 366 * 86400,
     "seconds events (with their deliveries and traces) are kept once nothing of theirs is "
     "pending; 0 = keep forever"},
    {"stream-max-inflight", "EVB_STREAM_MAX_INFLIGHT", T_INT, OFF(stream_max_inflight), "64", 1,
     4096, "PublishStream requests being processed per stream before reading pauses"},
    {"max-calls-per-connection", "EVB_MAX_CALLS_PER_CONNECTION", T_INT,
     OFF(max_calls_per_connection), "100", 1, 100000,
     "gRPC calls in progress at once per client connection (HTTP/2 streams; a client queues "
     "more on its side); each buffers its request in the server"},
    {"sync", "EVB_SYNC", T_STR, OFF(sync), "full", 0, 0,
     "full (acknowledged events survive power loss) | normal (survive a crash)"},
    {"grace-ms", "EVB_GRACE_MS", T_INT, OFF(grace_ms), "5000", 0, 600000,
     "on SIGTERM/SIGINT, time given to in-flight calls before they are cancelled"},
    {"tls-cert", "EVB_TLS_CERT", T_STR, OFF(tls_cert), NULL, 0, 0,
     "server certificate chain (PEM file); with --tls-key enables TLS"},
    {"tls-key", "EVB_TLS_KEY", T_STR, OFF(tls_key), NULL, 0, 0, "server private key (PEM file)"},
    {"tls-client-ca", "EVB_TLS_CLIENT_CA", T_STR, OFF(tls_client_ca), NULL, 0, 0,
     "CA bundle (PEM file) for client certificates: enables mutual TLS"},
    {"allow-target-cidr", "EVB_ALLOW_TARGET_CIDRS", T_LIST, OFF(allow_target_cidrs), NULL, 0, 0,
     "repeatable: a CIDR delivery targets may resolve to despite the SSRF guard "
     "(env: comma-separated)"},
    {"max-pattern-bytes", "EVB_MAX_PATTERN_BYTES", T_INT, OFF(max_pattern_bytes), "4096", 64,
     1 << 20, "max size of a connection's event pattern (JSON text)"},
    {"max-deliveries", "EVB_MAX_DELIVERIES", T_INT, OFF(max_deliveries), "256", 1, 4096,
     "delivery transfers in flight at once"},
    {"delivery-lease-ms", "EVB_DELIVERY_LEASE_MS", T_INT, OFF(delivery_lease_ms), "150000", 1000,
     3600000,
     "how long a claimed HTTP/robot delivery is leased: a node that dies holding it, another "
     "node sends it after this; keep it above the longest action timeout"},
    {"key-rate", "EVB_KEY_RATE", T_INT, OFF(key_rate), "0", 0, 1000000,
     "calls per second per API key (token bucket; over it: RESOURCE_EXHAUSTED); 0 = unlimited"},
    {"key-burst", "EVB_KEY_BURST", T_INT, OFF(key_burst), "0", 0, 1000000,
     "calls an API key may make at once before --key-rate applies; 0 = the rate"},
    {"admin-listen", "EVB_ADMIN_LISTEN", T_STR, OFF(admin_listen), "127.0.0.1:9464", 0, 0,
     "HTTP admin listener for /metrics, /healthz, /readyz (port 0 picks a free one; "
     "\"off\" disables it)"},
    {"admin-port-file", "EVB_ADMIN_PORT_FILE", T_STR, OFF(admin_port_file), NULL, 0, 0,
     "write the bound admin port to this file once listening"},
    {"metrics-per-org", "EVB_METRICS_PER_ORG", T_BOOL, OFF(metrics_per_org), "0", 0, 1,
     "label event counters with the org id too (at most 10000 series, then \"_other\")"},
    {"log-levels", "EVB_LOG_LEVELS", T_STR, OFF(log_levels), NULL, 0, 0,
     "per-component levels overriding --log-level, e.g. store=debug,delivery=warn"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static void print_help(FILE *out)
{
    fprintf(out, "Usage: evbridged [options]\n\n"
                 "evbridge event bridge server. Every option can also be set by the\n"
                 "environment variable shown; a flag wins over the environment.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_def *o = &opts[i];
        const char *arg = o->type == T_STR    ? " VALUE"
                          : o->type == T_LIST ? " CIDR"
                          : o->type == T_BOOL ? ""
                                              : " N";
        fprintf(out, "  --%s%s\n      %s\n      env %s", o->flag, arg, o->help, o->env);
        if (o->def != NULL && o->type != T_BOOL)
            fprintf(out, "; default %s", o->def);
        fputc('\n', out);
    }
    fprintf(out, "  --help      print this help and exit\n"
                 "  --version   print the version and exit\n");
}

/* Stores text into the field of o; returns 0 and prints to err when invalid. */
static int set_value(evb_config *cfg, const opt_def *o, const char *text, const char *from,
                     FILE *err)
{
    char *field = (char *)cfg + o->off;
    if (o->type == T_BOOL) {
        static const char *const yes[] = {"1", "true", "yes", "on"};
        static const char *const no[] = {"0", "false", "no", "off"};
        for (size_t i = 0; i < 4; i++) {
            if (text == NULL || strcmp(text, yes[i]) == 0) {
                *(int *)field = 1;
                return 1;
            }
            if (strcmp(text, no[i]) == 0) {
                *(int *)field = 0;
                return 1;
            }
        }
        fprintf(err, "evbridged: %s: %s takes 1/true/yes or 0/false/no, got \"%s\"\n", from,
                o->flag, text);
        return 0;
    }
    if (o->type == T_LIST && *(char **)field != NULL && from[0] == '-') {
        /* a repeated flag adds to the list (the environment's value is replaced) */
        size_t n = strlen(*(char **)field) + strlen(text) + 2;
        char *joined = malloc(n);
        if (joined == NULL) {
            fprintf(err, "evbridged: out of memory\n");
            return 0;
        }
        snprintf(joined, n, "%s,%s", *(char **)field, text);
        free(*(char **)field);
        *(char **)field = joined;
        return 1;
    }
    if (o->type == T_STR || o->type == T_LIST) {
        char *copy = strdup(text);
        if (copy == NULL) {
            fprintf(err, "evbridged: out of memory\n");
            return 0;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 1;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < o->min || v > o->max) {
        fprintf(err, "evbridged: %s: %s must be an integer in %lld..%lld, got \"%s\"\n", from,
                o->flag, (long long)o->min, (long long)o->max, text);
        return 0;
    }
    if (o->type == T_INT)
        *(int *)field = (int)v;
    else
        *(int64_t *)field = (int64_t)v;
    return 1;
}

/* "comp=level,comp=level": components [a-z0-9_-]{1,31}, levels debug|info|warn|error|off. */
static int check_log_levels(const char *spec, FILE *err)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", "off"};
    const char *p = spec;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        size_t cn = eq != NULL ? (size_t)(eq - p) : 0;
        int ok = eq != NULL && cn >= 1 && cn <= 31 &&
                 strspn(p, "abcdefghijklmnopqrstuvwxyz"
                           "0123456789_-") == cn;
        int lv = 0;
        for (size_t i = 0; ok && i < 5; i++)
            lv |= strlen(levels[i]) == n - cn - 1 && strncmp(eq + 1, levels[i], n - cn - 1) == 0;
        if (!ok || !lv) {
            fprintf(err,
                    "evbridged: --log-levels: \"%.*s\" is not component=level "
                    "(level: debug, info, warn, error or off)\n",
                    (int)n, p);
            return 0;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 1;
}

static int check_choices(const evb_config *cfg, FILE *err)
{
    static const struct {
        const char *flag;
        size_t off;
        const char *choices[5];
    } sets[] = {
        {"log-level", OFF(log_level), {"debug", "info", "warn", "error", NULL}},
        {"log-format", OFF(log_format), {"json", "text", NULL}},
        {"sync", OFF(sync), {"full", "normal", NULL}},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        const char *v = *(char *const *)((const char *)cfg + sets[i].off);
        int ok = 0;
        for (int j = 0; sets[i].choices[j] != NULL; j++)
            ok |= strcmp(v, sets[i].choices[j]) == 0;
        if (!ok) {
            fprintf(err, "evbridged: --%s: unknown value \"%s\"\n", sets[i].flag, v);
            return 0;
        }
    }
    if (strcmp(cfg->store, "sqlite") != 0 && strncmp(cfg->store, "postgres://", 11) != 0 &&
        strncmp(cfg->store, "postgresql://", 13) != 0) {
        /* Only the scheme: the value may hold a password. */
        fprintf(err, "evbridged: --store: unknown store \"%.*s\" (sqlite or postgres://...)\n",
                (int)(strcspn(cfg->store, ":@/") > 40 ? 40 : strcspn(cfg->store, ":@/")),
                cfg->store);
        return 0;
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        fprintf(err, "evbridged: --tls-cert and --tls-key must be given together\n");
        return 0;
    }
    if (cfg->log_levels != NULL && !check_log_levels(cfg->log_levels, err))
        return 0;
    if (cfg->tls_client_ca != NULL && cfg->tls_cert == NULL) {
        fprintf(err, "evbridged: --tls-client-ca needs --tls-cert and --tls-key\n");
        return 0;
    }
    return 1;
}

evb_config_outcome evb_config_parse(evb_config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *env = getenv(opts[i].env);
        const char *v = env != NULL && env[0] != '\0' ? env : opts[i].def;
        if (v != NULL && !set_value(cfg, &opts[i], v, opts[i].env, err))
            goto fail;
    }
    struct option longopts[N_OPTS + 3];
    for (size_t i = 0; i < N_OPTS; i++)
        longopts[i] = (struct option){
            opts[i].flag, opts[i].type == T_BOOL ? no_argument : required_argument, NULL, (int)i};
    longopts[N_OPTS] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[N_OPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    longopts[N_OPTS + 2] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        if (c == 'h') {
            print_help(out);
            evb_config_fini(cfg);
            return EVB_CONFIG_EXIT_OK;
        }
        if (c == 'V') {
            fprintf(out, "evbridged %s\n", EVB_VERSION);
            evb_config_fini(cfg);
            return EVB_CONFIG_EXIT_OK;
        }
        if (c == '?' || c == ':') {
            fprintf(err, "evbridged: %s option \"%s\" (see --help)\n",
                    c == ':' ? "missing value for" : "unknown", argv[optind - 1]);
            goto fail;
        }
        char from[80];
        snprintf(from, sizeof from, "--%s", opts[c].flag);
        if (!set_value(cfg, &opts[c], optarg, from, err))
            goto fail;
    }
    if (optind < argc) {
        fprintf(err, "evbridged: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        goto fail;
    }
    if (!check_choices(cfg, err))
        goto fail;
    return EVB_CONFIG_RUN;
fail:
    evb_config_fini(cfg);
    return EVB_CONFIG_ERROR;
}

void evb_config_fini(evb_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].type == T_STR || opts[i].type == T_LIST) {
            char **f = (char **)((char *)cfg + opts[i].off);
            free(*f);
            *f = NULL;
        }
    }
}
