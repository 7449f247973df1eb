/* evbridge tests — registry/compat rules, table-driven: every row is an old and a new schema
 * and what BACKWARD (new reads old data) and FORWARD (old reads new data) must say: NULL for
 * compatible, else a text one of the messages must contain (location and change).
 * Schemas are written with ' for " (see dq()).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "compat_test.h"

typedef struct rule_row {
    const char *name;
    const char *old_s, *new_s;
    const char *bwd, *fwd; /* NULL: compatible; else a substring of some message */
} rule_row;

#define OBJ_A "'type':'object','properties':{'a':{'type':'string'}}"
#define CLOSED_A OBJ_A ",'additionalProperties':false"

static const rule_row ROWS[] = {
    /* properties and content models */
    {"property added to an open model", "{" OBJ_A "}",
     "{'type':'object','properties':{'a':{'type':'string'},'email':{'type':'string'}}}",
     "/properties/email: property added to an open content model", NULL},
    {"property accepting anything added to an open model", "{" OBJ_A "}",
     "{'type':'object','properties':{'a':{'type':'string'},'x':{'description':'any'}}}", NULL,
     NULL},
    {"optional property added to a closed model", "{" CLOSED_A "}",
     "{'type':'object','properties':{'a':{'type':'string'},'b':{'type':'integer'}},"
     "'additionalProperties':false}",
     NULL, "/properties/b: property added, which the older closed content model"},
    {"property removed from a closed model",
     "{'type':'object','properties':{'a':{'type':'string'},'b':{'type':'integer'}},"
     "'additionalProperties':false}",
     "{" CLOSED_A "}", "/properties/b: property removed from a closed content model", NULL},
    {"property removed from an open model",
     "{'type':'object','properties':{'a':{'type':'string'},'b':{'type':'integer'}}}", "{" OBJ_A "}",
     NULL, "/properties/b: property removed from an open content model"},
    {"nested property added to an open model",
     "{'type':'object','properties':{'address':{'type':'object','properties':{'city':{'type':"
     "'string'}}}}}",
     "{'type':'object','properties':{'address':{'type':'object','properties':{'city':{'type':"
     "'string'},'zip':{'type':'string'}}}}}",
     "/properties/address/properties/zip: property added to an open content model", NULL},
    {"nested property type changed",
     "{'properties':{'address':{'properties':{'city':{'type':'string'}}}}}",
     "{'properties':{'address':{'properties':{'city':{'type':'integer'}}}}}",
     "/properties/address/properties/city/type: changed from \"string\" to \"integer\"",
     "/properties/address/properties/city/type: changed from \"string\" to \"integer\""},
    {"additionalProperties false to true", "{" CLOSED_A "}", "{" OBJ_A "}", NULL,
     "/additionalProperties: changed from false to true"},
    {"additionalProperties true to false", "{" OBJ_A ",'additionalProperties':true}",
     "{" CLOSED_A "}", "/additionalProperties: changed from true to false", NULL},
    {"additionalProperties schema tightened", "{'additionalProperties':{'type':'string'}}",
     "{'additionalProperties':{'type':'string','maxLength':3}}",
     "/additionalProperties/maxLength: added (3)", NULL},
    {"additionalProperties schema relaxed",
     "{'additionalProperties':{'type':'string','maxLength':3}}",
     "{'additionalProperties':{'type':'string'}}", NULL,
     "/additionalProperties/maxLength: removed (was 3)"},
    {"patternProperties added", "{'type':'object'}",
     "{'type':'object','patternProperties':{'^x-':{'type':'string'}}}",
     "/patternProperties/^x-/type: added (\"string\")", NULL},
    {"property listed but covered by the old pattern",
     "{'type':'object','patternProperties':{'^x-':{'type':'string'}},'additionalProperties':false}",
     "{'type':'object','properties':{'x-a':{'type':'string'}},'patternProperties':{'^x-':{'type':"
     "'string'}},'additionalProperties':false}",
     NULL, NULL},
    /* required */
    {"property becomes required without a default",
     "{'properties':{'a':{'type':'string'},'b':{'type':'string'}}}",
     "{'properties':{'a':{'type':'string'},'b':{'type':'string'}},'required':['b']}",
     "/required: \"b\" newly required without a default", NULL},
    {"new required property with a default", "{" CLOSED_A "}",
     "{'type':'object','properties':{'a':{'type':'string'},'b':{'type':'string','default':'x'}},"
     "'required':['b'],'additionalProperties':false}",
     NULL, "/properties/b: property added"},
    {"required entry removed", "{'properties':{'a':{'type':'string'}},'required':['a']}",
     "{'properties':{'a':{'type':'string'}}}", NULL, "/required: \"a\" no longer required"},
    /* types */
    {"integer widened to number", "{'type':'integer'}", "{'type':'number'}", NULL,
     "/type: changed from \"integer\" to \"number\""},
    {"type added to a list", "{'type':'string'}", "{'type':['string','null']}", NULL,
     "/type: changed from \"string\" to [\"string\",\"null\"]"},
    {"type changed", "{'type':'string'}", "{'type':'integer'}",
     "/type: changed from \"string\" to \"integer\"",
     "/type: changed from \"string\" to \"integer\""},
    {"type added", "{}", "{'type':'string'}", "/type: added (\"string\")", NULL},
    /* bounds */
    {"maxLength raised", "{'type':'string','maxLength':10}", "{'type':'string','maxLength':20}",
     NULL, "/maxLength: raised from 10 to 20"},
    {"maxLength lowered", "{'type':'string','maxLength':20}", "{'type':'string','maxLength':10}",
     "/maxLength: lowered from 20 to 10", NULL},
    {"maxLength removed", "{'type':'string','maxLength':10}", "{'type':'string'}", NULL,
     "/maxLength: removed (was 10)"},
    {"minLength added", "{'type':'string'}", "{'type':'string','minLength':1}",
     "/minLength: added (1)", NULL},
    {"maximum lowered in a property", "{'properties':{'age':{'type':'integer','maximum':150}}}",
     "{'properties':{'age':{'type':'integer','maximum':120}}}",
     "/properties/age/maximum: lowered from 150 to 120", NULL},
    {"maximum raised", "{'type':'number','maximum':120}", "{'type':'number','maximum':150}", NULL,
     "/maximum: raised from 120 to 150"},
    {"minimum raised", "{'type':'number','minimum':0}", "{'type':'number','minimum':18}",
     "/minimum: raised from 0 to 18", NULL},
    {"minimum lowered", "{'type':'number','minimum':18}", "{'type':'number','minimum':0}", NULL,
     "/minimum: lowered from 18 to 0"},
    {"minimum added", "{'type':'number'}", "{'type':'number','minimum':0}", "/minimum: added (0)",
     NULL},
    {"maximum becomes exclusive", "{'type':'number','maximum':10}",
     "{'type':'number','exclusiveMaximum':10}",
     "/exclusiveMaximum: bound changed from maximum 10 to exclusiveMaximum 10", NULL},
    {"exclusiveMinimum raised", "{'type':'number','exclusiveMinimum':0}",
     "{'type':'number','exclusiveMinimum':5}", "/exclusiveMinimum: raised from 0 to 5", NULL},
    {"draft-04 boolean exclusiveMaximum", "{'type':'number','maximum':10}",
     "{'type':'number','maximum':10,'exclusiveMaximum':true}", "/maximum:", NULL},
    {"maxItems lowered", "{'type':'array','maxItems':10}", "{'type':'array','maxItems':5}",
     "/maxItems: lowered from 10 to 5", NULL},
    {"minItems lowered", "{'type':'array','minItems':2}", "{'type':'array','minItems':1}", NULL,
     "/minItems: lowered from 2 to 1"},
    {"maxProperties added", "{'type':'object'}", "{'type':'object','maxProperties':3}",
     "/maxProperties: added (3)", NULL},
    {"minProperties removed", "{'type':'object','minProperties':1}", "{'type':'object'}", NULL,
     "/minProperties: removed (was 1)"},
    {"uniqueItems added", "{'type':'array'}", "{'type':'array','uniqueItems':true}",
     "/uniqueItems: added (true)", NULL},
    {"multipleOf coarser", "{'type':'number','multipleOf':0.01}",
     "{'type':'number','multipleOf':0.02}", "/multipleOf: raised from 0.01 to 0.02", NULL},
    {"multipleOf 1 on integers", "{'type':'integer'}", "{'type':'integer','multipleOf':1}", NULL,
     NULL},
    {"pattern removed", "{'type':'string','pattern':'^[a-z]+$'}", "{'type':'string'}", NULL,
     "/pattern: removed (was \"^[a-z]+$\")"},
    {"pattern added", "{'type':'string'}", "{'type':'string','pattern':'^[a-z]+$'}",
     "/pattern: added (\"^[a-z]+$\")", NULL},
    {"pattern changed", "{'type':'string','pattern':'^[a-z]+$'}",
     "{'type':'string','pattern':'^[a-z0-9]+$'}",
     "/pattern: changed from \"^[a-z]+$\" to \"^[a-z0-9]+$\"",
     "/pattern: changed from \"^[a-z]+$\" to \"^[a-z0-9]+$\""},
    {"string bounds on an integer do not matter", "{'type':'integer'}",
     "{'type':'integer','maxLength':3}", NULL, NULL},
    /* enum and const */
    {"enum extended", "{'enum':['a','b']}", "{'enum':['a','b','c']}", NULL,
     "/enum: value(s) [\"c\"] added"},
    {"enum value removed", "{'enum':['a','b']}", "{'enum':['a']}",
     "/enum: value(s) [\"b\"] removed", NULL},
    {"enum added", "{'type':'string'}", "{'type':'string','enum':['a']}", "/enum: added ([\"a\"])",
     NULL},
    {"enum numbers 1 and 1.0 are equal", "{'enum':[1,2]}", "{'enum':[1.0,2,3]}", NULL,
     "/enum: value(s) [3] added"},
    {"const changed", "{'const':'a'}", "{'const':'b'}", "/const: changed from \"a\" to \"b\"",
     "/const: changed from \"a\" to \"b\""},
    {"const widened to enum", "{'const':'a'}", "{'enum':['a','b']}", NULL, "/const:"},
    /* annotations */
    {"annotations never matter",
     "{'title':'A','description':'old','examples':[1],'default':1,'$comment':'x',"
     "'deprecated':false,'type':'integer'}",
     "{'title':'B','description':'new','examples':[2,3],'default':2,'readOnly':true,"
     "'x-vendor':1,'type':'integer'}",
     NULL, NULL},
    {"format is an annotation by default", "{'type':'string'}",
     "{'type':'string','format':'email'}", NULL, NULL},
    /* arrays */
    {"items tightened", "{'type':'array','items':{'type':'string'}}",
     "{'type':'array','items':{'type':'string','maxLength':5}}", "/items/maxLength: added (5)",
     NULL},
    {"prefixItems type changed",
     "{'type':'array','prefixItems':[{'type':'string'},{'type':'integer'}]}",
     "{'type':'array','prefixItems':[{'type':'string'},{'type':'string'}]}",
     "/prefixItems/1/type: changed from \"integer\" to \"string\"", "/prefixItems/1/type:"},
    {"prefixItems position added to an open tuple",
     "{'type':'array','prefixItems':[{'type':'string'}]}",
     "{'type':'array','prefixItems':[{'type':'string'},{'type':'integer'}]}",
     "/prefixItems/1/type: added (\"integer\")", NULL},
    {"draft-07 tuple items closed with additionalItems",
     "{'type':'array','items':[{'type':'string'}],'additionalItems':false}",
     "{'type':'array','items':[{'type':'string'}, {'type':'integer'}],'additionalItems':false}",
     NULL, "/additionalItems: changed"},
    /* references and definitions */
    {"$defs tightened behind a $ref",
     "{'$defs':{'addr':{'type':'object','properties':{'city':{'type':'string','maxLength':100}}}},"
     "'properties':{'home':{'$ref':'#/$defs/addr'}}}",
     "{'$defs':{'addr':{'type':'object','properties':{'city':{'type':'string','maxLength':50}}}},"
     "'properties':{'home':{'$ref':'#/$defs/addr'}}}",
     "/$defs/addr/properties/city/maxLength: lowered from 100 to 50", NULL},
    {"draft-07 definitions",
     "{'definitions':{'n':{'type':'integer'}},'properties':{'n':{'$ref':'#/definitions/n'}}}",
     "{'definitions':{'n':{'type':'string'}},'properties':{'n':{'$ref':'#/definitions/n'}}}",
     "/definitions/n/type: changed from \"integer\" to \"string\"", "/definitions/n/type:"},
    {"$ref to another definition",
     "{'$defs':{'a':{'type':'string'},'b':{'type':'string','maxLength':3}},"
     "'properties':{'x':{'$ref':'#/$defs/a'}}}",
     "{'$defs':{'a':{'type':'string'},'b':{'type':'string','maxLength':3}},"
     "'properties':{'x':{'$ref':'#/$defs/b'}}}",
     "/properties/x/$ref/maxLength: added (3)", NULL},
    {"inlined definition is the same",
     "{'$defs':{'a':{'type':'string','maxLength':3}},'properties':{'x':{'$ref':'#/$defs/a'}}}",
     "{'properties':{'x':{'type':'string','maxLength':3}}}", NULL, NULL},
    {"recursive schema",
     "{'$defs':{'node':{'type':'object','properties':{'v':{'type':'integer'},'kids':{'type':"
     "'array','items':{'$ref':'#/$defs/node'}}}}},'$ref':'#/$defs/node'}",
     "{'$defs':{'node':{'type':'object','properties':{'v':{'type':'integer','minimum':0},'kids':"
     "{'type':'array','items':{'$ref':'#/$defs/node'}}}}},'$ref':'#/$defs/node'}",
     "/$defs/node/properties/v/minimum: added (0)", NULL},
    {"recursive schema renamed",
     "{'$defs':{'a':{'type':'object','properties':{'k':{'$ref':'#/$defs/a'},'v':{'type':"
     "'string'}}}},'$ref':'#/$defs/a'}",
     "{'$defs':{'b':{'type':'object','properties':{'k':{'$ref':'#/$defs/b'},'v':{'type':"
     "'string'}}}},'$ref':'#/$defs/b'}",
     NULL, NULL},
    {"$anchor reference", "{'$defs':{'a':{'$anchor':'s','type':'string'}},'$ref':'#s'}",
     "{'$defs':{'a':{'$anchor':'s','type':'integer'}},'$ref':'#s'}",
     "type: changed from \"string\" to \"integer\"", "type: changed"},
    {"unresolvable $ref", "{'type':'string'}", "{'$ref':'#/$defs/nope'}",
     "/$ref: reference \"#/$defs/nope\" cannot be resolved", "/type: removed"},
    {"same remote $ref", "{'$ref':'evb://registry/schemas/ids/7'}",
     "{'$ref':'evb://registry/schemas/ids/7'}", NULL, NULL},
    /* combinators */
    {"nullable via anyOf", "{'type':'string'}", "{'anyOf':[{'type':'string'},{'type':'null'}]}",
     NULL, "/type: removed"},
    {"anyOf branch removed", "{'anyOf':[{'type':'string'},{'type':'null'}]}",
     "{'anyOf':[{'type':'string'}]}", "/anyOf: no branch accepts branch 1 of the older schema",
     NULL},
    {"oneOf of disjoint types extended", "{'oneOf':[{'type':'string'},{'type':'integer'}]}",
     "{'oneOf':[{'type':'string'},{'type':'integer'},{'type':'null'}]}", NULL, "/oneOf:"},
    {"oneOf overlapping changed", "{'oneOf':[{'type':'string'},{'maxLength':3}]}",
     "{'oneOf':[{'type':'string'},{'maxLength':4}]}",
     "/oneOf: changed; could not be proven compatible",
     "/oneOf: changed; could not be proven compatible"},
    {"oneOf identical", "{'oneOf':[{'type':'string'},{'maxLength':3}]}",
     "{'oneOf':[{'type':'string'},{'maxLength':3}],'title':'t'}", NULL, NULL},
    {"not added", "{'type':'string'}", "{'type':'string','not':{'const':'x'}}",
     "/not: added; could not be proven compatible", NULL},
    {"not of another type", "{'type':'string'}", "{'type':'string','not':{'type':'null'}}", NULL,
     NULL},
    {"allOf branch tightened", "{'allOf':[{'type':'string','maxLength':10}]}",
     "{'allOf':[{'type':'string','maxLength':5}]}", "/allOf/0/maxLength: lowered from 10 to 5",
     NULL},
    {"if/then changed", "{'if':{'properties':{'k':{'const':1}}},'then':{'required':['a']}}",
     "{'if':{'properties':{'k':{'const':2}}},'then':{'required':['a']}}",
     "/if: changed; could not be proven compatible", "/if: changed; could not be proven"},
    {"if/then same if, then relaxed",
     "{'if':{'properties':{'k':{'const':1}}},'then':{'required':['a','b']}}",
     "{'if':{'properties':{'k':{'const':1}}},'then':{'required':['a']}}", NULL,
     "/then/required: \"b\" no longer required"},
    {"dependentRequired added", "{'type':'object'}",
     "{'type':'object','dependentRequired':{'a':['b']}}",
     "/dependentRequired/a: \"b\" newly required with it", NULL},
    {"propertyNames added", "{'type':'object'}",
     "{'type':'object','propertyNames':{'maxLength':8}}", "/propertyNames/maxLength: added (8)",
     NULL},
    {"contains added", "{'type':'array'}", "{'type':'array','contains':{'type':'string'}}",
     "/contains: added; could not be proven compatible", NULL},
    {"unevaluatedProperties as a closed model", "{" OBJ_A "}",
     "{" OBJ_A ",'unevaluatedProperties':false}",
     "/unevaluatedProperties: changed from true to false", NULL},
    /* boolean schemas */
    {"true to false", "true", "false", "(root): changed to false", NULL},
    {"false to an object", "false", "{'type':'string'}", NULL, "(root): changed from false"},
    {"property schema becomes false", "{'properties':{'a':{'type':'string'}}}",
     "{'properties':{'a':false}}", "/properties/a: changed to false", NULL},
};

