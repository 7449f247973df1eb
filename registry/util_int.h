/* evbridge registry — private utilities shared by the schema compiler and validator.
 *
 * Kept small and self-contained so registry/ depends on nothing but common/err.h:
 *   - a bump arena (one free for a whole parsed document or compiled schema),
 *   - a string-keyed and a pointer-keyed open-addressing hash map (compile time only),
 *   - a growable byte buffer,
 *   - RFC 3986 reference resolution (https://www.rfc-editor.org/rfc/rfc3986#section-5.2).
 * Every allocation is checked; functions report failure with false / NULL.
 * Not thread-safe by themselves: each object belongs to one owner.
 */
#ifndef EVB_REGISTRY_UTIL_INT_H
#define EVB_REGISTRY_UTIL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ---------------------------------------------------------------------------- */
typedef struct arena_chunk arena_chunk;
typedef struct arena {
    arena_chunk *head;
} arena;

void arena_init(arena *a);
void arena_fini(arena *a);
/* Zeroed, max-aligned memory that lives until arena_fini; NULL when out of memory. */
void *arena_alloc(arena *a, size_t size);
/* The same without zeroing (for callers that write every byte). */
void *arena_alloc_uninit(arena *a, size_t size);
/* Copy of s[0..len) plus a NUL; NULL when out of memory. */
char *arena_strndup(arena *a, const char *s, size_t len);

/* ---- hash maps ------------------------------------------------------------------------ */
typedef struct map_slot {
    const void *key; /* string (NUL-terminated) or pointer */
    void *val;
} map_slot;

typedef struct map {
    map_slot *slots;
    size_t cap, count;
    bool strings; /* keys are C strings compared by content, else pointers */
} map;

void map_init(map *m, bool string_keys);
void map_fini(map *m);
void *map_get(const map *m, const void *key);
/* Inserts or replaces. The key is borrowed and must outlive the map. */
bool map_put(map *m, const void *key, void *val);

/* ---- growable buffer ------------------------------------------------------------------ */
typedef struct sbuf {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed; data is incomplete */
} sbuf;

void sbuf_init(sbuf *b);
void sbuf_fini(sbuf *b);
void sbuf_put(sbuf *b, const char *s, size_t n);
void sbuf_puts(sbuf *b, const char *s);
void sbuf_putc(sbuf *b, char c);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- URIs ----------------------------------------------------------------------------- */
/* Resolves reference `ref` against absolute-or-empty `base` (RFC 3986 §5.2). Returns a
 * malloc()ed string or NULL when out of memory. An empty base leaves ref as it is (with
 * dot segments removed). */
char *uri_resolve(const char *base, const char *ref);
/* Length of the part of `uri` before '#'. */
size_t uri_base_len(const char *uri);

/* Appends `seg` as one JSON-pointer reference token (escaping '~' and '/'). */
void sbuf_put_ptr_token(sbuf *b, const char *seg, size_t n);
/* Decodes one percent-encoded JSON pointer token in place, also undoing ~0/~1.
 * Returns the new length. */
size_t ptr_token_decode(char *tok, size_t n);

#endif
