/* evbridge — hashing, MACs, base64 and secure randomness (on OpenSSL libcrypto).
 * All functions are thread-safe.
 */
#ifndef EVB_COMMON_CRYPTO_H
#define EVB_COMMON_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Fills p with n bytes from the CSPRNG. */
evb_err evb_random_bytes(void *p, size_t n);

/* SHA-256 of data as 64 lower-case hex chars plus NUL into out (>= 65 bytes). */
void evb_sha256_hex(const void *data, size_t n, char *out);

/* HMAC-SHA256; out receives 32 bytes. */
evb_err evb_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                        uint8_t out[32]);

/* Constant-time comparison of two equal-length buffers; 1 when equal. */
int evb_ct_equal(const void *a, const void *b, size_t n);

/* Standard base64 (with padding). Encode writes a NUL-terminated string into out, which
 * must hold 4*((n+2)/3)+1 bytes; returns the length. */
size_t evb_base64_encode(const void *data, size_t n, char *out);
/* Decodes standard base64 (padding required, no whitespace) into out (>= 3*(len/4) bytes).
 * EVB_ERR_PARSE on bad input. */
evb_err evb_base64_decode(const char *s, size_t len, uint8_t *out, size_t *outlen);

/* Base64url (RFC 4648 §5) without padding. Encode writes a NUL-terminated string into out,
 * which must hold (4*n+2)/3+1 bytes; returns the length. */
size_t evb_base64url_encode(const void *data, size_t n, char *out);
/* Decodes unpadded base64url into out (>= 3*len/4+1 bytes); '=' padding, whitespace and
 * non-zero unused bits are rejected with EVB_ERR_PARSE. */
evb_err evb_base64url_decode(const char *s, size_t len, uint8_t *out, size_t *outlen);

#endif
