/* evbridge — pattern compiler: JSON text -> field conditions + "$or" expanded into branches.
 *
 * The pattern is walked once. Each leaf array becomes one field condition (dotted path +
 * OR-list of operations); each object yields a set of branches (DNF): fields AND together
 * (cross product), "$or" alternatives OR together (union). The product is bounded by
 * EVB_PATTERN_MAX_BRANCHES before it is built, so a hostile pattern cannot blow up memory.
 * Every rejection names the JSON pointer of the offending member and the rule it breaks.
 * The leaf (operator) parsers live in pattern_parse.c.
 */
#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern_int.h"

typedef struct br {
    uint32_t *f;
    size_t n;
} br;

typedef struct dnf {
    br *b;
    size_t n;
} dnf;

static void dnf_free(dnf *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->b[i].f);
    free(d->b);
    d->b = NULL;
    d->n = 0;
}

static evb_err dnf_unit(dnf *d)
{
    d->b = calloc(1, sizeof *d->b);
    d->n = d->b ? 1 : 0;
    return d->b ? EVB_OK : EVB_ERR_NOMEM;
}

/* *a = *a AND b (cross product); b is consumed. */
static evb_err dnf_and(evb_pm_cctx *c, dnf *a, dnf *b)
{
    if (a->n * b->n > EVB_PATTERN_MAX_BRANCHES) {
        dnf_free(b);
        return evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                             "$or: the pattern expands to more than %u alternatives",
                             EVB_PATTERN_MAX_BRANCHES);
    }
    size_t n = a->n * b->n;
    dnf r = {calloc(n ? n : 1, sizeof(br)), n};
    if (r.b == NULL) {
        r.n = 0;
        goto nomem;
    }
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < b->n; j++) {
            br *o = &r.b[i * b->n + j];
            o->n = a->b[i].n + b->b[j].n;
            o->f = malloc((o->n ? o->n : 1) * sizeof(uint32_t));
            if (o->f == NULL)
                goto nomem;
            if (a->b[i].n > 0)
                memcpy(o->f, a->b[i].f, a->b[i].n * sizeof(uint32_t));
            if (b->b[j].n > 0)
                memcpy(o->f + a->b[i].n, b->b[j].f, b->b[j].n * sizeof(uint32_t));
        }
    }
    dnf_free(a);
    dnf_free(b);
    *a = r;
    return EVB_OK;
nomem:
    dnf_free(&r);
    dnf_free(b);
    return evb_error_set(c->err, EVB_ERR_NOMEM, c->ptr, "out of memory");
}

/* *a = *a OR b; b is consumed. */
static evb_err dnf_or(evb_pm_cctx *c, dnf *a, dnf *b)
{
    if (a->n + b->n > EVB_PATTERN_MAX_BRANCHES) {
        dnf_free(b);
        return evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                             "$or: the pattern expands to more than %u alternatives",
                             EVB_PATTERN_MAX_BRANCHES);
    }
    if (b->n == 0) {
        dnf_free(b);
        return EVB_OK;
    }
    br *nb = realloc(a->b, (a->n + b->n) * sizeof(br));
    if (nb == NULL) {
        dnf_free(b);
        return evb_error_set(c->err, EVB_ERR_NOMEM, c->ptr, "out of memory");
    }
    memcpy(nb + a->n, b->b, b->n * sizeof(br));
    a->b = nb;
    a->n += b->n;
    free(b->b);
    b->b = NULL;
    b->n = 0;
    return EVB_OK;
}

static evb_err compile_obj(evb_pm_cctx *c, const json_t *obj, dnf *out);

static evb_err compile_or(evb_pm_cctx *c, const json_t *arr, dnf *out)
{
    if (!json_is_array(arr) || json_array_size(arr) < 2)
        return evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                             "$or: expected an array of at least 2 objects");
    out->b = NULL;
    out->n = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        size_t mark = evb_pm_ptr_index(c, i);
        const json_t *e = json_array_get(arr, i);
        dnf alt = {NULL, 0};
        evb_err rc;
        if (!json_is_object(e) || json_object_size(e) == 0)
            rc = evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                               "$or: each alternative must be a non-empty object");
        else
            rc = compile_obj(c, e, &alt);
        if (rc == EVB_OK)
            rc = dnf_or(c, out, &alt);
        if (rc != EVB_OK) {
            dnf_free(out);
            return rc;
        }
        evb_pm_ptr_pop(c, mark);
    }
    return EVB_OK;
}

