/* evbridge registry — RFC 3986 reference resolution for $id / $ref.
 *
 * JSON Schema identifies schemas by URI; `$ref` values are URI references resolved against
 * the base URI of the enclosing schema resource. This is the algorithm of RFC 3986 §5.2
 * (https://www.rfc-editor.org/rfc/rfc3986#section-5.2) including remove_dot_segments.
 * URNs ("urn:uuid:...") have no authority and a rootless path; they resolve fragment-only
 * references like any other URI. Nothing here touches the network.
 */
#include "registry/util_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct uri_parts {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_n, auth_n, path_n, query_n, frag_n;
    bool has_scheme, has_auth, has_query, has_frag;
} uri_parts;

static void split(const char *s, uri_parts *p)
{
    memset(p, 0, sizeof *p);
    const char *c = s;
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    const char *q = s;
    if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')) {
        while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
               *q == '+' || *q == '-' || *q == '.')
            q++;
        if (*q == ':') {
            p->has_scheme = true;
            p->scheme = s;
            p->scheme_n = (size_t)(q - s);
            c = q + 1;
        }
    }
    if (c[0] == '/' && c[1] == '/') {
        p->has_auth = true;
        p->auth = c + 2;
        p->auth_n = strcspn(p->auth, "/?#");
        c = p->auth + p->auth_n;
    }
    p->path = c;
    p->path_n = strcspn(c, "?#");
    c += p->path_n;
    if (*c == '?') {
        p->has_query = true;
        p->query = c + 1;
        p->query_n = strcspn(p->query, "#");
        c = p->query + p->query_n;
    }
    if (*c == '#') {
        p->has_frag = true;
        p->frag = c + 1;
        p->frag_n = strlen(p->frag);
    }
}

/* remove_dot_segments (RFC 3986 §5.2.4) of in[0..n) appended to out. */
static void remove_dots(sbuf *out, const char *in, size_t n)
{
    sbuf tmp;
    sbuf_init(&tmp);
    size_t i = 0;
    while (i < n) {
        const char *r = in + i;
        size_t left = n - i;
        if (left >= 3 && memcmp(r, "../", 3) == 0) {
            i += 3;
        } else if ((left >= 2 && memcmp(r, "./", 2) == 0) ||
                   (left >= 3 && memcmp(r, "/./", 3) == 0)) {
            i += 2; /* drop "./", or turn "/./" into "/" */
        } else if (left == 2 && memcmp(r, "/.", 2) == 0) {
            sbuf_putc(&tmp, '/');
            i += 2;
        } else if ((left >= 4 && memcmp(r, "/../", 4) == 0) ||
                   (left == 3 && memcmp(r, "/..", 3) == 0)) {
            while (tmp.len > 0 && tmp.data[tmp.len - 1] != '/')
                tmp.len--;
            if (tmp.len > 0)
                tmp.len--;
            if (left == 3)
                sbuf_putc(&tmp, '/'); /* "/.." at the end becomes "/" */
            i += 3;                   /* "/../" leaves its last "/" as the next input */
        } else if ((left == 1 && r[0] == '.') || (left == 2 && memcmp(r, "..", 2) == 0)) {
            i = n;
        } else {
            size_t j = (r[0] == '/') ? 1 : 0;
            while (j < left && r[j] != '/')
                j++;
            sbuf_put(&tmp, r, j);
            i += j;
        }
    }
    if (tmp.failed)
        out->failed = true;
    else if (tmp.len)
        sbuf_put(out, tmp.data, tmp.len);
    sbuf_fini(&tmp);
}

static void put_tail(sbuf *o, const uri_parts *r)
{
    if (r->has_query) {
        sbuf_putc(o, '?');
        sbuf_put(o, r->query, r->query_n);
    }
    if (r->has_frag) {
        sbuf_putc(o, '#');
        sbuf_put(o, r->frag, r->frag_n);
    }
}

static void merge_paths(sbuf *o, const uri_parts *b, const uri_parts *r)
{
    sbuf m;
    sbuf_init(&m);
    if (b->has_auth && b->path_n == 0) {
        sbuf_putc(&m, '/');
    } else {
        size_t k = b->path_n;
        while (k > 0 && b->path[k - 1] != '/')
            k--;
        sbuf_put(&m, b->path, k);
    }
    sbuf_put(&m, r->path, r->path_n);
    if (m.failed)
        o->failed = true;
    else
        remove_dots(o, m.data ? m.data : "", m.len);
    sbuf_fini(&m);
}

char *uri_resolve(const char *base, const char *ref)
{
    uri_parts b, r;
    split(base ? base : "", &b);
    split(ref, &r);
    sbuf o;
    sbuf_init(&o);
    if (r.has_scheme) {
        sbuf_put(&o, r.scheme, r.scheme_n + 1);
        if (r.has_auth) {
            sbuf_puts(&o, "//");
            sbuf_put(&o, r.auth, r.auth_n);
        }
        remove_dots(&o, r.path, r.path_n);
        put_tail(&o, &r);
    } else {
        if (b.has_scheme)
            sbuf_put(&o, b.scheme, b.scheme_n + 1);
        if (r.has_auth) {
            sbuf_puts(&o, "//");
            sbuf_put(&o, r.auth, r.auth_n);
            remove_dots(&o, r.path, r.path_n);
            put_tail(&o, &r);
        } else {
            if (b.has_auth) {
                sbuf_puts(&o, "//");
                sbuf_put(&o, b.auth, b.auth_n);
            }
            if (r.path_n == 0) {
                sbuf_put(&o, b.path, b.path_n);
                if (r.has_query) {
                    put_tail(&o, &r);
                } else {
                    if (b.has_query) {
                        sbuf_putc(&o, '?');
                        sbuf_put(&o, b.query, b.query_n);
                    }
                    put_tail(&o, &r);
                }
            } else {
                if (r.path[0] == '/')
                    remove_dots(&o, r.path, r.path_n);
                else
                    merge_paths(&o, &b, &r);
                put_tail(&o, &r);
            }
        }
    }
    if (o.failed) {
        sbuf_fini(&o);
        return NULL;
    }
    if (o.data == NULL)
        return calloc(1, 1);
    return o.data;
}

size_t uri_base_len(const char *uri)
{
    return strcspn(uri, "#");
}
