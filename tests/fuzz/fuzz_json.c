/* evbridge fuzz target — the JSON parser (evb_json_parse, registry/json_value.h), differential
 * against jansson.
 *
 * Input: <selector byte><JSON text>. The selector picks max_depth: value % 4 == 0 the default
 * (0), 1 a small limit 1 + (value >> 2) % 8, 2 EVB_JSON_HARD_MAX_DEPTH, 3 5000 (clamped).
 *
 * The reference is what evb_json_parse did before registry/json_parse.c: jansson with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, parsed again with
 * JSON_DECODE_INT_AS_REAL after a numeric overflow, integral reals up to 2^53 read as
 * integers, then the depth limit checked on the tree. Checks:
 *   - both accept or both reject, with the same code (PARSE, LIMIT) and, for LIMIT, the same
 *     pointer; the one documented difference: our parser reports a document that is too
 *     deep before it reaches a later syntax error (LIMIT where jansson says PARSE), and
 *     jansson's own depth limit (2048) fails such texts as LIMIT without a pointer; and one
 *     jansson 2.14 bug: a raw NUL byte right after a number or a literal is skipped
 *     ("7\0", "[1\0]" and "[true\0]" are accepted), where we reject every raw NUL (RFC 8259);
 *   - accepted documents are the same values: types, exact integers, doubles bit for bit,
 *     strings byte for byte with their length, members in document order;
 *   - a failed parse leaves *out NULL and a PARSE message names line, column and byte;
 *   - the canonical text of an accepted document parses back to an equal value.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/json_value.h"
#include "tests/fuzz/fuzz_util.h"

#define TWO53 9007199254740992.0

typedef struct pbuf {
    char *s;
    size_t n, cap;
} pbuf;

static void pput(pbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL)
            abort();
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

/* The old converter's depth check: false, with the pointer in *where, when a container sits
 * at depth >= max (the root at 0), the first one in document order. */
static bool ref_depth(json_t *j, size_t depth, size_t max, pbuf *where)
{
    if (!json_is_array(j) && !json_is_object(j))
        return true;
    if (depth >= max)
        return false;
    size_t mark = where->n;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            char idx[32];
            int k = snprintf(idx, sizeof idx, "/%zu", i);
            pput(where, idx, (size_t)k);
            if (!ref_depth(json_array_get(j, i), depth + 1, max, where))
                return false;
            where->n = mark;
        }
        return true;
    }
    for (void *it = json_object_iter(j); it != NULL; it = json_object_iter_next(j, it)) {
        const char *k = json_object_iter_key(it);
        size_t kl = json_object_iter_key_len(it);
        pput(where, "/", 1);
        for (size_t i = 0; i < kl; i++)
            pput(where,
                 k[i] == '~'   ? "~0"
                 : k[i] == '/' ? "~1"
                               : &k[i],
                 k[i] == '~' || k[i] == '/' ? 2 : 1);
        if (!ref_depth(json_object_iter_value(it), depth + 1, max, where))
            return false;
        where->n = mark;
    }
    return true;
}

/* The reference parse: EVB_OK with *out, or the error code (and *where for LIMIT). */
static evb_err ref_parse(const char *text, size_t len, size_t max_depth, json_t **out, pbuf *where,
                         bool *jansson_depth)
{
    size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_error_t je;
    *out = NULL;
    *jansson_depth = false;
    json_t *j = json_loadb(text, len, flags, &je);
    if (j == NULL && json_error_code(&je) == json_error_numeric_overflow)
        j = json_loadb(text, len, flags | JSON_DECODE_INT_AS_REAL, &je);
    if (j == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return EVB_ERR_NOMEM;
        if (json_error_code(&je) == json_error_stack_overflow) {
            *jansson_depth = true;
            return EVB_ERR_LIMIT;
        }
        return EVB_ERR_PARSE;
    }
    pput(where, "", 0);
    if (!ref_depth(j, 0, max_depth, where)) {
        json_decref(j);
        return EVB_ERR_LIMIT;
    }
    *out = j;
    return EVB_OK;
}

/* The same value: the old converter's rules applied to jansson's value. */
static bool same(const evb_json *v, json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        return evb_json_typeof(v) == EVB_JSON_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        return evb_json_typeof(v) == EVB_JSON_BOOL && evb_json_bool(v) == json_is_true(j);
    case JSON_INTEGER:
        return evb_json_typeof(v) == EVB_JSON_INTEGER &&
               evb_json_int(v) == (int64_t)json_integer_value(j);
    case JSON_REAL: {
        double d = json_real_value(j);
        if (d == floor(d) && fabs(d) <= TWO53)
            return evb_json_typeof(v) == EVB_JSON_INTEGER && evb_json_int(v) == (int64_t)d;
        double got = evb_json_number(v);
        uint64_t gb, db; /* bit for bit */
        memcpy(&gb, &got, sizeof gb);
        memcpy(&db, &d, sizeof db);
        return evb_json_typeof(v) == EVB_JSON_REAL && gb == db;
    }
    case JSON_STRING: {
        size_t n;
        const char *s = evb_json_string(v, &n);
        return s != NULL && n == json_string_length(j) && memcmp(s, json_string_value(j), n) == 0 &&
               s[n] == '\0';
    }
    case JSON_ARRAY:
        if (evb_json_typeof(v) != EVB_JSON_ARRAY || evb_json_size(v) != json_array_size(j))
            return false;
        for (size_t i = 0; i < json_array_size(j); i++)
            if (!same(evb_json_at(v, i), json_array_get(j, i)))
                return false;
        return true;
    case JSON_OBJECT: {
        if (evb_json_typeof(v) != EVB_JSON_OBJECT || evb_json_size(v) != json_object_size(j))
            return false;
        size_t i = 0;
        for (void *it = json_object_iter(j); it != NULL; it = json_object_iter_next(j, it), i++) {
            size_t kl;
            const char *k = evb_json_key_at(v, i, &kl);
            const char *jk = json_object_iter_key(it);
            size_t jkl = json_object_iter_key_len(it);
            if (k == NULL || kl != jkl || memcmp(k, jk, kl) != 0 ||
                !same(evb_json_value_at(v, i), json_object_iter_value(it)) ||
                evb_json_getn(v, jk, jkl) != evb_json_value_at(v, i))
                return false;
        }
        return true;
    }
    }
    return false;
}

