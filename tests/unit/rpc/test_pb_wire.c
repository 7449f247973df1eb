/* evbridge — unit tests for server/rpc/pb_wire.c: the wire-field iterator and the search
 * for string fields holding a NUL byte (which protobuf-c's unpacked strings cannot show).
 * Encoded messages are written out by hand, table-driven, since protobuf-c's packer itself
 * stops a string at its NUL. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "evbridge/v1/events.pb-c.h"
#include "server/rpc/pb_wire.h"

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void test_next(void)
{
    /* 1: varint 150; 2: "ab"; 3: fixed64; 4: fixed32 */
    static const uint8_t m[] = {0x08, 0x96, 0x01, 0x12, 0x02, 'a',  'b', 0x19, 1, 2, 3,
                                4,    5,    6,    7,    8,    0x25, 1,   2,    3, 4};
    const uint8_t *p = m;
    size_t n = sizeof m;
    evb_pb_field f;
    CU_ASSERT_EQUAL(evb_pb_next(&p, &n, &f), 1);
    CU_ASSERT_EQUAL(f.number, 1);
    CU_ASSERT_EQUAL(f.wire_type, 0);
    CU_ASSERT_EQUAL(f.len, 2);
    CU_ASSERT_EQUAL(evb_pb_next(&p, &n, &f), 1);
    CU_ASSERT_EQUAL(f.number, 2);
    CU_ASSERT_EQUAL(f.wire_type, 2);
    CU_ASSERT_EQUAL(f.len, 2);
    CU_ASSERT_EQUAL(memcmp(f.data, "ab", 2), 0);
    CU_ASSERT_EQUAL(evb_pb_next(&p, &n, &f), 1);
    CU_ASSERT_EQUAL(f.number, 3);
    CU_ASSERT_EQUAL(f.len, 8);
    CU_ASSERT_EQUAL(evb_pb_next(&p, &n, &f), 1);
    CU_ASSERT_EQUAL(f.number, 4);
    CU_ASSERT_EQUAL(f.len, 4);
    CU_ASSERT_EQUAL(evb_pb_next(&p, &n, &f), 0);

    /* malformed at this level */
    const struct {
        const uint8_t *b;
        size_t n;
    } bad[] = {
        {B(0x12, 0x05, 'a')}, /* length past the end */
        {B(0x08)},            /* varint missing */
        {B(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)}, /* 11 */
        {B(0x00, 0x01)}, /* field number 0 */
        {B(0x0b)},       /* group start */
        {B(0x0f, 0x00)}, /* wire type 7 */
        {B(0x19, 1, 2)}, /* short fixed64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = bad[i].b;
        n = bad[i].n;
        CU_ASSERT_EQUAL(evb_pb_next(&p, &n, &f), -1);
    }
}

static void test_nul_path(void)
{
    const ProtobufCMessageDescriptor *req = &evbridge__v1__put_events_request__descriptor;
    const ProtobufCMessageDescriptor *ent = &evbridge__v1__put_events_entry__descriptor;
    const struct {
        const ProtobufCMessageDescriptor **d;
        const uint8_t *b;
        size_t n;
        const char *path; /* NULL: none found */
    } cases[] = {
        /* PutEventsEntry: id "a\0b" */
        {&ent, B(0x0a, 0x03, 'a', 0, 'b'), "id"},
        /* org fine, subject with a trailing NUL */
        {&ent, B(0x12, 0x01, 'o', 0x22, 0x02, 's', 0), "subject"},
        /* data (bytes) may hold NULs */
        {&ent, B(0x3a, 0x03, 0, 0, 0, 0x12, 0x01, 'o'), NULL},
        /* extensions map entry {key "k", value "v\0"} */
        {&ent, B(0x42, 0x07, 0x0a, 0x01, 'k', 0x12, 0x02, 'v', 0), "extensions.value"},
        {&ent, B(0x42, 0x06, 0x0a, 0x02, 0, 'k', 0x12, 0x00), "extensions.key"},
        /* an unknown field's bytes are not text */
        {&ent, B(0x7a, 0x02, 'x', 0), NULL},
        /* PutEventsRequest: connector with a NUL; an entry's org with one */
        {&req, B(0x0a, 0x03, 'c', 0, 'x'), "connector"},
        {&req, B(0x0a, 0x01, 'c', 0x12, 0x04, 0x12, 0x02, 'o', 0), "entries.org"},
        {&req, B(0x1a, 0x02, 'r', 'q'), NULL},
        /* malformed bytes report nothing (the unpacker rejects them) */
        {&req, B(0x1a), NULL},
        {&req, B(0x0a, 0x05, 'c', 0), NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[64] = "junk";
        int r = evb_pb_nul_path(*cases[i].d, cases[i].b, cases[i].n, path, sizeof path);
        CU_ASSERT_EQUAL(r, cases[i].path != NULL);
        CU_ASSERT_STRING_EQUAL(path, cases[i].path != NULL ? cases[i].path : "");
        if (r != (cases[i].path != NULL))
            fprintf(stderr, "case %zu: got %d \"%s\"\n", i, r, path);
    }
    char path[8];
    CU_ASSERT_EQUAL(evb_pb_nul_path(req, NULL, 0, path, sizeof path), 0);
    /* truncated into a small buffer, still terminated */
    CU_ASSERT_EQUAL(
        evb_pb_nul_path(ent, B(0x42, 0x07, 0x0a, 0x01, 'k', 0x12, 0x02, 'v', 0), path, sizeof path),
        1);
    CU_ASSERT_STRING_EQUAL(path, "extensi");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("pb_wire", NULL, NULL);
    CU_add_test(s, "field iterator", test_next);
    CU_add_test(s, "string fields holding a NUL", test_nul_path);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
