/* evbridge — TEMPLATE transforms: ${name} placeholders bound to JSONPaths (transform_int.h).
 *
 * Compilation scans the template once, splitting it into literal parts and variable parts.
 * The scan tracks the JSON quoting state ("..." with backslash escapes), so each
 * placeholder knows whether it stands inside a JSON string literal. "$${" is the escape for
 * a literal "${"; nothing else is special. The same pass builds a skeleton — the template
 * with each placeholder replaced by nothing inside a string and by `null` outside — and the
 * template is a JSON template exactly when the skeleton is valid JSON. A template whose
 * first non-blank character is '{' or '[' must be one (a typo there is an error, not a
 * silent switch to text).
 *
 * Rendering (see docs/transforms.md):
 *   JSON template, outside a string: the value's JSON text; missing or null gives null
 *   JSON template, inside a string:  a string's characters JSON-escaped, other values' JSON
 *                                    text JSON-escaped; missing or null gives nothing
 *   text template:                   a string's characters as they are, other values' JSON
 *                                    text; missing or null gives nothing
 * So a JSON template always renders valid JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/routing/transform_int.h"

typedef struct scan {
    evb_transform *t;
    size_t parts_alloc;
    size_t lit_start; /* start in t->lits of the literal being collected */
    size_t lits_len;
    evb_buf skel;
} scan;

static evb_err add_part(scan *sc, tr_part p)
{
    evb_transform *t = sc->t;
    if (t->n_parts == sc->parts_alloc) {
        size_t na = sc->parts_alloc ? sc->parts_alloc * 2 : 8;
        tr_part *np = realloc(t->parts, na * sizeof *np);
        if (np == NULL)
            return EVB_ERR_NOMEM;
        t->parts = np;
        sc->parts_alloc = na;
    }
    t->parts[t->n_parts++] = p;
    return EVB_OK;
}

static evb_err flush_literal(scan *sc)
{
    if (sc->lits_len == sc->lit_start)
        return EVB_OK;
    tr_part p = {0, sc->lit_start, sc->lits_len - sc->lit_start, 0, 0};
    sc->lit_start = sc->lits_len;
    return add_part(sc, p);
}

static evb_err lit(scan *sc, const char *p, size_t n)
{
    memcpy(sc->t->lits + sc->lits_len, p, n);
    sc->lits_len += n;
    return evb_buf_append(&sc->skel, p, n);
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static evb_err bad(const scan *sc, size_t at, evb_error *err, const char *what, size_t nlen,
                   const char *name)
{
    char shown[80];
    snprintf(shown, sizeof shown, "%.*s", (int)(nlen > 64 ? 64 : nlen), name);
    evb_utf8_sanitize(shown);
    return evb_error_set(err, EVB_ERR_INVALID, "transform.value",
                         "transform.value: at character %zu: ${%s%s%s",
                         evb_utf8_len(sc->t->value, at) + 1, shown, nlen > 64 ? "..." : "", what);
}

/* The placeholder at value[i] ("${"); *next gets the index after its "}". */
static evb_err placeholder(scan *sc, size_t i, int in_str, size_t *next, evb_error *err)
{
    const char *s = sc->t->value;
    size_t n = sc->t->value_len, j = i + 2;
    while (j < n && name_char(s[j]))
        j++;
    size_t nlen = j - (i + 2);
    if (j >= n)
        return bad(sc, i, err, " has no closing '}'", nlen, s + i + 2);
    if (s[j] != '}')
        return bad(sc, i, err,
                   " is not a placeholder: variable names are A-Z a-z 0-9 _ (write $${ for a "
                   "literal ${)",
                   nlen, s + i + 2);
    if (nlen == 0 || (s[i + 2] >= '0' && s[i + 2] <= '9') || nlen > EVB_TRANSFORM_MAX_VAR_NAME)
        return bad(sc, i, err, "}: invalid variable name", nlen, s + i + 2);
    size_t k = 0;
    while (k < sc->t->n_vars && !(strlen(sc->t->vars[k].name) == nlen &&
                                  memcmp(sc->t->vars[k].name, s + i + 2, nlen) == 0))
        k++;
    if (k == sc->t->n_vars)
        return bad(sc, i, err, "}: the variable is not defined in transform.vars", nlen, s + i + 2);
    sc->t->vars[k].used = 1;
    evb_err rc = flush_literal(sc);
    if (rc == EVB_OK)
        rc = add_part(sc, (tr_part){1, 0, 0, k, in_str});
    if (rc == EVB_OK && !in_str)
        rc = evb_buf_append(&sc->skel, "null", 4);
    *next = j + 1;
    return rc;
}

static evb_err split(scan *sc, evb_error *err)
{
    const char *s = sc->t->value;
    size_t n = sc->t->value_len, i = 0;
    int in_str = 0, esc = 0;
    evb_err rc = EVB_OK;
    while (rc == EVB_OK && i < n) {
        char c = s[i];
        if (c == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            rc = lit(sc, "${", 2);
            i += 3;
            esc = 0;
            continue;
        }
        if (c == '$' && i + 1 < n && s[i + 1] == '{') {
            rc = placeholder(sc, i, in_str, &i, err);
            if (rc == EVB_ERR_NOMEM)
                evb_error_set(err, rc, NULL, "out of memory");
            esc = 0;
            continue;
        }
        rc = lit(sc, s + i, 1);
        if (esc)
            esc = 0;
        else if (in_str && c == '\\')
            esc = 1;
        else if (c == '"')
            in_str = !in_str;
        i++;
    }
    if (rc == EVB_OK)
        rc = flush_literal(sc);
    if (rc == EVB_ERR_NOMEM)
        evb_error_set(err, rc, NULL, "out of memory");
    return rc;
}

evb_err tr_template_compile(evb_transform *t, evb_error *err)
{
    scan sc = {t, 0, 0, 0, {0}};
    evb_buf_init(&sc.skel, 0);
    t->lits = malloc(t->value_len + 1);
    if (t->lits == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    evb_err rc = split(&sc, err);
    if (rc == EVB_OK) {
        char why[200];
        const char *sk = sc.skel.data != NULL ? sc.skel.data : "";
        t->is_json = tr_is_json(sk, sc.skel.len, 1, why, sizeof why);
        if (!t->is_json && tr_starts_like_json(t->value, t->value_len)) {
            evb_utf8_sanitize(why);
            rc = evb_error_set(err, EVB_ERR_INVALID, "transform.value",
                               "transform.value: the template starts like JSON but is not "
                               "valid JSON (placeholders counted as null, or as empty text "
                               "inside strings): %s",
                               why);
        }
    }
    evb_buf_fini(&sc.skel);
    return rc;
}

evb_err tr_template_render(const evb_transform *t, const json_t *event, evb_buf *b)
{
    evb_err rc = EVB_OK;
    for (size_t i = 0; rc == EVB_OK && i < t->n_parts; i++) {
        const tr_part *p = &t->parts[i];
        if (!p->is_var) {
            rc = evb_buf_append(b, t->lits + p->off, p->len);
            continue;
        }
        const json_t *v = evb_jsonpath_eval(t->vars[p->var].path, event);
        if (!t->is_json)
            rc = tr_emit_text(b, v);
        else if (p->in_string)
            rc = tr_emit_in_string(b, v);
        else
            rc = tr_emit_json(b, v);
    }
    return rc;
}
