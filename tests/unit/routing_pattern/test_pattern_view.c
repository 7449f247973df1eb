/* evbridge — differential test of the two ways an event reaches a pattern: a jansson tree
 * (evb_pattern_match, evb_matcher_match: TestEventPattern, delivery-time users) and an event
 * view over an evb_json document (evb_pattern_match_view, evb_matcher_match_view: routing at
 * ingest, which reuses the payload parsed for validation). Every pattern is matched against
 * every event both ways, alone and through one matcher holding them all, and the answers must
 * be identical (the matcher's also to the patterns' alone). The events stress what the two parsers
 * represent differently: numbers (jansson reads every number as a double with
 * JSON_DECODE_INT_AS_REAL, evb_json keeps int64 integers exact, big integers, -0, exponents),
 * strings with escapes and embedded U+0000, nested and empty arrays and objects; exists:false and
 * anything-but on them; duplicate keys (both parsers reject them). A randomized part adds many
 * generated patterns and events (seed fixed; EVB_PATTERN_SEED overrides it).
 */
#include <stdio.h>

#include "tests/unit/routing_pattern/pattern_test.h"

#define JFLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)
#define MAXM 64

/* ---- corpus ------------------------------------------------------------------------------ */

static const char *const PATTERNS[] = {
    "{}",
    "{'n':[0]}",
    "{'n':[-0.0]}",
    "{'n':[1]}",
    "{'n':[300]}",
    "{'n':[1e20]}",
    "{'n':[9007199254740992]}",
    "{'n':[9007199254740993]}",
    "{'n':[9223372036854775807]}",
    "{'n':[-9223372036854775808]}",
    "{'n':[1.5]}",
    "{'n':[{'numeric':['>',0]}]}",
    "{'n':[{'numeric':['>=',0,'<',1]}]}",
    "{'n':[{'numeric':['<',-1e300]}]}",
    "{'n':[{'numeric':['=',9007199254740992]}]}",
    "{'n':[{'numeric':['>',9223372036854775807]}]}",
    "{'n':[{'anything-but':[0,1]}]}",
    "{'n':[{'anything-but':'x'}]}",
    "{'n':[{'exists':true}]}",
    "{'n':[{'exists':false}]}",
    "{'n':[null]}",
    "{'n':[true]}",
    "{'n':[false]}",
    "{'n':['1']}",
    "{'s':['a'],'t':[{'anything-but':'a'}]}",
    "{'s':['a']}",
    "{'s':['']}",
    "{'s':['\\u00e9']}",
    "{'s':['\\'q\\'']}",
    "{'s':['\\\\']}",
    "{'s':['\\n\\t']}",
    "{'s':['\\ud83d\\ude00']}",
    "{'s':[{'prefix':'a'}]}",
    "{'s':[{'suffix':'b'}]}",
    "{'s':[{'contains':'b'}]}",
    "{'s':[{'equals-ignore-case':'\\u00c9'}]}",
    "{'s':[{'wildcard':'a*b'}]}",
    "{'s':[{'cidr':'10.0.0.0/8'}]}",
    "{'s':[{'anything-but':{'prefix':'a'}}]}",
    "{'s':[{'exists':false}]}",
    "{'a':{'b':[1]}}",
    "{'a.b':[{'exists':true}]}",
    "{'a':{'b':[{'exists':false}]}}",
    "{'a':[{'exists':false}]}",
    "{'a':[{'exists':true}]}",
    "{'a':{'b':[1],'c':['x']}}",
    "{'a':{'b':[2],'c':['x']}}",
    "{'a':{'b':[{'numeric':['>',0]}],'c':['y']}}",
    "{'e':[{'exists':false}]}",
    "{'e':{'x':[{'exists':false}]}}",
    "{'$or':[{'n':[1]},{'s':['a']}]}",
    "{'$or':[{'a':{'b':[1]}},{'a':{'c':['y']}}],'s':[{'prefix':''}]}",
    "{'data':{'id':[{'exists':true}]}}",
    "{'data':{'x':{'y':[{'numeric':['>=',2]}]}}}",
    "{'type':['t'],'data':{'k':['v']}}",
};

