/* evbridge — pattern leaf parser: one field's array of values and operators -> operations.
 *
 * Each element of a leaf array is a literal (string, number, true, false, null) or an object
 * with exactly one operator member: prefix, suffix, equals-ignore-case, wildcard, contains,
 * anything-but, numeric, cidr, exists. Anything else is rejected with the JSON pointer of
 * the element or operator and a message that starts with the operator's name, so a user can
 * find and fix the rule. Operands that are compared case-insensitively are folded here, once.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/routing/pattern_int.h"

/* ---- pointer and path bookkeeping ---------------------------------------------------------- */

size_t evb_pm_ptr_push(evb_pm_cctx *c, const char *seg)
{
    size_t mark = c->ptrlen;
    size_t cap = sizeof c->ptr - 1;
    if (c->ptrlen < cap)
        c->ptr[c->ptrlen++] = '/';
    for (const char *s = seg; *s != '\0' && c->ptrlen + 2 <= cap; s++) {
        if (*s == '~' || *s == '/') {
            c->ptr[c->ptrlen++] = '~';
            c->ptr[c->ptrlen++] = *s == '~' ? '0' : '1';
        } else {
            c->ptr[c->ptrlen++] = *s;
        }
    }
    c->ptr[c->ptrlen] = '\0';
    return mark;
}

size_t evb_pm_ptr_index(evb_pm_cctx *c, size_t i)
{
    char num[24];
    snprintf(num, sizeof num, "%zu", i);
    return evb_pm_ptr_push(c, num);
}

void evb_pm_ptr_pop(evb_pm_cctx *c, size_t mark)
{
    c->ptrlen = mark;
    c->ptr[mark] = '\0';
}

size_t evb_pm_path_push(evb_pm_cctx *c, const char *key)
{
    size_t mark = c->pathlen, kl = strlen(key);
    size_t need = c->pathlen + kl + 2;
    if (need > c->pathcap) {
        size_t cap = need * 2;
        char *np = realloc(c->path, cap);
        if (np == NULL)
            return (size_t)-1;
        c->path = np;
        c->pathcap = cap;
    }
    if (c->pathlen > 0)
        c->path[c->pathlen++] = '.';
    memcpy(c->path + c->pathlen, key, kl);
    c->pathlen += kl;
    c->path[c->pathlen] = '\0';
    return mark;
}

void evb_pm_path_pop(evb_pm_cctx *c, size_t mark)
{
    c->pathlen = mark;
    if (c->path != NULL)
        c->path[mark] = '\0';
}

const char *evb_pm_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* ---- operations ------------------------------------------------------------------------------ */

/* Rejects the member at c->ptr; the message starts with the operator's name. */
#define bad(c, ...) evb_error_set((c)->err, EVB_ERR_INVALID, (c)->ptr, __VA_ARGS__)

static evb_err nomem(evb_pm_cctx *c)
{
    return evb_error_set(c->err, EVB_ERR_NOMEM, c->ptr, "out of memory");
}

/* Sets op to a string operation on v's text (folded when fold). */
static evb_err set_str(evb_pm_cctx *c, evb_pm_op *op, evb_pm_kind kind, const json_t *v, int fold)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    op->kind = kind;
    if (fold) {
        op->s = evb_pm_fold(s, n, &op->n);
    } else {
        op->s = malloc(n + 1);
        if (op->s != NULL) {
            memcpy(op->s, s, n);
            op->s[n] = '\0';
        }
        op->n = n;
    }
    return op->s ? EVB_OK : nomem(c);
}

/* '*' is any run; "\*" and "\\" are literal; "**" and any other escape are invalid. */
static evb_err parse_wildcard(evb_pm_cctx *c, evb_pm_op *op, const json_t *v, const char *name)
{
    if (!json_is_string(v))
        return bad(c, "%s: wildcard expects a string", name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), k = 0;
    op->kind = EVB_PM_WILDCARD;
    op->s = malloc(n + 1);
    op->star = malloc(n + 1);
    if (op->s == NULL || op->star == NULL)
        return nomem(c);
    int prev_star = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            if (i + 1 >= n || (s[i + 1] != '*' && s[i + 1] != '\\'))
                return bad(c, "%s: '\\' may only escape '*' or '\\'", "wildcard");
            op->s[k] = s[++i];
            op->star[k++] = 0;
            prev_star = 0;
        } else if (s[i] == '*') {
            if (prev_star)
                return bad(c, "%s: consecutive '*' characters are not allowed", "wildcard");
            op->s[k] = '*';
            op->star[k++] = 1;
            prev_star = 1;
        } else {
            op->s[k] = s[i];
            op->star[k++] = 0;
            prev_star = 0;
        }
    }
    op->s[k] = '\0';
    op->n = k;
    return EVB_OK;
}

