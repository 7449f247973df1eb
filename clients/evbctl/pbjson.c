/* evbctl — generic protobuf-c <-> JSON conversion (see pbjson.h).
 *
 * Everything is driven by ProtobufCMessageDescriptor: field offsets, labels, quantifier
 * offsets (repeated counts, oneof cases, proto3-optional has_ flags) and the nested message
 * and enum descriptors. Map fields are repeated messages whose type is a generated
 * "...Entry" message with a key (1) and a value (2) field. Messages built from JSON hold
 * only malloc'd strings, arrays and sub-messages (or the descriptors' defaults), so
 * protobuf_c_message_free_unpacked(m, NULL) frees them, also half-built on an error path.
 */
#include "clients/evbctl/pbjson.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/timeutil.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "io/cloudevents/v1/cloudevents.pb-c.h"

#define MEMBER(type, msg, off) (*(type *)(void *)((char *)(msg) + (off)))
#define CMEMBER(type, msg, off) (*(const type *)(const void *)((const char *)(msg) + (off)))

/* ---- helpers ---------------------------------------------------------------------------- */

static int is_map_entry(const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label != PROTOBUF_C_LABEL_REPEATED)
        return 0;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t n = strlen(d->name);
    return d->n_fields == 2 && n > 5 && strcmp(d->name + n - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static json_t *base64_json(const uint8_t *p, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    if (s == NULL)
        return NULL;
    evb_base64_encode(p, n, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *double_json(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

/* ---- message -> JSON -------------------------------------------------------------------- */

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p);

static json_t *message_json(const ProtobufCMessage *m)
{
    if (m == NULL)
        return json_null();
    if (m->descriptor == &io__cloudevents__v1__cloud_event__descriptor)
        return evb_pbjson_cloudevent(m);
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v = NULL;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (CMEMBER(uint32_t, m, f->quantifier_offset) != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING) {
            if (!CMEMBER(protobuf_c_boolean, m, f->quantifier_offset))
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = CMEMBER(size_t, m, f->quantifier_offset);
            const char *arr = CMEMBER(char *, m, f->offset);
            if (is_map_entry(f)) {
                v = json_object();
                const ProtobufCMessageDescriptor *ed = f->descriptor;
                const ProtobufCFieldDescriptor *vf = &ed->fields[1];
                for (size_t k = 0; v != NULL && k < n; k++) {
                    const ProtobufCMessage *e = ((const ProtobufCMessage *const *)arr)[k];
                    const char *key = CMEMBER(char *, e, ed->fields[0].offset);
                    json_object_set_new(v, key ? key : "",
                                        value_json(vf, (const char *)e + vf->offset));
                }
            } else {
                v = json_array();
                size_t es = elem_size(f->type);
                for (size_t k = 0; v != NULL && k < n; k++)
                    json_array_append_new(v, value_json(f, arr + k * es));
            }
        } else {
            if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
                CMEMBER(ProtobufCMessage *, m, f->offset) == NULL)
                continue;
            v = value_json(f, (const char *)m + f->offset);
        }
        if (v == NULL) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, f->name, v);
    }
    return o;
}

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t u = *(const uint64_t *)p;
        if (u <= (uint64_t)INT64_MAX)
            return json_integer((json_int_t)u);
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, u);
        return json_string(buf);
    }
    case PROTOBUF_C_TYPE_FLOAT:
        return double_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return double_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        return ev != NULL ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        json_t *j = json_string(s ? s : "");
        return j != NULL ? j : json_string("<invalid UTF-8>");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return base64_json(b->data, b->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return message_json(*(const ProtobufCMessage *const *)p);
    }
    return json_null();
}

json_t *evb_pbjson_from_message(const ProtobufCMessage *m)
{
    return message_json(m);
}

/* ---- CloudEvent ------------------------------------------------------------------------- */

static int json_content_type(const char *ct)
{
    if (ct == NULL || ct[0] == 0)
        return 1;
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    if (n == 16 && strncmp(ct, "application/json", 16) == 0)
        return 1;
    return n >= 5 && strncmp(ct + n - 5, "+json", 5) == 0;
}

