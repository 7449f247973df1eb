/* evbridge fuzz target — PutEvents request decoding and the ingest rules.
 *
 * Input: the wire bytes of an evbridge.v1.PutEventsRequest. They are unpacked with
 * protobuf-c (the generated code of target evb_proto, as server/rpc/put_job.c does), then
 * every entry goes through evb_ingest_build_event (server/ingest/ingest.h) for a fixed
 * connector, with the server's default limits, exactly as build_entries() in put_job.c
 * hands it over (strings as protobuf-c gives them, extensions in wire order, duplicates
 * included). An accepted entry's event must pass evb_ce_event_check and must encode in
 * the JSON format and as binary-mode HTTP headers (what delivery does with it next).
 * Checks: no crash, no sanitizer report, and those invariants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbridge/v1/events.pb-c.h"
#include "server/cloudevents/ce_http.h"
#include "server/cloudevents/ce_json.h"
#include "server/cloudevents/ce_rules.h"
#include "server/ingest/ingest.h"
#include "tests/fuzz/fuzz_util.h"

/* The fixed connector: one type without a data model (data must be JSON when the content
 * type says so), one bound to a model (the caller validates data), one pinned version. */
static evb_event_type_def types[] = {
    {.type = "com.example.customer.changed", .subject = "", .version = 0},
    {.type = "com.example.order.created", .subject = "std.order", .version = 0},
    {.type = "com.example.contract.signed", .subject = "std.contract", .version = 3},
};
static evb_connector connector = {
    .name = "fuzz-crm",
    .isv = "fuzz-isv",
    .source = "/connectors/fuzz-crm",
    .types = types,
    .n_types = sizeof types / sizeof types[0],
};
/* The server's defaults (server/config/config.c). */
static const evb_ingest_limits limits = {
    .max_entries = 100, .max_entry_bytes = 262144, .max_request_bytes = 1048576};

static void check_event(const evb_event *ev, size_t i)
{
    evb_error err;
    if (evb_ce_event_check(ev, &err) != EVB_OK) {
        fprintf(stderr, "entry %zu: accepted event fails evb_ce_event_check: %s (%s)\n", i,
                err.message, err.pointer);
        abort();
    }
    char *json = NULL;
    size_t len = 0;
    evb_err rc = evb_ce_json_encode(ev, &json, &len);
    if (rc != EVB_OK) {
        fprintf(stderr, "entry %zu: accepted event does not encode: %s\n", i, evb_strerror(rc));
        abort();
    }
    free(json);
    evb_ce_header *h = NULL;
    size_t n = 0;
    rc = evb_ce_http_binary_headers(ev, &h, &n);
    if (rc != EVB_OK) {
        fprintf(stderr, "entry %zu: no binary-mode headers: %s\n", i, evb_strerror(rc));
        abort();
    }
    evb_ce_http_headers_free(h, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > limits.max_request_bytes)
        return 0; /* put_job.c refuses it before looking at the entries */
    Evbridge__V1__PutEventsRequest *req =
        evbridge__v1__put_events_request__unpack(NULL, size, data);
    if (req == NULL)
        return 0;
    for (size_t i = 0; i < req->n_entries && i < (size_t)limits.max_entries; i++) {
        const Evbridge__V1__PutEventsEntry *pe = req->entries[i];
        const char **names = calloc(pe->n_extensions + 1, sizeof *names);
        const char **values = calloc(pe->n_extensions + 1, sizeof *values);
        if (names == NULL || values == NULL)
            abort();
        for (size_t k = 0; k < pe->n_extensions; k++) {
            names[k] = pe->extensions[k]->key;
            values[k] = pe->extensions[k]->value;
        }
        evb_ingest_entry ie = {
            .id = pe->id,
            .org = pe->org,
            .type = pe->type,
            .subject = pe->subject,
            .time = pe->time,
            .datacontenttype = pe->datacontenttype,
            .data = pe->data.data,
            .data_len = pe->data.len,
            .ext_names = names,
            .ext_values = values,
            .n_ext = pe->n_extensions,
        };
        evb_event ev;
        const evb_event_type_def *td = NULL;
        const char *code = NULL;
        evb_error err;
        evb_err rc = evb_ingest_build_event(&connector, &ie, i, &limits, 1700000000000, &ev, &td,
                                            &code, &err);
        if (rc == EVB_OK) {
            if (td == NULL)
                abort(); /* put_job.c dereferences it */
            check_event(&ev, i);
            evb_event_fini(&ev);
        } else if (code == NULL) {
            abort(); /* a rejected entry always has a reject code */
        }
        free(names);
        free(values);
    }
    evbridge__v1__put_events_request__free_unpacked(req, NULL);
    return 0;
}
