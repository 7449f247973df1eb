/* evbclient codec — PutEventsRequest encoding and PutEventsResponse decoding with nanopb.
 *
 * Every string, bytes and repeated field of the generated nanopb structs is a callback
 * (see clients/c/proto/evbridge/v1/events.options):
 *  - encoding walks the caller's evb_client_entry array and writes each string and data
 *    buffer straight into the output stream: no copy, no static 25 MiB struct, no malloc;
 *  - decoding copies each string into the caller's bounded evb_client_result field and
 *    truncates at a UTF-8 boundary instead of failing, keeps the first violations and
 *    counts the rest, and stores at most results_cap results. Also no malloc.
 * Nothing here touches gRPC, so the codec is usable (and tested) on its own.
 */
#include "evbclient_int.h"

#include <pb_decode.h>
#include <pb_encode.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "evbridge/v1/events.pb.h"

/* ---- errors ---------------------------------------------------------------------------- */

static const char *const err_names[] = {
    [EVB_CLIENT_OK] = "ok",
    [EVB_CLIENT_ERR_INVALID] = "invalid argument",
    [EVB_CLIENT_ERR_NOSPACE] = "buffer too small",
    [EVB_CLIENT_ERR_ENCODE] = "encode failed",
    [EVB_CLIENT_ERR_DECODE] = "malformed reply",
    [EVB_CLIENT_ERR_RPC] = "call failed",
    [EVB_CLIENT_ERR_TIMEOUT] = "timed out",
    [EVB_CLIENT_ERR_EOF] = "end of stream",
    [EVB_CLIENT_ERR_STATE] = "not allowed in this state",
    [EVB_CLIENT_ERR_NOMEM] = "out of memory",
    [EVB_CLIENT_ERR_TRANSPORT] = "transport error",
};

const char *evb_client_strerror(evb_client_err code)
{
    if ((unsigned)code >= sizeof err_names / sizeof err_names[0] || err_names[code] == NULL)
        return "unknown error";
    return err_names[code];
}

void evb_client_error_clear(evb_client_error *err)
{
    if (err == NULL)
        return;
    err->code = EVB_CLIENT_OK;
    err->grpc_status = -1;
    err->message[0] = '\0';
}

