/* libevbclient: the codec never allocates.
 *
 * The binary is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,... so every
 * call to those functions from the statically linked objects — this test, libevbclient.a
 * and libprotobuf-nanopb.a, i.e. the whole encode and decode path — goes through the
 * counters below. Counting is switched on only around the call under test. Two controls
 * prove the counters are live: a malloc in this file, and evb_client_open (whose calloc
 * is inside libevbclient.a) are both counted. gRPC allocates during transport (it is a
 * shared library, not counted here): that is outside the codec and is documented.
 */
#include <CUnit/Basic.h>
#include <evbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbridge/v1/events.pb-c.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);

static volatile int counting; /* volatile: GCC assumes malloc reads no globals */
static void *volatile keep;   /* stops the compiler from eliding the control malloc */
static volatile unsigned long allocations;

void *__wrap_malloc(size_t n)
{
    if (counting)
        allocations++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (counting)
        allocations++;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (counting)
        allocations++;
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    if (counting)
        allocations++;
    return __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    if (counting)
        allocations++;
    return __real_posix_memalign(p, align, n);
}

static void count_start(void)
{
    allocations = 0;
    counting = 1;
}

static unsigned long count_stop(void)
{
    counting = 0;
    return allocations;
}

/* ---- the batch under test: 100 entries, every field set, 3 extensions each ------------ */

#define DATA_LEN 4096
static uint8_t data[DATA_LEN];
static char ids[EVB_CLIENT_MAX_ENTRIES][32];
static const evb_client_extension ext[] = {{"region", "cn"}, {"seq", "1"}, {"tenant", "t1"}};
static evb_client_entry entries[EVB_CLIENT_MAX_ENTRIES];

static void fill(void)
{
    for (size_t i = 0; i < DATA_LEN; i++)
        data[i] = (uint8_t)('a' + i % 26);
    for (size_t i = 0; i < EVB_CLIENT_MAX_ENTRIES; i++) {
        snprintf(ids[i], sizeof ids[i], "evt-%zu", i);
        entries[i] = (evb_client_entry){.id = ids[i],
                                        .org = "org-1",
                                        .type = "com.example.crm.customer.changed",
                                        .subject = "customer/c1",
                                        .time = "2024-05-01T10:20:30Z",
                                        .datacontenttype = "text/plain",
                                        .data = data,
                                        .data_len = DATA_LEN,
                                        .extensions = ext,
                                        .n_extensions = 3};
    }
}

static void test_counter_is_live(void)
{
    count_start();
    keep = malloc(16);
    unsigned long n = count_stop();
    free(keep);
    CU_ASSERT_EQUAL(n, 1);

    /* an allocation inside libevbclient.a is seen too */
    evb_client_options opt = {.target = "127.0.0.1:1"};
    evb_client *c = NULL;
    count_start();
    evb_client_err rc = evb_client_open(&opt, &c, NULL);
    n = count_stop();
    CU_ASSERT_EQUAL(rc, EVB_CLIENT_OK);
    CU_ASSERT(n >= 1);
    evb_client_close(c);
}

