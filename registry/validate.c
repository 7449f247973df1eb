/* evbridge registry — evb_schema_validate: evaluation driver, paths, violations, $ref and
 * $dynamicRef.
 *
 * eval() applies one compiled subschema to one instance value: references first, then the
 * assertions, then the applicators, then unevaluated*. Violations carry the instance
 * location and the keyword location along the evaluation path (2020-12 core §12.3); inside
 * anyOf/oneOf/not/if/contains evaluation is "quiet" and only the summary is reported.
 * $dynamicRef searches the dynamic scope outermost-first (2020-12 core §8.2.3.2).
 */
#include "registry/validate_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t push_raw(pathbuf *p, const char *seg, size_t n, bool escape)
{
    size_t mark = p->len;
    char *o = p->s + p->len, *end = p->s + VAL_PATH_MAX - 1;
    if (o < end)
        *o++ = '/';
    for (size_t i = 0; i < n && o < end; i++) {
        if (escape && (seg[i] == '~' || seg[i] == '/')) {
            if (o + 1 >= end)
                break;
            *o++ = '~';
            *o++ = seg[i] == '~' ? '0' : '1';
        } else {
            *o++ = seg[i];
        }
    }
    *o = '\0';
    p->len = (size_t)(o - p->s);
    return mark;
}

size_t kpush(vctx *c, const char *seg, size_t n)
{
    return push_raw(&c->kp, seg, n, true);
}

size_t kpush_index(vctx *c, size_t i)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%zu", i);
    return push_raw(&c->kp, b, (size_t)n, false);
}

size_t ipush(vctx *c, const char *seg, size_t n)
{
    c->idepth++;
    return push_raw(&c->ip, seg, n, true);
}

size_t ipush_index(vctx *c, size_t i)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%zu", i);
    c->idepth++;
    return push_raw(&c->ip, b, (size_t)n, false);
}

void ppop(pathbuf *p, size_t mark)
{
    p->len = mark;
    p->s[mark] = '\0';
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n < cap) {
        memcpy(dst, src, n + 1);
        return;
    }
    memcpy(dst, src, cap - 4);
    memcpy(dst + cap - 4, "...", 4);
}