/* Whether v holds a number beyond 2^53 in magnitude (its canonical text may read back
 * differently: json_value.h). */
static bool has_big(const evb_json *v)
{
    switch (evb_json_typeof(v)) {
    case EVB_JSON_INTEGER:
    case EVB_JSON_REAL:
        return fabsl(evb_json_number_ld(v)) > TWO53;
    case EVB_JSON_ARRAY:
        for (size_t i = 0; i < evb_json_size(v); i++)
            if (has_big(evb_json_at(v, i)))
                return true;
        return false;
    case EVB_JSON_OBJECT:
        for (size_t i = 0; i < evb_json_size(v); i++)
            if (has_big(evb_json_value_at(v, i)))
                return true;
        return false;
    default:
        return false;
    }
}

/* The canonical text of v parses, to an equal value when no number is beyond 2^53. */
static void check_canonical(const evb_json *v)
{
    char *c = NULL;
    size_t n = 0;
    if (evb_json_canonical(v, &c, &n) != EVB_OK)
        abort();
    evb_json_doc *d2 = NULL;
    if (evb_json_parse(c, n, EVB_JSON_HARD_MAX_DEPTH, &d2, NULL) != EVB_OK) {
        fprintf(stderr, "canonical text does not parse: %s\n", c);
        abort();
    }
    if (!has_big(v) && (!evb_json_equal(v, evb_json_root(d2)) ||
                        evb_json_hash(v) != evb_json_hash(evb_json_root(d2)))) {
        fprintf(stderr, "canonical text reads back different: %s\n", c);
        abort();
    }
    evb_json_doc_free(d2);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    size_t max_depth = sel % 4 == 0   ? 0
                       : sel % 4 == 1 ? 1 + (sel >> 2) % 8
                       : sel % 4 == 2 ? EVB_JSON_HARD_MAX_DEPTH
                                      : 5000;
    size_t eff = max_depth == 0                        ? EVB_JSON_DEFAULT_MAX_DEPTH
                 : max_depth > EVB_JSON_HARD_MAX_DEPTH ? EVB_JSON_HARD_MAX_DEPTH
                                                       : max_depth;
    char *text = fuzz_dup(data + 1, size - 1); /* exact length: ASan sees over-reads */
    size_t len = size - 1;

    evb_json_doc *d = (evb_json_doc *)1;
    evb_error e;
    evb_err rc = evb_json_parse(text, len, max_depth, &d, &e);
    json_t *j = NULL;
    pbuf where = {0};
    bool jansson_depth;
    evb_err ref = ref_parse(text, len, eff, &j, &where, &jansson_depth);

    if (rc != EVB_OK && d != NULL)
        abort(); /* *out is NULL on failure */
    if (rc == EVB_ERR_PARSE &&
        (e.code != rc || strstr(e.message, "invalid JSON at line ") == NULL ||
         strstr(e.message, "(byte ") == NULL))
        abort();
    if (ref == EVB_ERR_NOMEM || rc == EVB_ERR_NOMEM)
        goto out; /* not a disagreement about the text */
    if (rc != ref) {
        /* documented: too deep is reported before a later syntax error; jansson's own limit */
        bool ok = (rc == EVB_ERR_LIMIT && ref == EVB_ERR_PARSE) ||
                  (ref == EVB_ERR_LIMIT && jansson_depth && rc == EVB_ERR_PARSE) ||
                  (rc == EVB_ERR_PARSE && memchr(text, '\0', len) != NULL);
        if (!ok) {
            fprintf(stderr, "evb_json_parse: %d (%s), jansson: %d\n", (int)rc,
                    rc ? e.message : "ok", (int)ref);
            abort();
        }
        goto out;
    }
    if (rc == EVB_ERR_LIMIT && !jansson_depth) {
        evb_error want;
        evb_error_set(&want, EVB_ERR_LIMIT, where.s, "x");
        if (strcmp(want.pointer, e.pointer) != 0) {
            fprintf(stderr, "depth pointer %s, jansson %s\n", e.pointer, want.pointer);
            abort();
        }
    }
    if (rc == EVB_OK) {
        if (!same(evb_json_root(d), j)) {
            fprintf(stderr, "values differ\n");
            abort();
        }
        if (!evb_json_equal(evb_json_root(d), evb_json_root(d)) ||
            evb_json_hash(evb_json_root(d)) != evb_json_hash(evb_json_root(d)))
            abort();
        check_canonical(evb_json_root(d));
    }
out:
    if (rc == EVB_OK)
        evb_json_doc_free(d);
    json_decref(j);
    free(where.s);
    free(text);
    return 0;
}