static evb_err compile_member(evb_pm_cctx *c, const char *key, const json_t *val, dnf *part)
{
    if (strcmp(key, "$or") == 0)
        return compile_or(c, val, part);
    if (key[0] == '\0')
        return evb_error_set(c->err, EVB_ERR_INVALID, c->ptr, "a field name must not be empty");
    if (key[0] == '$')
        return evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                             "unknown operator \"%s\" (field names starting with '$' are "
                             "reserved)",
                             key);
    size_t pmark = evb_pm_path_push(c, key);
    evb_err rc;
    if (pmark == (size_t)-1) {
        rc = evb_error_set(c->err, EVB_ERR_NOMEM, c->ptr, "out of memory");
    } else if (json_is_array(val)) {
        uint32_t fi;
        rc = evb_pm_parse_field(c, val, &fi);
        if (rc == EVB_OK && (rc = dnf_unit(part)) == EVB_OK) {
            part->b[0].f = malloc(sizeof(uint32_t));
            if (part->b[0].f == NULL) {
                dnf_free(part);
                rc = evb_error_set(c->err, EVB_ERR_NOMEM, c->ptr, "out of memory");
            } else {
                part->b[0].f[0] = fi;
                part->b[0].n = 1;
            }
        }
    } else if (json_is_object(val)) {
        if (json_object_size(val) == 0)
            rc = evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                               "an object in a pattern must not be empty");
        else
            rc = compile_obj(c, val, part);
    } else {
        rc = evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                           "expected an array of values or an object, got %s",
                           evb_pm_type_name(val));
    }
    if (pmark != (size_t)-1)
        evb_pm_path_pop(c, pmark);
    return rc;
}

static evb_err compile_obj(evb_pm_cctx *c, const json_t *obj, dnf *out)
{
    evb_err rc = dnf_unit(out);
    if (rc != EVB_OK)
        return evb_error_set(c->err, rc, c->ptr, "out of memory");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        size_t mark = evb_pm_ptr_push(c, key);
        dnf part = {NULL, 0};
        rc = compile_member(c, key, val, &part);
        if (rc == EVB_OK)
            rc = dnf_and(c, out, &part);
        if (rc != EVB_OK) {
            dnf_free(out);
            return rc;
        }
        evb_pm_ptr_pop(c, mark);
    }
    return EVB_OK;
}

static evb_err finish(evb_pm_cctx *c, dnf *d)
{
    evb_pattern *p = c->p;
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++)
        total += d->b[i].n;
    p->bfields = malloc((total ? total : 1) * sizeof(uint32_t));
    p->boff = malloc((d->n + 1) * sizeof(size_t));
    if (p->bfields == NULL || p->boff == NULL)
        return evb_error_set(c->err, EVB_ERR_NOMEM, "", "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        p->boff[i] = k;
        if (d->b[i].n > 0)
            memcpy(p->bfields + k, d->b[i].f, d->b[i].n * sizeof(uint32_t));
        k += d->b[i].n;
    }
    p->boff[d->n] = k;
    p->nbranches = d->n;
    return EVB_OK;
}

evb_err evb_pattern_compile(const char *json, size_t len, size_t max_bytes, evb_pattern **out,
                            evb_error *err)
{
    evb_error_clear(err);
    if (max_bytes == 0)
        max_bytes = EVB_PATTERN_MAX_BYTES;
    if (json == NULL || out == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "", "pattern is required");
    if (len > max_bytes)
        return evb_error_set(err, EVB_ERR_INVALID, "",
                             "pattern is %zu bytes, over the limit of %zu bytes", len, max_bytes);
    json_error_t jerr;
    json_t *root = json_loadb(
        json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "",
                             "pattern is not valid JSON (line %d, column %d): %s", jerr.line,
                             jerr.column, jerr.text);
    evb_pm_cctx c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.p = calloc(1, sizeof *c.p);
    dnf d = {NULL, 0};
    evb_err rc;
    if (c.p == NULL)
        rc = evb_error_set(err, EVB_ERR_NOMEM, "", "out of memory");
    else if (!json_is_object(root))
        rc = evb_error_set(err, EVB_ERR_INVALID, "", "a pattern must be a JSON object, got %s",
                           evb_pm_type_name(root));
    else if ((rc = compile_obj(&c, root, &d)) == EVB_OK)
        rc = finish(&c, &d);
    dnf_free(&d);
    free(c.path);
    json_decref(root);
    if (rc != EVB_OK) {
        evb_pattern_free(c.p);
        return rc;
    }
    *out = c.p;
    return EVB_OK;
}

void evb_pattern_free(evb_pattern *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nfields; i++) {
        for (size_t j = 0; j < p->fields[i].nops; j++)
            evb_pm_op_fini(&p->fields[i].ops[j]);
        free(p->fields[i].ops);
        free(p->fields[i].path);
    }
    free(p->fields);
    free(p->bfields);
    free(p->boff);
    free(p);
}

size_t evb_pattern_branches(const evb_pattern *p)
{
    return p ? p->nbranches : 0;
}
