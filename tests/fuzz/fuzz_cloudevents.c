/* evbridge fuzz target — CloudEvents: attribute rules (ce_rules.h), the JSON format decoder
 * and encoder (ce_json.h) and the HTTP binary-mode headers (ce_http.h).
 *
 * Input: <selector byte><text>
 *  - the rule predicates run on <text> (up to its first NUL) and evb_ce_string_valid on
 *    all of it;
 *  - header values: evb_ce_http_value_decode(<text>), and for UTF-8 text without NUL the
 *    round trip decode(encode(text)) == text;
 *  - selector bit 0 clear: <text> is one application/cloudevents+json event, set: a batch.
 *    Every decoded event must pass evb_ce_event_check (the decoder's contract), must give
 *    binary-mode headers whose ce-* values decode back to the attributes, and must survive
 *    encode -> decode unchanged (attributes, extensions, data bytes).
 * Checks: no crash, no sanitizer report, and the invariants above.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/cloudevents/ce_http.h"
#include "server/cloudevents/ce_json.h"
#include "server/cloudevents/ce_rules.h"
#include "tests/fuzz/fuzz_util.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_cloudevents: %s: %s\n", what, detail != NULL ? detail : "(null)");
    abort();
}

static int str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void rules(const char *s, size_t n)
{
    size_t z = strlen(s);
    (void)evb_ce_name_valid(s);
    (void)evb_ce_name_reserved(s);
    (void)evb_ce_string_valid(s, n);
    (void)evb_ce_string_valid(s, z);
    int ref = evb_ce_uri_ref_valid(s);
    int uri = evb_ce_uri_valid(s);
    if (uri && !ref)
        fail("an absolute URI that is not a URI-reference", s);
    (void)evb_ce_media_type_valid(s);
    (void)evb_ce_media_type_is_json(s);
    (void)evb_ce_media_type_is_text(s);

    char *dec = NULL;
    if (evb_ce_http_value_decode(s, n, &dec) == EVB_OK) {
        if (dec == NULL || !evb_utf8_valid(dec, strlen(dec)))
            fail("decoded header value is not UTF-8", s);
        free(dec);
    }
    if (evb_utf8_valid(s, n) && z == n) {
        char *enc = evb_ce_http_value_encode(s, n);
        if (enc == NULL)
            abort();
        for (const char *c = enc; *c; c++)
            if (*c <= 0x20 || *c >= 0x7f || *c == '"')
                fail("encoded header value has a byte it should escape", enc);
        dec = NULL;
        if (evb_ce_http_value_decode(enc, strlen(enc), &dec) != EVB_OK || strcmp(dec, s) != 0)
            fail("header value round trip", s);
        free(dec);
        free(enc);
    }
}

/* The value of the header named prefix + name in h[0..n), or NULL. */
static const char *header(const evb_ce_header *h, size_t n, const char *prefix, const char *name)
{
    size_t k = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (strncmp(h[i].name, prefix, k) == 0 && strcmp(h[i].name + k, name) == 0)
            return h[i].value;
    return NULL;
}

/* The ce-<name> header must be absent when want is NULL, else decode to want. */
static void check_header(const evb_ce_header *h, size_t n, const char *name, const char *want)
{
    const char *v = header(h, n, "ce-", name);
    if (want == NULL) {
        if (v != NULL)
            fail("header for an absent attribute", name);
        return;
    }
    char *dec = NULL;
    if (v == NULL || evb_ce_http_value_decode(v, strlen(v), &dec) != EVB_OK ||
        strcmp(dec, want) != 0)
        fail("binary-mode header does not decode to the attribute", name);
    free(dec);
}

