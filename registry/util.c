/* evbridge registry — arena, hash maps and growable buffer (see util_int.h).
 *
 * The arena hands out zeroed memory from chunks and frees everything at once, which suits
 * parsed documents and compiled schemas: both are built once and dropped whole. The maps are
 * open-addressing with linear probing, sized to stay under 50 % full; they are only used
 * while compiling, never during validation.
 */
#include "registry/util_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    arena_chunk *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char mem[];
};

#define ARENA_CHUNK 16384u
#define ALIGN_UP(n) (((n) + (_Alignof(max_align_t) - 1)) & ~(size_t)(_Alignof(max_align_t) - 1))

void arena_init(arena *a)
{
    a->head = NULL;
}

void arena_fini(arena *a)
{
    arena_chunk *c = a->head;
    while (c != NULL) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

void *arena_alloc(arena *a, size_t size)
{
    void *p = arena_alloc_uninit(a, size);
    if (p != NULL)
        memset(p, 0, size ? size : 1);
    return p;
}

void *arena_alloc_uninit(arena *a, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size = ALIGN_UP(size ? size : 1);
    arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        if (a->head != NULL && size > ARENA_CHUNK) {
            /* A big block: keep the current chunk on top for further small allocations. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->mem + c->used;
    c->used += size;
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = arena_alloc(a, len + 1);
    if (p == NULL)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---- maps ---------------------------------------------------------------------------- */

static uint64_t hash_key(const map *m, const void *key)
{
    uint64_t h = 1469598103934665603ull;
    if (m->strings) {
        for (const unsigned char *p = key; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
    } else {
        uintptr_t v = (uintptr_t)key;
        h = (uint64_t)v * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return h;
}

static bool key_eq(const map *m, const void *a, const void *b)
{
    return m->strings ? strcmp(a, b) == 0 : a == b;
}

void map_init(map *m, bool string_keys)
{
    m->slots = NULL;
    m->cap = m->count = 0;
    m->strings = string_keys;
}

void map_fini(map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static map_slot *find_slot(const map *m, const void *key)
{
    size_t i = (size_t)hash_key(m, key) & (m->cap - 1);
    while (m->slots[i].key != NULL && !key_eq(m, m->slots[i].key, key))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

void *map_get(const map *m, const void *key)
{
    if (m->cap == 0)
        return NULL;
    map_slot *s = find_slot(m, key);
    return s->key ? s->val : NULL;
}

static bool grow(map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    map_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = calloc(ncap, sizeof *m->slots);
    if (m->slots == NULL) {
        m->slots = old;
        return false;
    }
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key != NULL)
            *find_slot(m, old[i].key) = old[i];
    free(old);
    return true;
}

bool map_put(map *m, const void *key, void *val)
{
    if ((m->count + 1) * 2 > m->cap && !grow(m))
        return false;
    map_slot *s = find_slot(m, key);
    if (s->key == NULL)
        m->count++;
    s->key = key;
    s->val = val;
    return true;
}

/* ---- sbuf ---------------------------------------------------------------------------- */

void sbuf_init(sbuf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void sbuf_fini(sbuf *b)
{
    free(b->data);
    sbuf_init(b);
}

static bool reserve(sbuf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < b->len + extra + 1) {
        if (ncap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        ncap *= 2;
    }
    char *p = realloc(b->data, ncap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = ncap;
    return true;
}

void sbuf_put(sbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sbuf_puts(sbuf *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

void sbuf_putc(sbuf *b, char c)
{
    sbuf_put(b, &c, 1);
}

void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sbuf_put(b, tmp, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sbuf_put_ptr_token(sbuf *b, const char *seg, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (seg[i] == '~')
            sbuf_put(b, "~0", 2);
        else if (seg[i] == '/')
            sbuf_put(b, "~1", 2);
        else
            sbuf_putc(b, seg[i]);
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t ptr_token_decode(char *tok, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = tok[i];
        if (c == '%' && i + 2 < n && hexval(tok[i + 1]) >= 0 && hexval(tok[i + 2]) >= 0) {
            c = (char)(hexval(tok[i + 1]) * 16 + hexval(tok[i + 2]));
            i += 2;
        }
        tok[o++] = c;
    }
    n = o;
    o = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '~' && i + 1 < n && (tok[i + 1] == '0' || tok[i + 1] == '1')) {
            tok[o++] = tok[i + 1] == '0' ? '~' : '/';
            i++;
        } else {
            tok[o++] = tok[i];
        }
    }
    return o;
}
