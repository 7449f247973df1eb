/* evbridge — CloudEvents JSON format, encode and decode (ce_json.h).
 *
 * The envelope (attributes, extensions) is built as a jansson object and dumped compactly;
 * JSON data is then spliced in byte-exact after a validating parse, so payload numbers are
 * never re-spelt (jansson would turn 0.1 into 0.10000000000000001 and cannot hold integers
 * beyond 64 bits). Decoding parses with JSON_REJECT_DUPLICATES and maps members back onto
 * an evb_event, then runs the attribute rules.
 * Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
#include "server/cloudevents/ce_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/cloudevents/ce_rules.h"

/* ---- encoding ---- */

static int json_bytes_valid(const uint8_t *p, size_t n)
{
    json_error_t jerr;
    json_t *v =
        json_loadb((const char *)p, n,
                   JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    if (v == NULL)
        return 0;
    json_decref(v);
    return 1;
}

evb_ce_json_data evb_ce_json_data_kind(const evb_event *ev)
{
    if (ev->data_len == 0 || ev->data == NULL)
        return EVB_CE_DATA_NONE;
    if (evb_ce_media_type_is_json(ev->datacontenttype))
        return json_bytes_valid(ev->data, ev->data_len) ? EVB_CE_DATA_JSON : EVB_CE_DATA_BASE64;
    if (evb_ce_media_type_is_text(ev->datacontenttype) &&
        evb_utf8_valid((const char *)ev->data, ev->data_len))
        return EVB_CE_DATA_STRING;
    return EVB_CE_DATA_BASE64;
}

/* Sets obj[key] = v (a string) unless v is NULL. */
static evb_err set_str(json_t *obj, const char *key, const char *v)
{
    if (v == NULL)
        return EVB_OK;
    if (json_object_get(obj, key) != NULL)
        return EVB_ERR_INVALID; /* an extension shadowing another member */
    json_t *s = json_string(v);
    if (s == NULL)
        return evb_utf8_valid(v, strlen(v)) ? EVB_ERR_NOMEM : EVB_ERR_INVALID;
    return json_object_set_new(obj, key, s) == 0 ? EVB_OK : EVB_ERR_NOMEM;
}

static evb_err set_data_value(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL)
        return EVB_ERR_NOMEM;
    return json_object_set_new(obj, key, v) == 0 ? EVB_OK : EVB_ERR_NOMEM;
}