static void check_dir(const rule_row *row, evb_compat_level level, const char *expect)
{
    evb_compat_report rep;
    evb_error err;
    char old_s[8192];
    snprintf(old_s, sizeof old_s, "%s", dq(row->old_s));
    const char *prev[] = {old_s};
    evb_err rc = evb_compat_check(level, dq(row->new_s), prev, 1, &rep, &err);
    const char *dir = level == EVB_COMPAT_BACKWARD ? "BACKWARD" : "FORWARD";
    EVB_ROW_ASSERT(rc == EVB_OK, "%s [%s]: rc %d (%s)", row->name, dir, rc, err.message);
    if (rc != EVB_OK)
        return;
    bool ok = expect == NULL ? rep.n == 0 : report_has(&rep, expect);
    if (ok && expect != NULL)
        for (size_t i = 0; i < rep.n && ok; i++)
            ok = strncmp(rep.messages[i], "against version 1: ", 19) == 0;
    if (!ok) {
        fprintf(stderr, "\n  row \"%s\" [%s]: expected %s\n", row->name, dir,
                expect ? expect : "compatible");
        report_print("got", &rep);
    }
    CU_ASSERT(ok);
    evb_compat_report_fini(&rep);
}

static void test_rules(void)
{
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        check_dir(&ROWS[i], EVB_COMPAT_BACKWARD, ROWS[i].bwd);
        check_dir(&ROWS[i], EVB_COMPAT_FORWARD, ROWS[i].fwd);
    }
}

