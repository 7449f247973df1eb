/* evbridge tests — table-driven keyword behaviour of registry/schema.h.
 *
 * Each row: dialect, schema, instance, expected validity, and for invalid rows the first
 * violation's instance path, keyword location and a substring of its message. Rows cover
 * number equality (1 == 1.0), exact decimal multipleOf, ECMA-262 regex semantics, code-point
 * string lengths, annotations vs. format assertion, unevaluated*, and pointer escaping.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "registry/schema.h"
#include "test_schema_int.h"

typedef struct kcase {
    evb_schema_dialect d;
    unsigned flags;
    const char *schema, *instance;
    bool valid;
    const char *ipath, *kloc, *msg;
} kcase;

#define D7 EVB_SCHEMA_DRAFT7
#define D4 EVB_SCHEMA_DRAFT4
#define D20 EVB_SCHEMA_DRAFT2020_12
#define FA EVB_SCHEMA_FORMAT_ASSERT

static const kcase CASES[] = {
    /* numbers: JSON Schema equality */
    {D7, 0, "{\"enum\":[1,\"a\"]}", "1.0", true, 0, 0, 0},
    {D7, 0, "{\"enum\":[1.0]}", "1", true, 0, 0, 0},
    {D7, 0, "{\"enum\":[1,2]}", "3", false, "", "/enum", "must be one of [1,2]"},
    {D7, 0, "{\"const\":{\"a\":[1]}}", "{\"a\":[1.0]}", true, 0, 0, 0},
    {D7, 0, "{\"const\":0}", "false", false, "", "/const", "must be equal to 0"},
    {D7, 0, "{\"uniqueItems\":true}", "[1,1.0]", false, "", "/uniqueItems", "items 0 and 1"},
    {D7, 0, "{\"uniqueItems\":true}", "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1.0}]", false, "",
     "/uniqueItems", "duplicates"},
    {D7, 0, "{\"uniqueItems\":true}", "[0,false,null,\"0\",[0],{\"0\":0}]", true, 0, 0, 0},
    {D7, 0, "{\"uniqueItems\":true}", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,1]", false, "",
     "/uniqueItems", "items 0 and 17"},
    {D7, 0, "{\"type\":\"integer\"}", "1.0", true, 0, 0, 0},
    {D7, 0, "{\"type\":\"integer\"}", "1.5", false, "", "/type", "must be of type integer"},
    {D7, 0, "{\"type\":[\"string\",\"null\"]}", "1", false, "", "/type",
     "must be of type null or string, but is integer"},
    {D7, 0, "{\"maximum\":9007199254740993}", "9007199254740993", true, 0, 0, 0},
    {D7, 0, "{\"maximum\":9007199254740992}", "9007199254740993", false, "", "/maximum",
     "less than or equal to 9007199254740992"},
    /* multipleOf is exact on decimals */
    {D7, 0, "{\"multipleOf\":0.01}", "19.99", true, 0, 0, 0},
    {D7, 0, "{\"multipleOf\":0.01}", "0.07", true, 0, 0, 0},
    {D7, 0, "{\"multipleOf\":0.01}", "1234567.89", true, 0, 0, 0},
    {D7, 0, "{\"multipleOf\":0.01}", "100", true, 0, 0, 0},
    {D7, 0, "{\"multipleOf\":0.01}", "1.005", false, "", "/multipleOf", "multiple of 0.01"},
    {D7, 0, "{\"multipleOf\":0.1}", "0.3", true, 0, 0, 0},
    {D7, 0, "{\"multipleOf\":0.0001}", "0.00751", false, "", "/multipleOf", "0.0001"},
    {D7, 0, "{\"multipleOf\":0.123456789}", "1e308", false, "", "/multipleOf", 0},
    {D7, 0, "{\"multipleOf\":1.5}", "-4.5", true, 0, 0, 0},
    {D7, 0, "{\"multipleOf\":7}", "-9223372036854775808", false, "", "/multipleOf", 0},
    {D7, 0, "{\"multipleOf\":2}", "-9223372036854775808", true, 0, 0, 0},
    /* strings: code points, ECMA-262 regexes */
    {D7, 0, "{\"minLength\":5,\"maxLength\":5}", "\"h\\u00e9llo\"", true, 0, 0, 0},
    {D7, 0, "{\"maxLength\":2}", "\"\\ud83d\\ude00\\ud83d\\ude00x\"", false, "", "/maxLength",
     "at most 2 characters"},
    {D7, 0, "{\"pattern\":\"^\\\\d+$\"}", "\"\\u0661\\u0662\"", false, "", "/pattern",
     "must match the pattern"},
    {D7, 0, "{\"pattern\":\"^abc$\"}", "\"abc\\n\"", false, "", "/pattern", 0},
    {D7, 0, "{\"pattern\":\"^\\\\u00e9$\"}", "\"\\u00e9\"", true, 0, 0, 0},
    {D7, 0, "{\"pattern\":\"^\\\\w+$\"}", "\"\\u00e9\"", false, "", "/pattern", 0},
    {D7, 0, "{\"pattern\":\"^\\\\s$\"}", "\"\\u00a0\"", true, 0, 0, 0},
    {D7, 0, "{\"pattern\":\"^\\\\p{Letter}+$\"}", "\"\\u00e9t\\u00e9\"", true, 0, 0, 0},
    {D7, 0, "{\"pattern\":\"a\"}", "12", true, 0, 0, 0},
    /* format: annotation unless asserted */
    {D7, 0, "{\"format\":\"email\"}", "\"nope\"", true, 0, 0, 0},
    {D7, FA, "{\"format\":\"email\"}", "\"nope\"", false, "", "/format", "valid email"},
    {D7, FA, "{\"format\":\"date-time\"}", "\"2024-02-29T12:00:00.5+01:00\"", true, 0, 0, 0},
    {D7, FA, "{\"format\":\"date\"}", "\"2023-02-29\"", false, "", "/format", "valid date"},
    {D7, FA, "{\"format\":\"uuid\"}", "\"2eb8aa08-aa98-11ea-b4aa-73b441d16380\"", true, 0, 0, 0},
    {D7, FA, "{\"format\":\"ipv4\"}", "\"127.0.0.01\"", false, "", "/format", 0},
    {D7, FA, "{\"format\":\"ipv6\"}", "\"::ffff:127.0.0.1\"", true, 0, 0, 0},
    {D7, FA, "{\"format\":\"uri\"}", "\"evb://registry/schemas/ids/7\"", true, 0, 0, 0},
    {D7, FA, "{\"format\":\"uri\"}", "\"/relative\"", false, "", "/format", 0},
    {D20, FA, "{\"format\":\"duration\"}", "\"P1Y2M3DT4H5M6S\"", true, 0, 0, 0},
    {D20, FA, "{\"format\":\"hostname\"}", "\"a--b.example.com\"", true, 0, 0, 0},
    {D20, FA, "{\"format\":\"unknown-format\"}", "\"x\"", true, 0, 0, 0},
    /* locations: nesting, escaping, references */
    {D7, 0, "{\"properties\":{\"a\":{\"properties\":{\"b\":{\"type\":\"string\"}}}}}",
     "{\"a\":{\"b\":1}}", false, "/a/b", "/properties/a/properties/b/type", "of type string"},
    {D7, 0, "{\"properties\":{\"a/b~c\":{\"type\":\"string\"}}}", "{\"a/b~c\":1}", false,
     "/a~1b~0c", "/properties/a~1b~0c/type", 0},
    {D20, 0, "{\"$defs\":{\"x\":{\"minimum\":5}},\"properties\":{\"n\":{\"$ref\":\"#/$defs/x\"}}}",
     "{\"n\":4}", false, "/n", "/properties/n/$ref/minimum", "greater than or equal to 5"},
    {D7, 0, "{\"items\":{\"type\":\"string\"}}", "[\"a\",2]", false, "/1", "/items/type", 0},
    {D20, 0, "{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", "[\"a\",2]", false, "",
     "/items", "at most 1 items"},
    {D7, 0, "{\"required\":[\"id\",\"name\"]}", "{\"id\":1}", false, "", "/required",
     "property \"name\" is required"},
    {D7, 0, "{\"additionalProperties\":false,\"properties\":{\"a\":{}}}", "{\"a\":1,\"b\":2}",
     false, "/b", "/additionalProperties", "property \"b\" is not allowed"},
    {D7, 0, "{\"propertyNames\":{\"maxLength\":3}}", "{\"abcd\":1}", false, "", "/propertyNames",
     "\"abcd\""},
    {D7, 0, "{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":3}]}", "1", false, "", "/anyOf",
     "at least one of the 2"},
    {D7, 0, "{\"oneOf\":[{\"minimum\":1},{\"maximum\":5}]}", "3", false, "", "/oneOf",
     "schemas 0 and 1"},
    {D7, 0, "{\"not\":{\"type\":\"null\"}}", "null", false, "", "/not", "must not match"},
    {D7, 0, "{\"if\":{\"minimum\":10},\"then\":{\"multipleOf\":5},\"else\":{\"maximum\":3}}", "12",
     false, "", "/then/multipleOf", 0},
    {D7, 0, "{\"if\":{\"minimum\":10},\"then\":{\"multipleOf\":5},\"else\":{\"maximum\":3}}", "4",
     false, "", "/else/maximum", 0},
    {D7, 0, "{\"contains\":{\"type\":\"string\"}}", "[1,2]", false, "", "/contains",
     "at least 1 matching"},
    {D20, 0, "{\"contains\":{\"type\":\"string\"},\"maxContains\":1}", "[\"a\",\"b\"]", false, "",
     "/maxContains", 0},
    {D20, 0, "{\"dependentRequired\":{\"card\":[\"cvv\"]}}", "{\"card\":1}", false, "",
     "/dependentRequired", "\"cvv\" is required when \"card\""},
    {D7, 0, "{\"dependencies\":{\"card\":[\"cvv\"]}}", "{\"card\":1}", false, "", "/dependencies",
     0},
    {D20, 0,
     "{\"allOf\":[{\"properties\":{\"a\":true}}],\"anyOf\":[{\"properties\":{\"b\":true}},"
     "{\"properties\":{\"c\":{\"type\":\"string\"}}}],\"unevaluatedProperties\":false}",
     "{\"a\":1,\"b\":2,\"c\":3}", false, "/c", "/unevaluatedProperties", "\"c\" is not allowed"},
    {D20, 0,
     "{\"allOf\":[{\"properties\":{\"a\":true}}],\"anyOf\":[{\"properties\":{\"b\":true}},"
     "{\"properties\":{\"c\":{\"type\":\"string\"}}}],\"unevaluatedProperties\":false}",
     "{\"a\":1,\"b\":2,\"c\":\"x\"}", true, 0, 0, 0},
    {D20, 0, "{\"prefixItems\":[true],\"unevaluatedItems\":{\"type\":\"string\"}}", "[1,2]", false,
     "/1", "/unevaluatedItems/type", 0},
    {D4, 0, "{\"maximum\":5,\"exclusiveMaximum\":true}", "5", false, "", "/exclusiveMaximum",
     "less than 5"},
    {D4, 0, "{\"maximum\":5}", "5", true, 0, 0, 0},
    {D7, 0, "{\"$ref\":\"#/definitions/a\",\"maxLength\":1,\"definitions\":{\"a\":{}}}", "\"long\"",
     true, 0, 0, 0},
    {D20, 0, "{\"$ref\":\"#/$defs/a\",\"maxLength\":1,\"$defs\":{\"a\":{}}}", "\"long\"", false, "",
     "/maxLength", 0},
    {D7, 0, "false", "1", false, "", "", "schema is false"},
    {D7, 0, "true", "{\"anything\":[1,2,{}]}", true, 0, 0, 0},
};

