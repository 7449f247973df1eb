/* evbridge tests — signatures (signing.h): the Standard Webhooks and DingTalk vectors from
 * shared/notes/cloudevents-and-signing.md, and the argument checks. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "fmt_test.h"
#include "server/delivery/signing.h"

static void webhook_vector(void)
{
    static const struct {
        const char *secret, *id;
        int64_t ts;
        const char *body, *want;
    } cases[] = {
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
         "{\"test\": 2432232314}", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t key[EVB_WEBHOOK_KEY_MAX];
        size_t klen = 0;
        CU_ASSERT_EQUAL_FATAL(evb_webhook_secret_decode(cases[i].secret, key, &klen), EVB_OK);
        char sig[EVB_WEBHOOK_SIG_LEN];
        CU_ASSERT_EQUAL(evb_webhook_sign(key, klen, cases[i].id, cases[i].ts, cases[i].body,
                                         strlen(cases[i].body), sig, sizeof sig),
                        EVB_OK);
        CU_ASSERT_STRING_EQUAL(sig, cases[i].want);
    }
}

static void webhook_errors(void)
{
    static const char *const bad_secrets[] = {"",
                                              "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                              "whsec_",
                                              "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
                                              "whsec_bad!base64base64base64bas",
                                              "whsec_c2hvcnQ=" /* 5 bytes: too short */};
    uint8_t key[EVB_WEBHOOK_KEY_MAX];
    size_t klen = 0;
    for (size_t i = 0; i < sizeof bad_secrets / sizeof bad_secrets[0]; i++)
        CU_ASSERT_EQUAL(evb_webhook_secret_decode(bad_secrets[i], key, &klen), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_webhook_secret_decode(NULL, key, &klen), EVB_ERR_INVALID);
    memset(key, 7, 32);
    char sig[EVB_WEBHOOK_SIG_LEN];
    CU_ASSERT_EQUAL(evb_webhook_sign(key, 32, "a.b", 1, "x", 1, sig, sizeof sig), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_webhook_sign(key, 32, "", 1, "x", 1, sig, sizeof sig), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_webhook_sign(key, 32, NULL, 1, "x", 1, sig, sizeof sig), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_webhook_sign(key, 32, "id", 1, "x", 1, sig, 10), EVB_ERR_TOO_LARGE);
    /* an empty body is signed as "id.ts." */
    CU_ASSERT_EQUAL(evb_webhook_sign(key, 32, "id", 1, NULL, 0, sig, sizeof sig), EVB_OK);
    CU_ASSERT_EQUAL(strncmp(sig, "v1,", 3), 0);
    CU_ASSERT_EQUAL(strlen(sig), 47);
}

static void robot_vector(void)
{
    static const struct {
        const char *secret;
        int64_t ts;
        const char *want;
    } cases[] = {
        {"SEC0123456789abcdef", 1700000000000LL,
         "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char sign[EVB_ROBOT_SIGN_MAX];
        CU_ASSERT_EQUAL(evb_robot_sign(cases[i].secret, cases[i].ts, sign, sizeof sign), EVB_OK);
        CU_ASSERT_STRING_EQUAL(sign, cases[i].want);
    }
}

static void robot_sign_errors(void)
{
    char sign[EVB_ROBOT_SIGN_MAX];
    CU_ASSERT_EQUAL(evb_robot_sign("", 1, sign, sizeof sign), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_robot_sign(NULL, 1, sign, sizeof sign), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_robot_sign("SEC0123456789abcdef", 1700000000000LL, sign, 20),
                    EVB_ERR_TOO_LARGE);
}

const fmt_case SIGNING_CASES[] = {
    {"Standard Webhooks vector", webhook_vector},
    {"Standard Webhooks secret and argument errors", webhook_errors},
    {"DingTalk sign vector", robot_vector},
    {"DingTalk sign argument errors", robot_sign_errors},
    {NULL, NULL},
};
