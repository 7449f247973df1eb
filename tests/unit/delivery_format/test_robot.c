/* evbridge tests — DingTalk robot messages (robot.h): bodies of the three message types
 * with at-lists, template rendering, the 20,000-byte cut, signed URLs, config errors and
 * reply parsing. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "fmt_test.h"
#include "server/delivery/robot.h"
#include "server/router/router.h"

#define HOOK "https://oapi.dingtalk.com/robot/send?access_token=abc"
#define DATA                                                                                       \
    "{\"customer\":{\"name\":\"Zoë \\\"Z\\\"\",\"id\":42,\"vip\":true,\"score\":0.1,"             \
    "\"tags\":[\"a\",\"b\"],\"none\":null}}"

static evb_robot_target *robot(const char *members)
{
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "{\"description\":\"\",\"robot\":{%s}}", members);
    evb_robot_target *t = NULL;
    evb_error e;
    evb_err rc = evb_robot_target_parse(cfg, &t, &e);
    if (rc != EVB_OK)
        fprintf(stderr, "robot parse: %s (%s)\n", e.message, cfg);
    CU_ASSERT_EQUAL_FATAL(rc, EVB_OK);
    return t;
}

static void bodies(void)
{
    static const struct {
        const char *members, *want;
    } cases[] = {
        {"\"webhook_url\":\"" HOOK "\",\"message_type\":1,\"template\":\"New: ${n}\","
         "\"vars\":{\"n\":\"$.data.customer.name\"}",
         "{\"msgtype\":\"text\",\"text\":{\"content\":\"New: Zoë \\\"Z\\\"\"}}"},
        {"\"webhook_url\":\"" HOOK "\",\"template\":\"plain\",\"at_mobiles\":[\"13800000000\"],"
         "\"at_user_ids\":[\"u1\",\"u2\"],\"is_at_all\":false",
         "{\"msgtype\":\"text\",\"text\":{\"content\":\"plain\"},\"at\":{\"atMobiles\":"
         "[\"13800000000\"],\"atUserIds\":[\"u1\",\"u2\"],\"isAtAll\":false}}"},
        {"\"webhook_url\":\"" HOOK "\",\"message_type\":2,\"title\":\"Customer ${id}\","
         "\"template\":\"### ${n}\\n- vip: ${vip}\",\"vars\":{\"n\":\"$.data.customer.name\","
         "\"id\":\"$.data.customer.id\",\"vip\":\"$.data.customer.vip\"},\"is_at_all\":true",
         "{\"msgtype\":\"markdown\",\"markdown\":{\"title\":\"Customer 42\",\"text\":\"### Zoë "
         "\\\"Z\\\"\\n- vip: true\"},\"at\":{\"atMobiles\":[],\"atUserIds\":[],\"isAtAll\":"
         "true}}"},
        {"\"webhook_url\":\"" HOOK "\",\"message_type\":3,\"title\":\"Changed\",\"template\":"
         "\"[${type}](x) by ${who}\",\"vars\":{\"type\":\"$.type\",\"who\":\"$.subject\"},"
         "\"single_title\":\"Open\",\"single_url\":\"https://crm.example.com/c/42\","
         "\"at_user_ids\":[\"u9\"]",
         "{\"msgtype\":\"actionCard\",\"actionCard\":{\"title\":\"Changed\",\"text\":"
         "\"[customer.changed](x) by \",\"singleTitle\":\"Open\",\"singleURL\":"
         "\"https://crm.example.com/c/42\"},\"at\":{\"atMobiles\":[],\"atUserIds\":[\"u9\"],"
         "\"isAtAll\":false}}"},
    };
    evb_event *ev = ev_make("application/json", NULL, DATA, strlen(DATA));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_robot_target *t = robot(cases[i].members);
        evb_http_request r;
        CU_ASSERT_EQUAL_FATAL(evb_robot_request_build(t, ev, 1700000000000LL, &r, NULL), EVB_OK);
        CU_ASSERT_STRING_EQUAL(r.body, cases[i].want);
        if (strcmp(r.body, cases[i].want) != 0)
            fprintf(stderr, "case %zu body: %s\n", i, r.body);
        CU_ASSERT_EQUAL(r.body_len, strlen(r.body));
        CU_ASSERT_STRING_EQUAL(r.method, "POST");
        CU_ASSERT_STRING_EQUAL(r.url, HOOK); /* no secret: unsigned */
        CU_ASSERT_STRING_EQUAL(evb_http_request_header(&r, "Content-Type"),
                               "application/json; charset=utf-8");
        evb_http_request_fini(&r);
        evb_robot_target_free(t);
    }
    evb_event_free(ev);
}

