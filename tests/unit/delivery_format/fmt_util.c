/* evbridge tests — helpers shared by the delivery format tests (fmt_test.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"
#include "fmt_test.h"

evb_event *ev_make(const char *dct, const char *subject, const char *data, size_t data_len)
{
    evb_event *ev = calloc(1, sizeof *ev);
    ev->id = evb_strdup("e1");
    ev->source = evb_strdup("/connectors/crm");
    ev->type = evb_strdup("customer.changed");
    ev->time = evb_strdup("2024-01-02T03:04:05Z");
    ev->org = evb_strdup("o1");
    ev->connector = evb_strdup("crm");
    ev->datacontenttype = evb_strdup(dct);
    ev->subject = evb_strdup(subject);
    if (data != NULL && data_len > 0) {
        ev->data = malloc(data_len);
        memcpy(ev->data, data, data_len);
        ev->data_len = data_len;
    }
    return ev;
}

void ev_ext(evb_event *ev, const char *name, const char *value)
{
    ev->ext = realloc(ev->ext, (ev->n_ext + 1) * sizeof *ev->ext);
    size_t i = ev->n_ext;
    while (i > 0 && strcmp(ev->ext[i - 1].name, name) > 0) {
        ev->ext[i] = ev->ext[i - 1];
        i--;
    }
    ev->ext[i].name = evb_strdup(name);
    ev->ext[i].value = evb_strdup(value);
    ev->n_ext++;
}

size_t hdr_count(const evb_http_request *r, const char *name)
{
    size_t n = 0, nn = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++)
        if (strncasecmp(r->headers[i], name, nn) == 0 && r->headers[i][nn] == ':')
            n++;
    return n;
}