static void headers(const evb_event *ev)
{
    evb_ce_header *h = NULL;
    size_t n = 0;
    if (evb_ce_http_binary_headers(ev, &h, &n) != EVB_OK)
        return; /* e.g. a datacontenttype with non-ASCII bytes */
    check_header(h, n, "specversion", EVB_CE_SPECVERSION);
    check_header(h, n, "id", ev->id);
    check_header(h, n, "source", ev->source);
    check_header(h, n, "type", ev->type);
    check_header(h, n, "subject", ev->subject);
    check_header(h, n, "time", ev->time);
    check_header(h, n, "dataschema", ev->dataschema);
    check_header(h, n, "orgid", ev->org);
    check_header(h, n, "connector", ev->connector);
    for (size_t i = 0; i < ev->n_ext; i++)
        check_header(h, n, ev->ext[i].name, ev->ext[i].value);
    const char *ct = header(h, n, "", "Content-Type");
    if (!str_eq(ct, ev->datacontenttype))
        fail("Content-Type is not datacontenttype", ct);
    evb_ce_http_headers_free(h, n);
}

static int same_bytes(const evb_event *a, const evb_event *b)
{
    return a->data_len == b->data_len &&
           (a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}

static void same_event(const evb_event *a, const evb_event *b, const char *json)
{
    if (!str_eq(a->id, b->id) || !str_eq(a->source, b->source) || !str_eq(a->type, b->type) ||
        !str_eq(a->subject, b->subject) || !str_eq(a->time, b->time) ||
        !str_eq(a->datacontenttype, b->datacontenttype) || !str_eq(a->dataschema, b->dataschema) ||
        !str_eq(a->org, b->org) || !str_eq(a->connector, b->connector) || a->time_ms != b->time_ms)
        fail("attributes changed in encode -> decode", json);
    if (a->n_ext != b->n_ext)
        fail("extension count changed in encode -> decode", json);
    for (size_t i = 0; i < a->n_ext; i++)
        if (!str_eq(a->ext[i].name, b->ext[i].name) || !str_eq(a->ext[i].value, b->ext[i].value))
            fail("extension changed in encode -> decode", json);
    if (same_bytes(a, b))
        return;
    /* JSON data is embedded as given but decoded to its compact form: compare as JSON. */
    json_t *ja = NULL, *jb = NULL;
    if (evb_ce_json_data_kind(a) == EVB_CE_DATA_JSON) {
        ja = json_loadb((const char *)a->data, a->data_len, JSON_DECODE_ANY, NULL);
        jb = json_loadb((const char *)b->data, b->data_len, JSON_DECODE_ANY, NULL);
    }
    int eq = ja != NULL && jb != NULL && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    if (!eq)
        fail("data changed in encode -> decode", json);
}

static void one_event(const evb_event *ev)
{
    evb_error err;
    if (evb_ce_event_check(ev, &err) != EVB_OK)
        fail("decoded event fails evb_ce_event_check", err.message);
    headers(ev);
    char *json = NULL;
    size_t len = 0;
    evb_err rc = evb_ce_json_encode(ev, &json, &len);
    if (rc != EVB_OK)
        fail("a decoded event does not encode", evb_strerror(rc));
    (void)evb_ce_json_data_kind(ev);
    evb_event *back = NULL;
    if (evb_ce_json_decode(json, len, &back, &err) != EVB_OK)
        fail("encoded event does not decode", err.message);
    same_event(ev, back, json);
    evb_event_free(back);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = fuzz_take_byte(&data, &size);
    char *text = fuzz_dup(data, size);
    rules(text, size);

    evb_error err;
    if (sel & 1u) {
        evb_event **evs = NULL;
        size_t n = 0;
        if (evb_ce_json_decode_batch(text, size, &evs, &n, &err) == EVB_OK) {
            for (size_t i = 0; i < n; i++)
                one_event(evs[i]);
            char *json = NULL;
            size_t len = 0;
            if (evb_ce_json_encode_batch((const evb_event *const *)evs, n, &json, &len) != EVB_OK)
                fail("a decoded batch does not encode", text);
            free(json);
            evb_event_array_free(evs, n);
        }
    } else {
        evb_event *ev = NULL;
        if (evb_ce_json_decode(text, size, &ev, &err) == EVB_OK) {
            one_event(ev);
            evb_event_free(ev);
        }
    }
    free(text);
    return 0;
}
