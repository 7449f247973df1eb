/* evbridge — pattern_bench: events/s of the connection matcher at 10, 1,000 and 10,000
 * connections of one (org, connector).
 *
 * Each connection's pattern is typical of real use: it filters one of 8 event types plus a
 * data field with its own value (a customer id, a region prefix), and many add a numeric,
 * anything-but or prefix condition; 1 % filter only type + a numeric threshold (they cannot
 * be indexed on a value of their own). The event stream is realistic CloudEvents (context
 * attributes, orgid/connector extensions, a CRM payload with a nested object and an array)
 * built once as json_t, as the server does before matching. For each N the program builds
 * one evb_matcher; the stream is then matched in ROUNDS interleaved rounds (N=10, 1000,
 * 10000, N=10, ...) of S/ROUNDS seconds each, and the best rate per N is reported, so that
 * other load on the machine does not bias one N. It prints events/s per N, the ratio
 * N=10000 / N=10 (the goal is >= 0.33), and a final JSON object line.
 *
 * Usage: pattern_bench [--seconds S] (default 1 per N). A benchmark, not a test: it asserts
 * nothing about time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/routing/pattern.h"

#define NTYPES 8
#define NEVENTS 2048
#define CUSTOMERS 10000
#define ROUNDS 5

static const char *const TYPES[NTYPES] = {
    "crm.customer.created", "crm.customer.changed", "crm.customer.deleted", "crm.contract.signed",
    "crm.contract.changed", "crm.product.changed",  "crm.order.created",    "crm.order.paid"};

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pattern of connection i (JSON text into buf). */
static void pattern_text(size_t i, char *buf, size_t cap)
{
    const char *t = TYPES[i % NTYPES];
    if (i % 100 == 99) { /* not indexable on a value of its own */
        snprintf(buf, cap, "{\"type\":[\"%s\"],\"data\":{\"amount\":[{\"numeric\":[\">\",%zu]}]}}",
                 t, 900 + i % 100);
        return;
    }
    switch (i % 4) {
    case 0:
        snprintf(buf, cap, "{\"type\":[\"%s\"],\"data\":{\"customerId\":[\"cust-%zu\"]}}", t, i);
        break;
    case 1:
        snprintf(buf, cap,
                 "{\"type\":[\"%s\"],\"data\":{\"customerId\":[\"cust-%zu\"],"
                 "\"amount\":[{\"numeric\":[\">=\",%zu,\"<\",%zu]}]}}",
                 t, i, i % 500, 500 + i % 500);
        break;
    case 2:
        snprintf(buf, cap,
                 "{\"type\":[\"%s\"],\"data\":{\"region\":[{\"prefix\":\"r%zu-\"}],"
                 "\"status\":[{\"anything-but\":[\"deleted\",\"archived\"]}]}}",
                 t, i);
        break;
    default:
        snprintf(buf, cap,
                 "{\"type\":[\"%s\",\"%s\"],\"source\":[{\"prefix\":\"/connectors/\"}],"
                 "\"data\":{\"customerId\":[\"cust-%zu\",\"cust-%zu\"],"
                 "\"level\":[{\"anything-but\":{\"prefix\":\"test\"}}]}}",
                 t, TYPES[(i + 1) % NTYPES], i, i + 1);
        break;
    }
}

static json_t *make_event(size_t k)
{
    char id[32], cust[32], region[32], subject[48];
    size_t c = rnd(CUSTOMERS);
    snprintf(id, sizeof id, "evt-%zu", k);
    snprintf(cust, sizeof cust, "cust-%zu", c);
    snprintf(region, sizeof region, "r%u-east", rnd(CUSTOMERS));
    snprintf(subject, sizeof subject, "customers/%zu", c);
    static const char *const status[] = {"active", "active", "active", "deleted", "archived"};
    static const char *const level[] = {"gold", "silver", "bronze", "test-internal"};
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
                     " s:{s:s, s:s, s:i, s:s, s:s, s:s, s:{s:s, s:s, s:s},"
                     " s:[{s:s, s:i}, {s:s, s:i}], s:[s, s]}}",
                     "id", id, "source", "/connectors/xbongbong-crm", "specversion", "1.0", "type",
                     TYPES[rnd(NTYPES)], "subject", subject, "time", "2024-06-11T08:30:00Z",
                     "datacontenttype", "application/json", "dataschema", "evb:std.customer/3",
                     "orgid", "org-42", "connector", "xbongbong-crm", "data", "customerId", cust,
                     "name", "Example Trading Ltd", "amount", (int)rnd(1000), "region", region,
                     "status", status[rnd(5)], "level", level[rnd(4)], "address", "city",
                     "Hangzhou", "street", "1 West Lake Rd", "zip", "310000", "items", "sku", "P-1",
                     "qty", (int)rnd(9), "sku", "P-2", "qty", (int)rnd(9), "tags", "vip", "north");
}

