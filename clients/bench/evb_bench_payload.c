/* evb-bench — realistic std.customer / std.contract change events, and pre-encoded requests.
 *
 * Payloads follow the standard data models (registry/models/std.customer.json,
 * std.contract.json; docs/data-models.md): a CRM's customer record with 1-4 contacts, 1-2
 * addresses, tags and custom fields, and a contract with 1-3 parties and 1-3 lines, so sizes
 * vary around 1 KiB; the "big" case is a contract with enough lines for ~16 KiB. Enum values
 * (status) come from the schema the server returns (GetSchema) when given; evb-bench checks
 * every generated payload with ValidatePayload before the run.
 *
 * Requests are encoded once with protobuf-c. Each entry carries an id "b-<16 hex>" and an
 * extension benchts=<16 digits> (publish time, µs of CLOCK_MONOTONIC) whose bytes are
 * overwritten in place before every send (fixed width, so the encoding stays valid): a
 * publisher does no encoding per call, and every event has a unique id (the server's
 * de-duplication looks each one up) and its own publish timestamp for end-to-end latency.
 */
#include "evb_bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbridge/v1/events.pb-c.h"

typedef struct sb {
    char *p;
    size_t len, cap;
    int oom;
} sb;

static void sb_add(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sb *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 2048) + (size_t)n;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static const char *const companies[] = {
    "Acme Trading",  "Blue River Foods", "Jade Mountain Tech", "Harbour Logistics",
    "Golden Wheat",  "Silk Road Imports", "Northwind Tools",   "Eastern Pearl Textiles"};
static const char *const people[] = {"Li Wei",   "Chen Jing", "Wang Fang", "Zhang Min",
                                     "Liu Yang", "Zhao Lei",  "Sun Li",    "Zhou Qiang"};
static const char *const roles[] = {"purchasing", "finance", "logistics", "legal", "it"};
static const char *const cities[][3] = {{"Hangzhou", "Zhejiang", "310000"},
                                        {"Ningbo", "Zhejiang", "315000"},
                                        {"Suzhou", "Jiangsu", "215000"},
                                        {"Shenzhen", "Guangdong", "518000"}};
static const char *const tags[] = {"key-account", "east", "wholesale", "retail", "vip", "new"};
static const char *const cust_status[] = {"lead", "prospect", "active", "inactive", "archived"};
static const char *const ctr_status[] = {"draft", "pending_approval", "active", "suspended",
                                         "expired"};

static unsigned mix(unsigned v)
{
    v ^= v >> 16;
    v *= 0x7feb352dU;
    v ^= v >> 15;
    v *= 0x846ca68bU;
    v ^= v >> 16;
    return v;
}

static const char *pick_status(const bench_model_hints *h, bench_model m, unsigned v)
{
    if (h != NULL && h->n_status[m] > 0)
        return h->status[m][v % h->n_status[m]];
    return m == BENCH_CUSTOMER ? cust_status[v % 5] : ctr_status[v % 5];
}

static void slug(char *out, size_t cap, const char *name)
{
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < cap; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            out[j++] = (char)(c - 'A' + 'a');
        else if (c >= 'a' && c <= 'z')
            out[j++] = c;
        else if (c == ' ')
            out[j++] = '.';
    }
    out[j] = 0;
}

