/* evbridge — identifiers.
 *
 * UUIDv7 (RFC 9562 §5.7): 48-bit Unix ms timestamp, version 7, 74 random bits from a
 * CSPRNG, with a per-process monotonic counter in rand_a so ids made in the same
 * millisecond by this process still sort in creation order. Thread-safe.
 */
#ifndef EVB_COMMON_ID_H
#define EVB_COMMON_ID_H

#include <stddef.h>

#include "common/err.h"

#define EVB_UUID_STRLEN 36

/* Writes a lower-case canonical UUIDv7 ("xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx") and a NUL
 * into out (>= 37 bytes). */
evb_err evb_uuid7(char *out, size_t outlen);

/* Writes n random bytes as 2n lower-case hex chars plus NUL into out (>= 2n+1 bytes). */
evb_err evb_random_hex(char *out, size_t outlen, size_t n);

#endif
