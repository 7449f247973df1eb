/* evbridge — Standard Webhooks and DingTalk robot signatures (signing.h).
 *
 * Both are one HMAC-SHA256 over a message assembled from the parts, then base64; the only
 * differences are the key (decoded whsec_ bytes vs. the secret's text) and the message
 * layout. Messages are built in an evb_buf because the webhook body can be large.
 */
#include "server/delivery/signing.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/text.h"

evb_err evb_webhook_secret_decode(const char *secret, uint8_t *key, size_t *key_len)
{
    if (secret == NULL || strncmp(secret, "whsec_", 6) != 0)
        return EVB_ERR_INVALID;
    const char *b = secret + 6;
    size_t n = strlen(b);
    if (n == 0 || n % 4 != 0 || n > (size_t)(EVB_WEBHOOK_KEY_MAX / 3) * 4)
        return EVB_ERR_INVALID;
    size_t klen = 0;
    if (evb_base64_decode(b, n, key, &klen) != EVB_OK || klen < 16)
        return EVB_ERR_INVALID;
    *key_len = klen;
    return EVB_OK;
}

evb_err evb_webhook_sign(const uint8_t *key, size_t key_len, const char *id, int64_t timestamp_s,
                         const void *body, size_t body_len, char *out, size_t outlen)
{
    if (id == NULL || id[0] == '\0' || strchr(id, '.') != NULL)
        return EVB_ERR_INVALID;
    if (outlen < EVB_WEBHOOK_SIG_LEN)
        return EVB_ERR_TOO_LARGE;
    evb_buf msg;
    evb_buf_init(&msg, 0);
    evb_err rc = evb_buf_printf(&msg, "%s.%" PRId64 ".", id, timestamp_s);
    if (rc == EVB_OK && body_len > 0)
        rc = evb_buf_append(&msg, body, body_len);
    uint8_t mac[32];
    if (rc == EVB_OK)
        rc = evb_hmac_sha256(key, key_len, msg.data, msg.len, mac);
    evb_buf_fini(&msg);
    if (rc != EVB_OK)
        return rc;
    char b64[48];
    evb_base64_encode(mac, sizeof mac, b64);
    snprintf(out, outlen, "v1,%s", b64);
    return EVB_OK;
}

evb_err evb_robot_sign(const char *secret, int64_t timestamp_ms, char *out, size_t outlen)
{
    if (secret == NULL || secret[0] == '\0')
        return EVB_ERR_INVALID;
    evb_buf msg;
    evb_buf_init(&msg, 0);
    evb_err rc = evb_buf_printf(&msg, "%" PRId64 "\n%s", timestamp_ms, secret);
    uint8_t mac[32];
    if (rc == EVB_OK)
        rc = evb_hmac_sha256(secret, strlen(secret), msg.data, msg.len, mac);
    if (msg.data != NULL) /* the message holds the secret */
        memset(msg.data, 0, msg.len);
    evb_buf_fini(&msg);
    if (rc != EVB_OK)
        return rc;
    char b64[48];
    evb_base64_encode(mac, sizeof mac, b64);
    char *enc = evb_url_encode(b64, strlen(b64));
    if (enc == NULL)
        return EVB_ERR_NOMEM;
    size_t en = strlen(enc);
    if (en + 1 > outlen) {
        free(enc);
        return EVB_ERR_TOO_LARGE;
    }
    memcpy(out, enc, en + 1);
    free(enc);
    return EVB_OK;
}