json_t *evb_pbjson_cloudevent(const ProtobufCMessage *msg)
{
    const Io__Cloudevents__V1__CloudEvent *ce = (const Io__Cloudevents__V1__CloudEvent *)msg;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "specversion", json_string(ce->spec_version));
    json_object_set_new(o, "id", json_string(ce->id));
    json_object_set_new(o, "source", json_string(ce->source));
    json_object_set_new(o, "type", json_string(ce->type));
    const char *ct = NULL;
    for (size_t i = 0; i < ce->n_attributes; i++) {
        const Io__Cloudevents__V1__CloudEvent__AttributesEntry *a = ce->attributes[i];
        const Io__Cloudevents__V1__CloudEvent__CloudEventAttributeValue *v = a->value;
        if (v == NULL)
            continue;
        json_t *j = NULL;
        switch (v->attr_case) {
        case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_BOOLEAN:
            j = json_boolean(v->ce_boolean);
            break;
        case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_INTEGER:
            j = json_integer(v->ce_integer);
            break;
        case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_STRING:
            j = json_string(v->ce_string);
            if (strcmp(a->key, "datacontenttype") == 0)
                ct = v->ce_string;
            break;
        case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_BYTES:
            j = base64_json(v->ce_bytes.data, v->ce_bytes.len);
            break;
        case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_URI:
            j = json_string(v->ce_uri);
            break;
        case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_URI_REF:
            j = json_string(v->ce_uri_ref);
            break;
        case IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_TIMESTAMP:
            if (v->ce_timestamp != NULL) {
                char buf[40];
                int64_t ms = v->ce_timestamp->seconds * 1000 + v->ce_timestamp->nanos / 1000000;
                j = json_string(evb_time_format_rfc3339(ms, buf, sizeof buf));
            }
            break;
        default:
            break;
        }
        if (j != NULL)
            json_object_set_new(o, a->key, j);
    }
    switch (ce->data_case) {
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_TEXT_DATA: {
        json_t *d = NULL;
        if (json_content_type(ct))
            d = json_loads(ce->text_data, JSON_DECODE_ANY, NULL);
        json_object_set_new(o, "data", d != NULL ? d : json_string(ce->text_data));
        break;
    }
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_BINARY_DATA:
        json_object_set_new(o, "data_base64",
                            base64_json(ce->binary_data.data, ce->binary_data.len));
        break;
    case IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_PROTO_DATA:
        if (ce->proto_data != NULL)
            json_object_set_new(o, "data_base64",
                                base64_json(ce->proto_data->value.data, ce->proto_data->value.len));
        break;
    default:
        break;
    }
    return o;
}

/* ---- JSON -> message -------------------------------------------------------------------- */

static evb_err build_message(const json_t *j, const ProtobufCMessageDescriptor *d, const char *path,
                             ProtobufCMessage **out, evb_error *err);

static const char *jtype(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static evb_err bad(evb_error *err, const char *path, const json_t *j, const char *want)
{
    return evb_error_set(err, EVB_ERR_INVALID, path, "%s: expected %s, got %s", path, want,
                         jtype(j));
}

/* Reads an integer from a JSON number or a decimal string. */
static int get_int(const json_t *j, long double lo, long double hi, int64_t *out, uint64_t *uout)
{
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        if ((long double)v < lo || (long double)v > hi)
            return -1;
        *out = v;
        *uout = (uint64_t)v;
        return 0;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (d != floor(d) || d < lo || d > hi)
            return -1;
        *out = (int64_t)d;
        *uout = (uint64_t)d;
        return 0;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end;
        errno = 0;
        if (s[0] == 0)
            return -1;
        if (lo >= 0) {
            if (s[0] == '-')
                return -1;
            unsigned long long u = strtoull(s, &end, 10);
            if (errno || *end || (long double)u > hi)
                return -1;
            *uout = u;
            *out = (int64_t)u;
            return 0;
        }
        long long v = strtoll(s, &end, 10);
        if (errno || *end || (long double)v < lo || (long double)v > hi)
            return -1;
        *out = v;
        *uout = (uint64_t)v;
        return 0;
    }
    return -1;
}