static void test_encode_100_entries_allocates_nothing(void)
{
    size_t cap = EVB_CLIENT_MAX_ENTRIES * (DATA_LEN + 256) + 64;
    uint8_t *buf = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    size_t size = 0, len = 0;
    evb_client_error err;

    count_start();
    evb_client_err rc1 =
        evb_client_encoded_size("crm", entries, EVB_CLIENT_MAX_ENTRIES, "request-1", &size, &err);
    evb_client_err rc2 = evb_client_encode_put_events("crm", entries, EVB_CLIENT_MAX_ENTRIES,
                                                      "request-1", buf, cap, &len, &err);
    unsigned long n = count_stop();

    CU_ASSERT_EQUAL(rc1, EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(rc2, EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(len, size);
    CU_ASSERT_EQUAL(n, 0);
    if (n != 0)
        fprintf(stderr, "encode allocated %lu times\n", n);

    /* the bytes are right (checked outside the counted region) */
    Evbridge__V1__PutEventsRequest *r = evbridge__v1__put_events_request__unpack(NULL, len, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->n_entries, EVB_CLIENT_MAX_ENTRIES);
    CU_ASSERT_STRING_EQUAL(r->entries[99]->id, "evt-99");
    CU_ASSERT_EQUAL(r->entries[99]->n_extensions, 3);
    CU_ASSERT_EQUAL(r->entries[99]->data.len, DATA_LEN);
    evbridge__v1__put_events_request__free_unpacked(r, NULL);

    /* failures (buffer too small, bad argument) do not allocate either */
    count_start();
    rc1 = evb_client_encode_put_events("crm", entries, EVB_CLIENT_MAX_ENTRIES, "r", buf, 100, &len,
                                       &err);
    rc2 = evb_client_encode_put_events("crm", entries, EVB_CLIENT_MAX_ENTRIES + 1, "r", buf, cap,
                                       &len, &err);
    n = count_stop();
    CU_ASSERT_EQUAL(rc1, EVB_CLIENT_ERR_NOSPACE);
    CU_ASSERT_EQUAL(rc2, EVB_CLIENT_ERR_INVALID);
    CU_ASSERT_EQUAL(n, 0);
    free(buf);
}

static void test_decode_100_results_allocates_nothing(void)
{
    static Evbridge__V1__PutEventsResult res[EVB_CLIENT_MAX_ENTRIES];
    static Evbridge__V1__PutEventsResult *resp_ptrs[EVB_CLIENT_MAX_ENTRIES];
    Evbridge__V1__Violation v;
    Evbridge__V1__Violation *vp[5] = {&v, &v, &v, &v, &v};
    evbridge__v1__violation__init(&v);
    v.instance_path = (char *)"/name";
    v.keyword_location = (char *)"/properties/name/type";
    v.message = (char *)"must be a string";
    for (size_t i = 0; i < EVB_CLIENT_MAX_ENTRIES; i++) {
        evbridge__v1__put_events_result__init(&res[i]);
        res[i].status =
            i % 2 ? EVBRIDGE__V1__RESULT_STATUS__REJECTED : EVBRIDGE__V1__RESULT_STATUS__PUBLISHED;
        res[i].event_id = ids[i];
        res[i].error_code = (char *)(i % 2 ? "SCHEMA_VIOLATION" : "");
        res[i].n_violations = i % 2 ? 5 : 0;
        res[i].violations = vp;
        resp_ptrs[i] = &res[i];
    }
    Evbridge__V1__PutEventsResponse m;
    evbridge__v1__put_events_response__init(&m);
    m.failed_entry_count = 50;
    m.n_results = EVB_CLIENT_MAX_ENTRIES;
    m.results = resp_ptrs;
    m.request_id = (char *)"request-1";
    size_t len = evbridge__v1__put_events_response__get_packed_size(&m);
    uint8_t *buf = malloc(len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    evbridge__v1__put_events_response__pack(&m, buf);

    static evb_client_result out[EVB_CLIENT_MAX_ENTRIES];
    evb_client_reply reply = {.results = out, .results_cap = EVB_CLIENT_MAX_ENTRIES};
    count_start();
    evb_client_err rc = evb_client_decode_put_events_response(buf, len, &reply, NULL);
    unsigned long n = count_stop();
    CU_ASSERT_EQUAL(rc, EVB_CLIENT_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(reply.n_results, EVB_CLIENT_MAX_ENTRIES);
    CU_ASSERT_EQUAL(reply.failed_entry_count, 50);
    CU_ASSERT_EQUAL(out[1].n_violations, 5);
    CU_ASSERT_STRING_EQUAL(out[99].event_id, "evt-99");
    free(buf);
}

int main(void)
{
    fill();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("evbclient_alloc", NULL, NULL);
    CU_add_test(s, "the counter is live", test_counter_is_live);
    CU_add_test(s, "encode 100 entries: 0 allocations", test_encode_100_entries_allocates_nothing);
    CU_add_test(s, "decode 100 results: 0 allocations", test_decode_100_results_allocates_nothing);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed > 0 ? 1 : 0;
}