/* {"prefix": s} / {"prefix": {"equals-ignore-case": s}}, same for suffix. */
static evb_err parse_affix(evb_pm_cctx *c, evb_pm_op *op, const char *name, const json_t *v,
                           int allow_ic)
{
    int pre = strcmp(name, "prefix") == 0;
    if (json_is_string(v))
        return set_str(c, op, pre ? EVB_PM_PREFIX : EVB_PM_SUFFIX, v, 0);
    const json_t *ic = json_is_object(v) && json_object_size(v) == 1
                           ? json_object_get(v, "equals-ignore-case")
                           : NULL;
    if (allow_ic && json_is_string(ic))
        return set_str(c, op, pre ? EVB_PM_PREFIX_IC : EVB_PM_SUFFIX_IC, ic, 1);
    return bad(c,
               allow_ic ? "%s: expected a string or {\"equals-ignore-case\": string}"
                        : "%s: expected a string",
               name);
}

static int comparison(const char *s, int *lower, int *incl)
{
    if (strcmp(s, ">") == 0 || strcmp(s, ">=") == 0)
        *lower = 1;
    else if (strcmp(s, "<") == 0 || strcmp(s, "<=") == 0)
        *lower = 0;
    else
        return 0;
    *incl = s[1] == '=';
    return 1;
}

#define NUMERIC_SHAPE                                                                              \
    "%s: expected [\"=\"|\"<\"|\"<=\"|\">\"|\">=\", number] or "                                   \
    "[\">\"|\">=\", low, \"<\"|\"<=\", high]"

static evb_err parse_numeric(evb_pm_cctx *c, evb_pm_op *op, const json_t *v)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || (n != 2 && n != 4))
        return bad(c, NUMERIC_SHAPE, "numeric");
    op->kind = EVB_PM_NUMERIC;
    for (size_t i = 0; i < n; i += 2) {
        const json_t *o = json_array_get(v, i), *x = json_array_get(v, i + 1);
        if (!json_is_string(o) || !json_is_number(x))
            return bad(c, NUMERIC_SHAPE, "numeric");
        const char *os = json_string_value(o);
        double d = json_number_value(x);
        int lower, incl;
        if (strcmp(os, "=") == 0 && n == 2) {
            op->has_lo = op->has_hi = op->lo_incl = op->hi_incl = 1;
            op->lo = op->hi = d;
            continue;
        }
        if (!comparison(os, &lower, &incl))
            return bad(c, "numeric: unknown or misplaced comparison \"%s\"", os);
        if (n == 4 && lower != (i == 0))
            return bad(c, "%s: a range is [\">\"|\">=\", low, \"<\"|\"<=\", high]", "numeric");
        if (lower) {
            op->has_lo = 1, op->lo_incl = (unsigned char)incl, op->lo = d;
        } else {
            op->has_hi = 1, op->hi_incl = (unsigned char)incl, op->hi = d;
        }
    }
    if (op->has_lo && op->has_hi && n == 4 && !(op->lo < op->hi))
        return bad(c, "%s: the lower bound must be below the upper bound", "numeric");
    return EVB_OK;
}

#define CIDR_SHAPE "%s: expected an IPv4 or IPv6 network as \"address/prefix-length\""

static evb_err parse_cidr(evb_pm_cctx *c, evb_pm_op *op, const json_t *v)
{
    const char *s = json_string_value(v);
    const char *slash = s ? strchr(s, '/') : NULL;
    char addr[64];
    if (slash == NULL || (size_t)(slash - s) >= sizeof addr || slash[1] == '\0' ||
        strlen(slash + 1) > 3 || strspn(slash + 1, "0123456789") != strlen(slash + 1))
        return bad(c, CIDR_SHAPE, "cidr");
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    unsigned bits = (unsigned)atoi(slash + 1);
    op->kind = EVB_PM_CIDR;
    if (inet_pton(AF_INET, addr, op->addr) == 1)
        op->family = 4;
    else if (inet_pton(AF_INET6, addr, op->addr) == 1)
        op->family = 6;
    else
        return bad(c, CIDR_SHAPE, "cidr");
    if (bits > (op->family == 4 ? 32u : 128u))
        return bad(c, "%s: prefix length out of range", "cidr");
    op->bits = bits;
    for (unsigned i = 0; i < 16; i++) { /* clear host bits */
        unsigned lo = i * 8;
        if (lo >= bits)
            op->addr[i] = 0;
        else if (bits - lo < 8)
            op->addr[i] &= (unsigned char)(0xFF << (8 - (bits - lo)));
    }
    return EVB_OK;
}

