/* evbctl — YAML <-> jansson (see yamljson.h).
 *
 * The loader is a recursive descent over libyaml events (one call per node); anchors keep
 * a reference to the value they name in a small list. The emitter writes block mappings
 * and sequences with two-space indentation and flow "{}"/"[]" for empty ones.
 */
#include "clients/evbctl/yamljson.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define MAX_DEPTH 200

typedef struct anchor {
    char *name;
    json_t *value;
} anchor;

typedef struct loader {
    yaml_parser_t parser;
    anchor *anchors;
    size_t n_anchors, cap_anchors;
    evb_error *err;
} loader;

static evb_err fail(loader *l, const yaml_mark_t *mark, const char *what)
{
    return evb_error_set(l->err, EVB_ERR_PARSE, NULL, "YAML line %zu column %zu: %s",
                         (size_t)mark->line + 1, (size_t)mark->column + 1, what);
}

static evb_err next_event(loader *l, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&l->parser, ev)) {
        return evb_error_set(l->err, EVB_ERR_PARSE, NULL, "YAML line %zu column %zu: %s",
                             (size_t)l->parser.problem_mark.line + 1,
                             (size_t)l->parser.problem_mark.column + 1,
                             l->parser.problem ? l->parser.problem : "syntax error");
    }
    return EVB_OK;
}

static void add_anchor(loader *l, const yaml_char_t *name, json_t *v)
{
    if (name == NULL)
        return;
    if (l->n_anchors == l->cap_anchors) {
        size_t nc = l->cap_anchors ? 2 * l->cap_anchors : 8;
        anchor *na = realloc(l->anchors, nc * sizeof(*na));
        if (na == NULL)
            return;
        l->anchors = na;
        l->cap_anchors = nc;
    }
    l->anchors[l->n_anchors].name = strdup((const char *)name);
    l->anchors[l->n_anchors].value = json_incref(v);
    l->n_anchors++;
}

static json_t *find_anchor(loader *l, const yaml_char_t *name)
{
    for (size_t i = l->n_anchors; i > 0; i--)
        if (l->anchors[i - 1].name && strcmp(l->anchors[i - 1].name, (const char *)name) == 0)
            return l->anchors[i - 1].value;
    return NULL;
}

static int ieq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* A plain scalar typed by the core schema. */
static json_t *plain_scalar(const char *s)
{
    if (s[0] == 0 || ieq(s, "~") || ieq(s, "null") || ieq(s, "Null") || ieq(s, "NULL"))
        return json_null();
    if (ieq(s, "true") || ieq(s, "True") || ieq(s, "TRUE"))
        return json_true();
    if (ieq(s, "false") || ieq(s, "False") || ieq(s, "FALSE"))
        return json_false();
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (ieq(p, ".inf") || ieq(p, ".Inf") || ieq(p, ".INF"))
        return json_real(s[0] == '-' ? -INFINITY : INFINITY);
    if (ieq(s, ".nan") || ieq(s, ".NaN") || ieq(s, ".NAN"))
        return json_real(NAN);
    char *end;
    if (isdigit((unsigned char)*p)) {
        errno = 0;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p == s) {
            long long v = strtoll(p + 2, &end, p[1] == 'x' ? 16 : 8);
            if (*end == 0 && p[2] && errno == 0)
                return json_integer(v);
            return json_string(s);
        }
        size_t n = strspn(p, "0123456789");
        if (p[n] == 0) {
            long long v = strtoll(s, &end, 10);
            if (*end == 0 && errno == 0)
                return json_integer(v);
            return json_real(strtod(s, NULL));
        }
    }
    if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
        double d = strtod(s, &end);
        if (*end == 0)
            return json_real(d);
    }
    return json_string(s);
}

static evb_err load_node(loader *l, yaml_event_t *ev, int depth, json_t **out);

static evb_err load_children(loader *l, json_t *container, int is_map, int depth)
{
    for (;;) {
        yaml_event_t ev;
        evb_err rc = next_event(l, &ev);
        if (rc != EVB_OK)
            return rc;
        if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return EVB_OK;
        }
        json_t *v = NULL;
        if (is_map) {
            json_t *k = NULL;
            yaml_mark_t mark = ev.start_mark;
            rc = load_node(l, &ev, depth + 1, &k);
            if (rc != EVB_OK)
                return rc;
            if (!json_is_string(k) && !json_is_integer(k) && !json_is_boolean(k) &&
                !json_is_real(k)) {
                json_decref(k);
                return fail(l, &mark, "mapping keys must be scalars");
            }
            char kbuf[64];
            const char *key = kbuf;
            if (json_is_string(k))
                key = json_string_value(k);
            else if (json_is_integer(k))
                snprintf(kbuf, sizeof kbuf, "%lld", (long long)json_integer_value(k));
            else if (json_is_real(k))
                snprintf(kbuf, sizeof kbuf, "%.17g", json_real_value(k));
            else
                snprintf(kbuf, sizeof kbuf, "%s", json_is_true(k) ? "true" : "false");
            if (json_object_get(container, key) != NULL) {
                json_decref(k);
                return fail(l, &mark, "duplicate mapping key");
            }
            rc = next_event(l, &ev);
            if (rc == EVB_OK)
                rc = load_node(l, &ev, depth + 1, &v);
            if (rc == EVB_OK)
                json_object_set_new(container, key, v);
            json_decref(k);
        } else {
            rc = load_node(l, &ev, depth + 1, &v);
            if (rc == EVB_OK)
                json_array_append_new(container, v);
        }
        if (rc != EVB_OK)
            return rc;
    }
}

