/* evbridge — unit tests for common/tracectx: W3C traceparent and tracestate checks
 * (the examples and invalid cases of https://www.w3.org/TR/trace-context/). */
#include <string.h>

#include "common/tracectx.h"
#include "tests/unit/common/unit.h"

static void test_traceparent(void)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1},
        {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", 1},
        {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", 0}, /* 00: exactly 55 */
        {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", 0},
        {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0},
        {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", 0},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 0},
        {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 0}, /* upper case */
        {"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", 0},
        {"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (evb_traceparent_valid(cases[i].s) != cases[i].ok)
            fprintf(stderr, "traceparent case %zu: %s\n", i, cases[i].s);
        CU_ASSERT_EQUAL(evb_traceparent_valid(cases[i].s), cases[i].ok);
    }
    CU_ASSERT_EQUAL(evb_traceparent_valid(NULL), 0);
    char id[33];
    CU_ASSERT_EQUAL(
        evb_traceparent_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id), 1);
    CU_ASSERT_STRING_EQUAL(id, "4bf92f3577b34da6a3ce929d0e0e4736");
    CU_ASSERT_EQUAL(evb_traceparent_trace_id("nope", id), 0);
}

static void test_tracestate(void)
{
    CU_ASSERT_EQUAL(evb_tracestate_valid("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), 1);
    CU_ASSERT_EQUAL(evb_tracestate_valid(""), 1);
    CU_ASSERT_EQUAL(evb_tracestate_valid("a=b\nc=d"), 0);
    CU_ASSERT_EQUAL(evb_tracestate_valid("a=\xc3\xa9"), 0);
    CU_ASSERT_EQUAL(evb_tracestate_valid(NULL), 0);
    char big[EVB_TRACESTATE_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CU_ASSERT_EQUAL(evb_tracestate_valid(big), 0);
    big[EVB_TRACESTATE_MAX] = '\0';
    CU_ASSERT_EQUAL(evb_tracestate_valid(big), 1);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"traceparent", test_traceparent},
        {"tracestate", test_tracestate},
        {NULL, NULL},
    };
    return evb_unit_run("common/tracectx", cases);
}
