/* evbridge fuzz targets — shared helpers (header-only, tests/fuzz/ only).
 *
 * Every target takes one input and cuts it into parts at the separator line "\n%%\n"
 * (readable in the seed files; libFuzzer learns it from the memcmp it intercepts).
 * A part is copied into its own malloc'd, NUL-terminated buffer of exactly its length, so
 * ASan catches a read one byte past the end of a length-delimited argument.
 */
#ifndef EVB_TESTS_FUZZ_UTIL_H
#define EVB_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_SEP "\n%%\n"
#define FUZZ_SEP_LEN 4

typedef struct fuzz_part {
    char *s; /* malloc'd copy, NUL-terminated; never NULL */
    size_t n;
} fuzz_part;

/* The first FUZZ_SEP in d[0..n), or NULL (memmem is a GNU extension). */
static inline const uint8_t *fuzz_find_sep(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + FUZZ_SEP_LEN <= n; i++)
        if (d[i] == '\n' && memcmp(d + i, FUZZ_SEP, FUZZ_SEP_LEN) == 0)
            return d + i;
    return NULL;
}

/* Copies d[0..n) into a fresh NUL-terminated buffer. Aborts on out of memory: a fuzz
 * target has no better answer. */
static inline char *fuzz_dup(const uint8_t *d, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    if (n > 0)
        memcpy(s, d, n);
    s[n] = '\0';
    return s;
}

/* Splits d[0..n) into at most max parts at FUZZ_SEP; the last part takes the rest (and may
 * contain further separators). Missing parts are empty strings. Returns how many parts the
 * input really had (1..max). */
static inline size_t fuzz_split(const uint8_t *d, size_t n, fuzz_part *parts, size_t max)
{
    size_t found = 0;
    for (size_t i = 0; i < max; i++) {
        const uint8_t *sep = NULL;
        if (i + 1 < max && d != NULL)
            sep = fuzz_find_sep(d, n);
        size_t len = sep != NULL ? (size_t)(sep - d) : n;
        if (d != NULL)
            found++;
        parts[i].s = fuzz_dup(d, d != NULL ? len : 0);
        parts[i].n = d != NULL ? len : 0;
        if (sep != NULL) {
            n -= len + FUZZ_SEP_LEN;
            d = sep + FUZZ_SEP_LEN;
        } else {
            d = NULL;
            n = 0;
        }
    }
    return found;
}

static inline void fuzz_parts_free(fuzz_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i].s);
}

/* Reads one byte of d[0..*n) as a selector (0 when empty) and advances. */
static inline uint8_t fuzz_take_byte(const uint8_t **d, size_t *n)
{
    if (*n == 0)
        return 0;
    uint8_t b = **d;
    (*d)++;
    (*n)--;
    return b;
}

/* A fuzz target's entry point (declared for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
