/* evbridge fuzz target — JSON Schema compile and validate (registry/schema.h).
 *
 * Input: <selector byte><schema JSON> "\n%%\n" <instance JSON> "\n%%\n" <resolved document>
 * The selector picks the default dialect (value % 5), a base URI (bit 2), FORMAT_ASSERT
 * (bit 3), small depth limits (bit 4) and the violation limit (bits 5-7). The first 8 URIs
 * the resolver is asked for resolve to the third part (when there is one), so remote $refs
 * reach the compiler too.
 * Without an instance part the schema validates its own text. The schema text is also
 * canonicalised. Checks: no crash, no sanitizer report, and the documented result
 * invariants (count == 0 iff valid, count <= limit, NUL-terminated violation strings).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/schema.h"
#include "tests/fuzz/fuzz_util.h"

typedef struct resolver_doc {
    const fuzz_part *doc;
    int calls;
} resolver_doc;

/* A resolver stands for a finite registry: it serves the document for the first
 * MAX_RESOLVED distinct URIs only. (Serving it for every URI is an infinite registry: a
 * document with a relative "$ref" then resolves to a new, longer URI each time, and compile
 * never ends. The server's resolver maps stored schema ids only; see docs/fuzzing.md, S1.) */
#define MAX_RESOLVED 8

static const char *resolve(void *arg, const char *uri, size_t *len)
{
    resolver_doc *r = arg;
    if (uri == NULL || r->doc == NULL || r->calls >= MAX_RESOLVED)
        return NULL;
    r->calls++;
    *len = r->doc->n;
    return r->doc->s;
}

static void check_result(const evb_schema_result *res, evb_err rc)
{
    size_t limit = res->limit == 0 || res->limit > EVB_SCHEMA_MAX_VIOLATIONS
                       ? EVB_SCHEMA_MAX_VIOLATIONS
                       : res->limit;
    if (rc != EVB_OK) {
        if (res->valid || res->count != 0)
            abort(); /* "res then reports valid == false with no violations" */
        return;
    }
    if (res->count > limit || (res->count == 0) != res->valid)
        abort();
    for (size_t i = 0; i < res->count; i++) {
        const evb_schema_violation *v = &res->violations[i];
        if (memchr(v->instance_path, 0, sizeof v->instance_path) == NULL ||
            memchr(v->keyword_location, 0, sizeof v->keyword_location) == NULL ||
            memchr(v->message, 0, sizeof v->message) == NULL)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = fuzz_take_byte(&data, &size);
    fuzz_part p[3];
    size_t np = fuzz_split(data, size, p, 3);

    resolver_doc rd = {.doc = np >= 3 ? &p[2] : NULL, .calls = 0};
    evb_schema_options opt = {
        .resolve = resolve,
        .resolve_arg = &rd,
        .flags = (sel & 8u) ? EVB_SCHEMA_FORMAT_ASSERT : 0u,
        .default_dialect = (evb_schema_dialect)(sel % 5u),
        .base_uri = (sel & 4u) ? "https://fuzz.example/schemas/root.json" : NULL,
        .max_schema_depth = (sel & 16u) ? 8 : 0,
        .max_instance_depth = (sel & 16u) ? 8 : 0,
    };
    evb_schema *s = NULL;
    evb_error err;
    evb_err rc = evb_schema_compile(p[0].s, p[0].n, &opt, &s, &err);
    if (rc == EVB_OK) {
        if (s == NULL)
            abort();
        (void)evb_schema_dialect_of(s);
        const fuzz_part *inst = np >= 2 ? &p[1] : &p[0];
        evb_schema_result res = {.limit = (size_t)(sel >> 5)};
        rc = evb_schema_validate(s, inst->s, inst->n, &res, &err);
        check_result(&res, rc);
        evb_schema_free(s);
    } else if (s != NULL) {
        abort(); /* "On failure *out is NULL" */
    }

    char *canon = NULL;
    size_t canon_len = 0;
    if (evb_schema_canonicalize(p[0].s, p[0].n, &canon, &canon_len, NULL) == EVB_OK) {
        if (canon == NULL || strlen(canon) != canon_len)
            abort();
        /* Canonical text is a fixed point. */
        char *again = NULL;
        size_t again_len = 0;
        if (evb_schema_canonicalize(canon, canon_len, &again, &again_len, NULL) != EVB_OK ||
            again_len != canon_len || memcmp(again, canon, canon_len) != 0) {
            fprintf(stderr, "canonical form is not a fixed point:\n%s\n%s\n", canon,
                    again != NULL ? again : "(error)");
            abort();
        }
        free(again);
    }
    free(canon);
    fuzz_parts_free(p, 3);
    return 0;
}
