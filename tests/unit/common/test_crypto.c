/* evbridge — unit tests for common/crypto: SHA-256 (FIPS 180 examples), HMAC-SHA256
 * (RFC 4231), base64 (RFC 4648 §10 vectors, strictness), base64url, constant-time compare,
 * and the two signing schemes we deliver with: Standard Webhooks and DingTalk robots. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/text.h"
#include "tests/unit/common/unit.h"

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void test_sha256(void)
{
    char out[65];
    evb_sha256_hex("", 0, out);
    CU_ASSERT_STRING_EQUAL(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    evb_sha256_hex("abc", 3, out);
    CU_ASSERT_STRING_EQUAL(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    evb_sha256_hex(m, strlen(m), out);
    CU_ASSERT_STRING_EQUAL(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* RFC 4231 §4.2–4.8 (test case 5, truncated output, is skipped). */
static const struct {
    const char *key_hex, *data_hex, *mac_hex;
} hmac_rows[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
     "dddddddddddddddddddd",
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819",
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
     "cdcdcdcdcdcdcdcdcdcd",
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaa",
     "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d20"
     "48617368204b6579204669727374",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaa",
     "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b"
     "2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a652064"
     "6174612e20546865206b6579206e6565647320746f20626520686173686564206265666f72652062"
     "65696e6720757365642062792074686520484d414320616c676f726974686d2e",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static void test_hmac_rfc4231(void)
{
    for (size_t i = 0; i < sizeof hmac_rows / sizeof hmac_rows[0]; i++) {
        uint8_t key[256], data[256], mac[32];
        char hex[65];
        size_t kl = unhex(hmac_rows[i].key_hex, key), dl = unhex(hmac_rows[i].data_hex, data);
        CU_ASSERT_EQUAL(evb_hmac_sha256(key, kl, data, dl, mac), EVB_OK);
        hex_of(mac, 32, hex);
        EVB_CHECK_ROW(strcmp(hex, hmac_rows[i].mac_hex) == 0, "RFC 4231 case %zu: %s", i + 1, hex);
    }
    /* empty key and message are allowed */
    uint8_t mac[32];
    char hex[65];
    CU_ASSERT_EQUAL(evb_hmac_sha256(NULL, 0, NULL, 0, mac), EVB_OK);
    hex_of(mac, 32, hex);
    CU_ASSERT_STRING_EQUAL(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

/* Standard Webhooks: the decoded whsec_ secret is the key; the signed content is
 * "{id}.{timestamp}.{body}". */
static void test_standard_webhooks_vector(void)
{
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *b64 = secret + strlen("whsec_");
    uint8_t key[64];
    size_t kl = 0;
    CU_ASSERT_EQUAL_FATAL(evb_base64_decode(b64, strlen(b64), key, &kl), EVB_OK);
    CU_ASSERT_EQUAL(kl, 24);
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s.%s.%s", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                     "{\"test\": 2432232314}");
    uint8_t mac[32];
    CU_ASSERT_EQUAL(evb_hmac_sha256(key, kl, msg, (size_t)n, mac), EVB_OK);
    char sig[64], header[80];
    evb_base64_encode(mac, 32, sig);
    snprintf(header, sizeof header, "v1,%s", sig);
    CU_ASSERT_STRING_EQUAL(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* and the receiver side: decode and compare in constant time */
    uint8_t got[48];
    size_t gl = 0;
    CU_ASSERT_EQUAL(evb_base64_decode(sig, strlen(sig), got, &gl), EVB_OK);
    CU_ASSERT_EQUAL(gl, 32);
    CU_ASSERT(evb_ct_equal(got, mac, 32));
}

/* DingTalk custom robot: sign = urlencode(base64(HMAC(secret, timestamp "\n" secret))). */
static void test_dingtalk_vector(void)
{
    const char *secret = "SEC0123456789abcdef";
    const char *timestamp = "1700000000000";
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%s\n%s", timestamp, secret);
    uint8_t mac[32];
    CU_ASSERT_EQUAL(evb_hmac_sha256(secret, strlen(secret), msg, (size_t)n, mac), EVB_OK);
    char b64[64];
    size_t bl = evb_base64_encode(mac, 32, b64);
    CU_ASSERT_EQUAL(bl, 44);
    char *sign = evb_url_encode(b64, bl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sign);
    CU_ASSERT_STRING_EQUAL(sign, "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D");
    free(sign);
}

/* RFC 4648 §10. */
static const struct {
    const char *raw, *b64, *b64url;
} b64_rows[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xff\xbf", "+/+/", "-_-_"},
};

static void test_base64_vectors(void)
{
    for (size_t i = 0; i < sizeof b64_rows / sizeof b64_rows[0]; i++) {
        const char *raw = b64_rows[i].raw;
        size_t rl = strlen(raw);
        char enc[32];
        size_t el = evb_base64_encode(raw, rl, enc);
        EVB_CHECK_ROW(strcmp(enc, b64_rows[i].b64) == 0 && el == strlen(enc), "enc '%s' -> %s", raw,
                      enc);
        uint8_t dec[32];
        size_t dl = 99;
        CU_ASSERT_EQUAL(evb_base64_decode(enc, el, dec, &dl), EVB_OK);
        EVB_CHECK_ROW(dl == rl && memcmp(dec, raw, rl) == 0, "dec %s", enc);
        el = evb_base64url_encode(raw, rl, enc);
        EVB_CHECK_ROW(strcmp(enc, b64_rows[i].b64url) == 0, "url enc '%s' -> %s", raw, enc);
        dl = 99;
        CU_ASSERT_EQUAL(evb_base64url_decode(enc, el, dec, &dl), EVB_OK);
        EVB_CHECK_ROW(dl == rl && memcmp(dec, raw, rl) == 0, "url dec %s", enc);
    }
    /* all 256 byte values round-trip */
    uint8_t all[256], dec[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char enc[400];
    size_t el = evb_base64_encode(all, 256, enc), dl = 0;
    CU_ASSERT_EQUAL(el, 344);
    CU_ASSERT_EQUAL(evb_base64_decode(enc, el, dec, &dl), EVB_OK);
    CU_ASSERT_EQUAL(dl, 256);
    CU_ASSERT_EQUAL(memcmp(all, dec, 256), 0);
}

static void test_base64_strict(void)
{
    static const char *const bad[] = {
        "Zg",                          /* padding required */
        "Zg=",                         /* length not a multiple of 4 */
        "Zg=a",                        /* '=' in the middle */
        "Z===",                        /* too much padding */
        "====",   "Zh==",              /* non-zero unused bits */
        "Zm9=",                        /* non-zero unused bits */
        "Zm9v\n",                      /* whitespace */
        "Zm 9v",  "Zm9v YmFy", "Zm9-", /* url alphabet in standard */
        "Zm9_",   "Zm9v====",  "=Zm9", "Zm\0v",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        size_t ol = 0;
        size_t len = i == sizeof bad / sizeof bad[0] - 1 ? 4 : strlen(bad[i]);
        EVB_CHECK_ROW(evb_base64_decode(bad[i], len, out, &ol) == EVB_ERR_PARSE, "'%s' accepted",
                      bad[i]);
    }
    static const char *const bad_url[] = {"Zg==", "Z", "Zh", "Zm9", "+/+/", "Zm9v\n"};
    for (size_t i = 0; i < sizeof bad_url / sizeof bad_url[0]; i++) {
        uint8_t out[16];
        size_t ol = 0;
        EVB_CHECK_ROW(evb_base64url_decode(bad_url[i], strlen(bad_url[i]), out, &ol) ==
                          EVB_ERR_PARSE,
                      "url '%s' accepted", bad_url[i]);
    }
}

static void test_ct_equal_and_random(void)
{
    CU_ASSERT(evb_ct_equal("abcd", "abcd", 4));
    CU_ASSERT(!evb_ct_equal("abcd", "abce", 4));
    CU_ASSERT(!evb_ct_equal("xbcd", "abcd", 4));
    CU_ASSERT(evb_ct_equal("a", "b", 0));
    uint8_t a[32] = {0}, b[32] = {0};
    CU_ASSERT_EQUAL(evb_random_bytes(a, sizeof a), EVB_OK);
    CU_ASSERT_EQUAL(evb_random_bytes(b, sizeof b), EVB_OK);
    CU_ASSERT(!evb_ct_equal(a, b, 32));
    CU_ASSERT_EQUAL(evb_random_bytes(a, 0), EVB_OK);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"sha256", test_sha256},
        {"hmac_rfc4231", test_hmac_rfc4231},
        {"standard_webhooks_vector", test_standard_webhooks_vector},
        {"dingtalk_vector", test_dingtalk_vector},
        {"base64_vectors", test_base64_vectors},
        {"base64_strict", test_base64_strict},
        {"ct_equal_and_random", test_ct_equal_and_random},
        {NULL, NULL},
    };
    return evb_unit_run("common/crypto", cases);
}
