/* evbridge — hashing, MACs, base64 and secure randomness on OpenSSL libcrypto (crypto.h).
 *
 * Randomness is RAND_bytes (the OpenSSL CSPRNG, fork-safe since 1.1.1); comparisons use
 * CRYPTO_memcmp so signature checks do not leak timing. Base64 is written by hand because
 * EVP_DecodeBlock is lenient (whitespace, no padding check): our decoder is strict — the
 * alphabet only, padding required, no whitespace, and the unused bits of the last quantum
 * must be zero (canonical encoding, RFC 4648 §3.5).
 * Spec: https://www.rfc-editor.org/rfc/rfc4648, https://www.rfc-editor.org/rfc/rfc2104
 */
#include "common/crypto.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

evb_err evb_random_bytes(void *p, size_t n)
{
    unsigned char *q = p;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(q, chunk) != 1)
            return EVB_ERR_INTERNAL;
        q += chunk;
        n -= (size_t)chunk;
    }
    return EVB_OK;
}

void evb_sha256_hex(const void *data, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(n ? data : "", n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        memset(out, '0', 64); /* cannot happen with a working libcrypto */
        out[64] = '\0';
        return;
    }
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xF];
    }
    out[64] = '\0';
}

evb_err evb_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                        uint8_t out[32])
{
    static const unsigned char empty[1] = {0};
    unsigned int len = 0;
    if (keylen > (size_t)INT_MAX)
        return EVB_ERR_TOO_LARGE;
    if (HMAC(EVP_sha256(), keylen ? key : empty, (int)keylen,
             msglen ? (const unsigned char *)msg : empty, msglen, out, &len) == NULL ||
        len != 32)
        return EVB_ERR_INTERNAL;
    return EVB_OK;
}

int evb_ct_equal(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return 1;
    return CRYPTO_memcmp(a, b, n) == 0;
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64_encode(const char *alpha, int pad, const void *data, size_t n, char *out)
{
    const unsigned char *p = data;
    size_t j = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[j++] = alpha[v >> 18 & 63];
        out[j++] = alpha[v >> 12 & 63];
        out[j++] = alpha[v >> 6 & 63];
        out[j++] = alpha[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[j++] = alpha[v >> 18 & 63];
        out[j++] = alpha[v >> 12 & 63];
        if (pad) {
            out[j++] = '=';
            out[j++] = '=';
        }
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[j++] = alpha[v >> 18 & 63];
        out[j++] = alpha[v >> 12 & 63];
        out[j++] = alpha[v >> 6 & 63];
        if (pad)
            out[j++] = '=';
    }
    out[j] = '\0';
    return j;
}

/* Value of c in the alphabet, or -1. */
static int b64_val(const char *alpha, char c)
{
    if (c == '\0')
        return -1;
    const char *p = strchr(alpha, c);
    return p ? (int)(p - alpha) : -1;
}

/* Decodes s[0..len) where the padding (if any) has already been stripped by the caller;
 * len % 4 must not be 1. Rejects non-zero unused bits. */
static evb_err b64_decode(const char *alpha, const char *s, size_t len, uint8_t *out,
                          size_t *outlen)
{
    if (len % 4 == 1)
        return EVB_ERR_PARSE;
    size_t j = 0;
    for (size_t i = 0; i < len; i += 4) {
        size_t k = len - i < 4 ? len - i : 4;
        unsigned v = 0;
        for (size_t q = 0; q < 4; q++) {
            int d = 0;
            if (q < k) {
                d = b64_val(alpha, s[i + q]);
                if (d < 0)
                    return EVB_ERR_PARSE;
            }
            v = v << 6 | (unsigned)d;
        }
        out[j++] = (uint8_t)(v >> 16);
        if (k == 2) {
            if ((v & 0xFFFF) != 0)
                return EVB_ERR_PARSE; /* non-canonical trailing bits */
            break;
        }
        out[j++] = (uint8_t)(v >> 8);
        if (k == 3) {
            if ((v & 0xFF) != 0)
                return EVB_ERR_PARSE;
            break;
        }
        out[j++] = (uint8_t)v;
    }
    *outlen = j;
    return EVB_OK;
}

size_t evb_base64_encode(const void *data, size_t n, char *out)
{
    return b64_encode(b64_std, 1, data, n, out);
}

evb_err evb_base64_decode(const char *s, size_t len, uint8_t *out, size_t *outlen)
{
    if (s == NULL || len % 4 != 0)
        return EVB_ERR_PARSE;
    size_t body = len;
    if (body > 0 && s[body - 1] == '=')
        body--;
    if (body > 0 && s[body - 1] == '=')
        body--;
    if (body % 4 == 1)
        return EVB_ERR_PARSE; /* "A===" and the like */
    return b64_decode(b64_std, s, body, out, outlen);
}

size_t evb_base64url_encode(const void *data, size_t n, char *out)
{
    return b64_encode(b64_url, 0, data, n, out);
}

evb_err evb_base64url_decode(const char *s, size_t len, uint8_t *out, size_t *outlen)
{
    if (s == NULL)
        return EVB_ERR_PARSE;
    return b64_decode(b64_url, s, len, out, outlen);
}