static void test_identical_is_compatible(void)
{
    /* every schema of the table is compatible with itself, in both directions */
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const char *sides[] = {ROWS[i].old_s, ROWS[i].new_s};
        for (size_t k = 0; k < 2; k++) {
            char s[8192];
            snprintf(s, sizeof s, "%s", dq(sides[k]));
            const char *prev[] = {s};
            evb_compat_report rep;
            CU_ASSERT_EQUAL_FATAL(evb_compat_check(EVB_COMPAT_FULL, s, prev, 1, &rep, NULL),
                                  EVB_OK);
            if (rep.n != 0) {
                fprintf(stderr, "\n  row \"%s\" side %zu against itself\n", ROWS[i].name, k);
                report_print("got", &rep);
            }
            CU_ASSERT_EQUAL(rep.n, 0);
            evb_compat_report_fini(&rep);
        }
    }
}

static void test_multiple_reported_together(void)
{
    const char *old_s = dq("{'type':'object','properties':{'name':{'type':'string','maxLength':"
                           "100},'age':{'type':'integer','maximum':150},'kind':{'enum':['a','b']"
                           "}},'required':['name']}");
    char old_copy[4096];
    snprintf(old_copy, sizeof old_copy, "%s", old_s);
    const char *new_s = dq("{'type':'object','properties':{'name':{'type':'string','maxLength':"
                           "50},'age':{'type':'integer','maximum':120},'kind':{'enum':['a']},"
                           "'email':{'type':'string'}},'required':['name','age'],"
                           "'additionalProperties':false}");
    evb_compat_report rep;
    evb_error err;
    CU_ASSERT_EQUAL_FATAL(evb_compat_check_pair(new_s, old_copy, &rep, &err), EVB_OK);
    const char *want[] = {
        "/properties/name/maxLength: lowered from 100 to 50",
        "/properties/age/maximum: lowered from 150 to 120",
        "/properties/kind/enum: value(s) [\"b\"] removed",
        "/properties/email: property added to an open content model",
        "/required: \"age\" newly required without a default",
        "/additionalProperties: changed from true to false",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!report_has(&rep, want[i]))
            fprintf(stderr, "\n  missing: %s\n", want[i]);
        CU_ASSERT(report_has(&rep, want[i]));
    }
    CU_ASSERT_EQUAL(rep.n, sizeof want / sizeof want[0]);
    if (rep.n != sizeof want / sizeof want[0])
        report_print("got", &rep);
    evb_compat_report_fini(&rep);
}

static void test_format_assert_option(void)
{
    char old_s[256];
    snprintf(old_s, sizeof old_s, "%s", dq("{'type':'string'}"));
    const char *prev[] = {old_s};
    evb_compat_options opt = {.flags = EVB_COMPAT_FORMAT_ASSERT};
    evb_compat_report rep;
    CU_ASSERT_EQUAL_FATAL(evb_compat_check_ex(EVB_COMPAT_FULL,
                                              dq("{'type':'string','format':'email'}"), prev, NULL,
                                              1, &opt, &rep, NULL),
                          EVB_OK);
    CU_ASSERT(report_has(&rep, "against version 1: /format: added (\"email\")"));
    CU_ASSERT_EQUAL(rep.n, 1);
    evb_compat_report_fini(&rep);
}

const compat_case COMPAT_RULE_CASES[] = {
    {"rules, both directions", test_rules},
    {"identical schemas are compatible", test_identical_is_compatible},
    {"multiple incompatibilities reported together", test_multiple_reported_together},
    {"format as assertion (option)", test_format_assert_option},
    {NULL, NULL},
};
