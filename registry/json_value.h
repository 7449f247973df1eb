/* evbridge registry — a small, immutable JSON value API.
 *
 * The validator and the registry see JSON only through this header. The parser behind it
 * (json_parse.c, our own since jansson's tree cost most of a validation) is strict RFC 8259:
 * duplicate keys, invalid UTF-8, lone UTF-16 surrogates in \u escapes, raw control characters
 * in strings, leading zeros and trailing text are errors; U+0000 is allowed (and counted) in
 * string values but not in object keys. A parsed document is one allocation arena: values
 * are borrowed from their evb_json_doc and die with it.
 *
 * Numbers: integers that fit in int64 are kept exact (EVB_JSON_INTEGER); everything else is a
 * double (EVB_JSON_REAL), and a number beyond the double range (1e400) is an error. A
 * document with an integer beyond int64 reads as if every number in it were a double, and
 * integral doubles up to 2^53 are turned back into exact integers (so there, 2^53 + 1 reads
 * as 2^53 and 2^53 + 3 as the double 2^53 + 4; elsewhere both stay exact integers). 1.0 and -0
 * are the integers 1 and 0.
 * Equality (evb_json_equal) follows JSON Schema: 1 == 1.0, object member order is ignored.
 *
 * Thread-safety: a document is immutable after evb_json_parse; any number of threads may read
 * it concurrently. Parsing and freeing are not synchronised with readers.
 */
#ifndef EVB_REGISTRY_JSON_VALUE_H
#define EVB_REGISTRY_JSON_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum evb_json_type {
    EVB_JSON_NULL,
    EVB_JSON_BOOL,
    EVB_JSON_INTEGER,
    EVB_JSON_REAL,
    EVB_JSON_STRING,
    EVB_JSON_ARRAY,
    EVB_JSON_OBJECT
} evb_json_type;

typedef struct evb_json evb_json;         /* one value inside a document */
typedef struct evb_json_doc evb_json_doc; /* owns all values of one parse */

/* Default and hard upper bound for nesting depth (arrays/objects) of parsed documents. */
#define EVB_JSON_DEFAULT_MAX_DEPTH 128
#define EVB_JSON_HARD_MAX_DEPTH 1024

/* Parses text[0..len) (one JSON value of any type, UTF-8; text need not be NUL-terminated).
 * Arrays and objects may nest max_depth levels (the root container is level 1); 0 means the
 * default, values above EVB_JSON_HARD_MAX_DEPTH are clamped. On success *out owns the
 * document (free with evb_json_doc_free). Errors: EVB_ERR_PARSE (malformed, duplicate key;
 * err->message has line, column in characters and byte offset of the first error),
 * EVB_ERR_LIMIT (too deep; err->pointer names the container that opens one level too deep;
 * reported when the parser gets there, before any later syntax error), EVB_ERR_NOMEM,
 * EVB_ERR_INVALID (NULL text or out). err may be NULL. Thread-safe. */
evb_err evb_json_parse(const char *text, size_t len, size_t max_depth, evb_json_doc **out,
                       evb_error *err);

/* Frees the document and every value in it. NULL is a no-op. */
void evb_json_doc_free(evb_json_doc *doc);

/* The root value; never NULL for a parsed document. */
const evb_json *evb_json_root(const evb_json_doc *doc);

evb_json_type evb_json_typeof(const evb_json *v);
/* true for INTEGER and REAL. */
bool evb_json_is_number(const evb_json *v);
/* true for INTEGER and for REAL values with no fractional part. */
bool evb_json_is_integral(const evb_json *v);
bool evb_json_bool(const evb_json *v);             /* false unless a true BOOL */
int64_t evb_json_int(const evb_json *v);           /* INTEGER value, else 0 */
double evb_json_number(const evb_json *v);         /* any number as double, else 0 */
long double evb_json_number_ld(const evb_json *v); /* exact for every int64 */
/* String bytes (NUL-terminated; *len, if not NULL, gets the length, which counts embedded
 * NULs). NULL when v is not a string. */
const char *evb_json_string(const evb_json *v, size_t *len);

/* Element/member count of arrays and objects; 0 for other types. */
size_t evb_json_size(const evb_json *v);
/* i-th array element (NULL when out of range or not an array). */
const evb_json *evb_json_at(const evb_json *v, size_t i);
/* i-th object member in document order: its key (length in *klen) and value. */
const char *evb_json_key_at(const evb_json *v, size_t i, size_t *klen);
const evb_json *evb_json_value_at(const evb_json *v, size_t i);
/* Member lookup by key (O(log n)); NULL when absent or v is not an object. */
const evb_json *evb_json_get(const evb_json *v, const char *key);
const evb_json *evb_json_getn(const evb_json *v, const char *key, size_t klen);

/* JSON Schema equality (numbers by value, objects regardless of member order). */
bool evb_json_equal(const evb_json *a, const evb_json *b);
/* A hash consistent with evb_json_equal. */
uint64_t evb_json_hash(const evb_json *v);

/* Canonical text of v: object keys sorted by code point, no insignificant whitespace,
 * minimal string escapes, integral numbers without fraction, other numbers in the shortest
 * form that round-trips. Equal values (evb_json_equal) give identical text, except for
 * integers beyond 2^53 written as doubles. *out is malloc()ed, NUL-terminated, owned by the
 * caller (free()). Errors: EVB_ERR_NOMEM, EVB_ERR_INVALID. Thread-safe. */
evb_err evb_json_canonical(const evb_json *v, char **out, size_t *out_len);

#endif
