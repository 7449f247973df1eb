/* evbridge — routing's event view (server/router/router_int.h) against the jansson object of
 * the same event (evb_router_event_json, which delivery, transforms and replay use): for
 * events with JSON, text, binary, malformed and missing payloads, extensions and absent
 * attributes, every pattern must answer the same on both, whether routing parses the payload
 * itself or is handed the document validation parsed (and evb_router_pattern_match, for
 * callers outside ingest, with them). The one intended difference is checked too: a JSON
 * payload jansson's default decoding refuses (an integer beyond int64, a string with U+0000)
 * is matched by the view, where the jansson object leaves "data" out.
 */
#include <stdio.h>

#include "server/router/router.h"
#include "server/router/router_int.h"
#include "tests/unit/routing_pattern/pattern_test.h"

static const char *const PATTERNS[] = {
    "{}",
    "{'type':['t.changed']}",
    "{'specversion':['1.0'],'orgid':['o1'],'connector':['crm']}",
    "{'subject':[{'exists':false}]}",
    "{'subject':[{'prefix':'cust'}]}",
    "{'dataschema':[{'exists':true}]}",
    "{'region':['east']}",
    "{'traceparent':[{'exists':false}]}",
    "{'data':[{'exists':true}]}",
    "{'data':[{'exists':false}]}",
    "{'data':['hello \\u00e9']}",
    "{'data':[{'prefix':'hel'}]}",
    "{'data':[5]}",
    "{'data':{'id':['c1']}}",
    "{'data':{'amount':[{'numeric':['>',100]}]}}",
    "{'data':{'tags':['vip'],'id':[{'anything-but':'c2'}]}}",
    "{'data':{'lines':{'sku':['A'],'qty':[2]}}}",
    "{'$or':[{'data':{'id':['c1']}},{'subject':['x']}]}",
    "{'datacontenttype':[{'suffix':'+json'}],'data':{'id':[{'exists':true}]}}",
};

typedef struct ev_case {
    const char *ct;      /* datacontenttype */
    const char *subject; /* NULL = absent */
    const char *data;    /* payload bytes (NULL = none) */
    size_t len;          /* 0 = strlen(data) */
    int parsed_ok;       /* the payload is JSON that evb_json_parse reads */
} ev_case;

static const ev_case CASES[] = {
    {"application/json", "customer/1",
     "{'id':'c1','amount':250,'tags':['vip','b2b'],'lines':[{'sku':'A','qty':1},{'sku':'B',"
     "'qty':2}]}",
     0, 1},
    {"application/json", NULL, "{'id':'c2','amount':100.0,'lines':[{'sku':'A','qty':2}]}", 0, 1},
    {"application/json; charset=utf-8", "x", "5", 0, 1},
    {"application/vnd.crm+json", NULL, "{'id':'c1','lines':[]}", 0, 1},
    {"application/json", NULL, "[1,{'id':'c1'}]", 0, 1},
    {"application/json", NULL, "{'id':", 0, 0},           /* malformed: no "data" */
    {"text/plain", "customer/2", "hello \xc3\xa9", 0, 0}, /* a string */
    {"text/plain", NULL, "\xff\xfe", 0, 0},               /* not UTF-8: no "data" */
    {"application/octet-stream", NULL, "a\0b", 3, 0},     /* a NUL byte: no "data" */
    {"application/json", "customer/3", NULL, 0, 0},       /* no payload */
};

static void make_event(evb_event *ev, const ev_case *c, char *data, evb_ce_ext *ext)
{
    memset(ev, 0, sizeof *ev);
    ev->id = "e-1";
    ev->source = "/connectors/crm";
    ev->type = "t.changed";
    ev->subject = (char *)c->subject;
    ev->time = "2026-11-29T10:00:00Z";
    ev->datacontenttype = (char *)c->ct;
    ev->dataschema = c->parsed_ok ? "evb://registry/schemas/ids/1" : NULL;
    ev->org = "o1";
    ev->connector = "crm";
    ext[0] = (evb_ce_ext){"region", "east"};
    ext[1] = (evb_ce_ext){"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"};
    ev->ext = ext;
    ev->n_ext = 2;
    ev->data = (uint8_t *)data;
    ev->data_len = data == NULL ? 0 : c->len ? c->len : strlen(data);
}