void test_keyword_table(void)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const kcase *k = &CASES[i];
        evb_schema_options o = {.default_dialect = k->d, .flags = k->flags};
        evb_schema *s = NULL;
        evb_error e;
        evb_err rc = evb_schema_compile(k->schema, strlen(k->schema), &o, &s, &e);
        if (rc != EVB_OK) {
            printf("\ncase %zu: compile failed: %s at %s\n", i, e.message, e.pointer);
            CU_FAIL("compile");
            continue;
        }
        evb_schema_result r = {0};
        rc = evb_schema_validate(s, k->instance, strlen(k->instance), &r, &e);
        CU_ASSERT_EQUAL(rc, EVB_OK);
        if (r.valid != k->valid) {
            printf("\ncase %zu: %s vs %s: expected %s (%s)\n", i, k->schema, k->instance,
                   k->valid ? "valid" : "invalid", r.count ? r.violations[0].message : "");
            CU_FAIL("validity");
        } else if (!k->valid) {
            const evb_schema_violation *v = &r.violations[0];
            bool ok = r.count >= 1 && (!k->ipath || strcmp(v->instance_path, k->ipath) == 0) &&
                      (!k->kloc || strcmp(v->keyword_location, k->kloc) == 0) &&
                      (!k->msg || strstr(v->message, k->msg) != NULL);
            if (!ok) {
                printf("\ncase %zu: got [%s] [%s] [%s]\n", i, v->instance_path, v->keyword_location,
                       v->message);
                CU_FAIL("violation");
            }
        } else {
            CU_ASSERT_EQUAL(r.count, 0);
        }
        evb_schema_free(s);
    }
}
