/* evbridge — unit tests for common/log: level parsing and filtering, JSON-lines records
 * (checked with jansson: valid JSON, fields, escaping), text records, one line per record,
 * stderr by default (captured with a pipe and dup2), concurrent writers. */
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/unit/common/unit.h"

static int pipe_fds[2];

/* Reads what is available on the pipe (records are small; the pipe is non-blocking). */
static char *drain(void)
{
    static char buf[1 << 20];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(pipe_fds[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return buf;
}

static int setup(void)
{
    if (pipe(pipe_fds) != 0)
        return -1;
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
    evb_log_set_fd(pipe_fds[1]);
    return 0;
}

static void test_level_parse(void)
{
    CU_ASSERT_EQUAL(evb_log_level_parse("debug"), EVB_LOG_DEBUG);
    CU_ASSERT_EQUAL(evb_log_level_parse("info"), EVB_LOG_INFO);
    CU_ASSERT_EQUAL(evb_log_level_parse("warn"), EVB_LOG_WARN);
    CU_ASSERT_EQUAL(evb_log_level_parse("error"), EVB_LOG_ERROR);
    CU_ASSERT_EQUAL(evb_log_level_parse("off"), EVB_LOG_OFF);
    CU_ASSERT_EQUAL(evb_log_level_parse("INFO"), -1);
    CU_ASSERT_EQUAL(evb_log_level_parse("warning"), -1);
    CU_ASSERT_EQUAL(evb_log_level_parse(""), -1);
    CU_ASSERT_EQUAL(evb_log_level_parse(NULL), -1);
}

static void test_filtering(void)
{
    evb_log_configure(EVB_LOG_WARN, EVB_LOG_JSON);
    CU_ASSERT(!evb_log_enabled(EVB_LOG_INFO));
    CU_ASSERT(evb_log_enabled(EVB_LOG_WARN));
    CU_ASSERT(evb_log_enabled(EVB_LOG_ERROR));
    drain();
    evb_log_info("t", "hidden");
    evb_log_debug("t", "hidden");
    CU_ASSERT_STRING_EQUAL(drain(), "");
    evb_log_error("t", "shown");
    CU_ASSERT_PTR_NOT_NULL(strstr(drain(), "shown"));
    evb_log_configure(EVB_LOG_OFF, EVB_LOG_JSON);
    CU_ASSERT(!evb_log_enabled(EVB_LOG_ERROR));
    evb_log_error("t", "hidden");
    CU_ASSERT_STRING_EQUAL(drain(), "");
}

static void test_json_record(void)
{
    evb_log_configure(EVB_LOG_INFO, EVB_LOG_JSON);
    drain();
    const char *const ctx[] = {"org",   "acme \"corp\"\n", "skipped", NULL, "bad",
                               "x\xff", "event_id",        "e-1",     NULL};
    evb_log(EVB_LOG_WARN, "store", ctx, "disk %d%% full\t%s", 93, "\x01");
    char *out = drain();
    size_t len = strlen(out);
    CU_ASSERT(len > 0 && out[len - 1] == '\n');
    CU_ASSERT_PTR_NULL(memchr(out, '\n', len - 1)); /* exactly one line */
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "level")), "warn");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "component")), "store");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "msg")), "disk 93% full\t\x01");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "org")), "acme \"corp\"\n");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "bad")), "x\xEF\xBF\xBD");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "event_id")), "e-1");
    CU_ASSERT_PTR_NULL(json_object_get(j, "skipped"));
    const char *t = json_string_value(json_object_get(j, "time"));
    CU_ASSERT(t != NULL && strlen(t) == 24 && t[23] == 'Z');
    /* key order: time, level, component, msg first */
    CU_ASSERT_EQUAL(strncmp(out, "{\"time\":", 8), 0);
    json_decref(j);
}

