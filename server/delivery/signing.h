/* evbridge — delivery signatures: Standard Webhooks (HTTP actions) and DingTalk robot URLs.
 *
 * Standard Webhooks: the secret is "whsec_<base64>", and the *decoded* bytes are the HMAC
 * key. webhook-signature = "v1," base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), where
 * id is the delivery id (stable across retries) and timestamp the unix seconds of the
 * attempt. DingTalk: sign = urlencode(base64(HMAC-SHA256(key = secret, msg = "<timestamp
 * ms>\n<secret>"))). Pure functions on caller memory; all are thread-safe.
 * Specs: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 *        DingTalk open platform, custom robot security settings ("加签").
 */
#ifndef EVB_SERVER_DELIVERY_SIGNING_H
#define EVB_SERVER_DELIVERY_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define EVB_WEBHOOK_KEY_MAX 384 /* decoded key bytes we accept (512 base64 characters) */
#define EVB_WEBHOOK_SIG_LEN 48  /* "v1," + 44 base64 characters, plus NUL */
#define EVB_ROBOT_SIGN_MAX 133  /* URL-encoded base64 of 32 bytes (44 * 3), plus NUL */

/* Decodes a "whsec_<base64>" secret into key (EVB_WEBHOOK_KEY_MAX bytes) and *key_len.
 * EVB_ERR_INVALID when the prefix is missing, the base64 is malformed (padding required), or
 * the key is shorter than 16 or longer than EVB_WEBHOOK_KEY_MAX bytes. */
evb_err evb_webhook_secret_decode(const char *secret, uint8_t *key, size_t *key_len);

/* Writes "v1,<base64 signature>" (NUL-terminated) of "<id>.<timestamp>.<body>" into out,
 * which must hold EVB_WEBHOOK_SIG_LEN bytes. body may be NULL when body_len is 0 and may
 * contain NUL bytes. EVB_ERR_INVALID when id is NULL/empty or contains '.',
 * EVB_ERR_TOO_LARGE when outlen is too small, EVB_ERR_NOMEM. */
evb_err evb_webhook_sign(const uint8_t *key, size_t key_len, const char *id, int64_t timestamp_s,
                         const void *body, size_t body_len, char *out, size_t outlen);

/* Writes the URL-encoded DingTalk sign for secret and timestamp_ms into out (NUL-terminated;
 * EVB_ROBOT_SIGN_MAX bytes always suffice). EVB_ERR_INVALID for a NULL or empty secret,
 * EVB_ERR_TOO_LARGE when outlen is too small, EVB_ERR_NOMEM. */
evb_err evb_robot_sign(const char *secret, int64_t timestamp_ms, char *out, size_t outlen);

#endif
