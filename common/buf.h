/* evbridge — bounded growable byte buffer.
 *
 * Every buffer filled from the network has a hard cap (as curl's dynbuf): appends past the
 * cap fail with EVB_ERR_TOO_LARGE and leave the buffer unchanged. The content is always
 * NUL-terminated (the NUL is not counted in len). Not thread-safe; one owner at a time.
 */
#ifndef EVB_COMMON_BUF_H
#define EVB_COMMON_BUF_H

#include <stddef.h>

#include "common/err.h"

typedef struct evb_buf {
    char *data;  /* NULL until the first append; NUL-terminated after */
    size_t len;
    size_t alloc;
    size_t cap;  /* maximum len; 0 = SIZE_MAX/2 */
} evb_buf;

/* Initialises caller-owned storage with a cap (0 = effectively unbounded). */
void evb_buf_init(evb_buf *b, size_t cap);
/* Frees the content; the struct may be reused after evb_buf_init. NULL is a no-op. */
void evb_buf_fini(evb_buf *b);
/* Empties without freeing. */
void evb_buf_reset(evb_buf *b);
evb_err evb_buf_append(evb_buf *b, const void *p, size_t n);
evb_err evb_buf_append_str(evb_buf *b, const char *s);
evb_err evb_buf_printf(evb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the body of a JSON string (escaped, without the quotes). */
evb_err evb_buf_append_json_escaped(evb_buf *b, const char *s, size_t n);
/* Hands the content to the caller (malloc'd, NUL-terminated, never NULL on EVB_OK) and
 * leaves the buffer empty. *len_out may be NULL. */
evb_err evb_buf_detach(evb_buf *b, char **out, size_t *len_out);

#endif