/* Builds the envelope: every member except a JSON `data` (which is spliced later). */
static evb_err envelope(const evb_event *ev, evb_ce_json_data kind, json_t **out)
{
    json_t *o = json_object();
    if (o == NULL)
        return EVB_ERR_NOMEM;
    evb_err rc = set_str(o, "specversion", EVB_CE_SPECVERSION);
    if (rc == EVB_OK)
        rc = set_str(o, "id", ev->id);
    if (rc == EVB_OK)
        rc = set_str(o, "source", ev->source);
    if (rc == EVB_OK)
        rc = set_str(o, "type", ev->type);
    if (rc == EVB_OK)
        rc = set_str(o, "datacontenttype", ev->datacontenttype);
    if (rc == EVB_OK)
        rc = set_str(o, "dataschema", ev->dataschema);
    if (rc == EVB_OK)
        rc = set_str(o, "subject", ev->subject);
    if (rc == EVB_OK)
        rc = set_str(o, "time", ev->time);
    if (rc == EVB_OK)
        rc = set_str(o, "orgid", ev->org);
    if (rc == EVB_OK)
        rc = set_str(o, "connector", ev->connector);
    for (size_t i = 0; rc == EVB_OK && i < ev->n_ext; i++) {
        const char *name = ev->ext[i].name;
        if (name == NULL || ev->ext[i].value == NULL || strcmp(name, "data") == 0 ||
            strcmp(name, "data_base64") == 0)
            rc = EVB_ERR_INVALID;
        else
            rc = set_str(o, name, ev->ext[i].value);
    }
    if (rc == EVB_OK && kind == EVB_CE_DATA_STRING) {
        rc = set_data_value(o, "data", json_stringn((const char *)ev->data, ev->data_len));
    } else if (rc == EVB_OK && kind == EVB_CE_DATA_BASE64) {
        if (ev->data_len > SIZE_MAX / 2) {
            rc = EVB_ERR_TOO_LARGE;
        } else {
            char *b64 = malloc(4 * ((ev->data_len + 2) / 3) + 1);
            if (b64 == NULL) {
                rc = EVB_ERR_NOMEM;
            } else {
                size_t bl = evb_base64_encode(ev->data, ev->data_len, b64);
                rc = set_data_value(o, "data_base64", json_stringn_nocheck(b64, bl));
                free(b64);
            }
        }
    }
    if (rc != EVB_OK) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return EVB_OK;
}

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Appends the JSON text of one event to b. */
static evb_err encode_into(const evb_event *ev, evb_buf *b)
{
    evb_ce_json_data kind = evb_ce_json_data_kind(ev);
    json_t *o = NULL;
    evb_err rc = envelope(ev, kind, &o);
    if (rc != EVB_OK)
        return rc;
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    char *text = n ? malloc(n) : NULL;
    if (text == NULL || json_dumpb(o, text, n, JSON_COMPACT) != n) {
        free(text);
        json_decref(o);
        return EVB_ERR_NOMEM;
    }
    json_decref(o);
    if (kind != EVB_CE_DATA_JSON) {
        rc = evb_buf_append(b, text, n);
    } else {
        /* "{...}" -> "{...,"data":<payload>}" */
        const uint8_t *d = ev->data;
        size_t dl = ev->data_len;
        while (dl > 0 && is_ws(d[0]))
            d++, dl--;
        while (dl > 0 && is_ws(d[dl - 1]))
            dl--;
        rc = evb_buf_append(b, text, n - 1);
        if (rc == EVB_OK)
            rc = evb_buf_append_str(b, ",\"data\":");
        if (rc == EVB_OK)
            rc = evb_buf_append(b, d, dl);
        if (rc == EVB_OK)
            rc = evb_buf_append(b, "}", 1);
    }
    free(text);
    return rc;
}

evb_err evb_ce_json_encode(const evb_event *ev, char **out, size_t *len_out)
{
    evb_buf b;
    evb_buf_init(&b, 0);
    evb_err rc = encode_into(ev, &b);
    if (rc == EVB_OK)
        rc = evb_buf_detach(&b, out, len_out);
    evb_buf_fini(&b);
    return rc;
}

evb_err evb_ce_json_encode_batch(const evb_event *const *evs, size_t n, char **out, size_t *len_out)
{
    evb_buf b;
    evb_buf_init(&b, 0);
    evb_err rc = evb_buf_append(&b, "[", 1);
    for (size_t i = 0; rc == EVB_OK && i < n; i++) {
        if (i > 0)
            rc = evb_buf_append(&b, ",", 1);
        if (rc == EVB_OK)
            rc = encode_into(evs[i], &b);
    }
    if (rc == EVB_OK)
        rc = evb_buf_append(&b, "]", 1);
    if (rc == EVB_OK)
        rc = evb_buf_detach(&b, out, len_out);
    evb_buf_fini(&b);
    return rc;
}

/* ---- decoding ---- */

static const struct {
    const char *name;
    size_t off;
} string_members[] = {
    {"id", offsetof(evb_event, id)},
    {"source", offsetof(evb_event, source)},
    {"type", offsetof(evb_event, type)},
    {"subject", offsetof(evb_event, subject)},
    {"time", offsetof(evb_event, time)},
    {"datacontenttype", offsetof(evb_event, datacontenttype)},
    {"dataschema", offsetof(evb_event, dataschema)},
    {"orgid", offsetof(evb_event, org)},
    {"connector", offsetof(evb_event, connector)},
};

