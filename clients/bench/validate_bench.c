/* validate_bench — validations per second for the standard data models.
 *
 * A benchmark program, not a test: it prints figures and asserts nothing about time. For each
 * realistic payload (about 1 KiB per std model, a ~16 KiB order, and that order made invalid
 * by its last line) it runs three stages for a fixed time each, on one thread:
 *   parse           JSON text -> evb_json document (then freed), as ingest does first;
 *   validate        the compiled schema on a pre-parsed value (evb_schema_validate_value);
 *   parse+validate  from text (evb_schema_validate).
 * Each stage warms up, then runs ten slices of batches timed with CLOCK_MONOTONIC (a batch
 * lasts about a millisecond, so reading the clock costs nothing measurable); the figure is the
 * median slice rate. Every call's outcome is checked (valid stays valid, invalid stays
 * invalid), which also keeps the work observable.
 *
 * Formats are annotations (no EVB_SCHEMA_FORMAT_ASSERT), the server's default, and validation
 * stops at the first violation (limit 1), as ajv does without allErrors. --dump DIR writes the
 * schemas and payloads byte for byte, with a manifest, for the ajv side (clients/bench/ajv/);
 * clients/bench/run-validate.sh runs both and records the table in docs/benchmarks.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/buf.h"
#include "registry/json_value.h"
#include "registry/schema.h"
#include "registry/std_models.h"

/* ---- payloads ---------------------------------------------------------------------------- */

static const char customer_1k[] =
    "{\"id\":\"cus_01HZX3Y8K2\",\"external_ids\":[{\"system\":\"xbongbong-crm\",\"id\":\"88231\","
    "\"url\":\"https://crm.example.com/customers/88231\"},{\"system\":\"kingdee-erp\","
    "\"id\":\"C-000417\"}],\"kind\":\"company\",\"name\":\"Acme Trading\","
    "\"legal_name\":\"Acme Trading Co., Ltd.\",\"tax_id\":\"91330100MA2XXXXX0X\","
    "\"status\":\"active\",\"industry\":\"wholesale\",\"website\":\"https://acme.example\","
    "\"email\":\"ap@acme.example\",\"phone\":\"+86 571 8888 0000\",\"contacts\":["
    "{\"id\":\"ct_1\",\"name\":\"Li Wei\",\"email\":\"li.wei@acme.example\","
    "\"phone\":\"+8613800000000\",\"role\":\"purchasing\",\"job_title\":\"Purchasing manager\","
    "\"primary\":true},{\"id\":\"ct_2\",\"name\":\"Chen Jing\","
    "\"email\":\"chen.jing@acme.example\",\"phone\":\"+8613900000001\",\"role\":\"finance\","
    "\"job_title\":\"Accounts payable\"},{\"id\":\"ct_3\",\"name\":\"Wang Fang\","
    "\"email\":\"wang.fang@acme.example\",\"phone\":\"+86 571 8888 0102\","
    "\"role\":\"logistics\"}],\"billing_address\":{\"line1\":\"1 West Lake Road\","
    "\"line2\":\"Building 3, Floor 12\",\"city\":\"Hangzhou\",\"region\":\"Zhejiang\","
    "\"postal_code\":\"310000\",\"country\":\"CN\"},\"shipping_address\":{"
    "\"line1\":\"88 Harbour Street\",\"city\":\"Ningbo\",\"region\":\"Zhejiang\","
    "\"postal_code\":\"315000\",\"country\":\"CN\"},\"currency\":\"CNY\","
    "\"credit_limit\":{\"amount\":\"500000.00\",\"currency\":\"CNY\"},"
    "\"payment_terms_days\":30,\"owner\":{\"id\":\"u_1024\",\"name\":\"Zhang San\","
    "\"email\":\"zhang.san@vendor.example\"},\"tags\":[\"key-account\",\"east\",\"wholesale\"],"
    "\"custom_fields\":{\"crm_level\":\"A\",\"sales_region\":\"east\","
    "\"annual_revenue\":12500000,\"vip\":true,\"segments\":[\"retail\",\"b2b\"]},"
    "\"created_at\":\"2026-03-01T08:30:00Z\",\"updated_at\":\"2026-05-12T10:02:11.250+08:00\"}";

