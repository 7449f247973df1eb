/* evbridge — lifetime of the in-memory CloudEvent (free, deep copy). See event.h. */
#include "server/cloudevents/event.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Frees p unless it points into ev's block. */
static void free_member(const evb_event *ev, void *p)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)ev->block;
    if (ev->block != NULL && a >= b && a < b + ev->block_len)
        return;
    free(p);
}

void evb_event_fini(evb_event *ev)
{
    if (ev == NULL)
        return;
    free_member(ev, ev->id);
    free_member(ev, ev->source);
    free_member(ev, ev->type);
    free_member(ev, ev->subject);
    free_member(ev, ev->time);
    free_member(ev, ev->datacontenttype);
    free_member(ev, ev->dataschema);
    free_member(ev, ev->org);
    free_member(ev, ev->connector);
    for (size_t i = 0; ev->ext != NULL && i < ev->n_ext; i++) {
        free_member(ev, ev->ext[i].name);
        free_member(ev, ev->ext[i].value);
    }
    free_member(ev, ev->ext);
    free_member(ev, ev->data);
    free(ev->block);
    memset(ev, 0, sizeof *ev);
}

void evb_event_free(evb_event *ev)
{
    evb_event_fini(ev);
    free(ev);
}

void evb_event_array_free(evb_event **evs, size_t n)
{
    if (evs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        evb_event_free(evs[i]);
    free(evs);
}

/* Copies src into *dst; NULL stays NULL. Returns 0 on allocation failure. */
static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 1;
    size_t n = strlen(src) + 1;
    *dst = malloc(n);
    if (*dst == NULL)
        return 0;
    memcpy(*dst, src, n);
    return 1;
}

evb_err evb_event_clone(const evb_event *ev, evb_event **out)
{
    evb_event *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EVB_ERR_NOMEM;
    int ok = dup_opt(&c->id, ev->id) && dup_opt(&c->source, ev->source) &&
             dup_opt(&c->type, ev->type) && dup_opt(&c->subject, ev->subject) &&
             dup_opt(&c->time, ev->time) && dup_opt(&c->datacontenttype, ev->datacontenttype) &&
             dup_opt(&c->dataschema, ev->dataschema) && dup_opt(&c->org, ev->org) &&
             dup_opt(&c->connector, ev->connector);
    if (ok && ev->n_ext > 0) {
        c->ext = calloc(ev->n_ext, sizeof *c->ext);
        ok = c->ext != NULL;
        for (size_t i = 0; ok && i < ev->n_ext; i++) {
            c->n_ext = i + 1;
            ok = dup_opt(&c->ext[i].name, ev->ext[i].name) &&
                 dup_opt(&c->ext[i].value, ev->ext[i].value);
        }
    }
    if (ok && ev->data_len > 0) {
        c->data = malloc(ev->data_len);
        ok = c->data != NULL;
        if (ok) {
            memcpy(c->data, ev->data, ev->data_len);
            c->data_len = ev->data_len;
        }
    }
    if (!ok) {
        evb_event_free(c);
        return EVB_ERR_NOMEM;
    }
    c->time_ms = ev->time_ms;
    c->recv_ms = ev->recv_ms;
    c->seq = ev->seq;
    *out = c;
    return EVB_OK;
}