typedef struct result {
    size_t n;
    double eps, build_ms, avg_matches;
    evb_pattern **pats;
    evb_matcher *m;
} result;

static int setup(size_t n, result *out)
{
    char buf[512];
    memset(out, 0, sizeof *out);
    out->n = n;
    out->pats = calloc(n, sizeof *out->pats);
    if (out->pats == NULL || evb_matcher_new(&out->m) != EVB_OK)
        return -1;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        evb_error err;
        pattern_text(i, buf, sizeof buf);
        if (evb_pattern_compile(buf, strlen(buf), 0, &out->pats[i], &err) != EVB_OK ||
            evb_matcher_add(out->m, out->pats[i], i) != EVB_OK) {
            fprintf(stderr, "pattern %zu: %s (%s)\n", i, err.message, buf);
            return -1;
        }
    }
    if (evb_matcher_build(out->m) != EVB_OK)
        return -1;
    out->build_ms = (now() - t0) * 1e3;
    return 0;
}

/* One timed round; keeps the best rate seen (other load on the machine only slows runs). */
static void measure(result *r, json_t **events, double seconds)
{
    uint64_t ids[256];
    size_t done = 0, matches = 0;
    double start = now(), end = start + seconds, t = start;
    while (t < end) {
        for (size_t k = 0; k < 256; k++) {
            size_t nm = 0;
            evb_matcher_match(r->m, events[(done + k) % NEVENTS], ids, 256, &nm);
            matches += nm;
        }
        done += 256;
        t = now();
    }
    double eps = (double)done / (t - start);
    if (eps > r->eps)
        r->eps = eps;
    r->avg_matches = (double)matches / (double)done;
}

static void teardown(result *r)
{
    evb_matcher_free(r->m);
    for (size_t i = 0; r->pats != NULL && i < r->n; i++)
        evb_pattern_free(r->pats[i]);
    free(r->pats);
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--seconds S]\n", argv[0]);
            return 2;
        }
    }
    json_t **events = malloc(NEVENTS * sizeof *events);
    if (events == NULL)
        return 1;
    for (size_t k = 0; k < NEVENTS; k++)
        events[k] = make_event(k);
    static const size_t sizes[] = {10, 1000, 10000};
    result res[3];
    for (size_t i = 0; i < 3; i++) {
        if (setup(sizes[i], &res[i]) != 0) {
            fprintf(stderr, "pattern_bench: setup failed at N=%zu\n", sizes[i]);
            return 1;
        }
    }
    for (int round = 0; round < ROUNDS; round++) /* interleaved, best of ROUNDS per N */
        for (size_t i = 0; i < 3; i++)
            measure(&res[i], events, seconds / ROUNDS);
    for (size_t i = 0; i < 3; i++)
        printf("connections=%-6zu events/s=%-10.0f build_ms=%-8.1f matches/event=%.3f\n", res[i].n,
               res[i].eps, res[i].build_ms, res[i].avg_matches);
    double ratio = res[2].eps / res[0].eps;
    printf("ratio N=10000/N=10: %.3f (goal >= 0.333)\n", ratio);
    printf("{\"bench\":\"pattern\",\"seconds_per_n\":%g,\"results\":[", seconds);
    for (size_t i = 0; i < 3; i++)
        printf("%s{\"connections\":%zu,\"events_per_sec\":%.0f,\"build_ms\":%.1f,"
               "\"matches_per_event\":%.3f}",
               i ? "," : "", res[i].n, res[i].eps, res[i].build_ms, res[i].avg_matches);
    printf("],\"ratio_10000_10\":%.3f}\n", ratio);
    for (size_t i = 0; i < 3; i++)
        teardown(&res[i]);
    for (size_t k = 0; k < NEVENTS; k++)
        json_decref(events[k]);
    free(events);
    return 0;
}
