/* evbridge — transform internals shared by server/routing/transform*.c. Not for other
 * folders: use transform.h.
 *
 * transform.c          compile entry point, apply dispatch, ORIGINAL / DATA / JSONPATH /
 *                      CONSTANT
 * transform_template.c TEMPLATE: placeholder scanning, quoting state, rendering
 * transform_emit.c     JSON serialisation of jansson values into a bounded buffer
 * transform_proto.c    the proto JSON form (TestTransform) and evb_transform_test
 */
#ifndef EVB_SERVER_ROUTING_TRANSFORM_INT_H
#define EVB_SERVER_ROUTING_TRANSFORM_INT_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "server/routing/jsonpath.h"
#include "server/routing/transform.h"

#define TR_MAX_DEPTH 2048 /* nesting the serialiser follows (jansson's parser limit) */

/* One piece of a compiled template: literal bytes, or a variable's value. */
typedef struct tr_part {
    int is_var;
    size_t off, len; /* literal: bytes in evb_transform.lits */
    size_t var;      /* variable: index into evb_transform.vars */
    int in_string;   /* variable: stands inside a JSON string literal of the template */
} tr_part;

typedef struct tr_var {
    char *name;
    evb_jsonpath *path;
    int used;
} tr_var;

struct evb_transform {
    evb_transform_mode mode;
    /* CONSTANT: the text as given; is_json says whether it is a JSON text */
    char *value;
    size_t value_len;
    int is_json; /* CONSTANT and TEMPLATE: the output is JSON */
    /* JSONPATH */
    evb_jsonpath *path;
    /* TEMPLATE */
    tr_var *vars;
    size_t n_vars;
    tr_part *parts;
    size_t n_parts;
    char *lits;
};

/* Compiles t->value as a template over the already compiled t->vars (marks them used);
 * sets parts, lits and is_json. err->pointer names the field. */
evb_err tr_template_compile(evb_transform *t, evb_error *err);

/* Renders the compiled template for event into b. */
evb_err tr_template_render(const evb_transform *t, const json_t *event, evb_buf *b);

/* Appends the compact JSON text of v (NULL = missing = null) to b. Reals use the shortest
 * spelling that reads back to the same double. EVB_ERR_INVALID past TR_MAX_DEPTH levels. */
evb_err tr_emit_json(evb_buf *b, const json_t *v);

/* Appends the JSON text of v as the content of a JSON string (escaped, no quotes); a string
 * value gives its escaped characters; NULL and null give nothing. */
evb_err tr_emit_in_string(evb_buf *b, const json_t *v);

/* Appends v as plain text: a string's characters, other values' JSON text; NULL and null
 * give nothing. */
evb_err tr_emit_text(evb_buf *b, const json_t *v);

/* 1 when s[0..n) is a JSON text (any value; duplicate keys allowed when allow_dup; integers
 * beyond 64 bits allowed), else 0 with the parser's reason in why (may be NULL). */
int tr_is_json(const char *s, size_t n, int allow_dup, char *why, size_t why_size);

/* 1 when the first non-blank byte of s[0..n) is '{' or '['. */
int tr_starts_like_json(const char *s, size_t n);

#endif
