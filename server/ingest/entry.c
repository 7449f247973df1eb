/* evbridge — PutEvents entry rules and the CloudEvent they produce. See ingest.h.
 *
 * Checks run in the order a publisher would fix them (identity, routing, content) and stop
 * at the first problem so the message names exactly one field. JSON data is parsed with
 * jansson in strict mode (duplicate keys rejected) to guarantee stored JSON is valid.
 * Checks look at the entry's own strings; only an accepted entry is copied, into one
 * allocation (evb_event.block), and a field's path ("entries[3].org") is formatted only
 * for the message of a rejection: this runs for every published event.
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

/* An extension as given: borrowed from the entry until the event is built. */
typedef struct ext_ref {
    const char *name, *value;
} ext_ref;

static int cmp_ext(const void *a, const void *b)
{
    return strcmp(((const ext_ref *)a)->name, ((const ext_ref *)b)->name);
}

/* The checked parts of an event, borrowed from the entry and the connector or held in the
 * local buffers; copied into one allocation once every check has passed (build_block). */
typedef struct parts {
    const char *id, *time, *org, *type, *subject, *ct;
    char id_buf[EVB_UUID_STRLEN + 1];
    char time_buf[40];
    ext_ref *ext; /* sorted by name; ext_stack or malloc'd */
    size_t n_ext;
    ext_ref ext_stack[16];
} parts;

static void parts_fini(parts *pt)
{
    if (pt->ext != pt->ext_stack)
        free(pt->ext);
}

/* Checks the extensions and sorts them by name into pt. */
static evb_err check_extensions(const evb_ingest_entry *e, size_t index, parts *pt,
                                evb_error *err)
{
    if (e->n_ext == 0)
        return EVB_OK;
    pt->ext = e->n_ext <= sizeof pt->ext_stack / sizeof pt->ext_stack[0]
                  ? pt->ext_stack
                  : malloc(e->n_ext * sizeof *pt->ext);
    if (pt->ext == NULL)
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
        pt->ext[i] = (ext_ref){name, value};
        pt->n_ext = i + 1;
    }
    qsort(pt->ext, pt->n_ext, sizeof *pt->ext, cmp_ext);
    for (size_t i = 1; i < pt->n_ext; i++)
        if (strcmp(pt->ext[i - 1].name, pt->ext[i].name) == 0)
            return evb_error_set(err, EVB_ERR_INVALID, "extensions",
                                 "entries[%zu].extensions.%s is given twice", index,
                                 pt->ext[i].name);
    return EVB_OK;
}

/* Checks the data against the content type. */
static evb_err check_data(const evb_ingest_entry *e, size_t index,
                          const evb_ingest_limits *limits, const evb_event_type_def *td,
                          const char *ct, const char **reject_code, evb_error *err)
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
    if (!has_model && evb_ce_media_type_is_json(ct)) {
        json_error_t jerr;
        json_t *v = json_loadb((const char *)e->data, e->data_len,
                               JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (v == NULL)
            return evb_error_set(err, EVB_ERR_INVALID, field_ptr(ptr, sizeof ptr, index, "data"),
                                 "%s is not valid JSON (datacontenttype %s): %s at offset %d",
                                 ptr, ct, jerr.text, jerr.position);
        json_decref(v);
    }
    return EVB_OK;
}

/* Identity and routing fields: id, org, type, subject, time. */
static evb_err check_context(const evb_connector *conn, const evb_ingest_entry *e, size_t index,
                             int64_t now_ms, parts *pt, evb_event *ev,
                             const evb_event_type_def **type_out, const char **reject_code,
                             evb_error *err)
{
    char ptr[48];
    evb_err rc = check_text(nz(e->id), "id", index, ID_MAX, err);
    if (rc != EVB_OK)
        return rc;
    if (nz(e->id)[0] != '\0') {
        pt->id = e->id;
    } else {
        if (evb_uuid7(pt->id_buf, sizeof pt->id_buf) != EVB_OK)
            return evb_error_set(err, EVB_ERR_INTERNAL, NULL, "cannot generate an id");
        pt->id = pt->id_buf;
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
        pt->time = e->time;
    } else {
        ev->time_ms = now_ms;
        pt->time = evb_time_format_rfc3339(now_ms, pt->time_buf, sizeof pt->time_buf);
    }
    pt->org = e->org;
    pt->type = e->type;
    pt->subject = nz(e->subject)[0] != '\0' ? e->subject : NULL;
    return EVB_OK;
}

/* Copies s (NUL included) to *at and returns the copy; *at moves past it. */
static char *put_str(char **at, const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = memcpy(*at, s, n);
    *at += n;
    return c;
}

/* Builds ev's members from the checked parts in one allocation (ev->block), so an event
 * costs one malloc and one free instead of one per member. */
static evb_err build_block(const evb_connector *conn, const evb_ingest_entry *e,
                           const parts *pt, evb_event *ev, evb_error *err)
{
    if (conn->source == NULL || conn->name == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    const char *strs[] = {pt->id, pt->time, pt->org, pt->type, pt->ct, conn->source, conn->name,
                          pt->subject};
    size_t n = pt->n_ext * sizeof(evb_ce_ext) + e->data_len;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        n += strs[i] != NULL ? strlen(strs[i]) + 1 : 0;
    for (size_t i = 0; i < pt->n_ext; i++)
        n += strlen(pt->ext[i].name) + strlen(pt->ext[i].value) + 2;
    char *b = malloc(n ? n : 1);
    if (b == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    ev->block = b;
    ev->block_len = n;
    char *at = b;
    if (pt->n_ext > 0) { /* first: malloc's alignment suits the array */
        ev->ext = (evb_ce_ext *)(void *)at;
        at += pt->n_ext * sizeof(evb_ce_ext);
        for (size_t i = 0; i < pt->n_ext; i++) {
            ev->ext[i].name = put_str(&at, pt->ext[i].name);
            ev->ext[i].value = put_str(&at, pt->ext[i].value);
        }
        ev->n_ext = pt->n_ext;
    }
    ev->id = put_str(&at, pt->id);
    ev->time = put_str(&at, pt->time);
    ev->org = put_str(&at, pt->org);
    ev->type = put_str(&at, pt->type);
    ev->subject = pt->subject != NULL ? put_str(&at, pt->subject) : NULL;
    ev->datacontenttype = put_str(&at, pt->ct);
    ev->source = put_str(&at, conn->source);
    ev->connector = put_str(&at, conn->name);
    if (e->data_len > 0) {
        ev->data = memcpy(at, e->data, e->data_len);
        ev->data_len = e->data_len;
    }
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
    parts pt;
    pt.ext = pt.ext_stack;
    pt.n_ext = 0;
    const evb_event_type_def *td = NULL;
    evb_err rc = check_context(conn, e, index, now_ms, &pt, out, &td, reject_code, err);
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
    pt.ct = ct;
    if ((rc = check_extensions(e, index, &pt, err)) != EVB_OK)
        goto fail;
    if ((rc = check_data(e, index, limits, td, ct, reject_code, err)) != EVB_OK)
        goto fail;
    if ((rc = build_block(conn, e, &pt, out, err)) != EVB_OK)
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
    parts_fini(&pt);
    return EVB_OK;
fail:
    if (rc == EVB_ERR_NOMEM || rc == EVB_ERR_INTERNAL)
        *reject_code = "INTERNAL";
    parts_fini(&pt);
    evb_event_fini(out);
    return rc;
}
