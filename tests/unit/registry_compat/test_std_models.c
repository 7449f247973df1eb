/* evbridge tests — registry/std_models: the four built-in models are 2020-12 schemas with
 * the agreed shape (evb:// $id, closed top level, custom_fields, required ids), identical to
 * the files in registry/models/, their examples validate with the registry's validator, broken
 * payloads are rejected at the right place, and the compatibility checker finds each model
 * compatible with itself and with a typical evolution.
 */
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/compat.h"
#include "registry/schema.h"
#include "registry/std_models.h"

#ifndef EVB_SOURCE_DIR
#error "EVB_SOURCE_DIR must name the source tree"
#endif

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        fprintf(stderr, "\n  JSON error line %d: %s\n", je.line, je.text);
    return j;
}

static void test_catalogue(void)
{
    size_t n = 0;
    const evb_std_model *m = evb_std_models(&n);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    const char *want[] = {"std.customer", "std.product", "std.contract", "std.order"};
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_STRING_EQUAL(m[i].subject, want[i]);
        CU_ASSERT_PTR_EQUAL(evb_std_model_find(want[i]), &m[i]);
        CU_ASSERT(m[i].title != NULL && m[i].title[0] != '\0');
    }
    CU_ASSERT_PTR_NULL(evb_std_model_find("std.nope"));
    CU_ASSERT_PTR_NULL(evb_std_model_find(NULL));
    CU_ASSERT_PTR_EQUAL(evb_std_models(NULL), m);
}

static void test_shape(void)
{
    size_t n;
    const evb_std_model *m = evb_std_models(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *s = load(m[i].schema_json), *e = load(m[i].example_json);
        CU_ASSERT_PTR_NOT_NULL(e);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(s, "$schema")),
                               "https://json-schema.org/draft/2020-12/schema");
        char id[128];
        snprintf(id, sizeof id, "evb://registry/models/%s", m[i].subject);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(s, "$id")), id);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(s, "title")), m[i].title);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(s, "type")), "object");
        CU_ASSERT(json_is_false(json_object_get(s, "additionalProperties")));
        json_t *props = json_object_get(s, "properties");
        static const char *const COMMON[] = {"id",         "external_ids", "custom_fields",
                                             "created_at", "updated_at",   "owner"};
        for (size_t k = 0; k < sizeof COMMON / sizeof COMMON[0]; k++) {
            if (json_object_get(props, COMMON[k]) == NULL)
                fprintf(stderr, "\n  %s lacks %s\n", m[i].subject, COMMON[k]);
            CU_ASSERT_PTR_NOT_NULL(json_object_get(props, COMMON[k]));
        }
        json_t *req = json_object_get(s, "required");
        CU_ASSERT(json_array_size(req) >= 2);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(req, 0)), "id");
        /* every required property is declared */
        for (size_t k = 0; k < json_array_size(req); k++)
            CU_ASSERT_PTR_NOT_NULL(
                json_object_get(props, json_string_value(json_array_get(req, k))));
        json_decref(s);
        json_decref(e);
    }
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 16384;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void test_files_in_sync(void)
{
    size_t n;
    const evb_std_model *m = evb_std_models(&n);
    for (size_t i = 0; i < n; i++) {
        const char *kinds[] = {"", ".example"};
        const char *texts[] = {m[i].schema_json, m[i].example_json};
        for (size_t k = 0; k < 2; k++) {
            char path[512];
            snprintf(path, sizeof path, "%s/registry/models/%s%s.json", EVB_SOURCE_DIR,
                     m[i].subject, kinds[k]);
            char *file = read_file(path);
            CU_ASSERT_PTR_NOT_NULL(file);
            if (file == NULL)
                continue;
            bool same = strcmp(file, texts[k]) == 0;
            if (!same)
                fprintf(stderr, "\n  %s differs from the string in registry/std_models.c\n", path);
            CU_ASSERT(same);
            free(file);
        }
    }
}

