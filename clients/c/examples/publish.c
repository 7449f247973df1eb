/* publish — the libevbclient example: publishes a few events to an evbridge connector,
 * first as one PutEvents batch, then over a PublishStream, and prints every result.
 *
 *   EVB_ADDR=127.0.0.1:7000 EVB_API_KEY=... evbclient-publish <connector> <org> [type]
 *
 * Environment: EVB_ADDR (default 127.0.0.1:7000), EVB_API_KEY (an isv key of the
 * connector's ISV), EVB_CONNECTOR / EVB_ORG / EVB_TYPE (instead of the arguments),
 * EVB_CA_FILE (PEM roots; enables TLS), EVB_CERT_FILE + EVB_KEY_FILE (client certificate
 * for mutual TLS). Output, one line per entry:
 *   put <i> <PUBLISHED|DEDUPLICATED|REJECTED> <event id or error code> [message]
 *   stream <request id> <i> <status> <event id or error code> [message]
 * Exit status: 0 when every call succeeded and no entry was rejected, 1 when an entry was
 * rejected, 2 when a call failed.
 *
 * Build against an installed library:
 *   cc publish.c $(pkg-config --cflags --libs evbclient) -o publish
 */
#include <evbclient.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_PUT 3
#define N_STREAM_REQUESTS 3

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static const char *status_name(evb_client_status s)
{
    switch (s) {
    case EVB_CLIENT_PUBLISHED:
        return "PUBLISHED";
    case EVB_CLIENT_DEDUPLICATED:
        return "DEDUPLICATED";
    case EVB_CLIENT_REJECTED:
        return "REJECTED";
    default:
        return "UNSPECIFIED";
    }
}

