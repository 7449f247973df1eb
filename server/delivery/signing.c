/* evbridge — Standard Webhooks and DingTalk robot signatures (signing.h).
 *
 * Both are one HMAC-SHA256 over a message assembled from the parts, then base64; the only
 * differences are the key (decoded whsec_ bytes vs. the secret's text) and the message
 * layout. Messages are built on the heap because the webhook body can be large.
 */
#include "server/delivery/signing.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/text.h"

evb_err evb_webhook_secret_decode(const char *secret, uint8_t *key, size_t *key_len)
{
    if (secret == NULL || strncmp(secret, "whsec_", 6) != 0)
        return EVB_ERR_INVALID;
    const char *b = secret + 6;
    size_t n = strlen(b);
    if (n == 0 || n % 4 != 0 || n > (EVB_WEBHOOK_KEY_MAX / 3) * 4)
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
    char ts[24];
    int tn = snprintf(ts, sizeof ts, "%" PRId64, timestamp_s);
    size_t idn = strlen(id);
    size_t n = idn + 1 + (size_t)tn + 1 + body_len;
    char *msg = malloc(n ? n : 1);
    if (msg == NULL)
        return EVB_ERR_NOMEM;
    memcpy(msg, id, idn);
    msg[idn] = '.';
    memcpy(msg + idn + 1, ts, (size_t)tn);
    msg[idn + 1 + (size_t)tn] = '.';
    if (body_len > 0)
        memcpy(msg + idn + 2 + (size_t)tn, body, body_len);
    uint8_t mac[32];
    evb_err rc = evb_hmac_sha256(key, key_len, msg, n, mac);
    free(msg);
    if (rc != EVB_OK)
        return rc;
    memcpy(out, "v1,", 3);
    evb_base64_encode(mac, sizeof mac, out + 3);
    return EVB_OK;
}

evb_err evb_robot_sign(const char *secret, int64_t timestamp_ms, char *out, size_t outlen)
{
    if (secret == NULL || secret[0] == '\0')
        return EVB_ERR_INVALID;
    size_t sn = strlen(secret);
    char ts[24];
    int tn = snprintf(ts, sizeof ts, "%" PRId64, timestamp_ms);
    size_t n = (size_t)tn + 1 + sn;
    char *msg = malloc(n);
    if (msg == NULL)
        return EVB_ERR_NOMEM;
    memcpy(msg, ts, (size_t)tn);
    msg[tn] = '\n';
    memcpy(msg + tn + 1, secret, sn);
    uint8_t mac[32];
    evb_err rc = evb_hmac_sha256(secret, sn, msg, n, mac);
    free(msg);
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