evb_client_err evb_client_fail(evb_client_error *err, evb_client_err code, int grpc_status,
                               const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->grpc_status = grpc_status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- encoding -------------------------------------------------------------------------- */

typedef struct batch {
    const evb_client_entry *entries;
    size_t n;
} batch;

/* A NUL-terminated string; NULL and "" are the proto3 default and are not written. */
static bool enc_string(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    const char *s = *arg;
    if (s == NULL || *s == '\0')
        return true;
    return pb_encode_tag_for_field(st, f) && pb_encode_string(st, (const pb_byte_t *)s, strlen(s));
}

static bool enc_data(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    const evb_client_entry *e = *arg;
    if (e->data_len == 0)
        return true;
    return pb_encode_tag_for_field(st, f) && pb_encode_string(st, e->data, e->data_len);
}

/* map<string,string> extensions: one ExtensionsEntry submessage per pair. */
static bool enc_extensions(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    const evb_client_entry *e = *arg;
    for (size_t i = 0; i < e->n_extensions; i++) {
        evbridge_v1_PutEventsEntry_ExtensionsEntry m =
            evbridge_v1_PutEventsEntry_ExtensionsEntry_init_zero;
        m.key.funcs.encode = enc_string;
        m.key.arg = (void *)e->extensions[i].key;
        m.value.funcs.encode = enc_string;
        m.value.arg = (void *)e->extensions[i].value;
        if (!pb_encode_tag_for_field(st, f) ||
            !pb_encode_submessage(st, evbridge_v1_PutEventsEntry_ExtensionsEntry_fields, &m))
            return false;
    }
    return true;
}

static void entry_msg(evbridge_v1_PutEventsEntry *m, const evb_client_entry *e)
{
    memset(m, 0, sizeof *m);
    m->id.funcs.encode = enc_string;
    m->id.arg = (void *)e->id;
    m->org.funcs.encode = enc_string;
    m->org.arg = (void *)e->org;
    m->type.funcs.encode = enc_string;
    m->type.arg = (void *)e->type;
    m->subject.funcs.encode = enc_string;
    m->subject.arg = (void *)e->subject;
    m->time.funcs.encode = enc_string;
    m->time.arg = (void *)e->time;
    m->datacontenttype.funcs.encode = enc_string;
    m->datacontenttype.arg = (void *)e->datacontenttype;
    m->data.funcs.encode = enc_data;
    m->data.arg = (void *)e;
    m->extensions.funcs.encode = enc_extensions;
    m->extensions.arg = (void *)e;
}

static bool enc_entries(pb_ostream_t *st, const pb_field_t *f, void *const *arg)
{
    const batch *b = *arg;
    for (size_t i = 0; i < b->n; i++) {
        evbridge_v1_PutEventsEntry m;
        entry_msg(&m, &b->entries[i]);
        if (!pb_encode_tag_for_field(st, f) ||
            !pb_encode_submessage(st, evbridge_v1_PutEventsEntry_fields, &m))
            return false;
    }
    return true;
}

static void request_msg(evbridge_v1_PutEventsRequest *m, const char *connector, const batch *b,
                        const char *request_id)
{
    memset(m, 0, sizeof *m);
    m->connector.funcs.encode = enc_string;
    m->connector.arg = (void *)connector;
    m->entries.funcs.encode = enc_entries;
    m->entries.arg = (void *)b;
    m->request_id.funcs.encode = enc_string;
    m->request_id.arg = (void *)request_id;
}

evb_client_err evb_client_check_request(const char *connector, const evb_client_entry *entries,
                                        size_t n, evb_client_error *err)
{
    if (connector == NULL || *connector == '\0')
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "connector is required");
    if (entries == NULL || n == 0 || n > EVB_CLIENT_MAX_ENTRIES)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1,
                               "entries: 1 to %d entries are required, got %zu",
                               EVB_CLIENT_MAX_ENTRIES, entries == NULL ? (size_t)0 : n);
    for (size_t i = 0; i < n; i++) {
        const evb_client_entry *e = &entries[i];
        if (e->data == NULL && e->data_len > 0)
            return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1,
                                   "entries[%zu].data is NULL with data_len %zu", i, e->data_len);
        if (e->extensions == NULL && e->n_extensions > 0)
            return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1,
                                   "entries[%zu].extensions is NULL with n_extensions %zu", i,
                                   e->n_extensions);
        for (size_t k = 0; k < e->n_extensions; k++) {
            if (e->extensions[k].key == NULL || e->extensions[k].key[0] == '\0')
                return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1,
                                       "entries[%zu].extensions[%zu].key is required", i, k);
        }
    }
    return EVB_CLIENT_OK;
}

evb_client_err evb_client_encoded_size(const char *connector, const evb_client_entry *entries,
                                       size_t n, const char *request_id, size_t *size,
                                       evb_client_error *err)
{
    evbridge_v1_PutEventsRequest m;
    batch b = {entries, n};
    evb_client_error_clear(err);
    if (size == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "size is NULL");
    *size = 0;
    evb_client_err rc = evb_client_check_request(connector, entries, n, err);
    if (rc != EVB_CLIENT_OK)
        return rc;
    request_msg(&m, connector, &b, request_id);
    if (!pb_get_encoded_size(size, evbridge_v1_PutEventsRequest_fields, &m))
        return evb_client_fail(err, EVB_CLIENT_ERR_ENCODE, -1, "cannot size the request");
    return EVB_CLIENT_OK;
}

evb_client_err evb_client_encode_put_events(const char *connector, const evb_client_entry *entries,
                                            size_t n, const char *request_id, uint8_t *buf,
                                            size_t cap, size_t *len, evb_client_error *err)
{
    evbridge_v1_PutEventsRequest m;
    batch b = {entries, n};
    evb_client_error_clear(err);
    if (len == NULL || (buf == NULL && cap > 0))
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "buf or len is NULL");
    *len = 0;
    evb_client_err rc = evb_client_check_request(connector, entries, n, err);
    if (rc != EVB_CLIENT_OK)
        return rc;
    request_msg(&m, connector, &b, request_id);
    pb_ostream_t st = pb_ostream_from_buffer(buf, cap);
    if (!pb_encode(&st, evbridge_v1_PutEventsRequest_fields, &m)) {
        size_t need = 0;
        if (pb_get_encoded_size(&need, evbridge_v1_PutEventsRequest_fields, &m) && need > cap)
            return evb_client_fail(err, EVB_CLIENT_ERR_NOSPACE, -1,
                                   "the request needs %zu bytes, the buffer holds %zu", need, cap);
        return evb_client_fail(err, EVB_CLIENT_ERR_ENCODE, -1, "encode: %s", PB_GET_ERROR(&st));
    }
    *len = st.bytes_written;
    return EVB_CLIENT_OK;
}

/* ---- decoding -------------------------------------------------------------------------- */