static evb_err grow_ops(evb_pm_cctx *c, evb_pm_op **ops, size_t n, size_t *cap)
{
    if (n < *cap)
        return EVB_OK;
    size_t nc = *cap ? *cap * 2 : 4;
    evb_pm_op *no = realloc(*ops, nc * sizeof *no);
    if (no == NULL)
        return nomem(c);
    memset(no + *cap, 0, (nc - *cap) * sizeof *no);
    *ops = no;
    *cap = nc;
    return EVB_OK;
}

/* One excluded operand of anything-but's object form. */
static evb_err anybut_item(evb_pm_cctx *c, evb_pm_op *op, const char *name, const json_t *v)
{
    if (!json_is_string(v))
        return bad(c, "anything-but: %s expects a string or a list of strings", name);
    if (strcmp(name, "prefix") == 0 || strcmp(name, "suffix") == 0)
        return parse_affix(c, op, name, v, 0);
    if (strcmp(name, "equals-ignore-case") == 0)
        return set_str(c, op, EVB_PM_EQUALS_IC, v, 1);
    if (strcmp(name, "contains") == 0)
        return set_str(c, op, EVB_PM_CONTAINS, v, 0);
    return parse_wildcard(c, op, v, "anything-but");
}

static evb_err parse_anybut(evb_pm_cctx *c, evb_pm_op *op, const json_t *v)
{
    op->kind = EVB_PM_ANYBUT;
    size_t cap = 0;
    const char *name = NULL;
    const json_t *list = v;
    if (json_is_object(v)) {
        static const char *const ok[] = {"prefix", "suffix", "equals-ignore-case", "wildcard",
                                         "contains"};
        const char *k =
            json_object_size(v) == 1 ? json_object_iter_key(json_object_iter((json_t *)v)) : NULL;
        for (size_t i = 0; k != NULL && i < sizeof ok / sizeof ok[0]; i++)
            if (strcmp(k, ok[i]) == 0)
                name = ok[i];
        if (name == NULL)
            return bad(c,
                       "%s: an object must hold exactly one of prefix, suffix, "
                       "equals-ignore-case, wildcard, contains",
                       "anything-but");
        list = json_object_get(v, name);
        if (!json_is_array(list) && !json_is_string(list))
            return bad(c, "anything-but: %s expects a string or a list of strings", name);
    } else if (!json_is_array(v) && !json_is_string(v) && !json_is_number(v)) {
        return bad(c, "%s: expected a string, a number, a list or an object", "anything-but");
    }
    size_t n = json_is_array(list) ? json_array_size(list) : 1;
    if (n == 0)
        return bad(c, "%s: the list must not be empty", "anything-but");
    int strings = 0, numbers = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(list) ? json_array_get(list, i) : list;
        evb_err rc = grow_ops(c, &op->sub, op->nsub, &cap);
        if (rc != EVB_OK)
            return rc;
        evb_pm_op *so = &op->sub[op->nsub++];
        if (name != NULL) {
            rc = anybut_item(c, so, name, e);
        } else if (json_is_string(e)) {
            strings = 1;
            rc = set_str(c, so, EVB_PM_EXACT_STR, e, 0);
        } else if (json_is_number(e)) {
            numbers = 1;
            so->kind = EVB_PM_EXACT_NUM;
            so->num = evb_pm_canon_num(json_number_value(e));
        } else {
            rc = bad(c, "%s: a list must hold only strings or only numbers", "anything-but");
        }
        if (rc == EVB_OK && strings && numbers)
            rc = bad(c, "%s: a list must hold only strings or only numbers", "anything-but");
        if (rc != EVB_OK)
            return rc;
    }
    return EVB_OK;
}

