/* evbridge — the JSON view of an event that patterns and transforms match against. */
#include <jansson.h>
#include <string.h>

#include "server/cloudevents/ce_rules.h"
#include "server/router/router.h"

static void set_opt(json_t *o, const char *k, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, k, json_string(v));
}

json_t *evb_router_event_json(const evb_event *ev, int with_data)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    set_opt(o, "id", ev->id);
    set_opt(o, "source", ev->source);
    json_object_set_new(o, "specversion", json_string("1.0"));
    set_opt(o, "type", ev->type);
    set_opt(o, "subject", ev->subject);
    set_opt(o, "time", ev->time);
    set_opt(o, "datacontenttype", ev->datacontenttype);
    set_opt(o, "dataschema", ev->dataschema);
    set_opt(o, "orgid", ev->org);
    set_opt(o, "connector", ev->connector);
    for (size_t i = 0; i < ev->n_ext; i++)
        set_opt(o, ev->ext[i].name, ev->ext[i].value);
    if (with_data && ev->data_len > 0) {
        json_t *d = NULL;
        if (evb_ce_media_type_is_json(ev->datacontenttype))
            d = json_loadb((const char *)ev->data, ev->data_len, JSON_DECODE_ANY, NULL);
        else if (memchr(ev->data, '\0', ev->data_len) == NULL)
            d = json_stringn((const char *)ev->data, ev->data_len); /* NULL unless UTF-8 */
        if (d != NULL)
            json_object_set_new(o, "data", d);
    }
    return o;
}