static void customer(sb *b, unsigned v, const bench_model_hints *h, char *subject, size_t scap)
{
    unsigned r = mix(v + 1);
    const char *co = companies[r % 8];
    char dom[48];
    slug(dom, sizeof dom, co);
    snprintf(subject, scap, "cus_%08X", r);
    sb_add(b, "{\"id\":\"%s\",\"external_ids\":[{\"system\":\"xbongbong-crm\",\"id\":\"%u\","
              "\"url\":\"https://crm.example.com/customers/%u\"}",
           subject, r % 100000, r % 100000);
    if (v % 2)
        sb_add(b, ",{\"system\":\"kingdee-erp\",\"id\":\"C-%06u\"}", r % 1000000);
    sb_add(b, "],\"kind\":\"%s\",\"name\":\"%s\",\"legal_name\":\"%s Co., Ltd.\","
              "\"tax_id\":\"91330100MA2%07X\",\"status\":\"%s\",\"industry\":\"wholesale\","
              "\"website\":\"https://%s.example\",\"email\":\"ap@%s.example\","
              "\"phone\":\"+86 571 8888 %04u\"",
           v % 7 == 3 ? "person" : "company", co, co, r & 0xFFFFFFF, pick_status(h, 0, r >> 3),
           dom, dom, r % 10000);
    unsigned nc = (v / 2) % 3;
    if (nc > 0)
        sb_add(b, ",\"contacts\":[");
    for (unsigned i = 0; i < nc; i++) {
        const char *p = people[(r + i) % 8];
        char mail[32];
        slug(mail, sizeof mail, p);
        sb_add(b, "%s{\"id\":\"ct_%u\",\"name\":\"%s\",\"email\":\"%s@%s.example\","
                  "\"phone\":\"+86138%08u\",\"role\":\"%s\",\"job_title\":\"%s manager\"%s}",
               i ? "," : "", i + 1, p, mail, dom, (r + i * 7919) % 100000000,
               roles[(r + i) % 5], roles[(r + i) % 5], i == 0 ? ",\"primary\":true" : "");
    }
    const char *const *c1 = cities[r % 4];
    sb_add(b, "%s\"billing_address\":{\"line1\":\"%u West Lake Road\",\"line2\":\"Building %u\","
              "\"city\":\"%s\",\"region\":\"%s\",\"postal_code\":\"%s\",\"country\":\"CN\"}",
           nc > 0 ? "]," : ",", 1 + r % 200, 1 + r % 9, c1[0], c1[1], c1[2]);
    if (v % 3 != 0) {
        const char *const *c2 = cities[(r >> 4) % 4];
        sb_add(b, ",\"shipping_address\":{\"line1\":\"%u Harbour Street\",\"city\":\"%s\","
                  "\"region\":\"%s\",\"postal_code\":\"%s\",\"country\":\"CN\"}",
               1 + (r >> 8) % 300, c2[0], c2[1], c2[2]);
    }
    sb_add(b, ",\"currency\":\"CNY\",\"credit_limit\":{\"amount\":\"%u.00\",\"currency\":\"CNY\"},"
              "\"payment_terms_days\":%u,\"owner\":{\"id\":\"u_%u\",\"name\":\"%s\","
              "\"email\":\"sales%u@vendor.example\"},\"tags\":[",
           10000 * (1 + r % 90), 15 * (1 + r % 4), r % 5000, people[(r >> 5) % 8], r % 50);
    unsigned nt = 1 + v % 4;
    for (unsigned i = 0; i < nt; i++)
        sb_add(b, "%s\"%s\"", i ? "," : "", tags[(r + i) % 6]);
    sb_add(b, "],\"custom_fields\":{\"crm_level\":\"%c\",\"sales_region\":\"east\","
              "\"annual_revenue\":%u,\"vip\":%s",
           'A' + (int)(r % 4), r % 50000000, r % 5 == 0 ? "true" : "false");
    if (v % 4 == 0)
        sb_add(b, ",\"segments\":[\"retail\",\"b2b\"],\"source_campaign\":\"spring-%u\"", r % 30);
    sb_add(b, "},\"created_at\":\"2026-%02u-%02uT08:30:00Z\","
              "\"updated_at\":\"2026-05-%02uT10:02:%02u.250+08:00\"}",
           1 + r % 4, 1 + r % 28, 1 + (r >> 3) % 28, r % 60);
}

static void contract_line(sb *b, unsigned i, unsigned r, int detail)
{
    unsigned qty = 100 * (1 + (r + i) % 120), price = 50 + (r + i * 13) % 200;
    sb_add(b, "%s{\"line_id\":\"%u\",\"product_id\":\"prd_%u\"", i ? "," : "", i + 1,
           5000 + (r + i) % 900);
    if (detail)
        sb_add(b, ",\"sku\":\"SKU-%05u\",\"description\":\"Widget model %u, carton of 12\"",
               (r + i * 31) % 100000, i + 1);
    sb_add(b, ",\"quantity\":\"%u\","
              "\"unit\":\"pcs\",\"unit_price\":{\"amount\":\"%u.50\",\"currency\":\"CNY\"},"
              "\"total\":{\"amount\":\"%u.00\",\"currency\":\"CNY\"}}",
           qty, price, qty * price + qty / 2);
}

