/* evbridge — evbridged configuration: command-line flags with EVB_* environment
 * equivalents (a flag beats the environment, which beats the default).
 *
 * Pure parsing: no I/O besides reading the environment and printing --help/errors to the
 * stream given. The table of options in config.c is the single source of truth for the
 * flags, their environment names, defaults and --help text (docs/operations.md mirrors it).
 */
#ifndef EVB_SERVER_CONFIG_H
#define EVB_SERVER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

typedef struct evb_config {
    char *listen;              /* gRPC listen address; default 127.0.0.1:50051 */
    char *data_dir;            /* default ./data */
    char *store;               /* "sqlite" (default) or a postgres:// URI */
    char *port_file;           /* write the bound port here once listening; NULL = none */
    int threads;               /* gRPC worker threads; 0 = number of cores */
    char *log_level;           /* debug|info|warn|error */
    char *log_format;          /* json|text */
    int max_entries;           /* per PutEvents request; default 100 */
    int64_t max_entry_bytes;   /* data bytes per entry; default 256 KiB */
    int64_t max_request_bytes; /* per PutEvents request; default 1 MiB */
    int64_t max_message_bytes; /* gRPC max receive message size; default 4 MiB */
    int64_t dedup_window_s;    /* default 86400 */
    int64_t retention_s;       /* default 604800 (7 days); 0 = keep forever */
    int stream_max_inflight;   /* PublishStream requests in flight per stream; default 64 */
    int max_calls_per_connection; /* gRPC calls at once per client connection; default 100 */
    char *sync;                /* full|normal; default full */
    int grace_ms;              /* shutdown grace period; default 5000 */
    char *tls_cert;            /* PEM file paths; all NULL = plaintext */
    char *tls_key;
    char *tls_client_ca;      /* set = mutual TLS */
    char *allow_target_cidrs; /* comma-separated CIDRs exempt from the SSRF guard; NULL none */
    int max_deliveries;       /* delivery transfers in flight; default 256 */
    int delivery_lease_ms;    /* dispatcher claim lease; default 150000 */
    int max_pattern_bytes;    /* event pattern size limit; default 4096 */
    int key_rate;             /* calls per second per API key; 0 = unlimited (default) */
    int key_burst;
    char *admin_listen;    /* HTTP admin listener (/metrics, /healthz, /readyz); "off" = none */
    char *admin_port_file; /* write the bound admin port here; NULL = none */
    int metrics_per_org;   /* 1: event counters get an org label (bounded) */
    char *log_levels;
    /* per-component levels "store=debug,delivery=warn"; NULL none */ /* bucket size per API
                                                                         key; 0 = key_rate */
} evb_config;

/* Result of parsing. */
typedef enum evb_config_outcome {
    EVB_CONFIG_RUN = 0, /* start the server */
    EVB_CONFIG_EXIT_OK, /* --help or --version printed */
    EVB_CONFIG_ERROR    /* a message naming the bad flag was printed to err */
} evb_config_outcome;

/* Fills cfg from defaults, the environment and argv (argv is not modified). Prints help,
 * version or errors to `out`/`err`. On EVB_CONFIG_ERROR cfg holds nothing to free.
 * Not thread-safe (reads the environment). */
evb_config_outcome evb_config_parse(evb_config *cfg, int argc, char **argv, FILE *out, FILE *err);

/* Frees the strings; NULL is a no-op. */
void evb_config_fini(evb_config *cfg);

#endif
