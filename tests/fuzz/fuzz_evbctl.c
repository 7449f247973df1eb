/* evbridge fuzz target — the YAML/JSON loaders of evbctl (clients/evbctl/yamljson.h and
 * pbjson.h): what `evbctl <kind> create -f FILE` and `evbctl apply -f FILE` read.
 *
 * Input: <selector byte><file text>
 * As evbctl_parse_text() does: JSON first (jansson, duplicate keys rejected), else YAML
 * (evb_yaml_load, every document); a {kind, spec} document is unwrapped to its spec. Each
 * document is then converted to the protobuf message the selector picks (Connection,
 * Action, Connector, Schema, PutEventsRequest) with evb_pbjson_to_message, packed, and
 * converted back with evb_pbjson_from_message. Every loaded value is also written with
 * evb_yaml_dump and read back: the header promises that strings are quoted whenever they
 * could be read back as something else, so the round trip must give an equal value.
 * Checks: no crash, no sanitizer report, the YAML round trip.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/evbctl/pbjson.h"
#include "clients/evbctl/yamljson.h"
#include "evbridge/v1/connector.pb-c.h"
#include "evbridge/v1/events.pb-c.h"
#include "evbridge/v1/registry.pb-c.h"
#include "tests/fuzz/fuzz_util.h"

static const ProtobufCMessageDescriptor *const descs[] = {
    &evbridge__v1__connection__descriptor,         &evbridge__v1__action__descriptor,
    &evbridge__v1__connector__descriptor,          &evbridge__v1__schema__descriptor,
    &evbridge__v1__put_events_request__descriptor,
};

/* 1 when v holds a real anywhere. The emitter's spelling of a real need not give back the
 * identical double, and the header promises nothing about it: such values are left out of
 * the round-trip comparison (they are still dumped and loaded). */
static int has_real(const json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_real(v))
        return 1;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (has_real(x)) return 1;
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (has_real(x)) return 1;
    }
    return 0;
}

static void yaml_round_trip(const json_t *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        abort();
    evb_yaml_dump(v, f);
    fclose(f);
    json_t *docs = NULL;
    evb_error err;
    if (evb_yaml_load(buf, len, &docs, &err) != EVB_OK) {
        fprintf(stderr, "evb_yaml_dump output does not load (%s):\n%s\n", err.message, buf);
        abort();
    }
    json_t *back = json_array_get(docs, 0);
    if (json_array_size(docs) != 1 || (!has_real(v) && !json_equal(v, back))) {
        char *a = json_dumps(v, JSON_ENCODE_ANY), *b = json_dumps(back, JSON_ENCODE_ANY);
        fprintf(stderr, "YAML round trip changed the value:\n%s\n->\n%s\nYAML:\n%s\n", a, b, buf);
        abort();
    }
    json_decref(docs);
    free(buf);
}

static void to_message(const json_t *doc, const ProtobufCMessageDescriptor *d)
{
    json_t *spec = json_object_get(doc, "spec");
    if (json_is_object(spec) && json_is_string(json_object_get(doc, "kind")))
        doc = spec;
    ProtobufCMessage *m = NULL;
    evb_error err;
    if (evb_pbjson_to_message(doc, d, "fuzz", &m, &err) != EVB_OK)
        return;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *wire = malloc(n + 1);
    if (wire == NULL || protobuf_c_message_pack(m, wire) != n)
        abort();
    ProtobufCMessage *again = protobuf_c_message_unpack(d, NULL, n, wire);
    if (again == NULL) {
        fprintf(stderr, "a message built from JSON does not unpack\n");
        abort();
    }
    json_t *j = evb_pbjson_from_message(again);
    json_decref(j);
    protobuf_c_message_free_unpacked(again, NULL);
    free(wire);
    protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = fuzz_take_byte(&data, &size);
    const ProtobufCMessageDescriptor *d = descs[sel % (sizeof descs / sizeof descs[0])];
    char *text = fuzz_dup(data, size);
    json_t *docs = NULL;
    json_t *j = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (j != NULL) {
        docs = json_array();
        json_array_append_new(docs, j);
    } else {
        evb_error err;
        if (evb_yaml_load(text, size, &docs, &err) != EVB_OK)
            docs = NULL;
    }
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        yaml_round_trip(doc);
        to_message(doc, d);
    }
    json_decref(docs);
    free(text);
    return 0;
}
