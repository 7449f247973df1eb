/* evbridge — PutEvents entry rules and the CloudEvent they produce. See ingest.h.
 *
 * Checks run in the order a publisher would fix them (identity, routing, content) and stop
 * at the first problem so the message names exactly one field. JSON data is parsed with
 * jansson in strict mode (duplicate keys rejected) to guarantee stored JSON is valid.
 */
#include "server/ingest/ingest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/id.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/cloudevents/ce_rules.h"

#define ID_MAX 128
#define SUBJECT_MAX 512

static const char *nz(const char *s)
{
    return s != NULL ? s : "";
}

/* The path of a field of entry `index` ("entries[3].org") in buf, for an error message.
 * Formatted only when a check fails: on the accepted path it is never needed. */
static const char *field_ptr(char *buf, size_t len, size_t index, const char *field)
{
    snprintf(buf, len, "entries[%zu].%s", index, field);
    return buf;
}

/* 1 when s[0..n) is printable ASCII (U+0020..U+007E): then it is valid UTF-8 without
 * control characters and has n code points. The common case, checked in one pass. */
static int printable_ascii(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return 0;
    return 1;
}

/* Checks a string field: UTF-8, no control characters, length in code points. */
static evb_err check_text(const char *s, const char *field, size_t index, size_t max_chars,
                          evb_error *err)
{
    char ptr[64];
    size_t n = strlen(s);
    if (printable_ascii(s, n)) {
        if (max_chars == 0 || n <= max_chars)
            return EVB_OK;
    } else if (!evb_utf8_valid(s, n)) {
        field_ptr(ptr, sizeof ptr, index, field);
        return evb_error_set(err, EVB_ERR_INVALID, ptr, "%s is not valid UTF-8", ptr);
    } else if (!evb_ce_string_valid(s, n)) {
        field_ptr(ptr, sizeof ptr, index, field);
        return evb_error_set(err, EVB_ERR_INVALID, ptr, "%s contains control characters",
                             ptr);
    }
    if (max_chars > 0 && evb_utf8_len(s, n) > max_chars) {
        field_ptr(ptr, sizeof ptr, index, field);
        return evb_error_set(err, EVB_ERR_INVALID, ptr, "%s is longer than %zu characters", ptr,
                             max_chars);
    }
    return EVB_OK;
}

static const evb_event_type_def *find_type(const evb_connector *c, const char *type)
{
    for (size_t i = 0; i < c->n_types; i++)
        if (strcmp(c->types[i].type, type) == 0)
            return &c->types[i];
    return NULL;
}

static int cmp_ext(const void *a, const void *b)
{
    return strcmp(((const evb_ce_ext *)a)->name, ((const evb_ce_ext *)b)->name);
}