static const char *const EVENTS[] = {
    "{}",
    "{'n':0}",
    "{'n':-0}",
    "{'n':-0.0}",
    "{'n':0.0e5}",
    "{'n':1}",
    "{'n':1.0}",
    "{'n':10e-1}",
    "{'n':300}",
    "{'n':3e2}",
    "{'n':1.5}",
    "{'n':-1}",
    "{'n':100000000000000000000}",
    "{'n':1e20}",
    "{'n':9007199254740992}",
    "{'n':9007199254740993}",
    "{'n':9007199254740995}",
    "{'n':9223372036854775807}",
    "{'n':9223372036854775808}",
    "{'n':-9223372036854775808}",
    "{'n':-9223372036854775809}",
    "{'n':123456789012345678901234567890}",
    "{'n':[9007199254740993, 1], 'm':1.5}",
    "{'n':1.7976931348623157e308}",
    "{'n':-1.7976931348623157e308}",
    "{'n':5e-324}",
    "{'n':null}",
    "{'n':true}",
    "{'n':false}",
    "{'n':'1'}",
    "{'n':[]}",
    "{'n':{}}",
    "{'n':[[]]}",
    "{'n':[0,[1,[2]]]}",
    "{'s':'a'}",
    "{'s':'a\\u0000b'}",
    "{'s':'\\u0000'}",
    "{'s':''}",
    "{'s':'\\u00e9'}",
    "{'s':'\\u00c9'}",
    "{'s':'\\'q\\''}",
    "{'s':'\\\\'}",
    "{'s':'\\n\\t'}",
    "{'s':'\\ud83d\\ude00'}",
    "{'s':'\\/'}",
    "{'s':'a*b'}",
    "{'s':'aXYZb'}",
    "{'s':'10.1.2.3'}",
    "{'s':['b','a']}",
    "{'s':[['a']]}",
    "{'s':[]}",
    "{'s':{}}",
    "{'s':null}",
    "{'a':{'b':1}}",
    "{'a':{'b':1,'c':'x'}}",
    "{'a':{'b':{}}}",
    "{'a':{'b':[]}}",
    "{'a':{}}",
    "{'a':[]}",
    "{'a':[{}]}",
    "{'a':[{'b':1,'c':'y'},{'b':2,'c':'x'}]}",
    "{'a':[{'b':2,'c':'x'},{'b':1,'c':'y'}]}",
    "{'a':[{'b':[1,2],'c':['x','y']}]}",
    "{'a':[[{'b':1}],[{'c':'x'}]]}",
    "{'a':{'b.c':1},'a.b':2}",
    "{'a.b':1}",
    "{'e':{}}",
    "{'e':[]}",
    "{'e':{'x':[]}}",
    "{'e':{'x':null}}",
    "{'type':'t','data':{'k':'v','id':'1'}}",
    "{'type':'t','data':{'k':['w','v']}}",
    "{'data':{'x':{'y':2}},'s':'a'}",
    "{'data':{'x':[{'y':1},{'y':3}]}}",
    "{'data':'text'}",
    "{'data':{'id':null}}",
};

/* ---- both ways -------------------------------------------------------------------------- */

typedef struct both {
    json_t *js;
    evb_json_doc *doc;
    evb_pattern_member ms[MAXM];
    evb_pattern_view view; /* strings as evb_json values */
    evb_pattern_member ps[MAXM];
    evb_pattern_view plain; /* top-level strings as plain strings (as routing gives them) */
} both;