static int ext_cmp(const void *a, const void *b)
{
    return strcmp(((const evb_ce_ext *)a)->name, ((const evb_ce_ext *)b)->name);
}

/* The string form of an extension value; NULL for a type that has none. */
static char *ext_value(json_t *v)
{
    char tmp[32];
    if (json_is_string(v))
        return evb_strndup(json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return evb_strdup(tmp);
    }
    if (json_is_boolean(v))
        return evb_strdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

static evb_err decode_data(json_t *o, evb_event *ev, evb_error *err)
{
    json_t *data = json_object_get(o, "data");
    json_t *b64 = json_object_get(o, "data_base64");
    if (json_is_null(data))
        data = NULL;
    if (json_is_null(b64))
        b64 = NULL;
    if (data != NULL && b64 != NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "data_base64",
                             "data and data_base64 are mutually exclusive");
    if (b64 != NULL) {
        if (!json_is_string(b64))
            return evb_error_set(err, EVB_ERR_INVALID, "data_base64",
                                 "data_base64 must be a string");
        size_t sl = json_string_length(b64);
        ev->data = malloc(sl / 4 * 3 + 1);
        if (ev->data == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, "data_base64", "out of memory");
        if (evb_base64_decode(json_string_value(b64), sl, ev->data, &ev->data_len) != EVB_OK)
            return evb_error_set(err, EVB_ERR_INVALID, "data_base64",
                                 "data_base64 is not valid base64");
        return EVB_OK;
    }
    if (data == NULL)
        return EVB_OK;
    if (json_is_string(data) && !evb_ce_media_type_is_json(ev->datacontenttype)) {
        size_t sl = json_string_length(data);
        ev->data = malloc(sl + 1);
        if (ev->data == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, "data", "out of memory");
        memcpy(ev->data, json_string_value(data), sl);
        ev->data_len = sl;
        return EVB_OK;
    }
    size_t n = json_dumpb(data, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    ev->data = malloc(n ? n : 1);
    if (ev->data == NULL ||
        json_dumpb(data, (char *)ev->data, n, JSON_COMPACT | JSON_ENCODE_ANY) != n)
        return evb_error_set(err, EVB_ERR_NOMEM, "data", "out of memory");
    ev->data_len = n;
    return EVB_OK;
}

static evb_err decode_object(json_t *o, evb_event **out, evb_error *err)
{
    if (!json_is_object(o))
        return evb_error_set(err, EVB_ERR_INVALID, "", "a CloudEvent must be a JSON object");
    json_t *sv = json_object_get(o, "specversion");
    if (!json_is_string(sv) || strcmp(json_string_value(sv), EVB_CE_SPECVERSION) != 0)
        return evb_error_set(err, EVB_ERR_INVALID, "specversion", "specversion must be \"1.0\"");
    evb_event *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, "", "out of memory");
    evb_err rc = EVB_OK;
    size_t n_members = json_object_size(o);
    ev->ext = calloc(n_members ? n_members : 1, sizeof *ev->ext);
    if (ev->ext == NULL)
        rc = evb_error_set(err, EVB_ERR_NOMEM, "", "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (rc != EVB_OK)
            break;
        if (strcmp(key, "specversion") == 0 || strcmp(key, "data") == 0 ||
            strcmp(key, "data_base64") == 0 || json_is_null(v))
            continue;
        size_t i = 0, nsm = sizeof string_members / sizeof string_members[0];
        while (i < nsm && strcmp(key, string_members[i].name) != 0)
            i++;
        if (i < nsm) {
            if (!json_is_string(v)) {
                rc = evb_error_set(err, EVB_ERR_INVALID, key, "%s must be a string", key);
                break;
            }
            char **slot = (char **)((char *)ev + string_members[i].off);
            *slot = evb_strndup(json_string_value(v), json_string_length(v));
            if (*slot == NULL)
                rc = evb_error_set(err, EVB_ERR_NOMEM, key, "out of memory");
            else if (strlen(*slot) != json_string_length(v))
                rc = evb_error_set(err, EVB_ERR_INVALID, key, "%s contains U+0000", key);
            continue;
        }
        if (!evb_ce_name_valid(key)) {
            rc = evb_error_set(err, EVB_ERR_INVALID, key,
                               "attribute name must be 1-20 characters of a-z and 0-9");
            break;
        }
        char *val = ext_value(v);
        if (val == NULL) {
            rc = json_is_string(v) || json_is_integer(v) || json_is_boolean(v)
                     ? evb_error_set(err, EVB_ERR_NOMEM, key, "out of memory")
                     : evb_error_set(err, EVB_ERR_INVALID, key,
                                     "extension %s must be a string, integer or boolean", key);
            break;
        }
        ev->ext[ev->n_ext].value = val;
        ev->ext[ev->n_ext].name = evb_strdup(key);
        ev->n_ext++;
        if (ev->ext[ev->n_ext - 1].name == NULL)
            rc = evb_error_set(err, EVB_ERR_NOMEM, key, "out of memory");
    }
    if (rc == EVB_OK)
        rc = decode_data(o, ev, err);
    if (rc == EVB_OK && ev->n_ext > 1)
        qsort(ev->ext, ev->n_ext, sizeof *ev->ext, ext_cmp);
    if (rc == EVB_OK)
        rc = evb_ce_event_check(ev, err);
    if (rc == EVB_OK && ev->time != NULL)
        rc = evb_time_parse_rfc3339(ev->time, &ev->time_ms, NULL);
    if (rc != EVB_OK) {
        evb_event_free(ev);
        return rc;
    }
    *out = ev;
    return EVB_OK;
}

static json_t *parse(const char *text, size_t len, evb_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        evb_error_set(err, EVB_ERR_PARSE, "", "invalid JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
    return root;
}

evb_err evb_ce_json_decode(const char *text, size_t len, evb_event **out, evb_error *err)
{
    json_t *root = parse(text, len, err);
    if (root == NULL)
        return EVB_ERR_PARSE;
    evb_err rc = decode_object(root, out, err);
    json_decref(root);
    return rc;
}

evb_err evb_ce_json_decode_batch(const char *text, size_t len, evb_event ***out, size_t *n_out,
                                 evb_error *err)
{
    json_t *root = parse(text, len, err);
    if (root == NULL)
        return EVB_ERR_PARSE;
    if (!json_is_array(root)) {
        json_decref(root);
        return evb_error_set(err, EVB_ERR_INVALID, "", "a batch must be a JSON array");
    }
    size_t n = json_array_size(root);
    evb_event **evs = calloc(n ? n : 1, sizeof *evs);
    evb_err rc = evs ? EVB_OK : evb_error_set(err, EVB_ERR_NOMEM, "", "out of memory");
    size_t done = 0;
    for (; rc == EVB_OK && done < n; done++) {
        rc = decode_object(json_array_get(root, done), &evs[done], err);
        if (rc != EVB_OK && err != NULL) {
            /* prefix the member name with the index, truncating at the end */
            char prefix[32];
            int k = snprintf(prefix, sizeof prefix, "[%zu]%s", done, err->pointer[0] ? "." : "");
            size_t keep = strlen(err->pointer);
            if (keep > sizeof err->pointer - 1 - (size_t)k)
                keep = sizeof err->pointer - 1 - (size_t)k;
            memmove(err->pointer + k, err->pointer, keep);
            memcpy(err->pointer, prefix, (size_t)k);
            err->pointer[(size_t)k + keep] = '\0';
        }
    }
    json_decref(root);
    if (rc != EVB_OK) {
        evb_event_array_free(evs, n);
        return rc;
    }
    *out = evs;
    *n_out = n;
    return EVB_OK;
}