static void test_same_answers(void)
{
    enum { NP = sizeof PATTERNS / sizeof PATTERNS[0], NC = sizeof CASES / sizeof CASES[0] };
    evb_pattern *pats[NP];
    for (size_t i = 0; i < NP; i++) {
        char *t = dq(PATTERNS[i]);
        pats[i] = NULL;
        evb_err rc = evb_pattern_compile(t, strlen(t), 0, &pats[i], NULL);
        EVB_CHECK_ROW(rc == EVB_OK, "pattern %s", t); /* evaluates its condition twice */
        free(t);
    }
    size_t hits = 0;
    for (size_t c = 0; c < NC; c++) {
        char *data = NULL;
        if (CASES[c].data != NULL) {
            size_t n = CASES[c].len ? CASES[c].len : strlen(CASES[c].data);
            data = malloc(n + 1);
            memcpy(data, CASES[c].data, n + 1);
            if (CASES[c].len == 0)
                for (char *p = data; *p; p++)
                    *p = *p == '\'' ? '"' : *p;
        }
        evb_event ev;
        evb_ce_ext ext[2];
        make_event(&ev, &CASES[c], data, ext);
        json_t *js = evb_router_event_json(&ev, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(js);
        evb_json_doc *doc = NULL; /* as validation would hand it over */
        if (CASES[c].parsed_ok)
            CU_ASSERT_EQUAL_FATAL(evb_json_parse(data, ev.data_len, 0, &doc, NULL), EVB_OK);
        evb_router_view own, given;
        CU_ASSERT_EQUAL_FATAL(evb_router_view_init(&own, &ev, 1, NULL), EVB_OK);
        CU_ASSERT_EQUAL_FATAL(evb_router_view_init(&given, &ev, 1, doc ? evb_json_root(doc) : NULL),
                              EVB_OK);
        for (size_t i = 0; i < NP; i++) {
            if (pats[i] == NULL)
                continue;
            int a = evb_pattern_match(pats[i], js);
            int o = evb_pattern_match_view(pats[i], &own.view);
            int g = evb_pattern_match_view(pats[i], &given.view);
            int r = evb_router_pattern_match(pats[i], &ev);
            hits += (size_t)a;
            EVB_CHECK_ROW(a == o && a == g && a == r,
                          "case %zu pattern %s: json %d, view %d, given %d, router %d", c,
                          PATTERNS[i], a, o, g, r);
        }
        evb_router_view_fini(&own);
        evb_router_view_fini(&given);
        evb_json_doc_free(doc);
        json_decref(js);
        free(data);
    }
    CU_ASSERT(hits > NC);
    for (size_t i = 0; i < NP; i++)
        evb_pattern_free(pats[i]);
}

/* Without with_data the view has no "data", as the jansson object has none. */
static void test_without_data(void)
{
    evb_event ev;
    evb_ce_ext ext[2];
    char data[] = "{\"id\":\"c1\"}";
    make_event(&ev, &CASES[0], data, ext);
    evb_pattern *p = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_pattern_compile("{\"data\":[{\"exists\":false}]}", 27, 0, &p, NULL),
                          EVB_OK);
    evb_router_view v;
    CU_ASSERT_EQUAL_FATAL(evb_router_view_init(&v, &ev, 0, NULL), EVB_OK);
    json_t *js = evb_router_event_json(&ev, 0);
    CU_ASSERT_EQUAL(evb_pattern_match_view(p, &v.view), 1);
    CU_ASSERT_EQUAL(evb_pattern_match(p, js), 1);
    json_decref(js);
    evb_router_view_fini(&v);
    evb_pattern_free(p);
}

/* The intended difference: payloads our parser reads and jansson's default decoding refuses. */
static void test_payloads_jansson_refuses(void)
{
    static const char *const payloads[] = {"{\"n\":18446744073709551616}", "{\"n\":\"a\\u0000b\"}"};
    evb_pattern *p = NULL;
    CU_ASSERT_EQUAL_FATAL(
        evb_pattern_compile("{\"data\":{\"n\":[{\"exists\":true}]}}", 32, 0, &p, NULL), EVB_OK);
    for (size_t i = 0; i < 2; i++) {
        evb_event ev;
        evb_ce_ext ext[2];
        char *data = strdup(payloads[i]);
        make_event(&ev, &CASES[0], data, ext);
        evb_router_view v;
        CU_ASSERT_EQUAL_FATAL(evb_router_view_init(&v, &ev, 1, NULL), EVB_OK);
        json_t *js = evb_router_event_json(&ev, 1);
        EVB_CHECK_ROW(evb_pattern_match_view(p, &v.view) == 1, "view misses %s", payloads[i]);
        EVB_CHECK_ROW(evb_pattern_match(p, js) == 0, "jansson reads %s now", payloads[i]);
        json_decref(js);
        evb_router_view_fini(&v);
        free(data);
    }
    evb_pattern_free(p);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"view == jansson object, own parse and handed-over document", test_same_answers},
        {"without data", test_without_data},
        {"payloads jansson refuses are matched by the view", test_payloads_jansson_refuses},
        {NULL, NULL},
    };
    return evb_unit_run("router_view", cases);
}