static evb_schema *compile_model(const char *subject)
{
    const evb_std_model *m = evb_std_model_find(subject);
    evb_schema *s = NULL;
    evb_error err;
    if (m == NULL)
        return NULL;
    if (evb_schema_compile(m->schema_json, strlen(m->schema_json), NULL, &s, &err) != EVB_OK)
        fprintf(stderr, "\n  %s does not compile: %s at %s\n", subject, err.message, err.pointer);
    return s;
}

/* Validates payload (with ' for ") against subject; returns validity, fills *where with the
 * first violation's instance path. */
static bool validate(const char *subject, const char *payload, char *where, size_t cap)
{
    evb_schema *s = compile_model(subject);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char *text = strdup(payload);
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    evb_schema_result res = {.limit = 10};
    evb_error err;
    evb_err rc = evb_schema_validate(s, text, strlen(text), &res, &err);
    CU_ASSERT_EQUAL(rc, EVB_OK);
    if (rc != EVB_OK)
        fprintf(stderr, "\n  validate error: %s\n", err.message);
    if (where != NULL)
        snprintf(where, cap, "%s", res.count > 0 ? res.violations[0].instance_path : "");
    if (!res.valid && where == NULL)
        for (size_t i = 0; i < res.count; i++)
            fprintf(stderr, "\n  %s: %s at %s (%s)", subject, res.violations[i].message,
                    res.violations[i].instance_path, res.violations[i].keyword_location);
    free(text);
    evb_schema_free(s);
    return rc == EVB_OK && res.valid;
}

static void test_examples_validate(void)
{
    size_t n;
    const evb_std_model *m = evb_std_models(&n);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(validate(m[i].subject, m[i].example_json, NULL, 0));
    /* the minimal payloads too */
    CU_ASSERT(validate("std.customer", "{'id':'c1','name':'A'}", NULL, 0));
    CU_ASSERT(validate("std.product", "{'id':'p1','name':'P','status':'draft'}", NULL, 0));
    CU_ASSERT(validate("std.contract", "{'id':'k1','customer_id':'c1','status':'draft'}", NULL, 0));
    CU_ASSERT(validate("std.order",
                       "{'id':'o1','customer_id':'c1','currency':'EUR','lines':[{'quantity':'1',"
                       "'unit_price':{'amount':'9.99','currency':'EUR'}}]}",
                       NULL, 0));
}

static const struct {
    const char *subject, *payload, *where;
} BROKEN[] = {
    {"std.customer", "{'name':'no id'}", ""},
    {"std.customer", "{'id':'c1','name':'A','currency':'usd'}", "/currency"},
    {"std.customer", "{'id':'c1','name':''}", "/name"},
    {"std.customer", "{'id':'c1','name':'A','nickname':'x'}", "/nickname"},
    {"std.customer", "{'id':'c1','name':'A','billing_address':{'country':'USA'}}",
     "/billing_address/country"},
    {"std.customer", "{'id':'c1','name':'A','contacts':[{'email':'x@y.example'}]}", "/contacts/0"},
    {"std.customer", "{'id':'c1','name':'A','created_at':'yesterday'}", "/created_at"},
    {"std.customer", "{'id':'c1','name':'A','custom_fields':{'1bad':1}}", "/custom_fields"},
    {"std.customer", "{'id':'c 1','name':'A'}", "/id"},
    {"std.customer", "{'id':'c1','name':'A','external_ids':[{'system':'crm'}]}", "/external_ids/0"},
    {"std.product", "{'id':'p1','name':'P'}", ""},
    {"std.product", "{'id':'p1','name':'P','status':'sold'}", "/status"},
    {"std.product",
     "{'id':'p1','name':'P','status':'active','list_price':{'amount':10.5,'currency':'CNY'}}",
     "/list_price/amount"},
    {"std.product",
     "{'id':'p1','name':'P','status':'active','list_price':{'amount':'1.23456',"
     "'currency':'CNY'}}",
     "/list_price/amount"},
    {"std.contract", "{'id':'k1','customer_id':'c1','status':'signed'}", "/status"},
    {"std.contract", "{'id':'k1','status':'active'}", ""},
    {"std.order", "{'id':'o1','customer_id':'c1','currency':'CNY','lines':[]}", "/lines"},
    {"std.order", "{'id':'o1','customer_id':'c1','currency':'CNY','lines':[{'quantity':'1'}]}",
     "/lines/0"},
    {"std.order",
     "{'id':'o1','customer_id':'c1','currency':'CNY','lines':[{'quantity':'1','unit_price':"
     "{'amount':'1','currency':'usd'}}]}",
     "/lines/0/unit_price/currency"},
};

