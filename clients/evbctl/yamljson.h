/* evbctl — YAML <-> jansson trees, so YAML input and output share the JSON code paths.
 *
 * Input: libyaml's event parser builds one jansson value per YAML document. Quoted scalars
 * and scalars tagged !!str are strings; plain scalars are typed as YAML 1.2's core schema
 * does: null/Null/NULL/~/empty -> null, true/false (any case of those words) -> booleans,
 * decimal integers (and 0x/0o) -> integers, decimal floats and .inf/.nan -> reals, anything
 * else -> a string. Anchors and aliases are supported; duplicate mapping keys and non-
 * scalar keys are errors. Output: a block-style YAML emitter walking the jansson tree;
 * strings are double-quoted (JSON escaping, which is valid YAML) when they could be read
 * back as something else. Thread-safe.
 */
#ifndef EVB_CLIENTS_EVBCTL_YAMLJSON_H
#define EVB_CLIENTS_EVBCTL_YAMLJSON_H

#include <jansson.h>
#include <stdio.h>

#include "common/err.h"

/* Parses text[0..len) into a new JSON array holding one value per document (*out).
 * EVB_ERR_PARSE with err->message naming the line and column; EVB_ERR_NOMEM. */
evb_err evb_yaml_load(const char *text, size_t len, json_t **out, evb_error *err);

/* Writes v as a YAML document (no "---" marker) to f. */
void evb_yaml_dump(const json_t *v, FILE *f);

#endif