/* Builds the node starting with ev (consumed). */
static evb_err load_node(loader *l, yaml_event_t *ev, int depth, json_t **out)
{
    evb_err rc = EVB_OK;
    *out = NULL;
    if (depth > MAX_DEPTH) {
        rc = fail(l, &ev->start_mark, "nested too deeply");
        yaml_event_delete(ev);
        return rc;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        json_t *v = find_anchor(l, ev->data.alias.anchor);
        if (v == NULL)
            rc = fail(l, &ev->start_mark, "unknown alias");
        else
            *out = json_deep_copy(v);
        break;
    }
    case YAML_SCALAR_EVENT: {
        const char *s = (const char *)ev->data.scalar.value;
        const char *tag = (const char *)ev->data.scalar.tag;
        if ((tag != NULL && strcmp(tag, YAML_STR_TAG) == 0) || !ev->data.scalar.plain_implicit)
            *out = json_stringn(s, ev->data.scalar.length);
        else
            *out = plain_scalar(s);
        if (*out == NULL)
            rc = fail(l, &ev->start_mark, "invalid scalar (not UTF-8?)");
        else
            add_anchor(l, ev->data.scalar.anchor, *out);
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        json_t *c = is_map ? json_object() : json_array();
        yaml_char_t *anc = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        char *anc_copy = anc ? strdup((const char *)anc) : NULL;
        rc = load_children(l, c, is_map, depth);
        if (rc == EVB_OK) {
            *out = c;
            add_anchor(l, (const yaml_char_t *)anc_copy, c);
        } else {
            json_decref(c);
        }
        free(anc_copy);
        break;
    }
    default:
        rc = fail(l, &ev->start_mark, "unexpected YAML event");
        break;
    }
    yaml_event_delete(ev);
    return rc;
}

evb_err evb_yaml_load(const char *text, size_t len, json_t **out, evb_error *err)
{
    loader l;
    memset(&l, 0, sizeof(l));
    l.err = err;
    if (!yaml_parser_initialize(&l.parser))
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, len);
    json_t *docs = json_array();
    evb_err rc = EVB_OK;
    for (int done = 0; !done && rc == EVB_OK;) {
        yaml_event_t ev;
        rc = next_event(&l, &ev);
        if (rc != EVB_OK)
            break;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            yaml_event_delete(&ev);
            break;
        case YAML_DOCUMENT_START_EVENT: {
            yaml_event_delete(&ev);
            json_t *v = NULL;
            rc = next_event(&l, &ev);
            if (rc == EVB_OK)
                rc = load_node(&l, &ev, 0, &v);
            if (rc == EVB_OK)
                rc = next_event(&l, &ev); /* DOCUMENT_END */
            if (rc == EVB_OK) {
                yaml_event_delete(&ev);
                json_array_append_new(docs, v);
            } else {
                json_decref(v);
            }
            break;
        }
        default:
            yaml_event_delete(&ev);
            break;
        }
    }
    for (size_t i = 0; i < l.n_anchors; i++) {
        free(l.anchors[i].name);
        json_decref(l.anchors[i].value);
    }
    free(l.anchors);
    yaml_parser_delete(&l.parser);
    if (rc != EVB_OK) {
        json_decref(docs);
        return rc;
    }
    *out = docs;
    return EVB_OK;
}

/* ---- emitter ---------------------------------------------------------------------------- */

static int needs_quotes(const char *s)
{
    if (s[0] == 0)
        return 1;
    json_t *typed = plain_scalar(s);
    int not_string = !json_is_string(typed);
    json_decref(typed);
    if (not_string)
        return 1;
    if (strchr("-?:,[]{}#&*!|>'\"%@` .0123456789", s[0]) != NULL)
        return 1;
    size_t n = strlen(s);
    if (s[n - 1] == ' ' || s[n - 1] == ':')
        return 1;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return 1;
        if (c == 0xc2 && (unsigned char)p[1] >= 0x80 && (unsigned char)p[1] <= 0x9f)
            return 1; /* C1 controls: YAML does not allow them raw */
        if (c == 0xef && (unsigned char)p[1] == 0xbf && (unsigned char)p[2] >= 0xbe)
            return 1; /* U+FFFE, U+FFFF: not YAML-printable */
        if (c == 0xe2 && (unsigned char)p[1] == 0x80 &&
            ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9))
            return 1; /* U+2028, U+2029: line breaks to libyaml (YAML 1.1) */
        if (c == 0xef && (unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf)
            return 1; /* U+FEFF: dropped as a byte order mark at the start of a document */
        if ((c == ':' && (p[1] == ' ' || p[1] == 0)) || (c == '#' && p > s && p[-1] == ' '))
            return 1;
    }
    return 0;
}