/* Parses event text both ways. 0 when either parser rejects it (reported). */
static int both_parse(both *b, const char *text, size_t len)
{
    memset(b, 0, sizeof *b);
    json_error_t jerr;
    b->js = json_loadb(text, len, JFLAGS, &jerr);
    evb_err rc = evb_json_parse(text, len, 0, &b->doc, NULL);
    size_t n = rc == EVB_OK ? view_of_doc(b->doc, 0, b->ms, MAXM) : (size_t)-1;
    size_t np = rc == EVB_OK ? view_of_doc(b->doc, 1, b->ps, MAXM) : (size_t)-1;
    if (b->js == NULL || !json_is_object(b->js) || n == (size_t)-1 || np == (size_t)-1) {
        fprintf(stderr, "  event %.*s: jansson %s, evb_json %s\n", (int)len, text,
                b->js ? "ok" : jerr.text, evb_strerror(rc));
        return 0;
    }
    b->view = (evb_pattern_view){b->ms, n};
    b->plain = (evb_pattern_view){b->ps, np};
    return 1;
}

static void both_fini(both *b)
{
    json_decref(b->js);
    evb_json_doc_free(b->doc);
}

/* Matches every pattern alone both ways, and the matcher both ways; counts disagreements
 * (reported with the event's text) and matches into *hits. */
static size_t compare_event(evb_pattern *const *pats, size_t npats, const evb_matcher *m,
                            const char *text, size_t len, size_t *hits)
{
    both b;
    if (!both_parse(&b, text, len)) {
        both_fini(&b);
        return 1;
    }
    size_t bad = 0;
    for (size_t i = 0; i < npats; i++) {
        if (pats[i] == NULL)
            continue;
        int a = evb_pattern_match(pats[i], b.js);
        int v = evb_pattern_match_view(pats[i], &b.view);
        int p = evb_pattern_match_view(pats[i], &b.plain);
        *hits += (size_t)a;
        if (a != v || a != p) {
            if (bad++ < 3)
                fprintf(stderr, "  pattern %zu, event %.*s: json %d, view %d, plain %d\n", i,
                        (int)len, text, a, v, p);
        }
    }
    uint64_t ids_j[512], ids_v[512], ids_p[512], want[512];
    size_t nj = 0, nv = 0, np = 0, nw = 0;
    for (size_t i = 0; i < npats && nw < 512; i++) /* rule 100 + i, added in order */
        if (pats[i] != NULL && evb_pattern_match(pats[i], b.js))
            want[nw++] = 100 + i;
    evb_err rj = evb_matcher_match(m, b.js, ids_j, 512, &nj);
    evb_err rv = evb_matcher_match_view(m, &b.view, ids_v, 512, &nv);
    evb_err rp = evb_matcher_match_view(m, &b.plain, ids_p, 512, &np);
    if (rj != EVB_OK || rv != EVB_OK || rp != EVB_OK || nj != nv || nj != np || nj != nw ||
        memcmp(ids_j, want, nj * sizeof *ids_j) != 0 ||
        memcmp(ids_j, ids_v, nj * sizeof *ids_j) != 0 ||
        memcmp(ids_j, ids_p, nj * sizeof *ids_j) != 0) {
        bad++;
        fprintf(stderr, "  matcher, event %.*s: json %zu rules, view %zu, plain %zu, alone %zu\n",
                (int)len, text, nj, nv, np, nw);
    }
    both_fini(&b);
    return bad;
}

static evb_matcher *matcher_of(evb_pattern *const *pats, size_t n)
{
    evb_matcher *m = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_matcher_new(&m), EVB_OK);
    for (size_t i = 0; i < n; i++)
        if (pats[i] != NULL)
            CU_ASSERT_EQUAL(evb_matcher_add(m, pats[i], 100 + i), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_matcher_build(m), EVB_OK);
    return m;
}