static int get_double(const json_t *j, double *out)
{
    if (json_is_number(j)) {
        *out = json_number_value(j);
        return 0;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return 0;
        }
        if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
            *out = s[0] == '-' ? -INFINITY : INFINITY;
            return 0;
        }
        char *end;
        *out = strtod(s, &end);
        return s[0] != 0 && *end == 0 ? 0 : -1;
    }
    return -1;
}

/* Sets the value at p (a field slot or an array element) from j. */
static evb_err set_value(const ProtobufCFieldDescriptor *f, const json_t *j, void *p,
                         const char *path, evb_error *err)
{
    int64_t i = 0;
    uint64_t u = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (get_int(j, INT32_MIN, INT32_MAX, &i, &u) != 0)
            return bad(err, path, j, "a 32-bit integer");
        *(int32_t *)p = (int32_t)i;
        return EVB_OK;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (get_int(j, 0, UINT32_MAX, &i, &u) != 0)
            return bad(err, path, j, "an unsigned 32-bit integer");
        *(uint32_t *)p = (uint32_t)u;
        return EVB_OK;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (get_int(j, (long double)INT64_MIN, (long double)INT64_MAX, &i, &u) != 0)
            return bad(err, path, j, "a 64-bit integer");
        *(int64_t *)p = i;
        return EVB_OK;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (get_int(j, 0, (long double)UINT64_MAX, &i, &u) != 0)
            return bad(err, path, j, "an unsigned 64-bit integer");
        *(uint64_t *)p = u;
        return EVB_OK;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d;
        if (get_double(j, &d) != 0)
            return bad(err, path, j, "a number");
        if (f->type == PROTOBUF_C_TYPE_FLOAT)
            *(float *)p = (float)d;
        else
            *(double *)p = d;
        return EVB_OK;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(j))
            return bad(err, path, j, "true or false");
        *(protobuf_c_boolean *)p = json_is_true(j);
        return EVB_OK;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const ProtobufCEnumValue *ev = NULL;
        if (json_is_string(j))
            ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(j));
        else if (json_is_integer(j) && json_integer_value(j) >= INT32_MIN &&
                 json_integer_value(j) <= INT32_MAX)
            ev = protobuf_c_enum_descriptor_get_value(ed, (int)json_integer_value(j));
        if (ev == NULL) {
            char names[512] = "";
            size_t used = 0;
            for (unsigned k = 0; k < ed->n_values && used < sizeof names - 1; k++) {
                int w = snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "",
                                 ed->values[k].name);
                if (w < 0)
                    break;
                used += (size_t)w;
            }
            if (json_is_string(j))
                return evb_error_set(err, EVB_ERR_INVALID, path,
                                     "%s: unknown value \"%s\" (one of %s)", path,
                                     json_string_value(j), names);
            return bad(err, path, j, "one of the names: ...");
        }
        *(int *)p = ev->value;
        return EVB_OK;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(j))
            return bad(err, path, j, "a string");
        char *s = strdup(json_string_value(j));
        if (s == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, path, "out of memory");
        *(char **)p = s;
        return EVB_OK;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(j))
            return bad(err, path, j, "a base64 string");
        const char *s = json_string_value(j);
        size_t n = strlen(s);
        uint8_t *b = malloc(3 * (n / 4) + 3);
        size_t bl = 0;
        if (b == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, path, "out of memory");
        if (evb_base64_decode(s, n, b, &bl) != EVB_OK) {
            free(b);
            return evb_error_set(err, EVB_ERR_INVALID, path, "%s: not valid base64", path);
        }
        ProtobufCBinaryData *bd = p;
        bd->data = b;
        bd->len = bl;
        return EVB_OK;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return build_message(j, f->descriptor, path, (ProtobufCMessage **)p, err);
    }
    return evb_error_set(err, EVB_ERR_INVALID, path, "%s: unsupported field type", path);
}