static void contract(sb *b, unsigned v, int nlines, const bench_model_hints *h, char *subject,
                     size_t scap)
{
    unsigned r = mix(v + 7777);
    const char *co = companies[r % 8];
    snprintf(subject, scap, "ctr_2026_%06u", r % 1000000);
    sb_add(b, "{\"id\":\"%s\",\"external_ids\":[{\"system\":\"esign\",\"id\":\"ES-%05u\"}],"
              "\"number\":\"HT-2026-%04u\",\"name\":\"Annual supply 2026, %s\","
              "\"customer_id\":\"cus_%08X\",\"status\":\"%s\",\"parties\":[{\"role\":\"customer\","
              "\"name\":\"%s Co., Ltd.\",\"customer_id\":\"cus_%08X\",\"contact\":{"
              "\"name\":\"%s\",\"email\":\"signatory@acme.example\",\"role\":\"signatory\"}}",
           subject, r % 100000, r % 10000, co, r, pick_status(h, 1, r >> 3), co, r,
           people[r % 8]);
    unsigned np = 1 + (v / 2) % 2;
    if (np > 1)
        sb_add(b, ",{\"role\":\"vendor\",\"name\":\"Widget Works Ltd.\",\"contact\":{"
                  "\"name\":\"%s\",\"phone\":\"+86571%08u\"}}",
               people[(r >> 3) % 8], r % 100000000);
    if (np > 2)
        sb_add(b, ",{\"role\":\"guarantor\",\"name\":\"Zhejiang Credit Co.\"}");
    sb_add(b, "],\"start_date\":\"2026-01-%02u\",\"end_date\":\"2026-12-31\","
              "\"signed_at\":\"2025-12-%02uT14:00:00+08:00\",\"currency\":\"CNY\","
              "\"total_value\":{\"amount\":\"%u.00\",\"currency\":\"CNY\"},"
              "\"billing\":{\"frequency\":\"monthly\",\"payment_terms_days\":30}",
           1 + r % 28, 1 + r % 28, 100000 + r % 9000000);
    if (v % 2)
        sb_add(b, ",\"renewal\":{\"auto_renew\":%s,\"notice_days\":60}",
               v % 4 == 1 ? "true" : "false");
    sb_add(b, ",\"lines\":[");
    for (int i = 0; i < nlines; i++)
        contract_line(b, (unsigned)i, r, nlines > 3 || v % 2);
    sb_add(b, "]");
    if (v % 3 == 0)
        sb_add(b, ",\"attachments\":[{\"name\":\"Signed contract\","
                  "\"url\":\"https://files.example.com/c/HT-2026-%04u.pdf\","
                  "\"media_type\":\"application/pdf\"}]",
               r % 10000);
    sb_add(b, ",\"owner\":{\"id\":\"u_%u\",\"name\":\"%s\"},"
              "\"tags\":[\"annual\",\"framework\"],\"custom_fields\":{\"approval_flow\":\"AF-%u\","
              "\"region\":\"east\"},\"created_at\":\"2025-12-01T03:00:00Z\","
              "\"updated_at\":\"2025-12-%02uT06:00:00Z\"}",
           r % 5000, people[(r >> 6) % 8], r % 10000, 1 + (r >> 2) % 28);
}

int bench_payload_make(bench_model model, unsigned variant, int big, const bench_model_hints *hints,
                       bench_payload *out)
{
    memset(out, 0, sizeof *out);
    out->model = model;
    int nlines = big ? 60 : 1 + (int)(variant % 2);
    for (;;) {
        sb b = {0};
        if (model == BENCH_CUSTOMER)
            customer(&b, variant, hints, out->subject, sizeof out->subject);
        else
            contract(&b, variant, nlines, hints, out->subject, sizeof out->subject);
        if (b.oom) {
            free(b.p);
            return -1;
        }
        if (big && b.len < 16 * 1024 - 100 && model == BENCH_CONTRACT) {
            free(b.p);
            nlines++;
            continue;
        }
        out->json = b.p;
        out->len = b.len;
        return 0;
    }
}

void bench_payload_fini(bench_payload *p)
{
    free(p->json);
    memset(p, 0, sizeof *p);
}

/* ---- requests ---- */