static const char product_1k[] =
    "{\"id\":\"prd_5531\",\"external_ids\":[{\"system\":\"kingdee-erp\",\"id\":\"M-10023\"},"
    "{\"system\":\"shop\",\"id\":\"P-5531\",\"url\":\"https://shop.example.com/p/5531\"}],"
    "\"sku\":\"WIDGET-XL-BLUE\",\"gtin\":\"06901234567892\",\"name\":\"Widget XL, blue\","
    "\"description\":\"Large widget in anodised aluminium, blue. Carton of 12, 14 kg. "
    "Suitable for indoor and sheltered outdoor use.\",\"status\":\"active\",\"type\":\"goods\","
    "\"category\":\"widgets\",\"unit\":\"pcs\",\"list_price\":{\"amount\":\"129.00\","
    "\"currency\":\"CNY\"},\"prices\":[{\"price_list\":\"wholesale\",\"unit_price\":{"
    "\"amount\":\"99.50\",\"currency\":\"CNY\"},\"min_quantity\":\"100\","
    "\"valid_from\":\"2026-01-01\",\"valid_to\":\"2026-12-31\"},{\"price_list\":\"dealer\","
    "\"unit_price\":{\"amount\":\"109.00\",\"currency\":\"CNY\"},\"min_quantity\":\"20\"},"
    "{\"price_list\":\"export\",\"unit_price\":{\"amount\":\"18.90\",\"currency\":\"USD\"},"
    "\"min_quantity\":\"500\"},{\"unit_price\":{\"amount\":\"17.50\",\"currency\":\"EUR\"}}],"
    "\"tax_code\":\"1090511\",\"owner\":{\"id\":\"u_2048\",\"name\":\"Liu Yang\","
    "\"email\":\"liu.yang@vendor.example\"},\"tags\":[\"bestseller\",\"aluminium\",\"blue\"],"
    "\"custom_fields\":{\"color\":\"blue\",\"weight_kg\":1.2,\"dimensions_cm\":[40,30,25],"
    "\"warehouse\":\"NB-02\",\"hazardous\":false},\"created_at\":\"2026-01-15T00:00:00Z\","
    "\"updated_at\":\"2026-04-02T09:15:00Z\"}";

static const char contract_1k[] =
    "{\"id\":\"ctr_2026_0042\",\"external_ids\":[{\"system\":\"esign\",\"id\":\"ES-99120\"}],"
    "\"number\":\"HT-2026-0042\",\"name\":\"Annual widget supply 2026\","
    "\"customer_id\":\"cus_01HZX3Y8K2\",\"status\":\"active\",\"parties\":[{\"role\":\"customer\","
    "\"name\":\"Acme Trading Co., Ltd.\",\"customer_id\":\"cus_01HZX3Y8K2\",\"contact\":{"
    "\"name\":\"Li Wei\",\"email\":\"li.wei@acme.example\",\"role\":\"signatory\"}},"
    "{\"role\":\"vendor\",\"name\":\"Widget Works Ltd.\",\"contact\":{\"name\":\"Zhang San\","
    "\"phone\":\"+8657100000000\"}},{\"role\":\"guarantor\",\"name\":\"Zhejiang Credit Co.\"}],"
    "\"start_date\":\"2026-01-01\",\"end_date\":\"2026-12-31\","
    "\"signed_at\":\"2025-12-20T14:00:00+08:00\",\"currency\":\"CNY\",\"total_value\":{"
    "\"amount\":\"1374000.00\",\"currency\":\"CNY\"},\"billing\":{\"frequency\":\"monthly\","
    "\"payment_terms_days\":30},\"renewal\":{\"auto_renew\":true,\"notice_days\":60},"
    "\"lines\":[{\"line_id\":\"1\",\"product_id\":\"prd_5531\",\"quantity\":\"12000\","
    "\"unit\":\"pcs\",\"unit_price\":{\"amount\":\"99.50\",\"currency\":\"CNY\"},"
    "\"total\":{\"amount\":\"1194000.00\",\"currency\":\"CNY\"}},{\"line_id\":\"2\","
    "\"product_id\":\"prd_5532\",\"quantity\":\"1500\",\"unit\":\"pcs\",\"unit_price\":{"
    "\"amount\":\"120.00\",\"currency\":\"CNY\"},\"total\":{\"amount\":\"180000.00\","
    "\"currency\":\"CNY\"}}],\"attachments\":[{\"name\":\"Signed contract\","
    "\"url\":\"https://files.example.com/c/HT-2026-0042.pdf\",\"media_type\":\"application/pdf\"}],"
    "\"owner\":{\"id\":\"u_1024\",\"name\":\"Zhang San\"},\"tags\":[\"annual\",\"framework\"],"
    "\"custom_fields\":{\"approval_flow\":\"AF-7781\",\"region\":\"east\"},"
    "\"created_at\":\"2025-12-01T03:00:00Z\",\"updated_at\":\"2025-12-20T06:00:00Z\"}";

