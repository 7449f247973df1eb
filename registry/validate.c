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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON pointer being materialised from a segment chain (at most VAL_PATH_MAX - 1 bytes). */
typedef struct pathbuf {
    char s[VAL_PATH_MAX];
    size_t len;
} pathbuf;

static void push_raw(pathbuf *p, const char *seg, size_t n, bool escape)
{
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
}

/* Builds the pointer of the chain ending at top into p. Every segment writes at least its
 * '/' until the buffer is full, so segments at depth VAL_PATH_MAX - 1 or deeper add nothing. */
static void materialise(pathbuf *p, const pseg *top)
{
    const pseg *v[VAL_PATH_MAX - 1];
    size_t cnt = 0;
    for (const pseg *g = top; g != NULL; g = g->up) {
        if (g->depth < VAL_PATH_MAX - 1) {
            if (cnt == 0)
                cnt = g->depth + 1;
            v[g->depth] = g;
        }
    }
    p->len = 0;
    p->s[0] = '\0';
    for (size_t i = 0; i < cnt; i++) {
        const pseg *g = v[i];
        if (g->s != NULL) {
            push_raw(p, g->s, g->n == SEG_STRLEN ? strlen(g->s) : g->n, true);
        } else {
            char b[24];
            int n = snprintf(b, sizeof b, "%zu", g->n);
            push_raw(p, b, (size_t)n, false);
        }
    }
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
    pathbuf p;
    materialise(&p, c->ip);
    copy_field(v->instance_path, sizeof v->instance_path, p.s);
    pseg g;
    if (kw != NULL)
        seg_push(&c->kp, &g, kw, SEG_STRLEN);
    materialise(&p, c->kp);
    if (kw != NULL)
        seg_pop(&c->kp, &g);
    copy_field(v->keyword_location, sizeof v->keyword_location, p.s);
    char msg[sizeof v->message + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    copy_field(v->message, sizeof v->message, msg);
    if (c->res->count >= c->limit) {
        c->stop = true;
        c->halt = true;
        c->res->truncated = true;
    }
    return false;
}

void vfatal(vctx *c, evb_err code, const char *msg)
{
    if (c->err)
        return;
    c->err = code;
    c->halt = true;
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

int vmatch(vctx *c, const evb_regex *re, const char *s, size_t n)
{
    int r = regex_match_simple(re, s, n);
    if (r >= 0)
        return r;
    if (c->md == NULL && (c->md = pcre2_match_data_create(1, NULL)) == NULL) {
        vfatal(c, EVB_ERR_NOMEM, "out of memory");
        return -1;
    }
    return regex_match(re, s, n, c->md);
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
    for (size_t i = 0; c->scope != NULL && i < c->nscope; i++)
        for (const dyn_anchor *a = c->scope[i]->dyn; a != NULL; a = a->next)
            if (a->node != NULL && strcmp(a->name, n->dyn_name) == 0)
                return a->node;
    return n->dynref;
}

static bool eval_body(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    bool ok = true;
    unsigned ops = n->ops;
    if (ops & OP_REF) {
        pseg g;
        seg_push(&c->kp, &g, "$ref", 4);
        bool r = eval(c, n->ref, inst, ev);
        seg_pop(&c->kp, &g);
        STEP(ok, c, r);
    }
    if (ops & OP_DYNREF) {
        pseg g;
        seg_push(&c->kp, &g, "$dynamicRef", 11);
        bool r = eval(c, dynamic_target(c, n), inst, ev);
        seg_pop(&c->kp, &g);
        STEP(ok, c, r);
    }
    evb_json_type t = inst->type;
    objscan os;
    os.done = false;
    if (t == EVB_JSON_OBJECT && (ops & OP_MEMBERS) && n->pidx.slots != NULL &&
        inst->n <= OBJSCAN_MAX)
        scan_members(n, inst, &os);
    if (ops & (OP_TYPE | OP_ENUMCONST | OP_NUM | OP_STR | OP_ARRCNT | OP_OBJCNT))
        STEP(ok, c, check_assertions(c, n, inst, &os));
    if (t == EVB_JSON_OBJECT && (ops & (OP_MEMBERS | OP_OBJMORE)))
        STEP(ok, c, check_object(c, n, inst, ev, &os));
    else if (t == EVB_JSON_ARRAY && (ops & OP_ARR))
        STEP(ok, c, check_array(c, n, inst, ev));
    if (ops & OP_COMB)
        STEP(ok, c, check_combinators(c, n, inst, ev));
    if ((n->uneval_props && t == EVB_JSON_OBJECT) || (n->uneval_items && t == EVB_JSON_ARRAY))
        STEP(ok, c, check_unevaluated(c, n, inst, ev));
    return ok;
}

/* eval() with annotations of its own: unevaluated* below this node read them. */
static bool eval_own(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    evset mine = {0};
    bool ok = false;
    if (ev_alloc(c, &mine, inst->n)) {
        ok = eval_body(c, n, inst, &mine);
        if (ok)
            ev_merge(ev, &mine);
    }
    free(mine.bits);
    return ok;
}

bool eval(vctx *c, const snode *n, const evb_json *inst, evset *ev)
{
    if (c->halt)
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
    if (n->ops == OP_REF && c->scope == NULL) { /* only a $ref: straight to its target */
        c->depth++;
        pseg g;
        seg_push(&c->kp, &g, "$ref", 4);
        bool r = eval(c, n->ref, inst, ev);
        seg_pop(&c->kp, &g);
        c->depth--;
        return r;
    }
    c->depth++;
    bool pushed = false;
    if (c->scope != NULL && (c->nscope == 0 || c->scope[c->nscope - 1] != n->res)) {
        c->scope[c->nscope++] = n->res;
        pushed = true;
    }
    bool ok;
    if ((n->ops & OP_UNEVAL) && ((n->uneval_props && inst->type == EVB_JSON_OBJECT) ||
                                 (n->uneval_items && inst->type == EVB_JSON_ARRAY)))
        ok = eval_own(c, n, inst, ev);
    else
        ok = eval_body(c, n, inst, ev);
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
    vctx ctx, *c = &ctx;
    memset(c, 0, offsetof(vctx, errmsg)); /* errmsg is written before it is read */
    c->s = s;
    c->res = res;
    c->limit = (res->limit == 0 || res->limit > EVB_SCHEMA_MAX_VIOLATIONS)
                   ? EVB_SCHEMA_MAX_VIOLATIONS
                   : res->limit;
    if (s->dyn_scope && (c->scope = malloc(VAL_MAX_FRAMES * sizeof(const resource *))) == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    bool ok = eval(c, s->root, instance, NULL);
    pcre2_match_data_free(c->md);
    free(c->scope);
    evb_err rc = EVB_OK;
    if (c->err) {
        pathbuf p;
        materialise(&p, c->ip);
        rc = evb_error_set(err, c->err, p.s, "%s", c->errmsg);
        res->count = 0;
        res->truncated = false;
        ok = false;
    } else if (!ok && res->count == 0) {
        c->quiet = 0;
        vfail(c, NULL, "the value is not valid");
    }
    res->valid = ok && rc == EVB_OK;
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