static void rendering(void)
{
    static const struct {
        const char *tmpl, *want;
    } cases[] = {
        {"${name}", "Zoë \"Z\""},                   /* strings as plain text */
        {"${id}|${vip}|${score}", "42|true|0.1"},   /* scalars as JSON text */
        {"${tags}", "[\"a\",\"b\"]"},               /* containers as compact JSON */
        {"[${missing}][${none}]", "[][]"},          /* missing and null: nothing */
        {"${unbound} ${name", "${unbound} ${name"}, /* not a bound placeholder: as written */
        {"$${name} $$x $", "${name} $$x $"},        /* $${ is a literal ${ */
        {"${id}${id}", "4242"},
        {"无变量 😀", "无变量 😀"},
        {"", ""},
    };
    evb_robot_target *t = robot(
        "\"webhook_url\":\"" HOOK "\",\"template\":\"x\",\"vars\":{\"name\":"
        "\"$.data.customer.name\",\"id\":\"$.data.customer.id\",\"vip\":\"$.data.customer.vip\","
        "\"score\":\"$.data.customer.score\",\"tags\":\"$.data.customer.tags\",\"missing\":"
        "\"$.data.nope\",\"none\":\"$.data.customer.none\"}");
    evb_event *ev = ev_make("application/json", NULL, DATA, strlen(DATA));
    json_t *view = evb_router_event_json(ev, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        CU_ASSERT_EQUAL_FATAL(evb_robot_render(t, cases[i].tmpl, view, 100, &out), EVB_OK);
        CU_ASSERT_STRING_EQUAL(out, cases[i].want);
        if (strcmp(out, cases[i].want) != 0)
            fprintf(stderr, "case %zu: %s\n", i, out);
        free(out);
    }
    json_decref(view);
    evb_event_free(ev);
    evb_robot_target_free(t);
}

/* The 20,000-byte limit: a cut lands on a UTF-8 boundary and ends with "…". */
static void truncation(void)
{
    static const struct {
        size_t ascii;     /* ASCII bytes before the multi-byte character */
        const char *tail; /* appended after them */
        size_t want_len;  /* bytes of the rendered text */
        int cut;
    } cases[] = {
        {19997, "€", 20000, 0},  /* exactly the limit: kept whole */
        {19998, "€", 20000, 1},  /* one over: 19,997 'a' + "…" */
        {19996, "😀x", 19999, 1}, /* the 4-byte char straddles the cut: dropped whole */
        {25000, "", 20000, 1},   /* plain ASCII far over */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].ascii + strlen(cases[i].tail);
        char *data = malloc(n + 3);
        data[0] = '"';
        memset(data + 1, 'a', cases[i].ascii);
        memcpy(data + 1 + cases[i].ascii, cases[i].tail, strlen(cases[i].tail));
        data[n + 1] = '"';
        data[n + 2] = '\0';
        evb_event *ev = ev_make("application/json", NULL, data, n + 2);
        evb_robot_target *t =
            robot("\"webhook_url\":\"" HOOK "\",\"template\":\"${d}\",\"vars\":{\"d\":\"$.data\"}");
        evb_http_request r;
        CU_ASSERT_EQUAL_FATAL(evb_robot_request_build(t, ev, 1, &r, NULL), EVB_OK);
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        const char *content =
            json_string_value(json_object_get(json_object_get(j, "text"), "content"));
        CU_ASSERT_PTR_NOT_NULL_FATAL(content);
        if (content == NULL) /* for the analyzer: _FATAL does not return */
            content = "";
        size_t len = strlen(content);
        CU_ASSERT_EQUAL(len, cases[i].want_len);
        CU_ASSERT(len <= EVB_ROBOT_MAX_TEXT);
        CU_ASSERT(evb_utf8_valid(content, len));
        if (cases[i].cut) {
            CU_ASSERT(len >= 3 && strcmp(content + len - 3, "\xE2\x80\xA6") == 0);
            CU_ASSERT(len < 4 || content[len - 4] == 'a');
        } else {
            CU_ASSERT_EQUAL(memcmp(content + cases[i].ascii, cases[i].tail, strlen(cases[i].tail)),
                            0);
        }
        json_decref(j);
        evb_http_request_fini(&r);
        evb_robot_target_free(t);
        evb_event_free(ev);
        free(data);
    }
}

static void signed_urls(void)
{
    static const struct {
        const char *url, *secret, *want;
    } cases[] = {
        {HOOK, "SEC0123456789abcdef",
         HOOK "&timestamp=1700000000000&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"},
        {"https://robot.example.com/send", "SEC0123456789abcdef",
         "https://robot.example.com/send?timestamp=1700000000000&sign="
         "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"},
        {HOOK, "", HOOK},
    };
    evb_event *ev = ev_make("application/json", NULL, "{}", 2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char m[512];
        snprintf(m, sizeof m, "\"webhook_url\":\"%s\",\"secret\":\"%s\",\"template\":\"t\"",
                 cases[i].url, cases[i].secret);
        evb_robot_target *t = robot(m);
        evb_http_request r;
        CU_ASSERT_EQUAL_FATAL(evb_robot_request_build(t, ev, 1700000000000LL, &r, NULL), EVB_OK);
        CU_ASSERT_STRING_EQUAL(r.url, cases[i].want);
        evb_http_request_fini(&r);
        evb_robot_target_free(t);
    }
    evb_event_free(ev);
}