/* The order's fields before and after "lines"; lines are generated (order_build). */
static const char order_head[] =
    "{\"id\":\"ord_778812\",\"external_ids\":[{\"system\":\"shop\",\"id\":\"SO-778812\"}],"
    "\"number\":\"SO-778812\",\"customer_id\":\"cus_01HZX3Y8K2\","
    "\"contract_id\":\"ctr_2026_0042\",\"status\":\"confirmed\",\"payment_status\":\"unpaid\","
    "\"order_date\":\"2026-05-12\",\"currency\":\"CNY\",\"lines\":[";

static const char order_tail_fmt[] =
    "],\"subtotal\":{\"amount\":\"%lld.%02lld\",\"currency\":\"CNY\"},"
    "\"tax_total\":{\"amount\":\"%lld.%02lld\",\"currency\":\"CNY\"},"
    "\"total\":{\"amount\":\"%lld.%02lld\",\"currency\":\"CNY\"},"
    "\"billing_address\":{\"line1\":\"1 West Lake Road\",\"city\":\"Hangzhou\","
    "\"region\":\"Zhejiang\",\"postal_code\":\"310000\",\"country\":\"CN\"},"
    "\"shipping_address\":{\"line1\":\"88 Harbour Street\",\"city\":\"Ningbo\","
    "\"region\":\"Zhejiang\",\"postal_code\":\"315000\",\"country\":\"CN\"},"
    "\"owner\":{\"id\":\"u_1024\",\"name\":\"Zhang San\"},\"tags\":[\"dealer\"],"
    "\"custom_fields\":{\"channel\":\"dealer-portal\",\"priority\":2},"
    "\"created_at\":\"2026-05-12T02:11:09Z\",\"updated_at\":\"2026-05-12T02:15:40Z\"}";

/* Builds an order with `lines` line items; `bad_last` puts a lower-case currency (fails its
 * pattern) in the last line's unit price, so the failure is found at the end of the walk. */
