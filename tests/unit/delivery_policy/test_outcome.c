/* evbridge tests — attempt outcomes (server/delivery/outcome.h): every HTTP status from
 * -1 to 999 against the class rules, named statuses in a table, and DingTalk robot
 * errcodes on top of the HTTP answer.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "policy_test.h"
#include "server/delivery/outcome.h"

typedef struct status_row {
    int status;
    evb_outcome want;
} status_row;

static const status_row STATUS_ROWS[] = {
    {0, EVB_OUTCOME_RETRY}, /* connection error / timeout */
    {200, EVB_OUTCOME_DELIVERED}, {201, EVB_OUTCOME_DELIVERED}, {202, EVB_OUTCOME_DELIVERED},
    {204, EVB_OUTCOME_DELIVERED}, {299, EVB_OUTCOME_DELIVERED}, {300, EVB_OUTCOME_DEAD},
    {301, EVB_OUTCOME_DEAD},      {302, EVB_OUTCOME_DEAD},      {303, EVB_OUTCOME_DEAD},
    {304, EVB_OUTCOME_DEAD},      {307, EVB_OUTCOME_DEAD},      {308, EVB_OUTCOME_DEAD},
    {399, EVB_OUTCOME_DEAD},      {400, EVB_OUTCOME_DEAD},      {401, EVB_OUTCOME_DEAD},
    {403, EVB_OUTCOME_DEAD},      {404, EVB_OUTCOME_DEAD},      {405, EVB_OUTCOME_DEAD},
    {409, EVB_OUTCOME_DEAD},      {413, EVB_OUTCOME_DEAD},      {415, EVB_OUTCOME_DEAD},
    {422, EVB_OUTCOME_DEAD},      {499, EVB_OUTCOME_DEAD},      {408, EVB_OUTCOME_RETRY},
    {425, EVB_OUTCOME_RETRY},     {429, EVB_OUTCOME_RETRY},     {410, EVB_OUTCOME_GONE},
    {500, EVB_OUTCOME_RETRY},     {502, EVB_OUTCOME_RETRY},     {503, EVB_OUTCOME_RETRY},
    {504, EVB_OUTCOME_RETRY},     {599, EVB_OUTCOME_RETRY},     {100, EVB_OUTCOME_RETRY},
    {101, EVB_OUTCOME_RETRY},     {199, EVB_OUTCOME_RETRY},     {-1, EVB_OUTCOME_RETRY},
    {600, EVB_OUTCOME_RETRY},     {999, EVB_OUTCOME_RETRY},
};

static void test_status_table(void)
{
    for (size_t i = 0; i < sizeof STATUS_ROWS / sizeof STATUS_ROWS[0]; i++) {
        evb_outcome got = evb_http_outcome(STATUS_ROWS[i].status);
        if (got != STATUS_ROWS[i].want)
            fprintf(stderr, "\n  HTTP %d: %s, want %s\n", STATUS_ROWS[i].status,
                    evb_outcome_name(got), evb_outcome_name(STATUS_ROWS[i].want));
        CU_ASSERT_EQUAL(got, STATUS_ROWS[i].want);
    }
}

/* Every status by class, so no status falls through a gap. */
static void test_every_status(void)
{
    for (int s = -1; s <= 999; s++) {
        evb_outcome want;
        if (s >= 200 && s <= 299)
            want = EVB_OUTCOME_DELIVERED;
        else if (s == 410)
            want = EVB_OUTCOME_GONE;
        else if (s == 408 || s == 425 || s == 429)
            want = EVB_OUTCOME_RETRY;
        else if (s >= 300 && s <= 499)
            want = EVB_OUTCOME_DEAD;
        else
            want = EVB_OUTCOME_RETRY;
        CU_ASSERT_EQUAL(evb_http_outcome(s), want);
    }
}

typedef struct robot_row {
    int status;
    long long errcode;
    int have_errcode;
    evb_outcome want;
} robot_row;

static const robot_row ROBOT_ROWS[] = {
    {200, 0, 1, EVB_OUTCOME_DELIVERED},
    {200, 0, 0, EVB_OUTCOME_DELIVERED},
    {200, 12345, 0, EVB_OUTCOME_DELIVERED},       /* errcode absent: value ignored */
    {200, 130101, 1, EVB_OUTCOME_RETRY},          /* sending too fast */
    {200, -1, 1, EVB_OUTCOME_RETRY},              /* busy */
    {200, 310000, 1, EVB_OUTCOME_DISABLE_ACTION}, /* keyword / signature / IP check */
    {200, 300005, 1, EVB_OUTCOME_DISABLE_ACTION}, /* token does not exist */
    {200, 400102, 1, EVB_OUTCOME_DISABLE_ACTION}, /* robot stopped */
    {200, 1, 1, EVB_OUTCOME_DISABLE_ACTION},
    {200, -2, 1, EVB_OUTCOME_DISABLE_ACTION},
    {204, 130101, 1, EVB_OUTCOME_RETRY},
    {0, 0, 0, EVB_OUTCOME_RETRY},
    {429, 0, 1, EVB_OUTCOME_RETRY},
    {503, 130101, 1, EVB_OUTCOME_RETRY},
    {410, 0, 1, EVB_OUTCOME_GONE},
    {404, 0, 1, EVB_OUTCOME_DEAD},
    {302, 0, 1, EVB_OUTCOME_DEAD},
    {400, 310000, 1, EVB_OUTCOME_DEAD}, /* HTTP decides first */
};

static void test_robot_table(void)
{
    for (size_t i = 0; i < sizeof ROBOT_ROWS / sizeof ROBOT_ROWS[0]; i++) {
        const robot_row *r = &ROBOT_ROWS[i];
        evb_outcome got = evb_robot_outcome(r->status, r->errcode, r->have_errcode);
        if (got != r->want)
            fprintf(stderr, "\n  robot %d/%lld/%d: %s, want %s\n", r->status, r->errcode,
                    r->have_errcode, evb_outcome_name(got), evb_outcome_name(r->want));
        CU_ASSERT_EQUAL(got, r->want);
    }
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(evb_outcome_name(EVB_OUTCOME_DELIVERED), "delivered");
    CU_ASSERT_STRING_EQUAL(evb_outcome_name(EVB_OUTCOME_RETRY), "retry");
    CU_ASSERT_STRING_EQUAL(evb_outcome_name(EVB_OUTCOME_DEAD), "dead");
    CU_ASSERT_STRING_EQUAL(evb_outcome_name(EVB_OUTCOME_GONE), "gone");
    CU_ASSERT_STRING_EQUAL(evb_outcome_name(EVB_OUTCOME_DISABLE_ACTION), "disable_action");
    CU_ASSERT_STRING_EQUAL(evb_outcome_name((evb_outcome)42), "unknown");
}

const pt_case OUTCOME_CASES[] = {
    {"HTTP statuses (table)", test_status_table},
    {"every status -1..999 by class", test_every_status},
    {"DingTalk robot errcodes (table)", test_robot_table},
    {"outcome names", test_names},
    {NULL, NULL},
};