static const uint8_t *find(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (hay[i] == (uint8_t)needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

int bench_req_build(const bench_req_spec *spec, bench_req *out)
{
    memset(out, 0, sizeof *out);
    size_t n = spec->batch;
    Evbridge__V1__PutEventsRequest req = EVBRIDGE__V1__PUT_EVENTS_REQUEST__INIT;
    Evbridge__V1__PutEventsEntry *ents = calloc(n, sizeof *ents);
    Evbridge__V1__PutEventsEntry **pents = calloc(n, sizeof *pents);
    Evbridge__V1__PutEventsEntry__ExtensionsEntry *exts = calloc(n, sizeof *exts);
    Evbridge__V1__PutEventsEntry__ExtensionsEntry **pexts = calloc(n, sizeof *pexts);
    char(*ids)[BENCH_ID_DIGITS + 8] = calloc(n, sizeof *ids);
    char(*tss)[BENCH_ID_DIGITS + 8] = calloc(n, sizeof *tss);
    int rc = -1;
    out->id_off = calloc(n, sizeof *out->id_off);
    out->ts_off = calloc(n, sizeof *out->ts_off);
    if (!ents || !pents || !exts || !pexts || !ids || !tss || !out->id_off || !out->ts_off)
        goto out;
    /* Placeholders: a distinct marker per entry so each one's offset is found unambiguously;
     * both are then overwritten before every send. */
    for (size_t i = 0; i < n; i++) {
        const bench_payload *p = &spec->payloads[(spec->first + i) % spec->n_payloads];
        Evbridge__V1__PutEventsEntry e = EVBRIDGE__V1__PUT_EVENTS_ENTRY__INIT;
        Evbridge__V1__PutEventsEntry__ExtensionsEntry x =
            EVBRIDGE__V1__PUT_EVENTS_ENTRY__EXTENSIONS_ENTRY__INIT;
        snprintf(ids[i], sizeof ids[i], "b-%c%c%014zx", 'Q', 'I', i);
        snprintf(tss[i], sizeof tss[i], "%c%c%014zu", 'Q', 'T', i);
        e.id = ids[i];
        e.org = (char *)spec->org;
        e.type = (char *)(p->model == BENCH_CUSTOMER ? spec->type_customer : spec->type_contract);
        e.subject = (char *)p->subject;
        e.datacontenttype = "application/json";
        e.data.data = (uint8_t *)p->json;
        e.data.len = p->len;
        x.key = "benchts";
        x.value = tss[i];
        exts[i] = x;
        pexts[i] = &exts[i];
        e.n_extensions = 1;
        e.extensions = &pexts[i];
        ents[i] = e;
        pents[i] = &ents[i];
        out->payload_bytes += p->len;
    }
    req.connector = (char *)spec->connector;
    req.n_entries = n;
    req.entries = pents;
    out->len = evbridge__v1__put_events_request__get_packed_size(&req);
    out->buf = malloc(out->len);
    if (out->buf == NULL)
        goto out;
    evbridge__v1__put_events_request__pack(&req, out->buf);
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *a = find(out->buf, out->len, ids[i]);
        const uint8_t *t = find(out->buf, out->len, tss[i]);
        if (a == NULL || t == NULL)
            goto out;
        out->id_off[i] = (size_t)(a - out->buf) + 2; /* after "b-" */
        out->ts_off[i] = (size_t)(t - out->buf);
    }
    rc = 0;
out:
    free(ents);
    free(pents);
    free(exts);
    free(pexts);
    free(ids);
    free(tss);
    if (rc != 0)
        bench_req_fini(out);
    return rc;
}

static void put_fixed(uint8_t *p, uint64_t v, unsigned base)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = BENCH_ID_DIGITS - 1; i >= 0; i--) {
        p[i] = (uint8_t)digits[v % base];
        v /= base;
    }
}

void bench_req_patch(bench_req *r, uint64_t *next_id, int64_t ts_us)
{
    for (size_t i = 0; i < r->n; i++) {
        put_fixed(r->buf + r->id_off[i], (*next_id)++, 16);
        put_fixed(r->buf + r->ts_off[i], (uint64_t)ts_us, 10);
    }
}

void bench_req_fini(bench_req *r)
{
    free(r->buf);
    free(r->id_off);
    free(r->ts_off);
    memset(r, 0, sizeof *r);
}