/* A bounded destination for one string field. */
typedef struct sink {
    char *buf;
    size_t cap; /* >= 1 */
    unsigned *flags;
} sink;

/* Length of the longest prefix of s[0..len) that does not end inside a UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t len)
{
    size_t j = len, back = 0;
    while (j > 0 && back < 4 && ((unsigned char)s[j - 1] & 0xC0) == 0x80) {
        j--;
        back++;
    }
    if (j == 0)
        return len;
    unsigned char lead = (unsigned char)s[j - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return len - (j - 1) < need ? j - 1 : len;
}

static bool dec_string(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    const sink *k = *arg;
    size_t n = st->bytes_left;
    size_t keep = n < k->cap ? n : k->cap - 1;
    (void)f;
    if (!pb_read(st, (pb_byte_t *)k->buf, keep))
        return false;
    if (keep < n) {
        if (!pb_read(st, NULL, n - keep)) /* skips */
            return false;
        keep = utf8_prefix(k->buf, keep);
        *k->flags |= EVB_CLIENT_TRUNCATED;
    }
    k->buf[keep] = '\0';
    return true;
}

static void set_sink(pb_callback_t *cb, sink *k, char *buf, size_t cap, unsigned *flags)
{
    k->buf = buf;
    k->cap = cap;
    k->flags = flags;
    cb->funcs.decode = dec_string;
    cb->arg = k;
}

static bool skip_rest(pb_istream_t *st)
{
    return pb_read(st, NULL, st->bytes_left);
}

static bool dec_violation(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    evb_client_result *r = *arg;
    size_t k = r->n_violations++;
    (void)f;
    if (k >= EVB_CLIENT_MAX_VIOLATIONS)
        return skip_rest(st);
    evb_client_violation *v = &r->violations[k];
    evbridge_v1_Violation m = evbridge_v1_Violation_init_zero;
    sink s1, s2, s3;
    set_sink(&m.instance_path, &s1, v->instance_path, sizeof v->instance_path, &r->flags);
    set_sink(&m.keyword_location, &s2, v->keyword_location, sizeof v->keyword_location, &r->flags);
    set_sink(&m.message, &s3, v->message, sizeof v->message, &r->flags);
    return pb_decode(st, evbridge_v1_Violation_fields, &m);
}

static bool dec_result(pb_istream_t *st, const pb_field_t *f, void **arg)
{
    evb_client_reply *reply = *arg;
    size_t i = reply->n_received++;
    (void)f;
    if (i >= reply->results_cap)
        return skip_rest(st);
    evb_client_result *r = &reply->results[i];
    memset(r, 0, sizeof *r);
    evbridge_v1_PutEventsResult m = evbridge_v1_PutEventsResult_init_zero;
    sink s1, s2, s3;
    set_sink(&m.event_id, &s1, r->event_id, sizeof r->event_id, &r->flags);
    set_sink(&m.error_code, &s2, r->error_code, sizeof r->error_code, &r->flags);
    set_sink(&m.error_message, &s3, r->error_message, sizeof r->error_message, &r->flags);
    m.violations.funcs.decode = dec_violation;
    m.violations.arg = r;
    if (!pb_decode(st, evbridge_v1_PutEventsResult_fields, &m))
        return false;
    r->status = (evb_client_status)m.status;
    reply->n_results = i + 1;
    return true;
}

evb_client_err evb_client_decode_put_events_response(const uint8_t *buf, size_t len,
                                                     evb_client_reply *reply, evb_client_error *err)
{
    evb_client_error_clear(err);
    if (reply == NULL || (buf == NULL && len > 0) ||
        (reply->results == NULL && reply->results_cap > 0))
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "buf or reply is NULL");
    reply->n_results = 0;
    reply->n_received = 0;
    reply->failed_entry_count = 0;
    reply->request_id[0] = '\0';
    reply->flags = 0;

    evbridge_v1_PutEventsResponse m = evbridge_v1_PutEventsResponse_init_zero;
    sink rid;
    set_sink(&m.request_id, &rid, reply->request_id, sizeof reply->request_id, &reply->flags);
    m.results.funcs.decode = dec_result;
    m.results.arg = reply;
    pb_istream_t st = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&st, evbridge_v1_PutEventsResponse_fields, &m))
        return evb_client_fail(err, EVB_CLIENT_ERR_DECODE, -1, "PutEventsResponse: %s",
                               PB_GET_ERROR(&st));
    reply->failed_entry_count = m.failed_entry_count;
    return EVB_CLIENT_OK;
}
