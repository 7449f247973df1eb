/* Unit tests for server/config: defaults, flags, environment, errors naming the flag. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config/config.h"

static FILE *sink;

static evb_config_outcome parse(evb_config *cfg, int argc, const char *const *argv)
{
    return evb_config_parse(cfg, argc, (char **)argv, sink, sink);
}

static void test_defaults(void)
{
    evb_config cfg;
    const char *argv[] = {"evbridged"};
    CU_ASSERT_EQUAL_FATAL(parse(&cfg, 1, argv), EVB_CONFIG_RUN);
    CU_ASSERT_STRING_EQUAL(cfg.listen, "127.0.0.1:50051");
    CU_ASSERT_STRING_EQUAL(cfg.data_dir, "./data");
    CU_ASSERT_EQUAL(cfg.max_entries, 100);
    CU_ASSERT_EQUAL(cfg.max_entry_bytes, 262144);
    CU_ASSERT_EQUAL(cfg.max_request_bytes, 1048576);
    CU_ASSERT_EQUAL(cfg.dedup_window_s, 86400);
    CU_ASSERT_PTR_NULL(cfg.tls_cert);
    CU_ASSERT_STRING_EQUAL(cfg.sync, "full");
    CU_ASSERT_EQUAL(cfg.max_calls_per_connection, 100);
    evb_config_fini(&cfg);
}

static void test_flags_and_env(void)
{
    evb_config cfg;
    setenv("EVB_MAX_ENTRIES", "7", 1);
    setenv("EVB_DATA_DIR", "/tmp/envdir", 1);
    const char *argv[] = {"evbridged",
                          "--data-dir",
                          "/tmp/flagdir",
                          "--listen=127.0.0.1:0",
                          "--threads",
                          "3",
                          "--max-calls-per-connection",
                          "8"};
    CU_ASSERT_EQUAL_FATAL(parse(&cfg, 8, argv), EVB_CONFIG_RUN);
    CU_ASSERT_STRING_EQUAL(cfg.data_dir, "/tmp/flagdir"); /* flag beats env */
    CU_ASSERT_EQUAL(cfg.max_entries, 7);                  /* env beats default */
    CU_ASSERT_STRING_EQUAL(cfg.listen, "127.0.0.1:0");
    CU_ASSERT_EQUAL(cfg.threads, 3);
    CU_ASSERT_EQUAL(cfg.max_calls_per_connection, 8);
    evb_config_fini(&cfg);
    unsetenv("EVB_MAX_ENTRIES");
    unsetenv("EVB_DATA_DIR");
}

static void test_errors(void)
{
    static const struct {
        int argc;
        const char *argv[4];
    } cases[] = {
        {2, {"evbridged", "--bogus"}},
        {2, {"evbridged", "--threads"}},
        {3, {"evbridged", "--threads", "x"}},
        {3, {"evbridged", "--max-entries", "0"}},
        {3, {"evbridged", "--max-entries", "12abc"}},
        {3, {"evbridged", "--max-calls-per-connection", "0"}},
        {3, {"evbridged", "--log-level", "loud"}},
        {3, {"evbridged", "--tls-cert", "a.pem"}},
        {2, {"evbridged", "stray"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_config cfg;
        CU_ASSERT_EQUAL(parse(&cfg, cases[i].argc, cases[i].argv), EVB_CONFIG_ERROR);
    }
}

static void test_help_lists_every_flag(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    evb_config cfg;
    const char *argv[] = {"evbridged", "--help"};
    CU_ASSERT_EQUAL(evb_config_parse(&cfg, 2, (char **)argv, mem, mem), EVB_CONFIG_EXIT_OK);
    fclose(mem);
    const char *flags[] = {"--listen",        "--data-dir",        "--threads",
                           "--max-entries",   "--max-entry-bytes", "--max-request-bytes",
                           "--dedup-window",  "--tls-cert",        "--tls-key",
                           "--tls-client-ca", "EVB_LISTEN",        "default 127.0.0.1:50051"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(text, flags[i]));
    free(text);
}

int main(void)
{
    sink = fopen("/dev/null", "w");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "flags and environment", test_flags_and_env);
    CU_add_test(s, "errors", test_errors);
    CU_add_test(s, "help lists every flag", test_help_lists_every_flag);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    fclose(sink);
    return failures > 0 ? 1 : 0;
}