bool vfail(vctx *c, const char *kw, const char *fmt, ...)
{
    if (c->quiet || c->stop || c->err)
        return false;
    evb_schema_violation *v = &c->res->violations[c->res->count++];
    copy_field(v->instance_path, sizeof v->instance_path, c->ip.s);
    size_t mark = c->kp.len;
    if (kw != NULL)
        kpush(c, kw, strlen(kw));
    copy_field(v->keyword_location, sizeof v->keyword_location, c->kp.s);
    ppop(&c->kp, mark);
    char msg[sizeof v->message + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    copy_field(v->message, sizeof v->message, msg);
    if (c->res->count >= c->limit) {
        c->stop = true;
        c->res->truncated = true;
    }
    return false;
}

void vfatal(vctx *c, evb_err code, const char *msg)
{
    if (c->err)
        return;
    c->err = code;
    snprintf(c->errmsg, sizeof c->errmsg, "%s", msg);
}

bool ev_alloc(vctx *c, evset *ev, size_t n)
{
    ev->n = n;
    ev->bits = calloc(n / 64 + 1, sizeof *ev->bits);
    if (ev->bits == NULL)
        vfatal(c, EVB_ERR_NOMEM, "out of memory");
    return ev->bits != NULL;
}

void ev_mark(evset *ev, size_t i)
{
    if (ev != NULL && ev->bits != NULL && i < ev->n)
        ev->bits[i / 64] |= 1ull << (i % 64);
}

void ev_merge(evset *dst, const evset *src)
{
    if (dst == NULL || dst->bits == NULL || src->bits == NULL)
        return;
    for (size_t i = 0; i < dst->n / 64 + 1; i++)
        dst->bits[i] |= src->bits[i];
}

static const snode *dynamic_target(const vctx *c, const snode *n)
{
    if (n->dyn_name == NULL)
        return n->dynref;
    for (size_t i = 0; i < c->nscope; i++)
        for (const dyn_anchor *a = c->scope[i]->dyn; a != NULL; a = a->next)
            if (a->node != NULL && strcmp(a->name, n->dyn_name) == 0)
                return a->node;
    return n->dynref;
}

static bool eval_body(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    bool ok = true;
    if (n->ref != NULL) {
        size_t m = kpush(c, "$ref", 4);
        bool r = eval(c, n->ref, inst, ev);
        ppop(&c->kp, m);
        STEP(ok, c, r);
    }
    if (n->dynref != NULL) {
        size_t m = kpush(c, "$dynamicRef", 11);
        bool r = eval(c, dynamic_target(c, n), inst, ev);
        ppop(&c->kp, m);
        STEP(ok, c, r);
    }
    STEP(ok, c, check_assertions(c, n, inst));
    evb_json_type t = evb_json_typeof(inst);
    if (t == EVB_JSON_OBJECT)
        STEP(ok, c, check_object(c, n, inst, ev));
    else if (t == EVB_JSON_ARRAY)
        STEP(ok, c, check_array(c, n, inst, ev));
    STEP(ok, c, check_combinators(c, n, inst, ev));
    if ((n->uneval_props && t == EVB_JSON_OBJECT) || (n->uneval_items && t == EVB_JSON_ARRAY))
        STEP(ok, c, check_unevaluated(c, n, inst, ev));
    return ok;
}

bool eval(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    if (c->stop || c->err)
        return false;
    if (n->is_bool)
        return n->bool_val || vfail(c, NULL, "no value is allowed here (the schema is false)");
    if (c->depth >= VAL_MAX_FRAMES) {
        vfatal(c, EVB_ERR_LIMIT, "schema references recurse too deeply");
        return false;
    }
    if (c->idepth > c->s->max_instance_depth) {
        vfatal(c, EVB_ERR_LIMIT, "instance nested too deeply");
        return false;
    }
    c->depth++;
    bool pushed = false;
    if (c->nscope == 0 || c->scope[c->nscope - 1] != n->res) {
        c->scope[c->nscope++] = n->res;
        pushed = true;
    }
    evb_json_type t = evb_json_typeof(inst);
    bool own =
        (n->uneval_props && t == EVB_JSON_OBJECT) || (n->uneval_items && t == EVB_JSON_ARRAY);
    evset mine = {0};
    bool ok = false;
    if (!own || ev_alloc(c, &mine, evb_json_size(inst))) {
        ok = eval_body(c, n, inst, own ? &mine : ev);
        if (own && ok)
            ev_merge(ev, &mine);
    }
    free(mine.bits);
    if (pushed)
        c->nscope--;
    c->depth--;
    return ok;
}

evb_err evb_schema_validate_value(const evb_schema *s, const evb_json *instance,
                                  evb_schema_result *res, evb_error *err)
{
    if (s == NULL || instance == NULL || res == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, NULL, "no schema, instance or result");
    res->valid = false;
    res->truncated = false;
    res->count = 0;
    vctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    c->s = s;
    c->res = res;
    c->limit = (res->limit == 0 || res->limit > EVB_SCHEMA_MAX_VIOLATIONS)
                   ? EVB_SCHEMA_MAX_VIOLATIONS
                   : res->limit;
    if (s->uses_regex && (c->md = pcre2_match_data_create(1, NULL)) == NULL) {
        free(c);
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    bool ok = eval(c, s->root, instance, NULL);
    pcre2_match_data_free(c->md);
    evb_err rc = EVB_OK;
    if (c->err) {
        rc = evb_error_set(err, c->err, c->ip.s, "%s", c->errmsg);
        res->count = 0;
        res->truncated = false;
        ok = false;
    } else if (!ok && res->count == 0) {
        c->quiet = 0;
        vfail(c, NULL, "the value is not valid");
    }
    res->valid = ok && rc == EVB_OK;
    free(c);
    return rc;
}

evb_err evb_schema_validate(const evb_schema *s, const char *json, size_t len,
                            evb_schema_result *res, evb_error *err)
{
    if (s == NULL || json == NULL || res == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, NULL, "no schema, instance or result");
    res->valid = false;
    res->truncated = false;
    res->count = 0;
    evb_json_doc *d;
    evb_err rc = evb_json_parse(json, len, s->max_instance_depth, &d, err);
    if (rc != EVB_OK)
        return rc;
    rc = evb_schema_validate_value(s, evb_json_root(d), res, err);
    evb_json_doc_free(d);
    return rc;
}