static void test_corpus(void)
{
    enum { NP = sizeof PATTERNS / sizeof PATTERNS[0], NE = sizeof EVENTS / sizeof EVENTS[0] };
    evb_pattern *pats[NP];
    for (size_t i = 0; i < NP; i++) {
        char *t = dq(PATTERNS[i]);
        evb_error err;
        pats[i] = NULL;
        evb_err rc = evb_pattern_compile(t, strlen(t), 0, &pats[i], &err);
        EVB_CHECK_ROW(rc == EVB_OK, "pattern %s: %s", t, err.message);
        free(t);
    }
    evb_matcher *m = matcher_of(pats, NP);
    size_t bad = 0, hits = 0;
    for (size_t e = 0; e < NE; e++) {
        char *t = dq(EVENTS[e]);
        bad += compare_event(pats, NP, m, t, strlen(t), &hits);
        free(t);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(hits > NE); /* the corpus exercises matches, not only misses */
    evb_matcher_free(m);
    for (size_t i = 0; i < NP; i++)
        evb_pattern_free(pats[i]);
}

static evb_err compile_ok(const char *text, evb_pattern **out)
{
    return evb_pattern_compile(text, strlen(text), 0, out, NULL);
}

/* Embedded U+0000 in a string (patterns cannot hold one): the view sees the bytes after it
 * too, so "a\u0000b" ends with "b" and "a\u0000" is not "a". */
static void test_nul_bytes(void)
{
    static const char ev[] = "{\"s\":\"a\\u0000b\",\"t\":\"a\\u0000\"}";
    evb_pattern *p = NULL, *q = NULL;
    CU_ASSERT_EQUAL_FATAL(compile_ok("{\"s\":[{\"suffix\":\"b\"}]}", &p), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(compile_ok("{\"t\":[\"a\"]}", &q), EVB_OK);
    both b;
    CU_ASSERT_FATAL(both_parse(&b, ev, sizeof ev - 1));
    CU_ASSERT_EQUAL(evb_pattern_match(p, b.js), 1);
    CU_ASSERT_EQUAL(evb_pattern_match_view(p, &b.view), 1);
    CU_ASSERT_EQUAL(evb_pattern_match_view(p, &b.plain), 1);
    CU_ASSERT_EQUAL(evb_pattern_match(q, b.js), 0);
    CU_ASSERT_EQUAL(evb_pattern_match_view(q, &b.view), 0);
    CU_ASSERT_EQUAL(evb_pattern_match_view(q, &b.plain), 0);
    both_fini(&b);
    evb_pattern_free(p);
    evb_pattern_free(q);
}

/* An event past every inline buffer of the flattener (leaves, paths, chains, the walk's path
 * and chain): 600 array elements, a 300-byte key, arrays nested 40 deep. */
static void test_big_event(void)
{
    size_t cap = 64 * 1024, n = 0;
    char *t = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    n += (size_t)snprintf(t + n, cap - n, "{\"big\":[");
    for (int i = 0; i < 600; i++)
        n += (size_t)snprintf(t + n, cap - n, "%s{\"k\":%d,\"s\":\"v%d\",\"a\":[%d,[%d]]}",
                              i ? "," : "", i, i % 7, i, -i);
    n += (size_t)snprintf(t + n, cap - n, "],\"");
    for (int i = 0; i < 300; i++)
        t[n++] = (char)('a' + i % 26);
    n += (size_t)snprintf(t + n, cap - n, "\":{\"x\":1},\"deep\":");
    for (int i = 0; i < 40; i++)
        t[n++] = '[';
    n += (size_t)snprintf(t + n, cap - n, "{\"z\":2}");
    for (int i = 0; i < 40; i++)
        t[n++] = ']';
    n += (size_t)snprintf(t + n, cap - n, "}");
    static const char *const pats[] = {
        "{'big':{'k':[599],'s':['v4']}}", /* 599 % 7 == 4: the same element */
        "{'big':{'k':[599],'s':['v5']}}", /* other elements only: no */
        "{'big':{'a':[-598],'k':[598]}}",
        "{'big':{'a':[-598],'k':[597]}}",
        "{'deep':{'z':[2]},'big':{'k':[{'numeric':['>',598]}]}}",
        "{'"
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"
        "mnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwx"
        "yz"
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"
        "mn"
        "opqrstuvwxyzabcdefghijklmn':{'x':[1]}}",
        "{'big':{'s':[{'exists':false}]}}",
    };
    static const int want[] = {1, 0, 1, 0, 1, 1, 0};
    enum { NP = sizeof pats / sizeof pats[0] };
    evb_pattern *p[NP];
    for (size_t i = 0; i < NP; i++) {
        char *pt = dq(pats[i]);
        p[i] = NULL;
        evb_err rc = compile_ok(pt, &p[i]); /* EVB_CHECK_ROW evaluates its condition twice */
        EVB_CHECK_ROW(rc == EVB_OK, "pattern %zu", i);
        free(pt);
    }
    evb_matcher *m = matcher_of(p, NP);
    size_t hits = 0;
    CU_ASSERT_EQUAL(compare_event(p, NP, m, t, n, &hits), 0);
    both b;
    CU_ASSERT_FATAL(both_parse(&b, t, n));
    for (size_t i = 0; i < NP; i++)
        EVB_CHECK_ROW(p[i] != NULL && evb_pattern_match_view(p[i], &b.view) == want[i],
                      "big event, pattern %zu: want %d", i, want[i]);
    both_fini(&b);
    evb_matcher_free(m);
    for (size_t i = 0; i < NP; i++)
        evb_pattern_free(p[i]);
    free(t);
}

/* Duplicate keys: neither parser gives an event to match. */
static void test_duplicates(void)
{
    static const char *const dups[] = {"{'a':1,'a':2}", "{'a':{'b':1,'b':1}}",
                                       "{'x':[{'k':'v','k':'w'}]}"};
    for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
        char *t = dq(dups[i]);
        evb_json_doc *doc = NULL;
        json_t *js = json_loads(t, JFLAGS, NULL);
        EVB_CHECK_ROW(js == NULL, "jansson accepts %s", t);
        evb_err rc = evb_json_parse(t, strlen(t), 0, &doc, NULL);
        EVB_CHECK_ROW(rc == EVB_ERR_PARSE, "evb_json accepts %s", t);
        json_decref(js);
        evb_json_doc_free(doc);
        free(t);
    }
}

/* Views: absent members, a NULL view, a member shadowing nothing. */
static void test_view_api(void)
{
    evb_pattern *p = NULL, *q = NULL;
    CU_ASSERT_EQUAL_FATAL(compile_ok("{\"a\":[\"x\"]}", &p), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(compile_ok("{\"b\":[{\"exists\":false}]}", &q), EVB_OK);
    evb_pattern_member ms[2] = {{"a", 1, "x", 1, NULL}, {"b", 1, NULL, 0, NULL}};
    evb_pattern_view v = {ms, 2};
    CU_ASSERT_EQUAL(evb_pattern_match_view(p, &v), 1);
    CU_ASSERT_EQUAL(evb_pattern_match_view(q, &v), 1); /* b: neither str nor json = absent */
    CU_ASSERT_EQUAL(evb_pattern_match_view(p, NULL), 0);
    CU_ASSERT_EQUAL(evb_pattern_match_view(NULL, &v), 0);
    ms[0].name_len = 0; /* a member named "" */
    CU_ASSERT_EQUAL(evb_pattern_match_view(p, &v), 0);
    evb_matcher *m = NULL;
    uint64_t ids[2];
    size_t n = 9;
    CU_ASSERT_EQUAL_FATAL(evb_matcher_new(&m), EVB_OK);
    CU_ASSERT_EQUAL(evb_matcher_match_view(m, &v, ids, 2, &n), EVB_ERR_INVALID); /* unbuilt */
    CU_ASSERT_EQUAL(evb_matcher_add(m, q, 1), EVB_OK);
    CU_ASSERT_EQUAL_FATAL(evb_matcher_build(m), EVB_OK);
    CU_ASSERT_EQUAL(evb_matcher_match_view(m, NULL, ids, 2, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(evb_matcher_match_view(m, &v, ids, 2, &n), EVB_OK);
    CU_ASSERT_EQUAL(n, 1);
    evb_matcher_free(m);
    evb_pattern_free(p);
    evb_pattern_free(q);
}

/* ---- randomized ------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Numbers as text, so the parsers see every spelling. */
static const char *const NUMS[] = {
    "0",
    "-0",
    "0.0",
    "-0.0e0",
    "1",
    "1.0",
    "1e0",
    "10e-1",
    "1.5",
    "-2",
    "300",
    "3e2",
    "3E+2",
    "2.5e-3",
    "1e20",
    "100000000000000000000",
    "9007199254740992",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551616",
    "1e308",
    "-1e-320",
};
static const char *const STRS[] = {
    "\"x\"",        "\"y\"",
    "\"\"",         "\"X\"",
    "\"xy\"",       "\"10.0.0.7\"",
    "\"\\u00e9\"",  "\"\\u00c9\"",
    "\"x\\u0000\"", "\"\\u0000y\"",
    "\"\\\"\"",     "\"\\\\\"",
    "\"x\\ny\"",    "\"\\ud83d\\ude00\"",
    "\"\\u0078\"",
};
static const char *const KEYS[] = {"a", "b", "c", "d", "x", "y", "data", "a.b", "\\u0061"};
static const char *const PATHS[] = {"a", "b", "c", "a.x", "a.b", "d.y", "data.a", "data.x.y"};

typedef struct sbuf {
    char s[8192];
    size_t n;
} sbuf;

static void put(sbuf *b, const char *s)
{
    size_t l = strlen(s);
    if (b->n + l < sizeof b->s) {
        memcpy(b->s + b->n, s, l);
        b->n += l;
        b->s[b->n] = '\0';
    }
}

static void rand_scalar(sbuf *b)
{
    uint32_t r = rnd(10);
    if (r < 4)
        put(b, NUMS[rnd(sizeof NUMS / sizeof NUMS[0])]);
    else if (r < 8)
        put(b, STRS[rnd(sizeof STRS / sizeof STRS[0])]);
    else
        put(b, r == 8 ? (rnd(2) ? "true" : "false") : "null");
}

static void rand_value(sbuf *b, int depth);

static void rand_object(sbuf *b, int depth)
{
    /* distinct keys: a duplicate would make both parsers reject the event */
    uint32_t used = 0;
    size_t n = rnd(depth == 0 ? 6 : 4);
    put(b, "{");
    for (size_t i = 0, k = 0; i < n; i++) {
        uint32_t key = rnd(sizeof KEYS / sizeof KEYS[0]);
        if (key == 8)
            key = 0; /* "\u0061" is "a": counts as a */
        if (used & (1u << key))
            continue;
        used |= 1u << key;
        put(b, k++ ? ",\"" : "\"");
        put(b, rnd(8) == 0 && key == 0 ? "\\u0061" : KEYS[key]);
        put(b, "\":");
        rand_value(b, depth + 1);
    }
    put(b, "}");
}

static void rand_value(sbuf *b, int depth)
{
    uint32_t r = depth > 3 ? 0 : rnd(6);
    if (r <= 2) {
        rand_scalar(b);
    } else if (r <= 4) {
        rand_object(b, depth);
    } else {
        size_t n = rnd(4);
        put(b, "[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                put(b, ",");
            rand_value(b, depth + 1);
        }
        put(b, "]");
    }
}

static void rand_op(sbuf *b)
{
    const char *s = STRS[rnd(sizeof STRS / sizeof STRS[0])];
    const char *num = NUMS[rnd(sizeof NUMS / sizeof NUMS[0])];
    switch (rnd(14)) {
    case 0:
        put(b, "{\"prefix\":");
        put(b, s);
        put(b, "}");
        break;
    case 1:
        put(b, "{\"suffix\":");
        put(b, s);
        put(b, "}");
        break;
    case 2:
        put(b, "{\"equals-ignore-case\":");
        put(b, s);
        put(b, "}");
        break;
    case 3:
        put(b, "{\"contains\":");
        put(b, s);
        put(b, "}");
        break;
    case 4:
        put(b, "{\"anything-but\":");
        put(b, s);
        put(b, "}");
        break;
    case 5:
        put(b, "{\"anything-but\":");
        put(b, num);
        put(b, "}");
        break;
    case 6:
        put(b, "{\"numeric\":[\">\",");
        put(b, num);
        put(b, "]}");
        break;
    case 7:
        put(b, "{\"numeric\":[\"<=\",");
        put(b, num);
        put(b, "]}");
        break;
    case 8:
        put(b, "{\"numeric\":[\"=\",");
        put(b, num);
        put(b, "]}");
        break;
    case 9:
        put(b, rnd(2) ? "{\"exists\":true}" : "{\"exists\":false}");
        break;
    case 10:
        put(b, "{\"wildcard\":\"*y\"}");
        break;
    case 11:
        put(b, "{\"cidr\":\"10.0.0.0/24\"}");
        break;
    default:
        rand_scalar(b);
        break;
    }
}

static void rand_pattern(sbuf *b, int depth)
{
    uint32_t used = 0;
    size_t n = 1 + rnd(3);
    put(b, "{");
    for (size_t i = 0, k = 0; i < n; i++) {
        uint32_t p = rnd(sizeof PATHS / sizeof PATHS[0]);
        if (used & (1u << p))
            continue;
        used |= 1u << p;
        put(b, k++ ? ",\"" : "\"");
        put(b, PATHS[p]);
        put(b, "\":[");
        size_t m = 1 + rnd(3);
        for (size_t j = 0; j < m; j++) {
            if (j)
                put(b, ",");
            if (rnd(2))
                rand_op(b);
            else
                rand_scalar(b);
        }
        put(b, "]");
    }
    if (depth == 0 && rnd(4) == 0) {
        put(b, ",\"$or\":[");
        rand_pattern(b, 1);
        put(b, ",");
        rand_pattern(b, 1);
        put(b, "]");
    }
    put(b, "}");
}

static void test_random(void)
{
    enum { N_RULES = 300, N_EVENTS = 3000 };
    const char *env = getenv("EVB_PATTERN_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 20261129;
    rng_state = seed ? seed : 1;
    evb_pattern **pats = calloc(N_RULES, sizeof *pats);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pats);
    size_t compiled = 0;
    for (size_t i = 0; i < N_RULES; i++) {
        sbuf b = {.n = 0};
        rand_pattern(&b, 0);
        compiled += evb_pattern_compile(b.s, b.n, 0, &pats[i], NULL) == EVB_OK;
    }
    CU_ASSERT(compiled > N_RULES / 2);
    evb_matcher *m = matcher_of(pats, N_RULES);
    size_t bad = 0, hits = 0;
    for (size_t e = 0; e < N_EVENTS; e++) {
        sbuf b = {.n = 0};
        rand_object(&b, 0);
        size_t k = compare_event(pats, N_RULES, m, b.s, b.n, &hits);
        if (k > 0 && bad < 5)
            fprintf(stderr, "  (seed %llu, event %zu)\n", (unsigned long long)seed, e);
        bad += k;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(hits > N_EVENTS); /* the events do match rules */
    evb_matcher_free(m);
    for (size_t i = 0; i < N_RULES; i++)
        evb_pattern_free(pats[i]);
    free(pats);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"corpus: every pattern x every event, json == view", test_corpus},
        {"embedded U+0000", test_nul_bytes},
        {"an event past the inline buffers", test_big_event},
        {"duplicate keys rejected by both parsers", test_duplicates},
        {"view api", test_view_api},
        {"random patterns x random events, json == view", test_random},
        {NULL, NULL},
    };
    return evb_unit_run("routing_pattern_view", cases);
}
