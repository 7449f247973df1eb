/* evbridge — TLS and mutual TLS of the gRPC runtime (server/rpc) on loopback.
 *
 * A throw-away CA, server certificate (localhost, 127.0.0.1) and client certificate are
 * made with the openssl command in a temporary directory; the server gets PEM *contents*
 * as evb_rpc_options requires. Without an openssl binary the tests pass with a note.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include "server/rpc/rpc.h"
#include "tests/unit/rpc/rpc_test_client.h"

static char g_dir[64];
static int g_have_certs;
static char *g_ca, *g_srv_cert, *g_srv_key, *g_cli_cert, *g_cli_key;

static char *slurp(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf != NULL ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf != NULL)
        buf[n] = 0;
    return buf;
}

static int make_certs(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/evb-rpc-tls-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "(cd %s && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext && "
             "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj /CN=evb-test-ca && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout srv.key -out srv.csr -subj /CN=localhost && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out srv.pem -days 2 -extfile srv.ext && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout cli.key -out cli.csr -subj /CN=evb-test-client && "
             "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out cli.pem -days 2 -extfile cli.ext) >/dev/null 2>&1",
             g_dir);
    if (system(cmd) != 0)
        return -1;
    g_ca = slurp("ca.pem");
    g_srv_cert = slurp("srv.pem");
    g_srv_key = slurp("srv.key");
    g_cli_cert = slurp("cli.pem");
    g_cli_key = slurp("cli.key");
    return g_ca && g_srv_cert && g_srv_key && g_cli_cert && g_cli_key ? 0 : -1;
}

static void remove_certs(void)
{
    char cmd[256];
    if (g_dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        (void)system(cmd);
    }
    free(g_ca);
    free(g_srv_cert);
    free(g_srv_key);
    free(g_cli_cert);
    free(g_cli_key);
}

static void h_echo(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    (void)arg;
    evb_rpc_reply(call, req, len);
}

static evb_rpc_server *start_tls(int mutual, int *port)
{
    evb_rpc_options o;
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.threads = 1;
    o.grace_ms = 200;
    o.tls_cert_pem = g_srv_cert;
    o.tls_key_pem = g_srv_key;
    o.tls_client_ca_pem = mutual ? g_ca : NULL;
    evb_rpc_server *s = NULL;
    if (evb_rpc_server_new(&o, &s) != EVB_OK)
        return NULL;
    if (evb_rpc_server_add_unary(s, "/t.T/Echo", h_echo, NULL) != EVB_OK ||
        evb_rpc_server_start(s, port) != EVB_OK) {
        evb_rpc_server_free(s);
        return NULL;
    }
    return s;
}

/* A TLS channel trusting the test CA; with_cert adds the client certificate. */
static grpc_channel *tls_channel(int port, int with_cert)
{
    grpc_ssl_pem_key_cert_pair pair = {g_cli_key, g_cli_cert};
    grpc_channel_credentials *creds =
        grpc_ssl_credentials_create(g_ca, with_cert ? &pair : NULL, NULL, NULL);
    grpc_arg args[2];
    memset(args, 0, sizeof(args));
    args[0].type = GRPC_ARG_STRING;
    args[0].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
    args[0].value.string = (char *)"localhost";
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    args[1].value.integer = 1;
    grpc_channel_args cargs = {2, args};
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    grpc_channel *ch = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    return ch;
}

static void test_tls(void)
{
    if (!g_have_certs) {
        fprintf(stderr, "(no openssl: TLS test skipped) ");
        return;
    }
    int port = 0;
    evb_rpc_server *s = start_tls(0, &port);
    CU_ASSERT_FATAL(s != NULL);
    grpc_channel *ch = tls_channel(port, 0);
    tc_result r;
    tc_unary(ch, "/t.T/Echo", "secret", 6, NULL, NULL, 5000, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    CU_ASSERT(r.resp_len == 6 && memcmp(r.resp, "secret", 6) == 0);
    tc_result_free(&r);
    grpc_channel_destroy(ch);

    /* a plaintext client cannot talk to the TLS port */
    ch = tc_channel(port);
    tc_unary(ch, "/t.T/Echo", "x", 1, NULL, NULL, 2000, &r);
    CU_ASSERT_NOT_EQUAL(r.status, GRPC_STATUS_OK);
    tc_result_free(&r);
    grpc_channel_destroy(ch);
    evb_rpc_server_free(s);
}

static void test_mutual_tls(void)
{
    if (!g_have_certs)
        return;
    int port = 0;
    evb_rpc_server *s = start_tls(1, &port);
    CU_ASSERT_FATAL(s != NULL);
    grpc_channel *ch = tls_channel(port, 1);
    tc_result r;
    tc_unary(ch, "/t.T/Echo", "mtls", 4, NULL, NULL, 5000, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    CU_ASSERT(r.resp_len == 4 && memcmp(r.resp, "mtls", 4) == 0);
    tc_result_free(&r);
    grpc_channel_destroy(ch);

    /* no client certificate: the handshake fails */
    ch = tls_channel(port, 0);
    tc_unary(ch, "/t.T/Echo", "x", 1, NULL, NULL, 2000, &r);
    CU_ASSERT_NOT_EQUAL(r.status, GRPC_STATUS_OK);
    tc_result_free(&r);
    grpc_channel_destroy(ch);
    evb_rpc_server_free(s);
}

int main(void)
{
    evb_rpc_global_init();
    g_have_certs = make_certs() == 0;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("rpc_tls", NULL, NULL);
    if (suite == NULL || !CU_add_test(suite, "tls", test_tls) ||
        !CU_add_test(suite, "mutual tls", test_mutual_tls)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    remove_certs();
    evb_rpc_global_fini();
    return failures > 0 ? 1 : 0;
}
