/* evbridge — the JSON view of an event that patterns and transforms match against: as a
 * jansson object (delivery, transforms, replay) and, for routing at ingest, as a pattern view
 * over the event's own strings and the payload's evb_json document (router_int.h), which
 * costs no allocation per attribute and no second parse of the payload. The two list the
 * same members in the same order. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/cloudevents/ce_rules.h"
#include "server/router/router.h"
#include "server/router/router_int.h"

enum { N_ATTRS = 10 };

/* The context attributes both views list, in their order (NULL values are left out). */
static void event_attrs(const evb_event *ev, const char *names[N_ATTRS],
                        const char *values[N_ATTRS])
{
    static const char *const n[N_ATTRS] = {"id",      "source",   "specversion",     "type",
                                           "subject", "time",     "datacontenttype", "dataschema",
                                           "orgid",   "connector"};
    const char *v[N_ATTRS] = {
        ev->id,   ev->source,          "1.0",          ev->type, ev->subject,
        ev->time, ev->datacontenttype, ev->dataschema, ev->org,  ev->connector};
    memcpy(names, n, sizeof n);
    memcpy(values, v, sizeof v);
}

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
    const char *names[N_ATTRS], *values[N_ATTRS];
    event_attrs(ev, names, values);
    for (size_t i = 0; i < N_ATTRS; i++)
        set_opt(o, names[i], values[i]);
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

static void add_member(evb_router_view *v, const char *name, const char *value)
{
    if (value == NULL)
        return;
    v->members[v->view.n++] = (evb_pattern_member){name, strlen(name), value, strlen(value), NULL};
}

evb_err evb_router_view_init(evb_router_view *v, const evb_event *ev, int with_data,
                             const evb_json *data)
{
    memset(&v->view, 0, sizeof v->view);
    v->doc = NULL;
    size_t cap = N_ATTRS + 1 + ev->n_ext; /* + data */
    v->members = cap <= EVB_ROUTER_VIEW_STACK ? v->stack : malloc(cap * sizeof *v->members);
    if (v->members == NULL)
        return EVB_ERR_NOMEM;
    v->view.members = v->members;
    const char *names[N_ATTRS], *values[N_ATTRS];
    event_attrs(ev, names, values);
    for (size_t i = 0; i < N_ATTRS; i++)
        add_member(v, names[i], values[i]);
    /* extension names are not context attribute names (ingest rejects those): distinct */
    for (size_t i = 0; i < ev->n_ext; i++)
        add_member(v, ev->ext[i].name, ev->ext[i].value);
    if (!with_data || ev->data_len == 0)
        return EVB_OK;
    const char *text = (const char *)ev->data;
    evb_pattern_member *d = &v->members[v->view.n];
    *d = (evb_pattern_member){"data", 4, NULL, 0, NULL};
    if (evb_ce_media_type_is_json(ev->datacontenttype)) {
        if (data == NULL) {
            evb_err rc = evb_json_parse(text, ev->data_len, EVB_JSON_HARD_MAX_DEPTH, &v->doc, NULL);
            if (rc == EVB_ERR_NOMEM)
                return rc;
            data = rc == EVB_OK ? evb_json_root(v->doc) : NULL;
        }
        d->json = data;
    } else if (memchr(text, '\0', ev->data_len) == NULL && evb_utf8_valid(text, ev->data_len)) {
        d->str = text;
        d->str_len = ev->data_len;
    }
    if (d->json != NULL || d->str != NULL)
        v->view.n++;
    return EVB_OK;
}

void evb_router_view_fini(evb_router_view *v)
{
    if (v == NULL)
        return;
    if (v->members != v->stack)
        free(v->members);
    evb_json_doc_free(v->doc);
    memset(&v->view, 0, sizeof v->view);
    v->members = NULL;
    v->doc = NULL;
}

int evb_router_pattern_match(const evb_pattern *p, const evb_event *ev)
{
    evb_router_view v;
    int m = evb_router_view_init(&v, ev, 1, NULL) == EVB_OK && evb_pattern_match_view(p, &v.view);
    evb_router_view_fini(&v);
    return m;
}
