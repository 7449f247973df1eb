/* evbridge — JSON serialisation for transforms (transform_int.h).
 *
 * Why not json_dumps: jansson before 2.13 marks containers while dumping them (a data race
 * when two delivery threads transform the same event), it builds the whole text before we
 * can check the output cap, and it spells reals with 17 digits (0.1 becomes
 * 0.10000000000000001). This serialiser writes straight into a capped evb_buf (the cap stops
 * it early), touches nothing in the values, and writes reals with the shortest of %.15g,
 * %.16g, %.17g that reads back to the same double (with ".0" added to keep them reals).
 * Object members keep jansson's insertion order, which is the order of the event's text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routing/transform_int.h"

static evb_err emit_real(evb_buf *b, double d)
{
    if (!isfinite(d))
        return evb_buf_append(b, "null", 4);
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        for (char *c = tmp; *c != '\0'; c++)
            if (*c == ',') /* a locale's decimal comma */
                *c = '.';
        if (strtod(tmp, NULL) == d)
            break;
    }
    evb_err rc = evb_buf_append_str(b, tmp);
    if (rc == EVB_OK && strpbrk(tmp, ".eEn") == NULL) /* keep it a real: 1.0, not 1 */
        rc = evb_buf_append(b, ".0", 2);
    return rc;
}

static evb_err emit_string(evb_buf *b, const json_t *v)
{
    evb_err rc = evb_buf_append(b, "\"", 1);
    if (rc == EVB_OK)
        rc = evb_buf_append_json_escaped(b, json_string_value(v), json_string_length(v));
    if (rc == EVB_OK)
        rc = evb_buf_append(b, "\"", 1);
    return rc;
}

static evb_err emit(evb_buf *b, const json_t *v, int depth)
{
    if (depth > TR_MAX_DEPTH)
        return EVB_ERR_INVALID;
    evb_err rc = EVB_OK;
    switch (v == NULL ? JSON_NULL : json_typeof(v)) {
    case JSON_OBJECT: {
        rc = evb_buf_append(b, "{", 1);
        const char *key;
        size_t klen;
        json_t *mv;
        int first = 1;
        /* json_object_keylen_foreach needs a non-const object; iteration does not modify it */
        json_t *obj = (json_t *)v;
        json_object_keylen_foreach(obj, key, klen, mv)
        {
            if (rc != EVB_OK)
                break;
            if (!first)
                rc = evb_buf_append(b, ",", 1);
            first = 0;
            if (rc == EVB_OK)
                rc = evb_buf_append(b, "\"", 1);
            if (rc == EVB_OK)
                rc = evb_buf_append_json_escaped(b, key, klen);
            if (rc == EVB_OK)
                rc = evb_buf_append(b, "\":", 2);
            if (rc == EVB_OK)
                rc = emit(b, mv, depth + 1);
        }
        if (rc == EVB_OK)
            rc = evb_buf_append(b, "}", 1);
        return rc;
    }
    case JSON_ARRAY:
        rc = evb_buf_append(b, "[", 1);
        for (size_t i = 0; rc == EVB_OK && i < json_array_size(v); i++) {
            if (i > 0)
                rc = evb_buf_append(b, ",", 1);
            if (rc == EVB_OK)
                rc = emit(b, json_array_get(v, i), depth + 1);
        }
        if (rc == EVB_OK)
            rc = evb_buf_append(b, "]", 1);
        return rc;
    case JSON_STRING:
        return emit_string(b, v);
    case JSON_INTEGER:
        return evb_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return emit_real(b, json_real_value(v));
    case JSON_TRUE:
        return evb_buf_append(b, "true", 4);
    case JSON_FALSE:
        return evb_buf_append(b, "false", 5);
    case JSON_NULL:
    default:
        return evb_buf_append(b, "null", 4);
    }
}

evb_err tr_emit_json(evb_buf *b, const json_t *v)
{
    return emit(b, v, 0);
}

evb_err tr_emit_in_string(evb_buf *b, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return EVB_OK;
    if (json_is_string(v))
        return evb_buf_append_json_escaped(b, json_string_value(v), json_string_length(v));
    evb_buf tmp;
    evb_buf_init(&tmp, b->cap);
    evb_err rc = emit(&tmp, v, 0);
    if (rc == EVB_OK)
        rc = evb_buf_append_json_escaped(b, tmp.data, tmp.len);
    evb_buf_fini(&tmp);
    return rc;
}

evb_err tr_emit_text(evb_buf *b, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return EVB_OK;
    if (json_is_string(v))
        return evb_buf_append(b, json_string_value(v), json_string_length(v));
    return emit(b, v, 0);
}

int tr_is_json(const char *s, size_t n, int allow_dup, char *why, size_t why_size)
{
    json_error_t je;
    size_t flags = JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL;
    if (!allow_dup)
        flags |= JSON_REJECT_DUPLICATES;
    json_t *j = json_loadb(s, n, flags, &je);
    if (j == NULL) {
        if (why != NULL && why_size > 0)
            snprintf(why, why_size, "%s (line %d, column %d)", je.text, je.line, je.column);
        return 0;
    }
    json_decref(j);
    return 1;
}

int tr_starts_like_json(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i < n && (s[i] == '{' || s[i] == '[');
}