static void test_long_record(void)
{
    evb_log_configure(EVB_LOG_INFO, EVB_LOG_JSON);
    drain();
    size_t n = 50000;
    char *big = malloc(n + 1);
    memset(big, '"', n); /* worst case: every byte escaped */
    big[n] = '\0';
    const char *const ctx[] = {"a", "short", "big", big, NULL};
    evb_log(EVB_LOG_INFO, "t", ctx, "%s", big);
    char *out = drain();
    json_t *j = json_loads(out, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT(json_is_true(json_object_get(j, "truncated")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "a")), "short");
    CU_ASSERT(strlen(json_string_value(json_object_get(j, "msg"))) < n);
    json_decref(j);
    free(big);
}

static void test_text_record(void)
{
    evb_log_configure(EVB_LOG_DEBUG, EVB_LOG_TEXT);
    drain();
    const char *const ctx[] = {"org", "acme corp", "id", "e1", "nl", "a\nb", NULL};
    evb_log(EVB_LOG_DEBUG, "rpc", ctx, "line1\nline2");
    char *out = drain();
    size_t len = strlen(out);
    CU_ASSERT(len > 0 && out[len - 1] == '\n');
    CU_ASSERT_PTR_NULL(memchr(out, '\n', len - 1));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " debug rpc: line1\\nline2 org=\"acme corp\" id=e1 "
                                       "nl=a\\nb\n"));
    CU_ASSERT_EQUAL(out[23], 'Z');
    evb_log_configure(EVB_LOG_INFO, EVB_LOG_JSON);
}

static void test_stderr_default(void)
{
    /* restore the default destination and capture fd 2 itself */
    int saved = dup(STDERR_FILENO);
    CU_ASSERT_FATAL(saved >= 0);
    CU_ASSERT_FATAL(dup2(pipe_fds[1], STDERR_FILENO) >= 0);
    evb_log_set_fd(-1);
    evb_log_configure(EVB_LOG_INFO, EVB_LOG_JSON);
    drain();
    evb_log_info("main", "to stderr");
    dup2(saved, STDERR_FILENO);
    close(saved);
    evb_log_set_fd(pipe_fds[1]);
    char *out = drain();
    json_t *j = json_loads(out, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "msg")), "to stderr");
    json_decref(j);
}

enum { LOG_THREADS = 4, LOG_PER_THREAD = 200 };

static void *log_thread(void *arg)
{
    const char *name = arg;
    const char *const ctx[] = {"thread", name, NULL};
    for (int i = 0; i < LOG_PER_THREAD; i++)
        evb_log(EVB_LOG_INFO, "t", ctx, "record %d of %s with some padding text", i, name);
    return NULL;
}

static void test_concurrent_lines(void)
{
    /* records go to a temporary file so no reader has to keep up with the writers */
    evb_log_configure(EVB_LOG_INFO, EVB_LOG_JSON);
    FILE *tf = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(tf);
    int tmp = fileno(tf);
    evb_log_set_fd(tmp);
    pthread_t t[LOG_THREADS];
    static const char *names[LOG_THREADS] = {"a", "b", "c", "d"};
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_create(&t[i], NULL, log_thread, (void *)names[i]);
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_join(t[i], NULL);
    evb_log_set_fd(pipe_fds[1]);
    off_t size = lseek(tmp, 0, SEEK_END);
    char *all = malloc((size_t)size + 1);
    CU_ASSERT_EQUAL_FATAL(pread(tmp, all, (size_t)size, 0), size);
    all[size] = '\0';
    int lines = 0, good = 1;
    for (char *save = NULL, *line = strtok_r(all, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        if (j == NULL)
            good = 0;
        json_decref(j);
        lines++;
    }
    CU_ASSERT(good);
    CU_ASSERT_EQUAL(lines, LOG_THREADS * LOG_PER_THREAD);
    free(all);
    fclose(tf);
}

int main(void)
{
    if (setup() != 0)
        return 2;
    static const evb_unit_case cases[] = {
        {"level_parse", test_level_parse},           {"filtering", test_filtering},
        {"json_record", test_json_record},           {"long_record", test_long_record},
        {"text_record", test_text_record},           {"stderr_default", test_stderr_default},
        {"concurrent_lines", test_concurrent_lines}, {NULL, NULL},
    };
    return evb_unit_run("common/log", cases);
}