static evb_err order_build(size_t lines, bool bad_last, char **out, size_t *len)
{
    evb_buf b;
    evb_buf_init(&b, 0);
    evb_err rc = evb_buf_append_str(&b, order_head);
    long long subtotal = 0, tax_total = 0;
    for (size_t i = 0; i < lines && rc == EVB_OK; i++) {
        long long qty = 1 + (long long)(i * 7 % 50);
        long long price = 1000 + (long long)(i * 3791 % 90000); /* cents */
        long long net = qty * price, tax = net * 13 / 100;
        subtotal += net;
        tax_total += tax;
        const char *cur = bad_last && i + 1 == lines ? "cny" : "CNY";
        rc = evb_buf_printf(
            &b,
            "%s{\"line_id\":\"%zu\",\"product_id\":\"prd_%zu\",\"sku\":\"SKU-%zu-M\","
            "\"description\":\"Widget model %zu, carton of 12\",\"quantity\":\"%lld\","
            "\"unit\":\"pcs\",\"unit_price\":{\"amount\":\"%lld.%02lld\",\"currency\":\"%s\"},"
            "\"tax_rate\":\"13\",\"tax\":{\"amount\":\"%lld.%02lld\",\"currency\":\"CNY\"},"
            "\"total\":{\"amount\":\"%lld.%02lld\",\"currency\":\"CNY\"}}",
            i ? "," : "", i + 1, 5500 + i, 5500 + i, i + 1, qty, price / 100, price % 100, cur,
            tax / 100, tax % 100, (net + tax) / 100, (net + tax) % 100);
    }
    long long total = subtotal + tax_total;
    if (rc == EVB_OK)
        rc = evb_buf_printf(&b, order_tail_fmt, subtotal / 100, subtotal % 100, tax_total / 100,
                            tax_total % 100, total / 100, total % 100);
    if (rc == EVB_OK)
        rc = evb_buf_detach(&b, out, len);
    evb_buf_fini(&b);
    return rc;
}

/* ---- cases ------------------------------------------------------------------------------- */

typedef struct bench_case {
    const char *name;    /* "order-16k" */
    const char *subject; /* std model */
    const char *fixed;   /* static text, or NULL when generated */
    size_t lines;        /* generated orders: line items */
    bool expect_valid;
    /* filled by case_prepare */
    char *json;
    size_t len;
    const evb_std_model *model;
    evb_schema *schema;
    evb_json_doc *doc;
} bench_case;

static bench_case cases[] = {
    {"customer-1k", "std.customer", customer_1k, 0, true, NULL, 0, NULL, NULL, NULL},
    {"product-1k", "std.product", product_1k, 0, true, NULL, 0, NULL, NULL, NULL},
    {"contract-1k", "std.contract", contract_1k, 0, true, NULL, 0, NULL, NULL, NULL},
    {"order-1k", "std.order", NULL, 2, true, NULL, 0, NULL, NULL, NULL},
    {"order-16k", "std.order", NULL, 53, true, NULL, 0, NULL, NULL, NULL},
    {"order-16k-invalid", "std.order", NULL, 53, false, NULL, 0, NULL, NULL, NULL},
};
#define NCASES (sizeof cases / sizeof cases[0])

static evb_schema_result result; /* large (violations); one thread, reused */

static int case_prepare(bench_case *c)
{
    evb_error err;
    c->model = evb_std_model_find(c->subject);
    if (c->model == NULL) {
        fprintf(stderr, "validate_bench: no model %s\n", c->subject);
        return -1;
    }
    if (c->fixed != NULL) {
        c->len = strlen(c->fixed);
        c->json = malloc(c->len + 1);
        if (c->json == NULL)
            return -1;
        memcpy(c->json, c->fixed, c->len + 1);
    } else if (order_build(c->lines, !c->expect_valid, &c->json, &c->len) != EVB_OK) {
        fprintf(stderr, "validate_bench: cannot build %s\n", c->name);
        return -1;
    }
    const char *sj = c->model->schema_json;
    if (evb_schema_compile(sj, strlen(sj), NULL, &c->schema, &err) != EVB_OK ||
        evb_json_parse(c->json, c->len, 0, &c->doc, &err) != EVB_OK) {
        fprintf(stderr, "validate_bench: %s: %s (at %s)\n", c->name, err.message, err.pointer);
        return -1;
    }
    result.limit = 1;
    if (evb_schema_validate_value(c->schema, evb_json_root(c->doc), &result, &err) != EVB_OK ||
        result.valid != c->expect_valid) {
        fprintf(stderr, "validate_bench: %s: expected %s, got %s %s %s\n", c->name,
                c->expect_valid ? "valid" : "invalid", result.valid ? "valid" : "invalid",
                result.count ? result.violations[0].instance_path : "",
                result.count ? result.violations[0].message : err.message);
        return -1;
    }
    return 0;
}

