/* evbridge — evb_event -> io.cloudevents.v1.CloudEvent (the spec's protobuf format).
 *
 * Context attributes beyond the four required ones go into the attributes map with the
 * spec's types: time as ce_timestamp, dataschema as ce_uri, subject, datacontenttype and
 * every extension (orgid, connector, user extensions) as ce_string. JSON and text data
 * that is valid UTF-8 travels in text_data, anything else in binary_data.
 */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/timeutil.h"
#include "io/cloudevents/v1/cloudevents.pb-c.h"
#include "server/cloudevents/ce_rules.h"
#include "server/rpc/svc.h"

typedef Io__Cloudevents__V1__CloudEvent pb_event;
typedef Io__Cloudevents__V1__CloudEvent__AttributesEntry pb_attr;
typedef Io__Cloudevents__V1__CloudEvent__CloudEventAttributeValue pb_value;

#define CASE(x) IO__CLOUDEVENTS__V1__CLOUD_EVENT__CLOUD_EVENT_ATTRIBUTE_VALUE__ATTR_CE_##x

/* Appends an attribute with a value of the given case; returns NULL when out of memory. */
static pb_value *add_attr(evb_arena *a, pb_event *pe, const char *name, int attr_case)
{
    pb_attr *e = evb_arena_alloc(a, sizeof *e);
    pb_value *v = evb_arena_alloc(a, sizeof *v);
    if (e == NULL || v == NULL)
        return NULL;
    *e = (pb_attr)IO__CLOUDEVENTS__V1__CLOUD_EVENT__ATTRIBUTES_ENTRY__INIT;
    io__cloudevents__v1__cloud_event__cloud_event_attribute_value__init(v);
    e->key = evb_arena_strdup(a, name);
    e->value = v;
    v->attr_case = attr_case;
    if (e->key == NULL)
        return NULL;
    pe->attributes[pe->n_attributes++] = e;
    return v;
}

static int add_string(evb_arena *a, pb_event *pe, const char *name, const char *value, int kind)
{
    if (value == NULL)
        return 1;
    pb_value *v = add_attr(a, pe, name, kind);
    if (v == NULL)
        return 0;
    char *s = evb_arena_strdup(a, value);
    if (kind == CASE(URI))
        v->ce_uri = s;
    else
        v->ce_string = s;
    return s != NULL;
}

static int add_time(evb_arena *a, pb_event *pe, const evb_event *ev)
{
    if (ev->time == NULL)
        return 1;
    int64_t ms = ev->time_ms;
    int32_t nanos = 0;
    if (evb_time_parse_rfc3339(ev->time, &ms, &nanos) != EVB_OK)
        ms = ev->time_ms, nanos = -1;
    pb_value *v = add_attr(a, pe, "time", CASE(TIMESTAMP));
    Google__Protobuf__Timestamp *ts = evb_arena_alloc(a, sizeof *ts);
    if (v == NULL || ts == NULL)
        return 0;
    *ts = (Google__Protobuf__Timestamp)GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    int64_t secs;
    int32_t ms_nanos;
    evb_time_split(ms, &secs, &ms_nanos);
    ts->seconds = secs;
    ts->nanos = nanos >= 0 ? nanos : ms_nanos;
    v->ce_timestamp = ts;
    return 1;
}

static int is_text_type(const char *ct)
{
    return evb_ce_media_type_is_json(ct) || evb_ce_media_type_is_text(ct);
}

pb_event *evb_ce_to_pb(evb_arena *a, const evb_event *ev)
{
    pb_event *pe = evb_arena_alloc(a, sizeof *pe);
    if (pe == NULL)
        return NULL;
    io__cloudevents__v1__cloud_event__init(pe);
    pe->id = evb_arena_strdup(a, ev->id);
    pe->source = evb_arena_strdup(a, ev->source);
    pe->spec_version = evb_arena_strdup(a, "1.0");
    pe->type = evb_arena_strdup(a, ev->type);
    pe->attributes = evb_arena_alloc(a, (ev->n_ext + 8) * sizeof *pe->attributes);
    if (pe->id == NULL || pe->source == NULL || pe->type == NULL || pe->attributes == NULL)
        return NULL;
    int ok = add_string(a, pe, "subject", ev->subject, CASE(STRING)) && add_time(a, pe, ev) &&
             add_string(a, pe, "datacontenttype", ev->datacontenttype, CASE(STRING)) &&
             add_string(a, pe, "dataschema", ev->dataschema, CASE(URI)) &&
             add_string(a, pe, "orgid", ev->org, CASE(STRING)) &&
             add_string(a, pe, "connector", ev->connector, CASE(STRING));
    for (size_t i = 0; ok && i < ev->n_ext; i++)
        ok = add_string(a, pe, ev->ext[i].name, ev->ext[i].value, CASE(STRING));
    if (!ok)
        return NULL;
    if (ev->data_len > 0 || ev->data != NULL) {
        const char *d = (const char *)ev->data;
        if (is_text_type(ev->datacontenttype) && evb_utf8_valid(d, ev->data_len) &&
            memchr(d, '\0', ev->data_len) == NULL) {
            char *t = evb_arena_alloc(a, ev->data_len + 1);
            if (t == NULL)
                return NULL;
            memcpy(t, d, ev->data_len);
            pe->data_case = IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_TEXT_DATA;
            pe->text_data = t;
        } else {
            uint8_t *b = evb_arena_alloc(a, ev->data_len);
            if (b == NULL)
                return NULL;
            memcpy(b, ev->data, ev->data_len);
            pe->data_case = IO__CLOUDEVENTS__V1__CLOUD_EVENT__DATA_BINARY_DATA;
            pe->binary_data.data = b;
            pe->binary_data.len = ev->data_len;
        }
    }
    return pe;
}
