/* evbridge — the JSONPath subset used by transforms (JSONPATH mode and TEMPLATE variables).
 *
 * A path is compiled once into a list of steps and evaluated many times. Supported syntax
 * (a subset of RFC 9535 that always selects at most one value):
 *
 *   $                 the root (the whole CloudEvent in JSON format)
 *   .name             member; name is ASCII letters, digits, '_' and '-', or any non-ASCII
 *                     character (UTF-8); other names need the bracket form
 *   ['name'] ["name"] member; escapes \' \" \\ \/ \b \f \n \r \t \uXXXX (surrogate pairs
 *                     combine); blanks are allowed inside the brackets
 *   [n]  [-n]         array element; negative counts from the end ([-1] is the last)
 *
 * Not supported, each rejected with its own message: wildcards (.* [*]), recursive descent
 * (..), slices ([1:2]), unions (['a','b']), filters ([?...]), leading zeros and -0 in
 * indexes. Evaluation never fails: a member of a non-object, an element of a non-array, an
 * absent member or an index out of range all give "missing" (NULL).
 * Spec: https://www.rfc-editor.org/rfc/rfc9535 (§2.3.1 name, §2.3.3 index selectors)
 */
#ifndef EVB_SERVER_ROUTING_JSONPATH_H
#define EVB_SERVER_ROUTING_JSONPATH_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

typedef struct evb_jsonpath evb_jsonpath;

/* Compiles path[0..len) (UTF-8; need not be NUL-terminated) into *out (free with
 * evb_jsonpath_free). On a syntax error returns EVB_ERR_INVALID and, when err is not NULL,
 * fills err->message with "at character N: reason" (N counts code points from 1) and leaves
 * err->pointer empty for the caller to name the field. EVB_ERR_NOMEM on allocation failure.
 * *out is set only on EVB_OK. Thread-safe. */
evb_err evb_jsonpath_compile(const char *path, size_t len, evb_jsonpath **out, evb_error *err);

/* The value p selects in root, borrowed from root (no reference taken), or NULL when it is
 * missing. root may be NULL (gives NULL). Does not modify p or root; thread-safe for
 * concurrent calls on the same p and root. */
const json_t *evb_jsonpath_eval(const evb_jsonpath *p, const json_t *root);

/* Number of steps after the root ("$" has 0). */
size_t evb_jsonpath_depth(const evb_jsonpath *p);

/* Frees p. NULL is a no-op. */
void evb_jsonpath_free(evb_jsonpath *p);

#endif