static void case_release(bench_case *c)
{
    evb_json_doc_free(c->doc);
    evb_schema_free(c->schema);
    free(c->json);
}

/* ---- stages ------------------------------------------------------------------------------ */

static volatile int sink; /* keeps parse results observable */

/* Each stage does one operation and returns 0 when the outcome is the expected one. */
static int stage_parse(const bench_case *c)
{
    evb_json_doc *d;
    if (evb_json_parse(c->json, c->len, 0, &d, NULL) != EVB_OK)
        return -1;
    sink = (int)evb_json_size(evb_json_root(d));
    evb_json_doc_free(d);
    return 0;
}

static int stage_validate(const bench_case *c)
{
    result.limit = 1;
    if (evb_schema_validate_value(c->schema, evb_json_root(c->doc), &result, NULL) != EVB_OK)
        return -1;
    return result.valid == c->expect_valid ? 0 : -1;
}

static int stage_parse_validate(const bench_case *c)
{
    result.limit = 1;
    if (evb_schema_validate(c->schema, c->json, c->len, &result, NULL) != EVB_OK)
        return -1;
    return result.valid == c->expect_valid ? 0 : -1;
}

typedef struct stage {
    const char *name; /* also the JSON key */
    int (*run)(const bench_case *c);
} stage;

static const stage stages[] = {
    {"parse", stage_parse},
    {"validate", stage_validate},
    {"parse_validate", stage_parse_validate},
};
#define NSTAGES (sizeof stages / sizeof stages[0])

/* Each stage runs as NSLICES consecutive slices; the figure is the median slice rate, so a
 * short burst of other work on the machine moves it less than it moves the mean. */
#define NSLICES 10

typedef struct figures {
    uint64_t ops;     /* over all slices */
    double secs;      /* over all slices */
    double ops_per_s; /* median of the slices' rates */
} figures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs batches until `seconds` have passed; adds to *ops and *secs. */
static int run_for(const stage *st, const bench_case *c, uint64_t batch, double seconds,
                   uint64_t *ops, double *secs)
{
    uint64_t n = 0;
    double start = now_s(), t;
    do {
        for (uint64_t i = 0; i < batch; i++)
            if (st->run(c) != 0)
                return -1;
        n += batch;
        t = now_s();
    } while (t - start < seconds);
    *ops += n;
    *secs += t - start;
    return 0;
}

/* Warms up for a tenth of the time (at most 0.5 s) while growing the batch until one lasts
 * about a millisecond, then measures NSLICES slices of seconds / NSLICES. */
static int measure(const stage *st, const bench_case *c, double seconds, figures *out)
{
    uint64_t batch = 1;
    double warm = seconds / 10 > 0.5 ? 0.5 : seconds / 10;
    double t0 = now_s(), t = t0;
    while (t - t0 < warm) {
        double b0 = t;
        for (uint64_t i = 0; i < batch; i++)
            if (st->run(c) != 0)
                return -1;
        t = now_s();
        if (t - b0 < 1e-3 && batch < (UINT64_C(1) << 30))
            batch *= 2;
    }
    double rate[NSLICES];
    out->ops = 0;
    out->secs = 0;
    for (int i = 0; i < NSLICES; i++) {
        uint64_t ops = 0;
        double secs = 0;
        if (run_for(st, c, batch, seconds / NSLICES, &ops, &secs) != 0)
            return -1;
        rate[i] = (double)ops / secs;
        out->ops += ops;
        out->secs += secs;
    }
    qsort(rate, NSLICES, sizeof rate[0], cmp_double);
    out->ops_per_s = (rate[(NSLICES - 1) / 2] + rate[NSLICES / 2]) / 2;
    return 0;
}