/* Parses the operator object e (one member) into op; *is_absent set for exists:false. */
static evb_err parse_operator(evb_pm_cctx *c, evb_pm_op *op, const json_t *e, int *is_absent)
{
    if (json_object_size(e) != 1)
        return evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                             "an operator object must have exactly one member, got %zu",
                             json_object_size(e));
    void *it = json_object_iter((json_t *)e);
    const char *name = json_object_iter_key(it);
    const json_t *v = json_object_iter_value(it);
    size_t mark = evb_pm_ptr_push(c, name);
    evb_err rc;
    if (strcmp(name, "prefix") == 0 || strcmp(name, "suffix") == 0)
        rc = parse_affix(c, op, name, v, 1);
    else if (strcmp(name, "equals-ignore-case") == 0 || strcmp(name, "contains") == 0)
        rc = json_is_string(v) ? set_str(c, op, name[0] == 'e' ? EVB_PM_EQUALS_IC : EVB_PM_CONTAINS,
                                         v, name[0] == 'e')
                               : bad(c, "%s: expected a string", name);
    else if (strcmp(name, "wildcard") == 0)
        rc = parse_wildcard(c, op, v, "wildcard");
    else if (strcmp(name, "anything-but") == 0)
        rc = parse_anybut(c, op, v);
    else if (strcmp(name, "numeric") == 0)
        rc = parse_numeric(c, op, v);
    else if (strcmp(name, "cidr") == 0)
        rc = json_is_string(v) ? parse_cidr(c, op, v) : bad(c, "%s: expected a string", name);
    else if (strcmp(name, "exists") == 0) {
        rc = json_is_boolean(v) ? EVB_OK : bad(c, "%s: expected true or false", name);
        op->kind = EVB_PM_EXISTS;
        *is_absent = json_is_false(v);
    } else
        rc = bad(c, "unknown operator \"%s\"", name);
    if (rc == EVB_OK)
        evb_pm_ptr_pop(c, mark);
    return rc;
}

static evb_err parse_element(evb_pm_cctx *c, evb_pm_op *op, const json_t *e, int *is_absent)
{
    switch (json_typeof(e)) {
    case JSON_STRING:
        return set_str(c, op, EVB_PM_EXACT_STR, e, 0);
    case JSON_INTEGER:
    case JSON_REAL:
        op->kind = EVB_PM_EXACT_NUM;
        op->num = evb_pm_canon_num(json_number_value(e));
        return EVB_OK;
    case JSON_TRUE:
        op->kind = EVB_PM_EXACT_TRUE;
        return EVB_OK;
    case JSON_FALSE:
        op->kind = EVB_PM_EXACT_FALSE;
        return EVB_OK;
    case JSON_NULL:
        op->kind = EVB_PM_EXACT_NULL;
        return EVB_OK;
    case JSON_OBJECT:
        return parse_operator(c, op, e, is_absent);
    default:
        return evb_error_set(c->err, EVB_ERR_INVALID, c->ptr,
                             "a value list must not contain arrays");
    }
}

evb_err evb_pm_parse_field(evb_pm_cctx *c, const json_t *arr, uint32_t *index_out)
{
    if (json_array_size(arr) == 0)
        return evb_error_set(c->err, EVB_ERR_INVALID, c->ptr, "a value list must not be empty");
    evb_pattern *p = c->p;
    if (p->nfields == c->capfields) {
        size_t nc = c->capfields ? c->capfields * 2 : 8;
        evb_pm_field *nf = realloc(p->fields, nc * sizeof *nf);
        if (nf == NULL)
            return nomem(c);
        p->fields = nf;
        c->capfields = nc;
    }
    evb_pm_field *f = &p->fields[p->nfields];
    memset(f, 0, sizeof *f);
    f->path = malloc(c->pathlen + 1);
    if (f->path == NULL)
        return nomem(c);
    memcpy(f->path, c->path, c->pathlen + 1);
    f->path_len = c->pathlen;
    p->nfields++; /* owned by p from here on, so evb_pattern_free cleans up on error */
    size_t cap = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        evb_err rc = grow_ops(c, &f->ops, f->nops, &cap);
        if (rc != EVB_OK)
            return rc;
        size_t mark = evb_pm_ptr_index(c, i);
        int absent = 0;
        evb_pm_op *op = &f->ops[f->nops++];
        rc = parse_element(c, op, json_array_get(arr, i), &absent);
        if (rc != EVB_OK)
            return rc;
        if (absent) { /* exists:false is a property of the field, not an operation */
            evb_pm_op_fini(op);
            f->nops--;
            f->absent_ok = 1;
        }
        evb_pm_ptr_pop(c, mark);
    }
    *index_out = (uint32_t)(p->nfields - 1);
    return EVB_OK;
}