/* A YAML double-quoted scalar: every character YAML does not allow raw (C0 and C1
 * controls, DEL, U+FFFE/U+FFFF), the line separators U+2028/U+2029 (line breaks to
 * libyaml, which folds them) and U+FEFF (a byte order mark to libyaml) are written as
 * \uXXXX escapes (found by fuzz_evbctl, E1, E2). */
static void emit_quoted(const char *s, size_t len, FILE *f)
{
    fputc('"', f);
    const unsigned char *end = (const unsigned char *)s + len;
    for (const unsigned char *p = (const unsigned char *)s; p < end; p++) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04X", c);
        } else if (c == 0xc2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9f) {
            fprintf(f, "\\u%04X", (unsigned)p[1]);
            p++;
        } else if (c == 0xef && p + 2 < end && p[1] == 0xbf && p[2] >= 0xbe) {
            fprintf(f, "\\u%04X", 0xffc0u + (p[2] & 0x3fu));
            p += 2;
        } else if (c == 0xe2 && p + 2 < end && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            fprintf(f, "\\u%04X", 0x2000u + (p[2] & 0x3fu)); /* U+2028, U+2029 */
            p += 2;
        } else if (c == 0xef && p + 2 < end && p[1] == 0xbb && p[2] == 0xbf) {
            fputs("\\uFEFF", f);
            p += 2;
        } else {
            fputc((int)c, f);
        }
    }
    fputc('"', f);
}

static void emit_scalar(const json_t *v, FILE *f)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        if (needs_quotes(s) || strlen(s) != json_string_length(v)) {
            emit_quoted(s, json_string_length(v), f);
        } else {
            fputs(s, f);
        }
        break;
    }
    case JSON_INTEGER:
        fprintf(f, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (isnan(d))
            fputs(".nan", f);
        else if (isinf(d))
            fputs(d > 0 ? ".inf" : "-.inf", f);
        else {
            char buf[40];
            snprintf(buf, sizeof buf, "%.15g", d);
            fputs(buf, f);
            if (strpbrk(buf, ".eEn") == NULL)
                fputs(".0", f);
        }
        break;
    }
    case JSON_TRUE:
        fputs("true", f);
        break;
    case JSON_FALSE:
        fputs("false", f);
        break;
    case JSON_NULL:
        fputs("null", f);
        break;
    case JSON_OBJECT:
        fputs("{}", f);
        break;
    case JSON_ARRAY:
        fputs("[]", f);
        break;
    }
}

static int is_block(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

static void indent(FILE *f, int n)
{
    for (int i = 0; i < n; i++)
        fputc(' ', f);
}

/* Emits a block value whose first line continues the current line when `inline_first`. */
static void emit_block(const json_t *v, FILE *f, int ind, int inline_first)
{
    int first = 1;
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            if (!(first && inline_first))
                indent(f, ind);
            first = 0;
            /* An implicit key is at most 1024 characters (YAML 1.2 7.4.2); a long key, even
             * escaped (at most 6 characters a byte), takes the explicit "? key" form (found by
             * fuzz_evbctl, E3: a 2,300-character key did not load back). */
            int explicit_key = strlen(key) > 128;
            if (explicit_key)
                fputs("? ", f);
            json_t *kj = json_string(key);
            emit_scalar(kj, f);
            json_decref(kj);
            if (explicit_key) {
                fputc('\n', f);
                indent(f, ind);
            }
            fputc(':', f);
            if (is_block(val)) {
                fputc('\n', f);
                emit_block(val, f, json_is_array(val) ? ind : ind + 2, 0);
            } else {
                fputc(' ', f);
                emit_scalar(val, f);
                fputc('\n', f);
            }
        }
    } else {
        size_t i;
        json_t *val;
        json_array_foreach(v, i, val)
        {
            if (!(first && inline_first))
                indent(f, ind);
            first = 0;
            fputs("- ", f);
            if (is_block(val)) {
                emit_block(val, f, ind + 2, 1);
            } else {
                emit_scalar(val, f);
                fputc('\n', f);
            }
        }
    }
}

void evb_yaml_dump(const json_t *v, FILE *f)
{
    if (is_block(v)) {
        emit_block(v, f, 0, 0);
    } else {
        emit_scalar(v, f);
        fputc('\n', f);
    }
}