/* Copies and checks the extensions into ev (sorted by name). */
static evb_err build_extensions(const evb_ingest_entry *e, size_t index, evb_event *ev,
                                evb_error *err)
{
    if (e->n_ext == 0)
        return EVB_OK;
    ev->ext = calloc(e->n_ext, sizeof *ev->ext);
    if (ev->ext == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < e->n_ext; i++) {
        const char *name = nz(e->ext_names[i]);
        const char *value = nz(e->ext_values[i]);
        size_t vlen = strlen(value);
        int bad_name = !evb_ce_name_valid(name);
        int reserved = !bad_name && evb_ce_name_reserved(name);
        int bad_value = !bad_name && !reserved && !printable_ascii(value, vlen) &&
                        (!evb_utf8_valid(value, vlen) || !evb_ce_string_valid(value, vlen));
        if (bad_name || reserved || bad_value) {
            char ptr[96];
            snprintf(ptr, sizeof ptr, "entries[%zu].extensions.%.40s", index, name);
            if (bad_name)
                return evb_error_set(err, EVB_ERR_INVALID, ptr,
                                     "%s: extension names must match [a-z0-9]{1,20}", ptr);
            if (reserved)
                return evb_error_set(err, EVB_ERR_INVALID, ptr,
                                     "%s: \"%s\" is a context attribute name, not an extension",
                                     ptr, name);
            return evb_error_set(err, EVB_ERR_INVALID, ptr,
                                 "%s is not valid UTF-8 text without control characters", ptr);
        }
        ev->ext[i].name = evb_strdup(name);
        ev->ext[i].value = evb_strdup(value);
        ev->n_ext = i + 1;
        if (ev->ext[i].name == NULL || ev->ext[i].value == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    qsort(ev->ext, ev->n_ext, sizeof *ev->ext, cmp_ext);
    for (size_t i = 1; i < ev->n_ext; i++)
        if (strcmp(ev->ext[i - 1].name, ev->ext[i].name) == 0)
            return evb_error_set(err, EVB_ERR_INVALID, "extensions",
                                 "entries[%zu].extensions.%s is given twice", index,
                                 ev->ext[i].name);
    return EVB_OK;
}

/* Checks the data against the content type and copies it into ev. */
static evb_err build_data(const evb_ingest_entry *e, size_t index,
                          const evb_ingest_limits *limits, const evb_event_type_def *td,
                          evb_event *ev, const char **reject_code, evb_error *err)
{
    char ptr[48];
    if (e->data_len > limits->max_entry_bytes) {
        field_ptr(ptr, sizeof ptr, index, "data");
        *reject_code = EVB_REJECT_TOO_LARGE;
        return evb_error_set(err, EVB_ERR_TOO_LARGE, ptr, "%s is %zu bytes, over the %zu limit",
                             ptr, e->data_len, limits->max_entry_bytes);
    }
    /* With a data model bound, the caller validates (and so parses) the data itself. */
    int has_model = td != NULL && td->subject != NULL && td->subject[0] != '\0';
    if (!has_model && evb_ce_media_type_is_json(ev->datacontenttype)) {
        json_error_t jerr;
        json_t *v = json_loadb((const char *)e->data, e->data_len,
                               JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (v == NULL)
            return evb_error_set(err, EVB_ERR_INVALID, field_ptr(ptr, sizeof ptr, index, "data"),
                                 "%s is not valid JSON (datacontenttype %s): %s at offset %d",
                                 ptr, ev->datacontenttype, jerr.text, jerr.position);
        json_decref(v);
    }
    if (e->data_len > 0) {
        ev->data = malloc(e->data_len);
        if (ev->data == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        memcpy(ev->data, e->data, e->data_len);
        ev->data_len = e->data_len;
    }
    return EVB_OK;
}

/* Identity and routing fields: id, org, type, subject, time. */
static evb_err build_context(const evb_connector *conn, const evb_ingest_entry *e, size_t index,
                             int64_t now_ms, evb_event *ev, const evb_event_type_def **type_out,
                             const char **reject_code, evb_error *err)
{
    char ptr[48];
    evb_err rc = check_text(nz(e->id), "id", index, ID_MAX, err);
    if (rc != EVB_OK)
        return rc;
    if (nz(e->id)[0] != '\0') {
        ev->id = evb_strdup(e->id);
    } else {
        char id[EVB_UUID_STRLEN + 1];
        if (evb_uuid7(id, sizeof id) != EVB_OK)
            return evb_error_set(err, EVB_ERR_INTERNAL, NULL, "cannot generate an id");
        ev->id = evb_strdup(id);
    }
    if (nz(e->org)[0] == '\0') {
        field_ptr(ptr, sizeof ptr, index, "org");
        return evb_error_set(err, EVB_ERR_INVALID, ptr, "%s is required", ptr);
    }
    if (!evb_str_matches(e->org, "A-Za-z0-9_.-", 1, 64)) {
        field_ptr(ptr, sizeof ptr, index, "org");
        return evb_error_set(err, EVB_ERR_INVALID, ptr, "%s must match [A-Za-z0-9_.-]{1,64}",
                             ptr);
    }
    if (nz(e->type)[0] == '\0') {
        field_ptr(ptr, sizeof ptr, index, "type");
        return evb_error_set(err, EVB_ERR_INVALID, ptr, "%s is required", ptr);
    }
    if ((rc = check_text(e->type, "type", index, 256, err)) != EVB_OK)
        return rc;
    const evb_event_type_def *td = find_type(conn, e->type);
    if (td == NULL) {
        field_ptr(ptr, sizeof ptr, index, "type");
        *reject_code = EVB_REJECT_UNKNOWN_TYPE;
        return evb_error_set(err, EVB_ERR_INVALID, ptr,
                             "%s \"%.128s\" is not declared by connector %s", ptr, e->type,
                             conn->name);
    }
    if (type_out != NULL)
        *type_out = td;
    if ((rc = check_text(nz(e->subject), "subject", index, SUBJECT_MAX, err)) != EVB_OK)
        return rc;
    if (nz(e->time)[0] != '\0') {
        if (evb_time_parse_rfc3339(e->time, &ev->time_ms, NULL) != EVB_OK)
            return evb_error_set(err, EVB_ERR_INVALID, field_ptr(ptr, sizeof ptr, index, "time"),
                                 "%s \"%.64s\" is not an RFC 3339 timestamp", ptr, e->time);
        ev->time = evb_strdup(e->time);
    } else {
        char buf[40];
        ev->time_ms = now_ms;
        ev->time = evb_strdup(evb_time_format_rfc3339(now_ms, buf, sizeof buf));
    }
    ev->org = evb_strdup(e->org);
    ev->type = evb_strdup(e->type);
    ev->subject = nz(e->subject)[0] != '\0' ? evb_strdup(e->subject) : NULL;
    if (ev->id == NULL || ev->time == NULL || ev->org == NULL || ev->type == NULL ||
        (nz(e->subject)[0] != '\0' && ev->subject == NULL))
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    return EVB_OK;
}

evb_err evb_ingest_build_event(const evb_connector *conn, const evb_ingest_entry *e,
                               size_t index, const evb_ingest_limits *limits, int64_t now_ms,
                               evb_event *out, const evb_event_type_def **type_out,
                               const char **reject_code, evb_error *err)
{
    memset(out, 0, sizeof *out);
    *reject_code = EVB_REJECT_INVALID;
    out->recv_ms = now_ms;
    const evb_event_type_def *td = NULL;
    evb_err rc = build_context(conn, e, index, now_ms, out, &td, reject_code, err);
    if (type_out != NULL)
        *type_out = td;
    if (rc != EVB_OK)
        goto fail;
    const char *ct = nz(e->datacontenttype)[0] != '\0' ? e->datacontenttype : "application/json";
    char ptr[48];
    if ((rc = check_text(ct, "datacontenttype", index, 256, err)) != EVB_OK)
        goto fail;
    /* Sent verbatim as the Content-Type header in binary mode, which takes U+0020-U+007E
     * only (ce_http.h); a quoted parameter may hold other bytes as a media type (found by
     * fuzz_put_events: text/plain; a="\u00e9" was accepted, then undeliverable). */
    for (const char *c = ct; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
            field_ptr(ptr, sizeof ptr, index, "datacontenttype");
            rc = evb_error_set(err, EVB_ERR_INVALID, ptr,
                               "%s must be printable ASCII (it is sent as Content-Type)", ptr);
            goto fail;
        }
    }
    if (!evb_ce_media_type_valid(ct)) {
        field_ptr(ptr, sizeof ptr, index, "datacontenttype");
        rc = evb_error_set(err, EVB_ERR_INVALID, ptr, "%s \"%.64s\" is not a media type", ptr,
                           ct);
        goto fail;
    }
    out->datacontenttype = evb_strdup(ct);
    out->source = evb_strdup(conn->source);
    out->connector = evb_strdup(conn->name);
    if (out->datacontenttype == NULL || out->source == NULL || out->connector == NULL) {
        rc = evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        goto fail;
    }
    if ((rc = build_extensions(e, index, out, err)) != EVB_OK)
        goto fail;
    if ((rc = build_data(e, index, limits, td, out, reject_code, err)) != EVB_OK)
        goto fail;
    /* last guard: whatever is accepted is a valid CloudEvent (fuzzing found a media type
     * whose quoted parameter carried a control character) */
    evb_error ce_err;
    evb_error_clear(&ce_err);
    if (evb_ce_event_check(out, &ce_err) != EVB_OK) {
        rc = evb_error_set(err, EVB_ERR_INVALID, "entries", "entries[%zu].%s: %.200s", index,
                           ce_err.pointer[0] ? ce_err.pointer : "event", ce_err.message);
        goto fail;
    }
    return EVB_OK;
fail:
    if (rc == EVB_ERR_NOMEM || rc == EVB_ERR_INTERNAL)
        *reject_code = "INTERNAL";
    evb_event_fini(out);
    return rc;
}
