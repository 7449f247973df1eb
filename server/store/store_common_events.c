/* evbridge — backend-neutral checks and codecs of event puts and reads (contract in
 * store_common_events.h), shared by the SQLite and PostgreSQL backends so both accept
 * exactly the same submissions and store extensions in the same form.
 *
 * Extensions are kept as one JSON object of strings per event (a TEXT column in both
 * databases): compact, in the event's order when written; sorted by name when read back,
 * as evb_event requires. Names and values are checked for UTF-8 on the way in, so a value
 * the store could not hand back unchanged is refused at submission.
 */
#include "server/store/store_common_events.h"

#include "common/text.h"
#include "server/store/store_routing.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

evb_err store_put_item_check(const evb_put_item *it)
{
    if (it->n_deliveries > 0 && it->deliveries == NULL)
        return EVB_ERR_INVALID;
    for (size_t i = 0; i < it->n_deliveries; i++) {
        const evb_delivery_new *d = &it->deliveries[i];
        if (d->id == NULL || d->connection_id == NULL)
            return EVB_ERR_INVALID;
    }
    return EVB_OK;
}

evb_err store_put_check(const evb_put_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const evb_event *ev = items[i].ev;
        if (ev == NULL || ev->id == NULL || ev->source == NULL || ev->type == NULL)
            return EVB_ERR_INVALID;
        evb_err e = store_put_item_check(&items[i]);
        if (e != EVB_OK)
            return e;
    }
    return EVB_OK;
}

static size_t str_bytes(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

size_t store_put_bytes(const evb_put_item *items, size_t n)
{
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        const evb_event *ev = items[i].ev;
        b += sizeof *ev + items[i].n_deliveries * sizeof(evb_delivery_new);
        if (ev->block != NULL) {
            b += ev->block_len;
            continue;
        }
        b += ev->data_len + str_bytes(ev->id) + str_bytes(ev->source) + str_bytes(ev->type) +
             str_bytes(ev->subject) + str_bytes(ev->time) + str_bytes(ev->datacontenttype) +
             str_bytes(ev->dataschema) + str_bytes(ev->org) + str_bytes(ev->connector);
        for (size_t k = 0; k < ev->n_ext; k++)
            b += sizeof ev->ext[k] + str_bytes(ev->ext[k].name) + str_bytes(ev->ext[k].value);
    }
    return b;
}

/* ---- extensions <-> JSON object text ---- */

/* Writes s[0..n) as a JSON string at p, escaped as jansson's compact dump escapes it
 * (so rows read the same whichever wrote them): quote, backslash and control characters
 * only, \b \f \n \r \t by name and the others as \u00XX; UTF-8 as is. Returns the end. */
static char *put_json_string(char *p, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char)c;
            continue;
        }
        *p++ = '\\';
        switch (c) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            memcpy(p, "u00", 3);
            p[3] = hex[c >> 4];
            p[4] = hex[c & 15];
            p += 5;
        }
    }
    *p++ = '"';
    return p;
}

/* jansson for the rare event with a repeated extension name (a later value replaces an
 * earlier one in the earlier one's place), so the stored text stays what it was. */
static evb_err ext_encode_jansson(const evb_event *ev, char **out)
{
    json_t *o = json_object();
    if (o == NULL)
        return EVB_ERR_NOMEM;
    evb_err e = EVB_OK;
    for (size_t i = 0; i < ev->n_ext && e == EVB_OK; i++) {
        json_t *v = json_string(ev->ext[i].value);
        if (v == NULL || json_object_set_new(o, ev->ext[i].name, v) != 0)
            e = EVB_ERR_INVALID;
    }
    if (e == EVB_OK && (*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
        e = EVB_ERR_NOMEM;
    json_decref(o);
    return e;
}

evb_err store_ext_encode(const evb_event *ev, char **out)
{
    *out = NULL;
    if (ev->n_ext == 0)
        return EVB_OK;
    /* Written directly (this runs for every published event with extensions; through a
     * jansson object it cost ~6,500 instructions per event). */
    size_t cap = 3;
    int repeated = 0;
    for (size_t i = 0; i < ev->n_ext; i++) {
        const evb_ce_ext *x = &ev->ext[i];
        if (x->name == NULL || x->value == NULL)
            return EVB_ERR_INVALID;
        size_t nn = strlen(x->name), nv = strlen(x->value);
        if (!evb_utf8_valid(x->name, nn) || !evb_utf8_valid(x->value, nv))
            return EVB_ERR_INVALID; /* the store could not hand it back unchanged */
        for (size_t k = 0; k < i && !repeated; k++)
            repeated = strcmp(ev->ext[k].name, x->name) == 0;
        cap += 6 * (nn + nv) + 6;
    }
    if (repeated)
        return ext_encode_jansson(ev, out);
    char *buf = malloc(cap), *p = buf;
    if (buf == NULL)
        return EVB_ERR_NOMEM;
    *p++ = '{';
    for (size_t i = 0; i < ev->n_ext; i++) {
        if (i > 0)
            *p++ = ',';
        p = put_json_string(p, ev->ext[i].name, strlen(ev->ext[i].name));
        *p++ = ':';
        p = put_json_string(p, ev->ext[i].value, strlen(ev->ext[i].value));
    }
    *p++ = '}';
    *p = '\0';
    *out = buf;
    return EVB_OK;
}

static int ext_cmp(const void *a, const void *b)
{
    return strcmp(((const evb_ce_ext *)a)->name, ((const evb_ce_ext *)b)->name);
}

static char *dup_str(const char *s, int *ok)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d == NULL)
        *ok = 0;
    else
        memcpy(d, s, n);
    return d;
}

evb_err store_ext_decode(const char *text, evb_event *ev)
{
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return EVB_ERR_INTERNAL; /* the store wrote it: a corrupt row */
    }
    size_t n = json_object_size(o);
    if (n == 0) {
        json_decref(o);
        return EVB_OK;
    }
    evb_err e = EVB_OK;
    ev->ext = calloc(n, sizeof *ev->ext);
    if (ev->ext == NULL)
        e = EVB_ERR_NOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (e != EVB_OK)
            break;
        if (!json_is_string(v)) {
            e = EVB_ERR_INTERNAL;
            break;
        }
        int ok = 1;
        evb_ce_ext *x = &ev->ext[ev->n_ext++];
        x->name = dup_str(k, &ok);
        x->value = dup_str(json_string_value(v), &ok);
        if (!ok)
            e = EVB_ERR_NOMEM;
    }
    json_decref(o);
    if (e == EVB_OK && ev->n_ext > 1)
        qsort(ev->ext, ev->n_ext, sizeof *ev->ext, ext_cmp);
    return e;
}

/* ---- query checks ---- */

int store_event_query_ok(const evb_event_query *q)
{
    return q->limit >= 1 && q->limit <= 1000 && q->after_seq >= 0;
}

int store_delivery_list_ok(int state, int limit)
{
    return limit >= 1 && limit <= STORE_DELIVERY_LIST_MAX && state >= -1 &&
           state <= EVB_DELIVERY_DEAD;
}

void store_put_items_reset(evb_put_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        items[i].status = EVB_PUT_PENDING;
        items[i].first_id[0] = '\0';
        items[i].ev->seq = 0;
    }
}