static void test_broken_payloads(void)
{
    for (size_t i = 0; i < sizeof BROKEN / sizeof BROKEN[0]; i++) {
        char where[256];
        bool ok = validate(BROKEN[i].subject, BROKEN[i].payload, where, sizeof where);
        if (ok || strcmp(where, BROKEN[i].where) != 0)
            fprintf(stderr,
                    "\n  broken row %zu (%s): valid=%d, first violation at \"%s\", "
                    "expected \"%s\"\n",
                    i, BROKEN[i].subject, ok, where, BROKEN[i].where);
        CU_ASSERT(!ok);
        CU_ASSERT_STRING_EQUAL(where, BROKEN[i].where);
    }
}

static void test_evolution(void)
{
    size_t n;
    const evb_std_model *m = evb_std_models(&n);
    for (size_t i = 0; i < n; i++) {
        evb_compat_report rep;
        const char *prev[] = {m[i].schema_json};
        CU_ASSERT_EQUAL(
            evb_compat_check(EVB_COMPAT_FULL_TRANSITIVE, m[i].schema_json, prev, 1, &rep, NULL),
            EVB_OK);
        if (rep.n != 0)
            fprintf(stderr, "\n  %s vs itself: %s\n", m[i].subject, rep.messages[0]);
        CU_ASSERT_EQUAL(rep.n, 0);
        evb_compat_report_fini(&rep);
    }
    /* std.customer v2: a new optional property (closed top level) is BACKWARD compatible;
     * dropping a status value is not */
    const evb_std_model *c = evb_std_model_find("std.customer");
    json_t *v2 = load(c->schema_json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v2);
    json_object_set_new(json_object_get(v2, "properties"), "segment",
                        json_pack("{s:s,s:i}", "type", "string", "maxLength", 64));
    char *v2s = json_dumps(v2, 0);
    const char *prev[] = {c->schema_json};
    evb_compat_report rep;
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD, v2s, prev, 1, &rep, NULL), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 0);
    evb_compat_report_fini(&rep);
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_FORWARD, v2s, prev, 1, &rep, NULL), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 1); /* old readers reject the new property */
    evb_compat_report_fini(&rep);
    free(v2s);
    json_t *status_enum =
        json_object_get(json_object_get(json_object_get(v2, "properties"), "status"), "enum");
    json_array_remove(status_enum, json_array_size(status_enum) - 1);
    v2s = json_dumps(v2, 0);
    CU_ASSERT_EQUAL(evb_compat_check(EVB_COMPAT_BACKWARD, v2s, prev, 1, &rep, NULL), EVB_OK);
    CU_ASSERT_EQUAL(rep.n, 1);
    if (rep.n == 1)
        CU_ASSERT_STRING_EQUAL(rep.messages[0], "against version 1: /properties/status/enum: "
                                                "value(s) [\"archived\"] removed");
    evb_compat_report_fini(&rep);
    free(v2s);
    json_decref(v2);
}

int main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } CASES[] = {
        {"catalogue", test_catalogue},
        {"schema shape", test_shape},
        {"registry/models files in sync", test_files_in_sync},
        {"examples validate", test_examples_validate},
        {"broken payloads fail", test_broken_payloads},
        {"evolution and compatibility", test_evolution},
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("std models", NULL, NULL);
    for (size_t i = 0; suite != NULL && i < sizeof CASES / sizeof CASES[0]; i++)
        if (CU_add_test(suite, CASES[i].name, CASES[i].fn) == NULL)
            suite = NULL;
    if (suite == NULL) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return run == 0 ? 2 : failures > 0 ? 1 : 0;
}