static void config_errors(void)
{
    static const struct {
        const char *cfg, *pointer;
        evb_err code;
    } cases[] = {
        {"[", "", EVB_ERR_PARSE},
        {"{\"http\":{}}", "robot", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"oapi.dingtalk.com\",\"template\":\"t\"}}",
         "robot.webhook_url", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\\r\\n\",\"template\":\"t\"}}",
         "robot.webhook_url", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"\"}}", "robot.template",
         EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"t\",\"message_type\":4}}",
         "robot.message_type", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"t\",\"message_type\":2}}",
         "robot.title", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"t\",\"message_type\":3,"
         "\"title\":\"T\",\"single_title\":\"Open\",\"single_url\":\"javascript:x\"}}",
         "robot.single_url", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"t\",\"secret\":\"a\\nb\"}}",
         "robot.secret", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"t\",\"vars\":{\"v\":"
         "\"$..x\"}}}",
         "robot.vars.v", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"t\",\"vars\":{\"a-b\":"
         "\"$.x\"}}}",
         "robot.vars.a-b", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"t\",\"vars\":[]}}",
         "robot.vars", EVB_ERR_INVALID},
        {"{\"robot\":{\"webhook_url\":\"https://x/\",\"template\":\"t\",\"at_mobiles\":[1]}}",
         "at_mobiles", EVB_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evb_robot_target *t = NULL;
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_robot_target_parse(cases[i].cfg, &t, &e);
        CU_ASSERT_EQUAL(rc, cases[i].code);
        CU_ASSERT_STRING_EQUAL(e.pointer, cases[i].pointer);
        if (rc != cases[i].code || strcmp(e.pointer, cases[i].pointer) != 0)
            fprintf(stderr, "case %zu: rc %d pointer '%s' (%s)\n", i, rc, e.pointer, e.message);
        CU_ASSERT_PTR_NULL(t);
        evb_robot_target_free(t);
    }
}

static void responses(void)
{
    static const struct {
        const char *body;
        int found;
        long long code;
        const char *msg;
    } cases[] = {
        {"{\"errcode\":0,\"errmsg\":\"ok\"}", 1, 0, "ok"},
        {"{\"errcode\":130101,\"errmsg\":\"send too fast, exceed 20 times per min\"}", 1, 130101,
         "send too fast, exceed 20 times per min"},
        {"{\"errcode\":-1,\"errmsg\":\"系统繁忙\"}", 1, -1, "系统繁忙"},
        {"{\"errcode\":310000,\"errmsg\":\"sign not match\"}", 1, 310000, "sign not match"},
        {"{\"errcode\":300005}", 1, 300005, ""},
        {"{\"errcode\":400102,\"errmsg\":\"line\\nbreak\"}", 1, 400102, "line?break"},
        {"{\"errcode\":0,\"errmsg\":\"a long message that is cut at the buffer size\"}", 1, 0,
         "a long message that is cut at the buffer"},
        {"<html>502 Bad Gateway</html>", 0, 7, ""},
        {"{\"errcode\":\"0\"}", 0, 7, ""},
        {"{\"errcode\":1.5}", 0, 7, ""},
        {"{\"errmsg\":\"ok\"}", 0, 7, ""},
        {"[0]", 0, 7, ""},
        {"{\"errcode\":0", 0, 7, ""},
        {"", 0, 7, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long code = 7;
        char msg[41];
        memset(msg, 'x', sizeof msg);
        int found =
            evb_robot_parse_response(cases[i].body, strlen(cases[i].body), &code, msg, sizeof msg);
        CU_ASSERT_EQUAL(found, cases[i].found);
        CU_ASSERT_EQUAL(code, cases[i].code);
        CU_ASSERT_STRING_EQUAL(msg, cases[i].msg);
        if (strcmp(msg, cases[i].msg) != 0)
            fprintf(stderr, "case %zu: errmsg '%s'\n", i, msg);
    }
    long long code = 7;
    CU_ASSERT_EQUAL(evb_robot_parse_response(NULL, 0, &code, NULL, 0), 0);
    CU_ASSERT_EQUAL(evb_robot_parse_response("{\"errcode\":0}", 13, &code, NULL, 0), 1);
    CU_ASSERT_EQUAL(code, 0);
}

const fmt_case ROBOT_CASES[] = {
    {"message bodies: text, markdown, actionCard, at-lists", bodies},
    {"template rendering", rendering},
    {"20,000-byte cut on a UTF-8 boundary", truncation},
    {"signed webhook URLs", signed_urls},
    {"robot config errors", config_errors},
    {"reply errcode parsing", responses},
    {NULL, NULL},
};