/* Prints one result; returns 1 when the entry was rejected. */
static int print_result(const char *prefix, size_t i, const evb_client_result *r)
{
    if (r->status == EVB_CLIENT_REJECTED) {
        printf("%s %zu REJECTED %s %s\n", prefix, i, r->error_code, r->error_message);
        for (size_t k = 0; k < r->n_violations && k < EVB_CLIENT_MAX_VIOLATIONS; k++)
            printf("  violation %s: %s\n", r->violations[k].instance_path,
                   r->violations[k].message);
        return 1;
    }
    printf("%s %zu %s %s\n", prefix, i, status_name(r->status), r->event_id);
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *connector = argc > 1 ? argv[1] : env_or("EVB_CONNECTOR", NULL);
    const char *org = argc > 2 ? argv[2] : env_or("EVB_ORG", NULL);
    const char *type = argc > 3 ? argv[3] : env_or("EVB_TYPE", "com.example.crm.customer.changed");
    if (connector == NULL || org == NULL) {
        fprintf(stderr, "usage: %s <connector> <org> [type]  (EVB_ADDR, EVB_API_KEY)\n", argv[0]);
        return 2;
    }

    evb_client_options opt;
    memset(&opt, 0, sizeof opt);
    opt.target = env_or("EVB_ADDR", "127.0.0.1:7000");
    opt.api_key = env_or("EVB_API_KEY", NULL);
    opt.timeout_ms = 10000;
    /* TLS: PEM files named by the environment, read into memory (the API takes contents) */
    static const char *const pem_env[3] = {"EVB_CA_FILE", "EVB_CERT_FILE", "EVB_KEY_FILE"};
    char *pem[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        const char *path = env_or(pem_env[i], NULL);
        if (path != NULL && (pem[i] = read_file(path)) == NULL) {
            fprintf(stderr, "cannot read %s (%s)\n", path, pem_env[i]);
            for (int k = 0; k < i; k++)
                free(pem[k]);
            return 2;
        }
    }
    opt.use_tls = pem[0] != NULL || pem[1] != NULL;
    opt.root_ca_pem = pem[0];
    opt.client_cert_pem = pem[1];
    opt.client_key_pem = pem[2];

    evb_client *client = NULL;
    evb_client_error err;
    if (evb_client_open(&opt, &client, &err) != EVB_CLIENT_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        for (int i = 0; i < 3; i++)
            free(pem[i]);
        return 2;
    }

    /* A run tag keeps the example's event ids unique across runs. */
    char tag[32];
    snprintf(tag, sizeof tag, "%lx", (unsigned long)time(NULL));
    int rejected = 0, failed = 0;

    /* 1. PutEvents: one batch, one result per entry. */
    static const char *const names[N_PUT] = {"Ada", "Grace", "Linus"};
    char ids[N_PUT][64], data[N_PUT][128];
    evb_client_extension ext[] = {{"region", "cn"}};
    evb_client_entry entries[N_PUT];
    memset(entries, 0, sizeof entries);
    for (size_t i = 0; i < N_PUT; i++) {
        snprintf(ids[i], sizeof ids[i], "example-%s-%zu", tag, i);
        int n = snprintf(data[i], sizeof data[i], "{\"customerId\":\"c%zu\",\"name\":\"%s\"}", i,
                         names[i]);
        entries[i].id = ids[i];
        entries[i].org = org;
        entries[i].type = type;
        entries[i].subject = "customer";
        entries[i].data = data[i];
        entries[i].data_len = (size_t)n;
        entries[i].extensions = ext;
        entries[i].n_extensions = 1;
    }
    static evb_client_result results[N_PUT]; /* ~2 KB each: keep them off small stacks */
    if (evb_client_put_events(client, connector, entries, N_PUT, results, "example-put", &err) !=
        EVB_CLIENT_OK) {
        fprintf(stderr, "put: %s (%s)\n", err.message, evb_client_strerror(err.code));
        failed = 1;
    } else {
        for (size_t i = 0; i < N_PUT; i++)
            rejected |= print_result("put", i, &results[i]);
    }

    /* 2. PublishStream: a few requests, each acknowledged in order. */
    evb_client_stream *stream = NULL;
    if (!failed && evb_client_stream_open(client, &stream, &err) != EVB_CLIENT_OK) {
        fprintf(stderr, "stream open: %s\n", err.message);
        failed = 1;
    }
    for (int r = 0; stream != NULL && !failed && r < N_STREAM_REQUESTS; r++) {
        char id[64], rid[64], body[64];
        snprintf(id, sizeof id, "example-%s-s%d", tag, r);
        snprintf(rid, sizeof rid, "example-stream-%d", r);
        int n = snprintf(body, sizeof body, "{\"customerId\":\"s%d\"}", r);
        evb_client_entry e = {
            .id = id, .org = org, .type = type, .data = body, .data_len = (size_t)n};
        if (evb_client_stream_send(stream, connector, &e, 1, rid, 10000, &err) != EVB_CLIENT_OK) {
            fprintf(stderr, "stream send: %s\n", err.message);
            failed = 1;
        }
    }
    if (stream != NULL && !failed &&
        evb_client_stream_close_send(stream, 10000, &err) != EVB_CLIENT_OK) {
        fprintf(stderr, "stream close_send: %s\n", err.message);
        failed = 1;
    }
    for (;;) {
        if (stream == NULL || failed)
            break;
        evb_client_reply reply = {.results = results, .results_cap = N_PUT};
        evb_client_err rc = evb_client_stream_recv(stream, &reply, 10000, &err);
        if (rc == EVB_CLIENT_ERR_EOF)
            break;
        if (rc != EVB_CLIENT_OK) {
            fprintf(stderr, "stream recv: %s\n", err.message);
            failed = 1;
            break;
        }
        char prefix[160];
        snprintf(prefix, sizeof prefix, "stream %s", reply.request_id);
        for (size_t i = 0; i < reply.n_results; i++)
            rejected |= print_result(prefix, i, &reply.results[i]);
    }
    evb_client_stream_close(stream);
    evb_client_close(client);
    for (int i = 0; i < 3; i++)
        free(pem[i]);
    return failed ? 2 : rejected ? 1 : 0;
}