static evb_err set_repeated(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const json_t *j,
                            const char *path, evb_error *err)
{
    char sub[300];
    if (is_map_entry(f)) {
        if (!json_is_object(j))
            return bad(err, path, j, "an object");
        size_t n = json_object_size(j);
        ProtobufCMessage **arr = calloc(n ? n : 1, sizeof(*arr));
        if (arr == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, path, "out of memory");
        MEMBER(ProtobufCMessage **, m, f->offset) = arr;
        const ProtobufCMessageDescriptor *ed = f->descriptor;
        const char *key;
        json_t *val;
        size_t k = 0;
        json_object_foreach((json_t *)j, key, val)
        {
            ProtobufCMessage *e = malloc(ed->sizeof_message);
            if (e == NULL)
                return evb_error_set(err, EVB_ERR_NOMEM, path, "out of memory");
            protobuf_c_message_init(ed, e);
            arr[k++] = e;
            MEMBER(size_t, m, f->quantifier_offset) = k;
            snprintf(sub, sizeof sub, "%.200s.%.90s", path, key);
            json_t *kj = json_string(key);
            evb_err rc = set_value(&ed->fields[0], kj, (char *)e + ed->fields[0].offset, sub, err);
            json_decref(kj);
            if (rc == EVB_OK)
                rc = set_value(&ed->fields[1], val, (char *)e + ed->fields[1].offset, sub, err);
            if (rc != EVB_OK)
                return rc;
        }
        return EVB_OK;
    }
    if (!json_is_array(j))
        return bad(err, path, j, "an array");
    size_t n = json_array_size(j), es = elem_size(f->type);
    char *arr = calloc(n ? n : 1, es);
    if (arr == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, path, "out of memory");
    MEMBER(char *, m, f->offset) = arr;
    MEMBER(size_t, m, f->quantifier_offset) = n;
    for (size_t k = 0; k < n; k++) {
        snprintf(sub, sizeof sub, "%.200s[%zu]", path, k);
        evb_err rc = set_value(f, json_array_get(j, k), arr + k * es, sub, err);
        if (rc != EVB_OK)
            return rc;
    }
    return EVB_OK;
}

static evb_err build_message(const json_t *j, const ProtobufCMessageDescriptor *d, const char *path,
                             ProtobufCMessage **out, evb_error *err)
{
    if (j != NULL && !json_is_null(j) && !json_is_object(j))
        return bad(err, path, j, "an object");
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (m == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, path, "out of memory");
    protobuf_c_message_init(d, m);
    *out = m; /* owned by the parent from here on, so error paths free it */
    if (j == NULL || json_is_null(j))
        return EVB_OK;
    const char *key;
    json_t *val;
    char sub[300];
    json_object_foreach((json_t *)j, key, val)
    {
        if (path[0])
            snprintf(sub, sizeof sub, "%.200s.%.90s", path, key);
        else
            snprintf(sub, sizeof sub, "%.290s", key);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (f == NULL)
            return evb_error_set(err, EVB_ERR_INVALID, sub,
                                 "%s: unknown field (%s has no field "
                                 "\"%s\")",
                                 sub, d->short_name, key);
        if (json_is_null(val))
            continue;
        evb_err rc;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (MEMBER(size_t, m, f->quantifier_offset) != 0)
                return evb_error_set(err, EVB_ERR_INVALID, sub, "%s: given twice", sub);
            rc = set_repeated(m, f, val, sub, err);
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t *c = &MEMBER(uint32_t, m, f->quantifier_offset);
                if (*c != 0) {
                    const ProtobufCFieldDescriptor *o =
                        protobuf_c_message_descriptor_get_field(d, *c);
                    return evb_error_set(err, EVB_ERR_INVALID, sub,
                                         "%s: only one of %s and %s may be given", sub,
                                         o ? o->name : "?", key);
                }
                /* a oneof slot is a union: clear it so a failed set leaves nothing to free */
                memset((char *)m + f->offset, 0, elem_size(f->type));
                *c = f->id;
            } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                       f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
                MEMBER(protobuf_c_boolean, m, f->quantifier_offset) = 1;
            }
            rc = set_value(f, val, (char *)m + f->offset, sub, err);
        }
        if (rc != EVB_OK)
            return rc;
    }
    return EVB_OK;
}

evb_err evb_pbjson_to_message(const json_t *j, const ProtobufCMessageDescriptor *desc,
                              const char *what, ProtobufCMessage **out, evb_error *err)
{
    ProtobufCMessage *m = NULL;
    evb_err rc = build_message(j, desc, what ? what : "", &m, err);
    if (rc != EVB_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    *out = m;
    return EVB_OK;
}
