/* evbridge tests — delivery policy: the case tables each test file exports to the runner. */
#ifndef EVB_TEST_POLICY_TEST_H
#define EVB_TEST_POLICY_TEST_H

typedef struct pt_case {
    const char *name;
    void (*fn)(void);
} pt_case;

/* Each table ends with {NULL, NULL}. */
extern const pt_case RETRY_CASES[];
extern const pt_case RETRY_AFTER_CASES[];
extern const pt_case OUTCOME_CASES[];
extern const pt_case SSRF_CASES[];

#endif