/* ---- output ------------------------------------------------------------------------------ */

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "validate_bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fwrite(data, 1, len, f);
    if (fclose(f) != 0 || n != len) {
        fprintf(stderr, "validate_bench: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* Writes <subject>.schema.json, <case>.json and manifest.json into dir (created if absent). */
static int dump(const char *dir, const bool selected[])
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "validate_bench: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    evb_buf m;
    evb_buf_init(&m, 0);
    int rc = evb_buf_append_str(&m, "{\"cases\":[") == EVB_OK ? 0 : -1;
    bool first = true;
    for (size_t i = 0; i < NCASES && rc == 0; i++) {
        const bench_case *c = &cases[i];
        if (!selected[i])
            continue;
        char schema_name[256], payload_name[256];
        snprintf(schema_name, sizeof schema_name, "%s.schema.json", c->subject);
        snprintf(payload_name, sizeof payload_name, "%s.json", c->name);
        const char *sj = c->model->schema_json;
        if (write_file(dir, schema_name, sj, strlen(sj)) != 0 ||
            write_file(dir, payload_name, c->json, c->len) != 0 ||
            evb_buf_printf(&m,
                           "%s\n{\"name\":\"%s\",\"subject\":\"%s\",\"schema\":\"%s\","
                           "\"payload\":\"%s\",\"bytes\":%zu,\"valid\":%s}",
                           first ? "" : ",", c->name, c->subject, schema_name, payload_name, c->len,
                           c->expect_valid ? "true" : "false") != EVB_OK)
            rc = -1;
        first = false;
    }
    if (rc == 0 && evb_buf_append_str(&m, "\n]}\n") != EVB_OK)
        rc = -1;
    if (rc == 0)
        rc = write_file(dir, "manifest.json", m.data, m.len);
    evb_buf_fini(&m);
    return rc;
}

/* Stages not run (--stage) have ops == 0 and are left out. */
static void print_json_case(const bench_case *c, const figures f[NSTAGES], bool first)
{
    printf("%s\n{\"name\":\"%s\",\"subject\":\"%s\",\"bytes\":%zu,\"valid\":%s", first ? "" : ",",
           c->name, c->subject, c->len, c->expect_valid ? "true" : "false");
    for (size_t s = 0; s < NSTAGES; s++)
        if (f[s].ops > 0)
            printf(",\"%s\":{\"ops\":%llu,\"secs\":%.6f,\"ops_per_s\":%.1f,"
                   "\"us_per_op\":%.4f}",
                   stages[s].name, (unsigned long long)f[s].ops, f[s].secs, f[s].ops_per_s,
                   1e6 / f[s].ops_per_s);
    printf("}");
}

static void print_text_case(const bench_case *c, const figures f[NSTAGES])
{
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%zu", c->len);
    bool first = true;
    for (size_t s = 0; s < NSTAGES; s++) {
        if (f[s].ops == 0)
            continue;
        printf("%-18s %6s  %-15s %12.0f %10.2f\n", first ? c->name : "", first ? bytes : "",
               stages[s].name, f[s].ops_per_s, 1e6 / f[s].ops_per_s);
        first = false;
    }
}

static void usage(FILE *to)
{
    fprintf(
        to,
        "usage: validate_bench [--seconds S] [--dump DIR [--no-run]] [--json] [--case NAME]...\n"
        "                      [--stage S]...\n"
        "  --seconds S  measuring time per stage and payload (default 2)\n"
        "  --dump DIR   write the schemas, payloads and manifest.json to DIR\n"
        "  --no-run     with --dump: write the files and exit\n"
        "  --json       print the figures as JSON instead of a table\n"
        "  --case NAME  only this payload (repeatable); --list shows the names\n"
        "  --stage S    only this stage (repeatable): parse, validate, parse_validate\n");
}

typedef struct options {
    double seconds;
    const char *dump_dir;
    bool json, no_run;
    bool selected[NCASES];
    bool stage_on[NSTAGES];
} options;

/* Index of name in a table of `n` entries `size` bytes apart whose first member is the name,
 * or n when absent. */
static size_t find_name(const void *table, size_t n, size_t size, const char *name)
{
    size_t k = 0;
    while (k < n && strcmp(*(const char *const *)((const char *)table + k * size), name) != 0)
        k++;
    return k;
}

/* Fills o from the command line. Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, options *o)
{
    bool any_case = false, any_stage = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t k;
        if (strcmp(a, "--seconds") == 0 && v != NULL) {
            char *end;
            o->seconds = strtod(argv[++i], &end);
            if (*end != '\0' || !(o->seconds > 0 && o->seconds <= 3600)) {
                fprintf(stderr, "validate_bench: --seconds wants a number in (0, 3600]\n");
                return 2;
            }
        } else if (strcmp(a, "--dump") == 0 && v != NULL) {
            o->dump_dir = argv[++i];
        } else if (strcmp(a, "--no-run") == 0) {
            o->no_run = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--case") == 0 && v != NULL) {
            if ((k = find_name(cases, NCASES, sizeof cases[0], argv[++i])) == NCASES) {
                fprintf(stderr, "validate_bench: unknown case %s (see --list)\n", v);
                return 2;
            }
            o->selected[k] = any_case = true;
        } else if (strcmp(a, "--stage") == 0 && v != NULL) {
            if ((k = find_name(stages, NSTAGES, sizeof stages[0], argv[++i])) == NSTAGES) {
                fprintf(stderr, "validate_bench: unknown stage %s\n", v);
                return 2;
            }
            o->stage_on[k] = any_stage = true;
        } else if (strcmp(a, "--list") == 0) {
            for (k = 0; k < NCASES; k++)
                printf("%s\n", cases[k].name);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    for (size_t k = 0; k < NCASES; k++)
        o->selected[k] = o->selected[k] || !any_case;
    for (size_t k = 0; k < NSTAGES; k++)
        o->stage_on[k] = o->stage_on[k] || !any_stage;
    return -1;
}

/* Measures and prints every selected payload. Returns 0, or -1 on an unexpected outcome. */
static int run(const options *o)
{
    if (o->json)
        printf("{\"tool\":\"evbridge\",\"version\":\"%s\",\"seconds\":%g,\"cases\":[", EVB_VERSION,
               o->seconds);
    else
        printf("validate_bench: %g s per stage, one thread, formats as annotations\n"
               "%-18s %6s  %-15s %12s %10s\n",
               o->seconds, "payload", "bytes", "stage", "ops/s", "us/op");
    fflush(stdout);
    bool first = true;
    for (size_t k = 0; k < NCASES; k++) {
        if (!o->selected[k])
            continue;
        figures f[NSTAGES] = {{0, 0, 0}};
        for (size_t s = 0; s < NSTAGES; s++)
            if (o->stage_on[s] && measure(&stages[s], &cases[k], o->seconds, &f[s]) != 0) {
                fprintf(stderr, "validate_bench: %s/%s: unexpected outcome\n", cases[k].name,
                        stages[s].name);
                return -1;
            }
        if (o->json)
            print_json_case(&cases[k], f, first);
        else
            print_text_case(&cases[k], f);
        first = false;
        fflush(stdout);
    }
    if (o->json)
        printf("\n]}\n");
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.seconds = 2.0};
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        return status;
    int rc = 0;
    for (size_t k = 0; k < NCASES && rc == 0; k++)
        if (o.selected[k])
            rc = case_prepare(&cases[k]);
    if (rc == 0 && o.dump_dir != NULL)
        rc = dump(o.dump_dir, o.selected);
    if (rc == 0 && !o.no_run)
        rc = run(&o);
    for (size_t k = 0; k < NCASES; k++)
        case_release(&cases[k]);
    return rc == 0 ? 0 : 1;
}
